//! The simulator over real HTTP: a minimal HTTP/1.1 client on a plain TCP stream,
//! so these tests depend on nothing the worker's own client does.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;

struct HttpReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One request on a fresh connection (`Connection: close`), read to the end.
async fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpReply {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let request = format!("{head}\r\n{body}");
    let raw = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v == "chunked") {
        body = dechunk(&body);
    }
    HttpReply { status, headers, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 4 + size..];
    }
}

async fn token(addr: SocketAddr, id: &str, secret: &str) -> HttpReply {
    let form = format!("client_id={id}&client_secret={secret}&grant_type=client_credentials");
    http(
        addr,
        "POST",
        "/oauth/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    )
    .await
}

async fn access_token(addr: SocketAddr) -> String {
    let r = token(addr, "cid", "csecret").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["access_token"].as_str().unwrap().to_owned()
}

async fn post(addr: SocketAddr, token: &str, path: &str, body: Value) -> HttpReply {
    let auth = format!("Bearer {token}");
    http(
        addr,
        "POST",
        path,
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        &body.to_string(),
    )
    .await
}

const SECRET_KEY: &str = "c2VjcmV0LWtleS1ieXRlcw==";

fn tenant(users: usize) -> Tenant {
    let users = (0..users)
        .map(|i| json!({"name": format!("User {i}"), "emailAddress": format!("user{i:05}@big.example.com"), "domain": "big.example.com", "alias": false, "addressType": "created_manually", "source": "cloud"}))
        .collect();
    Tenant {
        credentials: vec![
            Credential::OAuth2 {
                client_id: "cid".into(),
                client_secret: "csecret".into(),
            },
            Credential::Hmac {
                app_id: "app-1".into(),
                app_key: "appkey-1".into(),
                access_key: "access-1".into(),
                secret_key: SECRET_KEY.into(),
            },
        ],
        account: json!({"accountCode": "CUSA99Z999", "packages": ["Mimecast Platform [1033]", AWARENESS_TRAINING_PACKAGE]}),
        domains: vec![
            json!({"id": "eNoBig", "domain": "big.example.com", "sendOnly": false, "local": false, "inboundType": "known"}),
        ],
        users,
        training_campaigns: vec![
            json!({"id": "eNqC1", "name": "HIPAA 101", "user_data": [{"email": "User00001@big.example.com", "results": {"forQuestion1": "CORRECT"}}]}),
        ],
        safe_scores: vec![json!({"emailAddress": "user00001@big.example.com", "risk": "B"})],
        ..Tenant::default()
    }
}

async fn start_with(t: Tenant, options: SimOptions) -> SimServer {
    start(t, options, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

const USERS: &str = "/api/user/get-internal-users";
const ACCOUNT: &str = "/api/account/get-account";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_1234_users_as_500_500_234_over_http() {
    let sim = start_with(tenant(1234), SimOptions::default()).await;
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    let addr = sim.local_addr();
    let t = access_token(addr).await;

    let mut body = json!({"meta": {"pagination": {"pageSize": 500}}, "data": [{"domain": "big.example.com"}]});
    let mut sizes = Vec::new();
    let mut nexts = Vec::new();
    loop {
        let r = post(addr, &t, USERS, body.clone()).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(r.header("x-request-id").is_some_and(|v| v.len() == 36));
        assert_eq!(r.header("x-ratelimit-limit"), Some("1000000"));
        assert!(r.header("x-ratelimit-remaining").is_some() && r.header("x-ratelimit-reset").is_some());
        let v = r.json();
        assert_eq!(v["fail"], json!([]));
        assert_eq!(v["meta"]["status"], 200);
        assert_eq!(v["meta"]["pagination"]["totalCount"], 1234);
        assert_eq!(v["data"][0]["userCount"], 1234);
        sizes.push(v["data"][0]["users"].as_array().unwrap().len());
        let next = v["meta"]["pagination"]["next"].as_str().map(str::to_owned);
        nexts.push(next.is_some());
        match next {
            Some(n) => body["meta"]["pagination"]["pageToken"] = n.into(),
            None => break,
        }
    }
    assert_eq!(sizes, vec![500, 500, 234]);
    assert_eq!(nexts, vec![true, true, false]);
    let stats = sim.stats();
    assert_eq!((stats.token_requests, stats.tokens_issued), (1, 1));
    assert_eq!(stats.calls_to(USERS), 3);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_checks_credentials_and_grant() {
    let sim = start_with(tenant(1), SimOptions::default()).await;
    let addr = sim.local_addr();
    let ok = token(addr, "cid", "csecret").await;
    let v = ok.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 1799);
    assert_eq!(v["scope"], "");
    assert!(v["access_token"].as_str().unwrap().len() >= 32);

    let bad = token(addr, "cid", "wrong").await;
    assert_eq!(bad.status, 401);
    assert_eq!(
        bad.json(),
        json!({"fail": [{"code": "invalid_client", "message": "Invalid client credentials"}]})
    );
    let grant = http(
        addr,
        "POST",
        "/oauth/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "client_id=cid&client_secret=csecret&grant_type=password",
    )
    .await;
    assert_eq!(grant.status, 400);
    assert_eq!(grant.json()["fail"][0]["code"], "unsupported_grant_type");
    let stats = sim.stats();
    assert_eq!(
        (stats.token_requests, stats.tokens_issued, stats.unauthorized),
        (3, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_after_the_ttl() {
    let options = SimOptions {
        token_ttl: Duration::from_millis(300),
        ..SimOptions::default()
    };
    let sim = start_with(tenant(1), options).await;
    let addr = sim.local_addr();
    let t = access_token(addr).await;
    assert_eq!(post(addr, &t, ACCOUNT, json!({"data": []})).await.status, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let expired = post(addr, &t, ACCOUNT, json!({"data": []})).await;
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.json(),
        json!({"meta": {"status": 401}, "data": [], "fail": [{"code": "token_expired", "message": "Access Token Expired"}]})
    );
    let unknown = post(addr, "never-issued", ACCOUNT, json!({})).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["fail"][0]["code"], "token_verification_failed");
    assert_eq!(unknown.json()["fail"][0]["message"], "Unauthorized Request");

    // expire_tokens() reaches the same path without waiting.
    sim.set_options(SimOptions::default());
    let t = access_token(addr).await;
    assert_eq!(post(addr, &t, ACCOUNT, json!({})).await.status, 200);
    sim.expire_tokens();
    let r = post(addr, &t, ACCOUNT, json!({})).await;
    assert_eq!(r.json()["fail"][0]["code"], "token_expired");
    assert_eq!(sim.stats().unauthorized, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_bucket_gives_429_with_retry_after() {
    let options = SimOptions {
        rate_limit: Some(RateLimit {
            calls: 2,
            window: Duration::from_secs(60),
        }),
        ..SimOptions::default()
    };
    let sim = start_with(tenant(1), options).await;
    let addr = sim.local_addr();
    let t = access_token(addr).await;
    let first = post(addr, &t, ACCOUNT, json!({})).await;
    assert_eq!(first.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));
    let second = post(addr, &t, ACCOUNT, json!({})).await;
    assert_eq!(second.header("x-ratelimit-remaining"), Some("0"));
    let limited = post(addr, &t, ACCOUNT, json!({})).await;
    assert_eq!(limited.status, 429);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((29..=30).contains(&retry), "{retry}");
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    let reset: u64 = limited.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > 28_000 && reset <= 30_000, "{reset}");
    assert_eq!(
        limited.json(),
        json!({"meta": {"status": 429}, "data": [], "fail": [{"errors": [{"code": "err_rate_limit", "message": "Quota Exceeded", "retryable": true}]}]})
    );
    assert_eq!(sim.stats().rate_limited, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlicensed_awareness_training_is_403() {
    let options = SimOptions {
        awareness_training_licensed: false,
        ..SimOptions::default()
    };
    let sim = start_with(tenant(1), options).await;
    let addr = sim.local_addr();
    let t = access_token(addr).await;
    let r = post(
        addr,
        &t,
        "/api/awareness-training/company/get-safe-score-details",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"meta": {"status": 403}, "data": [], "fail": [{"errors": [{"code": "err_forbidden", "message": "Forbidden", "retryable": false}]}]})
    );
    let account = post(addr, &t, ACCOUNT, json!({})).await.json();
    assert_eq!(account["data"][0]["packages"], json!(["Mimecast Platform [1033]"]));

    sim.set_awareness_training_licensed(true);
    let r = post(
        addr,
        &t,
        "/api/awareness-training/company/get-safe-score-details",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"][0]["risk"], "B");
}

/// A tenant file whose account lists no Awareness Training package is served as
/// Mimecast serves such a tenant: 403 on every Awareness Training endpoint, the
/// directory as usual, whatever `awareness_training_licensed` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_file_without_the_package_gets_403_on_awareness_training() {
    let mut t = tenant(1);
    t.account = json!({"accountCode": "CUSA99Z999", "packages": ["Mimecast Platform [1033]"]});
    let file = tempfile::Builder::new()
        .prefix("sim-no-at-")
        .suffix(".json")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), serde_json::to_string(&t).unwrap()).unwrap();
    let from_file = Tenant::from_path(file.path()).unwrap();
    assert!(!from_file.lists_awareness_training());
    let sim = start_with(from_file, SimOptions::default()).await;
    let addr = sim.local_addr();
    let t = access_token(addr).await;
    for path in [
        "/api/awareness-training/company/get-safe-score-details",
        "/api/awareness-training/campaign/get-campaigns",
        "/api/awareness-training/phishing/campaign/get-campaign",
    ] {
        let r = post(addr, &t, path, json!({})).await;
        assert_eq!(r.status, 403, "{path}");
        assert_eq!(
            r.json(),
            json!({"meta": {"status": 403}, "data": [], "fail": [{"errors": [{"code": "err_forbidden", "message": "Forbidden", "retryable": false}]}]})
        );
    }
    let r = post(addr, &t, "/api/domain/get-internal-domain", json!({"data": []})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"][0]["domain"], "big.example.com");
    let account = post(addr, &t, ACCOUNT, json!({})).await.json();
    assert_eq!(account["data"][0]["packages"], json!(["Mimecast Platform [1033]"]));
}

/// TTP logs over HTTP: the window, the wrapper and paging; a missing permission in
/// the tenant answers 403 on that log only, and the AT licence does not gate them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttp_logs_are_served_and_a_missing_permission_is_403() {
    let mut t = tenant(1);
    t.url_logs = (0..3)
        .map(|i| json!({"date": format!("2026-11-2{i}T10:00:00+0000"), "userEmailAddress": "user00000@big.example.com", "url": format!("https://bad.example.net/{i}")}))
        .collect();
    t.impersonation_logs = vec![
        json!({"id": "imp-1", "eventTime": "2026-11-21T10:00:00+0000", "recipientAddress": "user00000@big.example.com"}),
    ];
    t.missing_permissions = vec!["Monitoring | Attachment Protection | Read".into()];
    t.validate().unwrap();
    let options = SimOptions {
        awareness_training_licensed: false,
        ..SimOptions::default()
    };
    let sim = start_with(t.clone(), options).await;
    let addr = sim.local_addr();
    let token = access_token(addr).await;
    let window = json!({"from": "2026-11-20T00:00:00+0000", "to": "2026-11-23T00:00:00+0000", "oldestFirst": true});
    let r = post(
        addr,
        &token,
        "/api/ttp/url/get-logs",
        json!({"meta": {"pagination": {"pageSize": 2}}, "data": [window]}),
    )
    .await;
    assert_eq!(r.status, 200);
    let page = r.json();
    assert_eq!(page["data"][0]["clickLogs"][0]["url"], "https://bad.example.net/0");
    assert_eq!(page["data"][0]["clickLogs"][1]["url"], "https://bad.example.net/1");
    assert_eq!(page["meta"]["pagination"]["totalCount"], 3);
    let next = page["meta"]["pagination"]["next"].as_str().unwrap();
    let r = post(
        addr,
        &token,
        "/api/ttp/url/get-logs",
        json!({"meta": {"pagination": {"pageSize": 2, "pageToken": next}}, "data": [window]}),
    )
    .await;
    assert_eq!(r.json()["data"][0]["clickLogs"], json!([t.url_logs[2]]));
    let r = post(
        addr,
        &token,
        "/api/ttp/impersonation/get-logs",
        json!({"data": [window]}),
    )
    .await;
    assert_eq!(r.json()["data"][0]["impersonationLogs"][0]["id"], "imp-1");
    let r = post(addr, &token, "/api/ttp/attachment/get-logs", json!({"data": [window]})).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"meta": {"status": 403}, "data": [], "fail": [{"errors": [{"code": "err_forbidden", "message": "Forbidden", "retryable": false}]}]})
    );
    // The permission granted (a new tenant file): the same call answers.
    t.missing_permissions.clear();
    sim.set_tenant(t);
    let r = post(addr, &token, "/api/ttp/attachment/get-logs", json!({"data": [window]})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"], json!([{"attachmentLogs": []}]));
}

mod faults;
