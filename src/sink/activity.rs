//! The users' stored mailbox activity (`lastMessageSentOn`, `messagesSent`,
//! `messagesSentCapped`, `activityCheckedOn`), read before a sync so that the users
//! Message Finder is not asked about this run keep what they had
//! (`steps::FETCH_MESSAGE_ACTIVITY`). Times are read as text whether they are stored
//! as strings or as native date-times.

use neo4rs::{query, BoltType};

use super::{Sink, SinkError};
use crate::graph::{ActivityState, StoredActivity};

impl Sink {
    /// The stored activity of the users of `accounts` that have been checked.
    ///
    /// # Errors
    /// The read fails.
    pub async fn stored_activity(&self, accounts: &[&str]) -> Result<ActivityState, SinkError> {
        let accounts: Vec<String> = accounts.iter().map(|a| (*a).to_owned()).collect();
        let q = query(
            "MATCH (u:MimecastUser) WHERE u.accountCode IN $accounts AND u.activityCheckedOn IS NOT NULL \
             RETURN u._key AS key, toString(u.lastMessageSentOn) AS last, u.messagesSent AS count, \
             u.messagesSentCapped AS capped, toString(u.activityCheckedOn) AS checked",
        )
        .param("accounts", accounts);
        let mut out = ActivityState::new();
        for r in self.read(q).await? {
            let text = |k: &str| match r.get(k) {
                Some(BoltType::String(s)) => Some(s.value.clone()),
                _ => None,
            };
            let Some(key) = text("key") else { continue };
            let count = match r.get("count") {
                Some(BoltType::Integer(i)) => Some(i.value),
                _ => None,
            };
            let capped = match r.get("capped") {
                Some(BoltType::Boolean(b)) => Some(b.value),
                _ => None,
            };
            out.insert(
                key,
                StoredActivity {
                    last_sent: text("last"),
                    count,
                    capped,
                    checked_on: text("checked"),
                },
            );
        }
        Ok(out)
    }
}
