//! Neo4j over TLS: a server that requires TLS (instance `test-tls` of scripts/neo4j,
//! which `scripts/test` starts beside the plain one, with a CA made for it) is synced
//! over `bolt+s://` and `neo4j+s://` when that CA is trusted through `ca_file`, and
//! refused when it is not.

use std::path::PathBuf;

use mimecast_graph::config::{Config, Neo4jConfig};
use mimecast_graph::sink::Sink;
use mimecast_graph::sync::SyncStatus;

use crate::collect::ACME_ENTITIES;
use crate::sync::{acme, node_counts, pairs, sync};

/// The TLS test server: port, password and its CA, from `scripts/test`.
fn tls_server() -> (u16, String, PathBuf) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: the TLS tests need the TLS test server. Run `scripts/test` (it starts one), \
                 or `NEO4J_INSTANCE=test-tls NEO4J_PORT=7690 NEO4J_TLS=on scripts/neo4j start` and export the \
                 NEO4J_TEST_TLS_* lines it prints."
            )
        })
    };
    (
        var("NEO4J_TEST_TLS_PORT").parse().unwrap(),
        var("NEO4J_TEST_TLS_PASSWORD"),
        PathBuf::from(var("NEO4J_TEST_TLS_CA")),
    )
}

fn tls_config(uri: &str, ca: Option<PathBuf>) -> Neo4jConfig {
    let (_, password, _) = tls_server();
    let mut cfg = Neo4jConfig::new(uri, "neo4j", &password);
    cfg.ca_file = ca;
    cfg.connect_timeout = std::time::Duration::from_secs(10);
    cfg.unavailable_retry = std::time::Duration::from_secs(1);
    cfg
}

#[tokio::test]
async fn a_sync_over_bolt_s_and_neo4j_s_trusting_the_servers_ca_writes_the_graph() {
    let (port, _, ca) = tls_server();
    for (i, scheme) in ["bolt+s", "neo4j+s"].iter().enumerate() {
        let account = crate::helpers::unique_account(&format!("TLS{i}"));
        let (_sim, config) = acme(&account).await;
        let config = Config {
            neo4j: tls_config(&format!("{scheme}://localhost:{port}"), Some(ca.clone())),
            ..config
        };
        config.validate().unwrap_or_else(|e| panic!("{e:?}"));
        let outcome = sync(&config).await;
        assert_eq!(outcome.status, SyncStatus::Success, "{scheme}: {}", outcome.human());
        let s = Sink::connect(&config.neo4j).await.unwrap();
        assert_eq!(node_counts(&s, &account).await, pairs(ACME_ENTITIES), "{scheme}");
    }
}

/// A CA that signed nothing the server holds.
fn stranger_ca(dir: &std::path::Path) -> PathBuf {
    let ca = dir.join("stranger-ca.crt");
    let key = dir.join("stranger-ca.key");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=stranger",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&ca)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    ca
}

#[tokio::test]
async fn a_server_whose_certificate_is_not_trusted_is_refused() {
    let (port, _, _) = tls_server();
    let tmp = crate::cli::temp_dir();
    let dir = tmp.path();
    let stranger = stranger_ca(dir);
    let cases = [
        // The system roots do not know the local CA.
        (format!("bolt+s://localhost:{port}"), None),
        (format!("bolt+s://localhost:{port}"), Some(stranger.clone())),
        (format!("neo4j+s://localhost:{port}"), Some(stranger)),
    ];
    for (uri, ca) in cases {
        let cfg = tls_config(&uri, ca.clone());
        let err = match Sink::connect(&cfg).await {
            Ok(_) => panic!("{uri} with {ca:?} connected"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err,
            format!(
                "Neo4j at {uri} presents a TLS certificate this worker does not trust (an IO error occurred: \
                 invalid peer certificate: UnknownIssuer); set [neo4j] ca_file (or NEO4J_CA_FILE) to the PEM file \
                 of the CA that signed it"
            ),
            "{ca:?}"
        );
    }
    // An unreadable CA file is a configuration error, said at once.
    let missing = tls_config(&format!("bolt+s://localhost:{port}"), Some(dir.join("no-such-ca.crt")));
    let err = Sink::connect(&missing).await.err().map(|e| e.to_string());
    assert_eq!(
        err,
        Some(format!(
            "Neo4j configuration: cannot read neo4j.ca_file {}: No such file or directory (os error 2)",
            dir.join("no-such-ca.crt").display()
        ))
    );
    // Without TLS the server does not answer Bolt at all.
    let plain = tls_config(&format!("bolt://127.0.0.1:{port}"), None);
    assert!(Sink::connect(&plain).await.is_err());
}
