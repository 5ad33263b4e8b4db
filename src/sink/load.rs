//! Loading a validated graph: schema apply, upserts per label and relationship type,
//! and cleanup scoped to an account and to the types that are complete.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use neo4rs::{query, BoltType};
use serde::Serialize;
use tracing::info;

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

/// What the sink did in one sync.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    /// By `_type`.
    pub types: BTreeMap<String, TypeWrite>,
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
    /// other jobs start no new batch (a failure sets `aborted`). Returns what the
    /// jobs that finished produced, and the error that matters: a real one before
    /// the knock-on `Stopped` and `Abandoned`.
    async fn all_finished<T>(
        &self,
        jobs: impl futures::Stream<Item = Result<T, SinkError>>,
    ) -> (Vec<T>, Option<SinkError>) {
        let results: Vec<Result<T, SinkError>> = jobs
            .inspect(|r| {
                if matches!(r, Err(e) if !e.is_knock_on()) {
                    self.aborted.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            })
            .collect()
            .await;
        let mut done = Vec::new();
        let mut error: Option<SinkError> = None;
        for r in results {
            match r {
                Ok(t) => done.push(t),
                Err(e)
                    if error
                        .as_ref()
                        .is_none_or(|first| first.is_knock_on() && !e.is_knock_on()) =>
                {
                    error = Some(e);
                }
                Err(_) => {}
            }
        }
        (done, error)
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
    pub async fn upsert_graph(
        &self,
        store: &GraphStore,
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
        let node_jobs = nodes.iter().map(|((t, mode), list)| async move {
            let spec = schema
                .entity(t)
                .ok_or_else(|| SinkError::Config(format!("entity type {t} is not in graph-schema")))?;
            let t0 = Instant::now();
            let counts = self.upsert_nodes(&spec.labels(), list, *mode, stamp).await?;
            Ok::<_, SinkError>((*t, counts, t0.elapsed().as_millis() as u64))
        });
        let (done, error) = self
            .all_finished(stream::iter(node_jobs).buffer_unordered(parallel))
            .await;
        for (t, c, ms) in done {
            report.add_counts(t, c, ms);
        }
        if let Some(e) = error {
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
                let counts = self
                    .upsert_relationships(from, &spec.class, to, &part.rows, part.mode, stamp)
                    .await?;
                done.push((part.relationship_type, counts, t_rel.elapsed().as_millis() as u64));
            }
            Ok::<_, SinkError>(done)
        });
        let (done, error) = self
            .all_finished(stream::iter(unit_jobs).buffer_unordered(parallel))
            .await;
        for (t, c, ms) in done.into_iter().flatten() {
            report.add_counts(t, c, ms);
        }
        if let Some(e) = error {
            return Err(e);
        }
        report.upsert_ms += t0.elapsed().as_millis() as u64;
        info!(elapsed_ms = report.upsert_ms, "upsert finished");
        Ok(())
    }

    /// Deletes the account's elements that this sync did not write, for every type
    /// that is not partial, in chunks of `cleanup_batch_size`. Relationships first,
    /// then nodes (with whatever relationships still touch them).
    ///
    /// # Errors
    /// A chunk fails after its retries.
    pub async fn cleanup_account(
        &self,
        account_code: &str,
        schema: &Schema,
        partial: &BTreeSet<String>,
        stamp: &SyncStamp,
        report: &mut LoadReport,
    ) -> Result<(), SinkError> {
        // A stop is honoured before an account's cleanup, not in the middle of it.
        if self.stop_requested() {
            return Err(SinkError::Stopped);
        }
        let t0 = Instant::now();
        for r in &schema.relationships {
            if partial.contains(&r.relationship_type) {
                continue;
            }
            let from = &schema.entity(&r.from).expect("schema checked");
            let to = &schema.entity(&r.to).expect("schema checked");
            let anchored = if from.is_account_scoped() {
                format!(
                    "(:{} {{accountCode: $account}})-[r:{}]->(:{})",
                    from.label, r.class, to.label
                )
            } else {
                format!(
                    "(:{})-[r:{}]->(:{} {{accountCode: $account}})",
                    from.label, r.class, to.label
                )
            };
            let statement = format!(
                "MATCH {anchored} WHERE r._type = $type AND r._lastSyncId <> $syncId \
                 WITH r LIMIT $limit DELETE r RETURN count(*) AS deleted"
            );
            let deleted = self
                .delete_in_chunks(&statement, account_code, &r.relationship_type, stamp)
                .await?;
            report.types.entry(r.relationship_type.clone()).or_default().deleted += deleted;
        }
        for e in &schema.entities {
            if partial.contains(&e.entity_type) || !e.is_account_scoped() {
                continue;
            }
            let statement = format!(
                "MATCH (n:{} {{accountCode: $account}}) WHERE n._type = $type AND n._lastSyncId <> $syncId \
                 WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted",
                e.label
            );
            let deleted = self
                .delete_in_chunks(&statement, account_code, &e.entity_type, stamp)
                .await?;
            report.types.entry(e.entity_type.clone()).or_default().deleted += deleted;
        }
        report.cleanup_ms += t0.elapsed().as_millis() as u64;
        Ok(())
    }

    async fn delete_in_chunks(
        &self,
        statement: &str,
        account_code: &str,
        element_type: &str,
        stamp: &SyncStamp,
    ) -> Result<u64, SinkError> {
        let limit = self.config().cleanup_batch_size as i64;
        let mut total = 0;
        loop {
            let q = query(statement)
                .param("account", account_code)
                .param("type", element_type)
                .param("syncId", stamp.sync_id.as_str())
                .param("limit", limit);
            let rows = self.write_even_when_stopped(element_type, q).await?;
            let deleted = match rows.first().and_then(|r| r.get("deleted")) {
                Some(BoltType::Integer(i)) => i.value.max(0) as u64,
                _ => 0,
            };
            total += deleted;
            if deleted < limit as u64 {
                return Ok(total);
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
            .param("key", crate::converters::keys::account(code)),
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
            .param("key", crate::converters::keys::account(account_code))
            .param("now", stamp.now.as_str())
            .param("status", status);
        self.write_even_when_stopped("mark-account", q).await.map(|_| ())
    }
}
