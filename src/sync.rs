//! One whole sync: connect to Neo4j, collect every tenant while the schema is applied,
//! upsert, clean up per account, stamp the accounts. The daemon calls [`run_once`] in a loop.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use tracing::{error, info, warn};

use crate::collect::{self, Collection, RunStatus};
use crate::config::Config;
use crate::exit;
use crate::queries::QuerySet;
use crate::schema::schema;
use crate::sink::{LoadReport, PartialTypes, Sink, SinkError, SyncStamp};
use crate::steps::{Progress, Step};
use crate::stop::Stop;

/// How a sync ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Success,
    /// Written, but some steps or tenants failed; their types were not cleaned up.
    Partial,
    /// Nothing usable was fetched.
    MimecastFailed,
    /// Neo4j could not be used.
    Neo4jFailed,
    /// The unknown-participant policy stopped the run before any write.
    PolicyFailed,
    /// A stop was requested; whatever was written is whole batches, and an account's
    /// cleanup either ran to its end or did not start.
    Stopped,
}

impl SyncStatus {
    pub fn exit_code(self) -> u8 {
        match self {
            SyncStatus::Success => exit::SUCCESS,
            SyncStatus::Partial => exit::PARTIAL,
            SyncStatus::MimecastFailed => exit::MIMECAST,
            SyncStatus::Neo4jFailed => exit::NEO4J,
            SyncStatus::PolicyFailed => exit::POLICY,
            SyncStatus::Stopped => exit::FAILURE,
        }
    }
}

pub struct SyncOutcome {
    pub sync_id: String,
    /// When the sync started (ISO UTC); written as the accounts' `lastSyncOn`.
    pub started_on: String,
    pub status: SyncStatus,
    pub collection: Option<Collection>,
    pub load: LoadReport,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// Runs one sync. Never panics on bad data or unreachable services: every failure
/// ends up in the outcome. The saved queries are stored beside the data.
pub async fn run_once(
    config: &Config,
    steps: &[Step],
    queries: &QuerySet,
    progress: &dyn Progress,
    stop: &Stop,
) -> SyncOutcome {
    let t0 = Instant::now();
    let stamp = SyncStamp::new();
    let mut outcome = SyncOutcome {
        sync_id: stamp.sync_id.clone(),
        started_on: stamp.now.clone(),
        status: SyncStatus::Neo4jFailed,
        collection: None,
        load: LoadReport::default(),
        error: None,
        duration_ms: 0,
    };
    info!(sync_id = %stamp.sync_id, tenants = config.connections.len(), "sync started");
    // Neo4j first: a sync that cannot write should not spend the API quota.
    let sink = match Sink::connect(&config.neo4j).await {
        Ok(s) => s.with_stop(stop.clone()),
        Err(e) => {
            error!(error = %e, "Neo4j is not usable");
            outcome.error = Some(e.to_string());
            outcome.duration_ms = t0.elapsed().as_millis() as u64;
            return outcome;
        }
    };
    // No data is written while collecting (validation comes first), so a stop here
    // simply abandons the run. The schema (idempotent, no data) is applied meanwhile.
    let collection = tokio::select! {
        c = collect_with_schema(&sink, config, steps, progress) => c,
        () = stop.wait() => {
            outcome.status = SyncStatus::Stopped;
            outcome.error = Some("stopped while collecting; nothing was written".into());
            outcome.duration_ms = t0.elapsed().as_millis() as u64;
            return outcome;
        }
    };
    let collection = match collection {
        Ok(c) => c,
        Err(e) => {
            error!(error = %e, "applying the schema failed; collection abandoned");
            outcome.error = Some(e.to_string());
            outcome.duration_ms = t0.elapsed().as_millis() as u64;
            return outcome;
        }
    };
    let result = write(&sink, &collection, queries, &stamp, &mut outcome.load).await;
    outcome.status = match (&result, collection.policy_violation.is_some(), collection.status()) {
        (Err(SinkError::Stopped), _, _) => SyncStatus::Stopped,
        (_, true, _) => SyncStatus::PolicyFailed,
        (Err(_), _, _) => SyncStatus::Neo4jFailed,
        (Ok(()), _, RunStatus::Failed) => SyncStatus::MimecastFailed,
        (Ok(()), _, RunStatus::Partial) => SyncStatus::Partial,
        (Ok(()), _, RunStatus::Success) => SyncStatus::Success,
    };
    if let Err(e) = result {
        error!(error = %e, "writing to Neo4j failed");
        outcome.error = Some(e.to_string());
    } else if let Some(v) = &collection.policy_violation {
        outcome.error = Some(v.clone());
    }
    outcome.collection = Some(collection);
    outcome.duration_ms = t0.elapsed().as_millis() as u64;
    info!(sync_id = %stamp.sync_id, status = ?outcome.status, duration_ms = outcome.duration_ms, "sync finished");
    outcome
}

/// Collects while the schema is applied. A schema failure cancels the collection at
/// once: a sync that cannot write should not spend the API quota.
async fn collect_with_schema(
    sink: &Sink,
    config: &Config,
    steps: &[Step],
    progress: &dyn Progress,
) -> Result<Collection, SinkError> {
    let collecting = collect::collect(config, steps, progress);
    let applying = sink.apply_schema(schema());
    tokio::pin!(collecting, applying);
    let mut collection = None;
    let mut applied = false;
    loop {
        tokio::select! {
            c = &mut collecting, if collection.is_none() => collection = Some(c),
            r = &mut applying, if !applied => {
                r?;
                applied = true;
            }
        }
        if applied {
            if let Some(c) = collection.take() {
                return Ok(c);
            }
        }
    }
}

async fn write(
    sink: &Sink,
    c: &Collection,
    queries: &QuerySet,
    stamp: &SyncStamp,
    load: &mut LoadReport,
) -> Result<(), SinkError> {
    if c.policy_violation.is_some() {
        return Ok(());
    }
    let usable: Vec<(&str, RunStatus)> = c
        .usable_tenants()
        .filter_map(|t| t.account_code.as_deref().map(|a| (a, t.status)))
        .collect();
    let failed: Vec<_> = c
        .tenants
        .iter()
        .filter(|t| t.status == RunStatus::Failed)
        .filter(|t| {
            !t.account_code
                .as_deref()
                .is_some_and(|a| usable.iter().any(|(u, _)| *u == a))
        })
        .collect();
    if usable.is_empty() && failed.is_empty() {
        return Ok(());
    }
    // One writer per account: another sync's cleanup would delete what this one wrote.
    // The leases are renewed while writing; a lost one stops every further write.
    let mut accounts: Vec<&str> = usable.iter().map(|(a, _)| *a).collect();
    accounts.extend(failed.iter().filter_map(|t| t.account_code.as_deref()));
    sink.lock_accounts(&accounts, stamp).await?;
    let result = sink
        .hold_leases(&accounts, stamp, crate::sink::RENEW_EVERY, async {
            // A tenant that could not be collected keeps its data; its account node
            // says so.
            for t in &failed {
                let marked = sink.mark_account_failed(t.account_code.as_deref(), &t.connection, stamp).await?;
                if marked == 0 {
                    warn!(connection = %t.connection, "the failed tenant's account node was not found (first sync, or the connection name is ambiguous)");
                }
            }
            if usable.is_empty() {
                return Ok(());
            }
            write_accounts(sink, c, &usable, queries, stamp, load).await
        })
        .await;
    sink.unlock_accounts(&accounts, stamp).await;
    result
}

/// Upsert, cleanup and stamps of the usable accounts, under their leases.
async fn write_accounts(
    sink: &Sink,
    c: &Collection,
    usable: &[(&str, RunStatus)],
    queries: &QuerySet,
    stamp: &SyncStamp,
    load: &mut LoadReport,
) -> Result<(), SinkError> {
    let partial: PartialTypes = usable
        .iter()
        .map(|(account, _)| ((*account).to_owned(), c.partial_types(account)))
        .collect();
    sink.upsert_graph(&c.store, schema(), &partial, stamp, load).await?;
    for (account, status) in usable {
        sink.cleanup_account(account, schema(), &partial[*account], stamp, load)
            .await?;
        let label = match status {
            RunStatus::Success => "success",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        };
        sink.mark_account(account, label, *status == RunStatus::Success, stamp)
            .await?;
    }
    let (counts, deleted) = sink.sync_queries(queries, stamp).await?;
    let q = load
        .types
        .entry(crate::schema::types::COMPLIANCE_QUERY.to_owned())
        .or_default();
    q.created += counts.created;
    q.updated += counts.updated;
    q.unchanged += counts.unchanged;
    q.deleted += deleted;
    Ok(())
}

impl SyncOutcome {
    pub fn to_json(&self) -> serde_json::Value {
        let mut summary = self.collection.as_ref().map_or_else(|| json!({}), Collection::summary);
        summary["syncId"] = json!(self.sync_id);
        summary["syncStatus"] = json!(self.status);
        summary["exitCode"] = json!(self.status.exit_code());
        summary["syncDurationMs"] = json!(self.duration_ms);
        summary["neo4j"] = json!(self.load);
        if let Some(e) = &self.error {
            summary["error"] = json!(e);
        }
        summary
    }

    /// The printed summary: created, updated, deleted per type; duration; partial
    /// types; integrity findings.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "sync {} finished in {:.1}s: {:?} (exit code {})",
            self.sync_id,
            self.duration_ms as f64 / 1000.0,
            self.status,
            self.status.exit_code()
        );
        if let Some(e) = &self.error {
            let _ = writeln!(out, "  error: {e}");
        }
        if let Some(c) = &self.collection {
            out.push_str(&c.human());
        }
        if !self.load.types.is_empty() {
            let _ = writeln!(
                out,
                "  {:<52} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "type", "created", "updated", "unchanged", "deleted", "upsert s"
            );
            let types: BTreeMap<_, _> = self.load.types.iter().collect();
            for (t, w) in types {
                let _ = writeln!(
                    out,
                    "  {t:<52} {:>9} {:>9} {:>9} {:>9} {:>9.1}",
                    w.created,
                    w.updated,
                    w.unchanged,
                    w.deleted,
                    w.upsert_ms as f64 / 1000.0
                );
            }
            let _ = writeln!(
                out,
                "  neo4j: upsert {:.1}s, cleanup {:.1}s",
                self.load.upsert_ms as f64 / 1000.0,
                self.load.cleanup_ms as f64 / 1000.0
            );
        }
        out
    }
}
