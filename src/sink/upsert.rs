//! Batched upserts: `UNWIND $rows ... MERGE`, one transaction per batch.

use neo4rs::{query, BoltType};
use tracing::debug;

use super::bolt::{self, props_map};
use super::{is_identifier, Sink, SinkError};
use crate::graph::{Entity, Relationship};

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

/// Bookkeeping properties the sink owns; excluded when deciding "changed".
pub const BOOKKEEPING: [&str; 3] = ["_firstSeenOn", "_lastSeenOn", "_lastSyncId"];

/// The MERGE statement for nodes whose primary label is `labels[0]`; the other labels
/// are added with SET. `SET n = row.props` replaces the data properties, so a property
/// that vanished upstream vanishes here too; `_firstSeenOn` survives.
fn node_statement(labels: &[&str]) -> String {
    let extra: String = labels[1..].iter().map(|l| format!(", n:{l}")).collect();
    format!(
        "UNWIND $rows AS row \
         MERGE (n:{primary} {{_key: row._key}}) \
         WITH n, row, n._firstSeenOn AS first, n._lastSyncId IS NULL AS created, \
              size(keys(n)) - 3 = size(keys(row)) AND all(k IN keys(row) WHERE n[k] = row[k]) AS same \
         SET n = row \
         SET n._firstSeenOn = coalesce(first, $now), n._lastSeenOn = $now, n._lastSyncId = $syncId{extra} \
         RETURN sum(CASE WHEN created THEN 1 ELSE 0 END) AS created, \
                sum(CASE WHEN NOT created AND NOT same THEN 1 ELSE 0 END) AS updated, \
                sum(CASE WHEN NOT created AND same THEN 1 ELSE 0 END) AS unchanged",
        primary = labels[0],
    )
}

/// The MERGE statement for one relationship type between two labels.
fn relationship_statement(from_label: &str, rel_type: &str, to_label: &str) -> String {
    format!(
        "UNWIND $rows AS row \
         MATCH (a:{from_label} {{_key: row.from}}) \
         MATCH (b:{to_label} {{_key: row.to}}) \
         MERGE (a)-[r:{rel_type} {{_key: row.props._key}}]->(b) \
         WITH r, row, r._firstSeenOn AS first, r._lastSyncId IS NULL AS created, \
              size(keys(r)) - 3 = size(keys(row.props)) AND all(k IN keys(row.props) WHERE r[k] = row.props[k]) AS same \
         SET r = row.props \
         SET r._firstSeenOn = coalesce(first, $now), r._lastSeenOn = $now, r._lastSyncId = $syncId \
         RETURN sum(CASE WHEN created THEN 1 ELSE 0 END) AS created, \
                sum(CASE WHEN NOT created AND NOT same THEN 1 ELSE 0 END) AS updated, \
                sum(CASE WHEN NOT created AND same THEN 1 ELSE 0 END) AS unchanged"
    )
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
    /// Upserts entities that share the label set `labels` (type label first), in
    /// batches of `batch_size`.
    ///
    /// # Errors
    /// A label is not an identifier, or a batch fails after its retries.
    pub async fn upsert_nodes(
        &self,
        labels: &[&str],
        entities: &[&Entity],
        stamp: &SyncStamp,
    ) -> Result<WriteCounts, SinkError> {
        if labels.is_empty() || !labels.iter().all(|l| is_identifier(l)) {
            return Err(SinkError::Config(format!("invalid label set {labels:?}")));
        }
        let statement = node_statement(labels);
        let mut counts = WriteCounts::default();
        for batch in entities.chunks(self.config().batch_size) {
            let rows: Vec<BoltType> = batch
                .iter()
                .map(|e| {
                    BoltType::Map(props_map(
                        &[("_key", &e.key), ("_type", &e.entity_type), ("_class", &e.class)],
                        &e.properties,
                    ))
                })
                .collect();
            let q = query(&statement)
                .param("rows", bolt::list(rows))
                .param("now", stamp.now.as_str())
                .param("syncId", stamp.sync_id.as_str());
            let result = self.write(labels[0], q).await?;
            let c = counts_of(&result);
            debug!(label = labels[0], rows = batch.len(), created = c.created, updated = c.updated, "node batch written");
            counts.add(c);
        }
        Ok(counts)
    }

    /// Upserts relationships of one type between nodes labelled `from_label` and
    /// `to_label`. Both endpoints must already exist; a row whose endpoint is missing
    /// is reported as an error, never skipped silently.
    ///
    /// # Errors
    /// A name is not an identifier, endpoints are missing, or a batch fails.
    pub async fn upsert_relationships(
        &self,
        from_label: &str,
        rel_type: &str,
        to_label: &str,
        relationships: &[&Relationship],
        stamp: &SyncStamp,
    ) -> Result<WriteCounts, SinkError> {
        if ![from_label, rel_type, to_label].iter().all(|l| is_identifier(l)) {
            return Err(SinkError::Config(format!(
                "invalid relationship pattern ({from_label})-[{rel_type}]->({to_label})"
            )));
        }
        let statement = relationship_statement(from_label, rel_type, to_label);
        let mut counts = WriteCounts::default();
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
                                    ("_type", &r.relationship_type),
                                    ("_class", &r.class),
                                    ("_fromEntityKey", &r.from_key),
                                    ("_toEntityKey", &r.to_key),
                                ],
                                &r.properties,
                            )),
                        ),
                    ])
                })
                .collect();
            let q = query(&statement)
                .param("rows", bolt::list(rows))
                .param("now", stamp.now.as_str())
                .param("syncId", stamp.sync_id.as_str());
            let label = format!("{from_label}-{rel_type}->{to_label}");
            let result = self.write(&label, q).await?;
            let c = counts_of(&result);
            if c.total() != batch.len() as u64 {
                return Err(SinkError::Query(format!(
                    "{} of {} {label} relationships have an endpoint missing in Neo4j",
                    batch.len() as u64 - c.total(),
                    batch.len()
                )));
            }
            counts.add(c);
        }
        Ok(counts)
    }
}
