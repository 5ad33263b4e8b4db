//! A local Mimecast API simulator for tests, the demo and benchmarks.
//!
//! It serves `POST /oauth/token` and the `/api/...` endpoints the worker reads, on
//! one origin, as docs/mimecast-api.md describes them (§3, §4, §5, §7): the
//! `meta`/`data`/`fail` envelope, `meta.pagination` (`pageSize` = items returned,
//! `next` only while more remain, at most 500 per page), function-level `fail[]`
//! errors on HTTP 200, 401 `token_expired` after the token TTL, API 1.0 HMAC
//! signatures, 403 when Awareness Training is not licensed (by option, or because the
//! account lists no Awareness Training package), `X-RateLimit-*` headers
//! on every response and 429 with `Retry-After` when a credential's bucket is empty.
//! Fault knobs add per-page latency, random 5xx, truncated bodies and forced statuses.
//!
//! Where the real behaviour is unknown the simulator picks a shape and says so in a
//! comment (the OAuth2 error body, the 403 and 429 bodies).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use mimecast_graph::sim::{self, GenerateSpec, SimOptions};
//! let tenant = sim::generate(&GenerateSpec::default());
//! let server = sim::start(tenant, SimOptions::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("{}", server.base_url()); // http://127.0.0.1:PORT
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod churn;
mod directory;
mod generate;
mod limit;
mod rng;
mod roster;
mod server;
mod siem;
mod tenant;
mod threats;

#[cfg(test)]
mod tests;

pub use api::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use auth::sign_api1;
pub use churn::{apply as apply_churn, Churn, ChurnReport};
pub use generate::{
    external_addresses, generate, GenerateSpec, SpecError, AWARENESS_TRAINING_PACKAGE, DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET, TRAINING_NAMES,
};
pub use limit::{RateLimit, RateLimitError, UNLIMITED};
pub use rng::SplitMix64;
pub use roster::{alias_domain, demo_roster, group_of};
pub use server::TOKEN_PATH;
pub use siem::{LISTING_PATH as SIEM_LISTING_PATH, PERMISSION as SIEM_PERMISSION, TYPES as SIEM_TYPES};
pub use tenant::{Credential, Tenant, TenantError};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// How the simulator behaves. `Default` is a well-behaved tenant: 1799 s tokens,
/// no rate limit, no faults, Awareness Training licensed.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOptions {
    /// Lifetime of an access token; a data call after it gets 401 `token_expired`.
    pub token_ttl: Duration,
    /// Per-credential token bucket; `None` still sends the headers, with a large limit.
    pub rate_limit: Option<RateLimit>,
    /// Sleep before answering each page of a paged endpoint.
    pub page_latency: Duration,
    /// Share of authenticated `/api` calls answered 500 (0.0 to 1.0).
    pub error_rate: f64,
    /// Share of authenticated `/api` calls answered 200 with a truncated JSON body.
    pub malformed_rate: f64,
    /// Seed of the fault decisions (error and malformed rates).
    pub seed: u64,
    /// When false, every `/api/awareness-training/...` call gets 403 and
    /// `get-account` lists no Awareness Training package. A tenant whose account lists
    /// no such package gets the 403s whatever this says, as on Mimecast.
    pub awareness_training_licensed: bool,
    /// `(path, status)`: calls to `path` (an `/api/...` path or `/oauth/token`) are
    /// answered with `status` and an envelope body, after authentication.
    pub fail_paths: Vec<(String, u16)>,
    /// Page the lists documented without paging (domains, training and phishing
    /// campaigns) at this many items, with `next`, as some tenants might.
    pub list_page_size: Option<usize>,
    /// SIEM batch: events per listed file.
    pub siem_events_per_file: usize,
    /// SIEM batch: how long a listed file link is valid.
    pub siem_link_ttl: Duration,
    /// SIEM batch: the next this many file requests are answered 403, as an expired
    /// link is (counted down as they come).
    pub siem_expire_next_files: u32,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            token_ttl: Duration::from_secs(1799),
            rate_limit: None,
            page_latency: Duration::ZERO,
            error_rate: 0.0,
            malformed_rate: 0.0,
            seed: 1,
            awareness_training_licensed: true,
            fail_paths: Vec::new(),
            list_page_size: None,
            siem_events_per_file: 500,
            siem_link_ttl: Duration::from_secs(3600),
            siem_expire_next_files: 0,
        }
    }
}

/// What the simulator has seen since it started (or since [`SimServer::reset_stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// `/oauth/token` POSTs, good or bad.
    pub token_requests: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Requests per path, every method and outcome included.
    pub calls: BTreeMap<String, u64>,
    /// 429 responses sent.
    pub rate_limited: u64,
    /// 401 responses sent (token endpoint and `/api`).
    pub unauthorized: u64,
    /// 5xx responses sent (random and forced).
    pub server_errors: u64,
    /// Truncated bodies sent.
    pub malformed: u64,
    /// SIEM file requests that carried an `Authorization` header (refused: a file
    /// link must never receive the worker's token).
    pub siem_files_with_authorization: u64,
}

impl SimStats {
    /// Requests seen on `path`.
    pub fn calls_to(&self, path: &str) -> u64 {
        self.calls.get(path).copied().unwrap_or(0)
    }
}

/// A running simulator. Dropping it stops the server; [`SimServer::shutdown`] also
/// waits for it to finish.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Starts a simulator serving `tenant` on `addr` (port 0 picks a free port) on the
/// current tokio runtime.
///
/// The tenant is served as given; records it cannot route are skipped (use
/// [`Tenant::validate`] to report them).
///
/// # Errors
/// The address cannot be bound.
pub async fn start(tenant: Tenant, options: SimOptions, addr: SocketAddr) -> std::io::Result<SimServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(server::Shared::new(tenant, options));
    let app = axum::Router::new()
        .fallback(server::handle)
        .with_state(Arc::clone(&shared));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            warn!(error = %e, "simulator server stopped with an error");
        }
    });
    info!(url = %format!("http://{addr}"), "mimecast simulator listening");
    Ok(SimServer {
        addr,
        shared,
        stop: Some(stop),
        task: Some(task),
    })
}

impl SimServer {
    /// `http://127.0.0.1:PORT`: the API base URL, token endpoint included.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves another tenant from now on, at the same URL. Issued tokens stay valid.
    pub fn set_tenant(&self, tenant: Tenant) {
        self.shared.set_tenant(tenant);
    }

    pub fn options(&self) -> SimOptions {
        self.shared.options()
    }

    /// Replaces all options. A changed rate limit starts with full buckets; a changed
    /// seed restarts the fault sequence.
    pub fn set_options(&self, options: SimOptions) {
        self.shared.set_options(options);
    }

    /// Forces `(path, status)` answers from now on (empty to stop).
    pub fn set_fail_paths(&self, fail_paths: Vec<(String, u16)>) {
        self.shared.update_options(|o| o.fail_paths = fail_paths);
    }

    /// Licenses or unlicenses Awareness Training from now on.
    pub fn set_awareness_training_licensed(&self, licensed: bool) {
        self.shared.update_options(|o| o.awareness_training_licensed = licensed);
    }

    /// Makes every token issued so far expired, so tests reach the `token_expired`
    /// path without waiting for the TTL.
    pub fn expire_tokens(&self) {
        self.shared.expire_tokens();
    }

    pub fn stats(&self) -> SimStats {
        self.shared.stats()
    }

    pub fn reset_stats(&self) {
        self.shared.reset_stats();
    }

    /// Time since the last request (or since start).
    pub fn idle_for(&self) -> Duration {
        self.shared.idle_for()
    }

    /// Stops accepting connections and waits (at most 5 s) for open ones to finish.
    /// The data stays in memory until the server is dropped.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                task.abort();
            }
        }
    }

    /// [`SimServer::stop`], then frees everything.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
