//! The TTP log cursors: one `MimecastSyncCursor` node per account and stream
//! (`ttp-url`, `ttp-attachment`, `ttp-impersonation`) holding the time up to which
//! that stream's events are written. A sync reads them before collecting and
//! advances one only after its account's events are written, so a sync cut short
//! reads the same window again (the keys make that idempotent) and none is skipped.
//! (Bookkeeping like the leases and the history: no `_type`, no `accountCode`, never
//! read or deleted by the diff.)

use std::collections::BTreeMap;

use neo4rs::{query, BoltType};

use super::{Sink, SinkError, SyncStamp};

/// The label of cursor nodes.
pub const CURSOR_LABEL: &str = "MimecastSyncCursor";

/// Account code, then stream, then the ISO time written up to.
pub type StoredCursors = BTreeMap<String, BTreeMap<String, String>>;

impl Sink {
    /// The stored cursors of `accounts`.
    ///
    /// # Errors
    /// The read fails.
    pub async fn cursors(&self, accounts: &[&str]) -> Result<StoredCursors, SinkError> {
        let accounts: Vec<String> = accounts.iter().map(|a| (*a).to_owned()).collect();
        let q = query(
            "MATCH (c:MimecastSyncCursor) WHERE c.account IN $accounts \
             RETURN c.account AS account, c.stream AS stream, c.position AS position",
        )
        .param("accounts", accounts);
        let mut out = StoredCursors::new();
        for r in self.read(q).await? {
            let text = |k: &str| match r.get(k) {
                Some(BoltType::String(s)) => Some(s.value.clone()),
                _ => None,
            };
            if let (Some(a), Some(s), Some(p)) = (text("account"), text("stream"), text("position")) {
                out.entry(a).or_default().insert(s, p);
            }
        }
        Ok(out)
    }

    /// Moves the cursor of each `(stream, to)` of `account` forward to `to` (never
    /// back), with the sync that did it. A SIEM stream's position (`siem:...`) is an
    /// opaque listing token: it is replaced, not compared.
    ///
    /// # Errors
    /// The write fails after its retries.
    pub async fn advance_cursors(
        &self,
        account: &str,
        windows: &[(String, String, String)],
        stamp: &SyncStamp,
    ) -> Result<(), SinkError> {
        for (stream, from, to) in windows {
            let q = query(
                "MERGE (c:MimecastSyncCursor {account: $account, stream: $stream}) \
                 ON CREATE SET c._key = 'mimecast_sync_cursor:' + $account + ':' + $stream \
                 WITH c WHERE c.position IS NULL OR $opaque OR c.position < $to \
                 SET c.position = $to, c.windowFrom = $from, c.syncId = $syncId, c.updatedOn = $now",
            )
            .param("account", account)
            .param("stream", stream.as_str())
            .param("from", from.as_str())
            .param("to", to.as_str())
            .param("opaque", stream.starts_with("siem:"))
            .param("syncId", stamp.sync_id.as_str())
            .param("now", stamp.now_value());
            self.write_even_when_stopped("sync-cursor", q).await?;
        }
        Ok(())
    }
}
