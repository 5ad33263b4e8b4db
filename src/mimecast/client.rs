//! The HTTP client: one typed `call()` for every endpoint, one pagination helper,
//! retries with backoff, one concurrency limit per connection.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{json, Value as Json};
use tokio::sync::{Mutex, Semaphore};
use tracing::{debug, debug_span, warn, Instrument};

use super::auth::{self, CachedToken, Credentials, TokenResponse};
use super::endpoints::Endpoint;
use super::envelope::{self, DecodeOutcome, Envelope};
use super::error::{ApiError, FailError, BEARER_HINT, HMAC_HINT, TOKEN_BODY_HINT, TOKEN_HINT};
use super::records::{
    Account, CampaignUserData, CampaignsPage, InternalDomain, InternalUser, ItemsPage, PerformanceDetail,
    PhishingCampaign, PhishingUserData, SafeScore, TrainingCampaign, UsersPage, WatchlistDetail,
};
use crate::config::{AuthConfig, ConnectionConfig, Secret};

/// A paged result: one `Vec` per page.
pub type Pages<T> = BoxStream<'static, Result<Vec<T>, ApiError>>;

/// Counters for tests, benchmarks and the run summary.
#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    retries: AtomicU64,
    token_requests: AtomicU64,
    reauthentications: AtomicU64,
    rate_limited: AtomicU64,
}

/// A snapshot of a client's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    /// HTTP requests to `/api/...`, retries included.
    pub requests: u64,
    /// Requests repeated after 429, 5xx, timeouts or malformed bodies.
    pub retries: u64,
    /// Requests to `/oauth/token`.
    pub token_requests: u64,
    /// Renewals after a `token_expired` 401.
    pub reauthentications: u64,
    /// 429 answers received.
    pub rate_limited: u64,
}

/// A Mimecast API client for one connection. Cheap to clone; clones share the token,
/// the concurrency limit and the counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    connection: String,
    base_url: String,
    http: reqwest::Client,
    credentials: Credentials,
    page_size: u32,
    max_attempts: u32,
    limiter: Semaphore,
    backoff_base: Duration,
    max_wait: Duration,
    stats: Stats,
    jitter: AtomicU64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.inner.credentials {
            Credentials::OAuth2 { .. } => "oauth2",
            Credentials::Hmac { .. } => "hmac",
        };
        f.debug_struct("Client")
            .field("connection", &self.inner.connection)
            .field("base_url", &self.inner.base_url)
            .field("auth", &mode)
            .finish_non_exhaustive()
    }
}

enum Retry {
    Network(String),
    Status(StatusCode, Option<Duration>),
    Malformed(String),
    Retryable(Vec<FailError>),
}

fn required(secret: &Secret, connection: &str) -> Result<SecretString, ApiError> {
    secret.value.clone().ok_or_else(|| ApiError::Setup {
        connection: connection.to_owned(),
        detail: format!("environment variable {} is not set", secret.env),
    })
}

impl Client {
    /// Builds a client from a validated connection configuration.
    ///
    /// # Errors
    /// [`ApiError::Setup`] for a missing secret, an unknown region or a bad proxy URL.
    pub fn new(cfg: &ConnectionConfig) -> Result<Client, ApiError> {
        let setup = |detail: String| ApiError::Setup {
            connection: cfg.name.clone(),
            detail,
        };
        let base_url = cfg
            .resolved_base_url()
            .ok_or_else(|| setup(format!("unknown region {:?}", cfg.region)))?;
        let credentials = match &cfg.auth {
            AuthConfig::OAuth2 {
                client_id,
                client_secret,
            } => Credentials::OAuth2 {
                client_id: required(client_id, &cfg.name)?,
                client_secret: required(client_secret, &cfg.name)?,
                cache: Mutex::new(None),
            },
            AuthConfig::Hmac {
                app_id,
                app_key,
                access_key,
                secret_key,
            } => Credentials::Hmac {
                app_id: required(app_id, &cfg.name)?,
                app_key: required(app_key, &cfg.name)?,
                access_key: required(access_key, &cfg.name)?,
                secret_key: required(secret_key, &cfg.name)?,
            },
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .user_agent(concat!("mimecast-graph/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(cfg.tls_insecure_skip_verify)
            .no_proxy();
        if let Some(proxy) = &cfg.proxy {
            let p = reqwest::Proxy::all(proxy.expose())
                .map_err(|e| {
                    let e = e.to_string().replace(proxy.expose(), &proxy.redacted());
                    setup(format!("invalid proxy {proxy:?}: {e}"))
                })?
                .no_proxy(reqwest::NoProxy::from_string(&no_proxy_list()));
            builder = builder.proxy(p);
        }
        if cfg.tls_insecure_skip_verify {
            warn!(connection = %cfg.name, "tls_insecure_skip_verify is on: Mimecast's certificate is not checked");
        }
        let http = builder
            .build()
            .map_err(|e| setup(format!("cannot build the HTTP client: {e}")))?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Ok(Client {
            inner: Arc::new(Inner {
                connection: cfg.name.clone(),
                base_url,
                http,
                credentials,
                page_size: cfg.page_size.clamp(1, 500),
                max_attempts: cfg.max_attempts.max(1),
                limiter: Semaphore::new(cfg.max_concurrent_requests.max(1)),
                backoff_base: cfg.retry_backoff,
                max_wait: Duration::from_secs(60),
                stats: Stats::default(),
                jitter: AtomicU64::new(seed),
            }),
        })
    }

    /// Shortens the retry waits (tests use milliseconds instead of seconds).
    ///
    /// # Panics
    /// When called on a client that has been cloned.
    #[must_use]
    pub fn with_backoff(mut self, base: Duration, max_wait: Duration) -> Client {
        let inner = Arc::get_mut(&mut self.inner).expect("with_backoff before the client is shared");
        inner.backoff_base = base;
        inner.max_wait = max_wait;
        self
    }

    pub fn connection(&self) -> &str {
        &self.inner.connection
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub fn stats(&self) -> ClientStats {
        let s = &self.inner.stats;
        ClientStats {
            requests: s.requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            token_requests: s.token_requests.load(Ordering::Relaxed),
            reauthentications: s.reauthentications.load(Ordering::Relaxed),
            rate_limited: s.rate_limited.load(Ordering::Relaxed),
        }
    }

    /// Obtains a token now (OAuth2), so a credential problem shows up on its own line;
    /// `false` for API 1.0, which signs each request instead.
    ///
    /// # Errors
    /// The token request is refused or unreachable.
    pub async fn check_token(&self) -> Result<bool, ApiError> {
        match self.inner.credentials {
            Credentials::OAuth2 { .. } => self.bearer().await.map(|_| true),
            Credentials::Hmac { .. } => Ok(false),
        }
    }

    // ---- typed endpoints ------------------------------------------------------------

    /// `account/get-account`.
    ///
    /// # Errors
    /// Any [`ApiError`]; an empty `data` is a decode error.
    pub async fn get_account(&self) -> Result<Account, ApiError> {
        let env = self.call::<Account>(Endpoint::GetAccount, &json!({"data": []})).await?;
        env.data.into_iter().next().ok_or_else(|| ApiError::Decode {
            connection: self.inner.connection.clone(),
            endpoint: Endpoint::GetAccount,
            detail: "data is empty: no account".into(),
        })
    }

    /// `domain/get-internal-domain`: every internal domain (documented without paging;
    /// a `next` is followed all the same).
    ///
    /// # Errors
    /// Any [`ApiError`].
    pub async fn get_internal_domains(&self) -> Result<Vec<InternalDomain>, ApiError> {
        all(self.listed(Endpoint::GetInternalDomain, |v| v)).await
    }

    /// `user/get-internal-users` for one domain, page by page.
    pub fn internal_users(&self, domain: &str) -> Pages<InternalUser> {
        self.paged(
            Endpoint::GetInternalUsers,
            Some(json!({"domain": domain})),
            |pages: Vec<UsersPage>| pages.into_iter().flat_map(|p| p.users).collect(),
        )
    }

    /// `awareness-training/campaign/get-campaigns` (documented for API 1.0, without
    /// paging; a `next` is followed all the same).
    ///
    /// # Errors
    /// Any [`ApiError`]; see [`ApiError::is_unavailable`].
    pub async fn get_training_campaigns(&self) -> Result<Vec<TrainingCampaign>, ApiError> {
        all(self.listed(Endpoint::GetCampaigns, |pages: Vec<CampaignsPage>| {
            pages.into_iter().flat_map(|p| p.campaigns).collect()
        }))
        .await
    }

    /// `awareness-training/campaign/get-user-data` for one campaign, page by page.
    pub fn training_campaign_user_data(&self, campaign_id: &str) -> Pages<CampaignUserData> {
        self.paged(Endpoint::GetCampaignUserData, Some(json!({"id": campaign_id})), items)
    }

    /// `awareness-training/phishing/campaign/get-campaign`: every phishing campaign
    /// (documented without paging; a `next` is followed all the same).
    ///
    /// # Errors
    /// Any [`ApiError`].
    pub async fn get_phishing_campaigns(&self) -> Result<Vec<PhishingCampaign>, ApiError> {
        all(self.listed(Endpoint::GetPhishingCampaign, |v| v)).await
    }

    /// `awareness-training/phishing/campaign/get-user-data` for one campaign.
    pub fn phishing_user_data(&self, campaign_id: &str) -> Pages<PhishingUserData> {
        self.paged(Endpoint::GetPhishingUserData, Some(json!({"id": campaign_id})), items)
    }

    /// `awareness-training/company/get-safe-score-details`.
    pub fn safe_score_details(&self) -> Pages<SafeScore> {
        self.paged(Endpoint::GetSafeScoreDetails, None, |v| v)
    }

    /// `awareness-training/company/get-performance-details`, with user details.
    pub fn performance_details(&self) -> Pages<PerformanceDetail> {
        self.paged(
            Endpoint::GetPerformanceDetails,
            Some(json!({"includeUserDetails": true})),
            |v| v,
        )
    }

    /// `awareness-training/company/get-watchlist-details`.
    pub fn watchlist_details(&self) -> Pages<WatchlistDetail> {
        self.paged(Endpoint::GetWatchlistDetails, None, |v| v)
    }

    /// Posts to a path given as text: the allowlist check for callers outside the
    /// typed methods. Anything not on the list is refused before any I/O.
    ///
    /// # Errors
    /// [`ApiError::NotAllowed`] for a path off the list; otherwise as the endpoint.
    pub async fn post_path(&self, path: &str, body: &Json) -> Result<Envelope<Json>, ApiError> {
        let endpoint = Endpoint::from_path(path).ok_or_else(|| ApiError::NotAllowed { path: path.to_owned() })?;
        self.call::<Json>(endpoint, body).await
    }

    // ---- the machinery --------------------------------------------------------------

    /// A list documented without paging: the first request is the documented
    /// `{"data": []}`, with no page size, and a `next` in the answer is followed so a
    /// tenant that pages it anyway loses nothing.
    fn listed<E, I, F>(&self, endpoint: Endpoint, unwrap: F) -> Pages<I>
    where
        E: DeserializeOwned + Send + 'static,
        I: Send + 'static,
        F: Fn(Vec<E>) -> Vec<I> + Send + Sync + 'static,
    {
        self.pages(endpoint, None, false, unwrap)
    }

    fn paged<E, I, F>(&self, endpoint: Endpoint, params: Option<Json>, unwrap: F) -> Pages<I>
    where
        E: DeserializeOwned + Send + 'static,
        I: Send + 'static,
        F: Fn(Vec<E>) -> Vec<I> + Send + Sync + 'static,
    {
        self.pages(endpoint, params, true, unwrap)
    }

    /// Follows `meta.pagination.next` until it is absent or a page is empty; a token
    /// seen before is an error, not a loop. `sized` sends the configured page size.
    fn pages<E, I, F>(&self, endpoint: Endpoint, params: Option<Json>, sized: bool, unwrap: F) -> Pages<I>
    where
        E: DeserializeOwned + Send + 'static,
        I: Send + 'static,
        F: Fn(Vec<E>) -> Vec<I> + Send + Sync + 'static,
    {
        struct State {
            token: Option<String>,
            seen: HashSet<String>,
            done: bool,
            received: i64,
            total: Option<i64>,
        }
        let client = self.clone();
        let unwrap = Arc::new(unwrap);
        let start = State {
            token: None,
            seen: HashSet::new(),
            done: false,
            received: 0,
            total: None,
        };
        futures::stream::try_unfold(start, move |mut st| {
            let client = client.clone();
            let params = params.clone();
            let unwrap = unwrap.clone();
            async move {
                if st.done {
                    return Ok(None);
                }
                let mut pagination = serde_json::Map::new();
                if sized {
                    pagination.insert("pageSize".into(), json!(client.inner.page_size));
                }
                if let Some(t) = &st.token {
                    pagination.insert("pageToken".into(), Json::String(t.clone()));
                }
                // Resend the same data with the token, as Sentinel and JupiterOne do.
                let mut body = json!({"data": params.into_iter().collect::<Vec<_>>()});
                if !pagination.is_empty() {
                    body["meta"] = json!({ "pagination": pagination });
                }
                let env = client.call::<E>(endpoint, &body).await?;
                let next = env.next_token().map(str::to_owned);
                if st.total.is_none() {
                    st.total = env.meta.pagination.as_ref().and_then(|p| p.total_count);
                }
                let page = unwrap(env.data);
                st.received += page.len() as i64;
                match next {
                    // An empty page ends paging even with a token (Elastic's mock does
                    // this), but not silently short of the announced total: the caller
                    // would otherwise take a truncated list for the whole.
                    Some(_) if page.is_empty() && st.total.is_some_and(|t| st.received < t) => {
                        return Err(ApiError::Truncated {
                            connection: client.inner.connection.clone(),
                            endpoint,
                            received: st.received,
                            total: st.total.unwrap_or_default(),
                        });
                    }
                    Some(t) if !page.is_empty() => {
                        if !st.seen.insert(t.clone()) {
                            return Err(ApiError::PaginationLoop {
                                connection: client.inner.connection.clone(),
                                endpoint,
                            });
                        }
                        st.token = Some(t);
                    }
                    _ => st.done = true,
                }
                Ok(Some((page, st)))
            }
        })
        .boxed()
    }

    /// One typed POST with auth, the concurrency limit and bounded retries.
    async fn call<E: DeserializeOwned>(&self, endpoint: Endpoint, body: &Json) -> Result<Envelope<E>, ApiError> {
        let inner = &self.inner;
        let url = format!("{}{}", inner.base_url, endpoint.path());
        let mut attempt: u32 = 0;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let (headers, generation) = self.auth_headers(endpoint.path()).await?;
            inner.stats.requests.fetch_add(1, Ordering::Relaxed);
            let sent = {
                let _permit = inner.limiter.acquire().await.map_err(|_| ApiError::Setup {
                    connection: inner.connection.clone(),
                    detail: "the request limiter was closed".into(),
                })?;
                let span = debug_span!("api_call", connection = %inner.connection, endpoint = endpoint.path(), attempt);
                async {
                    debug!("POST");
                    match inner.http.post(&url).headers(headers).json(body).send().await {
                        Ok(resp) => {
                            let status = resp.status();
                            let resp_headers = resp.headers().clone();
                            debug!(status = status.as_u16(), "answered");
                            resp.bytes().await.map(|b| (status, resp_headers, b))
                        }
                        Err(e) => Err(e),
                    }
                }
                .instrument(span)
                .await
            };
            let retry = match sent {
                Err(e) if is_certificate_error(&e) => {
                    return Err(self.exhausted(endpoint, &url, attempt, Retry::Network(network_detail(&e))))
                }
                Err(e) => Retry::Network(network_detail(&e)),
                Ok((status, headers, bytes)) => match status.as_u16() {
                    200..=299 => match envelope::decode::<E>(&bytes) {
                        Ok(env) => {
                            let errors = env.fail_errors();
                            if errors.is_empty() {
                                return Ok(env);
                            }
                            self.classify_fail(endpoint, errors, attempt)?
                        }
                        Err(DecodeOutcome::Fail(errors)) => self.classify_fail(endpoint, errors, attempt)?,
                        Err(DecodeOutcome::Shape(detail)) => {
                            return Err(ApiError::Decode {
                                connection: inner.connection.clone(),
                                endpoint,
                                detail,
                            })
                        }
                        Err(DecodeOutcome::Malformed(detail)) => Retry::Malformed(detail),
                    },
                    401 => {
                        let errors = envelope::error_body(&bytes);
                        let expired = errors
                            .iter()
                            .any(|e| e.code == "token_expired" || e.message.contains("Access Token Expired"));
                        if expired && !reauthenticated && generation.is_some() {
                            // One renewal and one retry, not counted as an attempt.
                            reauthenticated = true;
                            attempt -= 1;
                            inner.stats.reauthentications.fetch_add(1, Ordering::Relaxed);
                            self.invalidate_token(generation).await;
                            debug!(connection = %inner.connection, "token expired; renewing once");
                            continue;
                        }
                        // A refused token is not reused by later calls.
                        self.invalidate_token(generation).await;
                        let hint = match inner.credentials {
                            Credentials::Hmac { .. } => HMAC_HINT,
                            Credentials::OAuth2 { .. } => BEARER_HINT,
                        };
                        return Err(ApiError::Auth {
                            connection: inner.connection.clone(),
                            url: url.clone(),
                            status: 401,
                            detail: self.redact(envelope::describe_error(401, &bytes)),
                            hint,
                        });
                    }
                    403 => {
                        return Err(ApiError::Forbidden {
                            connection: inner.connection.clone(),
                            endpoint,
                            status: 403,
                            detail: self.redact(envelope::describe_error(403, &bytes)),
                        })
                    }
                    404 => {
                        return Err(ApiError::NotFound {
                            connection: inner.connection.clone(),
                            endpoint,
                        })
                    }
                    418 => {
                        return Err(ApiError::BindingExpired {
                            connection: inner.connection.clone(),
                        })
                    }
                    429 => {
                        inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                        Retry::Status(status, retry_after(&headers))
                    }
                    500..=599 => Retry::Status(status, retry_after(&headers)),
                    _ => {
                        let mut errors = envelope::error_body(&bytes);
                        if errors.is_empty() {
                            errors.push(FailError {
                                code: format!("http_{}", status.as_u16()),
                                message: self.redact(envelope::describe_error(status.as_u16(), &bytes)),
                                retryable: false,
                            });
                        }
                        return Err(ApiError::Fail {
                            connection: inner.connection.clone(),
                            endpoint,
                            errors,
                        });
                    }
                },
            };
            if attempt >= inner.max_attempts {
                return Err(self.exhausted(endpoint, &url, attempt, retry));
            }
            let wait = match &retry {
                Retry::Status(_, header) => self.wait(attempt, *header),
                _ => self.backoff(attempt),
            };
            let reason = match &retry {
                Retry::Network(d) => d.clone(),
                Retry::Status(s, _) => format!("HTTP {}", s.as_u16()),
                Retry::Malformed(d) => format!("malformed body: {d}"),
                Retry::Retryable(errors) => errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            };
            warn!(connection = %inner.connection, endpoint = endpoint.path(), attempt, wait_ms = wait.as_millis() as u64, reason = %reason, "retrying");
            inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }

    /// A 200 with `fail[]`: retry when Mimecast marks every error retryable.
    /// `err_developer_key` is known to be intermittent, so the first attempt retries it.
    fn classify_fail(&self, endpoint: Endpoint, errors: Vec<FailError>, attempt: u32) -> Result<Retry, ApiError> {
        let inner = &self.inner;
        let developer_key = errors.iter().any(|e| e.code == "err_developer_key");
        if developer_key && attempt == 1 && inner.max_attempts > 1 {
            return Ok(Retry::Retryable(errors));
        }
        if developer_key {
            return Err(ApiError::Auth {
                connection: inner.connection.clone(),
                url: format!("{}{}", inner.base_url, endpoint.path()),
                status: 200,
                detail: errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                hint: HMAC_HINT,
            });
        }
        if errors.iter().all(|e| e.retryable) {
            return Ok(Retry::Retryable(errors));
        }
        Err(ApiError::Fail {
            connection: inner.connection.clone(),
            endpoint,
            errors,
        })
    }

    fn exhausted(&self, endpoint: Endpoint, url: &str, attempts: u32, retry: Retry) -> ApiError {
        let connection = self.inner.connection.clone();
        match retry {
            Retry::Network(detail) => ApiError::Network {
                connection,
                url: url.to_owned(),
                detail,
                attempts,
            },
            Retry::Status(s, _) if s == StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited {
                connection,
                endpoint,
                attempts,
            },
            Retry::Status(s, _) => ApiError::Server {
                connection,
                endpoint,
                status: s.as_u16(),
                attempts,
            },
            Retry::Malformed(detail) => ApiError::Decode {
                connection,
                endpoint,
                detail: format!("malformed body on all {attempts} attempts: {detail}"),
            },
            Retry::Retryable(errors) => ApiError::Fail {
                connection,
                endpoint,
                errors,
            },
        }
    }

    /// Exponential backoff with jitter: base * 2^(attempt-1), at most `max_wait`,
    /// scaled by a random factor in [0.5, 1.0).
    fn backoff(&self, attempt: u32) -> Duration {
        let inner = &self.inner;
        let exp = inner
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)))
            .min(inner.max_wait);
        exp.mul_f64(0.5 + self.random_unit() * 0.5)
    }

    /// The wait before a retry: the server's `Retry-After` or `X-RateLimit-Reset` plus
    /// up to a quarter of it at random (so callers limited together do not all come
    /// back at the same instant), else the backoff; at most `max_wait`.
    fn wait(&self, attempt: u32, header: Option<Duration>) -> Duration {
        match header {
            Some(w) => w.mul_f64(1.0 + self.random_unit() * 0.25).min(self.inner.max_wait),
            None => self.backoff(attempt),
        }
    }

    /// A pseudo-random number in [0, 1): xorshift64 on one atomic state, advanced
    /// atomically so concurrent callers never share a value.
    fn random_unit(&self) -> f64 {
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let previous = self
            .inner
            .jitter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
            .unwrap_or_else(|x| x);
        (step(previous) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Headers for one request, and the token generation they used (OAuth2 only).
    async fn auth_headers(&self, path: &str) -> Result<(HeaderMap, Option<u64>), ApiError> {
        let inner = &self.inner;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let generation = match &inner.credentials {
            Credentials::OAuth2 { .. } => {
                let (token, generation) = self.bearer().await?;
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
                    ApiError::Setup {
                        connection: inner.connection.clone(),
                        detail: "the access token holds characters not allowed in a header".into(),
                    }
                })?;
                value.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, value);
                Some(generation)
            }
            Credentials::Hmac {
                app_id,
                app_key,
                access_key,
                secret_key,
            } => {
                let pairs = auth::hmac_headers(path, app_id, app_key, access_key, secret_key).map_err(|detail| {
                    ApiError::Setup {
                        connection: inner.connection.clone(),
                        detail,
                    }
                })?;
                for (name, v) in pairs {
                    let mut value = HeaderValue::from_str(&v).map_err(|_| ApiError::Setup {
                        connection: inner.connection.clone(),
                        detail: format!("a credential holds characters not allowed in the {name} header"),
                    })?;
                    value.set_sensitive(true);
                    headers.insert(name, value);
                }
                None
            }
        };
        Ok((headers, generation))
    }

    /// The cached token, fetched or renewed when due. The cache lock is held while a
    /// token is fetched, so concurrent calls wait for one request instead of each
    /// making their own.
    async fn bearer(&self) -> Result<(SecretString, u64), ApiError> {
        let Credentials::OAuth2 { cache, .. } = &self.inner.credentials else {
            unreachable!("bearer() is only called for OAuth2 credentials")
        };
        let mut cached = cache.lock().await;
        if let Some(t) = cached.as_ref() {
            if Instant::now() < t.renew_at {
                return Ok((t.value.clone(), t.generation));
            }
        }
        let generation = cached.as_ref().map_or(1, |t| t.generation + 1);
        let response = self.fetch_token().await?;
        let token = CachedToken {
            value: SecretString::from(response.access_token.clone()),
            renew_at: Instant::now() + response.renew_after(),
            generation,
        };
        let out = (token.value.clone(), generation);
        *cached = Some(token);
        Ok(out)
    }

    async fn invalidate_token(&self, generation: Option<u64>) {
        if let Credentials::OAuth2 { cache, .. } = &self.inner.credentials {
            let mut cached = cache.lock().await;
            if cached.as_ref().map(|t| t.generation) == generation {
                if let Some(t) = cached.as_mut() {
                    t.renew_at = Instant::now();
                }
            }
        }
    }

    /// `POST {base}/oauth/token` with the client credentials, form-encoded. Network
    /// errors, 429 and 5xx are retried; any other refusal is an auth error.
    async fn fetch_token(&self) -> Result<TokenResponse, ApiError> {
        let inner = &self.inner;
        let Credentials::OAuth2 {
            client_id,
            client_secret,
            ..
        } = &inner.credentials
        else {
            unreachable!("fetch_token() is only called for OAuth2 credentials")
        };
        let url = format!("{}/oauth/token", inner.base_url);
        let form = [
            ("client_id", client_id.expose_secret()),
            ("client_secret", client_secret.expose_secret()),
            ("grant_type", "client_credentials"),
        ];
        let mut attempt = 0;
        let mut last_status = None;
        loop {
            attempt += 1;
            inner.stats.token_requests.fetch_add(1, Ordering::Relaxed);
            let sent = match inner.http.post(&url).form(&form).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    resp.bytes().await.map(|b| (status, headers, b))
                }
                Err(e) => Err(e),
            };
            let (detail, wait) = match sent {
                Err(e) if is_certificate_error(&e) => {
                    return Err(ApiError::Network {
                        connection: inner.connection.clone(),
                        url,
                        detail: network_detail(&e),
                        attempts: attempt,
                    })
                }
                Err(e) => (network_detail(&e), None),
                Ok((status, _, bytes)) if status.is_success() => {
                    return serde_json::from_slice::<TokenResponse>(&bytes).map_err(|e| ApiError::Auth {
                        connection: inner.connection.clone(),
                        url,
                        status: status.as_u16(),
                        detail: format!("the token response has no usable access_token: {e}"),
                        hint: TOKEN_BODY_HINT,
                    });
                }
                Ok((status, headers, _)) if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => {
                    last_status = Some(status.as_u16());
                    (format!("HTTP {}", status.as_u16()), retry_after(&headers))
                }
                Ok((status, _, bytes)) => {
                    return Err(ApiError::Auth {
                        connection: inner.connection.clone(),
                        url,
                        status: status.as_u16(),
                        detail: self.redact(envelope::describe_error(status.as_u16(), &bytes)),
                        hint: TOKEN_HINT,
                    });
                }
            };
            if attempt >= inner.max_attempts {
                return Err(match last_status {
                    // The host answered: not a network problem.
                    Some(status) if detail.starts_with("HTTP") => ApiError::TokenUnavailable {
                        connection: inner.connection.clone(),
                        url,
                        status,
                        attempts: attempt,
                    },
                    _ => ApiError::Network {
                        connection: inner.connection.clone(),
                        url,
                        detail,
                        attempts: attempt,
                    },
                });
            }
            let wait = self.wait(attempt, wait);
            warn!(connection = %inner.connection, attempt, wait_ms = wait.as_millis() as u64, reason = %detail, "retrying the token request");
            tokio::time::sleep(wait).await;
        }
    }

    /// Removes any credential an error body might echo back.
    fn redact(&self, text: String) -> String {
        let secrets: Vec<&str> = match &self.inner.credentials {
            Credentials::OAuth2 {
                client_id,
                client_secret,
                ..
            } => vec![client_id.expose_secret(), client_secret.expose_secret()],
            Credentials::Hmac {
                app_key,
                access_key,
                secret_key,
                ..
            } => vec![
                app_key.expose_secret(),
                access_key.expose_secret(),
                secret_key.expose_secret(),
            ],
        };
        secrets
            .into_iter()
            .filter(|s| s.len() >= 4)
            .fold(text, |t, s| t.replace(s, "[redacted]"))
    }
}

fn items<T>(pages: Vec<ItemsPage<T>>) -> Vec<T> {
    pages.into_iter().flat_map(|p| p.items).collect()
}

/// Hosts that bypass the proxy: `NO_PROXY` (or `no_proxy`) and always this machine,
/// so a local simulator or gateway is reached directly behind a corporate proxy.
fn no_proxy_list() -> String {
    let from_env = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    [from_env.as_str(), "localhost", "127.0.0.1", "::1"]
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// `Retry-After` (seconds), else `X-RateLimit-Reset` (milliseconds).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    number("retry-after")
        .map(Duration::from_secs_f64)
        .or_else(|| number("x-ratelimit-reset").map(|ms| Duration::from_secs_f64(ms / 1000.0)))
}

/// What went wrong on the wire, in words a user can act on: reqwest's own message
/// ("client error (Connect)") says nothing, so the whole source chain is named, with
/// the usual causes first. reqwest's messages name the URL, never headers or bodies.
fn network_detail(e: &reqwest::Error) -> String {
    let chain = error_chain(e);
    let lower = chain.to_lowercase();
    let cause = if e.is_timeout() {
        "the request timed out (request_timeout_secs)"
    } else if is_certificate_error(e) {
        "the TLS certificate was not accepted (a TLS-inspecting proxy needs its CA in the system store; check base_url)"
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        "the host name did not resolve (check region or base_url, and DNS)"
    } else if lower.contains("connection refused") {
        "the connection was refused (nothing listens there; check base_url and the proxy)"
    } else if e.is_connect() {
        "the connection failed"
    } else {
        return chain;
    };
    format!("{cause}: {chain}")
}

/// The error and its sources, each distinct message once.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A certificate refusal does not heal on retry.
fn is_certificate_error(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string().to_lowercase();
        if text.contains("certificate") || text.contains("unknownissuer") {
            return true;
        }
        source = s.source();
    }
    false
}

/// Collects every page of a paged result.
///
/// # Errors
/// The first page that fails.
pub async fn all<T: Send + 'static>(pages: Pages<T>) -> Result<Vec<T>, ApiError> {
    pages.try_concat().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_seconds_then_reset_milliseconds() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("2500"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(2500)));
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let cfg = ConnectionConfig::oauth2("t", "http://127.0.0.1:1", "id", "secret");
        let c = Client::new(&cfg)
            .unwrap()
            .with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 1..=10 {
            let exp = Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(1));
            let w = c.backoff(attempt);
            assert!(
                w >= exp / 2 && w <= exp,
                "attempt {attempt}: {w:?} not in [{:?}, {exp:?}]",
                exp / 2
            );
        }
    }

    #[test]
    fn debug_shows_no_credentials() {
        let cfg = ConnectionConfig::oauth2("prod", "http://127.0.0.1:1", "the-client-id", "the-client-secret");
        let c = Client::new(&cfg).unwrap();
        let d = format!("{c:?}");
        assert_eq!(
            d,
            "Client { connection: \"prod\", base_url: \"http://127.0.0.1:1\", auth: \"oauth2\", .. }"
        );
    }

    #[test]
    fn redaction_removes_echoed_secrets() {
        let cfg = ConnectionConfig::oauth2("prod", "http://127.0.0.1:1", "the-client-id", "the-client-secret");
        let c = Client::new(&cfg).unwrap();
        assert_eq!(
            c.redact("bad secret the-client-secret for the-client-id".into()),
            "bad secret [redacted] for [redacted]"
        );
    }
}
