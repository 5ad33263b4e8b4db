//! The account node's sync marks: when it was last synced, how that went, and when it
//! last succeeded.

use neo4rs::{query, BoltType};

use super::upsert::SyncStamp;
use super::{Sink, SinkError};

/// How a sync went for one account, as its node (`lastSyncStatus`) and its history
/// (`MimecastSyncRun.status`) record it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    /// Every type was collected and written, and every gone element deleted.
    Success,
    /// Written, but some types were partial or kept by the deletion guard.
    Partial,
    /// Not collected: the account keeps its data.
    Failed,
}

impl AccountStatus {
    /// The text stored in Neo4j.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Success => "success",
            AccountStatus::Partial => "partial",
            AccountStatus::Failed => "failed",
        }
    }
}

impl Sink {
    /// Records a failed collection on the account node, which keeps its data and its
    /// `lastSuccessfulSyncOn`: by account code when the run learned it, else by
    /// connection name when exactly one account node carries that name (a failure at
    /// authentication comes before the account code is known). Returns how many
    /// account nodes were marked.
    ///
    /// # Errors
    /// The statement fails.
    pub async fn mark_account_failed(
        &self,
        account_code: Option<&str>,
        connection: &str,
        stamp: &SyncStamp,
    ) -> Result<i64, SinkError> {
        let q = match account_code {
            Some(code) => query(
                "MATCH (a:MimecastAccount {_key: $key}) SET a.lastSyncOn = $now, a.lastSyncStatus = $status, \
                 a.lastSuccessfulSyncOn = datetime(a.lastSuccessfulSyncOn) RETURN count(a) AS marked",
            )
            .param("key", crate::schema::keys::account(code)),
            None => query(
                "OPTIONAL MATCH (a:MimecastAccount {connection: $connection}) WITH collect(a) AS found \
                 FOREACH (a IN CASE WHEN size(found) = 1 THEN found ELSE [] END | \
                   SET a.lastSyncOn = $now, a.lastSyncStatus = $status, \
                       a.lastSuccessfulSyncOn = datetime(a.lastSuccessfulSyncOn)) \
                 RETURN CASE WHEN size(found) = 1 THEN 1 ELSE 0 END AS marked",
            )
            .param("connection", connection),
        };
        let q = q
            .param("now", stamp.now_value())
            .param("status", AccountStatus::Failed.as_str());
        let rows = self.write("mark-account", q).await?;
        Ok(match rows.first().and_then(|r| r.get("marked")) {
            Some(BoltType::Integer(i)) => i.value,
            _ => 0,
        })
    }

    /// Stamps the account node after a sync: when and how it went, and when it last
    /// succeeded.
    ///
    /// # Errors
    /// The write fails.
    pub async fn mark_account(
        &self,
        account_code: &str,
        status: AccountStatus,
        stamp: &SyncStamp,
    ) -> Result<(), SinkError> {
        let statement = if status == AccountStatus::Success {
            "MATCH (a:MimecastAccount {_key: $key}) \
             SET a.lastSyncOn = $now, a.lastSyncStatus = $status, a.lastSuccessfulSyncOn = $now"
        } else {
            // `datetime(...)`: a time an older version stored as text becomes native.
            "MATCH (a:MimecastAccount {_key: $key}) SET a.lastSyncOn = $now, a.lastSyncStatus = $status, \
             a.lastSuccessfulSyncOn = datetime(a.lastSuccessfulSyncOn)"
        };
        let q = query(statement)
            .param("key", crate::schema::keys::account(account_code))
            .param("now", stamp.now_value())
            .param("status", status.as_str());
        self.write_even_when_stopped("mark-account", q).await.map(|_| ())
    }
}
