//! The HTTP side: one handler that authenticates, rate-limits, injects faults and
//! answers, adding Mimecast's headers to every response.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::Form;
use serde_json::json;
use tracing::debug;

use super::api::{self, Answer, Endpoint, Served};
use super::auth::{self, AuthHeaders, AuthProblem, TokenStore};
use super::limit::{Limiter, RateState};
use super::rng::SplitMix64;
use super::siem;
use super::{SimOptions, SimStats, Tenant};

mod batch;
use batch::{siem_file, siem_listing};

/// The token endpoint's path (not under `/api`).
pub const TOKEN_PATH: &str = "/oauth/token";

/// Request bodies above this are refused; real requests are a few hundred bytes.
const MAX_BODY: usize = 1 << 20;

/// Everything the handler shares, behind short-lived locks (never held across an await).
pub(crate) struct Shared {
    served: RwLock<Arc<Served>>,
    options: RwLock<SimOptions>,
    faults: Mutex<SplitMix64>,
    tokens: Mutex<TokenStore>,
    limiter: Mutex<Limiter>,
    stats: Mutex<SimStats>,
    last_request: Mutex<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take the simulator down with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(tenant: Tenant, options: SimOptions) -> Shared {
        Shared {
            served: RwLock::new(Arc::new(Served::from(tenant))),
            faults: Mutex::new(SplitMix64::new(options.seed)),
            limiter: Mutex::new(Limiter::new(options.rate_limit)),
            options: RwLock::new(options),
            tokens: Mutex::new(TokenStore::new()),
            stats: Mutex::new(SimStats::default()),
            last_request: Mutex::new(Instant::now()),
        }
    }

    pub fn set_tenant(&self, tenant: Tenant) {
        let served = Arc::new(Served::from(tenant));
        *self.served.write().unwrap_or_else(PoisonError::into_inner) = served;
    }

    pub fn options(&self) -> SimOptions {
        self.options.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces the options. A new rate limit starts with full buckets; a new seed
    /// restarts the fault sequence.
    pub fn set_options(&self, options: SimOptions) {
        let mut current = self.options.write().unwrap_or_else(PoisonError::into_inner);
        if current.rate_limit != options.rate_limit {
            *lock(&self.limiter) = Limiter::new(options.rate_limit);
        }
        if current.seed != options.seed {
            *lock(&self.faults) = SplitMix64::new(options.seed);
        }
        *current = options;
    }

    pub fn update_options(&self, f: impl FnOnce(&mut SimOptions)) {
        let mut o = self.options();
        f(&mut o);
        self.set_options(o);
    }

    pub fn expire_tokens(&self) {
        lock(&self.tokens).expire_all();
    }

    pub fn stats(&self) -> SimStats {
        lock(&self.stats).clone()
    }

    pub fn reset_stats(&self) {
        *lock(&self.stats) = SimStats::default();
    }

    pub fn idle_for(&self) -> Duration {
        lock(&self.last_request).elapsed()
    }

    fn served(&self) -> Arc<Served> {
        Arc::clone(&self.served.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// What a handler produced, before the common headers.
struct Reply {
    status: u16,
    body: Vec<u8>,
    rate: RateState,
    retry_after: Option<u64>,
}

impl Reply {
    fn new(answer: Answer, rate: RateState) -> Reply {
        Reply {
            status: answer.status,
            body: answer.body,
            rate,
            retry_after: None,
        }
    }
}

/// The single axum handler: every method and path comes here.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let started = Instant::now();
    *lock(&shared.last_request) = started;
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    *lock(&shared.stats).calls.entry(path.clone()).or_insert(0) += 1;

    let reply = if path == TOKEN_PATH {
        token(&shared, req).await
    } else if path == siem::LISTING_PATH {
        siem_listing(&shared, req).await
    } else if path.starts_with(siem::FILES_PREFIX) {
        siem_file(&shared, req, &path).await
    } else {
        api_call(&shared, req, &path).await
    };

    {
        let mut stats = lock(&shared.stats);
        match reply.status {
            401 => stats.unauthorized += 1,
            429 => stats.rate_limited += 1,
            s if s >= 500 => stats.server_errors += 1,
            _ => {}
        }
    }
    debug!(
        method = %method,
        path = %path,
        status = reply.status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    respond(reply)
}

fn respond(reply: Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    put("x-request-id", uuid::Uuid::new_v4().to_string());
    put("x-ratelimit-limit", reply.rate.limit.to_string());
    put("x-ratelimit-remaining", reply.rate.remaining.to_string());
    put("x-ratelimit-reset", reply.rate.reset_ms.to_string());
    if let Some(secs) = reply.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            h.insert(RETRY_AFTER, v);
        }
    }
    response
}

/// The OAuth2 error body. Its shape is invented (docs/mimecast-api.md §3.1: the real
/// body of a bad-credentials 401 is not known; `fail[].code/message` is what
/// clients read).
fn oauth_error(status: u16, code: &str, message: &str) -> Answer {
    Answer {
        status,
        body: json!({"fail": [{"code": code, "message": message}]})
            .to_string()
            .into_bytes(),
    }
}

fn forced_status(options: &SimOptions, path: &str) -> Option<u16> {
    options.fail_paths.iter().find(|(p, _)| p == path).map(|(_, s)| *s)
}

fn forced_answer(status: u16) -> Answer {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Simulated failure");
    Answer::error(
        status,
        &format!("err_http_{status}"),
        reason,
        status == 429 || status >= 500,
    )
}

/// A forced answer. A 503 says when to come back, as a 429 does; a 429 reports the
/// quota as spent, as a real one does (`X-RateLimit-Remaining: 0`, the reset in a
/// second, matching `Retry-After: 1`).
fn forced_reply(status: u16, rate: RateState) -> Reply {
    let rate = if status == 429 {
        RateState {
            remaining: 0,
            reset_ms: 1000,
            ..rate
        }
    } else {
        rate
    };
    let mut reply = Reply::new(forced_answer(status), rate);
    if status == 429 || status == 503 {
        reply.retry_after = Some(1);
    }
    reply
}

/// `POST /oauth/token`, form-encoded client credentials.
async fn token(shared: &Shared, req: Request) -> Reply {
    let options = shared.options();
    let anonymous = RateState::UNLIMITED;
    if req.method() != Method::POST {
        return Reply::new(oauth_error(405, "method_not_allowed", "Use POST"), anonymous);
    }
    lock(&shared.stats).token_requests += 1;
    if let Some(status) = forced_status(&options, TOKEN_PATH) {
        return forced_reply(status, anonymous);
    }
    let form = match Form::<HashMap<String, String>>::from_request(req, &()).await {
        Ok(Form(f)) => f,
        Err(e) => {
            return Reply::new(oauth_error(400, "invalid_request", &e.body_text()), anonymous);
        }
    };
    let field = |k: &str| form.get(k).map_or("", String::as_str);
    let client_id = field("client_id");
    let rate = lock(&shared.limiter).peek(client_id, Instant::now());
    if field("grant_type") != "client_credentials" {
        return Reply::new(
            oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials"),
            rate,
        );
    }
    let served = shared.served();
    if !auth::client_credentials_valid(&served.credentials, client_id, field("client_secret")) {
        return Reply::new(oauth_error(401, "invalid_client", "Invalid client credentials"), rate);
    }
    let ttl = options.token_ttl;
    let access_token = lock(&shared.tokens).issue(client_id, Instant::now(), ttl);
    lock(&shared.stats).tokens_issued += 1;
    let body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "scope": "",
    });
    Reply::new(
        Answer {
            status: 200,
            body: body.to_string().into_bytes(),
        },
        rate,
    )
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The response to a failed authentication, in the shape of the API generation
/// the caller used.
fn auth_failure(problem: &AuthProblem) -> Answer {
    // API 2.0 401s carry `fail[].code/message` directly (docs/mimecast-api.md §3.2), here
    // inside the usual envelope so every /api response has meta, data and fail.
    let flat = |code: &str, message: &str| Answer {
        status: 401,
        body: api::envelope(401, None, Vec::new(), vec![json!({"code": code, "message": message})]),
    };
    match problem {
        AuthProblem::UnknownToken => flat("token_verification_failed", "Unauthorized Request"),
        AuthProblem::ExpiredToken => flat("token_expired", "Access Token Expired"),
        // Recorded: HTTP 200, meta.status 200 (appId-auth-error).
        AuthProblem::UnknownAppId(app) => Answer {
            status: 200,
            body: api::envelope(
                200,
                None,
                Vec::new(),
                vec![api::fail_entry(
                    "err_developer_key",
                    &format!("App ID is invalid: {app}"),
                    false,
                )],
            ),
        },
        // Recorded: HTTP 401 (appKey-auth-error).
        AuthProblem::BadSignature => Answer::error(401, "err_xdk_invalid_signature", "0004 Invalid Signature", false),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Authenticates a request and charges its principal's rate limit: the quota left,
/// or the 401 or 429 to answer instead (the call is not run).
fn admit(
    shared: &Shared,
    auth_headers: &AuthHeaders<'_>,
    path: &str,
    served: &Served,
    options: &SimOptions,
    now: Instant,
) -> Result<RateState, Reply> {
    let principal = {
        let tokens = lock(&shared.tokens);
        auth::authenticate(auth_headers, path, &served.credentials, &tokens, now, options.token_ttl)
    };
    let principal = principal.map_err(|problem| Reply::new(auth_failure(&problem), RateState::UNLIMITED))?;
    lock(&shared.limiter).take(&principal, now).map_err(|rate| {
        // Body shape invented (docs/mimecast-api.md §4.5).
        let mut reply = Reply::new(Answer::error(429, "err_rate_limit", "Quota Exceeded", true), rate);
        reply.retry_after = Some(rate.retry_after_secs());
        reply
    })
}

/// A `POST /api/...` call.
async fn api_call(shared: &Shared, req: Request, path: &str) -> Reply {
    let anonymous = RateState::UNLIMITED;
    let Some(endpoint) = Endpoint::from_path(path) else {
        return Reply::new(Answer::error(404, "err_not_found", "Not Found", false), anonymous);
    };
    if req.method() != Method::POST {
        return Reply::new(
            Answer::error(405, "err_method_not_allowed", "Method Not Allowed", false),
            anonymous,
        );
    }
    let options = shared.options();
    let served = shared.served();
    let now = Instant::now();

    let headers = req.headers();
    let auth_headers = AuthHeaders {
        authorization: header(headers, "authorization"),
        app_id: header(headers, "x-mc-app-id"),
        date: header(headers, "x-mc-date"),
        request_id: header(headers, "x-mc-req-id"),
    };
    let rate = match admit(shared, &auth_headers, path, &served, &options, now) {
        Ok(rate) => rate,
        Err(reply) => return reply,
    };

    // Unlicensed by --at-unlicensed, or by an account that lists no package.
    let licensed = options.awareness_training_licensed && served.awareness_training;
    if endpoint.is_awareness_training() && !licensed {
        // Body invented (docs/mimecast-api.md §4.4): no source shows the real 403 body.
        return Reply::new(Answer::error(403, "err_forbidden", "Forbidden", false), rate);
    }

    // A role lacking the endpoint's permission (the tenant's `missing_permissions`).
    if let Some(permission) = endpoint.permission() {
        if served.missing_permissions.iter().any(|p| p == permission) {
            return Reply::new(Answer::error(403, "err_forbidden", "Forbidden", false), rate);
        }
    }

    if endpoint.is_paged() && !options.page_latency.is_zero() {
        tokio::time::sleep(options.page_latency).await;
    }

    if let Some(status) = forced_status(&options, path) {
        return forced_reply(status, rate);
    }

    let (fail, malformed) = {
        let mut rng = lock(&shared.faults);
        let roll = rng.next_f64();
        (
            roll < options.error_rate,
            roll >= options.error_rate && roll < options.error_rate + options.malformed_rate,
        )
    };
    if fail {
        return Reply::new(Answer::error(500, "err_internal", "Internal Server Error", true), rate);
    }

    let body = match to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return Reply::new(Answer::error(400, "err_request_body", &e.to_string(), false), rate);
        }
    };
    let answer = match api::parse_request(&body) {
        Ok(request) => api::answer(&served, endpoint, &request, licensed, options.list_page_size),
        Err(message) => Answer::error(400, "err_invalid_request", &message, false),
    };
    let mut reply = Reply::new(answer, rate);
    if malformed {
        lock(&shared.stats).malformed += 1;
        // Cut the body in half: never valid JSON, and looks like a dropped connection.
        let keep = reply.body.len() / 2;
        reply.body.truncate(keep);
    }
    reply
}
