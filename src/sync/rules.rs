//! What a sync records about each account in its history: the API figures, and the
//! saved rules' findings and the campaigns' completion as the graph stands after it.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};
use serde_json::json;
use tracing::warn;

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

/// Runs every saved rule in `account`, as the graph stands now, into `run`: its
/// finding count and the identity of each finding (only their number when there are
/// more than `max_ids`); and the completion of each
/// training campaign (the `campaign-completion` query, when the set has it). A query
/// that fails is left out (and logged): the data is written already.
pub(super) async fn record_rule_results(
    sink: &Sink,
    queries: &QuerySet,
    account: &str,
    max_ids: u32,
    run: &mut SyncRun,
) {
    run.has_finding_ids = true;
    let wanted = queries
        .iter()
        .filter(|d| d.reports_findings() || d.id == crate::queries::CAMPAIGN_QUERY);
    // Read-only queries: several at once (Neo4j runs each on one core), results taken
    // in the set's order.
    let parallel = sink.config().max_connections.max(1);
    let results: Vec<_> = stream::iter(wanted)
        .map(|def| async move {
            let mut params = BTreeMap::new();
            if def.params.iter().any(|p| p.name == "account") {
                params.insert("account".to_owned(), json!(account));
            }
            (def, crate::queries::run(sink, def, &params).await)
        })
        .buffered(parallel)
        .collect()
        .await;
    for (def, result) in results {
        let result = match result {
            Ok(result) => result,
            Err(e) => {
                warn!(query = %def.id, account, error = %e, "a saved query failed after the sync; its results are not recorded");
                continue;
            }
        };
        if let Some(rule) = &def.rule {
            run.findings.insert(def.id.clone(), result.findings(def) as u64);
            let mut ids = result.identities(def);
            let capped = (ids.len() > max_ids as usize).then(|| {
                let n = ids.len() as u64;
                ids = Vec::new();
                n
            });
            run.finding_ids.insert(
                def.id.clone(),
                RuleFindings {
                    version: def.version,
                    identity: rule.identity.clone(),
                    ids,
                    capped,
                },
            );
        } else {
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
    }
}
