//! The cleanup against the real Neo4j: the deletion guard (an empty roster, a tenant
//! answering zero or far fewer users, `--allow-mass-delete`), relationships deleted
//! with their node counted, and the `sync --json` summary after a stop.

use std::collections::BTreeMap;
use std::time::Duration;

use mimecast_graph::collect::all_steps;
use mimecast_graph::config::ConnectionConfig;
use mimecast_graph::queries::embedded;
use mimecast_graph::sim::{self, GenerateSpec, SimOptions};
use mimecast_graph::sink::HeldBack;
use mimecast_graph::steps::SilentProgress;
use mimecast_graph::stop::Stop;
use mimecast_graph::sync::{run_once, SyncStatus};
use serde_json::{json, Value as Json};

use crate::collect::ACME_ENTITIES;
use crate::helpers::{acme_tenant, config_with, fixture, sink, start_sim};
use crate::sync::{acme, code, node_counts, pairs, relationship_counts, rows, sync, SYNC_LOCK};

fn held(account: &str, element_type: &str, would_delete: u64, total: u64) -> HeldBack {
    HeldBack {
        account: account.to_owned(),
        element_type: element_type.to_owned(),
        would_delete,
        total,
        max_share: 0.5,
        kept_with: None,
    }
}

/// Held back because the node type `with` is.
fn held_with(account: &str, element_type: &str, would_delete: u64, total: u64, with: &str) -> HeldBack {
    HeldBack {
        kept_with: Some(with.to_owned()),
        ..held(account, element_type, would_delete, total)
    }
}

/// A roster file of only its header line, removed when the returned guard drops.
fn empty_roster() -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .prefix("mg-roster-")
        .suffix(".csv")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), "email,name,status,group,Department\n").unwrap();
    file
}

async fn account_status(s: &mimecast_graph::sink::Sink, account: &str) -> Vec<Json> {
    rows(
        s,
        "MATCH (a:MimecastAccount {accountCode: $account}) RETURN a.lastSyncStatus AS status",
        account,
    )
    .await
}

#[tokio::test]
async fn an_empty_roster_deletes_no_person_until_mass_deletion_is_allowed() {
    let account = code("CROSTER001");
    let (_sim, mut config) = acme(account).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let roster = empty_roster();
    config.connections[0].compliance.roster = Some(roster.path().to_owned());

    let outcome = sync(&config).await;

    assert_eq!(outcome.status, SyncStatus::Partial, "{}", outcome.human());
    assert_eq!(mimecast_graph::cli::exit_of(outcome.status).code(), 10);
    assert_eq!(
        outcome.load.held_back,
        vec![
            held(account, "person_is_mimecast_user", 7, 7),
            held(account, "person", 8, 8)
        ]
    );
    assert!(
        outcome.human().contains(&format!(
            "  deletion guard: account {account}: the cleanup would delete all 8 person; none were deleted and the \
             type is partial. If the tenant really lost them, run sync (or run) with --allow-mass-delete\n"
        )),
        "{}",
        outcome.human()
    );
    let summary = outcome.to_json();
    assert_eq!(summary["status"], "partial");
    assert_eq!(
        summary["partialTypes"][account],
        json!(["person", "person_is_mimecast_user"])
    );
    let s = sink().await;
    assert_eq!(node_counts(&s, account).await, pairs(ACME_ENTITIES));
    assert_eq!(account_status(&s, account).await, vec![json!({"status": "partial"})]);

    config.sync.allow_mass_delete = true;
    let allowed = sync(&config).await;

    assert_eq!(allowed.status, SyncStatus::Success, "{}", allowed.human());
    assert_eq!(allowed.load.held_back, vec![]);
    assert_eq!(allowed.load.types["person"].deleted, 8);
    assert_eq!(allowed.load.types["person_is_mimecast_user"].deleted, 7);
    let persons = node_counts(&s, account).await;
    assert_eq!(persons.iter().find(|(t, _)| t == "person"), None);
}

#[tokio::test]
async fn a_tenant_answering_far_fewer_or_zero_users_keeps_them() {
    let account = code("CNOUSERS01");
    let (sim, config) = acme(account).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let s = sink().await;
    let before = (node_counts(&s, account).await, relationship_counts(&s, account).await);

    // Seven of twelve users vanish: more than half.
    let mut t = acme_tenant(account);
    t.users.truncate(5);
    sim.set_tenant(t);
    let fewer = sync(&config).await;

    assert_eq!(fewer.status, SyncStatus::Partial, "{}", fewer.human());
    // The users stay, and so do their relationships.
    assert_eq!(
        fewer.load.held_back,
        vec![
            held(account, "mimecast_domain_has_user", 7, 12),
            held_with(
                account,
                "mimecast_user_assigned_awareness_campaign",
                2,
                11,
                "mimecast_user"
            ),
            held_with(
                account,
                "mimecast_user_completed_awareness_campaign",
                1,
                7,
                "mimecast_user"
            ),
            held_with(account, "person_is_mimecast_user", 3, 7, "mimecast_user"),
            held(account, "mimecast_user", 7, 12),
        ]
    );
    assert_eq!(
        (node_counts(&s, account).await, relationship_counts(&s, account).await),
        before,
        "nothing was deleted"
    );
    assert_eq!(
        fewer.load.held_back[4].to_string(),
        format!(
            "account {account}: the cleanup would delete 7 of 12 mimecast_user (58%, more than [sync] \
             max_delete_share = 0.5); none were deleted and the type is partial. If the tenant really lost them, \
             run sync (or run) with --allow-mass-delete"
        )
    );

    // The tenant answers no user at all.
    let mut t = acme_tenant(account);
    t.users.clear();
    sim.set_tenant(t);
    let none = sync(&config).await;

    assert_eq!(none.status, SyncStatus::Partial, "{}", none.human());
    assert_eq!(
        none.load.held_back,
        vec![
            held(account, "mimecast_domain_has_user", 12, 12),
            held(account, "mimecast_user_assigned_awareness_campaign", 11, 11),
            held(account, "mimecast_user_completed_awareness_campaign", 7, 7),
            held(account, "mimecast_user_assigned_phishing_campaign", 4, 4),
            held(account, "person_is_mimecast_user", 7, 7),
            held(account, "mimecast_user", 12, 12),
        ]
    );
    assert_eq!(
        (node_counts(&s, account).await, relationship_counts(&s, account).await),
        before,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn relationships_deleted_with_their_node_are_counted() {
    let account = code("CDETACH001");
    let (sim, config) = acme(account).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    // Carol leaves while the phishing results cannot be read: her phishing
    // assignment is of a partial type, so it is not cleaned up on its own, but goes
    // with her node. (Unread enrollments would keep the users themselves: their
    // assignment counts come from the enrollments.)
    let mut t = acme_tenant(account);
    t.users.retain(|u| u["emailAddress"] != "carol@acme.com");
    sim.set_tenant(t);
    sim.set_fail_paths(vec![(
        "/api/awareness-training/phishing/campaign/get-user-data".into(),
        500,
    )]);

    let outcome = sync(&config).await;

    assert_eq!(outcome.status, SyncStatus::Partial, "{}", outcome.human());
    let deleted: BTreeMap<&str, u64> = outcome
        .load
        .types
        .iter()
        .filter(|(_, w)| w.deleted > 0)
        .map(|(t, w)| (t.as_str(), w.deleted))
        .collect();
    assert_eq!(
        deleted,
        BTreeMap::from([
            ("mimecast_domain_has_user", 1),
            ("mimecast_user", 1),
            ("mimecast_user_assigned_awareness_campaign", 2),
            ("mimecast_user_assigned_phishing_campaign", 1),
            ("mimecast_user_completed_awareness_campaign", 1),
            ("person_is_mimecast_user", 1),
        ])
    );
    let s = sink().await;
    let rels: BTreeMap<String, usize> = relationship_counts(&s, account).await.into_iter().collect();
    assert_eq!(rels["mimecast_user_assigned_awareness_campaign"], 11 - 2);
    assert_eq!(rels["mimecast_user_completed_awareness_campaign"], 7 - 1);
}

#[tokio::test]
async fn users_keep_their_training_counts_while_the_campaigns_or_their_enrollments_cannot_be_read() {
    let account = code("CKEEPCNT01");
    let (sim, config) = acme(account).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let s = sink().await;
    let open = || {
        rows(
            &s,
            "MATCH (u:MimecastUser {accountCode: $account}) WHERE u.openTrainingCount > 0 \
             RETURN u.email AS email, u.openTrainings AS open ORDER BY email",
            account,
        )
    };
    let users = || async {
        let counts = node_counts(&s, account).await;
        counts.into_iter().find(|(t, _)| t == "mimecast_user").map(|(_, n)| n)
    };
    let before = open().await;
    assert_eq!(
        before,
        vec![
            json!({"email": "bob@acme.com", "open": ["PCI DSS Essentials"]}),
            json!({"email": "carol@acme.com", "open": ["Security Awareness Fundamentals"]}),
            json!({"email": "dave@acme.com", "open": ["PCI DSS Essentials"]}),
            json!({"email": "frank@acme.com", "open": ["HIPAA 101"]}),
        ]
    );
    // Erin leaves; then the campaign list, and one campaign's enrollments, fail.
    let mut t = acme_tenant(account);
    t.users.retain(|u| u["emailAddress"] != "erin@acme.com");
    sim.set_tenant(t);
    for path in [
        "/api/awareness-training/campaign/get-campaigns",
        "/api/awareness-training/campaign/get-user-data",
    ] {
        sim.set_fail_paths(vec![(path.into(), 500)]);

        let outcome = sync(&config).await;

        assert_eq!(outcome.status, SyncStatus::Partial, "{path}: {}", outcome.human());
        let partial = &outcome.to_json()["partialTypes"][account];
        assert!(
            partial.as_array().unwrap().contains(&json!("mimecast_user")),
            "{path}: {partial}"
        );
        // The counts stay as stored, and so does Erin, until the users are complete.
        assert_eq!(open().await, before, "{path}");
        assert_eq!(users().await, Some(12), "{path}");
    }
    sim.set_fail_paths(vec![]);
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    assert_eq!(open().await, before);
    assert_eq!(users().await, Some(11));
}

/// A connection to a simulator serving a generated tenant.
pub fn generated_connection(sim: &sim::SimServer) -> ConnectionConfig {
    let mut c = ConnectionConfig::oauth2(
        "generated",
        &sim.base_url(),
        sim::DEFAULT_CLIENT_ID,
        sim::DEFAULT_CLIENT_SECRET,
    );
    c.retry_backoff = Duration::from_millis(5);
    c
}

#[tokio::test]
async fn after_a_stop_the_summary_says_stopped_and_counts_what_was_written() {
    let account = code("CJSONSTOP1");
    let mut tenant = sim::generate(&GenerateSpec {
        users: 300,
        domains: 2,
        campaigns: 3,
        phishing: 2,
        seed: 11,
        ..GenerateSpec::default()
    });
    tenant.account["accountCode"] = json!(account);
    let sim = start_sim(tenant, SimOptions::default()).await;
    let mut config = config_with(vec![generated_connection(&sim)]);
    config.neo4j.batch_size = 20;
    let s = sink().await;
    let stop = Stop::new();
    // Ask to stop as soon as the first batch is visible.
    let watcher = async {
        loop {
            let n = rows(
                &s,
                "MATCH (n {accountCode: $account}) WHERE n._type IS NOT NULL RETURN count(n) AS n",
                account,
            )
            .await;
            if n[0]["n"].as_u64().unwrap() > 0 {
                stop.trigger();
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (steps, queries) = (all_steps(), embedded());
    let _guard = SYNC_LOCK.lock().await;
    let (outcome, ()) = tokio::join!(run_once(&config, &steps, &queries, &SilentProgress, &stop), watcher);

    assert_eq!(outcome.status, SyncStatus::Stopped, "{}", outcome.human());
    let summary = mimecast_graph::cli::render::sync_json(&outcome, mimecast_graph::cli::exit_of(outcome.status));
    assert_eq!(summary["status"], "stopped");
    assert_eq!(summary["syncStatus"], "stopped");
    assert_eq!(summary["collectionStatus"], "success");
    assert_eq!(summary["exitCode"], 1);
    // What the summary says was created is exactly what Neo4j holds.
    let created: BTreeMap<String, usize> = summary["neo4j"]["types"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, w)| w["created"].as_u64().unwrap() > 0)
        .map(|(t, w)| (t.clone(), w["created"].as_u64().unwrap() as usize))
        .collect();
    let mut stored: BTreeMap<String, usize> = node_counts(&s, account).await.into_iter().collect();
    stored.extend(relationship_counts(&s, account).await);
    assert_eq!(created, stored);
    // Every type of the graph that Neo4j does not hold whole is listed as incomplete.
    let c = outcome.collection.as_ref().unwrap();
    let mut expected = c.store.entity_counts();
    expected.extend(c.store.relationship_counts());
    let short: Vec<&str> = expected
        .iter()
        .filter(|(t, n)| stored.get(*t) != Some(n))
        .map(|(t, _)| t.as_str())
        .collect();
    assert!(!short.is_empty(), "the stop came after everything was written");
    let incomplete: Vec<&str> = summary["neo4j"]["incompleteTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(incomplete, short);
}

#[test]
fn sync_exits_10_on_an_empty_roster_and_deletes_with_allow_mass_delete() {
    let tmp = crate::cli::temp_dir();
    let dir = tmp.path();
    let account = crate::helpers::unique_account("CLG");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(start_sim(acme_tenant(&account), SimOptions::default()));
    let config = |roster: &std::path::Path| {
        let path = dir.join("config.toml");
        std::fs::write(
            &path,
            format!(
                "[[connection]]\nname = \"acme\"\nbase_url = \"{}\"\nclient_id_env = \"ACME_ID\"\n\
                 client_secret_env = \"ACME_SECRET\"\nroster = \"{}\"\n",
                sim.base_url(),
                roster.display()
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let full = config(&fixture("roster-acme.csv"));
    let sync = |extra: &[&str]| {
        let mut args = vec!["--config", full.as_str(), "sync", "--json"];
        args.extend(extra);
        let out = crate::cli::graph(&args, crate::cli::ACME_ENV);
        let summary: Json =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", crate::cli::text(&out.stderr)));
        (out.status.code(), summary)
    };
    assert_eq!(sync(&[]).0, Some(0));
    let roster = empty_roster();
    let emptied = config(roster.path());
    assert_eq!(emptied, full, "the same file, now naming the empty roster");

    let (code, summary) = sync(&[]);

    assert_eq!(code, Some(10));
    assert_eq!(summary["status"], "partial");
    assert_eq!(
        summary["neo4j"]["heldBack"][1],
        json!({"account": account, "type": "person", "wouldDelete": 8, "total": 8, "maxShare": 0.5})
    );
    assert_eq!(
        summary["neo4j"]["types"]["person"],
        Json::Null,
        "nothing written or deleted"
    );

    let (code, summary) = sync(&["--allow-mass-delete"]);

    assert_eq!(code, Some(0));
    assert_eq!(summary["neo4j"]["heldBack"], json!([]));
    assert_eq!(summary["neo4j"]["types"]["person"]["deleted"], 8);
}
