//! Neo4j Browser on the local server (`scripts/neo4j`, HTTP on 127.0.0.1): `GET /`
//! leads to the Browser's page, and a saved query sent as it stands through the HTTP
//! transactional endpoint, with its `:param` defaults, returns the same rows as
//! `queries run`.

use serde_json::{json, Value as Json};

use crate::cli::{graph, text};
use crate::helpers::neo4j_config;

/// The test server's HTTP address: NEO4J_TEST_HTTP_URL, which `scripts/neo4j start`
/// prints for the test instance. Missing is a failure, never a skip.
fn http_url() -> String {
    std::env::var("NEO4J_TEST_HTTP_URL").unwrap_or_else(|_| {
        panic!(
            "the Neo4j Browser test needs the test server's HTTP connector and NEO4J_TEST_HTTP_URL is not set; \
             run `scripts/test` (its test instance serves HTTP), or export the NEO4J_TEST_HTTP_URL line that \
             `NEO4J_INSTANCE=test scripts/neo4j start` prints"
        )
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The JSON body of the answer to `request`.
async fn json_of(request: reqwest::RequestBuilder) -> Json {
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn the_http_connector_serves_the_browser_page() {
    let base = http_url();
    let c = client();

    let root = c
        .get(format!("{base}/"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    let page = c.get(format!("{base}/browser/")).send().await.unwrap();

    assert_eq!(root.status().as_u16(), 303);
    assert_eq!(root.headers()["location"].to_str().unwrap(), format!("{base}/browser/"));
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(page.headers()["content-type"].to_str().unwrap(), "text/html");
    let html = page.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"), "{}", &html[..html.len().min(200)]);
    assert!(
        html.contains("<title>Neo4j Browser</title>"),
        "{}",
        &html[..html.len().min(400)]
    );
    // The discovery document the Browser connects with names the Bolt address.
    let discovery = json_of(c.get(format!("{base}/")).header("Accept", "application/json")).await;
    assert_eq!(discovery["bolt_direct"], json!(neo4j_config().uri));
}

#[tokio::test]
async fn a_saved_query_through_the_http_endpoint_gives_the_rows_of_queries_run() {
    // Arrange: the Acme tenant synced; the saved queries as Neo4j Browser gets them.
    let (account, _) = crate::report::synced_acme("BRW").await;
    let neo4j = neo4j_config();
    let password = secrecy::ExposeSecret::expose_secret(neo4j.password.value.as_ref().unwrap()).to_owned();
    let defs = mimecast_graph::queries::embedded();

    for id in ["watchlist", "missing-required-training"] {
        let def = defs.iter().find(|d| d.id == id).unwrap();
        // The `:param` lines of its header, with the account set.
        let mut params = serde_json::Map::new();
        for p in &def.params {
            params.insert(p.name.clone(), p.default.clone());
        }
        params.insert("account".into(), json!(account));

        // Act: the file's whole text, header comments included, as Browser sends it.
        let answer = json_of(
            client()
                .post(format!("{}/db/neo4j/tx/commit", http_url()))
                .basic_auth(&neo4j.user, Some(&password))
                .json(&json!({"statements": [{"statement": def.text, "parameters": params}]})),
        )
        .await;
        let out = graph(
            &[
                "queries",
                "run",
                id,
                "--param",
                &format!("account={account}"),
                "--format",
                "json",
            ],
            &[],
        );

        // Assert: no error, the declared columns, and the rows `queries run` prints.
        assert_eq!(answer["errors"], json!([]), "{id}: {answer}");
        let result = &answer["results"][0];
        assert_eq!(result["columns"], json!(def.columns), "{id}");
        let http_rows: Vec<Json> = result["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                Json::Object(
                    def.columns
                        .iter()
                        .cloned()
                        .zip(d["row"].as_array().unwrap().iter().cloned())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let run: Json = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json!(http_rows), run[0]["rows"], "{id}");
        // Acme: two on the watchlist, six missing requirements.
        let expected = if id == "watchlist" { 2 } else { 6 };
        assert_eq!(http_rows.len(), expected, "{id}");
    }
}
