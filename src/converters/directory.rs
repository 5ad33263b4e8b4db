//! Directory groups and mailbox activity: groups, their tree and memberships, and
//! the activity fields of a user. Pure functions, no I/O.

use crate::graph::{Element as _, Entity, Relationship, Value};
use crate::mimecast::directory::{Group, TrackedEmail};
use crate::schema::{keys, rels, types};

use super::{int, scoped, scoped_rel, text};

/// A directory group; its name is the group's `description` (its id when empty).
pub fn group(account_code: &str, g: &Group) -> Entity {
    let name = super::non_empty(&g.description).unwrap_or(&g.id).to_owned();
    let mut e = scoped(
        keys::group(account_code, &g.id),
        types::GROUP,
        "Group",
        account_code,
        &name,
    );
    e.set("id", Some(Value::from(g.id.as_str())))
        .set("source", text(&g.source))
        .set("parentId", text(&g.parent_id))
        .set("userCount", int(g.user_count))
        .set("folderCount", int(g.folder_count));
    e
}

/// `(group)-[:CHILD_OF]->(parent)`.
pub fn child_of(account_code: &str, group_key: &str, parent_key: &str) -> Relationship {
    scoped_rel(
        rels::GROUP_CHILD_OF_GROUP,
        "CHILD_OF",
        group_key,
        parent_key,
        account_code,
    )
}

/// `(user)-[:MEMBER_OF]->(group)`.
pub fn user_member_of(account_code: &str, user_key: &str, group_key: &str) -> Relationship {
    scoped_rel(
        rels::USER_MEMBER_OF_GROUP,
        "MEMBER_OF",
        user_key,
        group_key,
        account_code,
    )
}

/// `(domain)-[:MEMBER_OF]->(group)`.
pub fn domain_member_of(account_code: &str, domain_key: &str, group_key: &str) -> Relationship {
    scoped_rel(
        rels::DOMAIN_MEMBER_OF_GROUP,
        "MEMBER_OF",
        domain_key,
        group_key,
        account_code,
    )
}

/// What one Message Finder search says about a sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    /// The newest time among the messages found (ISO UTC).
    pub last_sent: Option<String>,
    pub count: usize,
    /// The search returned as many messages as one search can: there may be more.
    pub capped: bool,
}

/// Sums up one search's messages; `limit` is the most one search returns.
pub fn activity(found: &[TrackedEmail], limit: usize) -> Activity {
    Activity {
        last_sent: found.iter().filter_map(TrackedEmail::time).max().map(str::to_owned),
        count: found.len(),
        capped: found.len() >= limit,
    }
}

/// Writes the activity fields onto a user. `last_sent` falls back to `previous`
/// (the value stored before), so a quiet window does not forget an older message.
pub fn apply_activity(user: &mut Entity, a: &Activity, previous: Option<&str>, checked_on: &str) {
    let last = match (a.last_sent.as_deref(), previous) {
        (Some(now), Some(before)) => Some(now.max(before)),
        (now, before) => now.or(before),
    };
    user.set("lastMessageSentOn", last.map(Value::from))
        .set("messagesSent", Some(Value::Int(a.count as i64)))
        .set("messagesSentCapped", Some(Value::Bool(a.capped)))
        .set("activityCheckedOn", Some(Value::from(checked_on)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(sent: &str) -> TrackedEmail {
        serde_json::from_value(serde_json::json!({"id": "m", "sent": sent})).unwrap()
    }

    #[test]
    fn a_group_takes_its_name_from_description() {
        let g: Group = serde_json::from_value(serde_json::json!({
            "id": "g1", "description": "Clinical Staff", "source": "ldap", "parentId": "g0", "userCount": 3, "folderCount": 1
        }))
        .unwrap();
        let e = group("C1", &g);
        assert_eq!(e.key, "mimecast_group:C1:g1");
        assert_eq!(e.str("name"), Some("Clinical Staff"));
        assert_eq!(e.str("parentId"), Some("g0"));
        assert_eq!(e.get("userCount"), Some(&Value::Int(3)));
    }

    #[test]
    fn activity_keeps_the_newest_time_and_says_when_capped() {
        let found = [mail("2024-05-01T09:00:00+0000"), mail("2024-05-03T10:00:00+0000")];
        let a = activity(&found, 2);
        assert_eq!(
            a,
            Activity {
                last_sent: Some("2024-05-03T10:00:00Z".into()),
                count: 2,
                capped: true
            }
        );
        let mut u = Entity::new("k", types::USER, "User");
        apply_activity(
            &mut u,
            &activity(&[], 2),
            Some("2024-01-01T00:00:00Z"),
            "2024-06-01T00:00:00Z",
        );
        assert_eq!(u.str("lastMessageSentOn"), Some("2024-01-01T00:00:00Z"));
        assert_eq!(u.get("messagesSent"), Some(&Value::Int(0)));
        assert_eq!(u.get("messagesSentCapped"), Some(&Value::Bool(false)));
    }
}
