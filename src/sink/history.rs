//! The sync history: each sync leaves one `MimecastSyncRun` node per account it
//! wrote, linked from the account (`HAS_SYNC_RUN`), with what it did to each type,
//! what it cost in API calls and throttling, and the finding count of every saved
//! rule after it. An account keeps its last `[sync] history_runs` runs.
//! (Bookkeeping like the leases, not part of graph-schema/: they carry no `_type`,
//! and the diff never reads or deletes them.)

use std::collections::BTreeMap;

use neo4rs::{query, BoltType};
use serde::Serialize;

use super::load::TypeWrite;
use super::{Sink, SinkError};

/// The label of sync history nodes.
pub const RUN_LABEL: &str = "MimecastSyncRun";

/// What one sync did to one account.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    pub account: String,
    pub sync_id: String,
    pub started_on: String,
    pub ended_on: String,
    /// `success`, `partial` or `failed`, as on the account node.
    pub status: String,
    /// By `_type`.
    pub types: BTreeMap<String, TypeWrite>,
    /// Mimecast API requests of the tenant, retries included.
    pub api_requests: u64,
    pub throttled_calls: u64,
    pub throttle_wait_ms: u64,
    /// Findings of each saved rule (by query id) in the account after the sync.
    pub findings: BTreeMap<String, u64>,
}

impl SyncRun {
    pub fn totals(&self) -> TypeWrite {
        TypeWrite::sum(self.types.values())
    }
}

const RECORD: &str = "OPTIONAL MATCH (a:MimecastAccount {_key: $accountKey}) \
    CREATE (r:MimecastSyncRun) SET r = $props \
    FOREACH (_ IN CASE WHEN a IS NULL THEN [] ELSE [1] END | CREATE (a)-[:HAS_SYNC_RUN]->(r)) \
    WITH r \
    MATCH (old:MimecastSyncRun {accountCode: $account}) \
    WITH old ORDER BY old.recordedMs DESC SKIP $keep \
    DETACH DELETE old RETURN count(*) AS trimmed";

fn int(v: u64) -> BoltType {
    BoltType::Integer(neo4rs::BoltInteger::new(i64::try_from(v).unwrap_or(i64::MAX)))
}

fn json_text(value: &impl Serialize) -> BoltType {
    super::bolt::string(&serde_json::to_string(value).unwrap_or_else(|_| "{}".into()))
}

impl Sink {
    /// Records a sync of one account and trims its history to the newest `keep` runs.
    /// Returns how many old runs were deleted.
    ///
    /// # Errors
    /// The write fails after its retries.
    pub async fn record_run(&self, run: &SyncRun, keep: u32) -> Result<u64, SinkError> {
        let totals = run.totals();
        let findings_total: u64 = run.findings.values().sum();
        let props = super::bolt::map(vec![
            (
                "_key",
                super::bolt::string(&format!("mimecast_sync_run:{}:{}", run.account, run.sync_id)),
            ),
            ("accountCode", super::bolt::string(&run.account)),
            ("syncId", super::bolt::string(&run.sync_id)),
            ("startedOn", super::bolt::string(&run.started_on)),
            ("endedOn", super::bolt::string(&run.ended_on)),
            ("status", super::bolt::string(&run.status)),
            ("created", int(totals.created)),
            ("updated", int(totals.updated)),
            ("unchanged", int(totals.unchanged)),
            ("deleted", int(totals.deleted)),
            ("typeCounts", json_text(&run.types)),
            ("apiRequests", int(run.api_requests)),
            ("throttledCalls", int(run.throttled_calls)),
            ("throttleWaitMs", int(run.throttle_wait_ms)),
            ("findings", json_text(&run.findings)),
            ("findingsTotal", int(findings_total)),
            // Orders runs that started within one second (the times above are ISO seconds).
            (
                "recordedMs",
                int(u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)),
            ),
        ]);
        let q = query(RECORD)
            .param("accountKey", crate::schema::keys::account(&run.account))
            .param("account", run.account.as_str())
            .param("props", props)
            .param("keep", i64::from(keep));
        let rows = self.write_even_when_stopped("sync-history", q).await?;
        Ok(match rows.first().and_then(|r| r.get("trimmed")) {
            Some(BoltType::Integer(i)) => i.value.max(0) as u64,
            _ => 0,
        })
    }

    /// The recorded runs, newest first: of one account or of all, at most `limit`.
    ///
    /// # Errors
    /// The read fails, or a stored run is not in the form [`Sink::record_run`] writes.
    pub async fn runs(&self, account: Option<&str>, limit: usize) -> Result<Vec<SyncRun>, SinkError> {
        let q = query(
            "MATCH (r:MimecastSyncRun) WHERE $account IS NULL OR r.accountCode = $account \
             RETURN r.accountCode AS account, r.syncId AS syncId, r.startedOn AS startedOn, r.endedOn AS endedOn, \
                    r.status AS status, r.typeCounts AS types, r.apiRequests AS api, r.throttledCalls AS throttled, \
                    r.throttleWaitMs AS waited, r.findings AS findings \
             ORDER BY r.recordedMs DESC, account LIMIT $limit",
        )
        .param(
            "account",
            account.map_or(BoltType::Null(neo4rs::BoltNull), super::bolt::string),
        )
        .param("limit", i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self.read(q).await?;
        let text = |r: &super::Record, k: &str| match r.get(k) {
            Some(BoltType::String(s)) => s.value.clone(),
            _ => String::new(),
        };
        let num = |r: &super::Record, k: &str| match r.get(k) {
            Some(BoltType::Integer(i)) => i.value.max(0) as u64,
            _ => 0,
        };
        rows.iter()
            .map(|r| {
                let bad = |what: &str, e: serde_json::Error| {
                    SinkError::Query(format!("sync run {} has unreadable {what}: {e}", text(r, "syncId")))
                };
                Ok(SyncRun {
                    account: text(r, "account"),
                    sync_id: text(r, "syncId"),
                    started_on: text(r, "startedOn"),
                    ended_on: text(r, "endedOn"),
                    status: text(r, "status"),
                    types: serde_json::from_str(&text(r, "types")).map_err(|e| bad("typeCounts", e))?,
                    api_requests: num(r, "api"),
                    throttled_calls: num(r, "throttled"),
                    throttle_wait_ms: num(r, "waited"),
                    findings: serde_json::from_str(&text(r, "findings")).map_err(|e| bad("findings", e))?,
                })
            })
            .collect()
    }
}
