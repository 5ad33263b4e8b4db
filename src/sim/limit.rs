//! Rate limiting: one token bucket per credential, reported in `X-RateLimit-*`
//! headers on every response (docs/mimecast-api.md §4.5).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// A rate limit: `calls` per `window`, refilled continuously (a token bucket that
/// holds at most `calls`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub calls: u32,
    pub window: Duration,
}

/// A `--rate-limit` value that is not `CALLS/SECS`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("rate limit {0:?} is not CALLS/SECS with CALLS >= 1 and SECS > 0 (e.g. 100/1)")]
pub struct RateLimitError(pub String);

impl FromStr for RateLimit {
    type Err = RateLimitError;

    /// Parses `CALLS/SECS`, e.g. `100/1` or `5/0.5`.
    fn from_str(text: &str) -> Result<Self, RateLimitError> {
        let bad = || RateLimitError(text.to_owned());
        let (calls, secs) = text.split_once('/').ok_or_else(bad)?;
        let calls: u32 = calls.trim().parse().map_err(|_| bad())?;
        let secs: f64 = secs.trim().parse().map_err(|_| bad())?;
        if calls == 0 || !secs.is_finite() || secs <= 0.0 {
            return Err(bad());
        }
        let window = Duration::try_from_secs_f64(secs).map_err(|_| bad())?;
        Ok(RateLimit { calls, window })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.calls, self.window.as_secs_f64())
    }
}

/// The limit reported when none is configured: large enough never to bind.
pub const UNLIMITED: u32 = 1_000_000;

/// What the `X-RateLimit-*` headers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateState {
    pub limit: u32,
    pub remaining: u32,
    /// Milliseconds until one more call is available (0 when the bucket is full).
    pub reset_ms: u64,
}

impl RateState {
    pub const UNLIMITED: RateState = RateState {
        limit: UNLIMITED,
        remaining: UNLIMITED,
        reset_ms: 0,
    };

    /// `Retry-After` for a 429: whole seconds, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.reset_ms.div_ceil(1000).max(1)
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every principal under one configured limit.
pub(crate) struct Limiter {
    limit: Option<RateLimit>,
    buckets: HashMap<String, Bucket>,
}

impl Limiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        Limiter {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes one call from `who`'s bucket. `Err` when the bucket is empty: the call
    /// must not run.
    pub fn take(&mut self, who: &str, now: Instant) -> Result<RateState, RateState> {
        let Some(limit) = self.limit else {
            return Ok(RateState::UNLIMITED);
        };
        let bucket = self.refill(who, now, limit);
        // The epsilon absorbs floating-point dust from the refill arithmetic.
        if bucket.tokens >= 1.0 - EPSILON {
            bucket.tokens = (bucket.tokens - 1.0).max(0.0);
            Ok(state(bucket.tokens, limit))
        } else {
            Err(state(bucket.tokens, limit))
        }
    }

    /// The state of `who`'s bucket without taking a call.
    pub fn peek(&mut self, who: &str, now: Instant) -> RateState {
        let Some(limit) = self.limit else {
            return RateState::UNLIMITED;
        };
        let tokens = self.refill(who, now, limit).tokens;
        state(tokens, limit)
    }

    fn refill(&mut self, who: &str, now: Instant, limit: RateLimit) -> &mut Bucket {
        let capacity = f64::from(limit.calls);
        let per_sec = capacity / limit.window.as_secs_f64();
        let bucket = self.buckets.entry(who.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.at = now;
        bucket
    }
}

const EPSILON: f64 = 1e-9;

fn state(tokens: f64, limit: RateLimit) -> RateState {
    let capacity = f64::from(limit.calls);
    let whole = (tokens + EPSILON).floor();
    let reset_ms = if whole >= capacity {
        0
    } else {
        let ms_per_call = limit.window.as_secs_f64() * 1000.0 / capacity;
        ((whole + 1.0 - tokens) * ms_per_call - 1e-6).ceil().max(1.0) as u64
    };
    RateState {
        limit: limit.calls,
        remaining: whole as u32,
        reset_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_calls_per_seconds() {
        assert_eq!(
            "100/1".parse::<RateLimit>().unwrap(),
            RateLimit {
                calls: 100,
                window: Duration::from_secs(1)
            }
        );
        assert_eq!("5/0.5".parse::<RateLimit>().unwrap().window, Duration::from_millis(500));
        for bad in ["100", "0/1", "10/0", "x/1", "10/-1", "10/inf"] {
            assert_eq!(
                bad.parse::<RateLimit>().unwrap_err(),
                RateLimitError(bad.into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn bucket_empties_then_refills() {
        let limit = RateLimit {
            calls: 2,
            window: Duration::from_secs(60),
        };
        let mut l = Limiter::new(Some(limit));
        let t0 = Instant::now();
        assert_eq!(l.peek("a", t0).remaining, 2);
        assert_eq!(l.take("a", t0).unwrap().remaining, 1);
        let s = l.take("a", t0).unwrap();
        assert_eq!((s.remaining, s.reset_ms), (0, 30_000));
        let denied = l.take("a", t0).unwrap_err();
        assert_eq!(denied.retry_after_secs(), 30);
        // Another principal has its own bucket.
        assert!(l.take("b", t0).is_ok());
        // Half a call refilled after 15 s: still denied, 15 s to go.
        assert_eq!(
            l.take("a", t0 + Duration::from_secs(15))
                .unwrap_err()
                .retry_after_secs(),
            15
        );
        assert!(l.take("a", t0 + Duration::from_secs(30)).is_ok());
    }

    #[test]
    fn unlimited_still_reports() {
        let mut l = Limiter::new(None);
        assert_eq!(l.take("a", Instant::now()), Ok(RateState::UNLIMITED));
        assert_eq!(RateState::UNLIMITED.retry_after_secs(), 1);
    }
}
