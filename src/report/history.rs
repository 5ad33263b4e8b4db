//! The recorded syncs of an account, for the report's trends. Reading them is kept in
//! this one function so that the history's storage can change in one place.

use std::collections::BTreeMap;

use neo4rs::query;
use serde_json::Value as Json;

use crate::sink::bolt::to_json;
use crate::sink::{Sink, SinkError};

/// One recorded sync of an account and the findings each rule had after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRun {
    pub sync_id: String,
    pub started_on: String,
    pub ended_on: Option<String>,
    pub status: Option<String>,
    /// Query id to its number of findings.
    pub findings: BTreeMap<String, u64>,
}

/// A recorded sync that does not read as one.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("reading the sync history: {0}")]
    Sink(#[from] SinkError),
    #[error("sync run {sync_id:?}: `findings` is not a JSON object of query id to count: {why}")]
    Findings { sync_id: String, why: String },
}

const HISTORY: &str = "MATCH (a:MimecastAccount {accountCode: $account})-[:HAS_SYNC_RUN]->(r:MimecastSyncRun)
RETURN r ORDER BY r.startedOn";

/// The account's recorded syncs, oldest first; empty when none was recorded.
///
/// # Errors
/// The read fails, or a run's `findings` is not a JSON object of counts.
pub async fn read_history(sink: &Sink, account: &str) -> Result<Vec<SyncRun>, HistoryError> {
    let records = sink.read(query(HISTORY).param("account", account)).await?;
    records
        .iter()
        .filter_map(|r| r.get("r"))
        .map(|node| parse_run(&to_json(node)))
        .collect()
}

fn parse_run(props: &Json) -> Result<SyncRun, HistoryError> {
    let text = |k: &str| props.get(k).and_then(Json::as_str).map(str::to_owned);
    let sync_id = text("syncId").unwrap_or_default();
    let bad = |why: String| HistoryError::Findings {
        sync_id: sync_id.clone(),
        why,
    };
    let findings = match props.get("findings") {
        None | Some(Json::Null) => BTreeMap::new(),
        Some(Json::String(s)) => {
            let counts: BTreeMap<String, Json> = serde_json::from_str(s).map_err(|e| bad(e.to_string()))?;
            counts
                .into_iter()
                .map(|(id, n)| match n.as_u64() {
                    Some(n) => Ok((id, n)),
                    None => Err(bad(format!("{id}: {n} is not a count"))),
                })
                .collect::<Result<_, _>>()?
        }
        Some(other) => return Err(bad(format!("{other} is not JSON text"))),
    };
    Ok(SyncRun {
        started_on: text("startedOn").unwrap_or_default(),
        ended_on: text("endedOn"),
        status: text("status"),
        findings,
        sync_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_run_reads_its_findings_text() {
        let run = parse_run(
            &json!({"syncId": "s1", "startedOn": "2024-01-01T00:00:00Z", "status": "success",
            "findings": "{\"watchlist\": 2, \"stale-sync\": 0}"}),
        )
        .unwrap();
        assert_eq!(
            run,
            SyncRun {
                sync_id: "s1".into(),
                started_on: "2024-01-01T00:00:00Z".into(),
                ended_on: None,
                status: Some("success".into()),
                findings: BTreeMap::from([("stale-sync".into(), 0), ("watchlist".into(), 2)]),
            }
        );
        let err = parse_run(&json!({"syncId": "s2", "findings": "{\"watchlist\": -1}"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sync run \"s2\": `findings` is not a JSON object of query id to count: watchlist: -1 is not a count"
        );
    }
}
