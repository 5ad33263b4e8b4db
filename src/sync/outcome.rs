//! How a sync ended, and its summaries: `sync --json` and the printed lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;

use crate::collect::Collection;
use crate::sink::LoadReport;

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

impl SyncOutcome {
    /// The `sync --json` summary: the collection's summary, whose top-level `status`
    /// is the sync's (the collection's own is `collectionStatus`), the types the
    /// deletion guard kept added to `partialTypes`, and what the sink wrote (`neo4j`,
    /// with the types written only in part in `neo4j.incompleteTypes`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut summary = self.collection.as_ref().map_or_else(|| json!({}), Collection::summary);
        if self.collection.is_some() {
            summary["collectionStatus"] = summary["status"].take();
        }
        summary["status"] = json!(self.status);
        for h in &self.load.held_back {
            let types = &mut summary["partialTypes"][h.account.as_str()];
            let mut list: BTreeSet<String> = serde_json::from_value(types.take()).unwrap_or_default();
            list.insert(h.element_type.clone());
            *types = json!(list);
        }
        summary["syncId"] = json!(self.sync_id);
        summary["syncStatus"] = json!(self.status);
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
            "sync {} finished in {:.1}s: {:?}",
            self.sync_id,
            self.duration_ms as f64 / 1000.0,
            self.status
        );
        if let Some(e) = &self.error {
            let _ = writeln!(out, "  error: {e}");
        }
        if let Some(c) = &self.collection {
            out.push_str(&c.human());
        }
        for h in &self.load.held_back {
            let _ = writeln!(out, "  deletion guard: {h}");
        }
        if !self.load.incomplete_types.is_empty() {
            let list: Vec<&str> = self.load.incomplete_types.iter().map(String::as_str).collect();
            let _ = writeln!(
                out,
                "  written in part (counts below are what was written): {}",
                list.join(", ")
            );
        }
        if !self.load.types.is_empty() {
            let _ = writeln!(
                out,
                "  {:<52} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "type", "created", "updated", "unchanged", "deleted", "write s"
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
            let depth = if self.load.content_verified.is_empty() {
                format!(
                    "keys and fingerprints; {} of them counted by type digest",
                    self.load.counted_elements
                )
            } else {
                format!("content verified for {}", self.load.content_verified.join(", "))
            };
            let _ = writeln!(
                out,
                "  neo4j: read {} stored elements ({depth}) {:.1}s, write {:.1}s, delete {:.1}s, rules {:.1}s{}",
                self.load.read_elements,
                self.load.read_ms as f64 / 1000.0,
                self.load.upsert_ms as f64 / 1000.0,
                self.load.cleanup_ms as f64 / 1000.0,
                self.load.rules_ms as f64 / 1000.0,
                match self.load.rules_reused {
                    0 => String::new(),
                    n => format!(" ({n} copied: content unchanged since the previous sync)"),
                }
            );
        }
        out
    }
}
