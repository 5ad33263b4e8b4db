//! What a sync records about each account in its history: the API figures, and the
//! saved rules' findings and the campaigns' completion as the graph stands after it.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};
use serde_json::json;
use tracing::{info, warn};

use crate::collect::Collection;
use crate::queries::QuerySet;
use crate::sink::{AccountStatus, CampaignCompletion, RuleFindings, Sink, SyncRun, SyncStamp};

/// A history record of `account` in this sync, with its tenants' API figures.
pub(super) fn history_run(c: &Collection, account: &str, status: AccountStatus, stamp: &SyncStamp) -> SyncRun {
    let mut run = SyncRun {
        account: account.to_owned(),
        sync_id: stamp.sync_id.clone(),
        started_on: stamp.now.clone(),
        ended_on: crate::time::now_iso(),
        status: status.as_str().to_owned(),
        ..SyncRun::default()
    };
    for t in c.tenants.iter().filter(|t| t.account_code.as_deref() == Some(account)) {
        run.api_requests += t.api.requests + t.api.token_requests;
        run.throttled_calls += t.api.throttled_calls;
        run.throttle_wait_ms += t.api.throttle_wait_ms;
    }
    run
}

/// What one saved query gave the history.
enum Answer {
    Rule(Found),
    /// A query that is not a rule (the campaigns' completion), whole.
    Rows(crate::queries::QueryResult),
    /// A rule's finding count and identities, copied from the previous run.
    Copied(u64, RuleFindings),
    /// The campaigns' completion, copied from the previous run.
    Completion(Vec<CampaignCompletion>),
}

/// A rule's findings: how many, and the distinct identities as JSON text, sorted.
struct Found {
    findings: u64,
    ids: Vec<String>,
}

/// Runs a rule (not its population count, which the history does not keep) and keeps
/// only the identity of each finding as the rows stream in: a rule with hundreds of
/// thousands of findings is never held as rows.
async fn rule_findings(
    sink: &Sink,
    def: &crate::queries::QueryDef,
    params: &BTreeMap<String, serde_json::Value>,
) -> Result<Found, crate::queries::QueryError> {
    let columns: Vec<Option<usize>> = def
        .rule
        .iter()
        .flat_map(|r| &r.identity)
        .map(|c| def.columns.iter().position(|d| d == c))
        .collect();
    let mut rows = 0u64;
    let mut ids = Vec::new();
    crate::queries::for_each_row(sink, def, params, |row| {
        rows += 1;
        let id: Vec<&serde_json::Value> = columns
            .iter()
            .map(|i| i.and_then(|i| row.get(i)).unwrap_or(&serde_json::Value::Null))
            .collect();
        ids.push(serde_json::to_string(&id).unwrap_or_default());
    })
    .await?;
    ids.sort();
    ids.dedup();
    Ok(Found {
        findings: if def.reports_findings() { rows } else { 0 },
        ids,
    })
}

/// Runs every saved rule in `account`, as the graph stands now, into `run`: its
/// finding count and the identity of each finding (only their number when there are
/// more than `max_ids`); and the completion of each
/// training campaign (the `campaign-completion` query, when the set has it). A query
/// that fails is left out (and logged): the data is written already.
///
/// `previous` is the account's newest recorded run when it saw the content this run
/// sees (the same content generation, `sink::GENERATION`): a query that ran there as
/// it runs now (the same `queries::run_digest`) and whose answer depends only on the
/// content (`queries::unstable_reason`) is not run again; its findings are copied.
/// Returns how many were.
pub(super) async fn record_rule_results(
    sink: &Sink,
    queries: &QuerySet,
    account: &str,
    max_ids: u32,
    previous: Option<&SyncRun>,
    run: &mut SyncRun,
) -> u64 {
    run.has_finding_ids = true;
    let wanted: Vec<_> = queries
        .iter()
        .filter(|d| d.reports_findings() || d.id == crate::queries::CAMPAIGN_QUERY)
        .map(|def| {
            let mut params = BTreeMap::new();
            if def.params.iter().any(|p| p.name == "account") {
                params.insert("account".to_owned(), json!(account));
            }
            let digest = crate::queries::run_digest(def, &params);
            run.query_digests.insert(def.id.clone(), digest.clone());
            let copied = previous.and_then(|p| copy_answer(p, def, &digest));
            (def, params, copied)
        })
        .collect();
    let reused = wanted.iter().filter(|(_, _, copied)| copied.is_some()).count() as u64;
    if reused > 0 {
        info!(
            account,
            reused,
            of = wanted.len(),
            "content unchanged since the previous sync: its findings are copied for the queries that depend only on it"
        );
    }
    // Read-only queries: several at once (Neo4j runs each on one core), results taken
    // in the set's order.
    let parallel = sink.config().max_connections.max(1);
    let results: Vec<_> = stream::iter(wanted)
        .map(|(def, params, copied)| async move {
            let answer = match (copied, &def.rule) {
                (Some(copied), _) => Ok(copied),
                (None, Some(_)) => rule_findings(sink, def, &params).await.map(Answer::Rule),
                (None, None) => crate::queries::run(sink, def, &params).await.map(Answer::Rows),
            };
            (def, answer)
        })
        .buffered(parallel)
        .collect()
        .await;
    for (def, answer) in results {
        match answer {
            Ok(Answer::Rule(found)) => {
                run.findings.insert(def.id.clone(), found.findings);
                let capped = (found.ids.len() > max_ids as usize).then_some(found.ids.len() as u64);
                let ids = match capped {
                    Some(_) => Vec::new(),
                    None => found
                        .ids
                        .iter()
                        .map(|text| serde_json::from_str(text).unwrap_or_default())
                        .collect(),
                };
                run.finding_ids.insert(
                    def.id.clone(),
                    RuleFindings {
                        version: def.version,
                        identity: def.rule.as_ref().map(|r| r.identity.clone()).unwrap_or_default(),
                        ids,
                        capped,
                    },
                );
            }
            Ok(Answer::Copied(findings, ids)) => {
                run.findings.insert(def.id.clone(), findings);
                run.finding_ids.insert(def.id.clone(), ids);
            }
            Ok(Answer::Completion(completion)) => run.completion = completion,
            Ok(Answer::Rows(result)) => {
                let count = |row: &[serde_json::Value], c: &str| result.value(row, c).as_u64().unwrap_or(0);
                run.completion = result
                    .rows
                    .iter()
                    .map(|row| CampaignCompletion {
                        campaign: crate::queries::cell(result.value(row, "campaign")),
                        id: crate::queries::cell(result.value(row, "campaignId")),
                        assigned: count(row, "assigned"),
                        completed: count(row, "completed"),
                        passed: count(row, "passed"),
                    })
                    .collect();
            }
            Err(e) => {
                run.query_digests.remove(&def.id);
                warn!(query = %def.id, account, error = %e, "a saved query failed after the sync; its results are not recorded");
            }
        }
    }
    reused
}

/// What `previous` recorded for `def`, when it ran as `digest` and its answer depends
/// only on the account's content.
fn copy_answer(previous: &SyncRun, def: &crate::queries::QueryDef, digest: &str) -> Option<Answer> {
    if previous.query_digests.get(&def.id).map(String::as_str) != Some(digest) {
        return None;
    }
    if crate::queries::unstable_reason(def, crate::schema::schema()).is_some() {
        return None;
    }
    match &def.rule {
        Some(_) => Some(Answer::Copied(
            *previous.findings.get(&def.id)?,
            previous.finding_ids.get(&def.id)?.clone(),
        )),
        None => Some(Answer::Completion(previous.completion.clone())),
    }
}
