//! One writer per account. Cleanup deletes what does not carry this sync's id, so two
//! syncs of one account writing at once (a daemon and a scheduled CI job) would delete
//! each other's fresh data. Before its first write a sync takes a lease on each of its
//! accounts (a `MimecastGraphLock` node); another sync finding a live lease writes
//! nothing and says who holds it. The lease ends when the sync releases it, or after
//! [`LEASE`] if the process died.

use std::time::Duration;

use neo4rs::{query, BoltType};

use super::upsert::SyncStamp;
use super::{bolt, Sink, SinkError};

/// The label of lease nodes: bookkeeping, not part of graph-schema/.
pub const LOCK_LABEL: &str = "MimecastGraphLock";

/// How long a lease lives when its sync never releases it (the process was killed).
pub const LEASE: Duration = Duration::from_secs(3600);

/// Takes the lease only where it is free, expired or already ours; the `SET` first
/// takes the node's write lock, so two syncs serialize here and the second sees the
/// first's owner.
const ACQUIRE: &str = "UNWIND $accounts AS account \
    MERGE (l:MimecastGraphLock {accountCode: account}) \
    ON CREATE SET l.owner = $syncId, l.since = $now, l.expiresOn = $until \
    SET l.claimedOn = $now \
    WITH l, l.owner = $syncId OR l.expiresOn < $now AS free \
    FOREACH (_ IN CASE WHEN free THEN [1] ELSE [] END | \
      SET l.owner = $syncId, l.since = $now, l.expiresOn = $until) \
    RETURN l.accountCode AS account, free, l.owner AS owner, l.since AS since, l.expiresOn AS until";

const RELEASE: &str = "UNWIND $accounts AS account \
    MATCH (l:MimecastGraphLock {accountCode: account, owner: $syncId}) DELETE l";

impl Sink {
    /// Takes the write lease of every account, or none: when another sync holds one,
    /// the leases taken are given back and the error names the holder.
    ///
    /// # Errors
    /// [`SinkError::Locked`], or the statement fails.
    pub async fn lock_accounts(&self, accounts: &[&str], stamp: &SyncStamp) -> Result<(), SinkError> {
        let now = chrono::Utc::now();
        let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let q = query(ACQUIRE)
            .param(
                "accounts",
                bolt::list(accounts.iter().map(|a| bolt::string(a)).collect()),
            )
            .param("syncId", stamp.sync_id.as_str())
            .param("now", crate::time::iso(now))
            .param("until", crate::time::iso(until));
        let rows = self.write("lock", q).await?;
        let text = |r: &super::Record, k: &str| match r.get(k) {
            Some(BoltType::String(s)) => s.value.clone(),
            _ => String::new(),
        };
        let held = rows
            .iter()
            .find(|r| matches!(r.get("free"), Some(BoltType::Boolean(b)) if !b.value));
        if let Some(r) = held {
            self.unlock_accounts(accounts, stamp).await;
            return Err(SinkError::Locked {
                account: text(r, "account"),
                owner: text(r, "owner"),
                since: text(r, "since"),
                until: text(r, "until"),
            });
        }
        Ok(())
    }

    /// Gives back this sync's leases. Best effort and never refused by a stop request:
    /// a lease left behind expires by itself.
    pub async fn unlock_accounts(&self, accounts: &[&str], stamp: &SyncStamp) {
        let q = query(RELEASE)
            .param(
                "accounts",
                bolt::list(accounts.iter().map(|a| bolt::string(a)).collect()),
            )
            .param("syncId", stamp.sync_id.as_str());
        if let Err(e) = self.write_even_when_stopped("unlock", q).await {
            tracing::warn!(error = %e, "could not release the account write leases; they expire by themselves");
        }
    }
}
