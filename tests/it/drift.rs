//! Findings history: three syncs of a tenant that changes between them, then
//! `queries diff` lists exactly the findings each rule gained and lost, by the
//! identities each sync recorded; and each sync records the campaigns' completion.

use std::collections::BTreeMap;

use mimecast_graph::sim::Tenant;
use mimecast_graph::sink::CampaignCompletion;
use mimecast_graph::sync::SyncStatus;
use serde_json::{json, Value as Json};

use crate::cli::{graph, text};
use crate::diff::churned;
use crate::helpers::{acme_tenant, sink};
use crate::sync::{acme, code, sync};

/// After the churn: Frank (terminated) loses his Mimecast user and his HIPAA 101
/// enrollment, Dave's SAFE risk falls to D, and Carol leaves the watchlist.
fn churned_again(account: &str) -> Tenant {
    let mut t = churned(acme_tenant(account));
    t.users.retain(|u| u["emailAddress"] != "frank@acme.com");
    for c in &mut t.training_campaigns {
        c["user_data"]
            .as_array_mut()
            .unwrap()
            .retain(|row| row["email"] != "frank@acme.com");
    }
    for s in &mut t.safe_scores {
        if s["emailAddress"] == "dave@acme.com" {
            s["risk"] = json!("D");
        }
    }
    t.watchlist.retain(|w| w["email"] != "carol@acme.com");
    t
}

/// `queries diff` with `args`, as JSON, for one account.
fn diff_json(account: &str, args: &[&str]) -> Json {
    let mut all = vec!["queries", "diff", "--account", account, "--json"];
    all.extend_from_slice(args);
    let out = graph(&all, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let parsed: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 1, "{parsed}");
    parsed[0].clone()
}

/// The rules whose findings changed: id to (new, resolved).
fn changes(account: &Json) -> BTreeMap<String, (Json, Json)> {
    account["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["new"] != json!([]) || r["resolved"] != json!([]))
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                (r["new"].clone(), r["resolved"].clone()),
            )
        })
        .collect()
}

fn campaign(name: &str, assigned: u64, completed: u64, passed: u64) -> CampaignCompletion {
    let id = match name {
        "Security Awareness Fundamentals" => "eNoTrainingSAF000001",
        "Lunch and Learn" => "eNoTrainingLNL000004",
        "HIPAA 101" => "eNoTrainingHIPAA0002",
        _ => "eNoTrainingPCI000003", // PCI DSS Essentials, renamed PCI DSS Essentials 2024
    };
    CampaignCompletion {
        campaign: name.to_owned(),
        id: id.to_owned(),
        assigned,
        completed,
        passed,
    }
}

#[tokio::test]
async fn three_syncs_of_a_changing_tenant_give_exact_new_and_resolved_findings() {
    // Arrange: the Acme tenant, then the churn (Erin leaves, Hal joins, Carol completes
    // the fundamentals, Lunch and Learn is withdrawn, PCI DSS Essentials renamed and so
    // no longer mapped), then Frank's user goes, Dave's risk falls, Carol leaves the
    // watchlist.
    let account = code("CDRIFT0001");
    let (sim, config) = acme(account).await;
    let first = sync(&config).await;
    sim.set_tenant(churned(acme_tenant(account)));
    let second = sync(&config).await;
    sim.set_tenant(churned_again(account));
    let third = sync(&config).await;
    for o in [&first, &second, &third] {
        assert_eq!(o.status, SyncStatus::Success, "{}", o.human());
    }

    // Act: the default (the previous sync to the latest), then since the first sync.
    let latest = diff_json(account, &[]);
    let since_first = diff_json(account, &["--since", &first.sync_id]);

    // Assert: the two syncs compared, and exactly what changed between them.
    assert_eq!(latest["account"], account);
    assert_eq!(latest["from"]["syncId"], json!(second.sync_id));
    assert_eq!(latest["to"]["syncId"], json!(third.sync_id));
    assert_eq!(latest["to"]["startedOn"], json!(third.started_on));
    assert_eq!(latest["to"]["status"], "success");
    assert_eq!(
        changes(&latest),
        BTreeMap::from([
            (
                "assigned-not-completed".to_owned(),
                (json!([]), json!([{"email": "frank@acme.com"}]))
            ),
            (
                "high-risk-safe-score".to_owned(),
                (json!([{"email": "dave@acme.com"}]), json!([]))
            ),
            (
                "terminated-with-account".to_owned(),
                (
                    json!([]),
                    json!([{"personEmail": "frank@acme.com", "mimecastEmail": "frank@acme.com"}])
                )
            ),
            (
                "users-without-active-person".to_owned(),
                (json!([]), json!([{"email": "frank@acme.com"}]))
            ),
            (
                "watchlist".to_owned(),
                (json!([]), json!([{"email": "carol@acme.com"}]))
            ),
        ])
    );
    assert_eq!(
        (latest["new"].clone(), latest["resolved"].clone()),
        (json!(1), json!(4))
    );
    // Every rule of the set is listed, compared, most severe first.
    let listed: Vec<(String, String, String)> = latest["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["severity"].as_str().unwrap().to_owned(),
                r["compared"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |id: &str, severity: &str| (id.to_owned(), severity.to_owned(), "yes".to_owned());
    assert_eq!(
        listed,
        vec![
            expect("terminated-with-account", "critical"),
            expect("clicked-malicious-not-retrained", "high"),
            expect("malicious-attachment-recipients", "high"),
            expect("missing-required-training", "high"),
            expect("phished-not-retrained", "high"),
            expect("real-and-simulated-failures", "high"),
            expect("siem-detections-not-retrained", "high"),
            expect("stale-sync", "high"),
            expect("users-without-active-person", "high"),
            expect("active-without-account", "medium"),
            expect("assigned-not-completed", "medium"),
            expect("dormant-mailboxes", "medium"),
            expect("high-risk-safe-score", "medium"),
            expect("impersonation-targets", "medium"),
            expect("url-warning-overrides", "medium"),
            expect("watchlist", "medium"),
            expect("unmapped-campaigns", "low"),
        ]
    );
    let hrs = latest["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "high-risk-safe-score")
        .unwrap();
    assert_eq!(
        (
            hrs["identity"].clone(),
            hrs["fromFindings"].clone(),
            hrs["toFindings"].clone()
        ),
        (json!(["email"]), json!(2), json!(3))
    );

    assert_eq!(since_first["from"]["syncId"], json!(first.sync_id));
    assert_eq!(since_first["to"]["syncId"], json!(third.sync_id));
    assert_eq!(
        changes(&since_first),
        BTreeMap::from([
            (
                "assigned-not-completed".to_owned(),
                // A finding is a user with open assignments: Bob and Dave still have
                // theirs (PCI DSS Essentials, renamed), so they are neither new nor
                // resolved; Carol completed hers and Frank left.
                (
                    json!([]),
                    json!([{"email": "carol@acme.com"}, {"email": "frank@acme.com"}])
                )
            ),
            (
                "high-risk-safe-score".to_owned(),
                (json!([{"email": "dave@acme.com"}]), json!([]))
            ),
            (
                "missing-required-training".to_owned(),
                (json!([]), json!([{"email": "carol@acme.co.uk", "category": "general"}]))
            ),
            (
                "terminated-with-account".to_owned(),
                (
                    json!([]),
                    json!([{"personEmail": "frank@acme.com", "mimecastEmail": "frank@acme.com"}])
                )
            ),
            (
                "unmapped-campaigns".to_owned(),
                (
                    json!([{"id": "eNoTrainingPCI000003"}]),
                    json!([{"id": "eNoTrainingLNL000004"}])
                )
            ),
            (
                "users-without-active-person".to_owned(),
                (
                    json!([{"email": "hal@acme.com"}]),
                    json!([{"email": "erin@acme.com"}, {"email": "frank@acme.com"}])
                )
            ),
            (
                "watchlist".to_owned(),
                (json!([]), json!([{"email": "carol@acme.com"}]))
            ),
        ])
    );

    // The table says the same, one line per finding.
    let out = graph(&["queries", "diff", "--account", account], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "== {account}: 1 new, 4 resolved, from sync {} ({}) to sync {} ({})\n\
             terminated-with-account [critical]: 0 new, 1 resolved (1 finding then 0 findings)\n\
             \x20 - personEmail=frank@acme.com, mimecastEmail=frank@acme.com\n\
             clicked-malicious-not-retrained [high]: no change (0 findings)\n\
             malicious-attachment-recipients [high]: no change (0 findings)\n\
             missing-required-training [high]: no change (5 findings)\n\
             phished-not-retrained [high]: no change (1 finding)\n\
             real-and-simulated-failures [high]: no change (0 findings)\n\
             siem-detections-not-retrained [high]: no change (0 findings)\n\
             stale-sync [high]: no change (0 findings)\n\
             users-without-active-person [high]: 0 new, 1 resolved (2 findings then 1 finding)\n\
             \x20 - email=frank@acme.com\n\
             active-without-account [medium]: no change (1 finding)\n\
             assigned-not-completed [medium]: 0 new, 1 resolved (3 findings then 2 findings)\n\
             \x20 - email=frank@acme.com\n\
             dormant-mailboxes [medium]: no change (0 findings)\n\
             high-risk-safe-score [medium]: 1 new, 0 resolved (2 findings then 3 findings)\n\
             \x20 + email=dave@acme.com\n\
             impersonation-targets [medium]: no change (0 findings)\n\
             url-warning-overrides [medium]: no change (0 findings)\n\
             watchlist [medium]: 0 new, 1 resolved (2 findings then 1 finding)\n\
             \x20 - email=carol@acme.com\n\
             unmapped-campaigns [low]: no change (1 finding)\n",
            second.sync_id, second.started_on, third.sync_id, third.started_on
        )
    );

    // A date after the latest sync compares it with itself; one before any is refused.
    let future = diff_json(account, &["--since", "2999-01-01"]);
    assert_eq!(future["from"]["syncId"], json!(third.sync_id));
    assert_eq!(
        (future["new"].clone(), future["resolved"].clone()),
        (json!(0), json!(0))
    );
    let out = graph(&["queries", "diff", "--account", account, "--since", "2000-01-01"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "error: no sync of account {account} that recorded its findings started on or before 2000-01-01T00:00:00Z; the oldest started {}",
            first.started_on
        )
    );
    let out = graph(
        &["queries", "diff", "--account", account, "--since", "no-such-sync"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!("error: sync no-such-sync of account {account} is not recorded (`mimecast-graph history --account {account}` lists them)")
    );

    // Each rule's identity columns tell its rows apart: one identity per finding.
    let s = sink().await;
    let runs = s.runs(Some(account), 10).await.unwrap();
    for run in &runs {
        let ids = s.run_finding_ids(account, &run.sync_id).await.unwrap().unwrap();
        let per_rule: BTreeMap<String, u64> = ids.iter().map(|(k, v)| (k.clone(), v.ids.len() as u64)).collect();
        assert_eq!(per_rule, run.findings, "{}", run.sync_id);
    }

    // Each run recorded the campaigns' completion after it, in launch order.
    let completion: Vec<&[CampaignCompletion]> = runs.iter().rev().map(|r| r.completion.as_slice()).collect();
    assert_eq!(
        completion,
        vec![
            &[
                campaign("Security Awareness Fundamentals", 5, 4, 3),
                campaign("Lunch and Learn", 1, 1, 1),
                campaign("HIPAA 101", 3, 2, 1),
                campaign("PCI DSS Essentials", 2, 0, 0),
            ][..],
            &[
                campaign("Security Awareness Fundamentals", 5, 5, 4),
                campaign("HIPAA 101", 3, 2, 1),
                campaign("PCI DSS Essentials 2024", 2, 0, 0),
            ][..],
            &[
                campaign("Security Awareness Fundamentals", 5, 5, 4),
                campaign("HIPAA 101", 2, 2, 1),
                campaign("PCI DSS Essentials 2024", 2, 0, 0),
            ][..],
        ]
    );
}

#[tokio::test]
async fn an_account_with_one_sync_has_nothing_to_compare_yet() {
    let account = code("CDRIFT0002");
    let (_sim, config) = acme(account).await;
    let first = sync(&config).await;
    assert_eq!(first.status, SyncStatus::Success, "{}", first.human());

    let out = graph(&["queries", "diff", "--account", account], &[]);
    let json = diff_json(account, &[]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let note = format!(
        "account {account} has one sync that recorded its findings ({}); the next sync gives something to compare",
        first.sync_id
    );
    assert_eq!(text(&out.stdout), format!("== {account}: nothing to compare: {note}\n"));
    assert_eq!(json, json!({"account": account, "note": note}));
    let out = graph(&["queries", "diff", "--account", "CNOSUCH999"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: account \"CNOSUCH999\" is not in the graph (the graph has "),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn rules_with_more_findings_than_the_cap_keep_their_number_not_their_identities() {
    let account = code("CDRIFT0003");
    let (sim, mut config) = acme(account).await;
    config.sync.history_finding_ids_max = 2;
    let first = sync(&config).await;
    sim.set_tenant(churned(acme_tenant(account)));
    let second = sync(&config).await;
    for o in [&first, &second] {
        assert_eq!(o.status, SyncStatus::Success, "{}", o.human());
    }

    let latest = diff_json(account, &[]);
    let out = graph(&["queries", "diff", "--account", account], &[]);

    // (compared, findings before, findings after) of the rules with findings.
    let rules: BTreeMap<String, (Json, Json, Json)> = latest["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["fromFindings"] != json!(0) || r["toFindings"] != json!(0))
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                (
                    r["compared"].clone(),
                    r["fromFindings"].clone(),
                    r["toFindings"].clone(),
                ),
            )
        })
        .collect();
    let row = |c: &str, from: u64, to: u64| (json!(c), json!(from), json!(to));
    assert_eq!(
        rules,
        BTreeMap::from([
            ("active-without-account".to_owned(), row("yes", 1, 1)),
            ("assigned-not-completed".to_owned(), row("too-many", 4, 3)),
            ("high-risk-safe-score".to_owned(), row("yes", 2, 2)),
            ("missing-required-training".to_owned(), row("too-many", 6, 5)),
            ("phished-not-retrained".to_owned(), row("yes", 1, 1)),
            ("terminated-with-account".to_owned(), row("yes", 1, 1)),
            ("unmapped-campaigns".to_owned(), row("yes", 1, 1)),
            ("users-without-active-person".to_owned(), row("yes", 2, 2)),
            ("watchlist".to_owned(), row("yes", 2, 2)),
        ])
    );
    // Rules under the cap still compare: PCI DSS Essentials renamed (so unmapped) and
    // Lunch and Learn withdrawn; Hal in, Erin out.
    assert_eq!(
        changes(&latest),
        BTreeMap::from([
            (
                "unmapped-campaigns".to_owned(),
                (
                    json!([{"id": "eNoTrainingPCI000003"}]),
                    json!([{"id": "eNoTrainingLNL000004"}])
                )
            ),
            (
                "users-without-active-person".to_owned(),
                (json!([{"email": "hal@acme.com"}]), json!([{"email": "erin@acme.com"}]))
            ),
        ])
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(
            "\nmissing-required-training [high]: too many findings to keep their identities \
             ([sync] history_finding_ids_max), so they do not compare (6 findings then 5 findings)\n"
        ),
        "{}",
        text(&out.stdout)
    );
    // What the history holds for a capped rule: its number, no identities.
    let s = sink().await;
    let stored = s.run_finding_ids(account, &second.sync_id).await.unwrap().unwrap();
    let anc = &stored["assigned-not-completed"];
    assert_eq!((anc.ids.len(), anc.capped, anc.count()), (0, Some(3), 3));
    assert_eq!(stored["watchlist"].capped, None);
    assert_eq!(stored["watchlist"].ids.len(), 2);
}

/// A rule's or the completion query's answer in one recorded run: (findings, their
/// identities), or the campaigns' completion as text.
async fn recorded(account: &str, sync_id: &str) -> (BTreeMap<String, u64>, Json, String) {
    let s = sink().await;
    let run = s
        .runs(Some(account), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.sync_id == sync_id)
        .unwrap();
    let ids = s.run_finding_ids(account, sync_id).await.unwrap().unwrap();
    (
        run.findings,
        serde_json::to_value(ids).unwrap(),
        format!("{:?}", run.completion),
    )
}

#[tokio::test]
async fn a_sync_that_changed_nothing_copies_the_content_only_findings_and_any_change_runs_them_again() {
    // Arrange: the Acme tenant; the queries the history records, and of them those
    // whose answer depends only on the account's content (no clock, no bookkeeping).
    let account = code("CREUSE0001");
    let (sim, mut config) = acme(account).await;
    let set = mimecast_graph::queries::embedded();
    let recorded_ids: Vec<&str> = set
        .iter()
        .filter(|d| d.reports_findings() || d.id == mimecast_graph::queries::CAMPAIGN_QUERY)
        .map(|d| d.id.as_str())
        .collect();
    let content_only = set
        .iter()
        .filter(|d| recorded_ids.contains(&d.id.as_str()))
        .filter(|d| mimecast_graph::queries::unstable_reason(d, mimecast_graph::schema::schema()).is_none())
        .count() as u64;
    assert_eq!((recorded_ids.len(), content_only), (18, 10));

    // Act: a first sync; an unchanged one; one after the account's content generation
    // was changed by hand (as a write cut short leaves it); an unchanged one again;
    // one after the tenant changed; one that reads the content in full.
    let first = sync(&config).await;
    let unchanged = sync(&config).await;
    crate::helpers::graph()
        .run(
            neo4rs::query("MATCH (a:MimecastAccount {accountCode: $a}) SET a._contentGeneration = 'cut-short'")
                .param("a", account),
        )
        .await
        .unwrap();
    let after_cut = sync(&config).await;
    let unchanged_again = sync(&config).await;
    sim.set_tenant(churned(acme_tenant(account)));
    let changed = sync(&config).await;
    config.neo4j.verify_content_hours = 0;
    let full_read = sync(&config).await;

    // Assert: only the unchanged syncs copied, and exactly the content-only queries;
    // every run recorded what the first run computed until the tenant changed.
    let syncs = [&first, &unchanged, &after_cut, &unchanged_again, &changed, &full_read];
    for o in syncs {
        assert_eq!(o.status, SyncStatus::Success, "{}", o.human());
    }
    let reused: Vec<u64> = syncs.iter().map(|o| o.load.rules_reused).collect();
    assert_eq!(reused, [0, content_only, 0, content_only, 0, 0]);
    assert_eq!(
        unchanged
            .load
            .types
            .values()
            .map(|t| t.created + t.updated + t.deleted)
            .sum::<u64>(),
        0
    );
    let base = recorded(account, &first.sync_id).await;
    assert_eq!(base.0.len(), 17, "every rule's count: {:?}", base.0);
    assert_eq!(base.0["assigned-not-completed"], 4);
    for o in [&unchanged, &after_cut, &unchanged_again] {
        assert_eq!(recorded(account, &o.sync_id).await, base, "{}", o.sync_id);
    }
    let after_change = recorded(account, &changed.sync_id).await;
    assert_eq!(after_change.0["assigned-not-completed"], 3);
    assert_ne!(after_change.1, base.1);
    assert_eq!(recorded(account, &full_read.sync_id).await, after_change);
    assert_eq!(changed.to_json()["neo4j"]["rulesReused"], json!(0));
    assert_eq!(unchanged.to_json()["neo4j"]["rulesReused"], json!(content_only));
}
