//! One collection run: every connection's steps (tenants concurrently, each in its own
//! account namespace, one failing never stopping the others), then one graph and its
//! integrity validation. `collect` writes it to files; `sync` writes it to Neo4j.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use crate::config::{Config, ConnectionConfig, UnknownParticipants};
use crate::graph::{validate, FindingKind, GraphStore, IntegrityReport};
use crate::mimecast::{ApiError, Client, ClientStats};
use crate::schema::schema;
use crate::steps::{self, Progress, Step, StepResult, StepStatus, TenantState};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Success,
    Partial,
    Failed,
}

/// What happened for one connection.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantRun {
    pub connection: String,
    pub account_code: Option<String>,
    pub status: RunStatus,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub steps: Vec<StepResult>,
    pub partial_types: BTreeSet<String>,
    pub api: ClientStats,
    /// The TTP log windows read whole: what the sync advances the cursors to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub threat_windows: Vec<steps::StreamWindow>,
}

/// The result of collecting every connection.
pub struct Collection {
    pub store: GraphStore,
    pub tenants: Vec<TenantRun>,
    pub integrity: IntegrityReport,
    /// Set when the unknown-participant policy is `fail` and some were found.
    pub policy_violation: Option<String>,
    pub started_on: String,
    /// Wall time of fetching and converting (all tenants' steps).
    pub steps_ms: u64,
    /// Wall time of integrity validation.
    pub validate_ms: u64,
    pub duration_ms: u64,
}

/// The OCSF export [`Collection::write_files`] writes beside graph.json.
pub const FINDINGS_FILE: &str = "findings.ocsf.jsonl";

/// Every step of a run: the Mimecast steps, then the compliance steps.
pub fn all_steps() -> Vec<Step> {
    let mut all = steps::mimecast_steps();
    all.extend(crate::compliance::compliance_steps());
    all.extend(steps::threat_steps());
    all.extend(steps::directory_steps());
    all
}

/// One client per connection, in the configuration's order: what [`collect_with`]
/// uses, so a caller that asked something first (a sync looking up the accounts to
/// lease) shares the token and the counters with the collection.
pub fn clients(config: &Config) -> Vec<Result<Client, ApiError>> {
    config.connections.iter().map(Client::new).collect()
}

async fn run_tenant(
    connection: &ConnectionConfig,
    client: &Result<Client, ApiError>,
    steps: &[Step],
    progress: &dyn Progress,
    plan: steps::ThreatPlan,
    activity: Arc<steps::ActivityState>,
) -> (TenantRun, GraphStore) {
    let t0 = Instant::now();
    let failed = |error: String, steps: Vec<StepResult>, api: ClientStats| TenantRun {
        connection: connection.name.clone(),
        account_code: None,
        status: RunStatus::Failed,
        duration_ms: t0.elapsed().as_millis() as u64,
        error: Some(error),
        steps,
        partial_types: BTreeSet::new(),
        api,
        threat_windows: Vec::new(),
    };
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            return (
                failed(e.to_string(), Vec::new(), ClientStats::default()),
                GraphStore::new(),
            )
        }
    };
    let cfg = Arc::new(connection.clone());
    let tenant = Arc::new(TenantState::with_threats(plan).with_activity(activity));
    let (results, partial_types) = match steps::execute(steps, client, &cfg, &tenant, progress).await {
        Ok(r) => r,
        Err(e) => return (failed(e.to_string(), Vec::new(), client.stats()), GraphStore::new()),
    };
    let account_code = tenant.account().map(|a| a.code.clone());
    let tenant = Arc::try_unwrap(tenant).unwrap_or_else(|_| unreachable!("every step has finished"));
    let threat_windows = tenant.windows();
    let store = tenant.into_store();
    let Some(account_code) = account_code else {
        // Without the account there is no namespace: nothing of this tenant is usable.
        let why = results
            .iter()
            .find(|r| r.id == steps::FETCH_ACCOUNT)
            .and_then(|r| r.error.clone())
            .unwrap_or_else(|| "fetch-account did not run".into());
        return (failed(why, results, client.stats()), GraphStore::new());
    };
    let status = if results
        .iter()
        .any(|r| r.status == StepStatus::Failed || !r.partial.is_empty())
    {
        RunStatus::Partial
    } else {
        RunStatus::Success
    };
    let run = TenantRun {
        connection: connection.name.clone(),
        account_code: Some(account_code),
        status,
        duration_ms: t0.elapsed().as_millis() as u64,
        error: None,
        steps: results,
        partial_types,
        api: client.stats(),
        threat_windows,
    };
    (run, store)
}

/// Collects every configured connection into one validated graph.
pub async fn collect(config: &Config, steps: &[Step], progress: &dyn Progress) -> Collection {
    collect_with(config, &clients(config), steps, progress).await
}

/// [`collect`] with the clients of [`clients`].
pub async fn collect_with(
    config: &Config,
    clients: &[Result<Client, ApiError>],
    steps: &[Step],
    progress: &dyn Progress,
) -> Collection {
    collect_resuming(config, clients, steps, progress, &steps::Cursors::new(), Arc::default()).await
}

/// [`collect_with`], the TTP log streams resuming from `cursors` (the sync reads them
/// from Neo4j; without one a stream looks back `[sync] threat_lookback_days`), and
/// the users' stored mailbox `activity` kept for those not checked this run.
pub async fn collect_resuming(
    config: &Config,
    clients: &[Result<Client, ApiError>],
    steps: &[Step],
    progress: &dyn Progress,
    cursors: &steps::Cursors,
    activity: Arc<steps::ActivityState>,
) -> Collection {
    let started_on = crate::time::now_iso();
    let t0 = Instant::now();
    let plan = steps::ThreatPlan {
        now: started_on.clone(),
        lookback_days: config.sync.threat_lookback_days,
        overlap_minutes: config.sync.threat_overlap_minutes,
        cursors: cursors.clone(),
    };
    let runs = futures::future::join_all(
        config
            .connections
            .iter()
            .zip(clients)
            .map(|(c, client)| run_tenant(c, client, steps, progress, plan.clone(), activity.clone())),
    )
    .await;

    let mut store = GraphStore::new();
    let mut tenants = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (mut run, tenant_store) in runs {
        if let Some(code) = &run.account_code {
            if let Some(first) = seen.get(code) {
                run.status = RunStatus::Failed;
                run.error = Some(format!(
                    "account {code} is already collected by connection {first:?}; two connections point at the same tenant"
                ));
                tenants.push(run);
                continue;
            }
            seen.insert(code.clone(), run.connection.clone());
        }
        store.absorb(tenant_store);
        tenants.push(run);
    }

    let steps_ms = t0.elapsed().as_millis() as u64;
    let t_validate = Instant::now();
    let integrity = validate(&mut store, schema());
    let validate_ms = t_validate.elapsed().as_millis() as u64;
    let unknown = integrity.count(FindingKind::UnknownParticipant);
    let policy_violation = (config.sync.unknown_participants == UnknownParticipants::Fail && unknown > 0).then(|| {
        format!(
            "{unknown} enrollments, phishing results or scores name addresses that are not internal users, and [sync] unknown_participants = \"fail\""
        )
    });
    Collection {
        store,
        tenants,
        integrity,
        policy_violation,
        started_on,
        steps_ms,
        validate_ms,
        duration_ms: t0.elapsed().as_millis() as u64,
    }
}

/// The process's peak resident memory in KiB (Linux), for summaries and benchmarks.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

impl Collection {
    /// Failed when no tenant produced data; partial when any tenant or step failed or
    /// validation removed elements; success otherwise.
    pub fn status(&self) -> RunStatus {
        if self.tenants.is_empty() || self.tenants.iter().all(|t| t.status == RunStatus::Failed) {
            RunStatus::Failed
        } else if self.tenants.iter().any(|t| t.status != RunStatus::Success) || self.integrity.defects() > 0 {
            RunStatus::Partial
        } else {
            RunStatus::Success
        }
    }

    /// The types of one account that must not be cleaned up: its partial steps, and
    /// whatever validation had to remove from it.
    pub fn partial_types(&self, account_code: &str) -> BTreeSet<String> {
        let mut types: BTreeSet<String> = self
            .tenants
            .iter()
            .filter(|t| t.account_code.as_deref() == Some(account_code))
            .flat_map(|t| t.partial_types.iter().cloned())
            .collect();
        types.extend(self.integrity.affected_in(account_code));
        types
    }

    /// Tenants whose data can be written (not failed).
    pub fn usable_tenants(&self) -> impl Iterator<Item = &TenantRun> {
        self.tenants.iter().filter(|t| t.status != RunStatus::Failed)
    }

    /// graph.json: entities and relationships sorted by key, one per line.
    ///
    /// # Errors
    /// Writing fails.
    pub fn write_graph(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut entities: Vec<_> = self.store.entities().collect();
        entities.sort_by(|a, b| a.key.cmp(&b.key));
        let mut relationships: Vec<_> = self.store.relationships().collect();
        relationships.sort_by(|a, b| a.cmp_key(b));
        writeln!(out, "{{\n  \"entities\": [")?;
        for (i, e) in entities.iter().enumerate() {
            let sep = if i + 1 < entities.len() { "," } else { "" };
            writeln!(out, "    {}{sep}", serde_json::to_string(e)?)?;
        }
        writeln!(out, "  ],\n  \"relationships\": [")?;
        for (i, r) in relationships.iter().enumerate() {
            let sep = if i + 1 < relationships.len() { "," } else { "" };
            writeln!(out, "    {}{sep}", serde_json::to_string(r)?)?;
        }
        writeln!(out, "  ]\n}}")
    }

    /// summary.json.
    pub fn summary(&self) -> serde_json::Value {
        let partial: BTreeMap<&str, BTreeSet<String>> = self
            .usable_tenants()
            .filter_map(|t| t.account_code.as_deref())
            .map(|code| (code, self.partial_types(code)))
            .collect();
        json!({
            "startedOn": self.started_on,
            "durationMs": self.duration_ms,
            "stepsMs": self.steps_ms,
            "validateMs": self.validate_ms,
            "peakRssKb": peak_rss_kb(),
            "status": self.status(),
            "tenants": self.tenants,
            "counts": {
                "entities": self.store.entity_counts(),
                "relationships": self.store.relationship_counts(),
            },
            "partialTypes": partial,
            "integrity": self.integrity,
            "policyViolation": self.policy_violation,
        })
    }

    /// A short human summary.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "collected {} tenant(s) in {:.1}s: {:?}",
            self.tenants.len(),
            self.duration_ms as f64 / 1000.0,
            self.status()
        );
        for t in &self.tenants {
            let _ = writeln!(
                out,
                "  {} ({}): {:?}{}",
                t.connection,
                t.account_code.as_deref().unwrap_or("no account"),
                t.status,
                t.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
            );
            for s in &t.steps {
                if s.status != StepStatus::Success {
                    let _ = writeln!(out, "    {} {:?}: {}", s.id, s.status, s.error.as_deref().unwrap_or(""));
                }
                // Notes carry the person-matching report and anything merged or kept.
                for note in &s.notes {
                    let _ = writeln!(out, "    {}: {note}", s.id);
                }
            }
            if !t.partial_types.is_empty() {
                let list: Vec<&str> = t.partial_types.iter().map(String::as_str).collect();
                let _ = writeln!(out, "    partial types: {}", list.join(", "));
            }
            let _ = writeln!(out, "    {}", api_text(&t.api));
        }
        let _ = writeln!(out, "  entities: {}", counts_text(&self.store.entity_counts()));
        let _ = writeln!(
            out,
            "  relationships: {}",
            counts_text(&self.store.relationship_counts())
        );
        let lines = self.integrity.lines();
        if lines.is_empty() {
            let _ = writeln!(out, "  integrity: clean");
        } else {
            let _ = writeln!(out, "  integrity findings:");
            for l in lines {
                let _ = writeln!(out, "    {l}");
            }
        }
        if let Some(v) = &self.policy_violation {
            let _ = writeln!(out, "  POLICY: {v}");
        }
        out
    }

    /// Writes `dir/graph.json`, `dir/summary.json` and `dir/findings.ocsf.jsonl` (one
    /// OCSF Detection Finding per TTP event, [`crate::ocsf`]).
    ///
    /// # Errors
    /// The folder cannot be created or a file cannot be written.
    pub fn write_files(&self, dir: &Path) -> anyhow::Result<()> {
        use anyhow::Context as _;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let graph_path = dir.join("graph.json");
        let file =
            std::fs::File::create(&graph_path).with_context(|| format!("cannot write {}", graph_path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        self.write_graph(&mut w)
            .with_context(|| format!("cannot write {}", graph_path.display()))?;
        w.flush()?;
        let summary_path = dir.join("summary.json");
        let text = serde_json::to_string_pretty(&self.summary())? + "\n";
        std::fs::write(&summary_path, text).with_context(|| format!("cannot write {}", summary_path.display()))?;
        let ocsf_path = dir.join(FINDINGS_FILE);
        let file =
            std::fs::File::create(&ocsf_path).with_context(|| format!("cannot write {}", ocsf_path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        crate::ocsf::write_jsonl(&self.store, &mut w)
            .and_then(|_| w.flush())
            .with_context(|| format!("cannot write {}", ocsf_path.display()))?;
        Ok(())
    }
}

/// One connection's API traffic and throttling, for the human summary.
fn api_text(a: &ClientStats) -> String {
    format!(
        "api: {} requests ({} retries), {} token requests; throttled: {} calls waited {:.1} s in all, {} answers of HTTP 429",
        a.requests,
        a.retries,
        a.token_requests,
        a.throttled_calls,
        a.throttle_wait_ms as f64 / 1000.0,
        a.rate_limited
    )
}

/// "type n, type n" in key order, or "none".
fn counts_text(counts: &BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::all_steps;
    use crate::schema::{schema, types};

    /// Partial marking and cleanup trust the step declarations: every type the schema
    /// knows is produced by exactly one step, and steps declare only schema types.
    #[test]
    fn step_declarations_agree_with_graph_schema() {
        let mut producers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for step in all_steps() {
            for t in step.spec.entity_types.iter().chain(step.spec.relationship_types) {
                producers.entry(t).or_default().push(step.spec.id);
            }
        }
        let mut expected: Vec<&str> = schema()
            .entities
            .iter()
            .map(|e| e.entity_type.as_str())
            .chain(schema().relationships.iter().map(|r| r.relationship_type.as_str()))
            .filter(|t| *t != types::COMPLIANCE_QUERY)
            .collect();
        expected.sort_unstable();
        assert_eq!(producers.keys().copied().collect::<Vec<_>>(), expected);
        for (t, steps) in &producers {
            assert_eq!(steps.len(), 1, "{t} is declared by {steps:?}");
        }
    }
}
