//! Directory groups and Message Finder (docs/mimecast-api.md §13.3, §13.4):
//! `directory/find-groups`, `directory/get-group-members` and
//! `message-finder/search`, served from the tenant's `groups` and `tracked_emails`;
//! and the generator of both.
//!
//! - `find-groups` takes `data[0].source` (`cloud` or `ldap`; absent lists both) and
//!   `data[0].query` (a case-insensitive part of the name, `description`), pages the
//!   groups with the usual `next` token and wraps them as
//!   `data[0] = {folders, source, query}`.
//! - `get-group-members` takes `data[0].id` and pages `data[0].groupMembers`, each
//!   `{emailAddress, domain, internal, type, name}`; a domain member has a `domain`
//!   and no `emailAddress`. An unknown id is a fail entry `err_folder_not_found`
//!   (code invented: no source shows it).
//! - `message-finder/search` needs exactly one of `messageId` and
//!   `advancedTrackAndTraceOptions` (XSOAR's rule), and `start`/`end`; it answers
//!   `data[0].trackedEmails`, newest first, at most [`MESSAGE_FINDER_LIMIT`], with no
//!   pagination (`meta` holds only `status`). The limit is the simulator's: Mimecast
//!   documents none.
//!
//! A tenant whose `missing_permissions` names `Directories | Groups | Read` or
//! `Gateway | Tracking | Read` is answered 403 on those endpoints (server.rs).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::api::{bad_token, cursor, envelope, function_failure, paginate, Answer, ApiRequest, Cursor, Endpoint};
use super::rng::SplitMix64;

/// The most `trackedEmails` one search returns here.
pub const MESSAGE_FINDER_LIMIT: usize = 100;

/// The role permission of the group endpoints.
pub(crate) const GROUPS_PERMISSION: &str = "Directories | Groups | Read";
/// The role permission of Message Finder.
pub(crate) const TRACKING_PERMISSION: &str = "Gateway | Tracking | Read";

/// The groups and tracked messages, indexed for serving.
#[derive(Default)]
pub(crate) struct Directory {
    /// Group records without their `members`.
    groups: Vec<Value>,
    members: HashMap<String, Vec<Value>>,
    /// Tracked messages by lowercased envelope sender, newest first.
    sent_by: HashMap<String, Vec<(i64, Value)>>,
}

impl Directory {
    pub fn new(groups: Vec<Value>, tracked: Vec<Value>) -> Directory {
        let mut dir = Directory::default();
        for mut g in groups {
            let Some(id) = g.get("id").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            let members = match g.as_object_mut().and_then(|o| o.remove("members")) {
                Some(Value::Array(m)) => m,
                _ => Vec::new(),
            };
            dir.members.insert(id, members);
            dir.groups.push(g);
        }
        for m in tracked {
            let Some(from) = sender(&m) else { continue };
            let at = message_time(&m).unwrap_or(0);
            dir.sent_by.entry(from).or_default().push((at, m));
        }
        for list in dir.sent_by.values_mut() {
            list.sort_by_key(|m| std::cmp::Reverse(m.0));
        }
        dir
    }
}

/// The lowercased envelope sender of a tracked message.
pub(crate) fn sender(m: &Value) -> Option<String> {
    m.pointer("/fromEnv/emailAddress")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
}

/// When a tracked message was sent (else received), in seconds since 1970.
pub(crate) fn message_time(m: &Value) -> Option<i64> {
    ["sent", "received"]
        .iter()
        .find_map(|f| m.get(*f).and_then(Value::as_str))
        .and_then(|t| crate::time::parse(t).ok())
        .map(|t| t.timestamp())
}

fn str_of<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
    v?.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// Answers one of the three endpoints.
pub(crate) fn answer(dir: &Directory, endpoint: Endpoint, req: &ApiRequest) -> Answer {
    match endpoint {
        Endpoint::FindGroups => find_groups(dir, req),
        Endpoint::GroupMembers => group_members(dir, req),
        _ => search(dir, req),
    }
}

fn find_groups(dir: &Directory, req: &ApiRequest) -> Answer {
    let from_data = || {
        let source = str_of(req.first(), "source").unwrap_or("").to_ascii_lowercase();
        let query = str_of(req.first(), "query").unwrap_or("").to_ascii_lowercase();
        format!("{source}|{query}")
    };
    let (offset, filter) = match cursor(req, Endpoint::FindGroups, from_data) {
        Cursor::At(o, f) => (o, f),
        Cursor::BadToken => return bad_token(req),
    };
    let (source, query) = filter.split_once('|').unwrap_or((&filter, ""));
    if !matches!(source, "" | "cloud" | "ldap") {
        return function_failure(
            req.first(),
            "err_validation_invalid_value",
            "source must be cloud or ldap",
        );
    }
    let chosen: Vec<&Value> = dir
        .groups
        .iter()
        .filter(|g| source.is_empty() || str_of(Some(g), "source") == Some(source))
        .filter(|g| {
            query.is_empty() || str_of(Some(g), "description").is_some_and(|d| d.to_ascii_lowercase().contains(query))
        })
        .collect();
    let (range, pagination) = paginate(chosen.len(), offset, req.page_size(), Endpoint::FindGroups, &filter);
    let folders: Vec<Value> = chosen[range].iter().map(|g| (*g).clone()).collect();
    let data = json!({"folders": folders, "source": source, "query": query});
    Answer::ok(envelope(200, Some(pagination), vec![data], Vec::new()))
}

fn group_members(dir: &Directory, req: &ApiRequest) -> Answer {
    let (offset, id) = match cursor(req, Endpoint::GroupMembers, || {
        str_of(req.first(), "id").unwrap_or("").to_owned()
    }) {
        Cursor::At(o, id) => (o, id),
        Cursor::BadToken => return bad_token(req),
    };
    if id.is_empty() {
        return function_failure(req.first(), "err_validation_missing", "id is required");
    }
    let Some(members) = dir.members.get(&id) else {
        return function_failure(Some(&json!({"id": id})), "err_folder_not_found", "Group not found");
    };
    let (range, pagination) = paginate(members.len(), offset, req.page_size(), Endpoint::GroupMembers, &id);
    let data = json!({"groupMembers": members[range].to_vec()});
    Answer::ok(envelope(200, Some(pagination), vec![data], Vec::new()))
}

fn search(dir: &Directory, req: &ApiRequest) -> Answer {
    let first = req.first();
    let message_id = str_of(first, "messageId");
    let options = first
        .and_then(|d| d.get("advancedTrackAndTraceOptions"))
        .filter(|o| o.is_object());
    if message_id.is_some() == options.is_some() {
        return function_failure(
            first,
            "err_validation_invalid_request",
            "give either messageId or advancedTrackAndTraceOptions",
        );
    }
    let window = |field: &str| str_of(first, field).map(crate::time::parse);
    let (start, end) = match (window("start"), window("end")) {
        (Some(Ok(s)), Some(Ok(e))) => (s.timestamp(), e.timestamp()),
        _ => {
            return function_failure(
                first,
                "err_validation_invalid_value",
                "start and end are required date-times",
            )
        }
    };
    let tracked: Vec<Value> = match (message_id, options) {
        (Some(id), _) => dir
            .sent_by
            .values()
            .flatten()
            .filter(|(_, m)| m.get("id").and_then(Value::as_str) == Some(id))
            .map(|(_, m)| m.clone())
            .take(MESSAGE_FINDER_LIMIT)
            .collect(),
        (None, Some(o)) => {
            let Some(from) = str_of(Some(o), "from").map(str::to_ascii_lowercase) else {
                return function_failure(first, "err_validation_missing", "from is required here");
            };
            dir.sent_by
                .get(&from)
                .map(|list| {
                    list.iter()
                        .filter(|(at, _)| (start..=end).contains(at))
                        .take(MESSAGE_FINDER_LIMIT)
                        .map(|(_, m)| m.clone())
                        .collect()
                })
                .unwrap_or_default()
        }
        (None, None) => Vec::new(),
    };
    Answer::ok(envelope(200, None, vec![json!({"trackedEmails": tracked})], Vec::new()))
}

/// One generated person as groups and activity see them.
pub(crate) struct Member<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub department: &'a str,
}

/// What [`generate`] makes.
pub(crate) struct Generated {
    pub groups: Vec<Value>,
    pub tracked_emails: Vec<Value>,
}

fn group(id: String, name: &str, source: &str, parent: Option<&str>, members: Vec<Value>) -> Value {
    let mut g = json!({
        "id": id,
        "description": name,
        "source": source,
        "folderCount": 0,
        "userCount": members.len(),
        "members": members,
    });
    if let Some(p) = parent {
        g["parentId"] = Value::String(p.to_owned());
    }
    g
}

fn address(m: &Member<'_>, internal: bool) -> Value {
    let domain = m.email.rsplit_once('@').map_or("", |(_, d)| d);
    json!({"emailAddress": m.email, "domain": domain, "internal": internal, "type": "created_manually", "name": m.name})
}

/// Groups and tracked messages for a generated tenant (`groups` groups in all, the
/// structure first; `activity` tracked messages at most per person).
///
/// Groups: a cloud folder `All Staff` with one child per department (its people); an
/// LDAP folder `Directory Sync` with `VPN Users` (a fifth of the people) and
/// `Contractors` (two outside addresses and a few people); `Mail Domains` whose
/// members are the first internal domain and an outside domain; `Legacy Distribution`
/// whose `userCount` says two more than it holds (the integrity check's case); then
/// `Project N` groups under a `Projects` folder up to `groups`.
///
/// Activity: each person sends 1 to `activity` messages within the 25 days before
/// `until`, except about one in eight that sends none (a dormant mailbox); one in
/// ten of those sent one message long before (90 to 120 days back).
pub(crate) fn generate(
    rng: &mut SplitMix64,
    groups: usize,
    activity: usize,
    until: i64,
    people: &[Member<'_>],
    external: &[Member<'_>],
    domains: &[String],
) -> Generated {
    let mut out = Generated {
        groups: Vec::new(),
        tracked_emails: Vec::new(),
    };
    if groups > 0 {
        let mut id = {
            let mut n = 0u32;
            move |rng: &mut SplitMix64| {
                n += 1;
                format!("eNqrVkrOzytJzSvxzEtVslIqzcnLTc0rUdIB{:06}{:04X}", n, rng.below(0x10000))
            }
        };
        let all = id(rng);
        let mut departments: Vec<&str> = people.iter().map(|p| p.department).collect();
        departments.sort_unstable();
        departments.dedup();
        let mut list = vec![group(all.clone(), "All Staff", "cloud", None, Vec::new())];
        for d in &departments {
            let members = people
                .iter()
                .filter(|p| p.department == *d)
                .map(|p| address(p, true))
                .collect();
            list.push(group(id(rng), d, "cloud", Some(&all), members));
        }
        let sync = id(rng);
        list.push(group(sync.clone(), "Directory Sync", "ldap", None, Vec::new()));
        let vpn = people
            .iter()
            .filter(|_| rng.chance(0.2))
            .map(|p| address(p, true))
            .collect();
        list.push(group(id(rng), "VPN Users", "ldap", Some(&sync), vpn));
        let mut contractors: Vec<Value> = external.iter().take(2).map(|p| address(p, false)).collect();
        contractors.extend(people.iter().take(3).map(|p| address(p, true)));
        list.push(group(id(rng), "Contractors", "ldap", Some(&sync), contractors));
        let mut domain_members = Vec::new();
        if let Some(d) = domains.first() {
            domain_members.push(json!({"domain": d, "internal": true, "type": "created_manually", "name": d}));
        }
        domain_members
            .push(json!({"domain": "partner.example.net", "internal": false, "type": "created_manually", "name": "partner.example.net"}));
        list.push(group(id(rng), "Mail Domains", "cloud", None, domain_members));
        let legacy: Vec<Value> = people.iter().rev().take(4).map(|p| address(p, true)).collect();
        let mut legacy = group(id(rng), "Legacy Distribution", "cloud", None, legacy);
        legacy["userCount"] = json!(legacy["members"].as_array().map_or(0, Vec::len) + 2);
        list.push(legacy);
        if list.len() < groups {
            let projects = id(rng);
            list.push(group(projects.clone(), "Projects", "cloud", None, Vec::new()));
            let mut n = 0;
            while list.len() < groups && !people.is_empty() {
                n += 1;
                let size = rng.range(5, 31) as usize;
                let members = (0..size)
                    .map(|_| address(&people[rng.below(people.len() as u64) as usize], true))
                    .collect::<Vec<_>>();
                let mut seen = std::collections::HashSet::new();
                let members: Vec<Value> = members
                    .into_iter()
                    .filter(|m| seen.insert(m["emailAddress"].as_str().unwrap_or("").to_owned()))
                    .collect();
                list.push(group(
                    id(rng),
                    &format!("Project {n}"),
                    "cloud",
                    Some(&projects),
                    members,
                ));
            }
        }
        // Each folder's folderCount is its number of children.
        let mut children: HashMap<String, usize> = HashMap::new();
        for g in &list {
            if let Some(p) = g.get("parentId").and_then(Value::as_str) {
                *children.entry(p.to_owned()).or_insert(0) += 1;
            }
        }
        for g in &mut list {
            let n = g["id"].as_str().and_then(|i| children.get(i)).copied().unwrap_or(0);
            g["folderCount"] = json!(n);
        }
        out.groups = list;
    }
    if activity > 0 {
        let mut n = 0u64;
        for p in people {
            let dormant = rng.chance(0.125);
            let count = if dormant {
                usize::from(rng.chance(0.1))
            } else {
                rng.range(1, activity as u64 + 1) as usize
            };
            for _ in 0..count {
                n += 1;
                let back = if dormant {
                    rng.range(90 * 86_400, 120 * 86_400)
                } else {
                    rng.below(25 * 86_400)
                };
                let at = crate::time::iso(chrono::DateTime::from_timestamp(until - back as i64, 0).unwrap_or_default());
                let at = at.replace('Z', "+0000");
                let to = &people[rng.below(people.len() as u64) as usize];
                out.tracked_emails.push(json!({
                    "id": format!("sim-msg-{n:08}"),
                    "status": "archived",
                    "info": "Delivered",
                    "fromEnv": {"emailAddress": p.email},
                    "fromHdr": {"displayableName": p.name, "emailAddress": p.email},
                    "to": [{"displayableName": to.name, "emailAddress": to.email}],
                    "received": at,
                    "sent": at,
                    "subject": format!("Update {n}"),
                    "senderIP": "10.0.0.1",
                    "attachments": false,
                    "route": "internal",
                    "spamScore": 0,
                    "detectionLevel": "relaxed",
                }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
