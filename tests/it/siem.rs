//! SIEM batch detections end to end: the Acme tenant with a handful of batch events,
//! served by the simulator (small files, one file per listing page) and synced into
//! the real Neo4j. Exact detections, links, indicators and integrity samples; the
//! files never receive the token; a second sync reads only what arrived since; an
//! expired link is listed again; a refused permission keeps what is stored.

use chrono::Utc;
use mimecast_graph::config::Config;
use mimecast_graph::graph::FindingKind;
use mimecast_graph::sim::{SimOptions, SimServer, SimStats, Tenant, SIEM_PERMISSION};
use mimecast_graph::sync::SyncStatus;
use serde_json::{json, Value as Json};

use crate::helpers::{acme_connection, acme_tenant, config_with, sink, start_sim};
use crate::sync::{code, rows, sync};

const BAD_URL: &str = "https://bad.example.net/verify/0001";
const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// Batch events of the last day: two URL Protect detections of one link (one
/// repeated word for word), an AV hit and an Attachment Protect result carrying one
/// file, a malicious impersonation, a corrupt AV line and a spam event (a type the
/// default configuration leaves out).
fn events(base_ms: i64) -> Vec<Json> {
    let url = |n: i64, to: &str, action: &str| {
        json!({"type": "url protect", "subtype": "Block", "timestamp": base_ms + n, "processingId": format!("p{n}"),
               "aggregateId": "a1", "recipients": to, "senderEnvelope": "notices@bad.example.net",
               "url": BAD_URL, "action": action, "route": "inbound"})
    };
    vec![
        url(1, "bob@acme.com", "Block"),
        url(1, "bob@acme.com", "Block"),
        url(2, "carol@acme.com, x@partner.org", "Allow"),
        json!({"type": "av", "subtype": "Virus", "timestamp": base_ms + 3, "processingId": "p3",
               "recipients": "dave@acme.com", "senderEnvelope": "billing@invoices.example.org",
               "senderDomain": "invoices.example.org", "fileName": "Scan_1.zip", "sha256": HASH.to_uppercase(),
               "virusFound": "Troj/Agent-AB", "direction": "Inbound"}),
        json!({"type": "attachment protect", "subtype": "Unsafe", "timestamp": base_ms + 4, "processingId": "p4",
               "fileName": "Scan_1.zip", "fileExtension": "zip", "sha256": HASH}),
        json!({"type": "impersonation protect", "subtype": "Impersonation", "timestamp": base_ms + 5,
               "processingId": "p5", "recipients": "ann@acme.com", "senderEnvelope": "ceo@acme-corp.example",
               "senderDomain": "acme-corp.example", "taggedMalicious": "true", "taggedExternal": "true",
               "action": "Hold", "definition": "Default Impersonation Definition"}),
        json!({"type": "av", "timestamp": base_ms + 6, "_raw": "{\"type\":\"av\",\"timest"}),
        json!({"type": "spam", "timestamp": base_ms + 7, "processingId": "p7", "recipients": "ann@acme.com"}),
    ]
}

fn base_ms() -> i64 {
    Utc::now().timestamp_millis() - 86_400_000
}

fn siem_tenant(account: &str, events: Vec<Json>) -> Tenant {
    let mut t = acme_tenant(account);
    t.siem_events = events;
    t.validate().unwrap();
    t
}

/// Two events per file, one file per listing page.
fn options() -> SimOptions {
    SimOptions {
        siem_events_per_file: 2,
        ..SimOptions::default()
    }
}

fn config(sim: &SimServer) -> Config {
    let mut c = acme_connection("acme", sim);
    c.siem.enabled = true;
    c.siem.page_size = 1;
    config_with(vec![c])
}

fn file_requests(stats: &SimStats) -> u64 {
    stats
        .calls
        .iter()
        .filter(|(p, _)| p.starts_with("/siem/files/"))
        .map(|(_, n)| n)
        .sum()
}

async fn detections(account: &str) -> Vec<Json> {
    rows(
        &sink().await,
        "MATCH (d:MimecastSiemDetection:Finding {accountCode: $account}) \
         OPTIONAL MATCH (d)<-[:RECEIVED]-(u:MimecastUser) \
         WITH d, u ORDER BY u.email \
         WITH d, collect(u.email) AS users ORDER BY d.processingId \
         RETURN d.eventType AS type, d.severity AS severity, d.malicious AS malicious, \
                d.recipients AS recipients, users, d.classUid AS class",
        account,
    )
    .await
}

#[tokio::test]
async fn siem_detections_are_streamed_merged_and_linked_to_users_and_indicators() {
    let account = code("CSIEM00001");
    let sim = start_sim(siem_tenant(account, events(base_ms())), options()).await;
    let config = config(&sim);
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    assert_eq!(
        detections(account).await,
        vec![
            json!({"type": "url protect", "severity": "Medium", "malicious": true, "recipients": ["bob@acme.com"],
                   "users": ["bob@acme.com"], "class": 2004}),
            json!({"type": "url protect", "severity": "High", "malicious": true,
                   "recipients": ["carol@acme.com", "x@partner.org"], "users": ["carol@acme.com"], "class": 2004}),
            json!({"type": "av", "severity": "High", "malicious": true, "recipients": ["dave@acme.com"],
                   "users": ["dave@acme.com"], "class": 2004}),
            json!({"type": "attachment protect", "severity": "High", "malicious": true, "recipients": null,
                   "users": [], "class": 2004}),
            json!({"type": "impersonation protect", "severity": "High", "malicious": true,
                   "recipients": ["ann@acme.com"], "users": ["ann@acme.com"], "class": 2004}),
        ]
    );
    // Who else got this link, and this file: one hop from the indicator.
    let s = sink().await;
    let shared = rows(
        &s,
        "MATCH (i {accountCode: $account})<-[r:LINKS_TO|CARRIES]-(d:MimecastSiemDetection) \
         RETURN labels(i)[0] AS label, coalesce(i.url, i.sha256) AS indicator, type(r) AS rel, count(d) AS events \
         ORDER BY label",
        account,
    )
    .await;
    assert_eq!(
        shared,
        vec![
            json!({"label": "MimecastFile", "indicator": HASH, "rel": "CARRIES", "events": 2}),
            json!({"label": "MimecastUrl", "indicator": BAD_URL, "rel": "LINKS_TO", "events": 2}),
        ]
    );
    let domains = rows(
        &s,
        "MATCH (:MimecastSiemDetection {accountCode: $account})-[:SENT_FROM]->(d:MimecastSenderDomain) \
         RETURN d.domain AS domain, count(*) AS events ORDER BY domain",
        account,
    )
    .await;
    assert_eq!(
        domains,
        vec![
            json!({"domain": "acme-corp.example", "events": 1}),
            json!({"domain": "bad.example.net", "events": 2}),
            json!({"domain": "invoices.example.org", "events": 1}),
        ]
    );
    // The corrupt line and the outside recipient are counted and sampled.
    let c = outcome.collection.as_ref().unwrap();
    let corrupt = &c.integrity.findings[&FindingKind::CorruptRecord];
    assert_eq!(corrupt.count, 1);
    assert_eq!(corrupt.samples.len(), 1);
    assert!(
        corrupt.samples[0].starts_with("av file http://127.0.0.1:")
            && corrupt.samples[0].contains("/siem/files/av/0-2.json.gz line 2: not JSON"),
        "{}",
        corrupt.samples[0]
    );
    assert!(!corrupt.samples[0].contains("sig="), "a sample shows no link signature");
    assert!(c.integrity.findings[&FindingKind::UnknownParticipant]
        .samples
        .contains(&"x@partner.org (SIEM url protect)".to_owned()));
    // Files: av 0-2, attachment 0-1, impersonation 0-1, url 0-2 and 2-3; none of
    // them saw the token.
    let stats = sim.stats();
    assert_eq!(file_requests(&stats), 5);
    assert_eq!(stats.siem_files_with_authorization, 0);
    assert_eq!(stats.calls_to("/siem/files/spam/0-1.json.gz"), 0);
    // One cursor per type read.
    let streams = rows(
        &s,
        "MATCH (c:MimecastSyncCursor {account: $account}) WHERE c.stream STARTS WITH 'siem:' \
         RETURN c.stream AS stream ORDER BY stream",
        account,
    )
    .await;
    assert_eq!(
        streams,
        vec![
            json!({"stream": "siem:attachment-protect"}),
            json!({"stream": "siem:av"}),
            json!({"stream": "siem:impersonation-protect"}),
            json!({"stream": "siem:url-protect"}),
        ]
    );

    // Who a real malicious message reached and has not been trained since: every
    // linked recipient (the Acme completions were first seen by this very sync).
    let def = mimecast_graph::queries::embedded()
        .into_iter()
        .find(|d| d.id == "siem-detections-not-retrained")
        .unwrap();
    let params = std::collections::BTreeMap::from([("account".to_owned(), json!(account))]);
    let r = mimecast_graph::queries::run(&s, &def, &params).await.unwrap();
    assert_eq!(r.columns, def.columns);
    let found: Vec<(String, String, String)> = r
        .rows
        .iter()
        .map(|row| {
            let text = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
            (text(1), text(2), text(4))
        })
        .collect();
    let mut found = found;
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "ann@acme.com".to_owned(),
                "impersonation protect".to_owned(),
                "acme-corp.example".to_owned()
            ),
            ("bob@acme.com".to_owned(), "url protect".to_owned(), BAD_URL.to_owned()),
            (
                "carol@acme.com".to_owned(),
                "url protect".to_owned(),
                BAD_URL.to_owned()
            ),
            ("dave@acme.com".to_owned(), "av".to_owned(), HASH.to_owned()),
        ]
    );
    let judged = r.judged.as_ref().map(|j| (j.findings, j.denominator));
    assert_eq!(judged, Some((4, 4)));

    // A second sync reads only what arrived since: one new URL Protect event.
    let mut more = events(base_ms());
    more.push(
        json!({"type": "url protect", "timestamp": Utc::now().timestamp_millis() - 60_000,
                     "processingId": "p9", "recipients": "ann@acme.com", "url": BAD_URL, "action": "Warn"}),
    );
    sim.set_tenant(siem_tenant(account, more));
    sim.reset_stats();
    let again = sync(&config).await;
    assert_eq!(again.status, SyncStatus::Success, "{}", again.human());
    assert_eq!(file_requests(&sim.stats()), 1);
    assert_eq!(sim.stats().calls_to("/siem/files/url-protect/3-4.json.gz"), 1);
    let now = detections(account).await;
    assert_eq!(now.len(), 6);
    assert_eq!(
        now[5],
        json!({"type": "url protect", "severity": "High", "malicious": true, "recipients": ["ann@acme.com"],
               "users": ["ann@acme.com"], "class": 2004})
    );
}

#[tokio::test]
async fn an_expired_link_is_listed_again_and_a_refused_permission_keeps_the_stored_detections() {
    let account = code("CSIEM00002");
    let sim = start_sim(
        siem_tenant(account, events(base_ms())),
        SimOptions {
            siem_expire_next_files: 1,
            ..options()
        },
    )
    .await;
    let config = config(&sim);
    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Success, "{}", outcome.human());
    assert_eq!(detections(account).await.len(), 5);
    // The first file (av 0-2) was refused once, then read from a fresh link: 6 file
    // requests for 5 files.
    assert_eq!(file_requests(&sim.stats()), 6, "{:?}", sim.stats().calls);
    assert_eq!(sim.stats().calls_to("/siem/files/av/0-2.json.gz"), 2);

    // Without the SIEM permission the step is unavailable and nothing is deleted.
    let mut refused = siem_tenant(account, events(base_ms()));
    refused.missing_permissions = vec![SIEM_PERMISSION.to_owned()];
    sim.set_tenant(refused);
    let partial = sync(&config).await;
    assert_eq!(partial.status, SyncStatus::Partial, "{}", partial.human());
    assert_eq!(detections(account).await.len(), 5);
    let step = partial.collection.as_ref().unwrap().tenants[0]
        .steps
        .iter()
        .find(|s| s.id == "fetch-siem-detections")
        .unwrap()
        .clone();
    assert_eq!(step.status, mimecast_graph::steps::StepStatus::Unavailable);
}

#[tokio::test]
async fn validate_checks_the_siem_listing_of_each_type_and_names_the_permission() {
    use mimecast_graph::validate::{check_connection, Verdict};
    let sim = start_sim(siem_tenant(code("CSIEMVAL01"), events(base_ms())), options()).await;
    let mut conn = acme_connection("acme", &sim);
    conn.siem.enabled = true;
    conn.siem.types = vec!["av".into(), "url protect".into()];
    let siem = |checks: &[mimecast_graph::validate::Check]| -> Vec<(String, Verdict, String)> {
        checks
            .iter()
            .filter(|c| c.name.starts_with("SIEM"))
            .map(|c| (c.name.clone(), c.verdict, c.detail.clone()))
            .collect()
    };
    assert_eq!(
        siem(&check_connection(&conn).await),
        vec![
            (
                "SIEM batch \"av\" (siem/v1/batch/events/cg)".to_owned(),
                Verdict::Ok,
                "the listing answers (files since yesterday)".to_owned()
            ),
            (
                "SIEM batch \"url protect\" (siem/v1/batch/events/cg)".to_owned(),
                Verdict::Ok,
                "the listing answers (files since yesterday)".to_owned()
            ),
        ]
    );
    let mut refused = siem_tenant(code("CSIEMVAL01"), events(base_ms()));
    refused.missing_permissions = vec![SIEM_PERMISSION.to_owned()];
    sim.set_tenant(refused);
    let checks = siem(&check_connection(&conn).await);
    assert_eq!(checks.len(), 2);
    for (_, verdict, detail) in checks {
        assert_eq!(verdict, Verdict::Unavailable);
        assert!(detail.contains(SIEM_PERMISSION), "{detail}");
    }
}

#[test]
fn config_check_shows_the_siem_types_read() {
    let text = "[[connection]]\nname = \"prod\"\n[connection.siem]\nenabled = true\ntypes = [\"av\", \"spam\"]\n\
                [[connection]]\nname = \"off\"\n";
    let config = Config::from_sources(None, Some(text), &|_| None).unwrap();
    let described = mimecast_graph::cli::render::describe(&config);
    assert!(
        described.contains(
            "\n  SIEM batch: av, spam (100 files per listing page; first read 7 days back, then from each type's token)\n"
        ),
        "{described}"
    );
    assert!(
        described.contains("\n  SIEM batch: off ([connection.siem] enabled = false)\n"),
        "{described}"
    );
}

#[tokio::test]
async fn a_file_that_fails_keeps_the_cursor_and_the_next_sync_reads_it_without_duplicates() {
    let account = code("CSIEM00003");
    let sim = start_sim(siem_tenant(account, events(base_ms())), options()).await;
    let config = config(&sim);
    // The second URL Protect file answers 500 on every attempt.
    sim.set_fail_paths(vec![("/siem/files/url-protect/2-3.json.gz".to_owned(), 500)]);
    let failed = sync(&config).await;
    assert_ne!(failed.status, SyncStatus::Success, "{}", failed.human());
    let step = failed.collection.as_ref().unwrap().tenants[0]
        .steps
        .iter()
        .find(|s| s.id == "fetch-siem-detections")
        .unwrap()
        .clone();
    assert_eq!(step.status, mimecast_graph::steps::StepStatus::Failed);
    // Read again from its start as often as the connection retries (max_attempts 3).
    assert_eq!(sim.stats().calls_to("/siem/files/url-protect/2-3.json.gz"), 3);
    let cursors = rows(
        &sink().await,
        "MATCH (c:MimecastSyncCursor {account: $account}) WHERE c.stream STARTS WITH 'siem:' RETURN count(c) AS n",
        account,
    )
    .await;
    assert_eq!(cursors, vec![json!({"n": 0})]);
    // Healed: the next sync reads every file and stores each type's cursor.
    sim.set_fail_paths(Vec::new());
    let healed = sync(&config).await;
    assert_eq!(healed.status, SyncStatus::Success, "{}", healed.human());
    assert_eq!(detections(account).await.len(), 5);
    let cursors = rows(
        &sink().await,
        "MATCH (c:MimecastSyncCursor {account: $account}) WHERE c.stream STARTS WITH 'siem:' RETURN count(c) AS n",
        account,
    )
    .await;
    assert_eq!(cursors, vec![json!({"n": 4})]);
}
