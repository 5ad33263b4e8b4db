//! The recorded syncs of an account, for the report's trends. Reading them is kept in
//! this one function so that the history's storage can change in one place.

use std::collections::BTreeMap;

use crate::sink::{CampaignCompletion, Sink, SinkError};

/// One recorded sync of an account, the findings each rule had after it and the
/// completion of each training campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRun {
    pub sync_id: String,
    pub started_on: String,
    pub ended_on: Option<String>,
    pub status: Option<String>,
    /// Query id to its number of findings.
    pub findings: BTreeMap<String, u64>,
    /// Campaign completion after the sync, in launch order; empty when not recorded.
    pub completion: Vec<CampaignCompletion>,
}

/// A recorded sync that does not read as one.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("reading the sync history: {0}")]
    Sink(#[from] SinkError),
    #[error("sync run {sync_id:?}: `findings` is not a JSON object of query id to count: {why}")]
    Findings { sync_id: String, why: String },
}

/// The account's recorded syncs (the sync history of `crate::sink::history`), oldest
/// first; empty when none was recorded.
///
/// # Errors
/// The read fails, or a stored run does not read as one.
pub async fn read_history(sink: &Sink, account: &str) -> Result<Vec<SyncRun>, HistoryError> {
    let mut runs: Vec<SyncRun> = sink
        .runs(Some(account), usize::MAX)
        .await?
        .into_iter()
        .map(|r| SyncRun {
            ended_on: Some(r.ended_on).filter(|t| !t.is_empty()),
            status: Some(r.status).filter(|t| !t.is_empty()),
            sync_id: r.sync_id,
            started_on: r.started_on,
            findings: r.findings,
            completion: r.completion,
        })
        .collect();
    runs.reverse();
    Ok(runs)
}
