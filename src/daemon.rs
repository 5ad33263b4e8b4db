//! The polling daemon: [`crate::sync::run_once`] in a loop. Runs never overlap (the
//! next starts only after the last has finished), waits carry jitter so a fleet does
//! not stampede the API, failures are retried sooner with exponential backoff (never
//! later than the interval), and a stop finishes the batch in flight and exits.

use std::time::Duration;

use tracing::{info, warn};

use crate::config::Config;
use crate::queries::QuerySet;
use crate::steps::{Progress, Step};
use crate::stop::Stop;
use crate::sync::{run_once, SyncOutcome, SyncStatus};

#[derive(Clone, Debug)]
pub struct DaemonOptions {
    pub interval: Duration,
    /// Fraction of each wait added or removed at random (0.1 = ±10%).
    pub jitter: f64,
    /// The first retry delay after a failed sync; doubles per further failure.
    pub failure_backoff: Duration,
}

impl DaemonOptions {
    pub fn every(interval: Duration) -> Self {
        DaemonOptions {
            interval,
            jitter: 0.1,
            failure_backoff: Duration::from_secs(60),
        }
    }
}

/// An interval `run --interval` does not accept.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    #[error("{0:?} is not an interval such as 30m, 1h or 1d")]
    NotANumber(String),
    #[error("{text:?}: unknown unit {unit:?}; use s, m, h or d")]
    UnknownUnit { text: String, unit: String },
    #[error("the interval must be longer than zero")]
    Zero,
}

/// Parses `90s`, `15m`, `1h`, `1d` (or a number of seconds).
///
/// # Errors
/// Anything else, or zero.
pub fn parse_interval(text: &str) -> Result<Duration, IntervalError> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number.parse().map_err(|_| IntervalError::NotANumber(text.to_owned()))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        other => {
            return Err(IntervalError::UnknownUnit {
                text: text.to_owned(),
                unit: other.to_owned(),
            })
        }
    };
    if secs == 0 {
        return Err(IntervalError::Zero);
    }
    Ok(Duration::from_secs(secs))
}

fn failed(status: SyncStatus) -> bool {
    matches!(status, SyncStatus::MimecastFailed | SyncStatus::Neo4jFailed)
}

/// How long to wait after a run: the interval, or after `failures` consecutive
/// failures the backoff doubled per failure (capped at the interval); then jitter.
pub fn next_wait(opts: &DaemonOptions, failures: u32, random: f64) -> Duration {
    let base = if failures == 0 {
        opts.interval
    } else {
        crate::backoff::Backoff::new(opts.failure_backoff, opts.interval).nominal(failures)
    };
    let factor = 1.0 + opts.jitter * (2.0 * random.clamp(0.0, 1.0) - 1.0);
    base.mul_f64(factor.max(0.0))
}

/// How the daemon ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaemonEnd {
    pub runs: u64,
    /// The stop interrupted a sync (rather than arriving between two).
    pub interrupted: bool,
}

/// Runs until `stop` is triggered; `observe` sees every outcome (logging, tests).
pub async fn run(
    config: &Config,
    steps: &[Step],
    queries: &QuerySet,
    opts: &DaemonOptions,
    progress: &dyn Progress,
    stop: &Stop,
    observe: &(dyn Fn(&SyncOutcome) + Sync),
) -> DaemonEnd {
    let mut failures: u32 = 0;
    let mut runs = 0;
    let mut interrupted = false;
    info!(
        interval_secs = opts.interval.as_secs(),
        tenants = config.connections.len(),
        "daemon started"
    );
    while !stop.is_set() {
        let outcome = run_once(config, steps, queries, progress, stop).await;
        runs += 1;
        observe(&outcome);
        if outcome.status == SyncStatus::Stopped {
            interrupted = true;
            break;
        }
        failures = if failed(outcome.status) { failures + 1 } else { 0 };
        let wait = next_wait(opts, failures, crate::backoff::random_unit());
        if failures > 0 {
            warn!(
                failures,
                wait_secs = wait.as_secs(),
                error = outcome.error.as_deref().unwrap_or(""),
                "sync failed; retrying after backoff"
            );
        } else {
            info!(wait_secs = wait.as_secs(), status = ?outcome.status, "next sync scheduled");
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.wait() => {}
        }
    }
    info!(runs, interrupted, "daemon stopped");
    DaemonEnd { runs, interrupted }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_interval("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_interval("0s"), Err(IntervalError::Zero));
        assert_eq!(
            parse_interval("0s").unwrap_err().to_string(),
            "the interval must be longer than zero"
        );
        assert_eq!(
            parse_interval("1w").unwrap_err().to_string(),
            "\"1w\": unknown unit \"w\"; use s, m, h or d"
        );
        assert_eq!(parse_interval("soon"), Err(IntervalError::NotANumber("soon".into())));
    }

    #[test]
    fn waits_back_off_after_failures_and_carry_jitter() {
        let opts = DaemonOptions::every(Duration::from_secs(3600));
        assert_eq!(next_wait(&opts, 0, 0.5), Duration::from_secs(3600));
        assert_eq!(next_wait(&opts, 1, 0.5), Duration::from_secs(60));
        assert_eq!(next_wait(&opts, 3, 0.5), Duration::from_secs(240));
        assert_eq!(next_wait(&opts, 30, 0.5), Duration::from_secs(3600));
        assert_eq!(next_wait(&opts, 0, 0.0), Duration::from_secs(3240));
        assert_eq!(next_wait(&opts, 0, 1.0), Duration::from_secs(3960));
    }
}
