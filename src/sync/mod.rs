//! One whole sync: connect to Neo4j, take the accounts' write leases, collect every
//! tenant while the schema is applied, upsert, clean up per account (within the
//! deletion guard), stamp the accounts. The daemon calls [`run_once`] in a loop.

use std::collections::BTreeSet;
use std::time::Instant;

use tracing::{debug, error, info, warn};

use crate::collect::{self, Collection, RunStatus};
use crate::config::{Config, SyncConfig};
use crate::mimecast::{ApiError, Client};
use crate::queries::QuerySet;
use crate::schema::schema;
use crate::sink::{AccountStatus, DeletePolicy, LoadReport, Sink, SinkError, SyncStamp};
use crate::steps::{Progress, Step};
use crate::stop::Stop;

mod outcome;
mod rules;

pub use outcome::{SyncOutcome, SyncStatus};
use rules::{history_run, record_rule_results};

/// How the leased part of a sync ended.
enum Ended {
    /// A stop arrived while collecting: nothing was written.
    StoppedCollecting,
    /// The schema could not be applied: the collection was abandoned.
    SchemaFailed(SinkError),
    Written(Box<Collection>, Result<(), SinkError>),
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
    let finish = |mut outcome: SyncOutcome| {
        outcome.duration_ms = t0.elapsed().as_millis() as u64;
        info!(sync_id = %outcome.sync_id, status = ?outcome.status, duration_ms = outcome.duration_ms, "sync finished");
        outcome
    };
    info!(sync_id = %stamp.sync_id, tenants = config.connections.len(), "sync started");
    // Neo4j first: a sync that cannot write should not spend the API quota. A server
    // that is restarting is waited for (`unavailable_retry_secs`).
    let connected = tokio::select! {
        c = Sink::connect_waiting(&config.neo4j) => c,
        () = stop.wait() => Err(SinkError::Stopped),
    };
    let sink = match connected {
        Ok(s) => s.with_stop(stop.clone()),
        Err(e) => {
            error!(error = %e, "Neo4j is not usable");
            outcome.status = status_of_error(&e);
            outcome.error = Some(e.to_string());
            return finish(outcome);
        }
    };
    // One writer per account, decided before the tenant is fetched: a sync that may
    // not write must not fetch a whole tenant first. Leases are per account code (two
    // connections of different names can point at one tenant), and the code is only
    // known from get-account; so each tenant's account alone is fetched first (one
    // call, plus a token), its lease taken, and only then is everything collected. A
    // tenant whose get-account fails here is leased after collecting, before its first
    // write, so no account is ever written without its lease.
    // The collection reuses these clients: one token, and the account look-up is
    // counted with the tenant's other calls.
    let clients = collect::clients(config);
    let discovered = tokio::select! {
        d = discover_accounts(config, &clients) => d,
        () = stop.wait() => {
            outcome.status = SyncStatus::Stopped;
            outcome.error = Some("stopped while collecting; nothing was written".into());
            return finish(outcome);
        }
    };
    let leased: Vec<&str> = discovered.iter().map(String::as_str).collect();
    if !leased.is_empty() {
        if let Err(e) = sink.lock_accounts(&leased, &stamp).await {
            error!(error = %e, "the write leases could not be taken; nothing was fetched or written");
            outcome.status = status_of_error(&e);
            outcome.error = Some(e.to_string());
            return finish(outcome);
        }
    }
    // Where each account's TTP log streams resume (read under the leases, so no
    // other sync moves them meanwhile).
    let cursors = if leased.is_empty() {
        Ok(crate::sink::StoredCursors::new())
    } else {
        sink.cursors(&leased).await
    };
    let cursors = match cursors {
        Ok(c) => c,
        Err(e) => {
            error!(error = %e, "the TTP log cursors could not be read; nothing was fetched or written");
            sink.unlock_accounts(&leased, &stamp).await;
            outcome.status = status_of_error(&e);
            outcome.error = Some(e.to_string());
            return finish(outcome);
        }
    };
    // The users' stored mailbox activity, for those Message Finder is not asked
    // about this run (only when a connection tracks activity).
    let activity = if leased.is_empty() || !config.connections.iter().any(|c| c.message_activity.enabled) {
        Ok(crate::graph::ActivityState::new())
    } else {
        sink.stored_activity(&leased).await
    };
    let activity = match activity {
        Ok(a) => std::sync::Arc::new(a),
        Err(e) => {
            error!(error = %e, "the stored mailbox activity could not be read; nothing was fetched or written");
            sink.unlock_accounts(&leased, &stamp).await;
            outcome.status = status_of_error(&e);
            outcome.error = Some(e.to_string());
            return finish(outcome);
        }
    };
    let policy = DeletePolicy::from_config(&config.sync);
    let load = &mut outcome.load;
    let work = async {
        // No data is written while collecting (validation comes first), so a stop here
        // simply abandons the run. The schema (idempotent, no data) is applied meanwhile.
        let collection = tokio::select! {
            c = Box::pin(collect_with_schema(&sink, config, &clients, steps, progress, &cursors, activity)) => c,
            () = stop.wait() => return Ended::StoppedCollecting,
        };
        match collection {
            Ok(c) => {
                let result = Box::pin(write(&sink, &c, queries, &stamp, &leased, &policy, &config.sync, load)).await;
                Ended::Written(Box::new(c), result)
            }
            Err(e) => Ended::SchemaFailed(e),
        }
    };
    // Boxed: the futures of a whole sync are too large for a thread's stack.
    let ended = sink
        .hold_leases(&leased, &stamp, crate::sink::RENEW_EVERY, Box::pin(work))
        .await;
    if !leased.is_empty() {
        sink.unlock_accounts(&leased, &stamp).await;
    }
    let (collection, result) = match ended {
        Ended::StoppedCollecting => {
            outcome.status = SyncStatus::Stopped;
            outcome.error = Some("stopped while collecting; nothing was written".into());
            return finish(outcome);
        }
        Ended::SchemaFailed(e) => {
            error!(error = %e, "applying the schema failed; collection abandoned");
            outcome.status = status_of_error(&e);
            outcome.error = Some(e.to_string());
            return finish(outcome);
        }
        Ended::Written(c, r) => (*c, r),
    };
    let held_back = !outcome.load.held_back.is_empty();
    outcome.status = match (&result, collection.policy_violation.is_some(), collection.status()) {
        (Err(e), _, _) => status_of_error(e),
        (_, true, _) => SyncStatus::PolicyFailed,
        (Ok(()), _, RunStatus::Failed) => SyncStatus::MimecastFailed,
        (Ok(()), _, RunStatus::Partial) => SyncStatus::Partial,
        (Ok(()), _, RunStatus::Success) if held_back => SyncStatus::Partial,
        (Ok(()), _, RunStatus::Success) => SyncStatus::Success,
    };
    if let Err(e) = result {
        error!(error = %e, "writing to Neo4j failed");
        outcome.error = Some(e.to_string());
    } else if let Some(v) = &collection.policy_violation {
        outcome.error = Some(v.clone());
    }
    outcome.collection = Some(collection);
    finish(outcome)
}

fn status_of_error(e: &SinkError) -> SyncStatus {
    match e {
        SinkError::Stopped => SyncStatus::Stopped,
        _ => SyncStatus::Neo4jFailed,
    }
}

/// The account code of every connection whose `get-account` answers, sorted, without
/// fetching anything else. A connection that fails here is left to the collection,
/// which fails it the same way and reports why.
async fn discover_accounts(config: &Config, clients: &[Result<Client, ApiError>]) -> Vec<String> {
    let found = futures::future::join_all(config.connections.iter().zip(clients).map(|(c, client)| async move {
        let client = client.as_ref().ok()?;
        match client.get_account().await {
            Ok(account) => Some(account.account_code),
            Err(e) => {
                debug!(connection = %c.name, error = %e, "get-account failed before collecting");
                None
            }
        }
    }))
    .await;
    let codes: BTreeSet<String> = found.into_iter().flatten().collect();
    codes.into_iter().collect()
}

/// Collects while the schema is applied. A schema failure cancels the collection at
/// once: a sync that cannot write should not spend the API quota.
async fn collect_with_schema(
    sink: &Sink,
    config: &Config,
    clients: &[Result<Client, ApiError>],
    steps: &[Step],
    progress: &dyn Progress,
    cursors: &crate::sink::StoredCursors,
    activity: std::sync::Arc<crate::graph::ActivityState>,
) -> Result<Collection, SinkError> {
    let collecting = collect::collect_resuming(config, clients, steps, progress, cursors, activity);
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

/// Writes a collection. `leased` are the accounts whose leases this sync already
/// holds; any other account it writes is leased here first.
#[allow(clippy::too_many_arguments)]
async fn write(
    sink: &Sink,
    c: &Collection,
    queries: &QuerySet,
    stamp: &SyncStamp,
    leased: &[&str],
    policy: &DeletePolicy,
    history: &SyncConfig,
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
    let extra: Vec<&str> = accounts.into_iter().filter(|a| !leased.contains(a)).collect();
    if !extra.is_empty() {
        sink.lock_accounts(&extra, stamp).await?;
    }
    let result = sink
        .hold_leases(&extra, stamp, crate::sink::RENEW_EVERY, async {
            // A tenant that could not be collected keeps its data; its account node
            // says so.
            for t in &failed {
                let marked = sink.mark_account_failed(t.account_code.as_deref(), &t.connection, stamp).await?;
                if marked == 0 {
                    warn!(connection = %t.connection, "the failed tenant's account node was not found (first sync, or the connection name is ambiguous)");
                }
                if let Some(account) = t.account_code.as_deref() {
                    sink.record_run(&history_run(c, account, AccountStatus::Failed, stamp), history.history_runs)
                        .await?;
                }
            }
            if usable.is_empty() {
                return Ok(());
            }
            Box::pin(write_accounts(sink, c, &usable, queries, stamp, policy, history, load)).await
        })
        .await;
    if !extra.is_empty() {
        sink.unlock_accounts(&extra, stamp).await;
    }
    result
}

/// The diff-engine writes, stamps and history record of each usable account, under
/// their leases, one account after the other; then the saved queries.
#[allow(clippy::too_many_arguments)]
async fn write_accounts(
    sink: &Sink,
    c: &Collection,
    usable: &[(&str, RunStatus)],
    queries: &QuerySet,
    stamp: &SyncStamp,
    policy: &DeletePolicy,
    history: &SyncConfig,
    load: &mut LoadReport,
) -> Result<(), SinkError> {
    for (account, status) in usable {
        let mut written = LoadReport::default();
        let result = sink
            .write_account(
                &c.store,
                schema(),
                account,
                &c.partial_types(account),
                policy,
                stamp,
                &mut written,
            )
            .await;
        let types = written.types.clone();
        let generation = written.generations.get(*account).cloned();
        let verified = written.content_verified.iter().any(|a| a == account);
        // A type the deletion guard kept makes the account partial.
        let held = !written.held_back.is_empty();
        load.absorb(written);
        result?;
        let label = match status {
            RunStatus::Success if held => AccountStatus::Partial,
            RunStatus::Success => AccountStatus::Success,
            RunStatus::Partial => AccountStatus::Partial,
            RunStatus::Failed => AccountStatus::Failed,
        };
        sink.mark_account(account, label, stamp).await?;
        // The account's events are written: its TTP log streams move on, except those
        // with elements validation kept out (read again next time).
        let partial = c.partial_types(account);
        let windows: Vec<(String, String, String)> = c
            .tenants
            .iter()
            .filter(|t| t.account_code.as_deref() == Some(*account))
            .flat_map(|t| &t.threat_windows)
            .filter(|w| !partial.contains(&w.entity_type))
            .map(|w| (w.stream.clone(), w.from.clone(), w.to.clone()))
            .collect();
        sink.advance_cursors(account, &windows, stamp).await?;
        let mut run = history_run(c, account, label, stamp);
        run.types = types;
        let t_rules = Instant::now();
        // A sync that read the content in full runs every query afresh.
        let previous = match &generation {
            Some(g) if !verified => sink
                .latest_run(account)
                .await
                .unwrap_or_else(|e| {
                    warn!(account, error = %e, "the previous sync run is unreadable; every saved query runs");
                    None
                })
                .filter(|p| p.content_generation.as_ref() == Some(g)),
            _ => None,
        };
        run.content_generation = generation;
        load.rules_reused += record_rule_results(
            sink,
            queries,
            account,
            history.history_finding_ids_max,
            previous.as_ref(),
            &mut run,
        )
        .await;
        load.rules_ms += t_rules.elapsed().as_millis() as u64;
        sink.record_run(&run, history.history_runs).await?;
    }
    let entities: Vec<_> = queries.iter().map(|q| q.entity(&queries.source)).collect();
    let (counts, deleted) = sink.sync_queries(&queries.source, &entities, stamp).await?;
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
