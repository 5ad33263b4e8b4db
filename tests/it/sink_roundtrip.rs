//! Writes through the real sink into the real Neo4j and reads back exactly.

use mimecast_graph::graph::Element as _;
use mimecast_graph::graph::Entity;
use mimecast_graph::sink::bolt::to_json;
use mimecast_graph::sink::{fingerprint, Mode, SyncStamp, WriteCounts};
use neo4rs::query;
use serde_json::json;

use crate::helpers::{sink, unique_account};

async fn read_probe(s: &mimecast_graph::sink::Sink, key: &str) -> (serde_json::Value, serde_json::Value) {
    let rows = s
        .read(
            query("MATCH (n:MimecastTestProbe {_key: $key}) RETURN properties(n) AS props, labels(n) AS labels")
                .param("key", key),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "exactly one node with key {key}");
    (to_json(&rows[0]["props"]), to_json(&rows[0]["labels"]))
}

#[tokio::test]
async fn every_property_type_round_trips_exactly() {
    // Arrange
    let s = sink().await;
    let account = unique_account("RT");
    let key = format!("mimecast_test_probe:{account}:1");
    let entity = Entity::new(&key, "mimecast_test_probe", "Record")
        .with("accountCode", account.as_str())
        .with("displayName", "Probe ü – \"quoted\"")
        .with("userCount", 1_234_567_890_123_i64)
        .with("percentCorrect", 66.5)
        .with("locked", false)
        .with(
            "packages",
            vec![
                "Awareness Training [1078]".to_owned(),
                "Mimecast Platform [1033]".to_owned(),
            ],
        )
        .with("launchDate", "2022-01-11T23:32:00Z");
    let stamp = SyncStamp {
        sync_id: "sync-1".into(),
        now: "2026-01-01T00:00:00Z".into(),
    };

    // Act
    let counts = s
        .upsert_nodes(&["MimecastTestProbe", "Record"], &[&entity], Mode::Replace, &stamp)
        .await
        .unwrap();

    // Assert
    assert_eq!(
        counts,
        WriteCounts {
            created: 1,
            updated: 0,
            unchanged: 0
        }
    );
    let (props, labels) = read_probe(&s, &key).await;
    assert_eq!(
        props,
        json!({
            "_key": key, "_type": "mimecast_test_probe", "_class": "Record",
            "accountCode": account, "displayName": "Probe ü – \"quoted\"",
            "userCount": 1_234_567_890_123_i64, "percentCorrect": 66.5, "locked": false,
            "packages": ["Awareness Training [1078]", "Mimecast Platform [1033]"],
            "launchDate": "2022-01-11T23:32:00Z",
            "_firstSeenOn": "2026-01-01T00:00:00Z", "_lastChangedOn": "2026-01-01T00:00:00Z",
            "_fingerprint": fingerprint::of_entity(&entity, &["MimecastTestProbe", "Record"], mimecast_graph::schema::schema())
        })
    );
    let mut labels: Vec<String> = serde_json::from_value(labels).unwrap();
    labels.sort();
    assert_eq!(labels, vec!["MimecastTestProbe", "Record"]);
}

#[tokio::test]
async fn re_upsert_counts_unchanged_then_updated_and_drops_vanished_properties() {
    // Arrange
    let s = sink().await;
    let account = unique_account("RU");
    let key = format!("mimecast_test_probe:{account}:1");
    let first = Entity::new(&key, "mimecast_test_probe", "Record")
        .with("accountCode", account.as_str())
        .with("watchlistCount", 2_i64);
    let stamp1 = SyncStamp {
        sync_id: "s1".into(),
        now: "2026-01-01T00:00:00Z".into(),
    };
    let stamp2 = SyncStamp {
        sync_id: "s2".into(),
        now: "2026-01-02T00:00:00Z".into(),
    };
    let stamp3 = SyncStamp {
        sync_id: "s3".into(),
        now: "2026-01-03T00:00:00Z".into(),
    };
    let labels = ["MimecastTestProbe", "Record"];
    s.upsert_nodes(&labels, &[&first], Mode::Replace, &stamp1)
        .await
        .unwrap();

    // Act: the same data again, then the property gone upstream.
    let again = s
        .upsert_nodes(&labels, &[&first], Mode::Replace, &stamp2)
        .await
        .unwrap();
    let mut changed = first.clone();
    changed.properties.remove("watchlistCount");
    let after_change = s
        .upsert_nodes(&labels, &[&changed], Mode::Replace, &stamp3)
        .await
        .unwrap();

    // Assert
    assert_eq!(
        again,
        WriteCounts {
            created: 0,
            updated: 0,
            unchanged: 1
        }
    );
    assert_eq!(
        after_change,
        WriteCounts {
            created: 0,
            updated: 1,
            unchanged: 0
        }
    );
    let (props, _) = read_probe(&s, &key).await;
    assert_eq!(
        props,
        json!({
            "_key": key, "_type": "mimecast_test_probe", "_class": "Record", "accountCode": account,
            "_firstSeenOn": "2026-01-01T00:00:00Z", "_lastChangedOn": "2026-01-03T00:00:00Z",
            "_fingerprint": fingerprint::of_entity(&changed, &labels, mimecast_graph::schema::schema())
        })
    );
}

#[tokio::test]
async fn read_transactions_refuse_writes() {
    let s = sink().await;
    let err = s
        .read(query("CREATE (n:MimecastTestProbe {_key: 'must-not-exist'}) RETURN n"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("AccessMode") || err.to_string().contains("read"),
        "unexpected error: {err}"
    );
    let rows = s
        .read(query(
            "MATCH (n:MimecastTestProbe {_key: 'must-not-exist'}) RETURN count(n) AS n",
        ))
        .await
        .unwrap();
    assert_eq!(to_json(&rows[0]["n"]), json!(0));
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_naming_the_user() {
    let mut cfg = crate::helpers::neo4j_config();
    cfg.password = mimecast_graph::config::Secret::literal("definitely-wrong-password");
    let err = match mimecast_graph::sink::Sink::connect(&cfg).await {
        Ok(_) => panic!("connected with a wrong password"),
        Err(e) => e,
    };
    assert_eq!(
        err.to_string(),
        format!(
            "Neo4j at {} refused the credentials of user \"neo4j\"; check NEO4J_USER and NEO4J_PASSWORD",
            cfg.uri
        )
    );
    assert!(!err.to_string().contains("definitely-wrong-password"));
}
