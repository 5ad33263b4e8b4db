//! The client on the wire: no secret leaves its origin (redirects are refused, not
//! followed; echoed credentials and tokens never reach an error text), the proxy of
//! an environment-only connection, and the cap on one response body.

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use mimecast_graph::config::{AuthConfig, Config, ConnectionConfig, Secret};
use mimecast_graph::mimecast::{all, ApiError, Client};
use mimecast_graph::sim::SimOptions;
use serde_json::json;

use crate::helpers::{acme_connection, acme_tenant, start_sim};
use crate::local::{account_body, serve, with_token, Hits, Local};

/// A server whose `path` redirects (with `status`) to the same path on another
/// server, which counts whatever reaches it: where a followed redirect would land.
struct Redirecting {
    server: Local,
    hits: Hits,
    _other: Local,
    other_hits: Hits,
    location: String,
}

async fn redirecting(base: axum::Router, path: &'static str, status: StatusCode) -> Redirecting {
    let other_hits = Hits::default();
    let counted = other_hits.clone();
    let other = serve(axum::Router::new().fallback(move || {
        counted.hit();
        async { axum::Json(json!({"access_token": "stolen", "expires_in": 1799})) }
    }))
    .await;
    let location = format!("{}{path}", other.url);
    let to = location.clone();
    let hits = Hits::default();
    let counted = hits.clone();
    let app = base.route(
        path,
        post(move || {
            counted.hit();
            let to = to.clone();
            async move { (status, [("location", to)], "").into_response() }
        }),
    );
    Redirecting {
        server: serve(app).await,
        hits,
        _other: other,
        other_hits,
        location,
    }
}

impl Redirecting {
    /// The error of a client of this server, checked against the expected text.
    async fn refused_by(&self, path: &str, status: u16) -> Client {
        let c = Client::new(&ConnectionConfig::oauth2(
            "acme",
            &self.server.url,
            "id",
            "secret-value",
        ))
        .unwrap();
        let err = c.get_account().await.unwrap_err();
        assert!(
            matches!(&err, ApiError::Redirected { status: s, .. } if *s == status),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}{path} answered HTTP {status} redirecting to {} (connection acme); redirects are never followed, \
                 so credentials and tokens stay with their origin: set base_url (or region) to the host that serves the API itself",
                self.server.url, self.location
            )
        );
        // Asked once, never retried, and nothing went to the other server.
        assert_eq!((self.hits.count(), self.other_hits.count()), (1, 0));
        c
    }
}

#[tokio::test]
async fn a_redirected_token_request_is_not_followed() {
    let r = redirecting(axum::Router::new(), "/oauth/token", StatusCode::TEMPORARY_REDIRECT).await;
    let c = r.refused_by("/oauth/token", 307).await;
    assert_eq!((c.stats().token_requests, c.stats().requests), (1, 0));
}

#[tokio::test]
async fn a_redirected_api_call_is_not_followed() {
    let base = with_token("tok-redirect-0123456789");
    let r = redirecting(base, "/api/account/get-account", StatusCode::FOUND).await;
    let c = r.refused_by("/api/account/get-account", 302).await;
    assert_eq!((c.stats().requests, c.stats().retries), (1, 0));
}

const ECHO_TOKEN: &str = "echo-token-0123456789abcdef";
const ECHO_SECRET: &str = "s3cret/with+special=chars";

fn authorization(h: &HeaderMap) -> String {
    h.get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A server that quotes the request back in its errors, as some gateways do.
async fn echoing() -> Local {
    let app = with_token(ECHO_TOKEN)
        .route(
            "/api/account/get-account",
            post(|h: HeaderMap| async move {
                let body = json!({"fail": [{"code": "unauthorized", "message": format!("you sent {}", authorization(&h))}]});
                (StatusCode::UNAUTHORIZED, axum::Json(body))
            }),
        )
        .route(
            "/api/domain/get-internal-domain",
            post(|h: HeaderMap| async move { (StatusCode::FORBIDDEN, format!("you sent {}", authorization(&h))) }),
        )
        .route(
            "/api/user/get-internal-users",
            post(|h: HeaderMap| async move {
                let token = authorization(&h).trim_start_matches("Bearer ").to_owned();
                axum::Json(json!({"meta": {"status": 200}, "data": [],
                    "fail": [{"errors": [{"code": "err_echo", "message": format!("token {token}"), "retryable": false}]}]}))
            }),
        );
    serve(app).await
}

fn echo_client(url: &str) -> Client {
    Client::new(&ConnectionConfig::oauth2("echo", url, "echo-client-id", ECHO_SECRET)).unwrap()
}

const BEARER_HINT: &str = "The access token was refused (it is renewed on the next call); check that the API application is enabled, allowed the products used, and in this region";
const TOKEN_HINT: &str = "Check the client id and secret (mistyped, revoked or expired?) and the region: use the host of the application's region (global, us or uk) or set base_url";
const HMAC_HINT: &str =
    "Check the application id and key and the access and secret keys of the API 1.0 binding, and the 1.0 region host";

/// The text of a refusal (`ApiError::Auth`, HTTP 401) for connection echo.
fn refused(url: String, detail: &str, hint: &str) -> String {
    format!("Mimecast refused the credentials of connection echo at {url} (HTTP 401): {detail}. {hint}")
}

fn assert_clean(err: &ApiError, secrets: &[&str]) {
    let (text, debug) = (err.to_string(), format!("{err:?}"));
    for s in secrets {
        assert!(!text.contains(s) && !debug.contains(s), "{s:?} leaked: {debug}");
    }
}

#[tokio::test]
async fn echoed_bearer_tokens_never_reach_an_error() {
    let server = echoing().await;
    let c = echo_client(&server.url);
    let err = c.get_account().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        refused(
            format!("{}/api/account/get-account", server.url),
            "you sent [redacted] (unauthorized)",
            BEARER_HINT
        )
    );
    assert_clean(&err, &[ECHO_TOKEN]);
    let err = c.get_internal_domains().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Mimecast refused access to /api/domain/get-internal-domain for connection echo (HTTP 403: body \"you sent [redacted]\"). \
         Grant the API application's role Directories | Internal | Read"
    );
    assert_clean(&err, &[ECHO_TOKEN]);
    let err = all(c.internal_users("x.com")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Mimecast reported an error for /api/user/get-internal-users (connection echo): token [redacted] (err_echo)"
    );
    assert_clean(&err, &[ECHO_TOKEN]);
}

#[tokio::test]
async fn an_echoed_token_request_never_shows_the_client_secret() {
    let app = axum::Router::new().route(
        "/oauth/token",
        post(|body: String| async move { (StatusCode::UNAUTHORIZED, format!("bad request: {body}")) }),
    );
    let server = serve(app).await;
    let err = echo_client(&server.url).get_account().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        refused(
            format!("{}/oauth/token", server.url),
            "body \"bad request: client_id=[redacted]&client_secret=[redacted]&grant_type=client_credentials\"",
            TOKEN_HINT
        )
    );
    assert_clean(
        &err,
        &[ECHO_SECRET, "s3cret%2Fwith%2Bspecial%3Dchars", "echo-client-id"],
    );
}

#[tokio::test]
async fn echoed_api_1_0_signatures_and_keys_never_reach_an_error() {
    let server = echoing().await;
    let mut cfg = ConnectionConfig::oauth2("echo", &server.url, "unused", "unused");
    cfg.auth = AuthConfig::Hmac {
        app_id: Secret::literal("echo-app-id"),
        app_key: Secret::literal("echo-app-key"),
        access_key: Secret::literal("echo-access-key"),
        secret_key: Secret::literal("YWNtZS1zZWNyZXQta2V5LWJ5dGVz"),
    };
    let err = Client::new(&cfg).unwrap().get_account().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        refused(
            format!("{}/api/account/get-account", server.url),
            "you sent [redacted] (unauthorized)",
            HMAC_HINT
        )
    );
    assert_clean(&err, &["echo-access-key", "MC "]);
}

#[tokio::test]
async fn https_proxy_and_no_proxy_apply_to_the_environment_only_connection() {
    // The simulator stands in for the proxy: it answers a proxied request by its path.
    // mimecast.invalid never resolves, so only a request through the proxy succeeds.
    let sim = start_sim(acme_tenant("CPROXYENV1"), SimOptions::default()).await;
    let proxy = sim.base_url();
    let env = |no_proxy: Option<&'static str>| {
        let proxy = proxy.clone();
        move |k: &str| match k {
            "MIMECAST_CLIENT_ID" => Some("acme-client-id".to_owned()),
            "MIMECAST_CLIENT_SECRET" => Some("acme-client-secret-value".to_owned()),
            "MIMECAST_BASE_URL" => Some("http://mimecast.invalid".to_owned()),
            "HTTPS_PROXY" => Some(proxy.clone()),
            "NO_PROXY" => no_proxy.map(str::to_owned),
            _ => None,
        }
    };
    let connection = |no_proxy| {
        let config = Config::from_sources(None, None, &env(no_proxy)).unwrap();
        let mut c = config.connections[0].clone();
        c.max_attempts = 1;
        c.connect_timeout = std::time::Duration::from_secs(3);
        c
    };
    let c = Client::new(&connection(None)).unwrap();
    assert_eq!(c.get_account().await.unwrap().account_code, "CPROXYENV1");
    assert_eq!(sim.stats().calls_to("/api/account/get-account"), 1);

    let err = Client::new(&connection(Some("mimecast.invalid")))
        .unwrap()
        .get_account()
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Network { attempts: 1, .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "cannot reach Mimecast at http://mimecast.invalid/oauth/token for connection default after 1 attempts: "
        ),
        "{err}"
    );
    assert_eq!(sim.stats().calls_to("/oauth/token"), 1);
}

#[tokio::test]
async fn a_body_past_max_response_bytes_fails_naming_the_endpoint_and_the_cap() {
    let sim = start_sim(acme_tenant("CBIGBODY01"), SimOptions::default()).await;
    let mut cfg = acme_connection("acme", &sim);
    cfg.max_response_bytes = 1024;
    let c = Client::new(&cfg).unwrap();
    assert_eq!(c.get_account().await.unwrap().account_code, "CBIGBODY01");
    let err = all(c.internal_users("acme.com")).await.unwrap_err();
    assert!(matches!(err, ApiError::TooLarge { limit: 1024, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the response of {}/api/user/get-internal-users for connection acme is larger than max_response_bytes (1024 bytes); \
             reading stopped at the cap. Lower page_size or raise max_response_bytes",
            sim.base_url()
        )
    );
    // Not retried: the same page would be as large again.
    assert_eq!(sim.stats().calls_to("/api/user/get-internal-users"), 1);
}

#[tokio::test]
async fn an_endless_body_without_content_length_is_cut_at_the_cap() {
    let hits = Hits::default();
    let counted = hits.clone();
    let app = with_token("tok-endless-0123456789").route(
        "/api/account/get-account",
        post(move || {
            counted.hit();
            async {
                // 64 MiB in 1 KiB chunks, with no Content-Length.
                let chunks = futures::stream::iter(
                    (0..65_536).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from_static(&[b' '; 1024]))),
                );
                axum::body::Body::from_stream(chunks)
            }
        }),
    );
    let server = serve(app).await;
    let mut cfg = ConnectionConfig::oauth2("acme", &server.url, "id", "secret-value");
    cfg.max_response_bytes = 4096;
    let c = Client::new(&cfg).unwrap();
    let err = c.get_account().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the response of {}/api/account/get-account for connection acme is larger than max_response_bytes (4096 bytes); \
             reading stopped at the cap. Lower page_size or raise max_response_bytes",
            server.url
        )
    );
    assert_eq!((hits.count(), c.stats().requests), (1, 1));
}

#[tokio::test]
async fn a_body_within_the_cap_is_read_whole() {
    let app = with_token("tok-small-0123456789").route(
        "/api/account/get-account",
        post(|| async { axum::Json(account_body("CSMALL0001")) }),
    );
    let server = serve(app).await;
    let mut cfg = ConnectionConfig::oauth2("acme", &server.url, "id", "secret-value");
    cfg.max_response_bytes = 1024;
    assert_eq!(
        Client::new(&cfg).unwrap().get_account().await.unwrap().account_code,
        "CSMALL0001"
    );
}
