//! Cleanup after the writes: the account's stored elements this sync did not bring
//! (complete snapshot types only, within the deletion guard), and events older than
//! the retention window.

use std::collections::BTreeSet;
use std::time::Instant;

use neo4rs::{query, BoltType};

use super::diff::Diff;
use super::guard::{DeletePolicy, Deletion};
use super::report::LoadReport;
use super::upsert::SyncStamp;
use super::{Sink, SinkError};
use crate::schema::{Lifecycle, Schema};

/// A non-negative integer column of a row (0 when absent).
fn int(row: Option<&super::Record>, column: &str) -> u64 {
    match row.and_then(|r| r.get(column)) {
        Some(BoltType::Integer(i)) => i.value.max(0) as u64,
        _ => 0,
    }
}

/// Adds a deletion statement's `deleted` (and the types of the relationships deleted
/// with nodes, `relTypes`) to the report; returns `deleted`.
fn count_deleted(report: &mut LoadReport, element_type: &str, rows: &[super::Record]) -> u64 {
    let deleted = int(rows.first(), "deleted");
    report.add_deleted(element_type, deleted);
    if let Some(BoltType::List(types)) = rows.first().and_then(|r| r.get("relTypes")) {
        for t in types.iter() {
            if let BoltType::String(t) = t {
                report.add_deleted(&t.value, 1);
            }
        }
    }
    deleted
}

/// The node deletion statement over element ids: the relationships still attached (of
/// partial or kept types) go with the node, and their types are returned so that the
/// summary counts them.
const DELETE_NODES: &str = "UNWIND $ids AS id MATCH (n) WHERE elementId(n) = id \
     WITH collect(n) AS nodes \
     UNWIND nodes AS n OPTIONAL MATCH (n)-[r]-() \
     WITH nodes, collect(DISTINCT r) AS rels \
     WITH nodes, rels, [r IN rels WHERE r._type IS NOT NULL | r._type] AS relTypes \
     FOREACH (r IN rels | DELETE r) FOREACH (n IN nodes | DELETE n) \
     RETURN size(nodes) AS deleted, relTypes";

const DELETE_RELATIONSHIPS: &str = "UNWIND $ids AS id MATCH ()-[r]->() WHERE elementId(r) = id \
     DELETE r RETURN count(*) AS deleted";

impl Sink {
    /// Deletes the account's stored elements that this sync did not bring, for every
    /// type that is complete and a snapshot, in chunks of `cleanup_batch_size`:
    /// relationships first, then nodes (with whatever relationships still touch them,
    /// counted as deleted under their own type). The deletion guard judges the
    /// counts first: a type of which the deletion would exceed `policy` is kept whole
    /// and reported in [`LoadReport::held_back`] (see [`super::guard`]). Then events
    /// older than the retention window are deleted, whatever this sync brought.
    ///
    /// # Errors
    /// A statement fails after its retries.
    #[allow(clippy::too_many_arguments)]
    pub async fn delete_gone(
        &self,
        account_code: &str,
        schema: &Schema,
        partial: &BTreeSet<String>,
        policy: &DeletePolicy,
        diff: &Diff,
        stamp: &SyncStamp,
        report: &mut LoadReport,
    ) -> Result<(), SinkError> {
        // A stop is honoured before an account's deletions, not in the middle of them.
        if self.stop_requested() {
            return Err(SinkError::Stopped);
        }
        let t0 = Instant::now();
        let mut deletions = Vec::new();
        for r in &schema.relationships {
            if partial.contains(&r.relationship_type) || schema.is_event_relationship(r) {
                continue;
            }
            let gone = diff.gone_of(account_code, &r.relationship_type);
            if !gone.is_empty() {
                deletions.push((
                    Deletion {
                        element_type: &r.relationship_type,
                        would_delete: gone.len() as u64,
                        total: diff.stored_of(account_code, &r.relationship_type),
                        endpoints: Some([r.from.as_str(), r.to.as_str()]),
                    },
                    gone,
                ));
            }
        }
        for e in &schema.entities {
            if partial.contains(&e.entity_type) || !e.is_account_scoped() || e.lifecycle != Lifecycle::Snapshot {
                continue;
            }
            let gone = diff.gone_of(account_code, &e.entity_type);
            if !gone.is_empty() {
                deletions.push((
                    Deletion {
                        element_type: &e.entity_type,
                        would_delete: gone.len() as u64,
                        total: diff.stored_of(account_code, &e.entity_type),
                        endpoints: None,
                    },
                    gone,
                ));
            }
        }
        let judged: Vec<Deletion> = deletions.iter().map(|(d, _)| *d).collect();
        let held = policy.review(account_code, &judged);
        for h in &held {
            tracing::warn!(account = account_code, element_type = %h.element_type, would_delete = h.would_delete, total = h.total, "{h}");
        }
        for (d, ids) in &deletions {
            if held.iter().any(|h| h.element_type == d.element_type) {
                continue;
            }
            let statement = if d.endpoints.is_some() {
                DELETE_RELATIONSHIPS
            } else {
                DELETE_NODES
            };
            for chunk in ids.chunks(self.config().cleanup_batch_size) {
                let q = query(statement).param("ids", chunk.to_vec());
                let rows = self.write_even_when_stopped(d.element_type, q).await?;
                count_deleted(report, d.element_type, &rows);
            }
        }
        report.held_back.extend(held);
        self.expire_events(account_code, schema, policy, stamp, report).await?;
        report.cleanup_ms += t0.elapsed().as_millis() as u64;
        Ok(())
    }

    /// Deletes the account's events older than `policy.event_retention_days`, chunk
    /// after chunk, with their relationships.
    async fn expire_events(
        &self,
        account_code: &str,
        schema: &Schema,
        policy: &DeletePolicy,
        stamp: &SyncStamp,
        report: &mut LoadReport,
    ) -> Result<(), SinkError> {
        let now = crate::time::parse(&stamp.now).map_err(|e| SinkError::Config(e.to_string()))?;
        let cutoff = now - chrono::Duration::days(i64::from(policy.event_retention_days));
        for e in &schema.entities {
            let Lifecycle::Event { time } = &e.lifecycle else {
                continue;
            };
            if !crate::schema::is_identifier(time) {
                return Err(SinkError::Config(format!("event_time {time:?} is not an identifier")));
            }
            // The second comparison finds an event time an older version stored as text.
            let expired = format!(
                "MATCH (x:{} {{accountCode: $account}}) WHERE x.{time} < $cutoff OR x.{time} < $cutoffText \
                 RETURN elementId(x) AS id LIMIT $limit",
                e.label
            );
            let limit = self.config().cleanup_batch_size;
            loop {
                let q = query(&expired)
                    .param("account", account_code)
                    .param("cutoff", super::bolt::date_time(cutoff))
                    .param("cutoffText", crate::time::iso(cutoff))
                    .param("limit", limit as i64);
                let ids: Vec<String> = self
                    .write_even_when_stopped(&e.entity_type, q)
                    .await?
                    .iter()
                    .filter_map(|r| match r.get("id") {
                        Some(BoltType::String(s)) => Some(s.value.clone()),
                        _ => None,
                    })
                    .collect();
                if ids.is_empty() {
                    break;
                }
                let rows = self
                    .write_even_when_stopped(&e.entity_type, query(DELETE_NODES).param("ids", ids.clone()))
                    .await?;
                count_deleted(report, &e.entity_type, &rows);
                if ids.len() < limit {
                    break;
                }
            }
        }
        Ok(())
    }
}
