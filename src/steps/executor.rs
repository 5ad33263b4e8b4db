//! Orders the steps with a petgraph toposort (a cycle is a start-up error) and runs
//! every step as soon as all of its dependencies have finished, independent steps
//! concurrently. Dependents of a step that did not succeed still run (they may have
//! useful data) but their types are marked partial too.

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use tracing::{info, info_span, Instrument};

use super::{Step, StepContext, StepError, StepResult, StepStatus, TenantState};
use crate::config::ConnectionConfig;
use crate::mimecast::Client;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("step {0:?} is declared twice")]
    Duplicate(String),
    #[error("step {step:?} depends on unknown step {dependency:?}")]
    UnknownDependency { step: String, dependency: String },
    #[error("the step dependencies form a cycle through {0:?}")]
    Cycle(String),
}

/// Checks the declarations and returns the step indexes in dependency order.
///
/// # Errors
/// Duplicate ids, unknown dependencies, or a cycle.
pub fn plan(steps: &[Step]) -> Result<Vec<usize>, PlanError> {
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let mut index: HashMap<&str, NodeIndex> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        if index.insert(s.spec.id, graph.add_node(i)).is_some() {
            return Err(PlanError::Duplicate(s.spec.id.to_owned()));
        }
    }
    for s in steps {
        for dep in s.spec.depends_on {
            let from = *index.get(dep).ok_or_else(|| PlanError::UnknownDependency {
                step: s.spec.id.to_owned(),
                dependency: (*dep).to_owned(),
            })?;
            graph.add_edge(from, index[s.spec.id], ());
        }
    }
    toposort(&graph, None)
        .map(|order| order.into_iter().map(|n| graph[n]).collect())
        .map_err(|cycle| PlanError::Cycle(steps[graph[cycle.node_id()]].spec.id.to_owned()))
}

/// Receives step events, for a progress display.
pub trait Progress: Send + Sync {
    fn step_started(&self, connection: &str, step: &str);
    fn step_finished(&self, connection: &str, result: &StepResult);
}

/// No display (tests, the daemon).
pub struct SilentProgress;

impl Progress for SilentProgress {
    fn step_started(&self, _: &str, _: &str) {}
    fn step_finished(&self, _: &str, _: &StepResult) {}
}

/// One line per finished step on stderr, when stderr is a terminal.
pub struct TerminalProgress {
    enabled: bool,
}

impl TerminalProgress {
    pub fn new() -> Self {
        TerminalProgress {
            enabled: std::io::stderr().is_terminal(),
        }
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for TerminalProgress {
    fn step_started(&self, connection: &str, step: &str) {
        if self.enabled {
            eprintln!("  [{connection}] {step} ...");
        }
    }

    fn step_finished(&self, connection: &str, r: &StepResult) {
        if !self.enabled {
            return;
        }
        let mark = match r.status {
            StepStatus::Success => "ok",
            StepStatus::Failed => "FAILED",
            StepStatus::Unavailable => "unavailable",
            StepStatus::Disabled => "disabled",
        };
        let e: usize = r.entities.values().sum();
        let rel: usize = r.relationships.values().sum();
        eprintln!(
            "  [{connection}] {} {mark}: {e} entities, {rel} relationships in {:.1}s{}",
            r.id,
            r.duration_ms as f64 / 1000.0,
            r.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
        );
    }
}

/// Runs the steps for one tenant; never fails as a whole. Returns the step results in
/// declaration order and the types that are partial.
///
/// # Errors
/// Only [`PlanError`] for bad declarations, before anything runs.
pub async fn execute(
    steps: &[Step],
    client: &Client,
    connection: &Arc<ConnectionConfig>,
    tenant: &Arc<TenantState>,
    progress: &dyn Progress,
) -> Result<(Vec<StepResult>, BTreeSet<String>), PlanError> {
    let order = plan(steps)?;
    let mut results: Vec<Option<StepResult>> = steps.iter().map(|_| None).collect();
    let mut started = vec![false; steps.len()];
    let mut running = FuturesUnordered::new();
    let id_index: HashMap<&str, usize> = steps.iter().enumerate().map(|(i, s)| (s.spec.id, i)).collect();

    loop {
        for &i in &order {
            if started[i] {
                continue;
            }
            let ready = steps[i].spec.depends_on.iter().all(|d| results[id_index[d]].is_some());
            if !ready {
                continue;
            }
            started[i] = true;
            let step = &steps[i];
            let ctx = StepContext::new(step.spec.id, client.clone(), connection.clone(), tenant.clone());
            progress.step_started(&connection.name, step.spec.id);
            let span = info_span!("step", connection = %connection.name, step = step.spec.id);
            running.push(
                async move {
                    let t0 = Instant::now();
                    let outcome = (step.run)(&ctx).await;
                    (i, ctx, outcome, t0.elapsed())
                }
                .instrument(span),
            );
        }
        let Some((i, ctx, outcome, elapsed)) = running.next().await else {
            break;
        };
        let tally = std::mem::take(&mut *ctx.tally());
        let (status, error) = match outcome {
            Ok(()) => (StepStatus::Success, None),
            Err(StepError::Unavailable(why)) => (StepStatus::Unavailable, Some(why)),
            Err(StepError::Disabled(why)) => (StepStatus::Disabled, Some(why)),
            Err(StepError::Failed(e)) => (StepStatus::Failed, Some(format!("{e:#}"))),
        };
        let spec = &steps[i].spec;
        let result = StepResult {
            id: spec.id.to_owned(),
            name: spec.name.to_owned(),
            status,
            duration_ms: elapsed.as_millis() as u64,
            error,
            entities: tally.entities,
            relationships: tally.relationships,
            notes: tally.notes,
            partial: tally.partial,
        };
        info!(
            connection = %connection.name,
            step = spec.id,
            status = ?result.status,
            duration_ms = result.duration_ms,
            entities = result.entities.values().sum::<usize>(),
            relationships = result.relationships.values().sum::<usize>(),
            error = result.error.as_deref().unwrap_or(""),
            "step finished"
        );
        progress.step_finished(&connection.name, &result);
        tenant.finished(spec.id, result.status);
        results[i] = Some(result);
    }

    let results: Vec<StepResult> = results.into_iter().map(|r| r.expect("every step ran")).collect();
    let partial_types = partial(steps, &order, &results);
    Ok((results, partial_types))
}

/// The declared types of every step that failed or found its data unavailable, or
/// depends on one that did. A step the configuration disabled produces nothing on
/// purpose: its types are complete (and empty), so cleanup removes old data.
fn partial(steps: &[Step], order: &[usize], results: &[StepResult]) -> BTreeSet<String> {
    let id_index: HashMap<&str, usize> = steps.iter().enumerate().map(|(i, s)| (s.spec.id, i)).collect();
    let mut tainted = vec![false; steps.len()];
    let mut types = BTreeSet::new();
    for &i in order {
        tainted[i] = matches!(results[i].status, StepStatus::Failed | StepStatus::Unavailable)
            || steps[i].spec.depends_on.iter().any(|d| tainted[id_index[d]]);
        if tainted[i] {
            let spec = &steps[i].spec;
            types.extend(spec.entity_types.iter().map(|t| (*t).to_owned()));
            types.extend(spec.relationship_types.iter().map(|t| (*t).to_owned()));
        }
        types.extend(results[i].partial.iter().cloned());
    }
    types
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::{StepFuture, StepSpec};

    fn spec(id: &'static str, depends_on: &'static [&'static str], types: &'static [&'static str]) -> StepSpec {
        StepSpec {
            id,
            name: id,
            depends_on,
            entity_types: types,
            relationship_types: &[],
        }
    }

    fn ok(_: &StepContext) -> StepFuture<'_> {
        Box::pin(async { Ok(()) })
    }

    fn fail(_: &StepContext) -> StepFuture<'_> {
        Box::pin(async { Err(StepError::Failed(anyhow::anyhow!("boom"))) })
    }

    fn unavailable(_: &StepContext) -> StepFuture<'_> {
        Box::pin(async { Err(StepError::Unavailable("not licensed".into())) })
    }

    fn disabled(_: &StepContext) -> StepFuture<'_> {
        Box::pin(async { Err(StepError::Disabled("no roster".into())) })
    }

    fn noting(ctx: &StepContext) -> StepFuture<'_> {
        Box::pin(async move {
            ctx.note("ran".into());
            Ok(())
        })
    }

    static PEERS: std::sync::OnceLock<tokio::sync::Barrier> = std::sync::OnceLock::new();

    /// Finishes only when another step reaches the barrier too.
    fn wait_for_peer(_: &StepContext) -> StepFuture<'_> {
        Box::pin(async {
            PEERS.get_or_init(|| tokio::sync::Barrier::new(2)).wait().await;
            Ok(())
        })
    }

    fn step(spec: StepSpec, run: for<'a> fn(&'a StepContext) -> StepFuture<'a>) -> Step {
        Step { spec, run }
    }

    #[test]
    fn a_cycle_is_a_start_up_error() {
        let steps = vec![
            step(spec("a", &["c"], &[]), ok),
            step(spec("b", &["a"], &[]), ok),
            step(spec("c", &["b"], &[]), ok),
        ];
        assert!(matches!(plan(&steps), Err(PlanError::Cycle(_))));
        let self_loop = vec![step(spec("a", &["a"], &[]), ok)];
        assert_eq!(plan(&self_loop), Err(PlanError::Cycle("a".into())));
    }

    #[test]
    fn unknown_and_duplicate_steps_are_refused() {
        let steps = vec![step(spec("a", &["nope"], &[]), ok)];
        assert_eq!(
            plan(&steps).unwrap_err().to_string(),
            "step \"a\" depends on unknown step \"nope\""
        );
        let steps = vec![step(spec("a", &[], &[]), ok), step(spec("a", &[], &[]), ok)];
        assert_eq!(plan(&steps), Err(PlanError::Duplicate("a".into())));
    }

    #[test]
    fn plan_puts_dependencies_first() {
        let steps = vec![
            step(spec("enrollments", &["campaigns", "users"], &[]), ok),
            step(spec("users", &["account"], &[]), ok),
            step(spec("campaigns", &["account"], &[]), ok),
            step(spec("account", &[], &[]), ok),
        ];
        let order: Vec<&str> = plan(&steps).unwrap().into_iter().map(|i| steps[i].spec.id).collect();
        let pos = |id: &str| order.iter().position(|x| *x == id).unwrap();
        assert!(pos("account") < pos("users"));
        assert!(pos("account") < pos("campaigns"));
        assert!(pos("users") < pos("enrollments"));
        assert!(pos("campaigns") < pos("enrollments"));
    }

    #[tokio::test]
    async fn a_failed_step_marks_its_types_and_its_dependents_types_partial() {
        let steps = vec![
            step(spec("account", &[], &["t_account"]), ok),
            step(spec("users", &["account"], &["t_user"]), fail),
            step(spec("enrollments", &["users"], &["t_enrollment"]), noting),
            step(spec("campaigns", &["account"], &["t_campaign"]), ok),
            step(spec("phishing", &["account"], &["t_phishing"]), unavailable),
            step(spec("people", &["account"], &["t_person"]), disabled),
        ];
        let cfg = Arc::new(ConnectionConfig::oauth2("t", "http://127.0.0.1:9", "id", "secret"));
        let client = Client::new(&cfg).unwrap();
        let tenant = Arc::new(TenantState::new());
        let (results, partial) = execute(&steps, &client, &cfg, &tenant, &SilentProgress).await.unwrap();
        let statuses: Vec<(&str, StepStatus)> = results.iter().map(|r| (r.id.as_str(), r.status)).collect();
        assert_eq!(
            statuses,
            vec![
                ("account", StepStatus::Success),
                ("users", StepStatus::Failed),
                ("enrollments", StepStatus::Success),
                ("campaigns", StepStatus::Success),
                ("phishing", StepStatus::Unavailable),
                ("people", StepStatus::Disabled),
            ]
        );
        assert_eq!(results[1].error.as_deref(), Some("boom"));
        assert_eq!(results[2].notes, vec!["ran"]);
        let partial: Vec<&str> = partial.iter().map(String::as_str).collect();
        assert_eq!(partial, vec!["t_enrollment", "t_phishing", "t_user"]);
    }

    #[tokio::test]
    async fn independent_steps_run_concurrently() {
        let steps = vec![
            step(spec("account", &[], &[]), ok),
            step(spec("left", &["account"], &[]), wait_for_peer),
            step(spec("right", &["account"], &[]), wait_for_peer),
        ];
        let cfg = Arc::new(ConnectionConfig::oauth2("t", "http://127.0.0.1:9", "id", "secret"));
        let client = Client::new(&cfg).unwrap();
        let tenant = Arc::new(TenantState::new());
        let run = execute(&steps, &client, &cfg, &tenant, &SilentProgress);
        let (results, partial) = tokio::time::timeout(std::time::Duration::from_secs(10), run)
            .await
            .expect("the two independent steps waited for each other: they ran one after the other")
            .unwrap();
        assert!(results.iter().all(|r| r.status == StepStatus::Success));
        assert!(partial.is_empty());
    }
}
