//! The sync history: each sync leaves one `MimecastSyncRun` node per account it
//! wrote, linked from the account (`HAS_SYNC_RUN`), with what it did to each type,
//! what it cost in API calls and throttling, the finding count of every saved rule
//! after it, the identity of each finding (`findingIds`, one JSON text: what
//! `queries diff` compares) and the completion figures of each training campaign. An
//! account keeps its last `[sync] history_runs` runs; a trimmed run takes its
//! identities with it.
//! (Bookkeeping like the leases, not part of graph-schema/: they carry no `_type`,
//! and the diff never reads or deletes them.)

use std::collections::BTreeMap;

use neo4rs::{query, BoltType};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::report::TypeWrite;
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
    /// The identities of each rule's findings (by query id). Read only by
    /// [`Sink::run_finding_ids`]: [`Sink::runs`] leaves it empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub finding_ids: BTreeMap<String, RuleFindings>,
    /// True when the run recorded finding identities (a run that failed, or one
    /// recorded before identities were, did not).
    #[serde(skip)]
    pub has_finding_ids: bool,
    /// Completion of each training campaign after the sync, in the order of the
    /// `campaign-completion` query; empty when not recorded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub completion: Vec<CampaignCompletion>,
    /// The sync that had last changed the account's content when this run's queries
    /// ran (`sink::GENERATION`); `None` when not known.
    #[serde(skip)]
    pub content_generation: Option<String>,
    /// What each saved query this run recorded ran (`queries::run_digest`), by id.
    #[serde(skip)]
    pub query_digests: BTreeMap<String, String>,
}

/// One rule's findings after a sync, by identity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleFindings {
    /// The rule's version when it ran.
    pub version: u32,
    /// Its identity columns (`// identity:`).
    pub identity: Vec<String>,
    /// Per distinct finding, the values of those columns; sorted. Empty when `capped`.
    pub ids: Vec<Vec<Json>>,
    /// Set when the rule found more distinct findings than `[sync]
    /// history_finding_ids_max`: their number; their identities were not kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capped: Option<u64>,
}

impl RuleFindings {
    /// The rule's distinct findings: kept or, when capped, counted.
    pub fn count(&self) -> usize {
        self.capped
            .map_or(self.ids.len(), |n| usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// One training campaign's completion after a sync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignCompletion {
    pub campaign: String,
    /// The campaign's id, which a rename keeps; empty in runs recorded before it was.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub assigned: u64,
    pub completed: u64,
    pub passed: u64,
}

impl CampaignCompletion {
    /// Completed of assigned, in percent rounded to one decimal as
    /// `campaign-completion` rounds it; 0 when nobody was assigned.
    pub fn completion_rate(&self) -> f64 {
        if self.assigned == 0 {
            0.0
        } else {
            (1000.0 * self.completed as f64 / self.assigned as f64).round() / 10.0
        }
    }
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
        let mut props = vec![
            (
                "_key",
                super::bolt::string(&format!("mimecast_sync_run:{}:{}", run.account, run.sync_id)),
            ),
            ("accountCode", super::bolt::string(&run.account)),
            ("syncId", super::bolt::string(&run.sync_id)),
            ("startedOn", super::bolt::date_time_text(&run.started_on)),
            ("endedOn", super::bolt::date_time_text(&run.ended_on)),
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
        ];
        if run.has_finding_ids {
            props.push(("findingIds", json_text(&run.finding_ids)));
        }
        if !run.completion.is_empty() {
            props.push(("completion", json_text(&run.completion)));
        }
        if let Some(generation) = &run.content_generation {
            props.push(("contentGeneration", super::bolt::string(generation)));
        }
        if !run.query_digests.is_empty() {
            props.push(("queryDigests", json_text(&run.query_digests)));
        }
        let props = super::bolt::map(props);
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
                    r.throttleWaitMs AS waited, r.findings AS findings, r.completion AS completion, \
                    r.findingIds IS NOT NULL AS hasIds \
             ORDER BY r.recordedMs DESC, account LIMIT $limit",
        )
        .param(
            "account",
            account.map_or(BoltType::Null(neo4rs::BoltNull), super::bolt::string),
        )
        .param("limit", i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self.read(q).await?;
        // Times are `DATETIME` (text from an older version): both read as ISO text.
        let text = |r: &super::Record, k: &str| r.get(k).and_then(super::bolt::text).unwrap_or_default();
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
                    finding_ids: BTreeMap::new(),
                    has_finding_ids: matches!(r.get("hasIds"), Some(BoltType::Boolean(b)) if b.value),
                    completion: match r.get("completion") {
                        Some(BoltType::String(s)) => {
                            serde_json::from_str(&s.value).map_err(|e| bad("completion", e))?
                        }
                        _ => Vec::new(),
                    },
                    ..SyncRun::default()
                })
            })
            .collect()
    }

    /// The newest recorded run of `account`, with what a sync that left the content as
    /// it was may copy from it: its content generation, query digests, findings, their
    /// identities and the campaigns' completion. `None` when the account has no run,
    /// or its newest one recorded no content generation or no finding identities.
    ///
    /// # Errors
    /// The read fails, or the stored text is not in the form [`Sink::record_run`] writes.
    pub async fn latest_run(&self, account: &str) -> Result<Option<SyncRun>, SinkError> {
        let q = query(
            "MATCH (r:MimecastSyncRun {accountCode: $account}) \
             RETURN r.syncId AS syncId, r.contentGeneration AS generation, r.queryDigests AS digests, \
                    r.findings AS findings, r.findingIds AS ids, r.completion AS completion \
             ORDER BY r.recordedMs DESC LIMIT 1",
        )
        .param("account", account);
        let rows = self.read(q).await?;
        let Some(r) = rows.first() else { return Ok(None) };
        let text = |k: &str| match r.get(k) {
            Some(BoltType::String(s)) => Some(s.value.clone()),
            _ => None,
        };
        let (Some(generation), Some(digests), Some(ids)) = (text("generation"), text("digests"), text("ids")) else {
            return Ok(None);
        };
        let bad = |what: &str, e: serde_json::Error| {
            SinkError::Query(format!(
                "sync run {} has unreadable {what}: {e}",
                text("syncId").unwrap_or_default()
            ))
        };
        Ok(Some(SyncRun {
            account: account.to_owned(),
            sync_id: text("syncId").unwrap_or_default(),
            findings: serde_json::from_str(&text("findings").unwrap_or_default()).map_err(|e| bad("findings", e))?,
            finding_ids: serde_json::from_str(&ids).map_err(|e| bad("findingIds", e))?,
            has_finding_ids: true,
            completion: match text("completion") {
                Some(c) => serde_json::from_str(&c).map_err(|e| bad("completion", e))?,
                None => Vec::new(),
            },
            content_generation: Some(generation),
            query_digests: serde_json::from_str(&digests).map_err(|e| bad("queryDigests", e))?,
            ..SyncRun::default()
        }))
    }

    /// The finding identities one recorded run of `account` kept, by rule id; `None`
    /// when no such run holds them.
    ///
    /// # Errors
    /// The read fails, or the stored text is not in the form [`Sink::record_run`] writes.
    pub async fn run_finding_ids(
        &self,
        account: &str,
        sync_id: &str,
    ) -> Result<Option<BTreeMap<String, RuleFindings>>, SinkError> {
        let q = query(
            "MATCH (r:MimecastSyncRun {accountCode: $account, syncId: $syncId}) \
             WHERE r.findingIds IS NOT NULL RETURN r.findingIds AS ids LIMIT 1",
        )
        .param("account", account)
        .param("syncId", sync_id);
        let rows = self.read(q).await?;
        match rows.first().and_then(|r| r.get("ids")) {
            Some(BoltType::String(s)) => serde_json::from_str(&s.value)
                .map(Some)
                .map_err(|e| SinkError::Query(format!("sync run {sync_id} has unreadable findingIds: {e}"))),
            _ => Ok(None),
        }
    }
}
