//! The binaries as a user runs them: `mimecast-sim`, then `mimecast-graph validate`,
//! `collect`, `sync --json` and `queries run`, with their exit codes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use crate::helpers::{acme_tenant, fixture, neo4j_config};

const GRAPH: &str = env!("CARGO_BIN_EXE_mimecast-graph");
const SIM: &str = env!("CARGO_BIN_EXE_mimecast-sim");

/// A `mimecast-sim` process, killed on drop.
pub(crate) struct SimProcess {
    child: Child,
    pub url: String,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn spawn_sim(args: &[&str]) -> SimProcess {
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
        lines[7].ends_with(
            "ok           4 training campaigns (global ones only: the API does not list campaigns targeted at people or groups; record those in [compliance] extra_completions)"
        ),
        "{stdout}"
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

/// A new empty folder, removed with all it holds when the returned guard drops.
pub(crate) fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("mg-cli-").tempdir().unwrap()
}

pub const ACME_ENV: &[(&str, &str)] = &[
    ("ACME_ID", "acme-client-id"),
    ("ACME_SECRET", "acme-client-secret-value"),
];

#[test]
fn collect_exits_0_then_10_when_a_step_fails() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let account = crate::helpers::unique_account("CLI");
    let tenant = write_tenant(dir, &account);
    let sim = spawn_sim(&["--tenant", &tenant]);
    let config = config_file(dir, &sim.url);
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
    let config = config_file(dir, &failing.url);
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
}

#[test]
fn sync_json_then_queries_with_findings_exit_20() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let account = crate::helpers::unique_account("CLS");
    let tenant = write_tenant(dir, &account);
    let sim = spawn_sim(&["--tenant", &tenant]);
    let config = config_file(dir, &sim.url);
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
    // A value of the wrong type is a usage error, found before Neo4j is asked.
    let out = graph(
        &["queries", "run", "stale-sync", "--param", "max_age_hours=soon"],
        &[("NEO4J_URI", "bolt://127.0.0.1:1")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "error: --param max_age_hours: expected a whole number (its default is 26), got \"soon\"\n"
    );

    // An output folder that cannot be made names its cause once.
    let out = graph(
        &["--config", &config, "collect", "--out", "/proc/no-such-dir/out"],
        ACME_ENV,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).lines().last().unwrap_or_default(),
        "error: cannot create /proc/no-such-dir/out: No such file or directory (os error 2)"
    );
}

#[test]
fn help_ends_with_the_exit_codes_of_exit_rs() {
    let out = graph(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(
        help.trim_end().ends_with(mimecast_graph::exit::Exit::help().as_str()),
        "{help}"
    );
    assert!(help
        .contains("  6   the unknown-participant policy is `fail` and some were found; nothing was\n      written\n"));
}

#[test]
fn a_bad_config_exits_3_naming_every_field() {
    let tmp = temp_dir();
    let dir = tmp.path();
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
}

/// `mimecast-graph` with the given environment and no RUST_LOG, so `-v`/`-q` decide.
fn graph_without_rust_log(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(GRAPH)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("mimecast-graph runs")
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    for args in [&["queries", "list"][..], &["schema", "docs"], &["man"]] {
        let mut child = Command::new(GRAPH)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_definition() {
    for (shell, marker) in [
        ("bash", "complete -F _mimecast__graph"),
        ("zsh", "#compdef mimecast-graph"),
        ("fish", "complete -c mimecast-graph"),
    ] {
        let out = graph(&["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0));
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("fail-on-findings"),
            "{shell} completes queries run options"
        );
    }
    let out = graph(&["man"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let page = text(&out.stdout);
    assert!(page.contains(".TH mimecast-graph 1"), "{page}");
    assert!(page.contains("validate"), "{page}");
}

#[test]
fn verbosity_flags_set_the_log_level() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let account = crate::helpers::unique_account("CLV");
    let tenant = write_tenant(dir, &account);
    let sim = spawn_sim(&["--tenant", &tenant]);
    let config = config_file(dir, &sim.url);
    let out_dir = dir.join("out");
    let out_dir = out_dir.to_str().unwrap();
    let quiet = graph_without_rust_log(&["-q", "--config", &config, "collect", "--out", out_dir], ACME_ENV);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
    let normal = graph_without_rust_log(&["--config", &config, "collect", "--out", out_dir], ACME_ENV);
    let verbose = graph_without_rust_log(&["-v", "--config", &config, "collect", "--out", out_dir], ACME_ENV);
    let count = |o: &Output, level: &str| text(&o.stderr).lines().filter(|l| l.contains(level)).count();
    assert_eq!((count(&quiet, " INFO "), count(&quiet, " DEBUG ")), (0, 0));
    assert!(
        count(&normal, " INFO ") > 0 && count(&normal, " DEBUG ") == 0,
        "{}",
        text(&normal.stderr)
    );
    assert!(count(&verbose, " DEBUG ") > 0, "{}", text(&verbose.stderr));
}

#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    // `script` gives the command a terminal, where log lines are coloured unless
    // NO_COLOR is set. A collect from a port where nothing listens logs at once.
    let tmp = temp_dir();
    let dir = tmp.path();
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        "[[connection]]\nname = \"x\"\nbase_url = \"http://127.0.0.1:1\"\nmax_attempts = 1\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    let run = |no_color: Option<&str>| {
        let mut cmd = Command::new("script");
        cmd.args([
            "-qec",
            &format!(
                "{GRAPH} --config {} collect --out {}",
                path.display(),
                out_dir.display()
            ),
            "/dev/null",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MIMECAST_CLIENT_ID", "id")
        .env("MIMECAST_CLIENT_SECRET", "secret");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        text(&cmd.output().expect("script runs").stdout)
    };
    let coloured = run(None);
    let plain = run(Some("1"));
    assert!(coloured.contains("\u{1b}["), "{coloured:?}");
    assert!(coloured.contains("step finished"), "{coloured:?}");
    assert!(!plain.contains("\u{1b}["), "{plain:?}");
    assert!(plain.contains(" INFO step finished"), "{plain:?}");
}

#[test]
fn queries_run_all_leads_with_the_most_severe_and_writes_csv_files() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let account = crate::helpers::unique_account("CLQ");
    let tenant = write_tenant(dir, &account);
    let sim = spawn_sim(&["--tenant", &tenant]);
    let config = config_file(dir, &sim.url);
    let out = graph(&["--config", &config, "sync"], ACME_ENV);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let account_param = format!("account={account}");

    let out = graph(
        &["queries", "run", "--all", "--param", &account_param, "--limit", "0"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let order: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("== "))
        .map(|l| l.split(' ').next().unwrap_or_default())
        .collect();
    assert_eq!(
        order,
        vec![
            "terminated-with-account",
            "clicked-malicious-not-retrained",
            "malicious-attachment-recipients",
            "missing-required-training",
            "phished-not-retrained",
            "real-and-simulated-failures",
            "siem-detections-not-retrained",
            "stale-sync",
            "users-without-active-person",
            "active-without-account",
            "assigned-not-completed",
            "dormant-mailboxes",
            "high-risk-safe-score",
            "impersonation-targets",
            "url-warning-overrides",
            "watchlist",
            "unmapped-campaigns",
            "campaign-completion",
            "sync-history",
            "training-completed-elsewhere",
        ]
    );
    assert!(
        stdout.contains(&format!(
            "== terminated-with-account [critical]: Terminated people who still have a Mimecast user, with account = \"{account}\" (1 row)\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "Mimecast user, with account = \"{account}\" (1 row)\n1 finding of 1 terminated people (100.0%)\n"
        )),
        "{stdout}"
    );
    assert_eq!(text(&out.stderr), "");

    // The rules of one framework, as JSON evidence.
    let out = graph(
        &[
            "queries",
            "run",
            "--framework",
            "gdpr",
            "--param",
            &account_param,
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let summary: Vec<(String, u64, u64, u64)> = results
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["version"].as_u64().unwrap(),
                r["findings"].as_u64().unwrap(),
                r["denominator"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("terminated-with-account".to_owned(), 1, 1, 1),
            ("missing-required-training".to_owned(), 3, 6, 12),
            ("users-without-active-person".to_owned(), 2, 2, 7),
            ("assigned-not-completed".to_owned(), 3, 4, 6),
        ]
    );
    assert_eq!(results[1]["percent"], 50.0);
    assert_eq!(
        results[0]["frameworks"][5],
        serde_json::json!({"framework": "gdpr", "control": "Art. 32(1)(b)"})
    );
    let out = graph(&["queries", "run", "campaign-completion", "--framework", "gdpr"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "error: no selected query maps to a GDPR control\n");

    // An account the graph does not hold is named as such.
    let out = graph(&["queries", "run", "watchlist", "--param", "account=NOPE000"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).starts_with("note: account \"NOPE000\" is not in the graph (the graph has "),
        "{}",
        text(&out.stderr)
    );

    // Several queries as CSV: one file each, or a usage error without --out.
    let ids = ["terminated-with-account", "unmapped-campaigns"];
    let out = graph(&["queries", "run", ids[0], ids[1], "--format", "csv"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: several queries as CSV need --out DIR (one file per query: DIR/ID.csv)\n"
    );
    let csv_dir = dir.join("csv");
    let out = graph(
        &[
            "queries",
            "run",
            ids[0],
            ids[1],
            "--format",
            "csv",
            "--param",
            &account_param,
            "--out",
            csv_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{0}/terminated-with-account.csv (1 row)\n{0}/unmapped-campaigns.csv (1 row)\n",
            csv_dir.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(csv_dir.join("terminated-with-account.csv")).unwrap(),
        format!("account,person,personEmail,mimecastEmail,matchedBy\n{account},Frank Old,frank@acme.com,frank@acme.com,email\n")
    );
}

#[test]
fn the_daemon_logs_its_sync_summary_as_a_json_object() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let account = crate::helpers::unique_account("CLD");
    let tenant = write_tenant(dir, &account);
    let sim = spawn_sim(&["--tenant", &tenant]);
    let config = config_file(dir, &sim.url);
    let neo4j = neo4j_config();
    let password = secrecy::ExposeSecret::expose_secret(neo4j.password.value.as_ref().unwrap()).to_owned();
    let mut cmd = Command::new(GRAPH);
    cmd.args(["--log-format", "json", "--config", &config, "run", "--interval", "1h"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NEO4J_URI", &neo4j.uri)
        .env("NEO4J_USER", &neo4j.user)
        .env("NEO4J_PASSWORD", password)
        .envs(ACME_ENV.iter().copied());
    let (event, code) = daemon_until_first_summary(cmd);
    assert_eq!(event["level"], "INFO");
    assert!(event["summary"].is_object(), "{event}");
    assert_eq!(event["summary"]["syncStatus"], "success");
    assert_eq!(event["summary"]["neo4j"]["types"]["mimecast_user"]["created"], 12);
    assert_eq!(code, Some(0));
}

/// Runs a daemon (stdout dropped, stderr JSON lines) until its first "sync summary"
/// line, then stops it with SIGTERM; returns that log event and the exit code.
pub(crate) fn daemon_until_first_summary(mut cmd: Command) -> (serde_json::Value, Option<i32>) {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // Read stderr on a thread to the end, so the daemon can keep logging while it stops.
    let (lines, received) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut summary = None;
    while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(120)) {
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if event["message"] == "sync summary" {
            summary = Some(event);
            break;
        }
    }
    let stop = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    let status = child.wait().unwrap();
    reader.join().unwrap();
    (summary.expect("a sync summary line"), status.code())
}

#[test]
fn config_check_reports_every_problem_of_the_roster_at_once() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let roster = dir.join("people.csv");
    std::fs::write(
        &roster,
        "email,name,status,group\nann@acme.com,Ann,active,g\nbob,Bob,active,g\ncy@acme.com,Cy,retired,g\nann@acme.com,Ann,active,g\n",
    )
    .unwrap();
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        "[compliance]\nroster = \"people.csv\"\nextra_completions = \"done.csv\"\n[[connection]]\nname = \"p\"\nbase_url = \"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let done = dir.join("done.csv");
    std::fs::write(
        &done,
        "email,category,completed_on,source\nann@acme.com,general,2026-01-01,LMS\nann@acme.com,general,someday,LMS\n",
    )
    .unwrap();
    let out = graph(
        &["--config", path.to_str().unwrap(), "config", "check"],
        &[("MIMECAST_CLIENT_ID", "id"), ("MIMECAST_CLIENT_SECRET", "secret")],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with(&format!(
            "roster {}: 1 people, 3 bad line(s)\nextra completions {}: 1 completions, 1 bad line(s)\n",
            roster.display(),
            done.display()
        )),
        "{}",
        text(&out.stdout)
    );
    let r = roster.display();
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: 4 problem(s) in the files the configuration names:\n  \
             - roster {r}, line 3: \"bob\" is not an email address\n  \
             - roster {r}, line 4: unknown status \"retired\" for cy@acme.com; expected active or terminated\n  \
             - roster {r}, line 5: ann@acme.com is the same person as line 2 (both normalize to ann@acme.com)\n  \
             - extra completions {d}, line 3: completed_on \"someday\" is not a date (2026-03-01) or an ISO 8601 time\n",
            d = done.display()
        )
    );
}
