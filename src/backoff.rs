//! The one backoff of the crate: exponential waits with jitter, built on backon. The
//! Mimecast client and its token requests, the SIEM file downloads, the Neo4j sink
//! and the daemon all take their waits from here, so concurrent callers that failed
//! together do not come back in lockstep.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Exponential backoff: retry `n` (1-based) waits `base * 2^(n-1)`, at most `max`,
/// scaled by a random factor in [0.5, 1) (full-jitter halves of the nominal wait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// The nominal wait before retry `attempt`, without jitter: `base * 2^(attempt-1)`,
    /// at most `max`.
    pub fn nominal(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(20)))
            .min(self.max)
    }

    /// The wait before retry `attempt`: its nominal wait scaled by a random factor in
    /// [0.5, 1).
    pub fn wait(&self, attempt: u32) -> Duration {
        self.waits()
            .nth(attempt.saturating_sub(1).min(24) as usize)
            .unwrap_or(self.max)
    }

    /// The waits before retry 1, 2, ... (unbounded; `take` the ones allowed).
    pub fn waits(&self) -> ExponentialBackoff {
        // backon's jitter adds up to 100% of the delay, so it grows from half the base
        // to half the maximum: each wait lies in [nominal / 2, nominal).
        ExponentialBuilder::new()
            .with_min_delay(self.base / 2)
            .with_max_delay(self.max / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// `wait` plus up to `fraction` of it at random (for a server's `Retry-After`, which
/// is a floor: callers turned away together do not all return at the same instant).
pub fn spread(wait: Duration, fraction: f64) -> Duration {
    wait.mul_f64(1.0 + random_unit() * fraction)
}

/// A random number in [0, 1).
pub fn random_unit() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_stay_bounded_and_carry_jitter() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 1..=12 {
            let nominal = Duration::from_millis(100 * 2u64.pow(attempt.min(11) - 1)).min(Duration::from_secs(1));
            assert_eq!(b.nominal(attempt), nominal);
            let w = b.wait(attempt);
            assert!(w >= nominal / 2 && w < nominal, "attempt {attempt}: {w:?}");
        }
        let successive: Vec<Duration> = b.waits().take(4).collect();
        for (i, w) in successive.iter().enumerate() {
            let nominal = Duration::from_millis(100 << i);
            assert!(*w >= nominal / 2 && *w < nominal, "{i}: {w:?}");
        }
        let firsts: std::collections::BTreeSet<Duration> = (0..20).map(|_| b.wait(1)).collect();
        assert!(firsts.len() > 1, "twenty callers share one wait: {firsts:?}");
    }

    #[test]
    fn spread_adds_at_most_the_fraction() {
        for _ in 0..100 {
            let w = spread(Duration::from_secs(4), 0.25);
            assert!(w >= Duration::from_secs(4) && w < Duration::from_secs(5), "{w:?}");
        }
    }
}
