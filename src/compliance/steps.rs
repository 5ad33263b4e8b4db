//! The compliance steps: they read configuration (the campaign mapping, the roster)
//! and join it to what the Mimecast steps fetched.

use crate::graph::Element as _;
use std::collections::BTreeSet;

use anyhow::Context as _;

use super::groups::{build_group_requirements, BUILD_GROUP_REQUIREMENTS};
use super::{campaign_categories, completions, covers, match_people, roster, training_category, UserRef};
use crate::graph::Value;
use crate::schema::{rels, types};
use crate::steps::{
    Step, StepContext, StepError, StepFuture, StepSpec, FETCH_AWARENESS_CAMPAIGNS, FETCH_GROUP_MEMBERS, FETCH_USERS,
};

pub const BUILD_TRAINING_CATEGORIES: &str = "build-training-categories";
pub const BUILD_PERSONNEL: &str = "build-personnel";
pub const BUILD_EXTRA_COMPLETIONS: &str = "build-extra-completions";

/// How many unmatched addresses a note lists.
const NOTE_SAMPLES: usize = 5;

pub fn compliance_steps() -> Vec<Step> {
    vec![
        Step {
            spec: StepSpec {
                id: BUILD_TRAINING_CATEGORIES,
                name: "Map campaigns to training categories",
                depends_on: &[FETCH_AWARENESS_CAMPAIGNS],
                entity_types: &[types::TRAINING_CATEGORY],
                relationship_types: &[rels::CAMPAIGN_COVERS_CATEGORY],
            },
            run: build_training_categories,
        },
        Step {
            spec: StepSpec {
                id: BUILD_PERSONNEL,
                name: "Match the personnel roster to Mimecast users",
                depends_on: &[FETCH_USERS],
                entity_types: &[types::PERSON],
                relationship_types: &[rels::PERSON_IS_USER],
            },
            run: build_personnel,
        },
        Step {
            spec: StepSpec {
                id: BUILD_EXTRA_COMPLETIONS,
                name: "Record trainings done outside Mimecast's global campaigns",
                depends_on: &[BUILD_PERSONNEL, BUILD_TRAINING_CATEGORIES],
                entity_types: &[],
                relationship_types: &[rels::PERSON_COMPLETED_CATEGORY],
            },
            run: build_extra_completions,
        },
        Step {
            spec: StepSpec {
                id: BUILD_GROUP_REQUIREMENTS,
                name: "Apply training requirements of Mimecast groups to their members",
                depends_on: &[FETCH_GROUP_MEMBERS, BUILD_PERSONNEL],
                entity_types: &[],
                relationship_types: &[],
            },
            run: build_group_requirements,
        },
    ]
}

fn build_training_categories(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let code = ctx.account()?.code;
        let c = &ctx.connection.compliance;
        let mut categories: BTreeSet<&str> = BTreeSet::new();
        categories.extend(c.campaign_categories.values().flatten().map(String::as_str));
        categories.extend(c.group_requirements.values().flatten().map(String::as_str));
        if categories.is_empty() {
            return Err(StepError::Disabled(
                "no campaign_categories or group_requirements are configured".into(),
            ));
        }
        for cat in &categories {
            ctx.add_entity(training_category(&code, cat));
        }
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for campaign in ctx.entities_of_type(types::AWARENESS_CAMPAIGN) {
            let id = campaign.str("id").unwrap_or_default().to_owned();
            let name = campaign.str("name").unwrap_or_default().to_owned();
            let mapped = campaign_categories(&c.campaign_categories, &id, &name);
            for key in [id.as_str(), name.as_str()] {
                if let Some((k, _)) = c.campaign_categories.get_key_value(key) {
                    used.insert(k.as_str());
                }
            }
            let list: Vec<String> = mapped.iter().map(|(cat, _)| (*cat).to_owned()).collect();
            for (cat, how) in &mapped {
                ctx.add_relationship(covers(&code, &campaign.key, cat, how));
            }
            ctx.update_entity(&campaign.key, |e| {
                e.set("categories", Some(Value::StrList(list.into())));
            });
        }
        let unused: Vec<&str> = c
            .campaign_categories
            .keys()
            .map(String::as_str)
            .filter(|k| !used.contains(k))
            .collect();
        if !unused.is_empty() {
            ctx.note(format!(
                "campaign_categories entries that match no campaign id or name: {}",
                unused.join(", ")
            ));
        }
        Ok(())
    })
}

fn sample(list: &[String]) -> String {
    let shown: Vec<&str> = list.iter().take(NOTE_SAMPLES).map(String::as_str).collect();
    let more = list.len().saturating_sub(NOTE_SAMPLES);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn build_personnel(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let code = ctx.account()?.code;
        let c = &ctx.connection.compliance;
        let Some(path) = &c.roster else {
            return Err(StepError::Disabled("no roster is configured".into()));
        };
        let path = path.clone();
        let aliases = c.domain_aliases.clone();
        let people = tokio::task::spawn_blocking(move || roster::read(&path, &aliases))
            .await
            .context("reading the roster")?
            .map_err(|e| StepError::Failed(e.into()))?;
        let users: Vec<UserRef> = ctx
            .entities_of_type(types::USER)
            .into_iter()
            .map(|u| UserRef {
                email: u.str("email").unwrap_or_default().to_owned(),
                alias: u.get("alias") == Some(&Value::Bool(true)),
                key: u.key,
            })
            .collect();
        let m = match_people(&code, &people, &users, &c.group_requirements, &c.domain_aliases);
        let unknown_groups: BTreeSet<&str> = people
            .iter()
            .filter_map(|p| p.group.as_deref())
            .filter(|g| super::requirements_of(&c.group_requirements, g).is_none())
            .collect();
        ctx.note(format!(
            "{} of {} roster people matched a Mimecast user",
            people.len() - m.people_without_user.len(),
            people.len()
        ));
        if !m.people_without_user.is_empty() {
            ctx.note(format!(
                "{} roster people have no Mimecast user: {}",
                m.people_without_user.len(),
                sample(&m.people_without_user)
            ));
        }
        if !m.users_without_person.is_empty() {
            ctx.note(format!(
                "{} Mimecast users (aliases excluded) match no roster person: {}",
                m.users_without_person.len(),
                sample(&m.users_without_person)
            ));
        }
        if !unknown_groups.is_empty() {
            ctx.note(format!(
                "roster groups without group_requirements (no required training): {}",
                unknown_groups.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        for p in m.people {
            ctx.add_entity(p);
        }
        for l in m.links {
            ctx.add_relationship(l);
        }
        Ok(())
    })
}

/// `[compliance] extra_completions`: one COMPLETED edge from a roster person to a
/// training category per person and category (the latest completion when the file
/// lists several). Lines naming nobody in the roster, or a category no group
/// requires and no campaign covers, are noted with samples, not linked.
fn build_extra_completions(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let code = ctx.account()?.code;
        let c = &ctx.connection.compliance;
        let Some(path) = c.extra_completions.clone() else {
            return Err(StepError::Disabled("no extra_completions file is configured".into()));
        };
        let aliases = c.domain_aliases.clone();
        let rows = tokio::task::spawn_blocking(move || completions::read(&path, &aliases))
            .await
            .context("reading the extra completions")?
            .map_err(|e| StepError::Failed(e.into()))?;
        let people: std::collections::HashMap<String, String> = ctx
            .entities_of_type(types::PERSON)
            .into_iter()
            .filter_map(|p| Some((p.str("normalizedEmail")?.to_owned(), p.key)))
            .collect();
        let categories: BTreeSet<String> = ctx
            .entities_of_type(types::TRAINING_CATEGORY)
            .into_iter()
            .filter_map(|t| t.str("category").map(str::to_owned))
            .collect();
        let mut latest: std::collections::BTreeMap<(String, String), completions::ExtraCompletion> = Default::default();
        let (mut nobody, mut unused, mut unused_rows) = (Vec::new(), BTreeSet::new(), 0);
        let total = rows.len();
        for row in rows {
            let Some(person) = people.get(&row.normalized_email) else {
                nobody.push(row.email.clone());
                continue;
            };
            if !categories.contains(&row.category) {
                unused.insert(row.category.clone());
                unused_rows += 1;
                continue;
            }
            let kept = latest
                .entry((person.clone(), row.category.clone()))
                .or_insert_with(|| row.clone());
            if row.completed_on > kept.completed_on {
                *kept = row;
            }
        }
        ctx.note(format!(
            "{} of {total} extra completions recorded ({} person and category pairs)",
            total - nobody.len() - unused_rows,
            latest.len()
        ));
        if !nobody.is_empty() {
            ctx.note(format!(
                "{} extra completions name no roster person: {}",
                nobody.len(),
                sample(&nobody)
            ));
        }
        if !unused.is_empty() {
            ctx.note(format!(
                "extra completions of categories no group requires and no campaign covers (not recorded): {}",
                unused.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        for ((person, category), row) in latest {
            ctx.add_relationship(super::completed_elsewhere(&code, &person, &category, &row));
        }
        Ok(())
    })
}
