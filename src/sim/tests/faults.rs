//! The simulator over real HTTP, continued: API 1.0 signatures, fault knobs, latency,
//! tenant swaps and shutdown, and a generated tenant served consistently.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_signatures_are_verified() {
    let sim = start_with(tenant(2), SimOptions::default()).await;
    let addr = sim.local_addr();
    let date = "Sat, 05 Mar 2022 00:03:37 UTC";
    let req_id = "3d0e2a52-5c4b-4f6e-9d0a-0c1b2a3d4e5f";
    let sig = sign_api1(SECRET_KEY, "appkey-1", date, req_id, ACCOUNT).unwrap();
    let call = |app: &'static str, auth: String| async move {
        http(
            addr,
            "POST",
            ACCOUNT,
            &[
                ("Authorization", &auth),
                ("x-mc-app-id", app),
                ("x-mc-date", date),
                ("x-mc-req-id", req_id),
                ("Content-Type", "application/json"),
            ],
            r#"{"data":[]}"#,
        )
        .await
    };
    let ok = call("app-1", format!("MC access-1:{sig}")).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["data"][0]["accountCode"], "CUSA99Z999");

    let other = sign_api1("b3RoZXI=", "appkey-1", date, req_id, ACCOUNT).unwrap();
    let bad = call("app-1", format!("MC access-1:{other}")).await;
    assert_eq!(bad.status, 401);
    assert_eq!(
        bad.json(),
        json!({"meta": {"status": 401}, "data": [], "fail": [{"errors": [{"code": "err_xdk_invalid_signature", "message": "0004 Invalid Signature", "retryable": false}]}]})
    );

    let app = call("INVALID", format!("MC access-1:{sig}")).await;
    assert_eq!(app.status, 200);
    assert_eq!(
        app.json(),
        json!({"meta": {"status": 200}, "data": [], "fail": [{"errors": [{"code": "err_developer_key", "message": "App ID is invalid: INVALID", "retryable": false}]}]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_unknown_paths_and_methods() {
    let sim = start_with(tenant(3), SimOptions::default()).await;
    let addr = sim.local_addr();
    let t = access_token(addr).await;

    let r = post(addr, &t, "/api/nope/get-nothing", json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["meta"]["status"], 404);
    assert!(r.header("x-ratelimit-limit").is_some());
    let r = http(addr, "GET", ACCOUNT, &[], "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["fail"][0]["errors"][0]["code"], "err_method_not_allowed");

    sim.set_fail_paths(vec![(USERS.to_owned(), 503)]);
    let r = post(addr, &t, USERS, json!({"data": [{"domain": "big.example.com"}]})).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["meta"]["status"], 503);
    assert_eq!(r.json()["fail"][0]["errors"][0]["retryable"], true);
    assert_eq!(post(addr, &t, ACCOUNT, json!({})).await.status, 200);
    // A forced 429 reports the quota spent, as a real one does, with a reset that
    // agrees with its Retry-After.
    sim.set_fail_paths(vec![(USERS.to_owned(), 429)]);
    let r = post(addr, &t, USERS, json!({"data": [{"domain": "big.example.com"}]})).await;
    assert_eq!(r.status, 429);
    let rate = ["retry-after", "x-ratelimit-remaining", "x-ratelimit-reset"].map(|h| r.header(h));
    assert_eq!(rate, [Some("1"), Some("0"), Some("1000")]);
    sim.set_fail_paths(Vec::new());

    sim.set_options(SimOptions {
        error_rate: 1.0,
        ..SimOptions::default()
    });
    let r = post(addr, &t, ACCOUNT, json!({})).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["fail"][0]["errors"][0]["code"], "err_internal");

    sim.set_options(SimOptions {
        malformed_rate: 1.0,
        ..SimOptions::default()
    });
    let r = post(addr, &t, ACCOUNT, json!({})).await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    let stats = sim.stats();
    assert_eq!((stats.server_errors, stats.malformed), (2, 1));

    sim.set_options(SimOptions::default());
    let r = http(
        addr,
        "POST",
        ACCOUNT,
        &[("Authorization", &format!("Bearer {t}"))],
        "{not json",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["fail"][0]["errors"][0]["code"], "err_invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_tenant_swap_and_shutdown() {
    let options = SimOptions {
        page_latency: Duration::from_millis(200),
        ..SimOptions::default()
    };
    let sim = start_with(tenant(3), options).await;
    let addr = sim.local_addr();
    let t = access_token(addr).await;
    let started = Instant::now();
    let r = post(addr, &t, USERS, json!({"data": [{"domain": "big.example.com"}]})).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(r.json()["data"][0]["userCount"], 3);

    sim.set_tenant(tenant(7));
    let r = post(addr, &t, USERS, json!({"data": [{"domain": "big.example.com"}]})).await;
    assert_eq!(r.json()["data"][0]["userCount"], 7);

    sim.shutdown().await;
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_tenant_is_served_consistently() {
    let generated = generate(&GenerateSpec::default());
    let sim = start_with(generated.clone(), SimOptions::default()).await;
    let addr = sim.local_addr();
    let t = {
        let r = token(addr, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
        r.json()["access_token"].as_str().unwrap().to_owned()
    };
    let domains = post(addr, &t, "/api/domain/get-internal-domain", json!({"data": []}))
        .await
        .json();
    let mut directory = 0;
    for d in domains["data"].as_array().unwrap() {
        let r = post(
            addr,
            &t,
            USERS,
            json!({"meta": {"pagination": {"pageSize": 500}}, "data": [{"domain": d["domain"]}]}),
        )
        .await;
        directory += r.json()["meta"]["pagination"]["totalCount"].as_u64().unwrap();
    }
    assert_eq!(directory, generated.users.len() as u64);

    let campaigns = post(
        addr,
        &t,
        "/api/awareness-training/campaign/get-campaigns",
        json!({"data": []}),
    )
    .await
    .json();
    let list = campaigns["data"][0]["campaigns"].as_array().unwrap();
    assert_eq!(list.len(), 4);
    for c in list {
        assert!(c.get("user_data").is_none());
        let r = post(
            addr,
            &t,
            "/api/awareness-training/campaign/get-user-data",
            json!({"meta": {"pagination": {"pageSize": 500}}, "data": [{"id": c["id"]}]}),
        )
        .await
        .json();
        assert_eq!(r["meta"]["pagination"]["totalCount"], c["numSent"]);
    }
    let phishing = post(
        addr,
        &t,
        "/api/awareness-training/phishing/campaign/get-campaign",
        json!({}),
    )
    .await
    .json();
    assert_eq!(phishing["data"].as_array().unwrap().len(), 2);
}
