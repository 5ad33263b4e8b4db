//! The steps that read the tenant: account, domains, users (with SAFE score,
//! performance and watchlist enrichment), training campaigns and enrollments,
//! phishing campaigns with per-user results.

use crate::graph::Element as _;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::stream::{self, StreamExt};

use super::{failed, on_worker, AccountInfo, Step, StepContext, StepError, StepFuture, StepSpec, StepStatus};
use crate::converters::{self as conv, keys};
use crate::mimecast::{all, ApiError};
use crate::schema::{rels, types};

pub const FETCH_ACCOUNT: &str = "fetch-account";
pub const FETCH_DOMAINS: &str = "fetch-domains";
pub const FETCH_USERS: &str = "fetch-users";
pub const FETCH_AWARENESS_CAMPAIGNS: &str = "fetch-awareness-campaigns";
pub const FETCH_ENROLLMENTS: &str = "fetch-awareness-campaign-enrollments";
pub const FETCH_PHISHING: &str = "fetch-phishing-campaigns";
pub const DERIVE_RETRAINING: &str = "derive-phishing-retraining";

/// How many domains or campaigns are fetched at once (the client's own limit still
/// caps the HTTP requests).
const FAN_OUT: usize = 4;

/// The steps that read Mimecast, in declaration order.
pub fn mimecast_steps() -> Vec<Step> {
    vec![
        Step {
            spec: StepSpec {
                id: FETCH_ACCOUNT,
                name: "Fetch the account",
                depends_on: &[],
                entity_types: &[types::ACCOUNT],
                relationship_types: &[],
            },
            run: fetch_account,
        },
        Step {
            spec: StepSpec {
                id: FETCH_DOMAINS,
                name: "Fetch internal domains",
                depends_on: &[FETCH_ACCOUNT],
                entity_types: &[types::DOMAIN],
                relationship_types: &[rels::ACCOUNT_HAS_DOMAIN],
            },
            run: fetch_domains,
        },
        Step {
            spec: StepSpec {
                id: FETCH_USERS,
                name: "Fetch internal users with SAFE score, performance and watchlist data",
                depends_on: &[FETCH_DOMAINS],
                entity_types: &[types::USER],
                relationship_types: &[rels::DOMAIN_HAS_USER],
            },
            run: fetch_users,
        },
        Step {
            spec: StepSpec {
                id: FETCH_AWARENESS_CAMPAIGNS,
                name: "Fetch Awareness Training campaigns",
                depends_on: &[FETCH_ACCOUNT],
                entity_types: &[types::AWARENESS_CAMPAIGN],
                relationship_types: &[rels::ACCOUNT_HAS_AWARENESS_CAMPAIGN],
            },
            run: fetch_awareness_campaigns,
        },
        Step {
            spec: StepSpec {
                id: FETCH_ENROLLMENTS,
                name: "Fetch who is enrolled in and has completed each training campaign",
                depends_on: &[FETCH_AWARENESS_CAMPAIGNS, FETCH_USERS],
                entity_types: &[],
                relationship_types: &[rels::USER_ASSIGNED_AWARENESS, rels::USER_COMPLETED_AWARENESS],
            },
            run: fetch_enrollments,
        },
        Step {
            spec: StepSpec {
                id: FETCH_PHISHING,
                name: "Fetch phishing campaigns and per-user results",
                depends_on: &[FETCH_USERS],
                entity_types: &[types::PHISHING_CAMPAIGN],
                relationship_types: &[rels::ACCOUNT_HAS_PHISHING_CAMPAIGN, rels::USER_ASSIGNED_PHISHING],
            },
            run: fetch_phishing,
        },
        Step {
            spec: StepSpec {
                id: DERIVE_RETRAINING,
                name: "Mark the phishing failures no later training has followed",
                depends_on: &[FETCH_ENROLLMENTS, FETCH_PHISHING],
                // Sets `awaitingRetraining` on the phishing step's relationships: a
                // property, not a type of its own.
                entity_types: &[],
                relationship_types: &[],
            },
            run: derive_retraining,
        },
    ]
}

fn fetch_account(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let account = ctx
            .client
            .get_account()
            .await
            .map_err(|e| StepError::Failed(e.into()))?;
        ctx.set_account(AccountInfo {
            code: account.account_code.clone(),
            awareness_training_licensed: account.has_awareness_training(),
        });
        ctx.add_entity(conv::account(&account, &ctx.connection.name));
        Ok(())
    })
}

fn fetch_domains(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let code = ctx.account()?.code;
        let domains = ctx
            .client
            .get_internal_domains()
            .await
            .map_err(|e| StepError::Failed(e.into()))?;
        for d in &domains {
            let e = conv::domain(&code, d);
            ctx.add_relationship(conv::account_has_domain(&code, &e.key));
            ctx.add_entity(e);
        }
        Ok(())
    })
}

fn fetch_users(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let code = ctx.account()?.code;
        let domains: Vec<String> = ctx
            .entities_of_type(types::DOMAIN)
            .into_iter()
            .filter_map(|d| d.str("domain").map(str::to_owned))
            .collect();
        // Each domain's users are converted as they arrive (as enrollments are).
        let mut fetched = stream::iter(domains)
            .map(|domain| async move {
                let users: Result<Vec<_>, ApiError> = all(ctx.client.internal_users(&domain)).await;
                (domain, users)
            })
            .buffer_unordered(FAN_OUT);
        let mut errors = Vec::new();
        while let Some((domain, result)) = fetched.next().await {
            match result {
                Ok(users) => {
                    let domain_key = keys::domain(&code, &domain);
                    for u in &users {
                        let e = conv::user(&code, u);
                        ctx.add_relationship(conv::domain_has_user(&code, &domain_key, &e.key));
                        ctx.add_entity(e);
                    }
                }
                Err(e) => errors.push(format!("users of {domain}: {e}")),
            }
        }
        let enrichment = enrich_users(ctx, &code).await;
        if !errors.is_empty() {
            return Err(failed("some domains' users could not be fetched", errors));
        }
        enrichment
    })
}

/// SAFE score, performance and watchlist data onto the users. An endpoint the
/// tenant does not offer is a note; any other failure fails the step, after all
/// three have been tried.
async fn enrich_users(ctx: &StepContext, code: &str) -> Result<(), StepError> {
    match ctx.awareness_training_gate() {
        Ok(()) => {}
        Err(StepError::Failed(e)) => return Err(StepError::Failed(e)),
        Err(skip) => {
            ctx.note(format!("no SAFE score, performance or watchlist enrichment: {skip}"));
            return Ok(());
        }
    }
    let (safe, performance, watchlist) = tokio::join!(
        all(ctx.client.safe_score_details()),
        all(ctx.client.performance_details()),
        all(ctx.client.watchlist_details())
    );
    let mut errors = Vec::new();
    // A refused enrichment endpoint keeps the users' stored scores (merge, no cleanup)
    // and makes the run partial: a lost permission must not look like clean data.
    let mut outcome = |what: &str, r: Result<(), ApiError>| match r {
        Ok(()) => {}
        Err(e) => match ctx.awareness_error(e) {
            StepError::Unavailable(why) => ctx.mark_partial(
                types::USER,
                format!("{what} unavailable, users keep their stored values: {why}"),
            ),
            other => errors.push(format!("{what}: {other}")),
        },
    };
    outcome(
        "SAFE scores",
        safe.map(|rows| {
            for s in &rows {
                let key = keys::user(code, &s.email_address);
                if !ctx.update_entity(&key, |u| conv::apply_safe_score(u, s)) {
                    ctx.unknown_participant(
                        types::USER,
                        format!("{} (SAFE score)", conv::email_key(&s.email_address)),
                    );
                }
            }
        }),
    );
    outcome(
        "performance details",
        performance.map(|rows| {
            for p in &rows {
                let key = keys::user(code, &p.email);
                if !ctx.update_entity(&key, |u| conv::apply_performance(u, p)) {
                    ctx.unknown_participant(types::USER, format!("{} (performance)", conv::email_key(&p.email)));
                }
            }
        }),
    );
    outcome(
        "watchlist details",
        watchlist.map(|rows| {
            for w in &rows {
                let key = keys::user(code, &w.email);
                if !ctx.update_entity(&key, |u| conv::apply_watchlist(u, w)) {
                    ctx.unknown_participant(types::USER, format!("{} (watchlist)", conv::email_key(&w.email)));
                }
            }
        }),
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(failed("user enrichment failed", errors))
    }
}

fn fetch_awareness_campaigns(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        ctx.awareness_training_gate()?;
        let code = ctx.account()?.code;
        let campaigns = ctx
            .client
            .get_training_campaigns()
            .await
            .map_err(|e| ctx.awareness_error(e))?;
        for c in &campaigns {
            let e = conv::awareness_campaign(&code, c);
            ctx.add_relationship(conv::account_has_awareness_campaign(&code, &e.key));
            ctx.add_entity(e);
        }
        Ok(())
    })
}

/// (id, key, display name) of the campaigns of one type already in the graph.
fn campaigns(ctx: &StepContext, entity_type: &str) -> Vec<(String, String, String)> {
    ctx.entities_of_type(entity_type)
        .into_iter()
        .filter_map(|e| {
            let id = e.str("id")?.to_owned();
            let name = e.str("name").unwrap_or(&id).to_owned();
            Some((id, e.key, name))
        })
        .collect()
}

fn fetch_enrollments(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        ctx.awareness_training_gate()?;
        let code = ctx.account()?.code;
        let users: Arc<HashSet<String>> = Arc::new(ctx.keys_of_type(types::USER));
        // Each campaign's rows are fetched and converted by a task of its own, and
        // dropped: at most FAN_OUT campaigns' rows are held at once, not the whole
        // tenant's.
        let mut fetched = stream::iter(campaigns(ctx, types::AWARENESS_CAMPAIGN))
            .map(|(id, key, name)| {
                let (client, code, users) = (ctx.client.clone(), code.clone(), Arc::clone(&users));
                on_worker(async move {
                    let rows = all(client.training_campaign_user_data(&id)).await;
                    let out = rows.map(|rows| conv::enrollments(&code, &key, &rows, |k| users.contains(k)));
                    (name, out)
                })
            })
            .buffer_unordered(FAN_OUT);
        let mut errors = Vec::new();
        let mut unavailable = None;
        let mut fetched_any = false;
        while let Some((name, out)) = fetched.next().await {
            match out {
                Ok(out) => {
                    fetched_any = true;
                    for email in out.unknown {
                        ctx.unknown_participant(
                            rels::USER_ASSIGNED_AWARENESS,
                            format!("{email} in training campaign {name:?}"),
                        );
                    }
                    if out.merged > 0 {
                        ctx.note(format!("{} repeated addresses merged in {name:?}", out.merged));
                    }
                    ctx.add_relationships(out.relationships);
                }
                Err(e) => match ctx.awareness_error(e) {
                    StepError::Unavailable(why) => unavailable = Some(why),
                    other => errors.push(format!("{name:?}: {other}")),
                },
            }
        }
        // Some campaigns' rows missing: the users keep their stored counts (merge,
        // no cleanup) rather than show fewer open assignments than there are.
        let keep = || {
            ctx.mark_partial(
                types::USER,
                "users keep their stored training assignment counts: some enrollments are missing".into(),
            );
        };
        if !errors.is_empty() {
            keep();
            return Err(failed("enrollments of some campaigns could not be fetched", errors));
        }
        if let Some(why) = unavailable {
            // Refused for every campaign, the endpoint is not offered (API 1.0 only,
            // on an API 2.0 tenant): no counts, and the users stay complete, as in a
            // tenant without Awareness Training. Refused for some, data is missing.
            if fetched_any {
                keep();
            }
            return Err(StepError::Unavailable(why));
        }
        match ctx.status_of(FETCH_AWARENESS_CAMPAIGNS) {
            Some(StepStatus::Success) => summarize_assignments(ctx, &users),
            Some(StepStatus::Failed) => keep(),
            // Not offered or turned off: no campaigns, no counts.
            _ => {}
        }
        Ok(())
    })
}

/// `conv::apply_assignments` on every user, from the campaigns' `[:ASSIGNED]`. Held
/// while the whole graph is: per user, the shared key and the open campaigns'
/// indices, not their names.
fn summarize_assignments(ctx: &StepContext, users: &HashSet<String>) {
    let campaigns: Vec<(String, Option<String>, String)> =
        ctx.with_entities_of_types(&[types::AWARENESS_CAMPAIGN], |campaigns| {
            campaigns
                .iter()
                .map(|c| {
                    let name = c.str("name").unwrap_or(&c.key).to_owned();
                    (c.key.clone(), c.str("launchDate").map(str::to_owned), name)
                })
                .collect()
        });
    let index: HashMap<&str, u32> = campaigns
        .iter()
        .zip(0..)
        .map(|((key, ..), i)| (key.as_str(), i))
        .collect();
    let mut per_user: HashMap<Arc<str>, (i64, Vec<u32>)> = HashMap::new();
    ctx.for_each_relationship_of_type(rels::USER_ASSIGNED_AWARENESS, |r| {
        let (assigned, open) = per_user.entry(Arc::clone(r.from_shared())).or_default();
        *assigned += 1;
        if r.get("completed") == Some(&crate::graph::Value::Bool(false)) {
            if let Some(&i) = index.get(r.to_key()) {
                open.push(i);
            }
        }
    });
    for key in users {
        ctx.update_entity(key, |u| {
            let mut a = per_user.get(key.as_str()).map(|(assigned, open)| conv::Assignments {
                assigned: *assigned,
                open: open
                    .iter()
                    .map(|&i| {
                        let (_, launch, name) = &campaigns[i as usize];
                        (launch.as_deref(), name.as_str())
                    })
                    .collect(),
            });
            conv::apply_assignments(u, a.as_mut());
        });
    }
}

fn fetch_phishing(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        ctx.awareness_training_gate()?;
        let code = ctx.account()?.code;
        for p in &ctx
            .client
            .get_phishing_campaigns()
            .await
            .map_err(|e| ctx.awareness_error(e))?
        {
            let e = conv::phishing_campaign(&code, p);
            ctx.add_relationship(conv::account_has_phishing_campaign(&code, &e.key));
            ctx.add_entity(e);
        }
        let users: Arc<HashSet<String>> = Arc::new(ctx.keys_of_type(types::USER));
        // As for enrollments: fetched and converted campaign by campaign.
        let mut fetched = stream::iter(campaigns(ctx, types::PHISHING_CAMPAIGN))
            .map(|(id, key, name)| {
                let (client, code, users) = (ctx.client.clone(), code.clone(), Arc::clone(&users));
                on_worker(async move {
                    let rows = all(client.phishing_user_data(&id)).await;
                    let out = rows.map(|rows| conv::phishing_results(&code, &key, &rows, |k| users.contains(k)));
                    (name, out)
                })
            })
            .buffer_unordered(FAN_OUT);
        let mut errors = Vec::new();
        while let Some((name, out)) = fetched.next().await {
            match out {
                Ok(out) => {
                    for email in out.unknown {
                        ctx.unknown_participant(
                            rels::USER_ASSIGNED_PHISHING,
                            format!("{email} in phishing campaign {name:?}"),
                        );
                    }
                    if out.merged > 0 {
                        ctx.note(format!("{} repeated addresses merged in {name:?}", out.merged));
                    }
                    ctx.add_relationships(out.relationships);
                }
                Err(e) => errors.push(format!("{name:?}: {e}")),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(failed(
                "results of some phishing campaigns could not be fetched",
                errors,
            ))
        }
    })
}

/// `awaitingRetraining` on every click or submission (`conv::mark_retraining`), from
/// the launch of the latest training campaign each user completed. It runs after the
/// two fetches whatever became of them: a completion missing here only leaves a
/// failure marked as awaiting, which `phished-not-retrained` checks in the graph.
fn derive_retraining(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        ctx.awareness_training_gate()?;
        let launches: HashMap<String, String> =
            ctx.with_entities_of_types(&[types::AWARENESS_CAMPAIGN, types::PHISHING_CAMPAIGN], |campaigns| {
                campaigns
                    .iter()
                    .filter_map(|c| Some((c.key.clone(), c.str("launchDate")?.to_owned())))
                    .collect()
            });
        // Normalized date-times: text order is time order.
        let mut latest: HashMap<String, &str> = HashMap::new();
        ctx.for_each_relationship_of_type(rels::USER_COMPLETED_AWARENESS, |r| {
            if let Some(launch) = launches.get(r.to_key()) {
                let seen = latest.entry(r.from_key().to_owned()).or_insert(launch);
                if *seen < launch.as_str() {
                    *seen = launch;
                }
            }
        });
        ctx.update_relationships_of_type(rels::USER_ASSIGNED_PHISHING, |r| {
            let phishing_launch = launches.get(r.to_key()).map(String::as_str);
            let trained = latest.get(r.from_key()).copied();
            conv::mark_retraining(r, phishing_launch, trained);
        });
        Ok(())
    })
}
