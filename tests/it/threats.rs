//! TTP logs end to end: the Acme tenant with the logs of tests/fixtures/threats-acme.json,
//! served by the simulator and synced into the real Neo4j. Exact findings, links and
//! indicators; the overlap re-read writes no duplicate; cursors resume where the
//! last written window ended; retention; a refused log leaves everything else as it
//! was and is reported; the saved threat queries' rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use mimecast_graph::config::Config;
use mimecast_graph::sim::{SimOptions, SimServer, Tenant};
use mimecast_graph::steps::StepStatus;
use mimecast_graph::sync::{SyncOutcome, SyncStatus};
use serde_json::{json, Value as Json};

use crate::collect::{ACME_ENTITIES, ACME_RELATIONSHIPS};
use crate::helpers::{acme_connection, acme_tenant, config_with, fixture, sink, start_sim};
use crate::sync::{code, node_counts, relationship_counts, rows, sync};

/// The instant the fixture's times are written against.
const FIXTURE_NOW: &str = "2026-12-02T00:00:00Z";

/// The start of the current UTC day: the fixture's times move by whole days so that
/// they end there (always in the past, always in a 7-day look-back).
fn today() -> DateTime<Utc> {
    let now = Utc::now().timestamp();
    DateTime::from_timestamp(now - now.rem_euclid(86_400), 0).unwrap()
}

fn shift() -> Duration {
    today() - mimecast_graph::time::parse(FIXTURE_NOW).unwrap()
}

/// A fixture time (`+0000` or `Z`), moved to the current day, in the stored form.
pub fn at(fixture_time: &str) -> String {
    mimecast_graph::time::iso(mimecast_graph::time::parse(fixture_time).unwrap() + shift())
}

fn mimecast_form(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// The Acme tenant under `account` with the fixture's TTP logs, their times moved to
/// the current day.
pub fn acme_threat_tenant(account: &str) -> Tenant {
    let mut t = acme_tenant(account);
    let text = std::fs::read_to_string(fixture("threats-acme.json")).unwrap();
    let logs: Json = serde_json::from_str(&text).unwrap();
    let moved = |section: &str, field: &str| -> Vec<Json> {
        let mut list = logs[section].as_array().unwrap().clone();
        for r in &mut list {
            let t = mimecast_graph::time::parse(r[field].as_str().unwrap()).unwrap() + shift();
            r[field] = json!(mimecast_form(t));
        }
        list
    };
    t.url_logs = moved("url_logs", "date");
    t.attachment_logs = moved("attachment_logs", "date");
    t.impersonation_logs = moved("impersonation_logs", "eventTime");
    t.validate().unwrap();
    t
}

async fn acme_threats(account: &str) -> (SimServer, Config) {
    let sim = start_sim(acme_threat_tenant(account), SimOptions::default()).await;
    let config = config_with(vec![acme_connection("acme", &sim)]);
    (sim, config)
}

/// The threat types of the fixture's 7-day window: 5 URL clicks (a repeat merged, one
/// too old), 4 attachments, 4 impersonations; 3 URLs, 2 files, 4 sender domains.
const THREAT_ENTITIES: &[(&str, usize)] = &[
    ("mimecast_attachment_threat", 4),
    ("mimecast_file", 2),
    ("mimecast_impersonation", 4),
    ("mimecast_sender_domain", 4),
    ("mimecast_url", 3),
    ("mimecast_url_click", 5),
];

const THREAT_RELATIONSHIPS: &[(&str, usize)] = &[
    ("mimecast_attachment_threat_carries_file", 4),
    ("mimecast_attachment_threat_sent_from_sender_domain", 4),
    ("mimecast_impersonation_sent_from_sender_domain", 4),
    ("mimecast_url_click_links_to_url", 5),
    ("mimecast_url_click_sent_from_sender_domain", 5),
    ("mimecast_user_clicked_url_click", 4),
    ("mimecast_user_received_attachment_threat", 3),
    ("mimecast_user_received_impersonation", 4),
];

fn merged(a: &[(&str, usize)], b: &[(&str, usize)], changes: &[(&str, usize)]) -> Vec<(String, usize)> {
    let mut m: BTreeMap<String, usize> = a.iter().chain(b).map(|(k, v)| ((*k).to_owned(), *v)).collect();
    for (k, v) in changes {
        if *v == 0 {
            m.remove(*k);
        } else {
            m.insert((*k).to_owned(), *v);
        }
    }
    m.into_iter().collect()
}

/// The account holds the Acme graph and the fixture's whole threat window.
async fn assert_whole_graph(s: &mimecast_graph::sink::Sink, account: &str) {
    assert_eq!(
        node_counts(s, account).await,
        merged(ACME_ENTITIES, THREAT_ENTITIES, &[])
    );
    assert_eq!(
        relationship_counts(s, account).await,
        merged(ACME_RELATIONSHIPS, THREAT_RELATIONSHIPS, &[])
    );
}

/// The stored cursors of an account: stream to position.
async fn cursors(account: &str) -> BTreeMap<String, String> {
    rows(
        &sink().await,
        "MATCH (c:MimecastSyncCursor {account: $account}) RETURN c.stream AS stream, c.position AS position",
        account,
    )
    .await
    .into_iter()
    .map(|r| {
        (
            r["stream"].as_str().unwrap().to_owned(),
            r["position"].as_str().unwrap().to_owned(),
        )
    })
    .collect()
}

fn started_on(o: &SyncOutcome) -> String {
    o.collection.as_ref().unwrap().started_on.clone()
}

/// The windows a sync read whole, by stream: (stream, from, to, records).
fn windows(o: &SyncOutcome) -> Vec<(String, String, String, usize)> {
    let mut w: Vec<_> = o.collection.as_ref().unwrap().tenants[0]
        .threat_windows
        .iter()
        .map(|w| (w.stream.clone(), w.from.clone(), w.to.clone(), w.records))
        .collect();
    w.sort();
    w
}

/// Every stream's cursor at `position`.
fn all_at(position: &str) -> BTreeMap<String, String> {
    ["ttp-attachment", "ttp-impersonation", "ttp-url"]
        .iter()
        .map(|s| ((*s).to_owned(), position.to_owned()))
        .collect()
}

async fn rows_with(s: &mimecast_graph::sink::Sink, cypher: &str, params: &[(&str, Json)]) -> Vec<Json> {
    let mut q = neo4rs::query(cypher);
    for (k, v) in params {
        q = q.param(k, mimecast_graph::sink::bolt::from_json(v));
    }
    s.read(q)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            Json::Object(
                r.iter()
                    .map(|(k, v)| (k.clone(), mimecast_graph::sink::bolt::to_json(v)))
                    .collect(),
            )
        })
        .collect()
}

fn minus(iso: &str, d: Duration) -> String {
    mimecast_graph::time::iso(mimecast_graph::time::parse(iso).unwrap() - d)
}

const RESET: &str = "https://login.acme-payroll.example.net/reset";
/// SHA-256 of "invoice" and "report": the fixture's two files (the invoice's written
/// in upper case, stored lowercased).
const INVOICE_SHA256: &str = "52d6e3de4fa0dcc29946695f93940c3e7f26f30e1e39f4b1a49ad98839112786";
const REPORT_SHA256: &str = "845e91831319e89c4d656bdb80c278ac09a7230d61e5dfd2e1b1fbb436ac8917";

#[tokio::test]
async fn threat_logs_become_findings_linked_to_users_and_shared_indicators() {
    let account = code("CTHREAT001");
    let (_sim, config) = acme_threats(account).await;
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    let s = sink().await;
    assert_whole_graph(&s, account).await;
    let c = outcome.collection.as_ref().unwrap();
    assert_eq!(
        c.integrity.findings[&mimecast_graph::graph::FindingKind::UnknownParticipant].samples,
        vec![
            "contractor@gmail.com (attachment)",
            "old.user@acme.com (SAFE score)",
            "x@partner.org (URL click)",
        ]
    );
    let url_step = c.tenants[0]
        .steps
        .iter()
        .find(|s| s.id == "fetch-ttp-url-logs")
        .unwrap();
    assert_eq!(
        url_step.notes,
        vec!["1 repeated URL click records in the window merged"]
    );
    // Every finding is also a Finding, with the OCSF attributes.
    let findings = rows(
        &s,
        "MATCH (f:Finding {accountCode: $account}) \
         RETURN [l IN ['Finding', 'MimecastAttachmentThreat', 'MimecastImpersonation', 'MimecastUrlClick'] WHERE l IN labels(f)] AS labels, \
         size(labels(f)) AS label_count, f.classUid AS class, \
         f.severityId AS severity, f.title AS title, f.time AS time, f.eventTime AS at, f.findingUid = f._key AS uid \
         ORDER BY f.eventTime, f._key",
        account,
    )
    .await;
    assert_eq!(findings.len(), 13);
    for f in &findings {
        assert_eq!(f["class"], 2004);
        assert_eq!(f["uid"], true);
        assert_eq!(f["label_count"], 2, "{f}");
        let ms = mimecast_graph::time::parse(f["at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        assert_eq!(f["time"], ms);
    }
    assert_eq!(
        findings[0],
        json!({"labels": ["Finding", "MimecastAttachmentThreat"], "label_count": 2, "class": 2004, "severity": 1,
               "title": "Attachment Protection: safe file report.pdf", "time": findings[0]["time"],
               "at": at("2026-11-26T08:00:00Z"), "uid": true})
    );
    // Who else got this link: one hop from the URL to its clicks, one more to users.
    let others = rows_with(
        &s,
        "MATCH (u:MimecastUrl {accountCode: $account, url: $url})<-[:LINKS_TO]-(c:MimecastUrlClick) \
         OPTIONAL MATCH (c)<-[:CLICKED]-(m:MimecastUser) \
         RETURN c.userEmailAddress AS clicker, m.email AS user, c.action AS action, c.severityId AS severity \
         ORDER BY c.eventTime",
        &[("account", json!(account)), ("url", json!(RESET))],
    )
    .await;
    assert_eq!(
        others,
        vec![
            json!({"clicker": "bob@acme.com", "user": "bob@acme.com", "action": "block", "severity": 3}),
            json!({"clicker": "carol@acme.com", "user": "carol@acme.com", "action": "warn", "severity": 4}),
            json!({"clicker": "x@partner.org", "user": null, "action": "block", "severity": 3}),
        ]
    );
    // The invoice file by SHA-256 went to two internal users and one outsider.
    let files = rows(
        &s,
        "MATCH (f:MimecastFile {accountCode: $account})<-[:CARRIES]-(a:MimecastAttachmentThreat) \
         OPTIONAL MATCH (a)<-[:RECEIVED]-(u:MimecastUser) \
         WITH f, a, u ORDER BY a.eventTime \
         RETURN f.sha256 AS sha256, f.fileName AS name, f.lastSeenOn AS lastSeen, \
                collect(a.recipientAddress) AS recipients, collect(u.email) AS users \
         ORDER BY name",
        account,
    )
    .await;
    assert_eq!(
        files,
        vec![
            json!({"sha256": INVOICE_SHA256, "name": "Invoice_4471.pdf.exe", "lastSeen": at("2026-11-29T12:00:00Z"),
                   "recipients": ["dave@acme.com", "bob@acme.com", "contractor@gmail.com"],
                   "users": ["dave@acme.com", "bob@acme.com"]}),
            json!({"sha256": REPORT_SHA256, "name": "report.pdf", "lastSeen": at("2026-11-26T08:00:00Z"),
                   "recipients": ["ann@acme.com"], "users": ["ann@acme.com"]}),
        ]
    );
    // Each stream read the 7 days before the sync started; its cursor stands there.
    let start = started_on(&outcome);
    let from = minus(&start, Duration::days(7));
    assert_eq!(
        windows(&outcome),
        vec![
            ("ttp-attachment".to_owned(), from.clone(), start.clone(), 4),
            ("ttp-impersonation".to_owned(), from.clone(), start.clone(), 4),
            ("ttp-url".to_owned(), from, start.clone(), 6),
        ]
    );
    assert_eq!(cursors(account).await, all_at(&start));
}

/// A click a few minutes before the first sync, and a late one that Mimecast logs
/// only after it, timed before its cursor: the second sync re-reads the overlap,
/// keeps the first unchanged and adds the late one.
#[tokio::test]
async fn the_overlap_re_read_adds_late_events_and_no_duplicate() {
    let account = code("COVERLAP01");
    let mut tenant = acme_threat_tenant(account);
    let recent = Utc::now() - Duration::minutes(20);
    let mut click = tenant.url_logs[0].clone();
    click["date"] = json!(mimecast_form(recent));
    click["messageId"] = json!("<recent@acme-payroll.example.net>");
    tenant.url_logs.push(click.clone());
    let sim = start_sim(tenant.clone(), SimOptions::default()).await;
    let config = config_with(vec![acme_connection("acme", &sim)]);
    let first = sync(&config).await;
    assert_eq!(first.status, SyncStatus::Success, "{}", first.human());
    let cursor = started_on(&first);

    let late_time = mimecast_graph::time::parse(&cursor).unwrap() - Duration::minutes(30);
    let mut late = click.clone();
    late["date"] = json!(mimecast_form(late_time));
    late["messageId"] = json!("<late@acme-payroll.example.net>");
    tenant.url_logs.push(late);
    sim.set_tenant(tenant);
    let second = sync(&config).await;
    assert_eq!(second.status, SyncStatus::Success, "{}", second.human());
    // The window starts an hour before the cursor; the two recent clicks are in it.
    let start = started_on(&second);
    let from = minus(&cursor, Duration::minutes(60));
    let url_window = windows(&second).into_iter().find(|w| w.0 == "ttp-url").unwrap();
    assert_eq!(url_window, ("ttp-url".to_owned(), from, start.clone(), 2));
    let w = &second.load.types["mimecast_url_click"];
    assert_eq!((w.created, w.updated, w.unchanged, w.deleted), (1, 0, 1, 0));
    let s = sink().await;
    assert_eq!(
        node_counts(&s, account).await,
        merged(ACME_ENTITIES, THREAT_ENTITIES, &[("mimecast_url_click", 7)])
    );
    let clicks = rows(
        &s,
        "MATCH (:MimecastUser {email: 'bob@acme.com'})-[:CLICKED]->(c:MimecastUrlClick {accountCode: $account}) \
         RETURN c.messageId AS id ORDER BY c.eventTime",
        account,
    )
    .await;
    assert_eq!(
        clicks,
        vec![
            json!({"id": "<u1@acme-payroll.example.net>"}),
            json!({"id": "<late@acme-payroll.example.net>"}),
            json!({"id": "<recent@acme-payroll.example.net>"}),
        ]
    );
    assert_eq!(cursors(account).await, all_at(&start));
}

/// A stream whose read failed keeps its cursor (none yet: the next sync looks back
/// the whole 7 days, so nothing is skipped); the streams that were written move on.
#[tokio::test]
async fn a_stream_resumes_from_the_last_window_written() {
    let account = code("CRESUME001");
    let (sim, config) = acme_threats(account).await;
    sim.set_fail_paths(vec![("/api/ttp/url/get-logs".into(), 503)]);
    let first = sync(&config).await;
    assert_eq!(first.status, SyncStatus::Partial, "{}", first.human());
    let t = &first.collection.as_ref().unwrap().tenants[0];
    let url = t.steps.iter().find(|s| s.id == "fetch-ttp-url-logs").unwrap();
    assert_eq!(url.status, StepStatus::Failed);
    let start1 = started_on(&first);
    let mut expected = all_at(&start1);
    expected.remove("ttp-url");
    assert_eq!(cursors(account).await, expected);
    let s = sink().await;
    assert_eq!(
        rows(
            &s,
            "MATCH (c:MimecastUrlClick {accountCode: $account}) RETURN count(c) AS n",
            account
        )
        .await,
        vec![json!({"n": 0})]
    );

    sim.set_fail_paths(Vec::new());
    let second = sync(&config).await;
    assert_eq!(second.status, SyncStatus::Success, "{}", second.human());
    let start2 = started_on(&second);
    let w = windows(&second);
    assert_eq!(
        w[2],
        (
            "ttp-url".to_owned(),
            minus(&start2, Duration::days(7)),
            start2.clone(),
            6
        )
    );
    assert_eq!(
        w[0],
        (
            "ttp-attachment".to_owned(),
            minus(&start1, Duration::minutes(60)),
            start2.clone(),
            0
        )
    );
    assert_eq!(
        node_counts(&s, account).await,
        merged(ACME_ENTITIES, THREAT_ENTITIES, &[])
    );
    assert_eq!(cursors(account).await, all_at(&start2));
}

/// Events older than `event_retention_days` go, with their links and the indicators
/// no newer event names; the rest stays.
#[tokio::test]
async fn retention_deletes_old_threat_events_and_their_indicators() {
    let account = code("CRETAIN001");
    let (_sim, mut config) = acme_threats(account).await;
    let first = sync(&config).await;
    assert_eq!(first.status, SyncStatus::Success, "{}", first.human());
    // Five days: the cut falls on the fixture's 27 November, a day with no event;
    // only the safe report.pdf of the 26th (and its file) is older.
    config.sync.event_retention_days = 5;
    let second = sync(&config).await;
    assert_eq!(second.status, SyncStatus::Success, "{}", second.human());
    let s = sink().await;
    assert_eq!(
        node_counts(&s, account).await,
        merged(
            ACME_ENTITIES,
            THREAT_ENTITIES,
            &[("mimecast_attachment_threat", 3), ("mimecast_file", 1)]
        )
    );
    assert_eq!(
        relationship_counts(&s, account).await,
        merged(
            ACME_RELATIONSHIPS,
            THREAT_RELATIONSHIPS,
            &[
                ("mimecast_attachment_threat_carries_file", 3),
                ("mimecast_attachment_threat_sent_from_sender_domain", 3),
                ("mimecast_user_received_attachment_threat", 2),
            ]
        )
    );
    assert_eq!(second.load.types["mimecast_attachment_threat"].deleted, 1);
    assert_eq!(second.load.types["mimecast_file"].deleted, 1);
    let left = rows(
        &s,
        "MATCH (f:MimecastFile {accountCode: $account}) RETURN f.fileName AS name",
        account,
    )
    .await;
    assert_eq!(left, vec![json!({"name": "Invoice_4471.pdf.exe"})]);
}

/// The role loses Monitoring | Attachment Protection | Read: that log is refused and
/// reported, its stored events and cursor stay, and everything else is synced.
#[tokio::test]
async fn a_refused_log_keeps_its_events_and_leaves_the_rest_untouched() {
    let account = code("CREFUSE001");
    let (sim, config) = acme_threats(account).await;
    let first = sync(&config).await;
    assert_eq!(first.status, SyncStatus::Success, "{}", first.human());
    let start1 = started_on(&first);

    let mut tenant = acme_threat_tenant(account);
    tenant.missing_permissions = vec!["Monitoring | Attachment Protection | Read".into()];
    sim.set_tenant(tenant);
    let second = sync(&config).await;
    assert_eq!(second.status, SyncStatus::Partial, "{}", second.human());
    let t = &second.collection.as_ref().unwrap().tenants[0];
    let step = t.steps.iter().find(|s| s.id == "fetch-ttp-attachment-logs").unwrap();
    assert_eq!(step.status, StepStatus::Unavailable);
    let error = step.error.as_deref().unwrap();
    assert!(
        error.contains("/api/ttp/attachment/get-logs") && error.contains("Monitoring | Attachment Protection | Read"),
        "{error}"
    );
    assert!(t.partial_types.contains("mimecast_attachment_threat"));
    assert!(t.partial_types.contains("mimecast_user_received_attachment_threat"));
    let human = second.human();
    assert!(human.contains("    fetch-ttp-attachment-logs Unavailable: "), "{human}");
    let s = sink().await;
    assert_whole_graph(&s, account).await;
    let start2 = started_on(&second);
    let mut expected = all_at(&start2);
    expected.insert("ttp-attachment".into(), start1);
    assert_eq!(cursors(account).await, expected);
}

/// The five threat queries on the fixture, with exact rows.
#[tokio::test]
async fn the_threat_queries_return_exact_rows() {
    let account = code("CTHRQRY001");
    let (_sim, config) = acme_threats(account).await;
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    let s = sink().await;
    let run = |id: &'static str| {
        let s = &s;
        async move {
            let def = mimecast_graph::queries::embedded()
                .into_iter()
                .find(|d| d.id == id)
                .unwrap();
            let params = BTreeMap::from([("account".to_owned(), json!(account))]);
            let r = mimecast_graph::queries::run(s, &def, &params).await.unwrap();
            assert_eq!(r.columns, def.columns, "{id}");
            let rows: Vec<Json> = r
                .rows
                .iter()
                .map(|row| Json::Object(r.columns.iter().cloned().zip(row.iter().cloned()).collect()))
                .collect();
            (rows, r.judged.as_ref().map(|j| (j.findings, j.denominator)))
        }
    };
    let (rows, judged) = run("clicked-malicious-not-retrained").await;
    assert_eq!(
        rows,
        vec![
            json!({"account": account, "email": "bob@acme.com", "url": RESET, "action": "block", "overridden": false, "clickedOn": at("2026-11-30T09:15:00Z")}),
            json!({"account": account, "email": "carol@acme.com", "url": RESET, "action": "warn", "overridden": true, "clickedOn": at("2026-11-30T09:20:00Z")}),
            json!({"account": account, "email": "gina@labs.acme.com", "url": "https://files.secure-docs.example.org/doc", "action": "warn", "overridden": false, "clickedOn": at("2026-12-01T16:45:00Z")}),
        ]
    );
    assert_eq!(judged, Some((3, 3)));
    let (rows, judged) = run("impersonation-targets").await;
    assert_eq!(
        rows,
        vec![
            json!({"account": account, "email": "ann@acme.com", "attempts": 2, "malicious": 2, "lastAttemptOn": at("2026-11-30T07:31:00Z"), "safeRisk": "A"}),
            json!({"account": account, "email": "carol@acme.com", "attempts": 1, "malicious": 1, "lastAttemptOn": at("2026-11-29T10:00:00Z"), "safeRisk": "D"}),
            json!({"account": account, "email": "frank@acme.com", "attempts": 1, "malicious": 0, "lastAttemptOn": at("2026-12-01T13:00:00Z"), "safeRisk": null}),
        ]
    );
    assert_eq!(judged, Some((3, 12)));
    let (rows, judged) = run("url-warning-overrides").await;
    assert_eq!(
        rows,
        vec![
            json!({"account": account, "email": "carol@acme.com", "url": RESET, "scanResult": "malicious", "category": "Phishing & Fraud", "userOverride": "Continue", "clickedOn": at("2026-11-30T09:20:00Z")})
        ]
    );
    assert_eq!(judged, Some((1, 2)));
    let (rows, judged) = run("malicious-attachment-recipients").await;
    assert_eq!(
        rows,
        vec![
            json!({"account": account, "email": "dave@acme.com", "fileName": "Invoice_4471.pdf.exe", "sha256": INVOICE_SHA256, "senderDomain": "acme-payroll.example.net", "receivedOn": at("2026-11-28T11:00:00Z"), "recipientsOfFile": 2}),
            json!({"account": account, "email": "bob@acme.com", "fileName": "Invoice_4471.pdf.exe", "sha256": INVOICE_SHA256, "senderDomain": "acme-payroll.example.net", "receivedOn": at("2026-11-29T11:05:00Z"), "recipientsOfFile": 2}),
        ]
    );
    assert_eq!(judged, Some((2, 3)));
    let (rows, judged) = run("real-and-simulated-failures").await;
    assert_eq!(
        rows,
        vec![
            json!({"account": account, "email": "bob@acme.com", "simulations": ["Q1 Password Reset (clicked)"], "realThreats": 2, "lastRealThreatOn": at("2026-11-30T09:15:00Z"), "safeRisk": "F"}),
            json!({"account": account, "email": "carol@acme.com", "simulations": ["Q1 Password Reset (submitted)"], "realThreats": 2, "lastRealThreatOn": at("2026-11-30T09:20:00Z"), "safeRisk": "D"}),
        ]
    );
    assert_eq!(judged, Some((2, 2)));
}

/// `collect --out DIR` writes one OCSF Detection Finding per event, each with the
/// attributes class 2004 requires.
#[tokio::test]
async fn collect_writes_one_ocsf_detection_finding_per_event() {
    let account = code("COCSF00001");
    let (_sim, config) = acme_threats(account).await;
    let c = mimecast_graph::collect::collect(
        &config,
        &mimecast_graph::collect::all_steps(),
        &mimecast_graph::steps::SilentProgress,
    )
    .await;
    let dir = tempfile::Builder::new().prefix("mg-ocsf-").tempdir().unwrap();
    c.write_files(dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join("findings.ocsf.jsonl")).unwrap();
    let events: Vec<Json> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 13);
    let mut uids = std::collections::BTreeSet::new();
    for e in &events {
        // Required by OCSF 1.3 Detection Finding.
        assert_eq!(e["class_uid"], 2004, "{e}");
        assert_eq!(e["category_uid"], 2);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["type_uid"], 200_401);
        assert!([1, 2, 3, 4].contains(&e["severity_id"].as_i64().unwrap()), "{e}");
        let time = e["time"].as_i64().unwrap();
        let at = mimecast_graph::time::parse(e["unmapped"]["eventTime"].as_str().unwrap()).unwrap();
        assert_eq!(time, at.timestamp_millis());
        assert!(!e["finding_info"]["title"].as_str().unwrap().is_empty());
        assert!(uids.insert(e["finding_info"]["uid"].as_str().unwrap().to_owned()));
        assert_eq!(e["metadata"]["version"], "1.3.0");
        assert_eq!(e["metadata"]["product"]["vendor_name"], "Mimecast");
        assert!(e["metadata"]["product"]["name"]
            .as_str()
            .unwrap()
            .starts_with("Mimecast "));
        assert_eq!(e["metadata"]["tenant_uid"], account);
    }
    let products: BTreeMap<String, usize> = events.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(e["metadata"]["product"]["name"].as_str().unwrap().to_owned())
            .or_default() += 1;
        m
    });
    assert_eq!(
        products,
        BTreeMap::from([
            ("Mimecast Attachment Protection".to_owned(), 4),
            ("Mimecast Impersonation Protection".to_owned(), 4),
            ("Mimecast URL Protection".to_owned(), 5),
        ])
    );
    // Carol's click past the warning, in full.
    let carol = events
        .iter()
        .find(|e| e["unmapped"]["userEmailAddress"] == "carol@acme.com")
        .unwrap();
    assert_eq!(carol["severity_id"], 4);
    assert_eq!(carol["severity"], "High");
    assert_eq!(carol["status_id"], 1);
    assert_eq!(
        carol["finding_info"]["title"],
        "URL Protection: malicious link, warn (user continued)"
    );
    assert_eq!(carol["finding_info"]["types"], json!(["URL Protection click"]));
    assert_eq!(carol["finding_info"]["uid"], carol["metadata"]["uid"]);
    assert_eq!(
        carol["observables"],
        json!([
            {"name": "userEmailAddress", "type_id": 5, "value": "carol@acme.com"},
            {"name": "fromUserEmailAddress", "type_id": 5, "value": "hr@acme-payroll.example.net"},
            {"name": "url", "type_id": 6, "value": RESET},
            {"name": "sendingIp", "type_id": 2, "value": "198.51.100.7"},
        ])
    );
}

/// A generated tenant's logs (`threats=N`): every record in the window becomes one
/// finding, linked when its address is a directory user; indicators are the distinct
/// URLs, hashes and sender domains of the records, read in pages of 7.
#[tokio::test]
async fn a_generated_tenants_logs_give_exact_findings_links_and_indicators() {
    let account = code("CTHRGEN001");
    let now = Utc::now().timestamp();
    let spec = mimecast_graph::sim::GenerateSpec {
        users: 80,
        threats: 60,
        until: Some(now - now.rem_euclid(3600)),
        seed: 21,
        ..mimecast_graph::sim::GenerateSpec::default()
    };
    let mut tenant = mimecast_graph::sim::generate(&spec);
    tenant.account["accountCode"] = json!(account);
    let users: std::collections::BTreeSet<String> = tenant
        .users
        .iter()
        .map(|u| u["emailAddress"].as_str().unwrap().to_lowercase())
        .collect();
    let sim = start_sim(tenant.clone(), SimOptions::default()).await;
    let mut conn = crate::cleanup::generated_connection(&sim);
    // Pages of 7: every log is read across page boundaries (9 pages of 60).
    conn.page_size = 7;
    let mut config = config_with(vec![conn]);
    // The generated logs span 14 days: read them all.
    config.sync.threat_lookback_days = 15;
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    for path in [
        "/api/ttp/url/get-logs",
        "/api/ttp/attachment/get-logs",
        "/api/ttp/impersonation/get-logs",
    ] {
        assert_eq!(sim.stats().calls_to(path), 9, "{path}");
    }

    let internal = |list: &[Json], field: &str| {
        list.iter()
            .filter(|r| users.contains(&r[field].as_str().unwrap().to_lowercase()))
            .count()
    };
    let distinct = |list: &[Json], field: &str, lower: bool| {
        list.iter()
            .filter_map(|r| r[field].as_str())
            .map(|v| if lower { v.to_lowercase() } else { v.to_owned() })
            .collect::<std::collections::BTreeSet<_>>()
    };
    let domain = |a: &str| a.rsplit_once('@').unwrap().1.to_lowercase();
    let senders: std::collections::BTreeSet<String> = tenant
        .url_logs
        .iter()
        .map(|r| domain(r["fromUserEmailAddress"].as_str().unwrap()))
        .chain(
            tenant
                .attachment_logs
                .iter()
                .map(|r| domain(r["senderAddress"].as_str().unwrap())),
        )
        .chain(
            tenant
                .impersonation_logs
                .iter()
                .map(|r| domain(r["senderAddress"].as_str().unwrap())),
        )
        .collect();
    let s = sink().await;
    let counts: BTreeMap<String, usize> = node_counts(&s, account).await.into_iter().collect();
    let rels: BTreeMap<String, usize> = relationship_counts(&s, account).await.into_iter().collect();
    let expected_nodes = [
        ("mimecast_url_click", 60),
        ("mimecast_attachment_threat", 60),
        ("mimecast_impersonation", 60),
        ("mimecast_url", distinct(&tenant.url_logs, "url", false).len()),
        (
            "mimecast_file",
            distinct(&tenant.attachment_logs, "fileHash", true).len(),
        ),
        ("mimecast_sender_domain", senders.len()),
    ];
    for (t, n) in expected_nodes {
        assert_eq!(counts.get(t).copied().unwrap_or(0), n, "{t}");
    }
    let clicked = internal(&tenant.url_logs, "userEmailAddress");
    let expected_rels = [
        ("mimecast_user_clicked_url_click", clicked),
        (
            "mimecast_user_received_attachment_threat",
            internal(&tenant.attachment_logs, "recipientAddress"),
        ),
        (
            "mimecast_user_received_impersonation",
            internal(&tenant.impersonation_logs, "recipientAddress"),
        ),
        ("mimecast_url_click_links_to_url", 60),
        ("mimecast_attachment_threat_carries_file", 60),
        ("mimecast_url_click_sent_from_sender_domain", 60),
        ("mimecast_attachment_threat_sent_from_sender_domain", 60),
        ("mimecast_impersonation_sent_from_sender_domain", 60),
    ];
    for (t, n) in expected_rels {
        assert_eq!(rels.get(t).copied().unwrap_or(0), n, "{t}");
    }
    // Some clicks come from outside addresses, and those are reported, not linked.
    assert!(clicked < 60 && clicked > 0, "{clicked}");
    // The clicks of outside addresses are stored, unlinked, with the address.
    let unlinked = rows(
        &s,
        "MATCH (c:MimecastUrlClick {accountCode: $account}) WHERE NOT ()-[:CLICKED]->(c) \
         RETURN count(c) AS n, count(DISTINCT c.userEmailAddress) > 0 AS named",
        account,
    )
    .await;
    assert_eq!(unlinked, vec![json!({"n": 60 - clicked, "named": true})]);
}

/// A sync stopped while it reads the logs writes nothing and moves no cursor; the
/// next one reads from the same cursor, so the late event is not lost.
#[tokio::test]
async fn a_sync_stopped_while_reading_resumes_from_the_same_cursor() {
    let account = code("CSTOPPED01");
    let mut tenant = acme_threat_tenant(account);
    let sim = start_sim(tenant.clone(), SimOptions::default()).await;
    let config = config_with(vec![acme_connection("acme", &sim)]);
    let first = sync(&config).await;
    assert_eq!(first.status, SyncStatus::Success, "{}", first.human());
    let cursor = started_on(&first);

    let mut late = tenant.url_logs[0].clone();
    late["date"] = json!(mimecast_form(
        mimecast_graph::time::parse(&cursor).unwrap() - Duration::minutes(10)
    ));
    late["messageId"] = json!("<late@acme-payroll.example.net>");
    tenant.url_logs.push(late);
    sim.set_tenant(tenant);
    sim.set_options(SimOptions {
        page_latency: std::time::Duration::from_millis(400),
        ..SimOptions::default()
    });
    let stop = mimecast_graph::stop::Stop::new();
    let stopped = {
        let _guard = crate::sync::SYNC_LOCK.lock().await;
        let trigger = stop.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            trigger.trigger();
        });
        let outcome = mimecast_graph::sync::run_once(
            &config,
            &mimecast_graph::collect::all_steps(),
            &mimecast_graph::queries::embedded(),
            &mimecast_graph::steps::SilentProgress,
            &stop,
        )
        .await;
        timer.await.unwrap();
        outcome
    };
    assert_eq!(stopped.status, SyncStatus::Stopped, "{}", stopped.human());
    assert_eq!(cursors(account).await, all_at(&cursor));
    let s = sink().await;
    assert_whole_graph(&s, account).await;

    sim.set_options(SimOptions::default());
    let resumed = sync(&config).await;
    assert_eq!(resumed.status, SyncStatus::Success, "{}", resumed.human());
    let url_window = windows(&resumed).into_iter().find(|w| w.0 == "ttp-url").unwrap();
    assert_eq!(url_window.1, minus(&cursor, Duration::minutes(60)));
    assert_eq!(url_window.3, 1);
    assert_eq!(resumed.load.types["mimecast_url_click"].created, 1);
    assert_eq!(cursors(account).await, all_at(&started_on(&resumed)));
}

/// `validate` checks each TTP log the connection reads: a refused one is
/// unavailable and names the permission; one left out of threat_logs is not called.
#[tokio::test]
async fn validate_reports_each_threat_log() {
    use mimecast_graph::validate::{check_connection, Verdict};
    let mut tenant = acme_threat_tenant(code("CVALIDTTP1"));
    tenant.missing_permissions = vec!["Monitoring | Attachment Protection | Read".into()];
    let sim = start_sim(tenant, SimOptions::default()).await;
    let mut conn = acme_connection("acme", &sim);
    let checks = check_connection(&conn).await;
    let ttp: Vec<(&str, Verdict)> = checks
        .iter()
        .filter(|c| c.name.contains("protection"))
        .map(|c| (c.name.as_str(), c.verdict))
        .collect();
    assert_eq!(
        ttp,
        vec![
            ("url protection (ttp/url/get-logs)", Verdict::Ok),
            ("attachment protection (ttp/attachment/get-logs)", Verdict::Unavailable),
            ("impersonation protection (ttp/impersonation/get-logs)", Verdict::Ok),
        ]
    );
    let refused = checks.iter().find(|c| c.name.starts_with("attachment")).unwrap();
    assert!(
        refused.detail.contains("Monitoring | Attachment Protection | Read"),
        "{}",
        refused.detail
    );
    let before = sim.stats().calls_to("/api/ttp/attachment/get-logs");
    assert_eq!(before, 1);
    conn.threat_logs = vec![mimecast_graph::config::ThreatLog::Url];
    let checks = check_connection(&conn).await;
    assert_eq!(checks.iter().filter(|c| c.name.contains("protection")).count(), 1);
    assert_eq!(sim.stats().calls_to("/api/ttp/attachment/get-logs"), 1);
}

#[test]
fn config_check_shows_the_threat_logs_read() {
    let text = "[sync]\nthreat_lookback_days = 3\n[[connection]]\nname = \"prod\"\nthreat_logs = [\"url\"]\n\
                [[connection]]\nname = \"none\"\nthreat_logs = []\n";
    let config = mimecast_graph::config::Config::from_sources(None, Some(text), &|_| None).unwrap();
    let described = mimecast_graph::cli::render::describe(&config);
    assert!(
        described
            .contains("\n  threat logs: url (first read 3 days back, then from each stream's cursor less 60 min)\n"),
        "{described}"
    );
    assert!(
        described
            .contains("\n  threat logs: none (first read 3 days back, then from each stream's cursor less 60 min)\n"),
        "{described}"
    );
}
