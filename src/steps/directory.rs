//! Directory groups and mailbox activity (docs/mimecast-api.md §13.3, §13.4).
//!
//! - `fetch-groups`: `find-groups` of both sources (`cloud`, `ldap`), the groups and
//!   their tree (`CHILD_OF` from `parentId`). A group whose children differ from its
//!   `folderCount`, or whose parent is not listed, is a source mismatch in the
//!   integrity report.
//! - `fetch-group-members`: `get-group-members` per group, `MEMBER_OF` edges from the
//!   internal users and domains; other members follow the unknown-participant
//!   policy; a group whose members differ from its `userCount` is a source mismatch.
//! - `fetch-message-activity` (opt-in, `[connection.message_activity]`): one
//!   Message Finder search per internal user (aliases are skipped) over the look-back
//!   window, at most `max_calls_per_sync` per sync. Users are taken oldest check
//!   first (never checked first), so every user is covered within
//!   ceil(users / budget) syncs; those not checked keep their stored values, which
//!   the sync reads from Neo4j before the run.
//!
//! A refused permission (403) makes the types partial: stored groups and activity are
//! never deleted or cleared for it.

use std::collections::{HashMap, HashSet};

use futures::stream::{self, StreamExt};

use super::{Step, StepContext, StepError, StepFuture, StepSpec, FETCH_DOMAINS, FETCH_USERS};
use crate::converters::directory as conv;
use crate::graph::{Element as _, FindingKind};
use crate::mimecast::{all, ApiError};
use crate::schema::keys;
use crate::schema::{rels, types};

pub const FETCH_GROUPS: &str = "fetch-groups";
pub const FETCH_GROUP_MEMBERS: &str = "fetch-group-members";
pub const FETCH_MESSAGE_ACTIVITY: &str = "fetch-message-activity";

/// The group sources `find-groups` is asked for, one listing each.
const SOURCES: [&str; 2] = ["cloud", "ldap"];

/// How many groups' members, or users' searches, are fetched at once (the client's
/// own limit still caps the HTTP requests).
const FAN_OUT: usize = 4;

/// The most messages one Message Finder search returns, as far as is known: a
/// search that returns this many is recorded as capped. Mimecast documents no
/// limit; 100 is the simulator's (`sim::directory::MESSAGE_FINDER_LIMIT`).
pub const MESSAGE_FINDER_LIMIT: usize = 100;

pub use crate::graph::{ActivityState, StoredActivity};

pub fn directory_steps() -> Vec<Step> {
    vec![
        Step {
            spec: StepSpec {
                id: FETCH_GROUPS,
                name: "Fetch directory groups (cloud and LDAP) and their tree",
                depends_on: &[super::FETCH_ACCOUNT],
                entity_types: &[types::GROUP],
                relationship_types: &[rels::GROUP_CHILD_OF_GROUP],
            },
            run: fetch_groups,
        },
        Step {
            spec: StepSpec {
                id: FETCH_GROUP_MEMBERS,
                name: "Fetch the members of each directory group",
                depends_on: &[FETCH_GROUPS, FETCH_USERS, FETCH_DOMAINS],
                entity_types: &[],
                relationship_types: &[rels::USER_MEMBER_OF_GROUP, rels::DOMAIN_MEMBER_OF_GROUP],
            },
            run: fetch_group_members,
        },
        Step {
            spec: StepSpec {
                id: FETCH_MESSAGE_ACTIVITY,
                name: "Fetch the last message each mailbox sent (Message Finder, rationed)",
                depends_on: &[FETCH_USERS],
                entity_types: &[],
                relationship_types: &[],
            },
            run: fetch_message_activity,
        },
    ]
}

fn groups_gate(ctx: &StepContext) -> Result<(), StepError> {
    if ctx.connection.directory_groups {
        Ok(())
    } else {
        Err(StepError::Disabled(
            "directory_groups = false in the configuration".into(),
        ))
    }
}

fn fetch_groups(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        groups_gate(ctx)?;
        let code = ctx.account()?.code;
        let (cloud, ldap) = tokio::join!(all(ctx.client.groups(SOURCES[0])), all(ctx.client.groups(SOURCES[1])));
        let mut groups = Vec::new();
        for listed in [cloud, ldap] {
            match listed {
                Ok(g) => groups.extend(g),
                Err(e) if e.is_unavailable() => {
                    ctx.tenant.refuse_groups();
                    for t in [types::GROUP, rels::GROUP_CHILD_OF_GROUP] {
                        ctx.mark_partial(t, format!("{t} keeps its stored elements: find-groups was refused"));
                    }
                    return Err(StepError::Unavailable(e.to_string()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let ids: HashSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        let mut children: HashMap<&str, i64> = HashMap::new();
        for g in &groups {
            let Some(parent) = g.parent_id.as_deref().filter(|p| !p.is_empty()) else {
                continue;
            };
            if ids.contains(parent) {
                *children.entry(parent).or_insert(0) += 1;
                ctx.add_relationship(conv::child_of(
                    &code,
                    &keys::group(&code, &g.id),
                    &keys::group(&code, parent),
                ));
            } else {
                ctx.observe(
                    FindingKind::SourceMismatch,
                    types::GROUP,
                    format!("group {:?}: parent {parent} is not listed", name(g)),
                );
            }
        }
        for g in &groups {
            let found = children.get(g.id.as_str()).copied().unwrap_or(0);
            if let Some(said) = g.folder_count.filter(|said| *said != found) {
                ctx.observe(
                    FindingKind::SourceMismatch,
                    types::GROUP,
                    format!("group {:?}: folderCount {said}, {found} child groups listed", name(g)),
                );
            }
            ctx.add_entity(conv::group(&code, g));
        }
        Ok(())
    })
}

fn name(g: &crate::mimecast::directory::Group) -> &str {
    g.description.as_deref().unwrap_or(&g.id)
}

fn fetch_group_members(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        groups_gate(ctx)?;
        let code = ctx.account()?.code;
        let users = ctx.keys_of_type(types::USER);
        let domains = ctx.keys_of_type(types::DOMAIN);
        let groups: Vec<(String, String, String, Option<i64>)> = ctx
            .entities_of_type(types::GROUP)
            .into_iter()
            .map(|g| {
                let id = g.str("id").unwrap_or_default().to_owned();
                let name = g.str("name").unwrap_or_default().to_owned();
                let said = match g.get("userCount") {
                    Some(crate::graph::Value::Int(n)) => Some(*n),
                    _ => None,
                };
                (id, g.key, name, said)
            })
            .collect();
        // Each group's members are converted as they arrive, not held all at once.
        let mut fetched = stream::iter(groups)
            .map(|(id, key, name, said)| async move {
                let members = all(ctx.client.group_members(&id)).await;
                (key, name, said, members)
            })
            .buffer_unordered(FAN_OUT);
        let mut errors = Vec::new();
        let mut unavailable = None;
        while let Some((group_key, name, said, members)) = fetched.next().await {
            let members = match members {
                Ok(m) => m,
                Err(e) if e.is_unavailable() => {
                    unavailable = Some(e.to_string());
                    continue;
                }
                Err(e) => {
                    errors.push(format!("members of {name:?}: {e}"));
                    continue;
                }
            };
            if let Some(said) = said.filter(|said| *said != members.len() as i64) {
                ctx.observe(
                    FindingKind::SourceMismatch,
                    rels::USER_MEMBER_OF_GROUP,
                    format!("group {name:?}: userCount {said}, {} members listed", members.len()),
                );
            }
            for m in &members {
                if let Some(address) = m.address() {
                    let user = keys::user(&code, address);
                    if users.contains(&user) {
                        ctx.add_relationship(conv::user_member_of(&code, &user, &group_key));
                    } else {
                        ctx.unknown_participant(
                            rels::USER_MEMBER_OF_GROUP,
                            format!("{} in group {name:?}", keys::email_key(address)),
                        );
                    }
                } else if let Some(domain) = m.domain.as_deref().filter(|d| !d.trim().is_empty()) {
                    let key = keys::domain(&code, domain);
                    if domains.contains(&key) {
                        ctx.add_relationship(conv::domain_member_of(&code, &key, &group_key));
                    } else {
                        ctx.unknown_participant(
                            rels::DOMAIN_MEMBER_OF_GROUP,
                            format!("domain {} in group {name:?}", domain.trim().to_lowercase()),
                        );
                    }
                } else {
                    ctx.note(format!(
                        "a member of group {name:?} has neither an address nor a domain"
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(super::failed("members of some groups could not be fetched", errors));
        }
        match unavailable {
            Some(why) => {
                ctx.tenant.refuse_groups();
                for t in [rels::USER_MEMBER_OF_GROUP, rels::DOMAIN_MEMBER_OF_GROUP] {
                    ctx.mark_partial(
                        t,
                        format!("{t} keeps its stored elements: get-group-members was refused"),
                    );
                }
                Err(StepError::Unavailable(why))
            }
            None => Ok(()),
        }
    })
}

fn fetch_message_activity(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let settings = ctx.connection.message_activity.clone();
        if !settings.enabled {
            return Err(StepError::Disabled(
                "[connection.message_activity] enabled = false (the default)".into(),
            ));
        }
        let stored = &ctx.tenant.activity;
        // Mailboxes, not aliases: never checked first, then the oldest check.
        let mut candidates: Vec<(Option<String>, String, String)> = ctx
            .entities_of_type(types::USER)
            .into_iter()
            .filter(|u| u.get("alias") != Some(&crate::graph::Value::Bool(true)))
            .map(|u| {
                let checked = stored.get(&u.key).and_then(|s| s.checked_on.clone());
                let email = u.str("email").unwrap_or_default().to_owned();
                (checked, u.key, email)
            })
            .collect();
        candidates.sort();
        let budget = settings.max_calls_per_sync as usize;
        let total = candidates.len();
        let rest = candidates.split_off(budget.min(total));
        let now = ctx.tenant.threats.now.clone();
        let from = crate::time::parse(&now)
            .map(|t| crate::time::iso(t - chrono::Duration::days(i64::from(settings.lookback_days))))
            .unwrap_or_else(|_| now.clone());
        let searched: Vec<(String, Result<Vec<_>, ApiError>)> = stream::iter(candidates)
            .map(|(_, key, email)| {
                let (from, now) = (&from, &now);
                async move { (key, ctx.client.messages_sent_by(&email, from, now).await) }
            })
            .buffer_unordered(FAN_OUT)
            .collect()
            .await;
        let keep_stored = |key: &str| {
            if let Some(s) = stored.get(key) {
                ctx.update_entity(key, |u| {
                    u.set("lastMessageSentOn", s.last_sent.clone().map(crate::graph::Value::from))
                        .set("messagesSent", s.count.map(crate::graph::Value::Int))
                        .set("messagesSentCapped", s.capped.map(crate::graph::Value::Bool))
                        .set("activityCheckedOn", s.checked_on.clone().map(crate::graph::Value::from));
                });
            }
        };
        let mut checked = 0usize;
        let mut errors = Vec::new();
        let mut unavailable = None;
        for (key, result) in searched {
            match result {
                Ok(found) => {
                    checked += 1;
                    let a = conv::activity(&found, MESSAGE_FINDER_LIMIT);
                    let previous = stored.get(&key).and_then(|s| s.last_sent.as_deref());
                    ctx.update_entity(&key, |u| conv::apply_activity(u, &a, previous, &now));
                }
                Err(e) => {
                    keep_stored(&key);
                    if e.is_unavailable() {
                        unavailable = Some(e.to_string());
                    } else {
                        errors.push(e.to_string());
                    }
                }
            }
        }
        for (_, key, _) in &rest {
            keep_stored(key);
        }
        ctx.note(format!(
            "mailbox activity: {checked} of {total} mailboxes checked this sync (budget {budget}); {} wait for a later sync",
            total - checked
        ));
        if let Some(why) = unavailable {
            ctx.mark_partial(
                types::USER,
                format!("Message Finder refused, users keep their stored activity: {why}"),
            );
        }
        if !errors.is_empty() {
            let shown: Vec<String> = errors.iter().take(3).cloned().collect();
            return Err(super::failed(
                &format!(
                    "{} Message Finder searches failed (those users keep their stored activity)",
                    errors.len()
                ),
                shown,
            ));
        }
        Ok(())
    })
}
