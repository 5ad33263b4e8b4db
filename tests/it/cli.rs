//! The binaries as a user runs them: `mimecast-sim`, then `mimecast-graph validate`,
//! `collect`, `sync --json` and `queries run`, with their exit codes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use crate::helpers::{acme_tenant, fixture, neo4j_config};

const GRAPH: &str = env!("CARGO_BIN_EXE_mimecast-graph");
const SIM: &str = env!("CARGO_BIN_EXE_mimecast-sim");

/// A `mimecast-sim` process, killed on drop.
struct SimProcess {
    child: Child,
    url: String,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_sim(args: &[&str]) -> SimProcess {
    let mut child = Command::new(SIM)
        .args(args)
        .args(["--idle-exit-secs", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mimecast-sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    SimProcess { child, url }
}

/// `mimecast-graph` with only the given environment (plus PATH), Neo4j from the tests.
pub fn graph(args: &[&str], env: &[(&str, &str)]) -> Output {
    let neo4j = neo4j_config();
    let password = secrecy::ExposeSecret::expose_secret(neo4j.password.value.as_ref().unwrap()).to_owned();
    Command::new(GRAPH)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NEO4J_URI", &neo4j.uri)
        .env("NEO4J_USER", &neo4j.user)
        .env("NEO4J_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("mimecast-graph runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_against_a_generated_tenant_prints_a_clean_table() {
    let sim = spawn_sim(&["--generate", "users=1000"]);
    let out = graph(
        &["validate"],
        &[
            ("MIMECAST_BASE_URL", &sim.url),
            ("MIMECAST_CLIENT_ID", "demo-client-id"),
            ("MIMECAST_CLIENT_SECRET", "demo-client-secret"),
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().map(str::trim_end).collect();
    assert_eq!(lines[0], format!("connection default ({})", sim.url));
    let verdicts: Vec<(&str, &str)> = lines[1..8]
        .iter()
        .map(|l| {
            let cols: Vec<&str> = l.trim().splitn(2, "  ").collect();
            let rest = cols[1].trim_start();
            (cols[0].trim(), rest.split_whitespace().next().unwrap())
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("authentication", "ok"),
            ("account (get-account)", "ok"),
            ("awareness training package", "ok"),
            ("directory (get-internal-domain)", "ok"),
            ("awareness training (get-safe-score-details)", "ok"),
            ("phishing (phishing/campaign/get-campaign)", "ok"),
            ("training campaigns (campaign/get-campaigns)", "ok"),
        ]
    );
    assert!(
        lines.iter().any(|l| l.contains("RETURN 1") && l.contains(" ok ")),
        "{stdout}"
    );
    assert_eq!(lines.last(), Some(&"all checks passed"));
    assert!(!stdout.contains("demo-client-secret"));
}

#[test]
fn validate_with_a_wrong_secret_exits_4_and_says_what_to_fix() {
    let sim = spawn_sim(&["--generate", "users=10"]);
    let out = graph(
        &["validate"],
        &[
            ("MIMECAST_BASE_URL", &sim.url),
            ("MIMECAST_CLIENT_ID", "demo-client-id"),
            ("MIMECAST_CLIENT_SECRET", "not-the-secret"),
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(
        stdout.contains("authentication") && stdout.contains("FAILED"),
        "{stdout}"
    );
    assert!(stdout.contains("Check the client id and secret"), "{stdout}");
    assert!(!stdout.contains("not-the-secret"));
}

fn write_tenant(dir: &Path, account: &str) -> String {
    let path = dir.join("tenant.json");
    std::fs::write(&path, serde_json::to_string(&acme_tenant(account)).unwrap()).unwrap();
    path.display().to_string()
}

fn config_file(dir: &Path, url: &str) -> String {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[[connection]]
name = "acme"
base_url = "{url}"
client_id_env = "ACME_ID"
client_secret_env = "ACME_SECRET"
retry_backoff_ms = 5
max_attempts = 2
roster = "{roster}"
campaign_categories = {{ "Security Awareness Fundamentals" = ["general"], "HIPAA 101" = ["hipaa"], "PCI DSS Essentials" = ["pci_dss"] }}
group_requirements = {{ clinical = ["general", "hipaa"], engineering = ["general", "secure_code"], finance = ["general", "pci_dss"] }}
domain_aliases = {{ "acme.co.uk" = "acme.com" }}
"#,
            roster = fixture("roster-acme.csv").display()
        ),
    )
    .unwrap();
    path.display().to_string()
}

pub fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mg-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub const ACME_ENV: &[(&str, &str)] = &[
    ("ACME_ID", "acme-client-id"),
    ("ACME_SECRET", "acme-client-secret-value"),
];

#[test]
fn collect_exits_0_then_10_when_a_step_fails() {
    let dir = temp_dir();
    let account = crate::helpers::unique_account("CLI");
    let tenant = write_tenant(&dir, &account);
    let sim = spawn_sim(&["--tenant", &tenant]);
    let config = config_file(&dir, &sim.url);
    let out_dir = dir.join("out");
    let out = graph(
        &["--config", &config, "collect", "--out", out_dir.to_str().unwrap()],
        ACME_ENV,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.starts_with("collected 1 tenant(s) in "), "{stdout}");
    assert!(stdout.contains(&format!("  acme ({account}): Success\n")), "{stdout}");
    assert!(stdout.contains("(32 entities, 51 relationships)"), "{stdout}");
    assert!(out_dir.join("graph.json").exists() && out_dir.join("summary.json").exists());

    let failing = spawn_sim(&[
        "--tenant",
        &tenant,
        "--fail-path",
        "/api/awareness-training/phishing/campaign/get-campaign=500",
    ]);
    let config = config_file(&dir, &failing.url);
    let out = graph(
        &["--config", &config, "collect", "--out", out_dir.to_str().unwrap()],
        ACME_ENV,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(10), "{stdout}");
    assert!(stdout.contains("    fetch-phishing-campaigns Failed: "), "{stdout}");
    assert!(
        stdout.contains("    partial types: mimecast_account_has_phishing_campaign, mimecast_phishing_campaign, mimecast_user_assigned_phishing_campaign"),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sync_json_then_queries_with_findings_exit_20() {
    let dir = temp_dir();
    let account = crate::helpers::unique_account("CLS");
    let tenant = write_tenant(&dir, &account);
    let sim = spawn_sim(&["--tenant", &tenant]);
    let config = config_file(&dir, &sim.url);
    let out = graph(&["--config", &config, "sync", "--json"], ACME_ENV);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["syncStatus"], "success");
    assert_eq!(summary["exitCode"], 0);
    assert_eq!(summary["neo4j"]["types"]["mimecast_user"]["created"], 12);

    let out = graph(
        &[
            "queries",
            "run",
            "terminated-with-account",
            "--param",
            &format!("account={account}"),
            "--format",
            "csv",
            "--fail-on-findings",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(20), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("account,person,personEmail,mimecastEmail,matchedBy\n{account},Frank Old,frank@acme.com,frank@acme.com,email\n")
    );
    let out = graph(
        &[
            "queries",
            "run",
            "campaign-completion",
            "--param",
            &format!("account={account}"),
            "--fail-on-findings",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "informational queries report no findings");
    let out = graph(&["queries", "run", "watchlist", "--param", "nope=1"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: --param nope: no selected query declares a parameter of that name\n"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_config_exits_3_naming_every_field() {
    let dir = temp_dir();
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "[[connection]]\nname = \"prod\"\nregion = \"moon\"\npage_size = 0\n",
    )
    .unwrap();
    let out = graph(&["--config", path.to_str().unwrap(), "config", "check"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: invalid configuration in {}:\n  - connection[prod].region: unknown region \"moon\"; expected one of global, us, uk (or set base_url)\n  \
             - connection[prod].client_id_env: environment variable MIMECAST_CLIENT_ID is not set or empty\n  \
             - connection[prod].client_secret_env: environment variable MIMECAST_CLIENT_SECRET is not set or empty\n  \
             - connection[prod].page_size: must be 1 to 500 (got 0)\n",
            path.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}
