//! Neo4j killed (SIGKILL) in the middle of the daemon's upsert and restarted: the
//! daemon recovers with no manual step, and the graph equals a clean sync of the same
//! tenant exactly. On a Neo4j of its own (instance "recovery", port 7793), started and
//! stopped here (also when the test fails: a guard stops it, and the script's
//! watchdog stops it if this process dies).
//!
//! Two cases, one server: the outage is shorter than `unavailable_retry_secs` (the
//! same run rides it out), and longer (the run fails without releasing its lease, and
//! the daemon's next run takes that lease over instead of waiting 10 minutes). The
//! time from the kill to the next successful sync is printed (`--nocapture`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mimecast_graph::collect::all_steps;
use mimecast_graph::config::{Config, Neo4jConfig};
use mimecast_graph::daemon::{self, DaemonOptions};
use mimecast_graph::queries::embedded;
use mimecast_graph::sim::{self, GenerateSpec, SimOptions, SimServer, Tenant};
use mimecast_graph::sink::bolt::to_json;
use mimecast_graph::sink::{Sink, BOOKKEEPING};
use mimecast_graph::steps::SilentProgress;
use mimecast_graph::stop::Stop;
use mimecast_graph::sync::{run_once, SyncOutcome, SyncStatus};
use neo4rs::query;
use serde_json::{json, Value as Json};

use crate::helpers::{config_with, start_sim, unique_account};

const INSTANCE: &str = "recovery";
const PORT: u16 = 7793;

/// The test's own Neo4j, managed through scripts/neo4j; stopped on drop.
struct Neo4jServer {
    cfg: Neo4jConfig,
}

fn script(command: &str) -> std::process::Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("scripts/neo4j"))
        .arg(command)
        .env("NEO4J_INSTANCE", INSTANCE)
        .env("NEO4J_PORT", PORT.to_string())
        .env("NEO4J_HEAP", "512m")
        .env("NEO4J_PAGECACHE", "256m")
        // The script's watchdog stops the server if this process dies outright.
        .env("NEO4J_STOP_WITH_PID", std::process::id().to_string())
        .env_remove("NEO4J_PASSWORD")
        .output()
        .expect("scripts/neo4j runs");
    assert!(
        out.status.success(),
        "scripts/neo4j {command} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Neo4jServer {
    fn start_empty() -> Neo4jServer {
        script("reset");
        let out = script("start");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let password = stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("NEO4J_PASSWORD="))
            .expect("the start prints the password")
            .to_owned();
        let mut cfg = Neo4jConfig::new(&format!("bolt://127.0.0.1:{PORT}"), "neo4j", &password);
        cfg.batch_size = 50;
        Neo4jServer { cfg }
    }

    /// SIGKILL, as a crash or an OOM killer would.
    fn kill() {
        let pidfile = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(".local/neo4j/{INSTANCE}/neo4j.pid"));
        let pid = std::fs::read_to_string(&pidfile).expect("the server's pid file");
        let status = Command::new("kill").args(["-9", pid.trim()]).status().unwrap();
        assert!(status.success(), "kill -9 {pid}");
        // SIGKILL is delivered at once, but the process takes a moment to exit and
        // free its port: its main thread is a zombie while the other threads still
        // exit, so wait until it is reaped or its last thread is gone.
        let proc = format!("/proc/{}", pid.trim());
        let running = || {
            let zombie = std::fs::read_to_string(format!("{proc}/stat")).map(|s| s.contains(") Z "));
            let threads = std::fs::read_dir(format!("{proc}/task")).map_or(0, Iterator::count);
            zombie.is_ok_and(|z| !z || threads > 1)
        };
        let t0 = Instant::now();
        while running() {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "pid {pid} still runs after kill -9"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the killed server again on its database; returns how long that took.
    fn restart() -> Duration {
        let t0 = Instant::now();
        script("start");
        t0.elapsed()
    }
}

impl Drop for Neo4jServer {
    fn drop(&mut self) {
        script("stop");
    }
}

/// The same generated tenant under another account code, served by its own simulator.
async fn serve(tenant: &Tenant, account: &str) -> SimServer {
    let mut t = tenant.clone();
    t.account["accountCode"] = json!(account);
    start_sim(t, SimOptions::default()).await
}

fn config_for(sim: &SimServer, neo4j: &Neo4jConfig) -> Config {
    let mut config = config_with(vec![crate::cleanup::generated_connection(sim)]);
    config.neo4j = neo4j.clone();
    config
}

/// Everything of one account, with the account code replaced and the sink's
/// per-sync stamps left out: two accounts synced from the same tenant compare equal.
async fn graph_of(s: &Sink, account: &str) -> Graph {
    let normalize = |row: &mimecast_graph::sink::Record| {
        let mut v = json!({});
        for (k, b) in row {
            v[k] = to_json(b);
        }
        if let Some(props) = v["props"].as_object_mut() {
            props.retain(|k, _| !BOOKKEEPING.contains(&k.as_str()));
        }
        v.to_string().replace(account, "ACCOUNT")
    };
    let read = |cypher: &'static str| async move {
        s.read(query(cypher).param("account", account))
            .await
            .unwrap()
            .iter()
            .map(normalize)
            .collect::<BTreeSet<String>>()
    };
    let nodes = read(
        "MATCH (n {accountCode: $account}) WHERE n._type IS NOT NULL \
         RETURN n._key AS key, labels(n) AS labels, properties(n) AS props",
    )
    .await;
    let relationships = read(
        "MATCH (a)-[r {accountCode: $account}]->(b) \
         RETURN r._key AS key, type(r) AS type, a._key AS from, b._key AS to, properties(r) AS props",
    )
    .await;
    (nodes, relationships)
}

type Graph = (BTreeSet<String>, BTreeSet<String>);

/// Equal graphs, or the first differences.
fn assert_same(got: &Graph, expected: &Graph) {
    for (what, g, e) in [("node", &got.0, &expected.0), ("relationship", &got.1, &expected.1)] {
        let missing: Vec<&String> = e.difference(g).take(3).collect();
        let extra: Vec<&String> = g.difference(e).take(3).collect();
        assert_eq!(
            (g.len(), missing, extra),
            (e.len(), vec![], vec![]),
            "{what}s: (count, missing, unexpected)"
        );
    }
}

async fn count_nodes(s: &Sink, account: &str) -> u64 {
    match s
        .read(
            query("MATCH (n {accountCode: $account}) WHERE n._type IS NOT NULL RETURN count(n) AS n")
                .param("account", account),
        )
        .await
    {
        Ok(rows) => to_json(&rows[0]["n"]).as_u64().unwrap_or(0),
        Err(_) => 0,
    }
}

/// What one daemon saw: each run's status and JSON summary, and when it ended.
type Runs = Mutex<Vec<(SyncStatus, Json, Instant)>>;

/// Runs the daemon for `account` until its first successful sync; kills Neo4j as soon
/// as the first upserted nodes are visible and restarts it at once. Returns the runs,
/// the time of the kill, the node count seen then, and the restart's duration.
async fn kill_during_upsert(
    server: &Neo4jServer,
    config: &Config,
    account: &str,
    opts: &DaemonOptions,
) -> (Vec<(SyncStatus, Json, Instant)>, Instant, u64, Duration) {
    let watcher = Sink::connect(&server.cfg).await.unwrap();
    let stop = Stop::new();
    let runs: Runs = Mutex::new(Vec::new());
    let observe = |o: &SyncOutcome| {
        runs.lock().unwrap().push((o.status, o.to_json(), Instant::now()));
        if o.status == SyncStatus::Success {
            stop.trigger();
        }
    };
    let (steps, queries) = (all_steps(), embedded());
    let killer = async {
        loop {
            let seen = count_nodes(&watcher, account).await;
            if seen > 0 {
                let killed = Instant::now();
                // On a thread of its own: the daemon must live through the outage.
                let restart = tokio::task::spawn_blocking(|| {
                    Neo4jServer::kill();
                    Neo4jServer::restart()
                })
                .await
                .unwrap();
                return (killed, seen, restart);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let started = Instant::now();
    let (end, (killed, seen, restart)) = tokio::join!(
        tokio::time::timeout(
            Duration::from_secs(900),
            daemon::run(config, &steps, &queries, opts, &SilentProgress, &stop, &observe)
        ),
        killer
    );
    end.expect("the daemon recovered within 15 minutes");
    let runs = runs.into_inner().unwrap();
    for (status, summary, at) in &runs {
        eprintln!(
            "recovery: run ended {:.1} s after the kill ({:.1} s after the daemon started): {status:?} {}",
            (*at - killed).as_secs_f64(),
            (*at - started).as_secs_f64(),
            summary["error"]
        );
    }
    (runs, killed, seen, restart)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_neo4j_killed_during_the_daemons_upsert_is_recovered_from_without_a_manual_step() {
    let server = Neo4jServer::start_empty();
    let tenant = sim::generate(&GenerateSpec {
        users: 400,
        domains: 2,
        campaigns: 4,
        phishing: 2,
        seed: 5,
        ..GenerateSpec::default()
    });
    let (reference, ride, fail) = (unique_account("REF"), unique_account("RID"), unique_account("FAL"));

    // A clean sync of the tenant: what the recovered graphs must equal.
    let sim_ref = serve(&tenant, &reference).await;
    let clean = run_once(
        &config_for(&sim_ref, &server.cfg),
        &all_steps(),
        &embedded(),
        &SilentProgress,
        &Stop::new(),
    )
    .await;
    assert_eq!(clean.status, SyncStatus::Success, "{}", clean.human());
    eprintln!(
        "recovery: a clean sync of the tenant took {:.1} s",
        clean.duration_ms as f64 / 1000.0
    );
    let s = Sink::connect(&server.cfg).await.unwrap();
    let expected = graph_of(&s, &reference).await;
    let total_nodes = expected.0.len() as u64;
    assert!(total_nodes > 400, "{total_nodes} nodes");

    // 1. The outage is shorter than the retry window: the same run rides it out.
    let sim_ride = serve(&tenant, &ride).await;
    let mut config = config_for(&sim_ride, &server.cfg);
    config.neo4j.unavailable_retry = Duration::from_secs(240);
    let opts = DaemonOptions::every(Duration::from_secs(3600));
    let (runs, killed, seen, restart) = kill_during_upsert(&server, &config, &ride, &opts).await;
    let statuses: Vec<SyncStatus> = runs.iter().map(|r| r.0).collect();
    assert_eq!(statuses, vec![SyncStatus::Success]);
    assert!(
        seen < total_nodes,
        "killed during the upsert ({seen} of {total_nodes} nodes written)"
    );
    let ride_recovery = runs[0].2 - killed;
    eprintln!(
        "recovery: kill -9 after {seen} of {total_nodes} nodes; Neo4j restart took {:.1} s; the same daemon run \
         finished successfully {:.1} s after the kill ({:.1} s after Neo4j was back)",
        restart.as_secs_f64(),
        ride_recovery.as_secs_f64(),
        (ride_recovery - restart).as_secs_f64()
    );
    let s = Sink::connect(&server.cfg).await.unwrap();
    assert_same(&graph_of(&s, &ride).await, &expected);

    // 2. The outage outlasts the window: the run fails, its lease stays behind, and
    //    the daemon's next runs retry with backoff; the one after the restart takes
    //    the lease over (it is this process's) and succeeds.
    let sim_fail = serve(&tenant, &fail).await;
    let mut config = config_for(&sim_fail, &server.cfg);
    config.neo4j.unavailable_retry = Duration::from_secs(2);
    let opts = DaemonOptions {
        failure_backoff: Duration::from_secs(1),
        jitter: 0.0,
        ..DaemonOptions::every(Duration::from_secs(3600))
    };
    let (runs, killed, seen, restart) = kill_during_upsert(&server, &config, &fail, &opts).await;
    assert!(
        seen < total_nodes,
        "killed during the upsert ({seen} of {total_nodes} nodes written)"
    );
    let (first_status, first, _) = &runs[0];
    assert_eq!(*first_status, SyncStatus::Neo4jFailed);
    assert_eq!(first["status"], "neo4j_failed");
    assert_eq!(first["collectionStatus"], "success");
    assert!(
        !first["neo4j"]["incompleteTypes"].as_array().unwrap().is_empty(),
        "{}",
        first["neo4j"]
    );
    let (last_status, _, succeeded) = runs.last().unwrap();
    assert_eq!(*last_status, SyncStatus::Success);
    let refused: Vec<&Json> = runs
        .iter()
        .map(|r| &r.1["error"])
        .filter(|e| {
            e.as_str()
                .is_some_and(|e| e.contains("is being written by another sync"))
        })
        .collect();
    assert_eq!(refused, Vec::<&Json>::new(), "no run waited for the lease");
    let fail_recovery = *succeeded - killed;
    eprintln!(
        "recovery: kill -9 after {seen} of {total_nodes} nodes with a 2 s retry window; Neo4j restart took {:.1} s; \
         {} daemon runs; the next successful run finished {:.1} s after the kill ({:.1} s after Neo4j was back)",
        restart.as_secs_f64(),
        runs.len(),
        fail_recovery.as_secs_f64(),
        (fail_recovery - restart).as_secs_f64()
    );
    let s = Sink::connect(&server.cfg).await.unwrap();
    assert_same(&graph_of(&s, &fail).await, &expected);
    let leases = s
        .read(query("MATCH (l:MimecastGraphLock) RETURN count(l) AS n"))
        .await
        .unwrap();
    assert_eq!(to_json(&leases[0]["n"]), json!(0));
}
