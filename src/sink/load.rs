//! Loading a validated graph: schema apply, upserts per label and relationship type,
//! and cleanup scoped to an account and to the types that are complete.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use neo4rs::{query, BoltType};
use serde::Serialize;
use tracing::info;

use super::guard::{DeletePolicy, Deletion, HeldBack};
use super::upsert::{Mode, SyncStamp, WriteCounts};
use super::{Sink, SinkError};
use crate::graph::{Entity, GraphStore, Relationship};
use crate::schema::Schema;

/// What a sync did to one type, in one account or overall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TypeWrite {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Time spent upserting this type (cleanup not included).
    #[serde(rename = "upsertMs")]
    pub upsert_ms: u64,
}

/// What the sink did in one sync. Counts include the batches of a write that was cut
/// short (a stop, a failure): what is in Neo4j, not what was planned.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    /// By `_type`.
    pub types: BTreeMap<String, TypeWrite>,
    /// Types whose upsert did not write every element (the sync stopped or failed).
    pub incomplete_types: BTreeSet<String>,
    /// Types the deletion guard kept, per account.
    pub held_back: Vec<HeldBack>,
    pub upsert_ms: u64,
    pub cleanup_ms: u64,
}

impl TypeWrite {
    /// (created, updated, unchanged, deleted), without the timing.
    pub fn counts(&self) -> (u64, u64, u64, u64) {
        (self.created, self.updated, self.unchanged, self.deleted)
    }
}

impl LoadReport {
    fn add_deleted(&mut self, t: &str, deleted: u64) {
        self.types.entry(t.to_owned()).or_default().deleted += deleted;
    }

    fn add_counts(&mut self, t: &str, c: WriteCounts, ms: u64) {
        let e = self.types.entry(t.to_owned()).or_default();
        e.created += c.created;
        e.updated += c.updated;
        e.unchanged += c.unchanged;
        e.upsert_ms += ms;
    }

    pub fn totals(&self) -> TypeWrite {
        self.types.values().fold(TypeWrite::default(), |mut acc, t| {
            acc.created += t.created;
            acc.updated += t.updated;
            acc.unchanged += t.unchanged;
            acc.deleted += t.deleted;
            acc.upsert_ms += t.upsert_ms;
            acc
        })
    }
}

impl Sink {
    /// Runs concurrent write jobs to their ends. Unlike `try_collect`, a failing or
    /// stopped job does not drop the batches still in flight: they finish, and the
    /// other jobs start no new batch (a failure sets `aborted`). Every job yields what
    /// it wrote, even when it failed half-way; returned with the error that matters: a
    /// real one before the knock-on `Stopped` and `Abandoned`.
    async fn all_finished<T>(
        &self,
        jobs: impl futures::Stream<Item = (T, Result<(), SinkError>)>,
    ) -> (Vec<T>, Option<SinkError>) {
        let results: Vec<(T, Result<(), SinkError>)> = jobs
            .inspect(|(_, r)| {
                if matches!(r, Err(e) if !e.is_knock_on()) {
                    self.aborted.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            })
            .collect()
            .await;
        let mut done = Vec::new();
        let mut error: Option<SinkError> = None;
        for (t, r) in results {
            done.push(t);
            match r {
                Err(e)
                    if error
                        .as_ref()
                        .is_none_or(|first| first.is_knock_on() && !e.is_knock_on()) =>
                {
                    error = Some(e);
                }
                _ => {}
            }
        }
        (done, error)
    }
}

/// A non-negative integer column of a row (0 when absent).
fn int(row: Option<&super::Record>, column: &str) -> u64 {
    match row.and_then(|r| r.get(column)) {
        Some(BoltType::Integer(i)) => i.value.max(0) as u64,
        _ => 0,
    }
}

/// Which types of which account are partial (merge, never clean up).
pub type PartialTypes = BTreeMap<String, BTreeSet<String>>;

fn account_of(props: &crate::graph::Properties) -> Option<&str> {
    props.get("accountCode").and_then(crate::graph::Value::as_str)
}

fn is_partial(partial: &PartialTypes, account: Option<&str>, element_type: &str) -> bool {
    account.is_some_and(|a| partial.get(a).is_some_and(|types| types.contains(element_type)))
}

impl Sink {
    /// A uniqueness constraint on `_key` and indexes on `accountCode` and `_lastSyncId`
    /// for every label in the schema. Idempotent.
    ///
    /// # Errors
    /// A statement fails.
    pub async fn apply_schema(&self, schema: &Schema) -> Result<usize, SinkError> {
        let mut statements = Vec::new();
        for e in &schema.entities {
            let l = &e.label;
            let base = l.to_lowercase();
            statements.push(format!(
                "CREATE CONSTRAINT mg_{base}_key IF NOT EXISTS FOR (n:{l}) REQUIRE n._key IS UNIQUE"
            ));
            statements.push(format!(
                "CREATE INDEX mg_{base}_account IF NOT EXISTS FOR (n:{l}) ON (n.accountCode)"
            ));
            statements.push(format!(
                "CREATE INDEX mg_{base}_sync IF NOT EXISTS FOR (n:{l}) ON (n._lastSyncId)"
            ));
        }
        // The write leases of src/sink/lock.rs: one node per account, made unique so two
        // syncs cannot both create one.
        statements.push(format!(
            "CREATE CONSTRAINT mg_lock_account IF NOT EXISTS FOR (l:{}) REQUIRE l.accountCode IS UNIQUE",
            super::LOCK_LABEL
        ));
        for s in &statements {
            self.run("schema", query(s)).await?;
        }
        // Constraints build their indexes asynchronously; wait so the first MERGEs use them.
        self.run("schema", query("CALL db.awaitIndexes(300)")).await?;
        Ok(statements.len())
    }

    /// Upserts every entity, then every relationship, grouped by type. Types partial in
    /// an account are merged (no property removed); complete ones replaced.
    ///
    /// # Errors
    /// A batch fails after its retries.
    pub async fn upsert_graph<'a>(
        &self,
        store: &'a GraphStore,
        schema: &Schema,
        partial: &PartialTypes,
        stamp: &SyncStamp,
        report: &mut LoadReport,
    ) -> Result<(), SinkError> {
        let t0 = Instant::now();
        let mut nodes: BTreeMap<(&str, Mode), Vec<&Entity>> = BTreeMap::new();
        for e in store.entities() {
            let mode = if is_partial(partial, account_of(&e.properties), e.entity_type) {
                Mode::Merge
            } else {
                Mode::Replace
            };
            nodes.entry((e.entity_type, mode)).or_default().push(e);
        }
        let mut rels: Vec<(&Relationship, Mode)> = Vec::with_capacity(store.relationship_count());
        for r in store.relationships() {
            let mode = if is_partial(partial, account_of(&r.properties), r.relationship_type) {
                Mode::Merge
            } else {
                Mode::Replace
            };
            rels.push((r, mode));
        }
        if let Some((r, _)) = rels
            .iter()
            .find(|(r, _)| schema.relationship(r.relationship_type).is_none())
        {
            return Err(SinkError::Config(format!(
                "relationship type {} is not in graph-schema",
                r.relationship_type
            )));
        }
        // Node labels do not contend for locks: write them concurrently.
        let parallel = self.config().max_connections.max(1);
        let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
        for ((t, _), list) in &nodes {
            *expected.entry(t).or_default() += list.len() as u64;
        }
        for (r, _) in &rels {
            *expected.entry(r.relationship_type).or_default() += 1;
        }
        let mut written: BTreeMap<&str, u64> = BTreeMap::new();
        let mut record = |report: &mut LoadReport, t: &'a str, c: WriteCounts, ms: u64| {
            *written.entry(t).or_default() += c.total();
            report.add_counts(t, c, ms);
        };
        let node_jobs = nodes.iter().map(|((t, mode), list)| async move {
            let t0 = Instant::now();
            let mut counts = WriteCounts::default();
            let result = match schema.entity(t) {
                Some(spec) => {
                    self.upsert_nodes_counted(&spec.labels(), list, *mode, stamp, &mut counts)
                        .await
                }
                None => Err(SinkError::Config(format!("entity type {t} is not in graph-schema"))),
            };
            ((*t, counts, t0.elapsed().as_millis() as u64), result)
        });
        let (done, error) = self
            .all_finished(stream::iter(node_jobs).buffer_unordered(parallel))
            .await;
        for (t, c, ms) in done {
            record(report, t, c, ms);
        }
        let incomplete = |report: &mut LoadReport, written: &BTreeMap<&str, u64>| {
            for (t, n) in &expected {
                if written.get(t).copied().unwrap_or(0) < *n {
                    report.incomplete_types.insert((*t).to_owned());
                }
            }
        };
        if let Some(e) = error {
            incomplete(report, &written);
            return Err(e);
        }
        // Relationships in units that share no dense node (see plan.rs), concurrently.
        let units = super::plan::plan(rels, schema, self.config().batch_size);
        let unit_jobs = units.iter().map(|unit| async move {
            let mut done = Vec::new();
            for part in &unit.parts {
                let spec = schema.relationship(part.relationship_type).expect("checked above");
                let from = &schema.entity(&spec.from).expect("schema checked").label;
                let to = &schema.entity(&spec.to).expect("schema checked").label;
                let t_rel = Instant::now();
                let mut counts = WriteCounts::default();
                let result = self
                    .upsert_relationships(from, &spec.class, to, &part.rows, part.mode, stamp, &mut counts)
                    .await;
                done.push((part.relationship_type, counts, t_rel.elapsed().as_millis() as u64));
                if result.is_err() {
                    return (done, result);
                }
            }
            (done, Ok(()))
        });
        let (done, error) = self
            .all_finished(stream::iter(unit_jobs).buffer_unordered(parallel))
            .await;
        for (t, c, ms) in done.into_iter().flatten() {
            record(report, t, c, ms);
        }
        if let Some(e) = error {
            incomplete(report, &written);
            return Err(e);
        }
        report.upsert_ms += t0.elapsed().as_millis() as u64;
        info!(elapsed_ms = report.upsert_ms, "upsert finished");
        Ok(())
    }

    /// Deletes the account's elements that this sync did not write, for every type
    /// that is not partial, in chunks of `cleanup_batch_size`: relationships first,
    /// then nodes (with whatever relationships still touch them, counted as deleted
    /// under their own type). First every type is counted, and a type of which the
    /// deletion would exceed `policy` is kept whole and reported in
    /// [`LoadReport::held_back`] (see [`super::guard`]).
    ///
    /// # Errors
    /// A statement fails after its retries.
    pub async fn cleanup_account(
        &self,
        account_code: &str,
        schema: &Schema,
        partial: &BTreeSet<String>,
        policy: &DeletePolicy,
        stamp: &SyncStamp,
        report: &mut LoadReport,
    ) -> Result<(), SinkError> {
        // A stop is honoured before an account's cleanup, not in the middle of it.
        if self.stop_requested() {
            return Err(SinkError::Stopped);
        }
        let t0 = Instant::now();
        let mut targets = Vec::new();
        for r in &schema.relationships {
            if partial.contains(&r.relationship_type) {
                continue;
            }
            let from = &schema.entity(&r.from).expect("schema checked");
            let to = &schema.entity(&r.to).expect("schema checked");
            let anchored = if from.is_account_scoped() {
                format!(
                    "(:{} {{accountCode: $account}})-[x:{}]->(:{})",
                    from.label, r.class, to.label
                )
            } else {
                format!(
                    "(:{})-[x:{}]->(:{} {{accountCode: $account}})",
                    from.label, r.class, to.label
                )
            };
            targets.push((
                r.relationship_type.as_str(),
                anchored,
                Some([r.from.as_str(), r.to.as_str()]),
            ));
        }
        for e in &schema.entities {
            if partial.contains(&e.entity_type) || !e.is_account_scoped() {
                continue;
            }
            let anchored = format!("(x:{} {{accountCode: $account}})", e.label);
            targets.push((e.entity_type.as_str(), anchored, None));
        }
        // Everything is counted before anything is deleted: the guard judges the
        // account as this sync found it.
        let mut deletions = Vec::new();
        let mut statements = Vec::new();
        for (element_type, anchored, endpoints) in targets {
            let (would_delete, total) = self.count_stale(&anchored, account_code, element_type, stamp).await?;
            if would_delete > 0 {
                deletions.push(Deletion {
                    element_type,
                    would_delete,
                    total,
                    endpoints,
                });
                statements.push((anchored, endpoints.is_none()));
            }
        }
        let held = policy.review(account_code, &deletions);
        for h in &held {
            tracing::warn!(account = account_code, element_type = %h.element_type, would_delete = h.would_delete, total = h.total, "{h}");
        }
        for (d, (anchored, is_node)) in deletions.iter().zip(statements) {
            if held.iter().any(|h| h.element_type == d.element_type) {
                continue;
            }
            let element_type = d.element_type;
            let statement = if is_node {
                // The relationships still attached (of partial types) go with the node;
                // their types are returned so that the summary counts them.
                format!(
                    "MATCH {anchored} WHERE x._type = $type AND x._lastSyncId <> $syncId \
                     WITH x LIMIT $limit WITH collect(x) AS nodes \
                     UNWIND nodes AS n OPTIONAL MATCH (n)-[r]-() \
                     WITH nodes, collect(DISTINCT r) AS rels \
                     WITH nodes, rels, [r IN rels WHERE r._type IS NOT NULL | r._type] AS relTypes \
                     FOREACH (r IN rels | DELETE r) FOREACH (n IN nodes | DELETE n) \
                     RETURN size(nodes) AS deleted, relTypes"
                )
            } else {
                format!(
                    "MATCH {anchored} WHERE x._type = $type AND x._lastSyncId <> $syncId \
                     WITH x LIMIT $limit DELETE x RETURN count(*) AS deleted"
                )
            };
            self.delete_in_chunks(&statement, account_code, element_type, stamp, report)
                .await?;
        }
        report.held_back.extend(held);
        report.cleanup_ms += t0.elapsed().as_millis() as u64;
        Ok(())
    }

    /// How many elements `anchored` (bound to `x`) matches for the account and type,
    /// and how many of them this sync did not write: `(stale, total)`.
    async fn count_stale(
        &self,
        anchored: &str,
        account_code: &str,
        element_type: &str,
        stamp: &SyncStamp,
    ) -> Result<(u64, u64), SinkError> {
        let q = query(&format!(
            "MATCH {anchored} WHERE x._type = $type \
             RETURN count(x) AS total, sum(CASE WHEN x._lastSyncId <> $syncId THEN 1 ELSE 0 END) AS stale"
        ))
        .param("account", account_code)
        .param("type", element_type)
        .param("syncId", stamp.sync_id.as_str());
        let rows = self.write_even_when_stopped("cleanup-count", q).await?;
        let row = rows.first();
        Ok((int(row, "stale"), int(row, "total")))
    }

    /// Deletes chunk after chunk, adding each to the report as it commits.
    async fn delete_in_chunks(
        &self,
        statement: &str,
        account_code: &str,
        element_type: &str,
        stamp: &SyncStamp,
        report: &mut LoadReport,
    ) -> Result<(), SinkError> {
        let limit = self.config().cleanup_batch_size as i64;
        loop {
            let q = query(statement)
                .param("account", account_code)
                .param("type", element_type)
                .param("syncId", stamp.sync_id.as_str())
                .param("limit", limit);
            let rows = self.write_even_when_stopped(element_type, q).await?;
            let deleted = int(rows.first(), "deleted");
            report.add_deleted(element_type, deleted);
            if let Some(BoltType::List(types)) = rows.first().and_then(|r| r.get("relTypes")) {
                for t in types.iter() {
                    if let BoltType::String(t) = t {
                        report.add_deleted(&t.value, 1);
                    }
                }
            }
            if deleted < limit as u64 {
                return Ok(());
            }
        }
    }

    /// Stamps the account node after a sync: when and how it went, and when it last
    /// succeeded.
    ///
    /// # Errors
    /// The write fails.
    /// Records a failed collection on the account node, which keeps its data and its
    /// `lastSuccessfulSyncOn`: by account code when the run learned it, else by
    /// connection name when exactly one account node carries that name (a failure at
    /// authentication comes before the account code is known). Returns how many
    /// account nodes were marked.
    ///
    /// # Errors
    /// The statement fails.
    pub async fn mark_account_failed(
        &self,
        account_code: Option<&str>,
        connection: &str,
        stamp: &SyncStamp,
    ) -> Result<i64, SinkError> {
        let q = match account_code {
            Some(code) => query(
                "MATCH (a:MimecastAccount {_key: $key}) SET a.lastSyncOn = $now, a.lastSyncStatus = 'failed' \
                 RETURN count(a) AS marked",
            )
            .param("key", crate::schema::keys::account(code)),
            None => query(
                "OPTIONAL MATCH (a:MimecastAccount {connection: $connection}) WITH collect(a) AS found \
                 FOREACH (a IN CASE WHEN size(found) = 1 THEN found ELSE [] END | \
                   SET a.lastSyncOn = $now, a.lastSyncStatus = 'failed') \
                 RETURN CASE WHEN size(found) = 1 THEN 1 ELSE 0 END AS marked",
            )
            .param("connection", connection),
        };
        let rows = self.write("mark-account", q.param("now", stamp.now.as_str())).await?;
        Ok(match rows.first().and_then(|r| r.get("marked")) {
            Some(BoltType::Integer(i)) => i.value,
            _ => 0,
        })
    }

    pub async fn mark_account(
        &self,
        account_code: &str,
        status: &str,
        success: bool,
        stamp: &SyncStamp,
    ) -> Result<(), SinkError> {
        let statement = if success {
            "MATCH (a:MimecastAccount {_key: $key}) \
             SET a.lastSyncOn = $now, a.lastSyncStatus = $status, a.lastSuccessfulSyncOn = $now"
        } else {
            "MATCH (a:MimecastAccount {_key: $key}) SET a.lastSyncOn = $now, a.lastSyncStatus = $status"
        };
        let q = query(statement)
            .param("key", crate::schema::keys::account(account_code))
            .param("now", stamp.now.as_str())
            .param("status", status);
        self.write_even_when_stopped("mark-account", q).await.map(|_| ())
    }
}
