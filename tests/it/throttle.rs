//! Throttling is waited out, not turned into a partial sync: a 429 spends none of the
//! attempts kept for real failures, waits as `Retry-After` / `X-RateLimit-Reset`
//! say within `rate_limit_max_wait`, and a low `X-RateLimit-Remaining` spaces
//! requests out before Mimecast has to refuse them. The summary reports it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use mimecast_graph::config::ConnectionConfig;
use mimecast_graph::mimecast::{ApiError, Client, ClientStats};
use mimecast_graph::sim::{RateLimit, SimOptions};
use mimecast_graph::sync::SyncStatus;
use serde_json::json;

use crate::client::quota_spent_by_another_worker;
use crate::collect::{ACME_ENTITIES, ACME_RELATIONSHIPS};
use crate::helpers::{acme_connection, acme_tenant, config_with, sink, start_sim, unique_account};
use crate::local::{account_body, serve, with_token, Hits};
use crate::sync::{node_counts, relationship_counts, sync};

fn owned(list: &[(&str, usize)]) -> Vec<(String, usize)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// The case: back-to-back syncs against `mimecast-sim --rate-limit 20/1`.
/// Page size 1 makes every sync about 60 calls, three times what a second allows,
/// and `max_attempts = 1` leaves no attempt for a 429 to spend: before, the first
/// 429 failed its step and the sync was partial.
#[tokio::test]
async fn five_syncs_at_20_calls_a_second_all_succeed_with_exact_counts() {
    let account = unique_account("THR");
    let options = SimOptions {
        rate_limit: Some("20/1".parse::<RateLimit>().unwrap()),
        ..SimOptions::default()
    };
    let sim = start_sim(acme_tenant(&account), options).await;
    let mut conn = acme_connection("acme", &sim);
    conn.page_size = 1;
    conn.max_attempts = 1;
    let config = config_with(vec![conn]);
    let s = sink().await;
    let mut total = ClientStats::default();
    for run in 1..=5 {
        let outcome = sync(&config).await;
        assert_eq!(outcome.status, SyncStatus::Success, "sync {run}: {}", outcome.human());
        assert_eq!(node_counts(&s, &account).await, owned(ACME_ENTITIES), "sync {run}");
        assert_eq!(
            relationship_counts(&s, &account).await,
            owned(ACME_RELATIONSHIPS),
            "sync {run}"
        );
        let collection = outcome.collection.as_ref().unwrap();
        let api = collection.tenants[0].api;
        // Reported per connection, in the human and the JSON summary alike.
        let line = format!(
            "\n    api: {} requests ({} retries), {} token requests; throttled: {} calls waited {:.1} s in all, {} answers of HTTP 429\n",
            api.requests,
            api.retries,
            api.token_requests,
            api.throttled_calls,
            api.throttle_wait_ms as f64 / 1000.0,
            api.rate_limited
        );
        assert!(outcome.human().contains(&line), "{}", outcome.human());
        let json = &outcome.to_json()["tenants"][0]["api"];
        assert_eq!(
            (json["throttled_calls"].as_u64(), json["throttle_wait_ms"].as_u64()),
            (Some(api.throttled_calls), Some(api.throttle_wait_ms))
        );
        // Every 429 was retried, and nothing else was.
        assert_eq!(api.retries, api.rate_limited, "sync {run}");
        eprintln!(
            "sync {run}: {} requests, {} answers of 429, {} calls throttled, {} ms waited",
            api.requests, api.rate_limited, api.throttled_calls, api.throttle_wait_ms
        );
        total.requests += api.requests;
        total.rate_limited += api.rate_limited;
        total.throttled_calls += api.throttled_calls;
        total.throttle_wait_ms += api.throttle_wait_ms;
    }
    let seen = sim.stats();
    let api_calls: u64 = seen
        .calls
        .iter()
        .filter(|(path, _)| path.starts_with("/api/"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!((total.requests, total.rate_limited), (api_calls, seen.rate_limited));
    // It was throttled, and it waited rather than failed.
    assert!(total.throttled_calls > 0 && total.throttle_wait_ms > 0, "{total:?}");
}

/// No attempt to spare: the 429 is waited out all the same.
#[tokio::test]
async fn a_429_spends_none_of_max_attempts() {
    let (sim, c) = quota_spent_by_another_worker("C429ATTEM1", 1).await;
    assert_eq!(c.get_internal_domains().await.unwrap().len(), 2);
    let s = c.stats();
    assert_eq!((s.requests, s.rate_limited, s.retries, s.throttled_calls), (2, 1, 1, 1));
    // Retry-After: 2 (the reset rounded up), plus at most a quarter.
    assert!((2000..=2500).contains(&s.throttle_wait_ms), "{s:?}");
    assert_eq!(sim.stats().rate_limited, 1);
}

/// The token endpoint is throttled too; its 429 is waited out like any other.
#[tokio::test]
async fn a_throttled_token_request_is_waited_out() {
    let hits = Hits::default();
    let token_hits = hits.clone();
    let app = axum::Router::new()
        .route(
            "/oauth/token",
            post(move || {
                let n = token_hits.hit();
                async move {
                    if n == 1 {
                        (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "{}").into_response()
                    } else {
                        axum::Json(json!({"access_token": "tok-after-429", "expires_in": 1799})).into_response()
                    }
                }
            }),
        )
        .route(
            "/api/account/get-account",
            post(|| async { axum::Json(account_body("CTOKEN4291")) }),
        );
    let server = serve(app).await;
    let mut cfg = ConnectionConfig::oauth2("acme", &server.url, "id", "secret-value");
    cfg.max_attempts = 1;
    let c = Client::new(&cfg).unwrap();
    assert_eq!(c.get_account().await.unwrap().account_code, "CTOKEN4291");
    let s = c.stats();
    assert_eq!(
        (s.token_requests, s.rate_limited, s.throttled_calls, s.requests),
        (2, 1, 1, 1)
    );
    assert!((1000..=1250).contains(&s.throttle_wait_ms), "{s:?}");
    assert_eq!(hits.count(), 2);
}

/// Throttling that outlasts `rate_limit_max_wait` fails the call, saying so.
#[tokio::test]
async fn throttling_past_rate_limit_max_wait_fails_naming_the_setting() {
    let options = SimOptions {
        fail_paths: vec![("/api/domain/get-internal-domain".into(), 429)],
        ..SimOptions::default()
    };
    let sim = start_sim(acme_tenant("C429BUDGT1"), options).await;
    let mut cfg = acme_connection("acme", &sim);
    cfg.rate_limit_max_wait = Duration::from_secs(2);
    let err = Client::new(&cfg).unwrap().get_internal_domains().await.unwrap_err();
    // Retry-After: 1 twice: about 1.1 s waited, and the second 1 s would not fit.
    let ApiError::RateLimited { throttled, waited, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(throttled, 2);
    assert!(
        waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1300),
        "{waited:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "Mimecast kept rate-limiting {}/api/domain/get-internal-domain for connection acme: 2 answers of HTTP 429 and {:.1} s waited, \
             and the next wait would pass rate_limit_max_wait_secs (2 s); lower max_concurrent_requests, raise rate_limit_max_wait_secs or run less often",
            sim.base_url(),
            waited.as_secs_f64()
        )
    );
    assert_eq!(sim.stats().calls_to("/api/domain/get-internal-domain"), 2);

    cfg.rate_limit_max_wait = Duration::ZERO;
    let err = Client::new(&cfg).unwrap().get_internal_domains().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Mimecast kept rate-limiting {}/api/domain/get-internal-domain for connection acme: 1 answers of HTTP 429 and 0.0 s waited, \
             and the next wait would pass rate_limit_max_wait_secs (0 s); lower max_concurrent_requests, raise rate_limit_max_wait_secs or run less often",
            sim.base_url()
        )
    );
}

/// A server that answers `get-account` with these rate-limit headers and records
/// when each request arrived.
async fn quota_server(
    headers: &'static [(&'static str, &'static str)],
) -> (crate::local::Local, Arc<Mutex<Vec<Instant>>>) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let app = with_token("tok-quota").route(
        "/api/account/get-account",
        post(move || {
            seen.lock().unwrap().push(Instant::now());
            async move {
                let mut response = axum::Json(account_body("CQUOTA0001")).into_response();
                for (k, v) in headers {
                    response.headers_mut().insert(*k, v.parse().unwrap());
                }
                response
            }
        }),
    );
    (serve(app).await, arrivals)
}

#[tokio::test]
async fn a_spent_quota_spaces_requests_out_before_any_429() {
    let (server, arrivals) = quota_server(&[
        ("x-ratelimit-limit", "10"),
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", "300"),
    ])
    .await;
    let c = Client::new(&ConnectionConfig::oauth2("acme", &server.url, "id", "secret-value")).unwrap();
    for _ in 0..3 {
        c.get_account().await.unwrap();
    }
    let at = arrivals.lock().unwrap().clone();
    assert_eq!(at.len(), 3);
    for pair in at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(300), "{gap:?}");
    }
    let s = c.stats();
    assert_eq!((s.requests, s.rate_limited, s.throttled_calls), (3, 0, 2));
    // Two waits of about the 300 ms reset each: less the time the client took to send
    // again, plus the timer's lateness on a busy machine (measured, not computed), so
    // the bound is the two resets with room for that lateness, far from the 300 s cap.
    assert!((1..=900).contains(&s.throttle_wait_ms), "{s:?}");
}

#[tokio::test]
async fn without_rate_limit_headers_nothing_waits() {
    let (server, arrivals) = quota_server(&[]).await;
    let c = Client::new(&ConnectionConfig::oauth2("acme", &server.url, "id", "secret-value")).unwrap();
    for _ in 0..3 {
        c.get_account().await.unwrap();
    }
    assert_eq!(arrivals.lock().unwrap().len(), 3);
    let s = c.stats();
    assert_eq!(
        (s.requests, s.rate_limited, s.throttled_calls, s.throttle_wait_ms),
        (3, 0, 0, 0)
    );
}

#[test]
fn config_check_shows_the_throttling_budget_and_the_body_cap() {
    let text = "[[connection]]\nname = \"prod\"\nrate_limit_max_wait_secs = 120\nmax_response_bytes = 1048576\nproxy = \"http://u:p@proxy:3128\"\n";
    let config = mimecast_graph::config::Config::from_sources(None, Some(text), &|_| None).unwrap();
    let described = mimecast_graph::cli::render::describe(&config);
    assert!(
        described.contains(
            "\n  requests: 4 at a time, 5 attempts on failures (first wait 500 ms), throttling waited out up to 120 s per call \
             (rate_limit_max_wait_secs), responses up to 1048576 bytes (max_response_bytes), proxy http://***@proxy:3128\n"
        ),
        "{described}"
    );
}
