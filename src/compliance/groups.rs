//! Training requirements by Mimecast directory group: `group_requirements` keys
//! written `mimecast:<group name>` (case-insensitive) apply to the members of that
//! group and of every group nested under it (a member of `Nurses`, a child of
//! `Clinical Staff`, is in `Clinical Staff`), and to the users of a domain that is a
//! member. A user gets the union over its groups; a roster person gets the union
//! of its roster group's and its users' requirements.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::graph::{Element as _, Value};
use crate::schema::{rels, types};
use crate::steps::{StepContext, StepError, StepFuture};

/// The prefix that names a Mimecast group in `group_requirements`.
pub const MIMECAST_PREFIX: &str = "mimecast:";

/// The `mimecast:` entries of `group_requirements`: lowercased group name to categories.
pub fn mimecast_requirements(group_requirements: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, Vec<String>> {
    group_requirements
        .iter()
        .filter_map(|(k, v)| {
            let name = k.trim().get(..MIMECAST_PREFIX.len())?;
            name.eq_ignore_ascii_case(MIMECAST_PREFIX)
                .then(|| (k.trim()[MIMECAST_PREFIX.len()..].trim().to_lowercase(), v.clone()))
        })
        .collect()
}

/// A user's requirements through its groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Required {
    pub categories: BTreeSet<String>,
    /// The names of the groups that required something.
    pub groups: BTreeSet<String>,
}

/// The groups of the tenant as requirements see them.
pub struct Groups<'a> {
    /// Group key to (name, parent key).
    pub groups: HashMap<String, (String, Option<String>)>,
    pub user_members: &'a [(String, String)],
    pub domain_members: &'a [(String, String)],
    /// `(domain, user)` of `mimecast_domain_has_user`.
    pub domain_users: &'a [(String, String)],
}

impl Groups<'_> {
    /// The group and every group it is nested under (a cycle ends the walk).
    fn with_ancestors<'s>(&'s self, group: &'s str) -> Vec<&'s str> {
        let mut out: Vec<&str> = Vec::new();
        let mut at = Some(group);
        while let Some(g) = at {
            if out.contains(&g) {
                break;
            }
            out.push(g);
            at = self.groups.get(g).and_then(|(_, p)| p.as_deref());
        }
        out
    }

    /// Each user's requirements (users with none are left out).
    pub fn required(&self, requirements: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, Required> {
        let mut users_of_domain: HashMap<&str, Vec<&str>> = HashMap::new();
        for (d, u) in self.domain_users {
            users_of_domain.entry(d).or_default().push(u);
        }
        let memberships =
            self.user_members
                .iter()
                .map(|(u, g)| (u.as_str(), g.as_str()))
                .chain(self.domain_members.iter().flat_map(|(d, g)| {
                    users_of_domain
                        .get(d.as_str())
                        .into_iter()
                        .flatten()
                        .map(move |u| (*u, g.as_str()))
                }));
        let mut out: BTreeMap<String, Required> = BTreeMap::new();
        for (user, group) in memberships {
            for g in self.with_ancestors(group) {
                let Some((name, _)) = self.groups.get(g) else { continue };
                if let Some(categories) = requirements.get(&name.to_lowercase()) {
                    let r = out.entry(user.to_owned()).or_default();
                    r.categories.extend(categories.iter().cloned());
                    r.groups.insert(name.clone());
                }
            }
        }
        out
    }
}

pub const BUILD_GROUP_REQUIREMENTS: &str = "build-group-requirements";

fn list(set: &BTreeSet<String>) -> Option<Value> {
    Some(Value::StrList(set.iter().cloned().collect()))
}

/// Sets `requiredCategories` and `requiredByGroups` on the users the `mimecast:`
/// requirements reach, and adds them to the roster people matched to those users.
pub(super) fn build_group_requirements(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let requirements = mimecast_requirements(&ctx.connection.compliance.group_requirements);
        if requirements.is_empty() {
            return Err(StepError::Disabled(
                "no group_requirements name a Mimecast group (\"mimecast:<name>\")".into(),
            ));
        }
        if ctx.tenant.groups_refused() {
            // Without the groups the requirements cannot be known: users and people
            // keep the ones stored (partial types are merged, never stripped).
            for t in [types::USER, types::PERSON] {
                ctx.mark_partial(
                    t,
                    format!("{t} keeps its stored Mimecast-group requirements: the group endpoints were refused"),
                );
            }
            return Err(StepError::Unavailable(
                "the directory group endpoints were refused, so Mimecast-group requirements are unknown".into(),
            ));
        }
        let groups: HashMap<String, (String, Option<String>)> = ctx
            .entities_of_type(types::GROUP)
            .into_iter()
            .map(|g| (g.key.clone(), g.str("name").unwrap_or_default().to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(k, n)| (k, (n, None)))
            .collect();
        let mut groups = groups;
        for (child, parent) in ctx.links_of_type(rels::GROUP_CHILD_OF_GROUP) {
            if let Some(g) = groups.get_mut(&child) {
                g.1 = Some(parent);
            }
        }
        let names: BTreeSet<String> = groups.values().map(|(n, _)| n.to_lowercase()).collect();
        let unknown: Vec<&str> = requirements
            .keys()
            .map(String::as_str)
            .filter(|n| !names.contains(*n))
            .collect();
        if !unknown.is_empty() {
            ctx.note(format!(
                "group_requirements name Mimecast groups the tenant does not list: {}",
                unknown.join(", ")
            ));
        }
        let user_members = ctx.links_of_type(rels::USER_MEMBER_OF_GROUP);
        let domain_members = ctx.links_of_type(rels::DOMAIN_MEMBER_OF_GROUP);
        let domain_users = ctx.links_of_type(rels::DOMAIN_HAS_USER);
        let required = Groups {
            groups,
            user_members: &user_members,
            domain_members: &domain_members,
            domain_users: &domain_users,
        }
        .required(&requirements);
        for (user, r) in &required {
            ctx.update_entity(user, |u| {
                u.set("requiredCategories", list(&r.categories))
                    .set("requiredByGroups", list(&r.groups));
            });
        }
        let mut people = 0;
        let mut by_person: BTreeMap<String, Required> = BTreeMap::new();
        for (person, user) in ctx.links_of_type(rels::PERSON_IS_USER) {
            if let Some(r) = required.get(&user) {
                let p = by_person.entry(person).or_default();
                p.categories.extend(r.categories.iter().cloned());
                p.groups.extend(r.groups.iter().cloned());
            }
        }
        for (person, r) in by_person {
            people += 1;
            ctx.update_entity(&person, |p| {
                let mut all: BTreeSet<String> = match p.get("requiredCategories") {
                    Some(Value::StrList(v)) => v.iter().cloned().collect(),
                    _ => BTreeSet::new(),
                };
                all.extend(r.categories);
                p.set("requiredCategories", list(&all))
                    .set("requiredByGroups", list(&r.groups));
            });
        }
        ctx.note(format!(
            "Mimecast group requirements reach {} users ({people} roster people among them)",
            required.len()
        ));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    #[test]
    fn nested_groups_and_domain_members_reach_their_users() {
        let reqs: BTreeMap<String, Vec<String>> = [
            ("mimecast:Clinical Staff".to_owned(), vec!["hipaa".to_owned()]),
            (
                "MIMECAST: nurses".to_owned(),
                vec!["general".to_owned(), "hipaa".to_owned()],
            ),
            ("engineering".to_owned(), vec!["secure-code".to_owned()]),
        ]
        .into();
        let reqs = mimecast_requirements(&reqs);
        assert_eq!(reqs.keys().collect::<Vec<_>>(), ["clinical staff", "nurses"]);
        let groups: HashMap<String, (String, Option<String>)> = [
            ("g:clinical".to_owned(), ("Clinical Staff".to_owned(), None)),
            (
                "g:nurses".to_owned(),
                ("Nurses".to_owned(), Some("g:clinical".to_owned())),
            ),
            (
                "g:all".to_owned(),
                ("Whole Domain".to_owned(), Some("g:clinical".to_owned())),
            ),
        ]
        .into();
        let user_members = [s("u:ann", "g:nurses"), s("u:bob", "g:clinical")];
        let domain_members = [s("d:x", "g:all")];
        let domain_users = [s("d:x", "u:cy"), s("d:y", "u:dee")];
        let got = Groups {
            groups,
            user_members: &user_members,
            domain_members: &domain_members,
            domain_users: &domain_users,
        }
        .required(&reqs);
        let show: Vec<(String, Vec<String>, Vec<String>)> = got
            .into_iter()
            .map(|(u, r)| (u, r.categories.into_iter().collect(), r.groups.into_iter().collect()))
            .collect();
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            show,
            vec![
                (
                    "u:ann".to_owned(),
                    v(&["general", "hipaa"]),
                    v(&["Clinical Staff", "Nurses"])
                ),
                ("u:bob".to_owned(), v(&["hipaa"]), v(&["Clinical Staff"])),
                ("u:cy".to_owned(), v(&["hipaa"]), v(&["Clinical Staff"])),
            ]
        );
    }
}
