//! Directory groups and Message Finder (docs/mimecast-api.md §13.3, §13.4): the
//! records and the client's methods for `directory/find-groups`,
//! `directory/get-group-members` and `message-finder/search`.

use serde::Deserialize;
use serde_json::json;

use super::records::de;
use super::{ApiError, Client, Endpoint, Pages};

/// `directory/find-groups`: `data[0]` wraps `folders`.
#[derive(Clone, Debug, Deserialize)]
pub struct FoldersPage {
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub folders: Vec<Group>,
}

/// One directory group (a "folder"): `description` is its name.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub folder_count: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub user_count: Option<i64>,
}

/// `directory/get-group-members`: `data[0]` wraps `groupMembers`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMembersPage {
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub group_members: Vec<GroupMember>,
}

/// A member of a group: an address, or a whole domain (no `emailAddress`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMember {
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub internal: Option<bool>,
    #[serde(default, rename = "type")]
    pub member_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl GroupMember {
    /// The member's address, when it is one (`x@y`).
    pub fn address(&self) -> Option<&str> {
        self.email_address.as_deref().map(str::trim).filter(|a| a.contains('@'))
    }
}

/// `message-finder/search`: `data[0]` wraps `trackedEmails`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackedEmailsPage {
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub tracked_emails: Vec<TrackedEmail>,
}

/// One tracked message; only what activity needs is read.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackedEmail {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub sent: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub received: Option<String>,
}

impl TrackedEmail {
    /// When it was sent, else received (ISO UTC).
    pub fn time(&self) -> Option<&str> {
        self.sent.as_deref().or(self.received.as_deref())
    }
}

impl Client {
    /// `directory/find-groups` of one source (`cloud` or `ldap`), page by page.
    pub fn groups(&self, source: &str) -> Pages<Group> {
        self.paged(
            Endpoint::FindGroups,
            Some(json!({"source": source})),
            |pages: Vec<FoldersPage>| pages.into_iter().flat_map(|p| p.folders).collect(),
        )
    }

    /// `directory/get-group-members` of one group, page by page.
    pub fn group_members(&self, group_id: &str) -> Pages<GroupMember> {
        self.paged(
            Endpoint::GetGroupMembers,
            Some(json!({"id": group_id})),
            |pages: Vec<GroupMembersPage>| pages.into_iter().flat_map(|p| p.group_members).collect(),
        )
    }

    /// `message-finder/search` for the messages `sender` sent between `from` and `to`
    /// (ISO date-times). One call, no paging: Message Finder returns one capped list.
    ///
    /// # Errors
    /// Any [`ApiError`].
    pub async fn messages_sent_by(&self, sender: &str, from: &str, to: &str) -> Result<Vec<TrackedEmail>, ApiError> {
        let body = json!({"data": [{
            "start": super::client::ttp_time(from),
            "end": super::client::ttp_time(to),
            "searchReason": "mimecast-graph mailbox activity",
            "advancedTrackAndTraceOptions": {"from": sender},
        }]});
        let env = self
            .call::<TrackedEmailsPage>(Endpoint::MessageFinderSearch, &body)
            .await?;
        Ok(env.data.into_iter().flat_map(|p| p.tracked_emails).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_shapes_parse() {
        let page: FoldersPage = serde_json::from_str(
            r#"{"folders": [{"id": "eNo1", "description": "Clinical Staff", "source": "ldap", "parentId": "eNo0", "folderCount": 0, "userCount": 12}], "source": "ldap", "query": ""}"#,
        )
        .unwrap();
        let g = &page.folders[0];
        assert_eq!(
            (
                g.id.as_str(),
                g.description.as_deref(),
                g.source.as_deref(),
                g.parent_id.as_deref()
            ),
            ("eNo1", Some("Clinical Staff"), Some("ldap"), Some("eNo0"))
        );
        assert_eq!((g.folder_count, g.user_count), (Some(0), Some(12)));

        let members: GroupMembersPage = serde_json::from_str(
            r#"{"groupMembers": [{"emailAddress": "a@x.com", "domain": "x.com", "internal": true, "type": "created_manually", "name": "A"}, {"domain": "y.com", "internal": false}]}"#,
        )
        .unwrap();
        assert_eq!(members.group_members[0].address(), Some("a@x.com"));
        assert_eq!(members.group_members[1].address(), None);
        assert_eq!(members.group_members[1].domain.as_deref(), Some("y.com"));

        let found: TrackedEmailsPage = serde_json::from_str(
            r#"{"trackedEmails": [{"id": "m1", "status": "archived", "fromEnv": {"emailAddress": "a@x.com"}, "sent": "2024-05-01T09:00:00+0000", "received": "2024-05-01T09:00:02+0000"}]}"#,
        )
        .unwrap();
        assert_eq!(found.tracked_emails[0].time(), Some("2024-05-01T09:00:00Z"));
    }
}
