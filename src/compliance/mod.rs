//! Compliance context that does not come from Mimecast: training categories mapped
//! from campaigns, and people from the personnel roster matched to Mimecast users.
//!
//! Matching is by normalized email: case-insensitive, `+tag` removed, configured
//! domain aliases applied (`acme.co.uk` = `acme.com`); a person whose roster address
//! is a Mimecast alias address matches that address. Vanta matches exact emails only;
//! here what does not match is reported both ways.

pub mod completions;
pub mod groups;
pub mod roster;
mod steps;

use crate::graph::Element as _;
use std::collections::{BTreeMap, BTreeSet};

use crate::graph::{Entity, Relationship, Value};
use crate::schema::keys;
use crate::schema::{rels, types};

pub use roster::{RosterError, RosterPerson};
pub use steps::{compliance_steps, BUILD_PERSONNEL, BUILD_TRAINING_CATEGORIES};

/// Lowercased, trimmed, `+tag` removed from the local part, alias domain replaced by
/// its primary.
pub fn normalize_email(email: &str, domain_aliases: &BTreeMap<String, String>) -> String {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email;
    };
    let local = local.split('+').next().unwrap_or(local);
    let domain = domain_aliases
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(domain))
        .map_or(domain.to_owned(), |(_, primary)| primary.to_lowercase());
    format!("{local}@{domain}")
}

/// The required categories of a roster group; group names match case-insensitively
/// (an HR export's `Clinical` is the configured `clinical`).
pub fn requirements_of<'a>(
    group_requirements: &'a BTreeMap<String, Vec<String>>,
    group: &str,
) -> Option<&'a Vec<String>> {
    group_requirements
        .iter()
        .find(|(g, _)| g.trim().eq_ignore_ascii_case(group.trim()))
        .map(|(_, required)| required)
}

/// How a person was matched to a user.
fn matched_by(person: &RosterPerson, user_email: &str, user_is_alias: bool) -> &'static str {
    if user_is_alias {
        "mimecast_alias"
    } else if person.email.trim().eq_ignore_ascii_case(user_email) {
        "email"
    } else {
        "normalized_email"
    }
}

/// A user as matching sees it.
#[derive(Clone, Debug)]
pub struct UserRef {
    pub key: String,
    pub email: String,
    pub alias: bool,
}

/// The match of a roster against one tenant's users.
#[derive(Debug, Default)]
pub struct Matching {
    pub people: Vec<Entity>,
    pub links: Vec<Relationship>,
    /// Roster people with no Mimecast user (roster email).
    pub people_without_user: Vec<String>,
    /// Mimecast users (not aliases) that no roster person matched.
    pub users_without_person: Vec<String>,
}

/// Builds Person entities and `(Person)-[:IS]->(MimecastUser)` relationships.
pub fn match_people(
    account_code: &str,
    people: &[RosterPerson],
    users: &[UserRef],
    group_requirements: &BTreeMap<String, Vec<String>>,
    domain_aliases: &BTreeMap<String, String>,
) -> Matching {
    let mut by_normalized: BTreeMap<String, Vec<&UserRef>> = BTreeMap::new();
    for u in users {
        by_normalized
            .entry(normalize_email(&u.email, domain_aliases))
            .or_default()
            .push(u);
    }
    let mut matched_users: BTreeSet<&str> = BTreeSet::new();
    let mut out = Matching::default();
    for p in people {
        let key = keys::person(account_code, &p.normalized_email);
        let mut e = Entity::new(&key, types::PERSON, "Person")
            .with("accountCode", account_code)
            .with("displayName", p.name.as_str())
            .with("name", p.name.as_str())
            .with("email", p.email.as_str())
            .with("normalizedEmail", p.normalized_email.as_str())
            .with("status", p.status.as_str())
            .with("active", p.active)
            .with("rosterLine", p.line as i64);
        e.set("group", p.group.clone().map(Value::from));
        let mut required: Vec<String> = p
            .group
            .as_deref()
            .and_then(|g| requirements_of(group_requirements, g))
            .cloned()
            .unwrap_or_default();
        required.sort();
        required.dedup();
        e.set("requiredCategories", Some(Value::StrList(required.into())));
        for (k, v) in &p.extra {
            e.set(k, Some(Value::from(v.as_str())));
        }
        out.people.push(e);
        match by_normalized.get(&p.normalized_email) {
            Some(matches) => {
                for u in matches {
                    matched_users.insert(&u.key);
                    out.links.push(
                        Relationship::new(rels::PERSON_IS_USER, "IS", &key, &u.key)
                            .with("accountCode", account_code)
                            .with("matchedBy", matched_by(p, &u.email, u.alias)),
                    );
                }
            }
            None => out.people_without_user.push(p.email.clone()),
        }
    }
    out.users_without_person = users
        .iter()
        .filter(|u| !u.alias && !matched_users.contains(u.key.as_str()))
        .map(|u| u.email.clone())
        .collect();
    out
}

/// A training category node of one account.
pub fn training_category(account_code: &str, category: &str) -> Entity {
    Entity::new(
        keys::training_category(account_code, category),
        types::TRAINING_CATEGORY,
        "Requirement",
    )
    .with("accountCode", account_code)
    .with("displayName", category)
    .with("name", category)
    .with("category", category)
}

pub fn covers(account_code: &str, campaign_key: &str, category: &str, mapped_by: &str) -> Relationship {
    Relationship::new(
        rels::CAMPAIGN_COVERS_CATEGORY,
        "COVERS",
        campaign_key,
        &keys::training_category(account_code, category),
    )
    .with("accountCode", account_code)
    .with("mappedBy", mapped_by)
}

/// A training done outside Mimecast's global campaigns, from `extra_completions`.
pub fn completed_elsewhere(
    account_code: &str,
    person_key: &str,
    category: &str,
    row: &completions::ExtraCompletion,
) -> Relationship {
    Relationship::new(
        rels::PERSON_COMPLETED_CATEGORY,
        "COMPLETED",
        person_key,
        &keys::training_category(account_code, category),
    )
    .with("accountCode", account_code)
    .with("completedOn", row.completed_on.as_str())
    .with("source", row.source.as_str())
    .with("sourceLine", row.line as i64)
}

/// The categories a campaign covers by the mapping (`id` first, then exact `name`),
/// with how each was found.
pub fn campaign_categories<'a>(
    mapping: &'a BTreeMap<String, Vec<String>>,
    id: &str,
    name: &str,
) -> Vec<(&'a str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (key, how) in [(id, "id"), (name, "name")] {
        if let Some(cats) = mapping.get(key) {
            for c in cats {
                if !out.iter().any(|(x, _)| x == c) {
                    out.push((c.as_str(), how));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases() -> BTreeMap<String, String> {
        BTreeMap::from([("acme.co.uk".to_owned(), "acme.com".to_owned())])
    }

    fn person(email: &str, active: bool, group: Option<&str>, line: u64) -> RosterPerson {
        RosterPerson {
            email: email.into(),
            normalized_email: normalize_email(email, &aliases()),
            name: email.split('@').next().unwrap().into(),
            active,
            status: if active { "active" } else { "terminated" }.into(),
            group: group.map(str::to_owned),
            line,
            extra: BTreeMap::new(),
        }
    }

    fn user(email: &str, alias: bool) -> UserRef {
        UserRef {
            key: keys::user("C1", email),
            email: email.to_lowercase(),
            alias,
        }
    }

    #[test]
    fn normalization() {
        assert_eq!(
            normalize_email(" Ann.Lee+Phish@ACME.co.uk ", &aliases()),
            "ann.lee@acme.com"
        );
        assert_eq!(normalize_email("bob@other.org", &aliases()), "bob@other.org");
        assert_eq!(normalize_email("no-at-sign", &aliases()), "no-at-sign");
    }

    #[test]
    fn matching_reports_both_directions() {
        let people = vec![
            person("Ann.Lee@acme.com", true, Some("clinical"), 2),
            person("bob+test@acme.co.uk", true, None, 3),
            person("carol@acme.com", false, Some("Clinical"), 4),
            person("dave@acme.com", true, Some("engineering"), 5),
            person("info@acme.com", true, None, 6),
        ];
        let users = vec![
            user("ann.lee@acme.com", false),
            user("bob@acme.com", false),
            user("carol@acme.com", false),
            user("info@acme.com", true),
            user("erin@acme.com", false),
        ];
        let requirements = BTreeMap::from([("clinical".to_owned(), vec!["hipaa".to_owned(), "general".to_owned()])]);
        let m = match_people("C1", &people, &users, &requirements, &aliases());
        let links: Vec<(String, String, String)> = m
            .links
            .iter()
            .map(|r| {
                (
                    r.from_key().to_owned(),
                    r.to_key().to_owned(),
                    r.get("matchedBy").unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            links,
            vec![
                (
                    "person:C1:ann.lee@acme.com".into(),
                    "mimecast_user:C1:ann.lee@acme.com".into(),
                    "email".into()
                ),
                (
                    "person:C1:bob@acme.com".into(),
                    "mimecast_user:C1:bob@acme.com".into(),
                    "normalized_email".into()
                ),
                (
                    "person:C1:carol@acme.com".into(),
                    "mimecast_user:C1:carol@acme.com".into(),
                    "email".into()
                ),
                (
                    "person:C1:info@acme.com".into(),
                    "mimecast_user:C1:info@acme.com".into(),
                    "mimecast_alias".into()
                ),
            ]
        );
        assert_eq!(m.people_without_user, vec!["dave@acme.com"]);
        assert_eq!(m.users_without_person, vec!["erin@acme.com"]);
        assert_eq!(
            m.people[0].get("requiredCategories"),
            Some(&Value::StrList(["general".into(), "hipaa".into()].into()))
        );
        assert_eq!(m.people[1].get("requiredCategories"), Some(&Value::StrList([].into())));
        // Group names match case-insensitively.
        assert_eq!(
            m.people[2].get("requiredCategories"),
            Some(&Value::StrList(["general".into(), "hipaa".into()].into()))
        );
    }

    #[test]
    fn mapping_by_id_then_name_without_repeats() {
        let mapping = BTreeMap::from([
            ("eNo1".to_owned(), vec!["hipaa".to_owned()]),
            ("HIPAA 101".to_owned(), vec!["hipaa".to_owned(), "general".to_owned()]),
        ]);
        assert_eq!(
            campaign_categories(&mapping, "eNo1", "HIPAA 101"),
            vec![("hipaa", "id"), ("general", "name")]
        );
        assert!(campaign_categories(&mapping, "x", "y").is_empty());
    }
}
