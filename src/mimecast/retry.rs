//! The one send-with-retry routine, for `/oauth/token` and every `/api/...` call
//! alike, and its policy.
//!
//! Two budgets, kept apart:
//! - real failures (network errors, 5xx, truncated bodies, retryable `fail[]`) spend
//!   the `max_attempts` attempts, waiting with exponential backoff and jitter, or as
//!   long as a 5xx's `Retry-After` says;
//! - throttling (HTTP 429, and pacing while `X-RateLimit-Remaining` is low) spends no
//!   attempt: it is waited out as `Retry-After` / `X-RateLimit-Reset` say, up to
//!   `rate_limit_max_wait` in total per call.
//!
//! Redirects are never followed (see [`super::net`]): a 3xx is an error naming its
//! `Location`. Every error leaves through the connection's [`Redactor`], with the
//! request's own token or signature added to it.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, LOCATION};
use reqwest::StatusCode;
use tracing::{debug, debug_span, info, warn, Instrument};

use super::client::Client;
use super::error::{ApiError, FailError};
use super::net::{self, ReadError};
use super::throttle::retry_after;
use crate::backoff::{self, Backoff};
use crate::config::ConnectionConfig;

/// Which counter a request goes to, and whether it takes a concurrency permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Token,
    Api,
}

/// One answer, body read (at most `max_response_bytes`).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A failure worth another attempt.
pub(crate) enum Failure {
    Network(String),
    Status(u16),
    Malformed(String),
    Retryable(Vec<FailError>),
}

impl Failure {
    fn reason(&self) -> String {
        match self {
            Failure::Network(d) => d.clone(),
            Failure::Status(s) => format!("HTTP {s}"),
            Failure::Malformed(d) => format!("malformed body: {d}"),
            Failure::Retryable(errors) => errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        }
    }
}

/// What an exchange makes of one answer.
pub(crate) enum Verdict<T> {
    Done(T),
    Stop(ApiError),
    /// Try again, spending an attempt; with the server's wait when it gave one.
    Retry(Failure, Option<Duration>),
    /// Send again at once without spending an attempt (a renewed token).
    Again,
}

/// One kind of request: how to build it (fresh credentials each time) and what its
/// answers mean. 429 and 3xx never reach `judge`.
pub(crate) trait Exchange: Send {
    type Output;
    const KIND: Kind;
    fn url(&self) -> &str;
    fn request(&mut self) -> impl Future<Output = Result<reqwest::RequestBuilder, ApiError>> + Send;
    fn judge(&mut self, answer: Answer, attempt: u32) -> impl Future<Output = Verdict<Self::Output>> + Send;
    /// The error once attempts run out (or at once for a certificate refusal).
    fn exhausted(&self, failure: Failure, attempts: u32) -> ApiError;
}

/// The retry policy of one connection.
#[derive(Debug)]
pub(crate) struct Policy {
    pub max_attempts: u32,
    /// Waits between failed attempts: from `retry_backoff` up to 60 s.
    pub backoff: Backoff,
    /// The longest total wait for throttling in one call.
    pub rate_limit_max_wait: Duration,
}

impl Policy {
    pub fn new(cfg: &ConnectionConfig) -> Policy {
        Policy {
            max_attempts: cfg.max_attempts.max(1),
            backoff: Backoff::new(cfg.retry_backoff, Duration::from_secs(60)),
            rate_limit_max_wait: cfg.rate_limit_max_wait,
        }
    }

    /// Exponential backoff with jitter ([`Backoff::wait`]): base * 2^(attempt-1), at
    /// most the longest wait, scaled by a random factor in [0.5, 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.backoff.wait(attempt)
    }

    /// The wait before retrying a failure: the server's `Retry-After` plus up to a
    /// quarter of it at random (so callers turned away together do not all come back
    /// at the same instant), else the backoff; at most the longest wait.
    pub fn wait(&self, attempt: u32, header: Option<Duration>) -> Duration {
        match header {
            Some(w) => backoff::spread(w, 0.25).min(self.backoff.max),
            None => self.backoff(attempt),
        }
    }

    /// The wait before repeating a request answered 429 for the `nth` time: the
    /// server's time plus jitter, else the backoff, never under the base backoff;
    /// `None` when the server's time would take the call past `rate_limit_max_wait`.
    pub fn throttle_wait(&self, nth: u32, header: Option<Duration>, waited: Duration) -> Option<Duration> {
        let left = self.rate_limit_max_wait.checked_sub(waited).filter(|l| !l.is_zero())?;
        let wait = match header {
            Some(h) if h > left => return None,
            Some(h) => backoff::spread(h, 0.25),
            None => self.backoff(nth),
        };
        Some(wait.max(self.backoff.base).min(left))
    }
}

/// One call's throttling so far.
#[derive(Default)]
struct Throttle {
    answers: u32,
    waited: Duration,
    counted: bool,
}

/// Why one request got no answer to judge.
enum Sent {
    /// Worth another attempt.
    Failed(Failure),
    /// Not worth one (a refused certificate), reported like running out.
    Fatal(Failure),
    Stop(ApiError),
}

impl Client {
    /// Sends `x`'s request until it is done, fails for good, runs out of attempts or
    /// of throttling time. The only loop that sends, sleeps and retries.
    pub(super) async fn send<X: Exchange>(&self, mut x: X) -> Result<X::Output, ApiError> {
        let inner = &self.inner;
        let mut attempt: u32 = 0;
        let mut throttle = Throttle::default();
        loop {
            attempt += 1;
            let request = x
                .request()
                .await
                .and_then(|r| {
                    r.build()
                        .map_err(|e| self.setup(format!("cannot build the request: {e}")))
                })
                .map_err(|e| inner.redactor.error(e))?;
            let redactor = inner.redactor.with_headers(request.headers());
            let verdict = match self.transmit(X::KIND, x.url(), request, &mut throttle, attempt).await {
                Ok(answer) if answer.status == StatusCode::TOO_MANY_REQUESTS => {
                    inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    throttle.answers += 1;
                    let header = retry_after(&answer.headers);
                    match inner.policy.throttle_wait(throttle.answers, header, throttle.waited) {
                        Some(wait) => {
                            info!(connection = %inner.connection, url = x.url(), wait_ms = wait.as_millis() as u64, "rate-limited (HTTP 429); waiting");
                            inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(wait).await;
                            self.note_throttled(&mut throttle, wait);
                            attempt -= 1;
                            continue;
                        }
                        None => Verdict::Stop(ApiError::RateLimited {
                            connection: inner.connection.clone(),
                            url: x.url().to_owned(),
                            throttled: throttle.answers,
                            waited: throttle.waited,
                            max_wait: inner.policy.rate_limit_max_wait,
                        }),
                    }
                }
                Ok(answer) if answer.status.is_redirection() => Verdict::Stop(ApiError::Redirected {
                    connection: inner.connection.clone(),
                    url: x.url().to_owned(),
                    status: answer.status.as_u16(),
                    location: answer.headers.get(LOCATION).map_or_else(
                        || "nowhere (no Location header)".to_owned(),
                        |l| String::from_utf8_lossy(l.as_bytes()).into_owned(),
                    ),
                }),
                Ok(mut answer) => {
                    if !answer.status.is_success() {
                        // Error bodies are quoted in messages: no echoed secret survives.
                        answer.body = redactor.body(answer.body);
                    }
                    x.judge(answer, attempt).await
                }
                Err(Sent::Failed(failure)) => Verdict::Retry(failure, None),
                Err(Sent::Fatal(failure)) => Verdict::Stop(x.exhausted(failure, attempt)),
                Err(Sent::Stop(e)) => Verdict::Stop(e),
            };
            match verdict {
                Verdict::Done(output) => return Ok(output),
                Verdict::Stop(e) => return Err(redactor.error(e)),
                Verdict::Again => attempt -= 1,
                Verdict::Retry(failure, server_wait) => {
                    if attempt >= inner.policy.max_attempts {
                        return Err(redactor.error(x.exhausted(failure, attempt)));
                    }
                    let wait = inner.policy.wait(attempt, server_wait);
                    let reason = redactor.text(failure.reason());
                    warn!(connection = %inner.connection, url = x.url(), attempt, wait_ms = wait.as_millis() as u64, reason = %reason, "retrying");
                    inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One request: the concurrency permit (API calls), the pacer's slot, the
    /// exchange and the body, at most `max_response_bytes` of it.
    async fn transmit(
        &self,
        kind: Kind,
        url: &str,
        request: reqwest::Request,
        throttle: &mut Throttle,
        attempt: u32,
    ) -> Result<Answer, Sent> {
        let inner = &self.inner;
        let _permit = match kind {
            Kind::Api => Some(
                inner
                    .limiter
                    .acquire()
                    .await
                    .map_err(|_| Sent::Stop(self.setup("the request limiter was closed".into())))?,
            ),
            Kind::Token => None,
        };
        // Paced while holding the permit; the turn is held until the answer is in.
        let queued = Instant::now();
        let turn = inner.pacer.turn().await;
        let pause = inner.pacer.reserve(Instant::now());
        tokio::time::sleep(pause).await;
        if turn.is_some() {
            self.note_throttled(throttle, queued.elapsed());
        }
        let counter = match kind {
            Kind::Api => &inner.stats.requests,
            Kind::Token => &inner.stats.token_requests,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let span = debug_span!("http", connection = %inner.connection, url, attempt);
        async {
            debug!("POST");
            let network = |e: reqwest::Error| {
                let failure = Failure::Network(net::network_detail(&e));
                if net::is_certificate_error(&e) {
                    Sent::Fatal(failure)
                } else {
                    Sent::Failed(failure)
                }
            };
            let response = inner.http.execute(request).await.map_err(network)?;
            let status = response.status();
            let headers = response.headers().clone();
            debug!(status = status.as_u16(), "answered");
            inner.pacer.observe(&headers, Instant::now());
            let body = net::read_capped(response, inner.max_response_bytes)
                .await
                .map_err(|e| match e {
                    ReadError::TooLarge => Sent::Stop(ApiError::TooLarge {
                        connection: inner.connection.clone(),
                        url: url.to_owned(),
                        limit: inner.max_response_bytes,
                    }),
                    ReadError::Network(e) => network(e),
                })?;
            drop(turn);
            Ok(Answer { status, headers, body })
        }
        .instrument(span)
        .await
    }

    /// Counts time a call waited for the rate limit (the call once, the first time).
    fn note_throttled(&self, throttle: &mut Throttle, waited: Duration) {
        let ms = waited.as_millis() as u64;
        if ms == 0 {
            return;
        }
        let stats = &self.inner.stats;
        if !throttle.counted {
            throttle.counted = true;
            stats.throttled_calls.fetch_add(1, Ordering::Relaxed);
        }
        throttle.waited += waited;
        stats.throttle_wait_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub(super) fn setup(&self, detail: String) -> ApiError {
        ApiError::Setup {
            connection: self.inner.connection.clone(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(base_ms: u64, max_wait: Duration, rate_limit_max_wait: Duration) -> Policy {
        let mut cfg = ConnectionConfig::oauth2("t", "http://127.0.0.1:1", "id", "secret");
        cfg.retry_backoff = Duration::from_millis(base_ms);
        cfg.rate_limit_max_wait = rate_limit_max_wait;
        let mut p = Policy::new(&cfg);
        p.backoff.max = max_wait;
        p
    }

    #[test]
    fn throttling_waits_as_told_within_its_budget() {
        let p = policy(5, Duration::from_secs(60), Duration::from_secs(10));
        let secs = Duration::from_secs;
        // The server's time plus up to a quarter.
        for _ in 0..20 {
            let w = p.throttle_wait(1, Some(secs(2)), Duration::ZERO).unwrap();
            assert!(w >= secs(2) && w <= secs(2).mul_f64(1.25), "{w:?}");
        }
        // Jitter never takes a call past its budget; a time beyond it is refused.
        assert_eq!(p.throttle_wait(3, Some(secs(4)), secs(6)), Some(secs(4)));
        assert_eq!(p.throttle_wait(3, Some(secs(5)), secs(6)), None);
        assert_eq!(p.throttle_wait(3, None, secs(10)), None);
        assert_eq!(p.throttle_wait(3, None, secs(11)), None);
        // Without a header, the backoff (here at most the 5 ms base); a server that
        // says 0 still gets the base, never a busy loop.
        assert_eq!(p.throttle_wait(1, None, Duration::ZERO), Some(Duration::from_millis(5)));
        assert_eq!(
            p.throttle_wait(1, Some(Duration::ZERO), Duration::ZERO),
            Some(Duration::from_millis(5))
        );
        // Past max_wait when the server asks for it: throttling has its own budget.
        let long = policy(5, Duration::from_secs(1), Duration::from_secs(300));
        assert!(long.throttle_wait(1, Some(secs(90)), Duration::ZERO).unwrap() >= secs(90));
    }
}
