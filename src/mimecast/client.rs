//! The client of one connection: its set-up, its counters and one typed method per
//! allowlisted endpoint. The request machinery is in the sibling modules (see the
//! layout in `mimecast/mod.rs`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{json, Value as Json};
use tokio::sync::{Mutex, Semaphore};
use tracing::warn;

use super::auth::Credentials;
use super::endpoints::Endpoint;
use super::envelope::Envelope;
use super::error::ApiError;
use super::net;
use super::paging::{all, items, Pages};
use super::records::{
    Account, AttachmentLog, AttachmentLogsPage, CampaignUserData, CampaignsPage, ClickLogsPage, ImpersonationLog,
    ImpersonationLogsPage, InternalDomain, InternalUser, PerformanceDetail, PhishingCampaign, PhishingUserData,
    SafeScore, TrainingCampaign, UrlClickLog, UsersPage, WatchlistDetail,
};
use super::redact::Redactor;
use super::retry::Policy;
use super::throttle::Pacer;
use crate::config::{AuthConfig, ConnectionConfig, Secret};

/// Counters for tests, benchmarks and the run summary.
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub token_requests: AtomicU64,
    pub reauthentications: AtomicU64,
    pub rate_limited: AtomicU64,
    pub throttled_calls: AtomicU64,
    pub throttle_wait_ms: AtomicU64,
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
    /// Calls (API or token) that waited for the rate limit: answered 429, or held
    /// back because `X-RateLimit-Remaining` was low. Each call counts once.
    pub throttled_calls: u64,
    /// Time those calls spent waiting for the rate limit, summed over calls (which
    /// overlap, so it can exceed the run's duration).
    pub throttle_wait_ms: u64,
}

/// A Mimecast API client for one connection. Cheap to clone; clones share the token,
/// the concurrency limit, the pacer and the counters.
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub connection: String,
    pub base_url: String,
    pub http: reqwest::Client,
    pub credentials: Credentials,
    pub page_size: u32,
    pub limiter: Semaphore,
    pub policy: Policy,
    pub pacer: Pacer,
    pub max_response_bytes: u64,
    /// The connection's credentials in every form; requests add their own token.
    pub redactor: Redactor,
    pub stats: Stats,
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
        if cfg.tls_insecure_skip_verify {
            warn!(connection = %cfg.name, "tls_insecure_skip_verify is on: Mimecast's certificate is not checked");
        }
        let http = net::http_client(cfg).map_err(setup)?;
        Ok(Client {
            inner: Arc::new(Inner {
                connection: cfg.name.clone(),
                base_url,
                http,
                redactor: Redactor::new(credentials.secrets()),
                credentials,
                page_size: cfg.page_size.clamp(1, 500),
                limiter: Semaphore::new(cfg.max_concurrent_requests.max(1)),
                policy: Policy::new(cfg),
                pacer: Pacer::new(),
                max_response_bytes: cfg.max_response_bytes.max(1),
                stats: Stats::default(),
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
        inner.policy.backoff = crate::backoff::Backoff::new(base, max_wait);
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
            throttled_calls: s.throttled_calls.load(Ordering::Relaxed),
            throttle_wait_ms: s.throttle_wait_ms.load(Ordering::Relaxed),
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

    /// `ttp/url/get-logs` for the window `from`..`to` (ISO date-times), oldest first,
    /// every route and scan result, page by page.
    pub fn ttp_url_logs(&self, from: &str, to: &str) -> Pages<UrlClickLog> {
        let p = json!({"from": ttp_time(from), "to": ttp_time(to), "oldestFirst": true, "route": "all", "scanResult": "all"});
        self.paged(Endpoint::GetTtpUrlLogs, Some(p), |pages: Vec<ClickLogsPage>| {
            pages.into_iter().flat_map(|p| p.click_logs).collect()
        })
    }

    /// `ttp/attachment/get-logs` for a window, oldest first, every route and result.
    pub fn ttp_attachment_logs(&self, from: &str, to: &str) -> Pages<AttachmentLog> {
        let p =
            json!({"from": ttp_time(from), "to": ttp_time(to), "oldestFirst": true, "route": "all", "result": "all"});
        self.paged(
            Endpoint::GetTtpAttachmentLogs,
            Some(p),
            |pages: Vec<AttachmentLogsPage>| pages.into_iter().flat_map(|p| p.attachment_logs).collect(),
        )
    }

    /// `ttp/impersonation/get-logs` for a window, oldest first, unfiltered.
    pub fn ttp_impersonation_logs(&self, from: &str, to: &str) -> Pages<ImpersonationLog> {
        let p = json!({"from": ttp_time(from), "to": ttp_time(to), "oldestFirst": true});
        self.paged(
            Endpoint::GetTtpImpersonationLogs,
            Some(p),
            |pages: Vec<ImpersonationLogsPage>| pages.into_iter().flat_map(|p| p.impersonation_logs).collect(),
        )
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
}

/// Mimecast's request form of a date-time, `2015-11-16T14:49:18+0000`; text that is
/// not a date-time is sent as it is (the API then names it).
pub(super) fn ttp_time(iso: &str) -> String {
    crate::time::parse(iso).map_or_else(|_| iso.to_owned(), |t| t.format("%Y-%m-%dT%H:%M:%S+0000").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let cfg = ConnectionConfig::oauth2("t", "http://127.0.0.1:1", "id", "secret");
        let c = Client::new(&cfg)
            .unwrap()
            .with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 1..=10 {
            let exp = Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(1));
            let w = c.inner.policy.backoff(attempt);
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
            c.inner
                .redactor
                .text("bad secret the-client-secret for the-client-id".into()),
            "bad secret [redacted] for [redacted]"
        );
    }
}
