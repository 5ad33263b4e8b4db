//! `sync` into the real Neo4j with the simulator: exact counts and properties, an
//! idempotent re-run, tenant changes, a partial step, account isolation, the
//! ComplianceQuery nodes, and the daemon's run_once and shutdown.

use mimecast_graph::graph::Element as _;
use std::collections::BTreeMap;
use std::time::Duration;

use mimecast_graph::collect::all_steps;
use mimecast_graph::config::Config;
use mimecast_graph::daemon::{self, DaemonOptions};
use mimecast_graph::queries::{embedded, load_dir, QuerySet};
use mimecast_graph::sim::{SimOptions, SimServer, Tenant};
use mimecast_graph::sink::bolt::to_json;
use mimecast_graph::sink::{process_start, AccountStatus, Holder, Sink, SyncStamp};
use mimecast_graph::steps::{Progress, SilentProgress, StepResult};
use mimecast_graph::stop::Stop;
use mimecast_graph::sync::{run_once, SyncOutcome, SyncStatus};
use neo4rs::query;
use serde_json::{json, Value as Json};

use crate::collect::{ACME_ENTITIES, ACME_RELATIONSHIPS};
use crate::helpers::{acme_connection, acme_tenant, config_with, sink, start_sim, unique_account};

/// A per-run account code for a per-test name: data of earlier runs never interferes.
pub fn code(name: &str) -> &'static str {
    static CODES: std::sync::OnceLock<std::sync::Mutex<BTreeMap<String, &'static str>>> = std::sync::OnceLock::new();
    let mut codes = CODES.get_or_init(Default::default).lock().unwrap();
    codes
        .entry(name.to_owned())
        .or_insert_with(|| Box::leak(unique_account(&name[1..4]).into_boxed_str()))
}

/// Syncs that write ComplianceQuery nodes (shared by every account) run one at a time.
pub static SYNC_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn sync(config: &Config) -> SyncOutcome {
    sync_with(config, &embedded()).await
}

async fn sync_with(config: &Config, queries: &QuerySet) -> SyncOutcome {
    let _guard = SYNC_LOCK.lock().await;
    run_once(config, &all_steps(), queries, &SilentProgress, &Stop::new()).await
}

pub async fn rows(s: &Sink, cypher: &str, account: &str) -> Vec<Json> {
    let records = s.read(query(cypher).param("account", account)).await.unwrap();
    records
        .iter()
        .map(|r| Json::Object(r.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()))
        .collect()
}

/// Node counts by `_type` for one account, straight from Neo4j.
/// Nodes of the account's graph by type (its sync history is counted apart).
pub async fn node_counts(s: &Sink, account: &str) -> Vec<(String, usize)> {
    type_counts(
        s,
        "MATCH (n {accountCode: $account}) WHERE NOT n:MimecastSyncRun RETURN n._type AS t, count(*) AS c ORDER BY t",
        account,
    )
    .await
}

pub async fn relationship_counts(s: &Sink, account: &str) -> Vec<(String, usize)> {
    type_counts(
        s,
        "MATCH ()-[r {accountCode: $account}]->() RETURN r._type AS t, count(*) AS c ORDER BY t",
        account,
    )
    .await
}

/// `(t, c)` rows of a counting query.
async fn type_counts(s: &Sink, cypher: &str, account: &str) -> Vec<(String, usize)> {
    rows(s, cypher, account)
        .await
        .into_iter()
        .map(|r| (r["t"].as_str().unwrap().to_owned(), r["c"].as_u64().unwrap() as usize))
        .collect()
}

/// What the sync wrote of the tenant's data (the saved queries left out).
pub fn data_written(outcome: &SyncOutcome) -> mimecast_graph::sink::TypeWrite {
    mimecast_graph::sink::TypeWrite::sum(
        outcome
            .load
            .types
            .iter()
            .filter(|(t, _)| t.as_str() != "compliance_query")
            .map(|(_, w)| w),
    )
}

pub fn pairs(list: &[(&str, usize)]) -> Vec<(String, usize)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn with(list: &[(&str, usize)], changes: &[(&str, usize)]) -> Vec<(String, usize)> {
    let mut map: BTreeMap<String, usize> = list.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    for (k, v) in changes {
        map.insert((*k).to_owned(), *v);
    }
    map.into_iter().collect()
}

pub async fn acme(account: &str) -> (SimServer, Config) {
    let sim = start_sim(acme_tenant(account), SimOptions::default()).await;
    let config = config_with(vec![acme_connection("acme", &sim)]);
    (sim, config)
}

#[tokio::test]
async fn sync_writes_the_exact_graph_with_labels_and_properties() {
    let (_sim, config) = acme(code("CSYNC00001")).await;
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    let s = sink().await;
    assert_eq!(node_counts(&s, code("CSYNC00001")).await, pairs(ACME_ENTITIES));
    assert_eq!(
        relationship_counts(&s, code("CSYNC00001")).await,
        pairs(ACME_RELATIONSHIPS)
    );

    assert_eq!(data_written(&outcome).created, 32 + 51);
    assert_eq!(outcome.load.types["mimecast_user"].counts(), (12, 0, 0, 0));

    let bob = rows(
        &s,
        "MATCH (u:MimecastUser:User {_key: 'mimecast_user:' + $account + ':bob@acme.com'}) \
         RETURN labels(u) AS labels, u.safeRisk AS risk, u.watchlistCount AS watch, u.email AS email, \
                u.emailAddress AS address, u._lastChangedOn AS changed, u._firstSeenOn AS first",
        code("CSYNC00001"),
    )
    .await;
    assert_eq!(
        bob,
        vec![json!({
            "labels": ["MimecastUser", "User", "UserAccount"], "risk": "F", "watch": 2, "email": "bob@acme.com",
            "address": "bob@acme.com", "changed": outcome.started_on, "first": outcome.started_on
        })]
    );
    let account = rows(
        &s,
        "MATCH (a:MimecastAccount {accountCode: $account}) \
         RETURN a.lastSyncStatus AS status, a.lastSuccessfulSyncOn AS ok, a.lastSyncOn AS last, a.name AS name, \
                a.awarenessTrainingLicensed AS at, a.packages AS packages",
        code("CSYNC00001"),
    )
    .await;
    assert_eq!(
        account,
        vec![json!({
            "status": "success", "ok": outcome.started_on, "last": outcome.started_on, "name": "Acme Health", "at": true,
            "packages": ["Awareness Training [1078]", "Mimecast Platform [1033]", "Secure Email Gateway (Site) [1039]"]
        })]
    );
    let completed = rows(
        &s,
        "MATCH (:MimecastUser {_key: 'mimecast_user:' + $account + ':carol@acme.com'})-[c:COMPLETED]->(t:MimecastAwarenessCampaign) \
         RETURN t.name AS campaign, c.passed AS passed, c.correctAnswers AS correct, c.incorrectAnswers AS incorrect",
        code("CSYNC00001"),
    )
    .await;
    assert_eq!(
        completed,
        vec![json!({"campaign": "HIPAA 101", "passed": false, "correct": 1, "incorrect": 1})]
    );
}

#[tokio::test]
async fn syncing_an_unchanged_tenant_twice_changes_nothing() {
    let (_sim, config) = acme(code("CIDEMPOT01")).await;
    let first = sync(&config).await;
    assert_eq!(first.status, SyncStatus::Success);
    let second = sync(&config).await;
    assert_eq!(second.status, SyncStatus::Success);
    for (t, w) in &second.load.types {
        if t == "compliance_query" {
            continue;
        }
        assert_eq!(
            (t.as_str(), w.created, w.updated, w.deleted),
            (t.as_str(), 0, 0, 0),
            "{t}"
        );
    }
    assert_eq!(data_written(&second).unchanged, 32 + 51);
    let s = sink().await;
    assert_eq!(node_counts(&s, code("CIDEMPOT01")).await, pairs(ACME_ENTITIES));
    assert_eq!(
        relationship_counts(&s, code("CIDEMPOT01")).await,
        pairs(ACME_RELATIONSHIPS)
    );
    // The account remembers the second sync; its data last changed in the first.
    let last = rows(
        &s,
        "MATCH (a:MimecastAccount {accountCode: $account}) \
         RETURN a.lastSyncOn AS last, a._firstSeenOn AS first, a._lastChangedOn AS changed",
        code("CIDEMPOT01"),
    )
    .await;
    assert_eq!(
        last,
        vec![json!({"last": second.started_on, "first": first.started_on, "changed": first.started_on})]
    );
}

/// Erin leaves; Carol completes the fundamentals; a secure-coding campaign starts.
fn changed(mut t: Tenant) -> Tenant {
    t.users.retain(|u| u["emailAddress"] != "erin@acme.com");
    for c in &mut t.training_campaigns {
        if c["name"] == "Security Awareness Fundamentals" {
            for row in c["user_data"].as_array_mut().unwrap() {
                if row["email"] == "carol@acme.com" {
                    row["results"] = json!({"forQuestion1": "CORRECT"});
                }
            }
        }
    }
    let mut new = t.training_campaigns[0].clone();
    new["id"] = json!("eNoTrainingCODE00005");
    new["name"] = json!("Secure Coding Basics");
    new["launchDate"] = json!("2024-09-01T09:00:00+0000");
    new["user_data"] = json!([{"name": "Gina Park", "email": "gina@labs.acme.com", "department": "", "results": {"forQuestion1": "CORRECT"}, "acknowledgement": false, "userState": "ACTIVE"}]);
    t.training_campaigns.push(new);
    t
}

#[tokio::test]
async fn tenant_changes_are_reflected_exactly_after_the_next_sync() {
    let (sim, config) = acme(code("CCHANGE001")).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    sim.set_tenant(changed(acme_tenant(code("CCHANGE001"))));

    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    let s = sink().await;
    assert_eq!(
        node_counts(&s, code("CCHANGE001")).await,
        with(
            ACME_ENTITIES,
            &[("mimecast_user", 11), ("mimecast_awareness_campaign", 5)]
        )
    );
    assert_eq!(
        relationship_counts(&s, code("CCHANGE001")).await,
        with(
            ACME_RELATIONSHIPS,
            &[
                ("mimecast_domain_has_user", 11),
                ("mimecast_account_has_awareness_campaign", 5),
                ("mimecast_user_assigned_awareness_campaign", 12),
                ("mimecast_user_completed_awareness_campaign", 9),
                ("mimecast_awareness_campaign_covers_training_category", 4),
            ]
        )
    );
    // Carol's and Gina's training counts change (a completion, a new assignment).
    assert_eq!(outcome.load.types["mimecast_user"].counts(), (0, 2, 9, 1));
    assert_eq!(outcome.load.types["mimecast_domain_has_user"].deleted, 1);
    assert_eq!(
        outcome.load.types["mimecast_user_completed_awareness_campaign"].created,
        2
    );
    // Completed keeps the assignment: "assigned and not completed" is one pattern.
    let carol = rows(
        &s,
        "MATCH (:MimecastUser {_key: 'mimecast_user:' + $account + ':carol@acme.com'})-[r]->(:MimecastAwarenessCampaign {name: 'Security Awareness Fundamentals'}) \
         RETURN type(r) AS rel ORDER BY rel",
        code("CCHANGE001"),
    )
    .await;
    assert_eq!(carol, vec![json!({"rel": "ASSIGNED"}), json!({"rel": "COMPLETED"})]);
    let erin = rows(
        &s,
        "MATCH (u:MimecastUser {email: 'erin@acme.com', accountCode: $account}) RETURN count(u) AS n",
        code("CCHANGE001"),
    )
    .await;
    assert_eq!(erin, vec![json!({"n": 0})]);
}

#[tokio::test]
async fn a_failed_step_deletes_nothing_of_its_types() {
    let (sim, config) = acme(code("CPARTSYNC1")).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    // Upstream, Carol's fundamentals enrollment and Erin vanish; the enrollment
    // endpoint now fails.
    let mut t = acme_tenant(code("CPARTSYNC1"));
    t.users.retain(|u| u["emailAddress"] != "erin@acme.com");
    t.training_campaigns[0]["user_data"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["email"] != "carol@acme.com");
    sim.set_tenant(t);
    sim.set_fail_paths(vec![("/api/awareness-training/campaign/get-user-data".into(), 500)]);

    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Partial);
    assert_eq!(mimecast_graph::cli::exit_of(outcome.status).code(), 10);
    let s = sink().await;
    let rels = relationship_counts(&s, code("CPARTSYNC1")).await;
    let get = |t: &str| rels.iter().find(|(k, _)| k == t).map(|(_, v)| *v);
    assert_eq!(get("mimecast_user_assigned_awareness_campaign"), Some(11));
    assert_eq!(get("mimecast_user_completed_awareness_campaign"), Some(7));
    assert_eq!(
        outcome.load.types.get("mimecast_user_assigned_awareness_campaign"),
        None,
        "nothing written or deleted"
    );
    // Users were complete: Erin is gone.
    assert_eq!(get("mimecast_domain_has_user"), Some(11));
    let status = rows(
        &s,
        "MATCH (a:MimecastAccount {accountCode: $account}) RETURN a.lastSyncStatus AS s",
        code("CPARTSYNC1"),
    )
    .await;
    assert_eq!(status, vec![json!({"s": "partial"})]);
}

#[tokio::test]
async fn a_tenant_failing_authentication_keeps_its_data_and_is_marked_failed() {
    let account = code("CAUTHFAIL1");
    let sim = start_sim(acme_tenant(account), SimOptions::default()).await;
    // A connection name no other test uses: without an account code, the failure is
    // recorded on the one account node of this connection.
    let config = config_with(vec![acme_connection(&format!("authfail-{account}"), &sim)]);
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let s = sink().await;
    let before = rows(
        &s,
        "MATCH (a:MimecastAccount {accountCode: $account}) RETURN a.lastSuccessfulSyncOn AS ok",
        account,
    )
    .await;

    sim.set_fail_paths(vec![("/oauth/token".into(), 401)]);
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::MimecastFailed);
    let after = rows(
        &s,
        "MATCH (a:MimecastAccount {accountCode: $account}) \
         RETURN a.lastSyncStatus AS status, a.lastSuccessfulSyncOn AS ok",
        account,
    )
    .await;
    let stamped_now = rows(
        &s,
        &format!(
            "MATCH (a:MimecastAccount {{accountCode: $account}}) RETURN a.lastSyncOn = datetime('{}') AS stamped",
            outcome.started_on
        ),
        account,
    )
    .await;
    assert_eq!(after[0]["status"], json!("failed"));
    assert_eq!(after[0]["ok"], before[0]["ok"]);
    assert_eq!(stamped_now, vec![json!({"stamped": true})]);
    assert_eq!(node_counts(&s, account).await, pairs(ACME_ENTITIES), "nothing deleted");
}

#[tokio::test]
async fn a_sync_writes_nothing_while_another_holds_the_accounts_lease() {
    let (sim, config) = acme(code("CLEASE0001")).await;
    let account = code("CLEASE0001");
    let s = sink().await;
    let lease = |expires: &str| {
        query(
            "CREATE (:MimecastGraphLock {accountCode: $account, owner: 'other-sync', \
             since: '2026-01-01T00:00:00Z', expiresOn: $expires})",
        )
        .param("account", account)
        .param("expires", expires.to_owned())
    };
    let graph_nodes = "MATCH (n {accountCode: $account}) WHERE n._type IS NOT NULL RETURN count(n) AS c";
    let leases = "MATCH (l:MimecastGraphLock {accountCode: $account}) RETURN l.owner AS owner";

    crate::helpers::cypher(lease("2999-01-01T00:00:00Z")).await;
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Neo4jFailed);
    // The lease is checked before the tenant is fetched: only its account was.
    assert_eq!(
        sim.stats().calls,
        BTreeMap::from([
            ("/api/account/get-account".to_owned(), 1),
            ("/oauth/token".to_owned(), 1)
        ])
    );
    assert_eq!(mimecast_graph::cli::exit_of(outcome.status).code(), 5);
    assert_eq!(
        outcome.error.as_deref(),
        Some(
            format!(
                "account {account} is being written by another sync (other-sync, since 2026-01-01T00:00:00Z); \
                 this sync wrote nothing. Run syncs of one account one at a time; if that sync died, its lease \
                 ends at 2999-01-01T00:00:00Z, or delete it: MATCH (l:MimecastGraphLock {{accountCode: '{account}'}}) DELETE l"
            )
            .as_str()
        )
    );
    assert_eq!(rows(&s, graph_nodes, account).await, vec![json!({"c": 0})]);
    assert_eq!(rows(&s, leases, account).await, vec![json!({"owner": "other-sync"})]);

    // An expired lease (its sync died) is taken over; a finished sync leaves none.
    crate::helpers::cypher(
        query("MATCH (l:MimecastGraphLock {accountCode: $account}) DELETE l").param("account", account),
    )
    .await;
    crate::helpers::cypher(lease("2020-01-01T00:00:00Z")).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    assert_eq!(node_counts(&s, account).await, pairs(ACME_ENTITIES));
    assert_eq!(rows(&s, leases, account).await, Vec::<Json>::new());
}

#[tokio::test]
async fn a_lease_lost_while_writing_stops_every_further_write() {
    let account = code("CLEASELOST");
    let s = sink().await;
    let stamp = SyncStamp::new();
    s.lock_accounts(&[account], &stamp).await.unwrap();
    // Another sync takes the lease (as if it had expired).
    crate::helpers::cypher(
        query("MATCH (l:MimecastGraphLock {accountCode: $account}) SET l.owner = 'thief'").param("account", account),
    )
    .await;
    let result = s
        .hold_leases(&[account], &stamp, Duration::from_millis(50), async {
            // Writes go on until the renewal notices the lease is gone (bounded).
            for _ in 0..400 {
                s.mark_account(account, AccountStatus::Success, &stamp).await?;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Ok::<(), mimecast_graph::sink::SinkError>(())
        })
        .await;
    assert!(
        matches!(result, Err(mimecast_graph::sink::SinkError::LeaseLost)),
        "{result:?}"
    );
    // The thief's lease is untouched by our release.
    s.unlock_accounts(&[account], &stamp).await;
    let owner = rows(
        &s,
        "MATCH (l:MimecastGraphLock {accountCode: $account}) RETURN l.owner AS owner",
        account,
    )
    .await;
    assert_eq!(owner, vec![json!({"owner": "thief"})]);
}

#[tokio::test]
async fn a_lease_without_owner_or_expiry_is_taken_over() {
    let (_sim, config) = acme(code("CLEASEBAD1")).await;
    let account = code("CLEASEBAD1");
    let s = sink().await;
    crate::helpers::cypher(query("CREATE (:MimecastGraphLock {accountCode: $account})").param("account", account))
        .await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let leases = rows(
        &s,
        "MATCH (l:MimecastGraphLock {accountCode: $account}) RETURN count(l) AS n",
        account,
    )
    .await;
    assert_eq!(leases, vec![json!({"n": 0})]);
}

/// A live lease of `holder` on the account, as another sync would leave it.
async fn leave_lease(account: &str, owner: &str, holder: &Holder) {
    crate::helpers::cypher(
        query(
            "CREATE (:MimecastGraphLock {accountCode: $account, owner: $owner, since: '2026-01-01T00:00:00Z', \
             expiresOn: '2999-01-01T00:00:00Z', instance: $instance, host: $host, hostId: $hostId, pid: $pid, \
             processStart: $start})",
        )
        .param("account", account)
        .param("owner", owner)
        .param("instance", holder.instance.as_str())
        .param("host", holder.host.as_str())
        .param("hostId", holder.host_id.as_str())
        .param("pid", i64::from(holder.pid))
        .param("start", holder.process_start as i64),
    )
    .await;
}

async fn lease_owner(s: &Sink, account: &str) -> Vec<Json> {
    rows(
        s,
        "MATCH (l:MimecastGraphLock {accountCode: $account}) RETURN l.owner AS owner",
        account,
    )
    .await
}

/// Another process of this host, as a lease records it.
fn holder_of(child: &std::process::Child) -> Holder {
    Holder {
        instance: "another-process".into(),
        pid: child.id(),
        process_start: process_start(child.id()).unwrap(),
        ..Holder::current().clone()
    }
}

/// The sync took the lease over, wrote everything and released it.
async fn assert_synced_and_released(outcome: &SyncOutcome, s: &Sink, account: &str) {
    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    assert_eq!(node_counts(s, account).await, pairs(ACME_ENTITIES));
    assert_eq!(lease_owner(s, account).await, Vec::<Json>::new());
}

#[tokio::test]
async fn a_lease_left_by_an_earlier_run_of_this_process_is_taken_over() {
    // The daemon's previous run could not release its lease (Neo4j was down).
    let (_sim, config) = acme(code("CLEASEOWN1")).await;
    let account = code("CLEASEOWN1");
    let s = sink().await;
    leave_lease(account, "earlier-run", Holder::current()).await;

    let outcome = sync(&config).await;

    assert_synced_and_released(&outcome, &s, account).await;
}

#[tokio::test]
async fn a_lease_of_a_process_on_this_host_that_exited_is_taken_over() {
    let (_sim, config) = acme(code("CLEASEDEAD")).await;
    let account = code("CLEASEDEAD");
    let s = sink().await;
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = holder_of(&child);
    child.wait().unwrap();
    leave_lease(account, "dead-sync", &dead).await;

    let outcome = sync(&config).await;

    assert_synced_and_released(&outcome, &s, account).await;
}

#[tokio::test]
async fn a_lease_of_a_live_process_is_waited_for_and_a_reused_pid_is_not_it() {
    let (_sim, config) = acme(code("CLEASELIVE")).await;
    let account = code("CLEASELIVE");
    let s = sink().await;
    let mut child = std::process::Command::new("sleep").arg("120").spawn().unwrap();
    let alive = holder_of(&child);
    leave_lease(account, "live-sync", &alive).await;

    let refused = sync(&config).await;

    assert_eq!(refused.status, SyncStatus::Neo4jFailed);
    assert_eq!(
        refused.error.as_deref().unwrap(),
        format!(
            "account {account} is being written by another sync (live-sync, pid {} on {}, since 2026-01-01T00:00:00Z); \
             this sync wrote nothing. Run syncs of one account one at a time; if that sync died, its lease ends at \
             2999-01-01T00:00:00Z, or delete it: MATCH (l:MimecastGraphLock {{accountCode: '{account}'}}) DELETE l",
            alive.pid, alive.host
        )
    );
    assert_eq!(lease_owner(&s, account).await, vec![json!({"owner": "live-sync"})]);

    // The same pid, but recorded with another start time: that process is gone.
    crate::helpers::cypher(
        query("MATCH (l:MimecastGraphLock {accountCode: $account}) SET l.processStart = l.processStart - 1")
            .param("account", account),
    )
    .await;
    let outcome = sync(&config).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_synced_and_released(&outcome, &s, account).await;
}

#[tokio::test]
async fn one_account_never_touches_another() {
    let a = start_sim(acme_tenant(code("CISOA00001")), SimOptions::default()).await;
    let b = start_sim(acme_tenant(code("CISOB00001")), SimOptions::default()).await;
    let both = config_with(vec![acme_connection("a", &a), acme_connection("b", &b)]);
    assert_eq!(sync(&both).await.status, SyncStatus::Success);

    let mut t = acme_tenant(code("CISOA00001"));
    t.users
        .retain(|u| !u["emailAddress"].as_str().unwrap().ends_with("@labs.acme.com"));
    t.domains.retain(|d| d["domain"] == "acme.com");
    a.set_tenant(t);
    let only_a = config_with(vec![acme_connection("a", &a)]);
    let outcome = sync(&only_a).await;
    assert_eq!(outcome.status, SyncStatus::Success);

    let s = sink().await;
    assert_eq!(node_counts(&s, code("CISOB00001")).await, pairs(ACME_ENTITIES));
    assert_eq!(
        relationship_counts(&s, code("CISOB00001")).await,
        pairs(ACME_RELATIONSHIPS)
    );
    let a_nodes = node_counts(&s, code("CISOA00001")).await;
    assert_eq!(
        a_nodes,
        with(ACME_ENTITIES, &[("mimecast_domain", 1), ("mimecast_user", 9)])
    );
}

fn write_query(dir: &std::path::Path, id: &str) {
    let text = format!(
        "// id: {id}\n// title: Accounts\n// description: Counts accounts.\n// frameworks: SOC 2 CC7.2\n// severity: low\n\
         // version: 1\n// population: accounts\n// remediation: None.\n\
         // count: MATCH (a:MimecastAccount) WHERE $account IS NULL OR a.accountCode = $account RETURN count(a) AS total\n\
         // param: account = null | Only this account\n// columns: n\n//   :param account => null\n\
         MATCH (a:MimecastAccount) WHERE $account IS NULL OR a.accountCode = $account RETURN count(a) AS n\n"
    );
    std::fs::write(dir.join(format!("{id}.cypher")), text).unwrap();
}

#[tokio::test]
async fn saved_queries_live_beside_the_data_and_removed_ones_disappear() {
    let (_sim, config) = acme(code("CQUERYNODE")).await;
    let s = sink().await;

    // The built-in set, stored beside the data.
    sync(&config).await;
    let stored = rows(
        &s,
        "MATCH (q:ComplianceQuery:Procedure {id: 'terminated-with-account'}) RETURN q.id AS id, q.severity AS severity, \
         q.frameworks AS frameworks, q.querySet AS set, q.cypher STARTS WITH '// id: terminated-with-account' AS cypher, \
         q.version AS version, q.controls AS controls, q.population AS population",
        "",
    )
    .await;
    assert_eq!(
        stored,
        vec![json!({
            "id": "terminated-with-account", "severity": "critical", "cypher": true, "set": "builtin",
            "frameworks": ["SOC 2 CC6.2", "SOC 2 CC6.3", "ISO 27001 A.5.18", "PCI DSS 8.2.6", "HIPAA 164.308(a)(3)(ii)(C)", "GDPR Art. 32(1)(b)"],
            "version": 1, "population": "terminated people",
            "controls": ["soc2:CC6.2", "soc2:CC6.3", "iso27001:A.5.18", "pci:8.2.6", "hipaa:164.308(a)(3)(ii)(C)", "gdpr:Art. 32(1)(b)"]
        })]
    );

    // A folder of two queries, then one of them removed.
    let tmp = tempfile::Builder::new().prefix("mg-queries-").tempdir().unwrap();
    let dir = tmp.path();
    let stem = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (a, b) = (format!("{stem}-a"), format!("{stem}-b"));
    write_query(dir, &a);
    write_query(dir, &b);
    let both = load_dir(dir).unwrap();
    sync_with(&config, &both).await;
    let ids = |rows: Vec<Json>| {
        rows.into_iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let in_set = "MATCH (q:ComplianceQuery {querySet: $account}) RETURN q.id AS id ORDER BY id";
    assert_eq!(ids(rows(&s, in_set, &both.source).await), vec![a.clone(), b.clone()]);

    std::fs::remove_file(dir.join(format!("{b}.cypher"))).unwrap();
    let one = load_dir(dir).unwrap();
    let outcome = sync_with(&config, &one).await;
    assert_eq!(outcome.load.types["compliance_query"].counts(), (0, 0, 1, 1));
    assert_eq!(ids(rows(&s, in_set, &one.source).await), vec![a.clone()]);
    // Another set's queries are untouched.
    let builtin = rows(
        &s,
        "MATCH (q:ComplianceQuery {querySet: 'builtin'}) RETURN count(q) AS n",
        "",
    )
    .await;
    assert_eq!(builtin, vec![json!({"n": 20})]);

    // The same query id in another folder is a node of its own.
    let tmp2 = tempfile::Builder::new().prefix("mg-queries-").tempdir().unwrap();
    let dir2 = tmp2.path();
    std::fs::copy(dir.join(format!("{a}.cypher")), dir2.join(format!("{a}.cypher"))).unwrap();
    let other = load_dir(dir2).unwrap();
    sync_with(&config, &other).await;
    assert_eq!(ids(rows(&s, in_set, &one.source).await), vec![a.clone()]);
    assert_eq!(ids(rows(&s, in_set, &other.source).await), vec![a.clone()]);

    // A node of the older key form (no query set in the key) is replaced.
    crate::helpers::cypher(
        query("CREATE (:ComplianceQuery {_key: 'compliance_query:' + $id, id: $id, querySet: $set})")
            .param("id", a.as_str())
            .param("set", one.source.as_str()),
    )
    .await;
    let outcome = sync_with(&config, &one).await;
    assert_eq!(outcome.load.types["compliance_query"].counts(), (0, 0, 1, 1));
    let keys = rows(
        &s,
        "MATCH (q:ComplianceQuery {querySet: $account}) RETURN q._key AS key",
        &one.source,
    )
    .await;
    assert_eq!(
        keys,
        vec![json!({"key": format!("compliance_query:{}:{a}", one.source)})]
    );
}

#[tokio::test]
async fn neo4j_down_is_waited_for_then_fails_without_calling_mimecast() {
    let (sim, mut config) = acme(code("CNEO4JDOWN")).await;
    config.neo4j.uri = "bolt://127.0.0.1:9".into();
    config.neo4j.connect_timeout = Duration::from_secs(2);
    config.neo4j.unavailable_retry = Duration::from_secs(3);
    let t0 = std::time::Instant::now();
    let outcome = sync(&config).await;
    let waited = t0.elapsed();
    assert_eq!(outcome.status, SyncStatus::Neo4jFailed);
    assert_eq!(mimecast_graph::cli::exit_of(outcome.status).code(), 5);
    let error = outcome.error.as_deref().unwrap();
    assert!(
        error.starts_with("Neo4j at bolt://127.0.0.1:9 is not reachable (an IO error occurred: Connection refused"),
        "{error}"
    );
    assert!(
        error.ends_with(
            " s of retries (neo4j.unavailable_retry_secs = 3)); start one with `scripts/neo4j start` or set NEO4J_URI"
        ),
        "{error}"
    );
    assert!(waited >= Duration::from_secs(3), "gave up after {waited:?}");
    assert!(waited < Duration::from_secs(20), "waited {waited:?}");
    assert_eq!(sim.stats().calls.len(), 0);
}

#[tokio::test]
async fn the_daemon_runs_once_per_interval_and_stops_cleanly() {
    let (_sim, config) = acme(code("CDAEMON001")).await;
    let stop = Stop::new();
    let seen = std::sync::Mutex::new(Vec::new());
    let observe = |o: &SyncOutcome| {
        seen.lock().unwrap().push(o.status);
        stop.trigger();
    };
    let opts = DaemonOptions::every(Duration::from_secs(3600));
    let _guard = SYNC_LOCK.lock().await;
    let end = tokio::time::timeout(
        Duration::from_secs(120),
        daemon::run(
            &config,
            &all_steps(),
            &embedded(),
            &opts,
            &SilentProgress,
            &stop,
            &observe,
        ),
    )
    .await
    .expect("the daemon stops once asked, without waiting for the hour");
    assert_eq!(
        end,
        daemon::DaemonEnd {
            runs: 1,
            interrupted: false
        }
    );
    assert_eq!(*seen.lock().unwrap(), vec![SyncStatus::Success]);
    drop(_guard);
    let s = sink().await;
    assert_eq!(node_counts(&s, code("CDAEMON001")).await, pairs(ACME_ENTITIES));
}

/// Asks to stop once `n` steps have finished, i.e. while collecting.
struct StopAfterSteps(Stop, usize, std::sync::atomic::AtomicUsize);

impl Progress for StopAfterSteps {
    fn step_started(&self, _: &str, _: &str) {}
    fn step_finished(&self, _: &str, _: &StepResult) {
        if self.2.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == self.1 {
            self.0.trigger();
        }
    }
}

#[tokio::test]
async fn a_stop_while_collecting_writes_nothing() {
    let (_sim, config) = acme(code("CSTOPCOLL1")).await;
    let stop = Stop::new();
    let progress = StopAfterSteps(stop.clone(), 1, Default::default());
    let outcome = run_once(&config, &all_steps(), &embedded(), &progress, &stop).await;
    assert_eq!(outcome.status, SyncStatus::Stopped);
    let s = sink().await;
    assert!(node_counts(&s, code("CSTOPCOLL1")).await.is_empty());
}

#[tokio::test]
async fn a_stop_during_writes_finishes_the_batch_in_flight_and_writes_no_more() {
    let mut cfg = crate::helpers::neo4j_config();
    cfg.batch_size = 200;
    let s = Sink::connect(&cfg).await.unwrap();
    let stop = Stop::new();
    let stopped = s.clone().with_stop(stop.clone());
    let account = code("CSTOPSINK1");
    let entities: Vec<mimecast_graph::graph::Entity> = (0..20_000)
        .map(|i| {
            mimecast_graph::graph::Entity::new(
                format!("mimecast_test_probe:{account}:{i:05}"),
                "mimecast_test_probe",
                "Record",
            )
            .with("accountCode", account)
        })
        .collect();
    let refs: Vec<&mimecast_graph::graph::Entity> = entities.iter().collect();
    let count = "MATCH (n:MimecastTestProbe {accountCode: $account}) RETURN count(n) AS n";
    // Ask to stop as soon as the first batch is visible.
    let watcher = async {
        loop {
            if rows(&s, count, account).await[0]["n"].as_u64().unwrap() > 0 {
                stop.trigger();
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let stamp = mimecast_graph::sink::SyncStamp::new();
    let (result, ()) = tokio::join!(
        stopped.upsert_nodes(
            &["MimecastTestProbe"],
            &refs,
            mimecast_graph::sink::Mode::Replace,
            &stamp
        ),
        watcher
    );
    assert_eq!(
        result.unwrap_err().to_string(),
        "stopped on request before the next write"
    );
    let written = rows(&s, count, account).await[0]["n"].as_u64().unwrap();
    assert!(written > 0 && written < 20_000, "{written} written");
    assert_eq!(written % 200, 0, "only whole batches are written");
}

#[tokio::test]
async fn a_refused_score_endpoint_keeps_the_stored_scores() {
    let (sim, config) = acme(code("CKEEPSCORE")).await;
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    sim.set_fail_paths(vec![(
        "/api/awareness-training/company/get-safe-score-details".into(),
        403,
    )]);
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Partial);
    let s = sink().await;
    let bob = rows(
        &s,
        "MATCH (u:MimecastUser {accountCode: $account, email: 'bob@acme.com'}) RETURN u.safeRisk AS risk, u.watchlistCount AS watch",
        code("CKEEPSCORE"),
    )
    .await;
    assert_eq!(bob, vec![json!({"risk": "F", "watch": 2})]);
    let users = &outcome.load.types["mimecast_user"];
    // Merged partial data that changes nothing counts as unchanged, not updated.
    assert_eq!(
        (users.created, users.updated, users.unchanged, users.deleted),
        (0, 0, 12, 0)
    );
}
