//! `mimecast-graph report`: the folder it writes (exact files, hashes, CSV rows), the
//! page as a real headless Chromium renders it (the figures equal the rule results,
//! no script error), its trends from recorded syncs, and its errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use mimecast_graph::queries::{cell, embedded, judged_line, run, QueryDef, QueryResult};
use mimecast_graph::sync::{SyncOutcome, SyncStatus};
use serde_json::{json, Value as Json};
use sha2::{Digest as _, Sha256};

use crate::cli::{graph, text};
use crate::helpers::{acme_connection, acme_tenant, config_with, sink, start_sim, unique_account};

/// Every saved query, most severe first (the report's order), as `rules/ID.csv`.
fn expected_files(defs: &[QueryDef]) -> Vec<String> {
    let mut files: Vec<String> = defs.iter().map(|d| format!("rules/{}.csv", d.id)).collect();
    files.push("index.html".into());
    files.push("manifest.json".into());
    files.sort();
    files
}

/// Files under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn sha256_file(path: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

/// The headless browser: $CHROMIUM, else `chromium` on PATH. Missing is a failure.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "the report test renders index.html in a real headless Chromium and none was found \
                 (no $CHROMIUM, no `chromium` on PATH); run `scripts/chromium` to install it \
                 (scripts/test runs it before cargo test)"
            )
        })
}

/// Runs Chromium headless on a file with console logging on stderr; returns stdout
/// and stderr.
fn browse(page: &Path, extra: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

/// What the browser's log says about scripts and the page's policy: console messages
/// (errors, uncaught exceptions, refused loads). Empty for a clean page.
fn console_problems(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught") || l.contains("Refused to"))
        .map(str::to_owned)
        .collect()
}

/// The rendered DOM, serialized.
fn dump_dom(page: &Path) -> String {
    let (dom, stderr) = browse(page, &["--dump-dom"]);
    assert_eq!(console_problems(&stderr), Vec::<String>::new(), "{stderr}");
    dom
}

/// The attributes of every start tag in `dom` that has attribute `marker`, in order.
fn tags_with(dom: &str, marker: &str) -> Vec<BTreeMap<String, String>> {
    let needle = format!(" {marker}=\"");
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find(&needle) {
        let start = rest[..i].rfind('<').unwrap();
        let end = i + rest[i..].find('>').unwrap();
        out.push(attributes(&rest[start..end]));
        rest = &rest[end..];
    }
    out
}

fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::new();
    let mut rest = tag.split_once(' ').map_or("", |(_, r)| r);
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim().to_owned();
        let value_end = eq + 2 + rest[eq + 2..].find('"').unwrap();
        let value = rest[eq + 2..value_end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        attrs.insert(name, value);
        rest = &rest[value_end + 1..];
    }
    attrs
}

fn pick(tag: &BTreeMap<String, String>, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| tag.get(*k).cloned().unwrap_or_default()).collect()
}

/// A JSON cell as the page writes it in a `data-` attribute.
fn attr(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every saved query run for the account, in the report's order.
async fn results(account: &str, defs: &[QueryDef]) -> Vec<QueryResult> {
    let s = sink().await;
    let params = BTreeMap::from([("account".to_owned(), json!(account))]);
    let mut out = Vec::new();
    for d in defs {
        out.push(run(&s, d, &params).await.unwrap());
    }
    out
}

fn report_order() -> Vec<QueryDef> {
    let mut defs: Vec<QueryDef> = embedded().into_iter().collect();
    defs.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    defs
}

/// The Acme tenant and roster synced under a new account code.
pub async fn synced_acme(prefix: &str) -> (String, SyncOutcome) {
    let account = unique_account(prefix);
    let sim = start_sim(acme_tenant(&account), mimecast_graph::sim::SimOptions::default()).await;
    let outcome = crate::sync::sync(&config_with(vec![acme_connection("acme", &sim)])).await;
    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    (account, outcome)
}

#[tokio::test]
async fn the_report_holds_the_rule_results_and_renders_them_in_a_browser() {
    // Arrange: the Acme tenant and roster, synced once.
    let (account, outcome) = synced_acme("RPT").await;
    let defs = report_order();
    let s = sink().await;
    let sync_id = outcome.sync_id.clone();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("evidence");

    // Act
    let out = graph(&["report", "--out", dir.to_str().unwrap(), "--account", &account], &[]);

    // Assert: the command, the files, the manifest.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let manifest_sha = sha256_file(&dir.join("manifest.json"));
    assert_eq!(
        text(&out.stdout),
        format!(
            "report: {} (22 files, 1 account(s))\nmanifest.json sha256 {manifest_sha}\n",
            dir.join("index.html").display()
        )
    );
    assert_eq!(files_under(&dir), expected_files(&defs));
    let manifest: Json = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<(String, String, u64)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["sha256"].as_str().unwrap().to_owned(),
                f["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut on_disk: Vec<(String, String, u64)> = files_under(&dir)
        .into_iter()
        .filter(|f| f != "manifest.json")
        .map(|f| {
            let p = dir.join(&f);
            let bytes = std::fs::metadata(&p).unwrap().len();
            (f, sha256_file(&p), bytes)
        })
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    on_disk.sort();
    assert_eq!(listed_sorted, on_disk);
    assert_eq!(listed[0].0, "index.html");
    assert_eq!(manifest["tool"], "mimecast-graph");
    assert_eq!(manifest["toolVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["framework"], Json::Null);
    let generated = manifest["generatedOn"].as_str().unwrap();
    assert!(mimecast_graph::time::is_normalized(generated), "{generated}");
    assert_eq!(manifest["accounts"].as_array().unwrap().len(), 1);
    let a = &manifest["accounts"][0];
    assert_eq!(a["accountCode"], json!(account));
    assert_eq!(a["name"], "Acme Health");
    assert_eq!(a["latestSyncId"], json!(sync_id));
    assert_eq!(a["lastSyncStatus"], "success");
    assert_eq!(a["lastSyncOn"], json!(outcome.started_on));
    assert_eq!(a["lastSuccessfulSyncOn"], json!(outcome.started_on));
    assert_eq!(a["recordedSyncRuns"], 1);

    // Each rule's counts and CSV rows equal the query run here.
    let expected = results(&account, &defs).await;
    let manifest_rules: Vec<Json> = manifest["rules"].as_array().unwrap().clone();
    assert_eq!(manifest_rules.len(), defs.len());
    for ((d, r), m) in defs.iter().zip(&expected).zip(&manifest_rules) {
        let j = r.judged.as_ref();
        assert_eq!(
            (&m["id"], &m["version"], &m["severity"], &m["file"], &m["rows"]),
            (
                &json!(d.id),
                &json!(d.version),
                &json!(d.severity),
                &json!(format!("rules/{}.csv", d.id)),
                &json!(r.rows.len())
            ),
            "{}",
            d.id
        );
        assert_eq!(m["findings"], json!(j.map(|j| j.findings)), "{}", d.id);
        assert_eq!(m["denominator"], json!(j.map(|j| j.denominator)), "{}", d.id);
        assert_eq!(m["frameworks"], json!(d.frameworks), "{}", d.id);
        let mut csv = csv::Reader::from_path(dir.join(format!("rules/{}.csv", d.id))).unwrap();
        assert_eq!(
            csv.headers().unwrap().iter().collect::<Vec<_>>(),
            r.columns.iter().map(String::as_str).collect::<Vec<_>>()
        );
        let csv_rows: Vec<Vec<String>> = csv
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
            .collect();
        let query_rows: Vec<Vec<String>> = r.rows.iter().map(|row| row.iter().map(cell).collect()).collect();
        assert_eq!(csv_rows, query_rows, "{}", d.id);
    }
    // The Acme figures the page must show (tests/it/queries.rs asserts the same).
    let judged: BTreeMap<&str, (usize, u64)> = defs
        .iter()
        .zip(&expected)
        .filter_map(|(d, r)| r.judged.as_ref().map(|j| (d.id.as_str(), (j.findings, j.denominator))))
        .collect();
    assert_eq!(judged["missing-required-training"], (6, 12));
    assert_eq!(judged["stale-sync"], (0, 1));

    // The page in a real browser: no network (the policy refuses it), no script error.
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(!html.contains("://"), "the page names no URL");
    let dom = dump_dom(&dir.join("index.html"));
    let root = &tags_with(&dom, "data-script")[0];
    assert_eq!(
        pick(root, &["data-script", "data-rules-seen"]),
        vec!["ran".to_owned(), defs.len().to_string()]
    );
    // Every rule: findings of denominator, percent, severity, version, its line of text.
    let shown: Vec<Vec<String>> = tags_with(&dom, "data-rule")
        .iter()
        .map(|t| {
            pick(
                t,
                &[
                    "data-rule",
                    "data-version",
                    "data-severity",
                    "data-findings",
                    "data-denominator",
                    "data-percent",
                    "data-rows",
                ],
            )
        })
        .collect();
    let want: Vec<Vec<String>> = defs
        .iter()
        .zip(&expected)
        .map(|(d, r)| {
            let j = r.judged.as_ref();
            vec![
                d.id.clone(),
                d.version.to_string(),
                d.severity.to_string(),
                j.map_or_else(String::new, |j| j.findings.to_string()),
                j.map_or_else(String::new, |j| j.denominator.to_string()),
                j.and_then(|j| j.percent())
                    .map_or_else(String::new, |p| format!("{p:.1}")),
                r.rows.len().to_string(),
            ]
        })
        .collect();
    assert_eq!(shown, want);
    for (d, r) in defs.iter().zip(&expected) {
        if let Some(j) = &r.judged {
            let line = format!("<p class=\"judged\">{}</p>", judged_line(j));
            assert!(dom.contains(&line), "{}: {line} not shown", d.id);
            let remediation = format!("Remediation: {}", d.rule.as_ref().unwrap().remediation);
            assert!(dom.contains(&remediation), "{}: remediation not shown", d.id);
        }
    }
    // Campaigns: every row of campaign-completion.
    let campaigns = &expected[defs.iter().position(|d| d.id == "campaign-completion").unwrap()];
    let campaign_tags: Vec<Vec<String>> = tags_with(&dom, "data-campaign")
        .iter()
        .map(|t| {
            pick(
                t,
                &[
                    "data-campaign",
                    "data-assigned",
                    "data-completed",
                    "data-passed",
                    "data-completion-rate",
                    "data-pass-rate",
                ],
            )
        })
        .collect();
    let campaign_rows: Vec<Vec<String>> = campaigns
        .rows
        .iter()
        .map(|row| {
            [
                "campaign",
                "assigned",
                "completed",
                "passed",
                "completionRate",
                "passRate",
            ]
            .iter()
            .map(|c| attr(campaigns.value(row, c)))
            .collect()
        })
        .collect();
    assert_eq!(campaign_tags, campaign_rows);
    assert_eq!(
        campaign_tags[0],
        ["Security Awareness Fundamentals", "5", "4", "3", "80.0", "75.0"]
    );
    assert_eq!(dom.matches("class=\"bar\" data-series=\"completion\"").count(), 4);
    // Coverage per group and category; its totals are missing-required-training's.
    let coverage: Vec<Vec<String>> = tags_with(&dom, "data-category")
        .iter()
        .map(|t| pick(t, &["data-group", "data-category", "data-required", "data-covered"]))
        .collect();
    let row = |g: &str, c: &str, r: u64, v: u64| vec![g.to_owned(), c.to_owned(), r.to_string(), v.to_string()];
    assert_eq!(
        coverage,
        vec![
            row("clinical", "general", 3, 1),
            row("clinical", "hipaa", 3, 2),
            row("engineering", "general", 2, 2),
            row("engineering", "secure_code", 2, 0),
            row("finance", "general", 1, 1),
            row("finance", "pci_dss", 1, 0),
        ]
    );
    let (required, covered) = coverage.iter().fold((0, 0), |(r, c), row| {
        (r + row[2].parse::<u64>().unwrap(), c + row[3].parse::<u64>().unwrap())
    });
    assert_eq!((required - covered, required), (6, 12));
    // Phishing, as the fixture's campaign counts it.
    let phishing: Vec<Vec<String>> = tags_with(&dom, "data-phishing")
        .iter()
        .map(|t| {
            pick(
                t,
                &[
                    "data-phishing",
                    "data-sent",
                    "data-opened",
                    "data-clicked",
                    "data-submitted",
                    "data-reported",
                ],
            )
        })
        .collect();
    assert_eq!(phishing, vec![["Q1 Password Reset", "5", "4", "2", "1", "1"]]);
    // Sync freshness and the absent history.
    let sync = &tags_with(&dom, "data-sync-id")[0];
    assert_eq!(
        pick(
            sync,
            &[
                "data-last-sync-status",
                "data-last-sync-on",
                "data-last-successful-sync-on",
                "data-sync-id"
            ]
        ),
        vec![
            "success".to_owned(),
            outcome.started_on.clone(),
            outcome.started_on.clone(),
            sync_id.clone()
        ]
    );
    // The sync itself is the one recorded run.
    assert_eq!(pick(&tags_with(&dom, "data-runs")[0], &["data-runs"]), vec!["1"]);
    assert!(!dom.contains("No sync history recorded yet"));
    assert!(!dom.contains("no-completion-history"));

    // Arrange: three more recorded syncs with their findings and campaign completion,
    // through the sync history.
    let history = [
        (
            "run-0501",
            "2024-05-01T09:00:00Z",
            r#"{"watchlist": 4, "missing-required-training": 9}"#,
            r#"[{"campaign": "Security Awareness Fundamentals", "assigned": 5, "completed": 2, "passed": 1}]"#,
        ),
        ("run-0502", "2024-05-02T09:00:00Z", r#"{"watchlist": 3}"#, "[]"),
        (
            "run-0503",
            "2024-05-03T09:00:00Z",
            r#"{"watchlist": 2, "missing-required-training": 6}"#,
            r#"[{"campaign": "Security Awareness Fundamentals", "assigned": 5, "completed": 5, "passed": 4},
                {"campaign": "PCI DSS Essentials 2025", "id": "eNoTrainingPCI000003", "assigned": 2, "completed": 1, "passed": 1},
                {"campaign": "Phishing Follow-up", "assigned": 3, "completed": 1, "passed": 1}]"#,
        ),
    ];
    for (id, started, findings, completion) in history {
        let run = mimecast_graph::sink::SyncRun {
            account: account.clone(),
            sync_id: id.to_owned(),
            started_on: started.to_owned(),
            ended_on: started.to_owned(),
            status: "success".to_owned(),
            findings: serde_json::from_str(findings).unwrap(),
            completion: serde_json::from_str(completion).unwrap(),
            ..Default::default()
        };
        s.record_run(&run, 100).await.unwrap();
    }

    // Act: the report again, into the same folder (the earlier report is replaced).
    let out = graph(&["report", "--out", dir.to_str().unwrap(), "--account", &account], &[]);

    // Assert: the trends, one line per rule; the newest run names the latest sync.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(files_under(&dir), expected_files(&defs));
    let manifest: Json = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["accounts"][0]["latestSyncId"], "run-0503");
    assert_eq!(manifest["accounts"][0]["recordedSyncRuns"], 4);
    let dom = dump_dom(&dir.join("index.html"));
    assert_eq!(pick(&tags_with(&dom, "data-runs")[0], &["data-runs"]), vec!["4"]);
    assert!(!dom.contains("No sync history recorded yet"));
    let trends: BTreeMap<String, String> = tags_with(&dom, "data-trend")
        .iter()
        .map(|t| (t["data-trend"].clone(), t["data-points"].clone()))
        .collect();
    let rules: Vec<&QueryDef> = defs.iter().filter(|d| d.rule.is_some()).collect();
    assert_eq!(trends.len(), rules.len());
    // The real sync first (Acme: 2 on the watchlist, 6 requirements missing, fresh).
    assert_eq!(trends["watchlist"], "2,4,3,2");
    assert_eq!(trends["missing-required-training"], "6,9,,6");
    assert_eq!(trends["stale-sync"], "0,,,");
    // Completion per campaign: the real sync's four campaigns (Acme: 4 of 5, 1 of 1,
    // 2 of 3, 0 of 2), then the recorded ones; in the order they first appear. Runs
    // recorded without campaign ids match by name; PCI DSS Essentials, renamed in the
    // last run, keeps its line (by id) under its latest name.
    let completion: Vec<Vec<String>> = tags_with(&dom, "data-completion-trend")
        .iter()
        .map(|t| pick(t, &["data-completion-trend", "data-points"]))
        .collect();
    let trend = |name: &str, points: &str| vec![name.to_owned(), points.to_owned()];
    assert_eq!(
        completion,
        vec![
            trend("Security Awareness Fundamentals", "80.0,40.0,,100.0"),
            trend("Lunch and Learn", "100.0,,,"),
            trend("HIPAA 101", "66.7,,,"),
            trend("PCI DSS Essentials 2025", "0.0,,,50.0"),
            trend("Phishing Follow-up", ",,,33.3"),
        ]
    );
    assert_eq!(dom.matches("class=\"point\"").count(), rules.len() + 5 + 8);

    // The screenshot: a PNG of the window's size.
    let shot_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let shot = shot_dir.join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let (_, stderr) = browse(
        &dir.join("index.html"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,2600",
            "--hide-scrollbars",
        ],
    );
    assert_eq!(console_problems(&stderr), Vec::<String>::new(), "{stderr}");
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1100, 2600));
    if std::env::var_os("UPDATE_REPORT_SCREENSHOT").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/report-screenshot.png");
        std::fs::copy(&shot, docs).unwrap();
    }
}

/// The log check above must see a script error when there is one.
#[test]
fn a_page_with_a_script_error_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><script>document.body.dataset.x = noSuchFunction();</script></body></html>",
    )
    .unwrap();
    let (_, stderr) = browse(&page, &["--dump-dom"]);
    let problems = console_problems(&stderr);
    assert_eq!(problems.len(), 1, "{stderr}");
    assert!(
        problems[0].contains("Uncaught ReferenceError: noSuchFunction is not defined"),
        "{}",
        problems[0]
    );
}

#[tokio::test]
async fn report_errors_say_what_to_fix_with_their_exit_codes() {
    let (account, _) = synced_acme("RPE").await;
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("r");
    let out_arg = out_dir.to_str().unwrap();

    let unknown = graph(&["report", "--out", out_arg, "--account", "CNOSUCH"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    let err = text(&unknown.stderr);
    assert!(
        err.starts_with("error: account \"CNOSUCH\" is not in the graph (the graph has "),
        "{err}"
    );
    assert!(!out_dir.exists(), "nothing is written for an unknown account");

    let framework = graph(&["report", "--out", out_arg, "--framework", "sox"], &[]);
    assert_eq!(framework.status.code(), Some(2));
    assert!(
        text(&framework.stderr).contains("invalid value 'sox' for '--framework <FRAMEWORK>'"),
        "{}",
        text(&framework.stderr)
    );

    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let blocked = file.join("report");
    let unwritable = graph(
        &["report", "--out", blocked.to_str().unwrap(), "--account", &account],
        &[],
    );
    assert_eq!(unwritable.status.code(), Some(1));
    assert_eq!(
        text(&unwritable.stderr),
        format!(
            "error: cannot write {}: Not a directory (os error 20)\n",
            blocked.join("rules").display()
        )
    );

    let busy = tmp.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let refused = graph(&["report", "--out", busy.to_str().unwrap(), "--account", &account], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        text(&refused.stderr),
        format!(
            "error: {} is not empty and holds no earlier report (no manifest.json); choose an empty or new folder\n",
            busy.display()
        )
    );

    // A framework selects its queries only: GDPR maps four.
    let gdpr = graph(
        &["report", "--out", out_arg, "--account", &account, "--framework", "gdpr"],
        &[],
    );
    assert_eq!(gdpr.status.code(), Some(0), "{}", text(&gdpr.stderr));
    assert_eq!(
        files_under(&out_dir),
        vec![
            "index.html",
            "manifest.json",
            "rules/assigned-not-completed.csv",
            "rules/missing-required-training.csv",
            "rules/terminated-with-account.csv",
            "rules/users-without-active-person.csv",
        ]
    );
    let manifest: Json = serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["framework"], "gdpr");

    // Without --account: every account in the graph (other tests' too), one CSV per
    // query holding each account's rows, counted per account in the manifest.
    let every = tmp.path().join("every");
    let all = graph(&["report", "--out", every.to_str().unwrap()], &[]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all.stderr));
    let manifest: Json = serde_json::from_slice(&std::fs::read(every.join("manifest.json")).unwrap()).unwrap();
    let codes: Vec<&str> = manifest["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["accountCode"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&account.as_str()), "{codes:?}");
    assert!(codes.windows(2).all(|w| w[0] < w[1]), "{codes:?}");
    for rule in manifest["rules"].as_array().unwrap() {
        let by_account = rule["byAccount"].as_object().unwrap();
        assert_eq!(by_account.keys().map(String::as_str).collect::<Vec<_>>(), codes);
        let rows: u64 = by_account.values().map(|a| a["rows"].as_u64().unwrap()).sum();
        let csv_rows = csv::Reader::from_path(every.join(rule["file"].as_str().unwrap()))
            .unwrap()
            .records()
            .count() as u64;
        assert_eq!(
            (rule["rows"].as_u64().unwrap(), csv_rows),
            (rows, rows),
            "{}",
            rule["id"]
        );
        let ours = &by_account[&account];
        if rule["id"] == "missing-required-training" {
            assert_eq!((&ours["findings"], &ours["denominator"]), (&json!(6), &json!(12)));
        }
    }
}
