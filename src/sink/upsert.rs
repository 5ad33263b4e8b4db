//! Batched upserts: `UNWIND $rows ... MERGE`, one transaction per batch.

use neo4rs::{query, BoltType};
use tracing::debug;

use super::bolt::{self, props_map};
use super::{Sink, SinkError};
use crate::graph::{Entity, Relationship};
use crate::schema::is_identifier;

/// The stamp every element written by one sync carries.
#[derive(Clone, Debug)]
pub struct SyncStamp {
    /// A fresh uuid per sync; cleanup deletes what does not carry it.
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
const KEPT: [&str; 3] = ["lastSyncOn", "lastSyncStatus", "lastSuccessfulSyncOn"];

/// `WITH` clause shared by nodes and relationships: remembers the sink-owned values
/// and whether the element is new or unchanged. Unchanged means every incoming value
/// is already there and, in `Replace` mode, nothing else is (in `Merge` mode stored
/// properties the partial data lacks are kept, so they are no change).
fn compare_clause(var: &str, row: &str, mode: Mode) -> String {
    let kept: String = KEPT
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{var}.{k} AS kept{i}, "))
        .collect();
    let nothing_else = match mode {
        Mode::Replace => {
            format!("all(k IN keys({var}) WHERE k IN $owned OR coalesce({var}[k] = {row}[k], false)) AND ")
        }
        Mode::Merge => String::new(),
    };
    format!(
        "WITH {var}, row, {row} AS data, {var}._firstSeenOn AS first, {var}._lastSyncId IS NULL AS created, {kept}\
              {nothing_else}all(k IN keys({row}) WHERE coalesce({var}[k] = {row}[k], false)) AS same "
    )
}

/// Rewrites the data properties only when they changed (most elements of a re-sync
/// are unchanged, and writing every property of every element is what costs), then
/// stamps every element with this sync.
fn set_clause(var: &str, mode: Mode) -> String {
    let assign = match mode {
        Mode::Replace => "=",
        Mode::Merge => "+=",
    };
    let restore: String = KEPT
        .iter()
        .enumerate()
        .map(|(i, k)| format!(", {var}.{k} = kept{i}"))
        .collect();
    format!(
        "FOREACH (_ IN CASE WHEN same THEN [] ELSE [1] END | \
           SET {var} {assign} data \
           SET {var}._firstSeenOn = coalesce(first, $now){restore}) \
         SET {var}._lastSeenOn = $now, {var}._lastSyncId = $syncId "
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

impl Sink {
    /// Runs one upsert statement over one batch of rows, stamped with the sync.
    async fn write_batch(
        &self,
        label: &str,
        statement: &str,
        rows: Vec<BoltType>,
        stamp: &SyncStamp,
    ) -> Result<WriteCounts, SinkError> {
        let q = query(statement)
            .param("rows", bolt::list(rows))
            .param("owned", owned())
            .param("now", stamp.now.as_str())
            .param("syncId", stamp.sync_id.as_str());
        Ok(counts_of(&self.write(label, q).await?))
    }

    /// Upserts entities that share the label set `labels` (type label first), in
    /// batches of `batch_size`.
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
        let mut counts = WriteCounts::default();
        self.upsert_nodes_counted(labels, entities, mode, stamp, &mut counts)
            .await?;
        Ok(counts)
    }

    /// [`Sink::upsert_nodes`], adding each committed batch to `counts`, so that a
    /// write cut short still says what it wrote.
    pub(super) async fn upsert_nodes_counted(
        &self,
        labels: &[&str],
        entities: &[&Entity],
        mode: Mode,
        stamp: &SyncStamp,
        counts: &mut WriteCounts,
    ) -> Result<(), SinkError> {
        if labels.is_empty() || !labels.iter().all(|l| is_identifier(l)) {
            return Err(SinkError::Config(format!("invalid label set {labels:?}")));
        }
        let statement = node_statement(labels, mode);
        for batch in entities.chunks(self.config().batch_size) {
            let rows: Vec<BoltType> = batch
                .iter()
                .map(|e| {
                    BoltType::Map(props_map(
                        &[("_key", &e.key), ("_type", e.entity_type), ("_class", e.class)],
                        &e.properties,
                    ))
                })
                .collect();
            let c = self.write_batch(labels[0], &statement, rows, stamp).await?;
            debug!(
                label = labels[0],
                rows = batch.len(),
                created = c.created,
                updated = c.updated,
                "node batch written"
            );
            counts.add(c);
        }
        Ok(())
    }

    /// Upserts relationships of one type between nodes labelled `from_label` and
    /// `to_label`. Both endpoints must already exist; a row whose endpoint is missing
    /// is reported as an error, never skipped silently. Each committed batch is added
    /// to `counts`, so that a write cut short still says what it wrote.
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
        if ![from_label, rel_type, to_label].iter().all(|l| is_identifier(l)) {
            return Err(SinkError::Config(format!(
                "invalid relationship pattern ({from_label})-[{rel_type}]->({to_label})"
            )));
        }
        let statement = relationship_statement(from_label, rel_type, to_label, mode);
        for batch in relationships.chunks(self.config().batch_size) {
            let rows: Vec<BoltType> = batch
                .iter()
                .map(|r| {
                    bolt::map(vec![
                        ("from", bolt::string(&r.from_key)),
                        ("to", bolt::string(&r.to_key)),
                        (
                            "props",
                            BoltType::Map(props_map(
                                &[
                                    ("_key", &r.key),
                                    ("_type", r.relationship_type),
                                    ("_class", r.class),
                                    ("_fromEntityKey", &r.from_key),
                                    ("_toEntityKey", &r.to_key),
                                ],
                                &r.properties,
                            )),
                        ),
                    ])
                })
                .collect();
            let label = format!("{from_label}-{rel_type}->{to_label}");
            let c = self.write_batch(&label, &statement, rows, stamp).await?;
            counts.add(c);
            if c.total() != batch.len() as u64 {
                return Err(SinkError::Query(format!(
                    "{} of {} {label} relationships have an endpoint missing in Neo4j",
                    batch.len() as u64 - c.total(),
                    batch.len()
                )));
            }
        }
        Ok(())
    }
}
