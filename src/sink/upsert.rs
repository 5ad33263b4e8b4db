//! Batched writes, one transaction per batch: `CREATE` for new elements, `SET` by
//! element id for changed ones (the diff engine, [`super::diff`]), and
//! `UNWIND $rows ... MERGE` where what Neo4j holds is not known (the saved queries, a
//! `CREATE` batch that met an element already there).

use neo4rs::{query, BoltType};
use tracing::debug;

use super::bolt::{self, props_map};
use super::{fingerprint, Sink, SinkError};
use crate::graph::{Entity, Relationship};
use crate::schema::{is_identifier, Schema};

/// Who is writing and when: one per sync.
#[derive(Clone, Debug)]
pub struct SyncStamp {
    /// A fresh uuid per sync: its leases and its history record carry it.
    pub sync_id: String,
    /// When the sync started, ISO 8601 UTC.
    pub now: String,
}

impl SyncStamp {
    pub fn new() -> Self {
        SyncStamp {
            sync_id: uuid::Uuid::new_v4().to_string(),
            now: crate::time::now_iso(),
        }
    }

    /// When the sync started, as the Neo4j `DATETIME` the sink stamps.
    pub fn now_value(&self) -> BoltType {
        bolt::date_time_text(&self.now)
    }
}

impl Default for SyncStamp {
    fn default() -> Self {
        Self::new()
    }
}

/// What a batch of upserts did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl WriteCounts {
    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged
    }

    pub fn add(&mut self, other: WriteCounts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

pub use crate::schema::BOOKKEEPING;

/// How an upsert treats properties already on the element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// The data is complete: properties absent upstream are removed.
    Replace,
    /// The data may be incomplete (a partial type): properties are added or updated,
    /// never removed.
    Merge,
}

/// Sink-owned properties other than the three stamps, restored after `SET x = data`.
const KEPT: [&str; 4] = [
    "lastSyncOn",
    "lastSyncStatus",
    "lastSuccessfulSyncOn",
    "_contentVerifiedOn",
];

/// `WITH` clause shared by nodes and relationships: remembers the sink-owned values
/// and whether the element is new or unchanged. Unchanged means every incoming value
/// is already there and, in `Replace` mode, nothing else is (in `Merge` mode stored
/// properties the partial data lacks are kept, so they are no change).
fn compare_clause(var: &str, row: &str, mode: Mode) -> String {
    let kept = kept_columns(var);
    let nothing_else = match mode {
        Mode::Replace => {
            format!("all(k IN keys({var}) WHERE k IN $owned OR coalesce({var}[k] = {row}[k], false)) AND ")
        }
        Mode::Merge => String::new(),
    };
    format!(
        "WITH {var}, row, {row} AS data, {var}._firstSeenOn AS first, {var}._firstSeenOn IS NULL AS created{kept}, \
              {nothing_else}all(k IN keys({row}) WHERE coalesce({var}[k] = {row}[k], false)) AS same "
    )
}

/// Rewrites the data properties only when they changed, keeping the sink's own.
fn set_clause(var: &str, mode: Mode) -> String {
    let assign = match mode {
        Mode::Replace => "=",
        Mode::Merge => "+=",
    };
    format!(
        "FOREACH (_ IN CASE WHEN same THEN [] ELSE [1] END | SET {var} {assign} data {restamp}) ",
        restamp = restamp(var)
    )
}

/// After `SET x = data` (which drops every property not in `data`): the sink's own
/// properties put back, and the change stamped.
fn restamp(var: &str) -> String {
    let restore: String = KEPT
        .iter()
        .enumerate()
        .map(|(i, k)| format!(", {var}.{k} = kept{i}"))
        .collect();
    // `datetime(first)`: a first-seen stamp an older version wrote as text becomes native.
    format!("SET {var}._firstSeenOn = coalesce(datetime(first), $now), {var}._lastChangedOn = $now{restore} ")
}

fn kept_columns(var: &str) -> String {
    KEPT.iter()
        .enumerate()
        .map(|(i, k)| format!(", {var}.{k} AS kept{i}"))
        .collect()
}

/// `CREATE` for nodes known to be new; the uniqueness constraint on `_key` refuses a
/// batch holding one that is there after all.
fn create_node_statement(labels: &[&str]) -> String {
    format!(
        "UNWIND $rows AS row CREATE (n:{}) SET n = row, n._firstSeenOn = $now, n._lastChangedOn = $now \
         RETURN count(*) AS created",
        labels.join(":")
    )
}

/// `SET` by element id for nodes whose content changed.
fn change_node_statement(labels: &[&str], mode: Mode) -> String {
    let assign = match mode {
        Mode::Replace => "=",
        Mode::Merge => "+=",
    };
    format!(
        "UNWIND $rows AS row MATCH (n) WHERE elementId(n) = row.id \
         WITH n, row, n._firstSeenOn AS first{kept} SET n {assign} row.props {restamp}SET n:{labels} \
         RETURN count(*) AS updated",
        kept = kept_columns("n"),
        restamp = restamp("n"),
        labels = labels.join(":"),
    )
}

/// `CREATE` for relationships known to be new, between endpoints that exist.
fn create_relationship_statement(from_label: &str, rel_type: &str, to_label: &str) -> String {
    format!(
        "UNWIND $rows AS row \
         MATCH (a:{from_label} {{_key: row.from}}) \
         MATCH (b:{to_label} {{_key: row.to}}) \
         CREATE (a)-[r:{rel_type}]->(b) SET r = row.props, r._firstSeenOn = $now, r._lastChangedOn = $now \
         RETURN count(*) AS created"
    )
}

/// `SET` by element id for relationships whose content changed.
fn change_relationship_statement(mode: Mode) -> String {
    let assign = match mode {
        Mode::Replace => "=",
        Mode::Merge => "+=",
    };
    format!(
        "UNWIND $rows AS row MATCH ()-[r]->() WHERE elementId(r) = row.id \
         WITH r, row, r._firstSeenOn AS first{kept} SET r {assign} row.props {restamp}\
         REMOVE r._class, r._fromEntityKey, r._toEntityKey \
         RETURN count(*) AS updated",
        kept = kept_columns("r"),
        restamp = restamp("r"),
    )
}

const COUNTS: &str = "RETURN sum(CASE WHEN created THEN 1 ELSE 0 END) AS created, \
                      sum(CASE WHEN NOT created AND NOT same THEN 1 ELSE 0 END) AS updated, \
                      sum(CASE WHEN NOT created AND same THEN 1 ELSE 0 END) AS unchanged";

/// The MERGE statement for nodes whose primary label is `labels[0]`; the other labels
/// are added with SET. In `Replace` mode `SET n = data` replaces the data properties,
/// so a property that vanished upstream vanishes here too; sink-owned ones survive.
fn node_statement(labels: &[&str], mode: Mode) -> String {
    let extra: String = labels[1..].iter().map(|l| format!("SET n:{l} ")).collect();
    format!(
        "UNWIND $rows AS row MERGE (n:{primary} {{_key: row._key}}) {compare}{set}{extra}{COUNTS}",
        primary = labels[0],
        compare = compare_clause("n", "row", mode),
        set = set_clause("n", mode),
    )
}

/// The MERGE statement for one relationship type between two labels.
fn relationship_statement(from_label: &str, rel_type: &str, to_label: &str, mode: Mode) -> String {
    format!(
        "UNWIND $rows AS row \
         MATCH (a:{from_label} {{_key: row.from}}) \
         MATCH (b:{to_label} {{_key: row.to}}) \
         MERGE (a)-[r:{rel_type} {{_key: row.props._key}}]->(b) \
         {compare}{set}{COUNTS}",
        compare = compare_clause("r", "row.props", mode),
        set = set_clause("r", mode),
    )
}

fn owned() -> BoltType {
    bolt::list(BOOKKEEPING.iter().map(|k| bolt::string(k)).collect())
}

fn counts_of(rows: &[super::Record]) -> WriteCounts {
    let get = |name: &str| match rows.first().and_then(|r| r.get(name)) {
        Some(BoltType::Integer(i)) => i.value.max(0) as u64,
        _ => 0,
    };
    WriteCounts {
        created: get("created"),
        updated: get("updated"),
        unchanged: get("unchanged"),
    }
}

/// The property map the sink writes for an entity; `schema` says which properties are
/// date-times.
fn node_row(e: &Entity, labels: &[&str], schema: &Schema) -> BoltType {
    let fp = fingerprint::of_entity(e, labels, schema);
    BoltType::Map(props_map(
        &[
            ("_key", &e.key),
            ("_type", e.entity_type),
            ("_class", e.class),
            ("_fingerprint", &fp),
        ],
        &e.properties,
        |k| schema.is_datetime(e.entity_type, k),
    ))
}

/// The property map the sink writes for a relationship: not its `_class` (its Neo4j
/// type) nor its endpoints' keys (stored on the endpoints).
fn relationship_props(r: &Relationship, schema: &Schema) -> BoltType {
    let fp = fingerprint::of_relationship(r, schema);
    BoltType::Map(props_map(
        &[
            ("_key", &r.key()),
            ("_type", r.relationship_type()),
            ("_fingerprint", &fp),
        ],
        &r.properties,
        |k| schema.is_datetime(r.relationship_type(), k),
    ))
}

fn relationship_row(r: &Relationship, schema: &Schema) -> BoltType {
    bolt::map(vec![
        ("from", bolt::string(r.from_key())),
        ("to", bolt::string(r.to_key())),
        ("props", relationship_props(r, schema)),
    ])
}

fn changed_row(id: &str, props: BoltType) -> BoltType {
    bolt::map(vec![("id", bolt::string(id)), ("props", props)])
}

/// The server refused a `CREATE` because an element with that key is there.
fn is_collision(e: &SinkError) -> bool {
    matches!(e, SinkError::Server { code, .. } if code == "Neo.ClientError.Schema.ConstraintValidationFailed")
}

fn check_labels(labels: &[&str]) -> Result<(), SinkError> {
    if labels.is_empty() || !labels.iter().all(|l| is_identifier(l)) {
        return Err(SinkError::Config(format!("invalid label set {labels:?}")));
    }
    Ok(())
}

fn check_pattern(from_label: &str, rel_type: &str, to_label: &str) -> Result<(), SinkError> {
    if ![from_label, rel_type, to_label].iter().all(|l| is_identifier(l)) {
        return Err(SinkError::Config(format!(
            "invalid relationship pattern ({from_label})-[{rel_type}]->({to_label})"
        )));
    }
    Ok(())
}

impl Sink {
    /// Runs one statement over one batch of rows, which `rows` builds for each
    /// attempt (the batch is held once, however often it is tried).
    async fn write_batch(
        &self,
        label: &str,
        statement: &str,
        rows: impl Fn() -> Vec<BoltType>,
        stamp: &SyncStamp,
    ) -> Result<WriteCounts, SinkError> {
        let build = || {
            query(statement)
                .param("rows", bolt::list(rows()))
                .param("owned", owned())
                .param("now", stamp.now_value())
                .param("syncId", stamp.sync_id.as_str())
        };
        Ok(counts_of(&self.write_built(label, build).await?))
    }

    /// Upserts entities that share the label set `labels` (type label first), in
    /// batches of `batch_size`, with `MERGE`: for elements whose state in Neo4j is
    /// not known. Date-times are typed by the built-in schema.
    ///
    /// # Errors
    /// A label is not an identifier, or a batch fails after its retries.
    pub async fn upsert_nodes(
        &self,
        labels: &[&str],
        entities: &[&Entity],
        mode: Mode,
        stamp: &SyncStamp,
    ) -> Result<WriteCounts, SinkError> {
        check_labels(labels)?;
        let statement = node_statement(labels, mode);
        let mut counts = WriteCounts::default();
        for batch in entities.chunks(self.config().batch_size) {
            let rows = || {
                batch
                    .iter()
                    .map(|e| node_row(e, labels, crate::schema::schema()))
                    .collect()
            };
            counts.add(self.write_batch(labels[0], &statement, rows, stamp).await?);
        }
        Ok(counts)
    }

    /// Creates entities the diff found absent, adding each committed batch to
    /// `counts`. A batch the uniqueness constraint refuses (an element is there after
    /// all: written by hand, or by a batch whose answer was lost) is merged instead.
    ///
    /// # Errors
    /// A label is not an identifier, or a batch fails after its retries.
    pub(super) async fn create_nodes(
        &self,
        labels: &[&str],
        entities: &[&Entity],
        schema: &Schema,
        mode: Mode,
        stamp: &SyncStamp,
        counts: &mut WriteCounts,
    ) -> Result<(), SinkError> {
        check_labels(labels)?;
        let statement = create_node_statement(labels);
        for batch in entities.chunks(self.config().batch_size) {
            let rows = || batch.iter().map(|e| node_row(e, labels, schema)).collect();
            let merge = || node_statement(labels, mode);
            counts.add(self.create_or_merge(labels[0], &statement, merge, rows, stamp).await?);
        }
        Ok(())
    }

    /// Writes one batch with the `CREATE` statement; a batch the uniqueness constraint
    /// refuses (an element is there after all: written by hand, or by a batch whose
    /// answer was lost) is written again with the `MERGE` one.
    async fn create_or_merge(
        &self,
        label: &str,
        create: &str,
        merge: impl FnOnce() -> String,
        rows: impl Fn() -> Vec<BoltType>,
        stamp: &SyncStamp,
    ) -> Result<WriteCounts, SinkError> {
        match self.write_batch(label, create, &rows, stamp).await {
            Err(e) if is_collision(&e) => {
                debug!(batch = %label, "a created element was there already; merging the batch");
                self.missed.store(true, std::sync::atomic::Ordering::Relaxed);
                self.write_batch(label, &merge(), rows, stamp).await
            }
            other => other,
        }
    }

    /// Rewrites entities whose stored content differs, by element id.
    ///
    /// # Errors
    /// As [`Sink::create_nodes`].
    pub(super) async fn change_nodes(
        &self,
        labels: &[&str],
        changed: &[(&Entity, &str)],
        schema: &Schema,
        mode: Mode,
        stamp: &SyncStamp,
        counts: &mut WriteCounts,
    ) -> Result<(), SinkError> {
        check_labels(labels)?;
        let statement = change_node_statement(labels, mode);
        for batch in changed.chunks(self.config().batch_size) {
            let rows = || {
                batch
                    .iter()
                    .map(|(e, id)| changed_row(id, node_row(e, labels, schema)))
                    .collect()
            };
            counts.add(self.write_batch(labels[0], &statement, rows, stamp).await?);
        }
        Ok(())
    }

    /// Upserts relationships of one type between nodes labelled `from_label` and
    /// `to_label` with `MERGE`. Both endpoints must already exist; a row whose endpoint
    /// is missing is reported as an error, never skipped silently.
    ///
    /// # Errors
    /// A name is not an identifier, endpoints are missing, or a batch fails.
    #[allow(clippy::too_many_arguments)]
    pub async fn upsert_relationships(
        &self,
        from_label: &str,
        rel_type: &str,
        to_label: &str,
        relationships: &[&Relationship],
        mode: Mode,
        stamp: &SyncStamp,
        counts: &mut WriteCounts,
    ) -> Result<(), SinkError> {
        check_pattern(from_label, rel_type, to_label)?;
        let statement = relationship_statement(from_label, rel_type, to_label, mode);
        for batch in relationships.chunks(self.config().batch_size) {
            let rows = || {
                batch
                    .iter()
                    .map(|r| relationship_row(r, crate::schema::schema()))
                    .collect()
            };
            let label = format!("{from_label}-{rel_type}->{to_label}");
            let c = self.write_batch(&label, &statement, rows, stamp).await?;
            counts.add(c);
            self.endpoints_found(c.total(), batch.len(), &label)?;
        }
        Ok(())
    }

    /// Creates relationships the diff found absent; as [`Sink::upsert_relationships`]
    /// otherwise, and a batch refused by the uniqueness constraint is merged instead.
    ///
    /// # Errors
    /// As [`Sink::upsert_relationships`].
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn create_relationships(
        &self,
        from_label: &str,
        rel_type: &str,
        to_label: &str,
        relationships: &[&Relationship],
        schema: &Schema,
        mode: Mode,
        stamp: &SyncStamp,
        counts: &mut WriteCounts,
    ) -> Result<(), SinkError> {
        check_pattern(from_label, rel_type, to_label)?;
        let statement = create_relationship_statement(from_label, rel_type, to_label);
        for batch in relationships.chunks(self.config().batch_size) {
            let rows = || batch.iter().map(|r| relationship_row(r, schema)).collect();
            let label = format!("{from_label}-{rel_type}->{to_label}");
            let merge = || relationship_statement(from_label, rel_type, to_label, mode);
            let c = self.create_or_merge(&label, &statement, merge, rows, stamp).await?;
            counts.add(c);
            self.endpoints_found(c.total(), batch.len(), &label)?;
        }
        Ok(())
    }

    /// Rewrites relationships whose stored content differs, by element id.
    ///
    /// # Errors
    /// A batch fails after its retries.
    pub(super) async fn change_relationships(
        &self,
        label: &str,
        changed: &[(&Relationship, &str)],
        schema: &Schema,
        mode: Mode,
        stamp: &SyncStamp,
        counts: &mut WriteCounts,
    ) -> Result<(), SinkError> {
        let statement = change_relationship_statement(mode);
        for batch in changed.chunks(self.config().batch_size) {
            let rows = || {
                batch
                    .iter()
                    .map(|(r, id)| changed_row(id, relationship_props(r, schema)))
                    .collect()
            };
            counts.add(self.write_batch(label, &statement, rows, stamp).await?);
        }
        Ok(())
    }
}

impl Sink {
    /// Whether every relationship of a batch found its endpoints; when not, the read
    /// missed that a node is gone.
    fn endpoints_found(&self, written: u64, batch: usize, label: &str) -> Result<(), SinkError> {
        if written == batch as u64 {
            return Ok(());
        }
        self.missed.store(true, std::sync::atomic::Ordering::Relaxed);
        Err(SinkError::Query(format!(
            "{} of {batch} {label} relationships have an endpoint missing in Neo4j",
            batch as u64 - written
        )))
    }
}
