//! The deployment examples in examples/ run as written: each test parses a file, takes
//! the command it contains with its environment, and runs it against simulators and
//! the test Neo4j. Only what a real cluster or host would supply is filled in: the
//! simulators' addresses instead of the Mimecast regions, the test credentials instead
//! of the Secret's placeholders, and the folder the configuration is mounted at.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

use crate::cli::{daemon_until_first_summary, spawn_sim, temp_dir, SimProcess};
use crate::helpers::{acme_tenant, neo4j_config, sink, unique_account};
use crate::sync::node_counts;

const GRAPH: &str = env!("CARGO_BIN_EXE_mimecast-graph");

fn example(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples").join(path)
}

/// Every document of a YAML file, as JSON values.
fn yaml_documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(example(path)).unwrap();
    yaml_serde::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// The Acme tenant under a fresh account code, served by its own simulator.
fn tenant_sim(dir: &Path, name: &str) -> (String, SimProcess) {
    let account = unique_account("EX");
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string(&acme_tenant(&account)).unwrap()).unwrap();
    let sim = spawn_sim(&["--tenant", &path.display().to_string()]);
    (account, sim)
}

/// The Acme tenant's graph without compliance configuration.
fn acme_nodes() -> Vec<(String, usize)> {
    [
        ("mimecast_account", 1),
        ("mimecast_awareness_campaign", 4),
        ("mimecast_domain", 2),
        ("mimecast_phishing_campaign", 1),
        ("mimecast_user", 12),
    ]
    .iter()
    .map(|(t, n)| ((*t).to_owned(), *n))
    .collect()
}

fn counts(account: &str) -> Vec<(String, usize)> {
    let account = account.to_owned();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move { node_counts(&sink().await, &account).await })
}

/// The environment Kubernetes gives a container: its `env` values, and for `envFrom`
/// the Secret's keys, with the test's Neo4j and simulator credentials for the values.
fn container_env(container: &Value, secret: &Value, mount: &Path) -> BTreeMap<String, String> {
    let neo4j = neo4j_config();
    let password = secrecy::ExposeSecret::expose_secret(neo4j.password.value.as_ref().unwrap()).to_owned();
    let mut env = BTreeMap::new();
    let secret_name = secret["metadata"]["name"].as_str().unwrap();
    for from in container["envFrom"].as_array().unwrap() {
        assert_eq!(
            from["secretRef"]["name"], secret_name,
            "envFrom names the example Secret"
        );
        for key in secret["stringData"].as_object().unwrap().keys() {
            let value = match key.as_str() {
                "NEO4J_URI" => neo4j.uri.clone(),
                "NEO4J_USER" => neo4j.user.clone(),
                "NEO4J_PASSWORD" => password.clone(),
                k if k.ends_with("_CLIENT_ID") => "acme-client-id".to_owned(),
                k if k.ends_with("_CLIENT_SECRET") => "acme-client-secret-value".to_owned(),
                other => panic!("unexpected Secret key {other}"),
            };
            env.insert(key.clone(), value);
        }
    }
    let mount_path = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    for var in container["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_owned();
        let mut value = var["value"].as_str().unwrap().to_owned();
        if let Some(file) = value.strip_prefix(mount_path) {
            value = format!("{}{file}", mount.display());
        }
        env.insert(name, value);
    }
    env
}

/// The ConfigMap's files written into `dir` (as the volume would mount them), each
/// connection's region replaced by its simulator.
fn mount_config(config_map: &Value, dir: &Path, sims: &[(&str, &SimProcess)]) -> PathBuf {
    let mount = dir.join("etc-mimecast-graph");
    std::fs::create_dir_all(&mount).unwrap();
    for (file, text) in config_map["data"].as_object().unwrap() {
        let mut text = text.as_str().unwrap().to_owned();
        for (region, sim) in sims {
            let line = format!("region = \"{region}\"");
            assert!(text.contains(&line), "{file} has {line}");
            text = text.replace(&line, &format!("base_url = \"{}\"\nretry_backoff_ms = 5", sim.url));
        }
        std::fs::write(mount.join(file), text).unwrap();
    }
    mount
}

/// PATH with the built binaries first, as the image would have them.
fn path_with_binaries() -> String {
    let bin = Path::new(GRAPH).parent().unwrap().display().to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// A container's `command` followed by its `args`.
fn container_command(container: &Value) -> Vec<String> {
    container["command"]
        .as_array()
        .unwrap()
        .iter()
        .chain(container["args"].as_array().unwrap())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn shared_config() -> (Value, Value) {
    let docs = yaml_documents("kubernetes/config.yaml");
    let config_map = of_kind(&docs, "ConfigMap")[0].clone();
    let secret = of_kind(&docs, "Secret")[0].clone();
    (config_map, secret)
}

#[test]
fn the_kubernetes_cronjob_syncs_each_shard_in_its_own_pod() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let (emea, emea_sim) = tenant_sim(dir, "emea");
    let (americas, americas_sim) = tenant_sim(dir, "americas");
    let (config_map, secret) = shared_config();
    let mount = mount_config(&config_map, dir, &[("uk", &emea_sim), ("us", &americas_sim)]);

    let docs = yaml_documents("kubernetes/cronjob.yaml");
    let cronjob = of_kind(&docs, "CronJob")[0];
    let job = &cronjob["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    let pod = &job["template"]["spec"];
    let container = &pod["containers"][0];
    let env = container_env(container, &secret, &mount);
    assert_eq!(
        env["SHARDS"],
        job["completions"].as_u64().unwrap().to_string(),
        "one pod per shard"
    );
    let command = container_command(container);
    assert_eq!(command[..2], ["/bin/sh".to_owned(), "-c".to_owned()]);

    // Pod 0 is shard 1/2, which holds "americas"; pod 1 is 2/2, "emea".
    let mut after = Vec::new();
    for index in 0..2 {
        let out = Command::new(&command[0])
            .args(&command[1..])
            .env_clear()
            .env("PATH", path_with_binaries())
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .envs(&env)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "pod {index}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        after.push((counts(&americas), counts(&emea)));
    }
    assert_eq!(after[0], (acme_nodes(), vec![]), "pod 0 synced americas only");
    assert_eq!(after[1], (acme_nodes(), acme_nodes()), "pod 1 synced emea");
    drop((emea_sim, americas_sim));
}

/// Runs a daemon command until its first "sync summary" log line, then stops it with
/// SIGTERM; returns the summary and the exit code.
fn run_daemon_once(command: &[String], env: &BTreeMap<String, String>) -> (Value, Option<i32>) {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .env_clear()
        .env("PATH", path_with_binaries())
        .envs(env);
    let (mut event, code) = daemon_until_first_summary(cmd);
    (event["summary"].take(), code)
}

#[test]
fn the_kubernetes_daemons_each_sync_their_shard_and_stop_on_sigterm() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let (emea, emea_sim) = tenant_sim(dir, "emea");
    let (americas, americas_sim) = tenant_sim(dir, "americas");
    let (config_map, secret) = shared_config();
    let mount = mount_config(&config_map, dir, &[("uk", &emea_sim), ("us", &americas_sim)]);

    let docs = yaml_documents("kubernetes/daemon.yaml");
    let deployments = of_kind(&docs, "Deployment");
    assert_eq!(deployments.len(), 2);
    let mut synced = Vec::new();
    for deployment in deployments {
        assert_eq!(deployment["spec"]["replicas"], 1);
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let env = container_env(container, &secret, &mount);
        let command = container_command(container);
        assert_eq!(command[0], "mimecast-graph");
        let (summary, code) = run_daemon_once(&command, &env);
        assert_eq!(code, Some(0), "{}", deployment["metadata"]["name"]);
        assert_eq!(summary["syncStatus"], "success", "{summary}");
        let tenants: Vec<(String, String)> = summary["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["connection"].as_str().unwrap().to_owned(),
                    t["account_code"]
                        .as_str()
                        .or(t["accountCode"].as_str())
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect();
        synced.push((deployment["metadata"]["name"].as_str().unwrap().to_owned(), tenants));
    }
    assert_eq!(
        synced,
        vec![
            (
                "mimecast-graph-shard-1".to_owned(),
                vec![("americas".to_owned(), americas.clone())]
            ),
            (
                "mimecast-graph-shard-2".to_owned(),
                vec![("emea".to_owned(), emea.clone())]
            ),
        ]
    );
    assert_eq!((counts(&americas), counts(&emea)), (acme_nodes(), acme_nodes()));
    drop((emea_sim, americas_sim));
}

/// `key=value` lines of one `[section]` of a systemd unit (or of an environment file,
/// section ""), in order.
fn unit_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
        } else if current == section {
            let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("not key=value: {line}"));
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn the_systemd_service_syncs_with_its_environment_file_and_the_timer_starts_it() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let (account, sim) = tenant_sim(dir, "main");
    let service = std::fs::read_to_string(example("systemd/mimecast-graph.service")).unwrap();
    let timer = std::fs::read_to_string(example("systemd/mimecast-graph.timer")).unwrap();

    let timer_section = unit_section(&timer, "Timer");
    assert_eq!(value(&timer_section, "Unit"), "mimecast-graph.service");
    assert_eq!(value(&timer_section, "OnCalendar"), "hourly");
    assert_eq!(value(&timer_section, "Persistent"), "true");
    assert_eq!(value(&unit_section(&timer, "Install"), "WantedBy"), "timers.target");

    let section = unit_section(&service, "Service");
    assert_eq!(value(&section, "Type"), "oneshot");
    // The files the unit names, installed from examples/systemd/ (the config with the
    // simulator in place of the region).
    let env_file = value(&section, "EnvironmentFile");
    let installed = Path::new(env_file).parent().unwrap().display().to_string();
    let env_text = std::fs::read_to_string(example("systemd/mimecast-graph.env")).unwrap();
    let neo4j = neo4j_config();
    let password = secrecy::ExposeSecret::expose_secret(neo4j.password.value.as_ref().unwrap()).to_owned();
    let env: BTreeMap<String, String> = unit_section(&env_text, "")
        .into_iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "MIMECAST_CLIENT_ID" => "acme-client-id".to_owned(),
                "MIMECAST_CLIENT_SECRET" => "acme-client-secret-value".to_owned(),
                "NEO4J_URI" => neo4j.uri.clone(),
                "NEO4J_USER" => neo4j.user.clone(),
                "NEO4J_PASSWORD" => password.clone(),
                _ => v,
            };
            (k, v)
        })
        .collect();
    assert_eq!(env.len(), 6, "{env:?}");
    let config = std::fs::read_to_string(example("systemd/config.toml"))
        .unwrap()
        .replace("region = \"us\"", &format!("base_url = \"{}\"", sim.url));
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, config).unwrap();

    let exec: Vec<String> = value(&section, "ExecStart")
        .split_whitespace()
        .map(|w| {
            if w == "/usr/local/bin/mimecast-graph" {
                GRAPH.to_owned()
            } else if w == format!("{installed}/config.toml") {
                config_path.display().to_string()
            } else {
                w.to_owned()
            }
        })
        .collect();
    assert_eq!(exec[0], GRAPH, "ExecStart runs the installed binary");
    let out = Command::new(&exec[0])
        .args(&exec[1..])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&env)
        .output()
        .unwrap();
    let success: Vec<i32> = value(&section, "SuccessExitStatus")
        .split_whitespace()
        .map(|c| c.parse().unwrap())
        .chain([0])
        .collect();
    let code = out.status.code().unwrap();
    assert!(
        success.contains(&code),
        "exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(code, 0);
    assert_eq!(counts(&account), acme_nodes());
    // JSON lines on stderr, as the journal stores them.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first: Value = serde_json::from_str(stderr.lines().next().unwrap()).unwrap();
    assert_eq!(first["level"], "INFO");
    drop(sim);
}
