//! `sync` into the real Neo4j with the simulator: exact counts and properties, an
//! idempotent re-run, tenant changes, a partial step, account isolation, the
//! ComplianceQuery nodes, and the daemon's run_once and shutdown.

use mimecast_graph::graph::Element as _;
use std::collections::BTreeMap;
use std::time::Duration;

use mimecast_graph::collect::all_steps;
use mimecast_graph::config::Config;
use mimecast_graph::daemon::{self, DaemonOptions};
use mimecast_graph::queries::{embedded, QueryDef};
use mimecast_graph::sim::{SimOptions, SimServer, Tenant};
use mimecast_graph::sink::bolt::to_json;
use mimecast_graph::sink::Sink;
use mimecast_graph::steps::{Progress, SilentProgress, StepResult};
use mimecast_graph::stop::Stop;
use mimecast_graph::sync::{run_once, SyncOutcome, SyncStatus};
use neo4rs::query;
use serde_json::{json, Value as Json};

use crate::collect::{ACME_ENTITIES, ACME_RELATIONSHIPS};
use crate::helpers::{acme_connection, acme_tenant, config_with, sink, start_sim, unique_account};

/// A per-run account code for a per-test name: data of earlier runs never interferes.
fn code(name: &str) -> &'static str {
    static CODES: std::sync::OnceLock<std::sync::Mutex<BTreeMap<String, &'static str>>> = std::sync::OnceLock::new();
    let mut codes = CODES.get_or_init(Default::default).lock().unwrap();
    codes
        .entry(name.to_owned())
        .or_insert_with(|| Box::leak(unique_account(&name[1..4]).into_boxed_str()))
}

/// Syncs that write ComplianceQuery nodes (shared by every account) run one at a time.
static SYNC_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn sync(config: &Config) -> SyncOutcome {
    sync_with(config, &embedded()).await
}

async fn sync_with(config: &Config, queries: &[QueryDef]) -> SyncOutcome {
    let _guard = SYNC_LOCK.lock().await;
    run_once(config, &all_steps(), queries, &SilentProgress, &Stop::new()).await
}

async fn rows(s: &Sink, cypher: &str, account: &str) -> Vec<Json> {
    let records = s.read(query(cypher).param("account", account)).await.unwrap();
    records
        .iter()
        .map(|r| Json::Object(r.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()))
        .collect()
}

/// Node counts by `_type` for one account, straight from Neo4j.
pub async fn node_counts(s: &Sink, account: &str) -> Vec<(String, usize)> {
    rows(s, "MATCH (n {accountCode: $account}) RETURN n._type AS t, count(*) AS c ORDER BY t", account)
        .await
        .into_iter()
        .map(|r| (r["t"].as_str().unwrap().to_owned(), r["c"].as_u64().unwrap() as usize))
        .collect()
}

pub async fn relationship_counts(s: &Sink, account: &str) -> Vec<(String, usize)> {
    rows(s, "MATCH ()-[r {accountCode: $account}]->() RETURN r._type AS t, count(*) AS c ORDER BY t", account)
        .await
        .into_iter()
        .map(|r| (r["t"].as_str().unwrap().to_owned(), r["c"].as_u64().unwrap() as usize))
        .collect()
}

fn pairs(list: &[(&str, usize)]) -> Vec<(String, usize)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn with(list: &[(&str, usize)], changes: &[(&str, usize)]) -> Vec<(String, usize)> {
    let mut map: BTreeMap<String, usize> = list.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    for (k, v) in changes {
        map.insert((*k).to_owned(), *v);
    }
    map.into_iter().collect()
}

async fn acme(account: &str) -> (SimServer, Config) {
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
    assert_eq!(relationship_counts(&s, code("CSYNC00001")).await, pairs(ACME_RELATIONSHIPS));

    let created: u64 = outcome
        .load
        .types
        .iter()
        .filter(|(t, _)| t.as_str() != "compliance_query")
        .map(|(_, w)| w.created)
        .sum();
    assert_eq!(created, 32 + 51);
    assert_eq!(outcome.load.types["mimecast_user"].counts(), (12, 0, 0, 0));

    let bob = rows(
        &s,
        "MATCH (u:MimecastUser:User {_key: 'mimecast_user:' + $account + ':bob@acme.com'}) \
         RETURN labels(u) AS labels, u.safeRisk AS risk, u.watchlistCount AS watch, u.email AS email, \
                u.emailAddress AS address, u._lastSyncId AS sync, u._firstSeenOn AS first",
        code("CSYNC00001"),
    )
    .await;
    assert_eq!(
        bob,
        vec![json!({
            "labels": ["MimecastUser", "User"], "risk": "F", "watch": 2, "email": "bob@acme.com",
            "address": "bob@acme.com", "sync": outcome.sync_id, "first": outcome.started_on
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
    assert_eq!(completed, vec![json!({"campaign": "HIPAA 101", "passed": false, "correct": 1, "incorrect": 1})]);
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
        assert_eq!((t.as_str(), w.created, w.updated, w.deleted), (t.as_str(), 0, 0, 0), "{t}");
    }
    let unchanged: u64 = second.load.types.values().map(|w| w.unchanged).sum::<u64>() - 11;
    assert_eq!(unchanged, 32 + 51);
    let s = sink().await;
    assert_eq!(node_counts(&s, code("CIDEMPOT01")).await, pairs(ACME_ENTITIES));
    assert_eq!(relationship_counts(&s, code("CIDEMPOT01")).await, pairs(ACME_RELATIONSHIPS));
    // The account remembers the second sync.
    let last = rows(&s, "MATCH (a:MimecastAccount {accountCode: $account}) RETURN a._lastSyncId AS id, a._firstSeenOn AS first", code("CIDEMPOT01")).await;
    assert_eq!(last, vec![json!({"id": second.sync_id, "first": first.started_on})]);
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
        with(ACME_ENTITIES, &[("mimecast_user", 11), ("mimecast_awareness_campaign", 5)])
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
    assert_eq!(outcome.load.types["mimecast_user"].counts(), (0, 0, 11, 1));
    assert_eq!(outcome.load.types["mimecast_domain_has_user"].deleted, 1);
    assert_eq!(outcome.load.types["mimecast_user_completed_awareness_campaign"].created, 2);
    // Completed keeps the assignment: "assigned and not completed" is one pattern.
    let carol = rows(
        &s,
        "MATCH (:MimecastUser {_key: 'mimecast_user:' + $account + ':carol@acme.com'})-[r]->(:MimecastAwarenessCampaign {name: 'Security Awareness Fundamentals'}) \
         RETURN type(r) AS rel ORDER BY rel",
        code("CCHANGE001"),
    )
    .await;
    assert_eq!(carol, vec![json!({"rel": "ASSIGNED"}), json!({"rel": "COMPLETED"})]);
    let erin = rows(&s, "MATCH (u:MimecastUser {email: 'erin@acme.com', accountCode: $account}) RETURN count(u) AS n", code("CCHANGE001")).await;
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
    t.training_campaigns[0]["user_data"].as_array_mut().unwrap().retain(|r| r["email"] != "carol@acme.com");
    sim.set_tenant(t);
    sim.set_fail_paths(vec![("/api/awareness-training/campaign/get-user-data".into(), 500)]);

    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Partial);
    assert_eq!(outcome.status.exit_code(), 10);
    let s = sink().await;
    let rels = relationship_counts(&s, code("CPARTSYNC1")).await;
    let get = |t: &str| rels.iter().find(|(k, _)| k == t).map(|(_, v)| *v);
    assert_eq!(get("mimecast_user_assigned_awareness_campaign"), Some(11));
    assert_eq!(get("mimecast_user_completed_awareness_campaign"), Some(7));
    assert_eq!(outcome.load.types.get("mimecast_user_assigned_awareness_campaign"), None, "nothing written or deleted");
    // Users were complete: Erin is gone.
    assert_eq!(get("mimecast_domain_has_user"), Some(11));
    let status = rows(&s, "MATCH (a:MimecastAccount {accountCode: $account}) RETURN a.lastSyncStatus AS s", code("CPARTSYNC1")).await;
    assert_eq!(status, vec![json!({"s": "partial"})]);
}

#[tokio::test]
async fn one_account_never_touches_another() {
    let a = start_sim(acme_tenant(code("CISOA00001")), SimOptions::default()).await;
    let b = start_sim(acme_tenant(code("CISOB00001")), SimOptions::default()).await;
    let both = config_with(vec![acme_connection("a", &a), acme_connection("b", &b)]);
    assert_eq!(sync(&both).await.status, SyncStatus::Success);

    let mut t = acme_tenant(code("CISOA00001"));
    t.users.retain(|u| !u["emailAddress"].as_str().unwrap().ends_with("@labs.acme.com"));
    t.domains.retain(|d| d["domain"] == "acme.com");
    a.set_tenant(t);
    let only_a = config_with(vec![acme_connection("a", &a)]);
    let outcome = sync(&only_a).await;
    assert_eq!(outcome.status, SyncStatus::Success);

    let s = sink().await;
    assert_eq!(node_counts(&s, code("CISOB00001")).await, pairs(ACME_ENTITIES));
    assert_eq!(relationship_counts(&s, code("CISOB00001")).await, pairs(ACME_RELATIONSHIPS));
    let a_nodes = node_counts(&s, code("CISOA00001")).await;
    assert_eq!(a_nodes, with(ACME_ENTITIES, &[("mimecast_domain", 1), ("mimecast_user", 9)]));
}

#[tokio::test]
async fn saved_queries_live_beside_the_data_and_removed_ones_disappear() {
    let (_sim, config) = acme(code("CQUERYNODE")).await;
    let all = embedded();
    let two: Vec<QueryDef> = all.iter().filter(|q| q.id == "watchlist" || q.id == "stale-sync").cloned().collect();
    let s = sink().await;
    let ids = |rows: Vec<Json>| rows.into_iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

    let _guard_free = sync_with(&config, &two).await;
    let stored = rows(&s, "MATCH (q:ComplianceQuery:Procedure) RETURN q.id AS id ORDER BY id", "").await;
    assert_eq!(ids(stored), vec!["stale-sync", "watchlist"]);

    let outcome = sync_with(&config, &all).await;
    assert_eq!(outcome.load.types["compliance_query"].deleted, 0);
    let stored = rows(
        &s,
        "MATCH (q:ComplianceQuery {id: 'terminated-with-account'}) RETURN q.id AS id, q.severity AS severity, q.frameworks AS frameworks, \
         q.cypher STARTS WITH '// id: terminated-with-account' AS cypher",
        "",
    )
    .await;
    assert_eq!(
        stored,
        vec![json!({
            "id": "terminated-with-account", "severity": "critical", "cypher": true,
            "frameworks": ["SOC 2 CC6.2", "SOC 2 CC6.3", "ISO 27001 A.5.18", "PCI DSS 8.2.6", "HIPAA 164.308(a)(3)(ii)(C)"]
        })]
    );
    let count = rows(&s, "MATCH (q:ComplianceQuery) RETURN count(q) AS n", "").await;
    assert_eq!(count, vec![json!({"n": 11})]);
}

#[tokio::test]
async fn neo4j_down_fails_fast_without_calling_mimecast() {
    let (sim, mut config) = acme(code("CNEO4JDOWN")).await;
    config.neo4j.uri = "bolt://127.0.0.1:9".into();
    config.neo4j.connect_timeout = Duration::from_secs(2);
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Neo4jFailed);
    assert_eq!(outcome.status.exit_code(), 5);
    assert!(outcome.error.as_deref().unwrap().starts_with("Neo4j at bolt://127.0.0.1:9 is not reachable"), "{:?}", outcome.error);
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
    let runs = tokio::time::timeout(
        Duration::from_secs(120),
        daemon::run(&config, &all_steps(), &embedded(), &opts, &SilentProgress, &stop, &observe),
    )
    .await
    .expect("the daemon stops once asked, without waiting for the hour");
    assert_eq!(runs, 1);
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
async fn a_stopped_sink_refuses_the_next_batch_and_cleans_up_nothing() {
    let s = sink().await;
    let stop = Stop::new();
    let stopped = s.clone().with_stop(stop.clone());
    stop.trigger();
    let e = mimecast_graph::graph::Entity::new("mimecast_test_probe:CSTOPSINK1:1", "mimecast_test_probe", "Record")
        .with("accountCode", code("CSTOPSINK1"));
    let err = stopped
        .upsert_nodes(&["MimecastTestProbe"], &[&e], mimecast_graph::sink::Mode::Replace, &mimecast_graph::sink::SyncStamp::new())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "stopped on request before the next write");
    let left = rows(&s, "MATCH (n:MimecastTestProbe {accountCode: $account}) RETURN count(n) AS n", code("CSTOPSINK1")).await;
    assert_eq!(left, vec![json!({"n": 0})]);
}
