//! Shared test set-up: the Neo4j handle and per-test isolation.

use std::sync::OnceLock;

use mimecast_graph::config::Neo4jConfig;
use mimecast_graph::sink::Sink;

/// Where the test Neo4j is. Resolved once per test binary.
static NEO4J: OnceLock<Neo4jConfig> = OnceLock::new();

/// The Neo4j configuration for tests: NEO4J_TEST_URI / NEO4J_TEST_USER /
/// NEO4J_TEST_PASSWORD; otherwise a Neo4j 5 container when a Docker engine answers;
/// otherwise the test fails, saying how to start one. Never a skip.
pub fn neo4j_config() -> Neo4jConfig {
    NEO4J
        .get_or_init(|| {
            if let Ok(uri) = std::env::var("NEO4J_TEST_URI") {
                let user = std::env::var("NEO4J_TEST_USER").unwrap_or_else(|_| "neo4j".into());
                let password = std::env::var("NEO4J_TEST_PASSWORD").unwrap_or_default();
                let mut cfg = Neo4jConfig::new(&uri, &user, &password);
                cfg.batch_size = 500;
                return cfg;
            }
            match docker::start_neo4j() {
                Ok(cfg) => cfg,
                Err(why) => panic!(
                    "integration tests need a Neo4j 5 server and none is configured ({why}).\n\
                     Run `scripts/test` (it starts one), or start one with `scripts/neo4j start` and \
                     export the NEO4J_TEST_URI, NEO4J_TEST_USER and NEO4J_TEST_PASSWORD lines it prints."
                ),
            }
        })
        .clone()
}

/// A connected sink for one test (each test has its own runtime, so its own pool).
pub async fn sink() -> Sink {
    let cfg = neo4j_config();
    Sink::connect(&cfg)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test Neo4j at {}: {e}", cfg.uri))
}

/// Runs one statement straight on the test database, outside the sink (whose raw
/// writes are not public): tests tamper with the graph and plant leases this way.
pub async fn cypher(q: neo4rs::Query) {
    graph()
        .run(q)
        .await
        .unwrap_or_else(|e| panic!("test statement failed: {e}"));
}

/// A connection pool to the test database of its own, outside the sink.
pub fn graph() -> neo4rs::Graph {
    use secrecy::ExposeSecret;
    let cfg = neo4j_config();
    let password = cfg.password.value.as_ref().map_or("", |p| p.expose_secret());
    let config = neo4rs::ConfigBuilder::default()
        .uri(cfg.uri.as_str())
        .user(cfg.user.as_str())
        .password(password)
        .build()
        .unwrap();
    neo4rs::Graph::connect(config).unwrap()
}

/// A fresh account code, so tests sharing one server never see each other's data.
pub fn unique_account(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!("C{prefix}{}", &id[..10])
}

mod docker {
    use mimecast_graph::config::Neo4jConfig;
    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::SyncRunner;
    use testcontainers::{Container, GenericImage, ImageExt};

    static CONTAINER: std::sync::OnceLock<Container<GenericImage>> = std::sync::OnceLock::new();

    /// Starts `neo4j:5.26-community` when a Docker engine is reachable. The container
    /// lives as long as the test process.
    pub fn start_neo4j() -> Result<Neo4jConfig, String> {
        let socket = std::path::Path::new("/var/run/docker.sock");
        if std::env::var_os("DOCKER_HOST").is_none() && !socket.exists() {
            return Err("NEO4J_TEST_URI is unset and no Docker engine is available".into());
        }
        let password = "test-password-1";
        let container = GenericImage::new("neo4j", "5.26-community")
            .with_exposed_port(7687.tcp())
            .with_wait_for(WaitFor::message_on_stdout("Started."))
            .with_env_var("NEO4J_AUTH", format!("neo4j/{password}"))
            .start()
            .map_err(|e| format!("NEO4J_TEST_URI is unset and Docker could not start neo4j:5.26-community: {e}"))?;
        let port = container
            .get_host_port_ipv4(7687.tcp())
            .map_err(|e| format!("cannot read the container's Bolt port: {e}"))?;
        let _ = CONTAINER.set(container);
        let mut cfg = Neo4jConfig::new(&format!("bolt://127.0.0.1:{port}"), "neo4j", password);
        cfg.batch_size = 500;
        Ok(cfg)
    }
}

// ---- the simulator and configurations built on it ---------------------------------

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use mimecast_graph::config::{ComplianceConfig, Config, ConnectionConfig, SyncConfig, UnknownParticipants};
use mimecast_graph::sim::{self, SimOptions, SimServer, Tenant};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The hand-written Acme tenant (tests/fixtures/tenant-acme.json) under `account`.
pub fn acme_tenant(account: &str) -> Tenant {
    let mut t = Tenant::from_path(&fixture("tenant-acme.json")).expect("tenant-acme.json");
    t.account["accountCode"] = serde_json::Value::from(account);
    t
}

pub async fn start_sim(tenant: Tenant, options: SimOptions) -> SimServer {
    sim::start(tenant, options, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the simulator starts")
}

/// The compliance configuration of the Acme fixtures.
pub fn acme_compliance() -> ComplianceConfig {
    let cats = |c: &[&str]| c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    ComplianceConfig {
        campaign_categories: BTreeMap::from([
            ("Security Awareness Fundamentals".to_owned(), cats(&["general"])),
            ("eNoTrainingHIPAA0002".to_owned(), cats(&["hipaa"])),
            ("PCI DSS Essentials".to_owned(), cats(&["pci_dss"])),
            ("Secure Coding Basics".to_owned(), cats(&["secure_code"])),
        ]),
        roster: Some(fixture("roster-acme.csv")),
        group_requirements: BTreeMap::from([
            ("clinical".to_owned(), cats(&["general", "hipaa"])),
            ("engineering".to_owned(), cats(&["general", "secure_code"])),
            ("finance".to_owned(), cats(&["general", "pci_dss"])),
        ]),
        domain_aliases: BTreeMap::from([("acme.co.uk".to_owned(), "acme.com".to_owned())]),
        extra_completions: None,
    }
}

/// An OAuth2 connection to the simulator with the Acme credentials, short retry waits
/// and the Acme compliance configuration.
pub fn acme_connection(name: &str, sim: &SimServer) -> ConnectionConfig {
    let mut c = ConnectionConfig::oauth2(name, &sim.base_url(), "acme-client-id", "acme-client-secret-value");
    c.retry_backoff = Duration::from_millis(5);
    c.max_attempts = 3;
    c.compliance = acme_compliance();
    c
}

pub fn config_with(connections: Vec<ConnectionConfig>) -> Config {
    Config {
        source: None,
        connections,
        neo4j: neo4j_config(),
        sync: SyncConfig {
            unknown_participants: UnknownParticipants::Report,
            ..SyncConfig::default()
        },
        queries_dir: None,
    }
}
