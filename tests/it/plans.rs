//! Saved queries stay fast at scale: the plan Neo4j makes for each saved query (and
//! for each rule's count query), with one account as analysts run them, never scans
//! every node of the database, the phishing failures come from the relationship
//! indexes, and the open assignments are read in order from an index. Checked with
//! `EXPLAIN` through the HTTP endpoint, which returns the plan (the Bolt driver does
//! not expose it).

use serde_json::{json, Value as Json};

use crate::helpers::neo4j_config;

fn http_url() -> String {
    std::env::var("NEO4J_TEST_HTTP_URL").unwrap_or_else(|_| {
        panic!(
            "the query-plan test needs the test server's HTTP connector and NEO4J_TEST_HTTP_URL is not set; \
             run `scripts/test`, or export the NEO4J_TEST_HTTP_URL line that `NEO4J_INSTANCE=test scripts/neo4j start` prints"
        )
    })
}

/// Every operator of a plan tree, root first.
fn operators(plan: &Json, out: &mut Vec<String>) {
    if let Some(op) = plan["operatorType"].as_str() {
        out.push(op.split('@').next().unwrap_or(op).to_owned());
    }
    for child in plan["children"].as_array().into_iter().flatten() {
        operators(child, out);
    }
}

#[tokio::test]
async fn no_saved_query_scans_every_node() {
    let neo4j = neo4j_config();
    let password = secrecy::ExposeSecret::expose_secret(neo4j.password.value.as_ref().unwrap()).to_owned();
    // The indexes the plans may use.
    crate::helpers::sink()
        .await
        .apply_schema(mimecast_graph::schema::schema())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let plan_of = |text: String, params: serde_json::Map<String, Json>| {
        let request = client
            .post(format!("{}/db/neo4j/tx/commit", http_url()))
            .basic_auth(&neo4j.user, Some(&password))
            .json(&json!({"statements": [{"statement": format!("EXPLAIN {text}"), "parameters": params}]}));
        async move {
            let answer: Json = request.send().await.unwrap().json().await.unwrap();
            assert_eq!(answer["errors"], json!([]), "{answer}");
            let mut ops = Vec::new();
            operators(&answer["results"][0]["plan"]["root"], &mut ops);
            ops
        }
    };
    // The check sees a scan of every node when there is one.
    let control = plan_of(
        "MATCH (n {accountCode: $account}) RETURN count(n)".into(),
        serde_json::Map::from_iter([("account".to_owned(), json!("C1"))]),
    )
    .await;
    assert!(control.iter().any(|o| o == "AllNodesScan"), "{control:?}");
    let mut checked = Vec::new();
    let mut seeking = Vec::new();
    let mut ordered = false;
    for def in mimecast_graph::queries::embedded() {
        let mut params = serde_json::Map::new();
        for p in &def.params {
            params.insert(p.name.clone(), p.default.clone());
        }
        params.insert("account".into(), json!("CPLAN0000001"));
        let mut statements = vec![(def.id.clone(), def.text.clone())];
        if let Some(rule) = &def.rule {
            statements.push((format!("{} (count)", def.id), rule.count.clone()));
        }
        for (name, text) in statements {
            let ops = plan_of(text, params.clone()).await;
            assert!(ops.len() > 1, "{name}: no plan: {ops:?}");
            assert!(
                !ops.iter().any(|o| o == "AllNodesScan"),
                "{name} scans every node: {ops:?}"
            );
            // Phishing failures are sought through the relationship indexes
            // (clicked and submitted, awaitingRetraining), never by reading every
            // assignment.
            let expected = match name.as_str() {
                "phished-not-retrained (count)" | "real-and-simulated-failures (count)" => Some(2),
                "phished-not-retrained" => Some(1),
                _ => None,
            };
            // Open assignments are read in the answer's order from the index on
            // (openTrainingOrder, email): nothing sorts every row before the first is sent.
            if name == "assigned-not-completed" {
                assert!(ops.iter().any(|o| o == "NodeIndexScan"), "{name}: {ops:?}");
                assert!(!ops.iter().any(|o| o.contains("Sort")), "{name}: {ops:?}");
                ordered = true;
            }
            if let Some(expected) = expected {
                let seeks = ops.iter().filter(|o| *o == "DirectedRelationshipIndexSeek").count();
                assert_eq!(seeks, expected, "{name}: {ops:?}");
                seeking.push(name.clone());
            }
            checked.push(name);
        }
    }
    // Every query and every rule's count query was planned.
    let rules = mimecast_graph::queries::embedded()
        .iter()
        .filter(|d| d.rule.is_some())
        .count();
    assert_eq!(checked.len(), mimecast_graph::queries::embedded().len() + rules);
    assert_eq!(seeking.len(), 3, "{seeking:?}");
    assert!(ordered);
}
