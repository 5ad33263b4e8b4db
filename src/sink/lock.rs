//! One writer per account. Cleanup deletes what does not carry this sync's id, so two
//! syncs of one account writing at once (a daemon and a scheduled CI job) would delete
//! each other's fresh data. Before its first write a sync takes a lease on each of its
//! accounts (a `MimecastGraphLock` node); another sync finding a live lease writes
//! nothing and says who holds it. While a sync writes, its leases are renewed every
//! [`RENEW_EVERY`]; a renewal that finds a lease gone stops every further write. The
//! lease ends when the sync releases it, or [`LEASE`] after the last renewal if the
//! process died.

use std::time::Duration;

use neo4rs::{query, BoltType};

use super::upsert::SyncStamp;
use super::{bolt, Sink, SinkError};

/// The label of lease nodes: bookkeeping, not part of graph-schema/.
pub const LOCK_LABEL: &str = "MimecastGraphLock";

/// How long a lease lives without renewal (when its process was killed).
pub const LEASE: Duration = Duration::from_secs(600);

/// How often a writing sync renews its leases.
pub const RENEW_EVERY: Duration = Duration::from_secs(120);

/// Takes the lease only where it is free, expired or already ours; the `SET` first
/// takes the node's write lock, so two syncs serialize here and the second sees the
/// first's owner.
const ACQUIRE: &str = "UNWIND $accounts AS account \
    MERGE (l:MimecastGraphLock {accountCode: account}) \
    ON CREATE SET l.owner = $syncId, l.since = $now, l.expiresOn = $until \
    SET l.claimedOn = $now \
    WITH l, coalesce(l.owner = $syncId, false) OR coalesce(l.expiresOn < $now, true) AS free \
    FOREACH (_ IN CASE WHEN free THEN [1] ELSE [] END | \
      SET l.owner = $syncId, l.since = $now, l.expiresOn = $until) \
    RETURN l.accountCode AS account, free, l.owner AS owner, l.since AS since, l.expiresOn AS until";

/// Extends this sync's leases; the count says whether it still holds them all.
const RENEW: &str = "UNWIND $accounts AS account \
    MATCH (l:MimecastGraphLock {accountCode: account, owner: $syncId}) \
    SET l.expiresOn = $until RETURN count(l) AS held";

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
            .param("accounts", accounts_param(accounts))
            .param("syncId", stamp.sync_id.as_str())
            .param("now", crate::time::iso(now))
            .param("until", crate::time::iso(until));
        let rows = self.write("lock", q).await?;
        let text = |r: &super::Record, k: &str| match r.get(k) {
            Some(BoltType::String(s)) => s.value.clone(),
            _ => String::new(),
        };
        // Anything but a plain `true` is someone else's lease.
        let held = rows
            .iter()
            .find(|r| !matches!(r.get("free"), Some(BoltType::Boolean(b)) if b.value));
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

    /// Runs `work` while renewing the leases every `every`. When a renewal finds a
    /// lease no longer this sync's, every later write of this sink is refused with
    /// [`SinkError::LeaseLost`]; a renewal that fails (Neo4j busy or away) is retried
    /// at the next tick.
    pub async fn hold_leases<T>(
        &self,
        accounts: &[&str],
        stamp: &SyncStamp,
        every: Duration,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let finished = tokio::sync::Notify::new();
        let renewing = async {
            loop {
                tokio::select! {
                    () = finished.notified() => break,
                    () = tokio::time::sleep(every) => {}
                }
                match self.renew_leases(accounts, stamp).await {
                    Ok(held) if held == accounts.len() as i64 => {}
                    Ok(held) => {
                        tracing::error!(held, accounts = accounts.len(), "a write lease was lost; writing stops");
                        self.lease_lost.store(true, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew the write leases; retrying"),
                }
            }
        };
        let working = async {
            let out = work.await;
            finished.notify_one();
            out
        };
        tokio::join!(working, renewing).0
    }

    async fn renew_leases(&self, accounts: &[&str], stamp: &SyncStamp) -> Result<i64, SinkError> {
        let until = chrono::Utc::now() + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let q = query(RENEW)
            .param("accounts", accounts_param(accounts))
            .param("syncId", stamp.sync_id.as_str())
            .param("until", crate::time::iso(until));
        let rows = self.write_even_when_stopped("renew-lease", q).await?;
        Ok(match rows.first().and_then(|r| r.get("held")) {
            Some(BoltType::Integer(i)) => i.value,
            _ => 0,
        })
    }

    /// Gives back this sync's leases. Best effort and never refused by a stop request:
    /// a lease left behind expires by itself.
    pub async fn unlock_accounts(&self, accounts: &[&str], stamp: &SyncStamp) {
        let q = query(RELEASE)
            .param("accounts", accounts_param(accounts))
            .param("syncId", stamp.sync_id.as_str());
        if let Err(e) = self.write_even_when_stopped("unlock", q).await {
            tracing::warn!(error = %e, "could not release the account write leases; they expire by themselves");
        }
    }
}

fn accounts_param(accounts: &[&str]) -> BoltType {
    bolt::list(accounts.iter().map(|a| bolt::string(a)).collect())
}
