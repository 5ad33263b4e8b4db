//! The Neo4j sink: the only code that writes Cypher.
//!
//! A sync's writes are a diff (diff.rs, load.rs): what Neo4j holds of an account is
//! read and compared by content fingerprint (types unchanged since the last complete
//! write by their digest and count, digest.rs), and only new, changed and gone
//! elements are written (what was written: report.rs), as `UNWIND $rows ...`
//! batches with labels and relationship types taken from graph-schema/, never from
//! data; values travel only as parameters. One transaction per batch, retried by the
//! policy of [`retry`]: an unreachable server for `unavailable_retry_secs`, transient
//! server errors `max_attempts` times.

mod activity;
pub mod bolt;
mod cleanup;
mod cursors;
mod diff;
mod digest;
pub mod fingerprint;
pub mod guard;
mod history;
mod load;
mod lock;
mod marks;
mod plan;
mod queries;
mod report;
pub mod retry;
mod sift;
mod upsert;

pub use cursors::{StoredCursors, CURSOR_LABEL};
pub use digest::GENERATION;
pub use guard::{DeletePolicy, HeldBack};
pub use history::{CampaignCompletion, RuleFindings, SyncRun, RUN_LABEL};
pub use lock::{process_start, Holder, LEASE, LOCK_LABEL, RENEW_EVERY};
pub use marks::AccountStatus;
pub use queries::known_accounts;
pub use report::{LoadReport, TypeWrite};
pub use upsert::{Mode, SyncStamp, WriteCounts, BOOKKEEPING};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use neo4rs::{BoltType, ConfigBuilder, Graph, Query};
use secrecy::ExposeSecret;
use tracing::{debug, warn};

use crate::config::Neo4jConfig;

/// Why a Neo4j operation failed. The messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("Neo4j at {uri} is not reachable ({detail}); start one with `scripts/neo4j start` or set NEO4J_URI")]
    Unreachable { uri: String, detail: String },
    #[error("Neo4j at {uri} refused the credentials of user {user:?}; check NEO4J_USER and NEO4J_PASSWORD")]
    Auth { uri: String, user: String },
    /// The server's TLS certificate is not trusted: permanent, never retried.
    #[error("Neo4j at {uri} presents a TLS certificate this worker does not trust ({detail}); set [neo4j] ca_file (or NEO4J_CA_FILE) to the PEM file of the CA that signed it")]
    Untrusted { uri: String, detail: String },
    #[error("Neo4j did not answer within {0:?} (query_timeout_secs)")]
    Timeout(Duration),
    #[error("Neo4j query failed: {0}")]
    Query(String),
    /// The server refused a statement; `code` is its status code
    /// (`Neo.TransientError.Transaction.DeadlockDetected`).
    #[error("Neo4j query failed: Neo4j error `{code}`: {message}")]
    Server { code: String, message: String },
    #[error("Neo4j configuration: {0}")]
    Config(String),
    #[error("stopped on request before the next write")]
    Stopped,
    #[error("abandoned because another write of this sync failed")]
    Abandoned,
    #[error("this sync lost its write lease on an account (it expired, or another sync took it); it wrote nothing more and cleaned up nothing more")]
    LeaseLost,
    #[error("account {account} is being written by another sync ({owner}, since {since}); this sync wrote nothing. Run syncs of one account one at a time; if that sync died, its lease ends at {until}, or delete it: MATCH (l:MimecastGraphLock {{accountCode: '{account}'}}) DELETE l")]
    Locked {
        account: String,
        owner: String,
        since: String,
        until: String,
    },
}

impl SinkError {
    fn from_neo4rs(e: neo4rs::Error, cfg: &Neo4jConfig) -> SinkError {
        use neo4rs::Error as E;
        match e {
            E::AuthenticationError(_) => SinkError::Auth {
                uri: cfg.uri.clone(),
                user: cfg.user.clone(),
            },
            E::Neo4j(ref n) if n.code().starts_with("Neo.ClientError.Security") => SinkError::Auth {
                uri: cfg.uri.clone(),
                user: cfg.user.clone(),
            },
            E::Neo4j(n) => SinkError::Server {
                code: n.code().to_owned(),
                message: n.message().to_owned(),
            },
            E::IOError { ref detail } if detail.to_string().contains("invalid peer certificate") => {
                SinkError::Untrusted {
                    uri: cfg.uri.clone(),
                    detail: e.to_string(),
                }
            }
            // A connection that broke in the middle of an exchange is as good as none.
            E::IOError { .. }
            | E::ConnectionError
            | E::ConnectionTimedOut
            | E::ProtocolMismatch(_)
            | E::IncompleteBoltExchange => SinkError::Unreachable {
                uri: cfg.uri.clone(),
                detail: e.to_string(),
            },
            other => SinkError::Query(other.to_string()),
        }
    }

    /// A job that ended because of another one (a stop, or a failure elsewhere).
    pub fn is_knock_on(&self) -> bool {
        matches!(self, SinkError::Stopped | SinkError::Abandoned)
    }
}

/// A connection pool to one Neo4j database.
#[derive(Clone)]
pub struct Sink {
    graph: Graph,
    cfg: Neo4jConfig,
    stop: Option<crate::stop::Stop>,
    /// Set when this sync's write lease was lost: nothing more is written.
    lease_lost: Arc<AtomicBool>,
    /// Set when a concurrent write job failed: the others start no new batch.
    aborted: Arc<AtomicBool>,
    /// Set when the stored state was not what the read said: a `CREATE` met an
    /// element already stored, or a relationship's endpoint was not there.
    missed: Arc<AtomicBool>,
    /// Rows [`Sink::read_each`] reads ahead of their handling: a whole batch for
    /// answers, one row for syncs.
    read_ahead: usize,
}

/// Records per PULL for the commands a person reads the answers of: a 100,000-row
/// answer in 10 round trips, not 100 (`queries run watchlist` at 100k users: 1.2 to
/// 1.6 s at 1,000, about 0.8 s at 10,000).
const ANSWER_FETCH: usize = 10_000;

/// Records per PULL for syncs. The diff's grouped read returns lists of thousands of
/// ids per record, all of a PULL held at once: at 10,000 a 1% churn sync of the
/// 100k-user tenant peaked at 1,095 MiB.
const SYNC_FETCH: usize = 1_000;

impl Sink {
    /// Connects and proves the connection with one `RETURN 1`: for commands a person
    /// waits for (`validate`, `queries run`), which should fail at once.
    ///
    /// # Errors
    /// [`SinkError::Unreachable`], [`SinkError::Auth`] or [`SinkError::Timeout`].
    pub async fn connect(cfg: &Neo4jConfig) -> Result<Sink, SinkError> {
        let sink = Sink::pool(cfg, ANSWER_FETCH, ANSWER_FETCH)?;
        sink.ping().await?;
        Ok(sink)
    }

    /// Connects like [`Sink::connect`], but waits out an unreachable server for
    /// `unavailable_retry_secs` (a restart): for syncs.
    ///
    /// # Errors
    /// As [`Sink::connect`], once the retries are over.
    pub async fn connect_waiting(cfg: &Neo4jConfig) -> Result<Sink, SinkError> {
        // One row ahead: the diff's grouped reads hold hundreds of ids per record, and
        // a sync's peak has no room for a second batch of them (the 1 GiB goal).
        let sink = Sink::pool(cfg, SYNC_FETCH, 1)?;
        let mut retry = retry::Retry::new(cfg);
        loop {
            match sink.ping().await {
                Ok(()) => return Ok(sink),
                Err(e) => match retry.next_wait(&e) {
                    Some(wait) => {
                        warn!(error = %e, wait_ms = wait.as_millis() as u64, "Neo4j is not usable yet; retrying");
                        tokio::time::sleep(wait).await;
                    }
                    None => return Err(retry.give_up(e)),
                },
            }
        }
    }

    /// The connection pool, pulling `fetch_size` records at a time, whose
    /// [`Sink::read_each`] reads `read_ahead` rows ahead; no I/O yet.
    fn pool(cfg: &Neo4jConfig, fetch_size: usize, read_ahead: usize) -> Result<Sink, SinkError> {
        let password = cfg
            .password
            .value
            .as_ref()
            .ok_or_else(|| SinkError::Config(format!("environment variable {} is not set", cfg.password.env)))?;
        let mut builder = ConfigBuilder::default()
            .uri(cfg.uri.as_str())
            .user(cfg.user.as_str())
            .password(password.expose_secret())
            .max_connections(cfg.max_connections)
            .fetch_size(fetch_size)
            .connection_timeout(cfg.connect_timeout);
        if let Some(db) = &cfg.database {
            builder = builder.db(db.as_str());
        }
        if let Some(ca) = &cfg.ca_file {
            // Read here: an unreadable file is a configuration error, not a server
            // that is down (which would be retried).
            std::fs::File::open(ca)
                .map_err(|e| SinkError::Config(format!("cannot read neo4j.ca_file {}: {e}", ca.display())))?;
            builder = builder.with_client_certificate(ca);
        }
        if cfg.uri.starts_with("bolt+ssc://") || cfg.uri.starts_with("neo4j+ssc://") {
            warn!(uri = %cfg.uri, "a +ssc URI encrypts but checks no certificate: prefer +s with neo4j.ca_file");
        }
        let config = builder.build().map_err(|e| SinkError::Config(e.to_string()))?;
        let graph = Graph::connect(config).map_err(|e| SinkError::from_neo4rs(e, cfg))?;
        Ok(Sink {
            graph,
            cfg: cfg.clone(),
            stop: None,
            lease_lost: Arc::default(),
            aborted: Arc::default(),
            missed: Arc::default(),
            read_ahead,
        })
    }

    pub fn config(&self) -> &Neo4jConfig {
        &self.cfg
    }

    /// Makes every write check `stop` first: once it is set, the batch in flight
    /// finishes and the next one is refused with [`SinkError::Stopped`].
    #[must_use]
    pub fn with_stop(mut self, stop: crate::stop::Stop) -> Sink {
        self.stop = Some(stop);
        self
    }

    /// `RETURN 1` through the pool.
    ///
    /// # Errors
    /// The server does not answer or refuses the credentials.
    pub async fn ping(&self) -> Result<(), SinkError> {
        let rows = self
            .read_with_timeout(neo4rs::query("RETURN 1 AS ok"), self.cfg.connect_timeout)
            .await?;
        match rows.first().and_then(|r| r.get("ok")) {
            Some(BoltType::Integer(i)) if i.value == 1 => Ok(()),
            other => Err(SinkError::Query(format!("unexpected answer to RETURN 1: {other:?}"))),
        }
    }

    /// Runs a query in a read transaction (the server refuses writes) and returns
    /// every row.
    ///
    /// # Errors
    /// The query fails or exceeds `query_timeout_secs`.
    pub async fn read(&self, q: Query) -> Result<Vec<Record>, SinkError> {
        self.read_with_timeout(q, self.cfg.query_timeout).await
    }

    /// Runs a query in a read transaction and hands each row to `each` as it
    /// arrives, never holding the result whole; `query_timeout_secs` bounds the wait
    /// for each batch of rows, not the whole stream. Returns the number of rows.
    ///
    /// A task of its own reads the rows ahead of `each`. For answers, a whole batch
    /// ahead: the next PULL goes out as soon as a batch is read, so the server
    /// produces a batch while this one is handled (two batches held at most). For
    /// syncs, one row: one batch held, as before.
    ///
    /// # Errors
    /// The query fails, a batch of rows is late, or `each` fails.
    pub async fn read_each(
        &self,
        q: Query,
        mut each: impl FnMut(&neo4rs::Row) -> Result<(), SinkError>,
    ) -> Result<u64, SinkError> {
        let limit = self.cfg.query_timeout;
        let neo = |e| SinkError::from_neo4rs(e, &self.cfg);
        let mut stream = match tokio::time::timeout(limit, self.graph.execute_read(q)).await {
            Ok(s) => s.map_err(neo)?,
            Err(_) => return Err(SinkError::Timeout(limit)),
        };
        let (rows, mut arriving) = tokio::sync::mpsc::channel(self.read_ahead);
        let reader = tokio::spawn(async move {
            loop {
                let next = stream.next().await;
                let end = !matches!(next, Ok(Some(_)));
                // `each` failed, or the wait was given up: the receiver is gone.
                if rows.send(next).await.is_err() || end {
                    return;
                }
            }
        });
        let mut n = 0;
        let read = loop {
            match tokio::time::timeout(limit, arriving.recv()).await {
                Ok(Some(Ok(Some(row)))) => {
                    if let Err(e) = each(&row) {
                        break Err(e);
                    }
                    n += 1;
                }
                Ok(Some(Ok(None))) => break Ok(n),
                // The reader ended without the end of the result (it panicked): the
                // rows so far are not the answer.
                Ok(None) => {
                    break Err(SinkError::Query(
                        "the reading of the rows stopped before their end".into(),
                    ))
                }
                Ok(Some(Err(e))) => break Err(neo(e)),
                Err(_) => break Err(SinkError::Timeout(limit)),
            }
        };
        // A reader still waiting on the server (a late batch) stops here; one that
        // `each` left stops at its next send, as nothing receives.
        reader.abort();
        read
    }

    async fn read_with_timeout(&self, q: Query, limit: Duration) -> Result<Vec<Record>, SinkError> {
        let work = async {
            // An auto-commit transaction in READ access mode: the server refuses writes.
            let mut stream = self.graph.execute_read(q).await?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await? {
                rows.push(row_pairs(&row)?);
            }
            Ok::<_, neo4rs::Error>(rows)
        };
        match tokio::time::timeout(limit, work).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(SinkError::from_neo4rs(e, &self.cfg)),
            Err(_) => Err(SinkError::Timeout(limit)),
        }
    }

    /// Runs one write statement in its own transaction, retried by the policy of
    /// [`retry`], and returns the rows it produced. A stop requested while waiting to
    /// retry ends the wait: the batch was not written.
    ///
    /// # Errors
    /// A fatal error, or a retryable one once its retries are over.
    pub(crate) async fn write(&self, label: &str, q: Query) -> Result<Vec<Record>, SinkError> {
        self.write_built(label, || q.clone()).await
    }

    /// [`Sink::write`] of a statement `build` makes afresh for each attempt, so a
    /// large batch is not held twice (once to keep, once sent) while it is written.
    ///
    /// # Errors
    /// As [`Sink::write`].
    pub(crate) async fn write_built(&self, label: &str, build: impl Fn() -> Query) -> Result<Vec<Record>, SinkError> {
        if self.stop_requested() {
            return Err(SinkError::Stopped);
        }
        if self.aborted.load(Ordering::Relaxed) {
            return Err(SinkError::Abandoned);
        }
        self.write_retrying(label, build, true).await
    }

    /// True once a stop was requested: no new write starts after that.
    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(crate::stop::Stop::is_set)
    }

    /// [`Sink::write`] without the stop check, for work that must finish once begun
    /// (an account's cleanup) and bookkeeping on the way out (releasing leases).
    pub(super) async fn write_even_when_stopped(&self, label: &str, q: Query) -> Result<Vec<Record>, SinkError> {
        self.write_retrying(label, || q.clone(), false).await
    }

    async fn write_retrying(
        &self,
        label: &str,
        build: impl Fn() -> Query,
        stoppable: bool,
    ) -> Result<Vec<Record>, SinkError> {
        let mut retry = retry::Retry::new(&self.cfg);
        let mut attempt = 1;
        loop {
            if self.lease_lost.load(Ordering::Relaxed) {
                return Err(SinkError::LeaseLost);
            }
            let error = match self.write_once(label, build(), attempt).await {
                Ok(rows) => return Ok(rows),
                Err(e) => e,
            };
            let Some(wait) = retry.next_wait(&error) else {
                return Err(retry.give_up(error));
            };
            warn!(batch = label, attempt, error = %error, wait_ms = wait.as_millis() as u64, "Neo4j write failed; retrying the batch");
            match &self.stop {
                Some(stop) if stoppable => {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.wait() => return Err(SinkError::Stopped),
                    }
                }
                _ => tokio::time::sleep(wait).await,
            }
            attempt += 1;
        }
    }

    /// One attempt: a transaction, the statement, every row, the commit.
    async fn write_once(&self, label: &str, q: Query, attempt: u32) -> Result<Vec<Record>, SinkError> {
        let work = async {
            let mut txn = self.graph.start_txn().await?;
            let mut stream = txn.execute(q).await?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next(txn.handle()).await? {
                rows.push(row_pairs(&row)?);
            }
            txn.commit().await?;
            Ok::<_, neo4rs::Error>(rows)
        };
        let span = tracing::debug_span!("sink_batch", batch = label, attempt);
        match tokio::time::timeout(self.cfg.query_timeout, tracing::Instrument::instrument(work, span)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(SinkError::from_neo4rs(e, &self.cfg)),
            Err(_) => Err(SinkError::Timeout(self.cfg.query_timeout)),
        }
    }

    /// Runs a statement that returns nothing useful (schema changes).
    ///
    /// # Errors
    /// As [`Sink::write`].
    pub(crate) async fn run(&self, label: &str, q: Query) -> Result<(), SinkError> {
        debug!(statement = label, "running");
        self.write(label, q).await.map(|_| ())
    }
}

/// One result row by column name. (Bolt rows do not keep column order through
/// neo4rs; callers that print rows order them by the columns they declare.)
pub type Record = BTreeMap<String, BoltType>;

fn row_pairs(row: &neo4rs::Row) -> Result<Record, neo4rs::Error> {
    let mut record = Record::new();
    for key in row.keys() {
        let value: BoltType = row.get(&key.value)?;
        record.insert(key.value.clone(), value);
    }
    Ok(record)
}
