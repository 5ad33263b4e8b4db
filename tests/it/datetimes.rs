//! Date-times in Neo4j: every property graph-schema types as `datetime`, and the sink's
//! own stamps, are native `DATETIME` values, so Cypher's date arithmetic works on
//! them; values an older version stored as text become native on the next sync, keeping
//! their instants; leases are timed by the server's clock.

use std::collections::BTreeSet;

use mimecast_graph::schema::{schema, PropType};
use mimecast_graph::sim::SimOptions;
use mimecast_graph::sink::SyncStamp;
use mimecast_graph::sync::SyncStatus;
use serde_json::{json, Value as Json};

use crate::helpers::{acme_connection, acme_tenant, config_with, sink, start_sim};
use crate::sync::{code, rows, sync};

const NATIVE: &str = "ZONED DATETIME NOT NULL";

/// Per node label (or relationship type) holding date-time properties: the distinct
/// Neo4j types of those properties in the account's graph, and how many values.
async fn stored_types(s: &mimecast_graph::sink::Sink, account: &str) -> Vec<Json> {
    let mut out = Vec::new();
    let names = |props: &[mimecast_graph::schema::PropSpec]| -> Vec<String> {
        props
            .iter()
            .filter(|p| p.prop_type == PropType::DateTime)
            .map(|p| p.name.clone())
            .collect()
    };
    for e in schema().entities.iter().filter(|e| e.is_account_scoped()) {
        let mut props = names(&e.properties);
        props.extend(["_firstSeenOn".to_owned(), "_lastChangedOn".to_owned()]);
        let cypher = format!(
            "MATCH (x:{} {{accountCode: $account}}) UNWIND [k IN keys(x) WHERE k IN {props:?}] AS k \
             WITH valueType(x[k]) AS t, count(*) AS n RETURN '{}' AS of, t, n ORDER BY t",
            e.label, e.label
        );
        out.extend(rows(s, &cypher, account).await);
    }
    for r in &schema().relationships {
        let from = schema().entity(&r.from).unwrap();
        if !from.is_account_scoped() {
            continue;
        }
        let mut props = names(&r.properties);
        props.extend(["_firstSeenOn".to_owned(), "_lastChangedOn".to_owned()]);
        let cypher = format!(
            "MATCH (:{} {{accountCode: $account}})-[x:{}]->() WHERE x._type = '{}' \
             UNWIND [k IN keys(x) WHERE k IN {props:?}] AS k \
             WITH valueType(x[k]) AS t, count(*) AS n RETURN '{}' AS of, t, n ORDER BY t",
            from.label, r.class, r.relationship_type, r.relationship_type
        );
        out.extend(rows(s, &cypher, account).await);
    }
    out
}

fn types_of(found: &[Json]) -> BTreeSet<String> {
    found.iter().map(|r| r["t"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn schema_date_times_and_stamps_are_native_and_date_arithmetic_works() {
    let account = code("Xdatetime-native");
    let sim = start_sim(acme_tenant(account), SimOptions::default()).await;
    let config = config_with(vec![acme_connection("datetime-native", &sim)]);
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let s = sink().await;

    let found = stored_types(&s, account).await;
    assert_eq!(types_of(&found), BTreeSet::from([NATIVE.to_owned()]), "{found:?}");
    // Every element has its two stamps; beside them the account has lastSyncOn and
    // lastSuccessfulSyncOn, each of the 4 awareness campaigns launchDate and
    // createDate, the phishing campaign launchDate, the 4 internal users' phishing
    // results 12 scheduled, opened, clicked, submitted and reported times, and the 4
    // users with an open training assignment their oldest open launch.
    let counts: Vec<(&str, i64)> = found
        .iter()
        .map(|r| (r["of"].as_str().unwrap(), r["n"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("MimecastAccount", 4),
            ("MimecastDomain", 4),
            ("MimecastUser", 28),
            ("MimecastAwarenessCampaign", 16),
            ("MimecastPhishingCampaign", 3),
            ("TrainingCategory", 8),
            ("Person", 16),
            ("mimecast_account_has_domain", 4),
            ("mimecast_account_has_awareness_campaign", 8),
            ("mimecast_account_has_phishing_campaign", 2),
            ("mimecast_domain_has_user", 24),
            ("mimecast_user_assigned_awareness_campaign", 22),
            ("mimecast_user_completed_awareness_campaign", 14),
            ("mimecast_user_assigned_phishing_campaign", 20),
            ("mimecast_awareness_campaign_covers_training_category", 6),
            ("person_is_mimecast_user", 14),
        ]
    );

    // Date arithmetic: clicks in the seven days before 2024-02-22T09:30Z.
    assert_eq!(
        rows(
            &s,
            "MATCH (u:MimecastUser {accountCode: $account})-[r:ASSIGNED]->(:MimecastPhishingCampaign) \
             WHERE r.clickedOn > datetime('2024-02-22T09:30:00Z') - duration('P7D') \
             RETURN u.email AS email, r.clickedOn AS clickedOn ORDER BY email",
            account,
        )
        .await,
        vec![
            json!({"email": "bob@acme.com", "clickedOn": "2024-02-15T10:00:00Z"}),
            json!({"email": "carol@acme.com", "clickedOn": "2024-02-16T09:00:00Z"}),
        ]
    );
    assert_eq!(
        rows(
            &s,
            "MATCH (c:MimecastAwarenessCampaign {accountCode: $account}) \
             WHERE c.launchDate >= datetime('2024-02-01T00:00:00Z') \
               AND c.launchDate < datetime('2024-02-01T00:00:00Z') + duration({months: 1}) \
             RETURN c.name AS name, duration.inDays(c.launchDate, datetime('2024-03-01T09:00:00Z')).days AS daysBefore",
            account,
        )
        .await,
        vec![json!({"name": "Lunch and Learn", "daysBefore": 29})]
    );
    // The sync's history record is timed natively too.
    assert_eq!(
        rows(
            &s,
            "MATCH (r:MimecastSyncRun {accountCode: $account}) \
             RETURN valueType(r.startedOn) AS started, valueType(r.endedOn) AS ended",
            account,
        )
        .await,
        vec![json!({"started": NATIVE, "ended": NATIVE})]
    );
}

#[tokio::test]
async fn date_times_an_older_version_stored_as_text_become_native_keeping_their_instants() {
    let account = code("Xdatetime-migrate");
    let sim = start_sim(acme_tenant(account), SimOptions::default()).await;
    let config = config_with(vec![acme_connection("datetime-migrate", &sim)]);
    assert_eq!(sync(&config).await.status, SyncStatus::Success);
    let s = sink().await;
    let first_seen = "MATCH (a:MimecastAccount {accountCode: $account})-[:HAS]->(c:MimecastAwarenessCampaign) \
                      RETURN c.name AS name, c._firstSeenOn AS first, c.launchDate AS launched ORDER BY name";
    let before = rows(&s, first_seen, account).await;
    assert_eq!(before.len(), 4);

    // As a version that wrote text would have left it: every date-time a string, and
    // no time of a content verification.
    let text = "MATCH (x {accountCode: $account}) REMOVE x._contentVerifiedOn \
                SET x._firstSeenOn = toString(x._firstSeenOn), x._lastChangedOn = toString(x._lastChangedOn), \
                    x.launchDate = toString(x.launchDate), x.lastSuccessfulSyncOn = toString(x.lastSuccessfulSyncOn) \
                WITH x MATCH (x)-[r]->() SET r._firstSeenOn = toString(r._firstSeenOn), \
                    r._lastChangedOn = toString(r._lastChangedOn), r.completedOn = toString(r.completedOn), \
                    r.clickedOn = toString(r.clickedOn) \
                RETURN count(*) AS n";
    crate::helpers::cypher(neo4rs::query(text).param("account", account)).await;
    let stored = stored_types(&s, account).await;
    assert!(types_of(&stored).contains("STRING NOT NULL"), "{stored:?}");

    let outcome = sync(&config).await;
    assert_eq!(outcome.status, SyncStatus::Success);
    let found = stored_types(&s, account).await;
    assert_eq!(types_of(&found), BTreeSet::from([NATIVE.to_owned()]), "{found:?}");
    // The same instants, read back as the same text; first-seen times are kept.
    assert_eq!(rows(&s, first_seen, account).await, before);
    assert_eq!(
        (&before[0]["name"], &before[0]["launched"]),
        (&json!("HIPAA 101"), &json!("2024-03-01T09:00:00Z"))
    );
}

#[tokio::test]
async fn a_lease_is_timed_by_the_servers_clock() {
    let account = code("Xdatetime-lease");
    let s = sink().await;
    let stamp = SyncStamp::new();
    s.lock_accounts(&[account], &stamp).await.unwrap();
    let lease = rows(
        &s,
        "MATCH (l:MimecastGraphLock {accountCode: $account}) \
         RETURN valueType(l.since) AS since, valueType(l.expiresOn) AS until, \
                duration.inSeconds(l.since, l.expiresOn).seconds AS seconds, \
                abs(duration.inSeconds(l.since, datetime()).seconds) < 60 AS now",
        account,
    )
    .await;
    s.unlock_accounts(&[account], &stamp).await;
    assert_eq!(
        lease,
        vec![json!({"since": NATIVE, "until": NATIVE, "seconds": 600, "now": true})]
    );
}
