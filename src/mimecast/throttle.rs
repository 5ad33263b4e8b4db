//! Rate limits (docs/mimecast-api.md §4.5): what `Retry-After` and the
//! `X-RateLimit-*` headers say, and the pacer that spaces requests out when
//! `X-RateLimit-Remaining` runs low, before Mimecast has to answer 429. None of the
//! headers is required: Mimecast may send them only once over the limit.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// Pacing starts when fewer than this share of `X-RateLimit-Limit` calls remain...
const LOW_SHARE: f64 = 0.1;

/// ...and stops once this share remains again (a gap between the two, so pacing at
/// the quota's own rate does not flip on and off with every answer).
const RECOVERED_SHARE: f64 = 0.5;

/// No header makes one request wait longer than this for its slot.
const MAX_GAP: Duration = Duration::from_secs(60);

fn number(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// `Retry-After` (seconds), else `X-RateLimit-Reset` (milliseconds).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    number(headers, "retry-after")
        .map(Duration::from_secs_f64)
        .or_else(|| reset(headers))
}

/// `X-RateLimit-Reset`: milliseconds until a call is added back.
fn reset(headers: &HeaderMap) -> Option<Duration> {
    number(headers, "x-ratelimit-reset").map(|ms| Duration::from_secs_f64(ms / 1000.0))
}

/// Spaces requests out while the quota is nearly spent. Shared by every call of a
/// connection. While pacing, requests go one at a time, each in the next free slot.
#[derive(Debug)]
pub(crate) struct Pacer {
    state: Mutex<PaceState>,
    turn: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct PaceState {
    /// The spacing in force, `None` while the quota is comfortable or unknown.
    gap: Option<Duration>,
    /// The earliest time the next request may go.
    next: Instant,
}

impl Pacer {
    pub fn new() -> Pacer {
        Pacer {
            state: Mutex::new(PaceState {
                gap: None,
                next: Instant::now(),
            }),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    fn pacing(&self) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).gap.is_some()
    }

    /// While pacing, the right to send next, held until the answer is observed: each
    /// request is then spaced by fresh headers, not by what several requests in
    /// flight all read at once. `None`, at once, while the quota is comfortable.
    pub async fn turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.pacing() {
            Some(self.turn.lock().await)
        } else {
            None
        }
    }

    /// How long the request about to go must wait for its slot (zero when not pacing).
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(gap) = s.gap else {
            return Duration::ZERO;
        };
        let slot = s.next.max(now);
        s.next = slot + gap;
        slot - now
    }

    /// Learns from one answer's headers. With `X-RateLimit-Remaining` low (0, or under
    /// a tenth of `X-RateLimit-Limit`), the remaining calls are spread over
    /// `X-RateLimit-Reset`, until half the limit remains again; without the headers,
    /// nothing changes.
    pub fn observe(&self, headers: &HeaderMap, now: Instant) {
        let Some(remaining) = number(headers, "x-ratelimit-remaining") else {
            return;
        };
        let limit = number(headers, "x-ratelimit-limit");
        let low = remaining < 1.0 || limit.is_some_and(|l| remaining < l * LOW_SHARE);
        let recovered = limit.map_or(remaining >= 1.0, |l| remaining >= l * RECOVERED_SHARE);
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if recovered {
            s.gap = None;
            return;
        }
        match reset(headers) {
            Some(reset) if low || s.gap.is_some() => {
                s.gap = Some(reset.div_f64(remaining.max(1.0)).min(MAX_GAP));
                if remaining < 1.0 {
                    s.next = s.next.max(now + reset.min(MAX_GAP));
                }
            }
            // Low, but no reset time to spread the calls over: the 429 path decides.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset`.
    fn quota(limit: &'static str, remaining: &'static str, reset: &'static str) -> HeaderMap {
        headers(&[
            ("x-ratelimit-limit", limit),
            ("x-ratelimit-remaining", remaining),
            ("x-ratelimit-reset", reset),
        ])
    }

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
    fn a_low_quota_spaces_requests_over_the_reset_time() {
        let p = Pacer::new();
        let t0 = Instant::now();
        // Plenty left (under half, but never low): no waiting.
        p.observe(&quota("20", "5", "50"), t0);
        assert_eq!(p.reserve(t0), Duration::ZERO);
        // None left: the next call waits for the reset, later ones a reset apart.
        p.observe(&quota("20", "0", "400"), t0);
        assert_eq!(p.reserve(t0), Duration::from_millis(400));
        assert_eq!(p.reserve(t0), Duration::from_millis(800));
        assert_eq!(p.reserve(t0 + Duration::from_millis(1000)), Duration::from_millis(200));
        // Forty left of 800 (under a tenth): spread over the reset.
        p.observe(&quota("800", "40", "4000"), t0 + Duration::from_millis(1200));
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(p.reserve(t1), Duration::ZERO);
        assert_eq!(p.reserve(t1), Duration::from_millis(100));
        // Above a tenth but under half: still pacing, at the new spacing.
        p.observe(&quota("800", "200", "4000"), t1);
        assert_eq!(p.reserve(t1), Duration::from_millis(200));
        assert_eq!(p.reserve(t1), Duration::from_millis(220));
        // Half the limit left again: pacing stops.
        p.observe(
            &headers(&[("x-ratelimit-limit", "800"), ("x-ratelimit-remaining", "400")]),
            t1,
        );
        assert_eq!(p.reserve(t1), Duration::ZERO);
    }

    #[test]
    fn requests_go_one_at_a_time_only_while_pacing() {
        use futures::FutureExt as _;
        let p = Pacer::new();
        assert!(p.turn().now_or_never().unwrap().is_none());
        p.observe(
            &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "100")]),
            Instant::now(),
        );
        let first = p.turn().now_or_never().unwrap();
        assert!(first.is_some());
        // The next request waits until the first one's answer is in.
        assert!(p.turn().now_or_never().is_none());
        drop(first);
        assert!(p.turn().now_or_never().unwrap().is_some());
    }

    #[test]
    fn without_the_headers_nothing_is_paced() {
        let p = Pacer::new();
        let t0 = Instant::now();
        p.observe(&HeaderMap::new(), t0);
        p.observe(&headers(&[("x-ratelimit-reset", "5000")]), t0);
        assert_eq!(p.reserve(t0), Duration::ZERO);
        // Remaining 0 without a reset time: left to the 429 path.
        p.observe(&headers(&[("x-ratelimit-remaining", "0")]), t0);
        assert_eq!(p.reserve(t0), Duration::ZERO);
    }
}
