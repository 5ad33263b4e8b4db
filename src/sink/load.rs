//! Loading a validated graph: schema apply, then the diff engine: the stored state is
//! read ([`super::diff`]), new elements are created, changed ones rewritten, unchanged
//! ones left alone, and gone ones deleted where their type is complete and a snapshot
//! (within the deletion guard, [`super::cleanup`]); events older than the retention
//! window go too. The account's marks are in [`super::marks`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use neo4rs::{query, BoltType};
use tracing::{info, warn};

use super::diff::{Depth, Diff, Found};
use super::guard::DeletePolicy;
use super::report::{LoadReport, TypeWrite};
use super::upsert::{Mode, SyncStamp, WriteCounts};
use super::{Sink, SinkError};
use crate::graph::{Entity, GraphStore, Relationship};
use crate::schema::Schema;

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

/// The name part of a declared index (`mg_<label>_<this>`): its properties without a
/// leading `_`, lowercase, joined by `_`.
fn index_name(index: &str) -> String {
    crate::schema::index_properties(index)
        .map(|p| p.trim_start_matches('_').to_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// What a declared index is on, for `var`: `n.a` or `n.a, n.b`.
fn index_on(var: &str, index: &str) -> String {
    crate::schema::index_properties(index)
        .map(|p| format!("{var}.{p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn account_of(props: &crate::graph::Properties) -> Option<&str> {
    props.get("accountCode").and_then(crate::graph::Value::as_str)
}

/// One type's writes: new elements, changed ones with their element ids.
struct Work<'a, T> {
    new: Vec<&'a T>,
    changed: Vec<(&'a T, &'a str)>,
    unchanged: u64,
}

impl<T> Default for Work<'_, T> {
    fn default() -> Self {
        Work {
            new: Vec::new(),
            changed: Vec::new(),
            unchanged: 0,
        }
    }
}

impl<'a, T> Work<'a, T> {
    fn add(&mut self, element: &'a T, found: Found<'a>) {
        match found {
            Found::Absent => self.new.push(element),
            Found::Same => self.unchanged += 1,
            Found::Differs(id) => self.changed.push((element, id)),
        }
    }

    fn len(&self) -> u64 {
        (self.new.len() + self.changed.len()) as u64
    }
}

impl Sink {
    /// A uniqueness constraint on `_key` and an index on `accountCode` for every label
    /// in the schema, and a uniqueness constraint on `_key` for every relationship
    /// type (it also guards the `CREATE` of a relationship), and the range indexes the
    /// schema declares on entity and relationship properties. Idempotent; the index on
    /// `_lastSyncId` that versions before the diff engine made is dropped.
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
            statements.push(format!("DROP INDEX mg_{base}_sync IF EXISTS"));
            for p in &e.indexes {
                statements.push(format!(
                    "CREATE INDEX mg_{base}_{} IF NOT EXISTS FOR (n:{l}) ON ({})",
                    index_name(p),
                    index_on("n", p)
                ));
            }
        }
        let classes: BTreeSet<&str> = schema.relationships.iter().map(|r| r.class.as_str()).collect();
        for class in classes {
            let base = class.to_lowercase();
            statements.push(format!(
                "CREATE CONSTRAINT mg_rel_{base}_key IF NOT EXISTS FOR ()-[r:{class}]-() REQUIRE r._key IS UNIQUE"
            ));
        }
        for (class, names) in schema.relationship_indexes() {
            let base = class.to_lowercase();
            for p in names {
                statements.push(format!(
                    "CREATE INDEX mg_rel_{base}_{} IF NOT EXISTS FOR ()-[r:{class}]-() ON ({})",
                    index_name(p),
                    index_on("r", p)
                ));
            }
        }
        // The write leases of src/sink/lock.rs: one node per account, made unique so two
        // syncs cannot both create one; the sync history of src/sink/history.rs.
        statements.push(format!(
            "CREATE CONSTRAINT mg_lock_account IF NOT EXISTS FOR (l:{}) REQUIRE l.accountCode IS UNIQUE",
            super::LOCK_LABEL
        ));
        statements.push(format!(
            "CREATE CONSTRAINT mg_syncrun_key IF NOT EXISTS FOR (r:{}) REQUIRE r._key IS UNIQUE",
            super::history::RUN_LABEL
        ));
        statements.push(format!(
            "CREATE INDEX mg_syncrun_account IF NOT EXISTS FOR (r:{}) ON (r.accountCode)",
            super::history::RUN_LABEL
        ));
        for s in &statements {
            self.run("schema", query(s)).await?;
        }
        // Constraints build their indexes asynchronously; wait so the first writes use them.
        self.run("schema", query("CALL db.awaitIndexes(300)")).await?;
        Ok(statements.len())
    }

    /// Writes the collected graph of one account (whose lease this sync holds): reads
    /// what Neo4j holds, creates what is new, rewrites what changed, and deletes what
    /// is gone ([`Sink::delete_gone`]). Types `partial` in the account are merged (no
    /// property removed, nothing deleted); complete ones replaced.
    ///
    /// # Errors
    /// A read or a batch fails after its retries.
    #[allow(clippy::too_many_arguments)]
    pub async fn write_account(
        &self,
        store: &GraphStore,
        schema: &Schema,
        account: &str,
        partial: &BTreeSet<String>,
        policy: &DeletePolicy,
        stamp: &SyncStamp,
        report: &mut LoadReport,
    ) -> Result<(), SinkError> {
        if let Some(r) = store
            .relationships()
            .find(|r| schema.relationship(r.relationship_type()).is_none())
        {
            return Err(SinkError::Config(format!(
                "relationship type {} is not in graph-schema",
                r.relationship_type()
            )));
        }
        let depth = self.diff_depth(account).await?;
        let collected = super::digest::collected(store, schema, account, partial, depth == Depth::Fingerprints);
        let stored_digests = self.stored_digests(account).await?;
        let diff = self
            .read_diff(store, schema, account, partial, depth, &collected, &stored_digests)
            .await?;
        report.read_ms += diff.read_ms;
        report.read_elements += diff.read;
        report.counted_elements += diff.counted;
        // The digests stand for what is stored only while no write is under way.
        self.begin_write(account, stamp).await?;
        let written_before = TypeWrite::sum(report.types.values()).counts();
        self.missed.store(false, std::sync::atomic::Ordering::Relaxed);
        let written = self
            .write_changes(store, schema, account, partial, &diff, stamp, report)
            .await;
        if self.missed.load(std::sync::atomic::Ordering::Relaxed) && depth == Depth::Fingerprints {
            // The stored state was not what the fingerprint read said (a batch whose
            // answer was lost, or fingerprints edited by hand, see sift.rs): the next
            // sync reads the content in full, even after this one failed.
            warn!(
                account,
                "Neo4j did not hold what the fingerprint read found; the next sync reads the account's content in full"
            );
            let q = query("MATCH (a:MimecastAccount {_key: $key}) REMOVE a._contentVerifiedOn")
                .param("key", crate::schema::keys::account(account));
            let marked = self.write_even_when_stopped("content-unverified", q).await;
            written.and(marked)?;
        } else {
            written?;
        }
        self.delete_gone(account, schema, partial, policy, &diff, stamp, report)
            .await?;
        // Every type the write left exactly as collected.
        let held: BTreeSet<&str> = report
            .held_back
            .iter()
            .filter(|h| h.account == account)
            .map(|h| h.element_type.as_str())
            .collect();
        let (nodes, rels) = (&collected.nodes, &collected.rels);
        let lines = super::digest::lines(
            nodes
                .iter()
                .chain(rels)
                .filter(|(t, _)| !held.contains(t.as_str()) && !report.incomplete_types.contains(*t))
                .map(|(t, c)| (t.as_str(), c.digest)),
        );
        let (created, updated, _, deleted) = TypeWrite::sum(report.types.values()).counts();
        let changed = (created, updated, deleted) != (written_before.0, written_before.1, written_before.3);
        if let Some(generation) = self.store_digests(account, lines, changed, stamp).await? {
            report.generations.insert(account.to_owned(), generation);
        }
        if depth == Depth::Content {
            // The sync's start: what it verified is as of then.
            let q = query("MATCH (a:MimecastAccount {_key: $key}) SET a._contentVerifiedOn = $now")
                .param("key", crate::schema::keys::account(account))
                .param("now", stamp.now_value());
            self.write("content-verified", q).await?;
            report.content_verified.push(account.to_owned());
        }
        Ok(())
    }

    /// How deep this sync reads the account's stored state: its content when it was
    /// last verified `verify_content_hours` ago or longer (by the server's clock), or
    /// never, or when that setting is 0; its fingerprints otherwise.
    async fn diff_depth(&self, account: &str) -> Result<Depth, SinkError> {
        let hours = self.config().verify_content_hours;
        if hours == 0 {
            return Ok(Depth::Content);
        }
        let q = query(
            "MATCH (a:MimecastAccount {_key: $key}) \
             RETURN a._contentVerifiedOn > datetime() - duration({hours: $hours}) AS fresh",
        )
        .param("key", crate::schema::keys::account(account))
        .param("hours", i64::from(hours));
        let rows = self.read(q).await?;
        Ok(match rows.first().and_then(|r| r.get("fresh")) {
            Some(BoltType::Boolean(b)) if b.value => Depth::Fingerprints,
            _ => Depth::Content,
        })
    }

    /// Creates and rewrites what the diff found new or changed: nodes first, each type
    /// concurrently; then relationships, new ones in units that share no dense node
    /// (see plan.rs), changed ones by element id.
    #[allow(clippy::too_many_arguments)]
    async fn write_changes<'a>(
        &self,
        store: &'a GraphStore,
        schema: &Schema,
        account: &str,
        partial: &BTreeSet<String>,
        diff: &'a Diff,
        stamp: &SyncStamp,
        report: &mut LoadReport,
    ) -> Result<(), SinkError> {
        let t0 = Instant::now();
        let mut nodes: BTreeMap<(&str, Mode), Work<Entity>> = BTreeMap::new();
        let mode_of = |t: &str| {
            if partial.contains(t) {
                Mode::Merge
            } else {
                Mode::Replace
            }
        };
        for (slot, e) in store
            .entity_slots()
            .filter(|(_, e)| account_of(&e.properties) == Some(account))
        {
            let mode = mode_of(e.entity_type);
            nodes
                .entry((e.entity_type, mode))
                .or_default()
                .add(e, diff.nodes.get(slot));
        }
        let mut new_rels: Vec<&Relationship> = Vec::new();
        let mut changed_rels: BTreeMap<(&str, Mode), Vec<(&Relationship, &str)>> = BTreeMap::new();
        let mut rel_unchanged: BTreeMap<&str, u64> = BTreeMap::new();
        for (slot, r) in store
            .relationship_slots()
            .filter(|(_, r)| account_of(&r.properties) == Some(account))
        {
            let mode = mode_of(r.relationship_type());
            match diff.relationships.get(slot) {
                Found::Absent => new_rels.push(r),
                Found::Same => *rel_unchanged.entry(r.relationship_type()).or_default() += 1,
                Found::Differs(id) => changed_rels
                    .entry((r.relationship_type(), mode))
                    .or_default()
                    .push((r, id)),
            }
        }
        let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
        for ((t, _), work) in &nodes {
            *expected.entry(t).or_default() += work.len();
            report.add_counts(
                t,
                WriteCounts {
                    unchanged: work.unchanged,
                    ..WriteCounts::default()
                },
                0,
            );
        }
        for r in &new_rels {
            *expected.entry(r.relationship_type()).or_default() += 1;
        }
        for ((t, _), list) in &changed_rels {
            *expected.entry(t).or_default() += list.len() as u64;
        }
        for (t, n) in &rel_unchanged {
            report.add_counts(
                t,
                WriteCounts {
                    unchanged: *n,
                    ..WriteCounts::default()
                },
                0,
            );
        }
        let mut written: BTreeMap<String, u64> = BTreeMap::new();
        let mut record = |report: &mut LoadReport, t: &str, c: WriteCounts, ms: u64| {
            *written.entry(t.to_owned()).or_default() += c.total();
            report.add_counts(t, c, ms);
        };
        let incomplete = |report: &mut LoadReport, written: &BTreeMap<String, u64>| {
            for (t, n) in &expected {
                if written.get(*t).copied().unwrap_or(0) < *n {
                    report.incomplete_types.insert((*t).to_owned());
                }
            }
        };
        // Node labels do not contend for locks: write them concurrently.
        let parallel = self.config().max_connections.max(1);
        let node_jobs = nodes
            .iter()
            .filter(|(_, w)| w.len() > 0)
            .map(|((t, mode), work)| async move {
                let t0 = Instant::now();
                let mut counts = WriteCounts::default();
                let result = match schema.entity(t) {
                    Some(spec) => {
                        let labels = spec.labels();
                        match self
                            .create_nodes(&labels, &work.new, schema, *mode, stamp, &mut counts)
                            .await
                        {
                            Ok(()) => {
                                self.change_nodes(&labels, &work.changed, schema, *mode, stamp, &mut counts)
                                    .await
                            }
                            Err(e) => Err(e),
                        }
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
        if let Some(e) = error {
            incomplete(report, &written);
            return Err(e);
        }
        // New relationships in units that share no dense node, concurrently; changed
        // ones after them (a property write locks only its relationship).
        let units = super::plan::plan(new_rels, mode_of, schema, self.config().batch_size);
        let unit_jobs = units.iter().map(|unit| async move {
            let mut done = Vec::new();
            for part in &unit.parts {
                let spec = schema.relationship(part.relationship_type).expect("checked above");
                let from = &schema.entity(&spec.from).expect("schema checked").label;
                let to = &schema.entity(&spec.to).expect("schema checked").label;
                let t_rel = Instant::now();
                let mut counts = WriteCounts::default();
                let result = self
                    .create_relationships(from, &spec.class, to, &part.rows, schema, part.mode, stamp, &mut counts)
                    .await;
                done.push((part.relationship_type, counts, t_rel.elapsed().as_millis() as u64));
                if result.is_err() {
                    return (done, result);
                }
            }
            (done, Ok(()))
        });
        let changed_jobs = changed_rels.iter().map(|((t, mode), list)| async move {
            let t_rel = Instant::now();
            let mut counts = WriteCounts::default();
            let result = self
                .change_relationships(t, list, schema, *mode, stamp, &mut counts)
                .await;
            (vec![(*t, counts, t_rel.elapsed().as_millis() as u64)], result)
        });
        let (mut done, mut error) = self
            .all_finished(stream::iter(unit_jobs).buffer_unordered(parallel))
            .await;
        if error.is_none() {
            let (changed, failed) = self
                .all_finished(stream::iter(changed_jobs).buffer_unordered(parallel))
                .await;
            done.extend(changed);
            error = failed;
        }
        for (t, c, ms) in done.into_iter().flatten() {
            record(report, t, c, ms);
        }
        if let Some(e) = error {
            incomplete(report, &written);
            return Err(e);
        }
        report.upsert_ms += t0.elapsed().as_millis() as u64;
        info!(elapsed_ms = report.upsert_ms, "writes finished");
        Ok(())
    }
}
