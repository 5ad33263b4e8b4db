//! The one retry policy of every Neo4j operation (connect, batches, cleanup chunks,
//! leases). Errors are classified by what they mean, not by their text:
//!
//! - **unavailable**: no connection (refused, reset, timed out) or the server says
//!   the database is unavailable (`Neo.TransientError.General.DatabaseUnavailable`,
//!   a restart). Retried until `unavailable_retry_secs` have passed since the first
//!   such failure, so a restart or a network blip is ridden out, not an outage.
//! - **transient**: the server asks for a retry (`Neo.TransientError.*`: deadlocks,
//!   lock timeouts) or the query exceeded `query_timeout_secs`. Retried up to
//!   `max_attempts` times.
//! - **fatal**: anything else (a bad statement, refused credentials).
//!
//! Waits grow exponentially with jitter ([`crate::backoff`]), so concurrent writers
//! that hit the same deadlock do not retry in lockstep.

use std::time::{Duration, Instant};

use super::SinkError;
use backon::ExponentialBackoff;

use crate::backoff::Backoff;
use crate::config::Neo4jConfig;

/// What an error means for another attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    Unavailable,
    Transient,
    Fatal,
}

/// The server's way of saying "not now, I am starting or stopping".
const DATABASE_UNAVAILABLE: &str = "Neo.TransientError.General.DatabaseUnavailable";

/// Classifies a Neo4j status code (`Neo.<Classification>.<Category>.<Title>`).
pub fn classify_code(code: &str) -> ErrorClass {
    if code == DATABASE_UNAVAILABLE {
        ErrorClass::Unavailable
    } else if code.starts_with("Neo.TransientError.") || code.ends_with(".DeadlockDetected") {
        ErrorClass::Transient
    } else {
        ErrorClass::Fatal
    }
}

impl SinkError {
    pub fn class(&self) -> ErrorClass {
        match self {
            SinkError::Unreachable { .. } => ErrorClass::Unavailable,
            SinkError::Server { code, .. } => classify_code(code),
            SinkError::Timeout(_) => ErrorClass::Transient,
            _ => ErrorClass::Fatal,
        }
    }
}

/// The retry state of one operation: how long to wait after each failure, or when to
/// give up.
pub struct Retry {
    window: Duration,
    transient: std::iter::Take<ExponentialBackoff>,
    unavailable: ExponentialBackoff,
    /// When the first "unavailable" failure of this operation happened.
    unavailable_since: Option<Instant>,
}

impl Retry {
    pub fn new(cfg: &Neo4jConfig) -> Retry {
        Retry {
            window: cfg.unavailable_retry,
            // Deadlocks: 200 ms to 10 s; a restart: 250 ms to 4 s until the window ends.
            transient: Backoff::new(Duration::from_millis(400), Duration::from_secs(20))
                .waits()
                .take(cfg.max_attempts.saturating_sub(1) as usize),
            unavailable: Backoff::new(Duration::from_millis(500), Duration::from_secs(8)).waits(),
            unavailable_since: None,
        }
    }

    /// The wait before the next attempt after `error`, or `None` to give up.
    pub fn next_wait(&mut self, error: &SinkError) -> Option<Duration> {
        match error.class() {
            ErrorClass::Fatal => None,
            ErrorClass::Transient => self.transient.next(),
            ErrorClass::Unavailable => {
                let since = *self.unavailable_since.get_or_insert_with(Instant::now);
                let left = self.window.checked_sub(since.elapsed()).filter(|d| !d.is_zero())?;
                self.unavailable.next().map(|wait| wait.min(left))
            }
        }
    }

    /// The error to report once retries are over: an unreachable server says how long
    /// it was waited for.
    pub fn give_up(&self, error: SinkError) -> SinkError {
        match (error, self.unavailable_since) {
            (SinkError::Unreachable { uri, detail }, Some(since)) => SinkError::Unreachable {
                uri,
                detail: format!(
                    "{detail}; still unreachable after {} s of retries (neo4j.unavailable_retry_secs = {})",
                    since.elapsed().as_secs(),
                    self.window.as_secs()
                ),
            },
            (e, _) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_decide_the_class() {
        assert_eq!(
            classify_code("Neo.TransientError.Transaction.DeadlockDetected"),
            ErrorClass::Transient
        );
        assert_eq!(
            classify_code("Neo.TransientError.Transaction.LockAcquisitionTimeout"),
            ErrorClass::Transient
        );
        assert_eq!(
            classify_code("Neo.TransientError.General.DatabaseUnavailable"),
            ErrorClass::Unavailable
        );
        assert_eq!(
            classify_code("Neo.ClientError.Statement.SyntaxError"),
            ErrorClass::Fatal
        );
        // A message that merely mentions a transient error is not one.
        let e = SinkError::Server {
            code: "Neo.ClientError.Statement.ArgumentError".into(),
            message: "TransientError DeadlockDetected".into(),
        };
        assert_eq!(e.class(), ErrorClass::Fatal);
    }

    fn config(max_attempts: u32, window: Duration) -> Neo4jConfig {
        let mut cfg = Neo4jConfig::new("bolt://127.0.0.1:1", "neo4j", "x");
        cfg.max_attempts = max_attempts;
        cfg.unavailable_retry = window;
        cfg
    }

    #[test]
    fn transient_errors_get_max_attempts_with_jittered_growing_waits() {
        let deadlock = SinkError::Server {
            code: "Neo.TransientError.Transaction.DeadlockDetected".into(),
            message: "deadlock".into(),
        };
        let waits: Vec<Vec<Duration>> = (0..20)
            .map(|_| {
                let mut r = Retry::new(&config(5, Duration::from_secs(120)));
                std::iter::from_fn(|| r.next_wait(&deadlock)).collect()
            })
            .collect();
        for w in &waits {
            assert_eq!(w.len(), 4, "5 attempts: 4 waits");
            // Each wait lies in [base, 2 * base) for base 200 ms doubling.
            for (i, wait) in w.iter().enumerate() {
                let base = Duration::from_millis(200 * (1 << i));
                assert!(*wait >= base && *wait < base * 2, "{i}: {wait:?}");
            }
        }
        // Jitter: twenty writers do not all wait the same first delay.
        let mut first: Vec<Duration> = waits.iter().map(|w| w[0]).collect();
        first.dedup();
        assert!(first.len() > 1, "{first:?}");
    }

    #[test]
    fn an_unreachable_server_is_retried_for_the_window_then_reported_with_it() {
        let down = SinkError::Unreachable {
            uri: "bolt://127.0.0.1:1".into(),
            detail: "connection refused".into(),
        };
        let mut r = Retry::new(&config(1, Duration::from_millis(300)));
        let t0 = Instant::now();
        let mut waits = 0;
        while let Some(wait) = r.next_wait(&down) {
            assert!(wait <= Duration::from_millis(300), "{wait:?}");
            std::thread::sleep(wait);
            waits += 1;
        }
        assert!(waits >= 1, "retried although max_attempts is 1");
        assert!(t0.elapsed() >= Duration::from_millis(300), "{:?}", t0.elapsed());
        assert_eq!(
            r.give_up(down).to_string(),
            "Neo4j at bolt://127.0.0.1:1 is not reachable (connection refused; still unreachable after 0 s of \
             retries (neo4j.unavailable_retry_secs = 0)); start one with `scripts/neo4j start` or set NEO4J_URI"
        );
        let mut none = Retry::new(&config(5, Duration::ZERO));
        assert_eq!(none.next_wait(&SinkError::Stopped), None);
        assert_eq!(
            none.next_wait(&SinkError::Unreachable {
                uri: String::new(),
                detail: String::new()
            }),
            None
        );
    }
}
