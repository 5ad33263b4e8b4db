//! J1-style steps. Each declares its id, what it depends on and the entity and
//! relationship types it produces; the executor orders them with a petgraph
//! toposort, runs independent steps concurrently and records per-step status. A
//! step that fails, or finds its data unavailable, marks its types, and those of
//! every step depending on it, partial: they are written (merged, never stripped)
//! but never cleaned up on that run.

mod directory;
mod executor;
mod mimecast;
mod siem;
mod threats;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use futures::future::BoxFuture;
use serde::Serialize;
use tracing::warn;

use crate::config::{AwarenessTraining, ConnectionConfig};
use crate::graph::{Entity, FindingKind, GraphStore, Relationship};
use crate::mimecast::{ApiError, Client};

pub use directory::{
    directory_steps, ActivityState, StoredActivity, FETCH_GROUPS, FETCH_GROUP_MEMBERS, FETCH_MESSAGE_ACTIVITY,
    MESSAGE_FINDER_LIMIT,
};
pub use executor::{execute, plan, PlanError, Progress, SilentProgress, TerminalProgress};
pub use mimecast::{
    mimecast_steps, FETCH_ACCOUNT, FETCH_AWARENESS_CAMPAIGNS, FETCH_DOMAINS, FETCH_ENROLLMENTS, FETCH_PHISHING,
    FETCH_USERS,
};
pub use threats::{
    threat_steps, Cursors, StreamWindow, ThreatPlan, BUILD_THREAT_INDICATORS, FETCH_TTP_ATTACHMENT,
    FETCH_TTP_IMPERSONATION, FETCH_TTP_URL,
};

/// Joins failures of several sub-requests into one step error, keeping every cause.
pub(crate) fn failed(what: &str, errors: Vec<String>) -> StepError {
    StepError::Failed(anyhow::anyhow!("{what}: {}", errors.join("; ")))
}

/// What a step is and what it produces.
#[derive(Clone, Debug)]
pub struct StepSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub depends_on: &'static [&'static str],
    pub entity_types: &'static [&'static str],
    pub relationship_types: &'static [&'static str],
}

pub type StepFuture<'a> = BoxFuture<'a, Result<(), StepError>>;

/// A step: its declaration and the function that runs it.
pub struct Step {
    pub spec: StepSpec,
    pub run: for<'a> fn(&'a StepContext) -> StepFuture<'a>,
}

/// How a step can end other than in success.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The tenant does not offer the data (product not licensed, endpoint not served).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The configuration turned the step off.
    #[error("disabled: {0}")]
    Disabled(String),
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

impl From<ApiError> for StepError {
    fn from(e: ApiError) -> Self {
        if e.is_unavailable() {
            StepError::Unavailable(e.to_string())
        } else {
            StepError::Failed(e.into())
        }
    }
}

impl From<anyhow::Error> for StepError {
    fn from(e: anyhow::Error) -> Self {
        StepError::Failed(e)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Success,
    Failed,
    /// The tenant does not offer this data; the types are left as they were.
    Unavailable,
    /// Turned off by configuration.
    Disabled,
}

/// What one step did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    pub id: String,
    pub name: String,
    pub status: StepStatus,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub entities: BTreeMap<String, usize>,
    pub relationships: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Types the step left incomplete although it succeeded (an enrichment endpoint
    /// refused): written with merge, never cleaned up, and the run is partial.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<String>,
}

/// Facts about the tenant that later steps need.
#[derive(Clone, Debug)]
pub struct AccountInfo {
    pub code: String,
    pub awareness_training_licensed: bool,
}

/// State shared by the steps of one tenant.
#[derive(Default)]
pub struct TenantState {
    store: Mutex<GraphStore>,
    account: OnceLock<AccountInfo>,
    /// Where each TTP log stream starts reading.
    threats: ThreatPlan,
    /// The windows of the TTP log streams read whole.
    windows: Mutex<Vec<StreamWindow>>,
    /// The users' mailbox activity as stored before the run.
    activity: Arc<ActivityState>,
    /// The directory group endpoints were refused (403): what is built from groups
    /// is incomplete this run.
    groups_refused: std::sync::atomic::AtomicBool,
    /// How each finished step ended, for the steps that depend on it.
    finished: Mutex<BTreeMap<&'static str, StepStatus>>,
}

impl TenantState {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tenant whose TTP log streams read the windows `plan` gives.
    pub fn with_threats(plan: ThreatPlan) -> Self {
        TenantState {
            threats: plan,
            ..Self::default()
        }
    }

    /// A tenant that also knows its users' stored mailbox activity.
    pub fn with_activity(mut self, activity: Arc<ActivityState>) -> Self {
        self.activity = activity;
        self
    }

    /// Whether the directory group endpoints were refused this run.
    pub fn groups_refused(&self) -> bool {
        self.groups_refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn refuse_groups(&self) {
        self.groups_refused.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The windows of the TTP log streams read whole, in the order they finished.
    pub fn windows(&self) -> Vec<StreamWindow> {
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn account(&self) -> Option<&AccountInfo> {
        self.account.get()
    }

    /// Records how a step ended (the executor does, before its dependents start).
    pub fn finished(&self, step_id: &'static str, status: StepStatus) {
        self.finished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(step_id, status);
    }

    /// How a step ended; `None` while it has not.
    pub fn status_of(&self, step_id: &str) -> Option<StepStatus> {
        self.finished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(step_id)
            .copied()
    }

    /// Takes the graph out at the end of the run.
    pub fn into_store(self) -> GraphStore {
        self.store
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn store(&self) -> std::sync::MutexGuard<'_, GraphStore> {
        self.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Default)]
struct Tally {
    entities: BTreeMap<String, usize>,
    relationships: BTreeMap<String, usize>,
    notes: Vec<String>,
    partial: Vec<String>,
}

/// Runs `work` as a task of its own on the runtime's worker threads, beside the step
/// that awaits it: a step fetching and converting several campaigns at once keeps
/// both cores busy while it adds the last campaign's elements to the store. The
/// task is aborted when the step stops waiting for it; its panic is the step's.
pub(crate) async fn on_worker<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> T {
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let task = tokio::spawn(tracing::Instrument::in_current_span(work));
    let _abort = AbortOnDrop(task.abort_handle());
    match task.await {
        Ok(done) => done,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => unreachable!("a task aborted only when no longer awaited: {e}"),
        },
    }
}

/// What a running step sees: the client, the connection's configuration and the
/// tenant's graph. Adding elements goes through here so each step's counts are exact.
pub struct StepContext {
    pub step_id: &'static str,
    pub client: Client,
    pub connection: Arc<ConnectionConfig>,
    pub tenant: Arc<TenantState>,
    tally: Mutex<Tally>,
}

impl StepContext {
    pub fn new(
        step_id: &'static str,
        client: Client,
        connection: Arc<ConnectionConfig>,
        tenant: Arc<TenantState>,
    ) -> Self {
        StepContext {
            step_id,
            client,
            connection,
            tenant,
            tally: Mutex::new(Tally::default()),
        }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How a step this one depends on ended.
    pub fn status_of(&self, step_id: &str) -> Option<StepStatus> {
        self.tenant.status_of(step_id)
    }

    /// The account, once fetch-account has run.
    ///
    /// # Errors
    /// fetch-account did not succeed.
    pub fn account(&self) -> Result<AccountInfo, StepError> {
        self.tenant.account().cloned().ok_or_else(|| {
            StepError::Failed(anyhow::anyhow!(
                "the account is unknown because fetch-account did not succeed"
            ))
        })
    }

    pub fn set_account(&self, info: AccountInfo) {
        let _ = self.tenant.account.set(info);
    }

    /// Whether the Awareness Training endpoints should be called.
    ///
    /// # Errors
    /// [`StepError::Disabled`] or [`StepError::Unavailable`] with the reason.
    pub fn awareness_training_gate(&self) -> Result<(), StepError> {
        match self.connection.awareness_training {
            AwarenessTraining::Disabled => Err(StepError::Disabled(
                "awareness_training = \"disabled\" in the configuration".into(),
            )),
            AwarenessTraining::Enabled => Ok(()),
            AwarenessTraining::Auto => {
                if self.account()?.awareness_training_licensed {
                    Ok(())
                } else {
                    Err(StepError::Unavailable(
                        "the tenant has no Awareness Training package (get-account lists none); set awareness_training = \"enabled\" to call the endpoints anyway".into(),
                    ))
                }
            }
        }
    }

    /// Adds an entity; a duplicate key is refused, noted, and reported by validation.
    pub fn add_entity(&self, e: Entity) {
        let entity_type = e.entity_type.to_owned();
        match self.tenant.store().add_entity(e) {
            Ok(()) => *self.tally().entities.entry(entity_type).or_insert(0) += 1,
            Err(dup) => {
                warn!(step = self.step_id, error = %dup, "duplicate key refused");
                self.note(dup.to_string());
            }
        }
    }

    pub fn add_relationship(&self, r: Relationship) {
        self.add_relationships(std::iter::once(r));
    }

    /// Adds relationships under one lock of the store (a campaign's hundred thousand
    /// at once).
    pub fn add_relationships(&self, rels: impl IntoIterator<Item = Relationship>) {
        let mut added: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut refused = Vec::new();
        {
            let mut store = self.tenant.store();
            for r in rels {
                let rel_type = r.relationship_type();
                match store.add_relationship(r) {
                    Ok(()) => *added.entry(rel_type).or_insert(0) += 1,
                    Err(dup) => refused.push(dup),
                }
            }
        }
        let mut tally = self.tally();
        for (rel_type, n) in added {
            match tally.relationships.get_mut(rel_type) {
                Some(count) => *count += n,
                None => {
                    tally.relationships.insert(rel_type.to_owned(), n);
                }
            }
        }
        drop(tally);
        for dup in refused {
            warn!(step = self.step_id, error = %dup, "duplicate key refused");
            self.note(dup.to_string());
        }
    }

    /// Records a participant whose address is not an internal user of the tenant.
    pub fn unknown_participant(&self, relationship_type: &str, sample: String) {
        self.observe(FindingKind::UnknownParticipant, relationship_type, sample);
    }

    /// Records a finding for the integrity report (counted, a few sampled).
    pub fn observe(&self, kind: FindingKind, element_type: &str, sample: String) {
        self.tenant.store().observe(kind, element_type, sample);
    }

    pub fn note(&self, note: String) {
        self.tally().notes.push(note);
    }

    /// Marks a type incomplete while the step itself succeeds, saying why.
    pub fn mark_partial(&self, element_type: &str, why: String) {
        let mut tally = self.tally();
        if !tally.partial.iter().any(|t| t == element_type) {
            tally.partial.push(element_type.to_owned());
        }
        tally.notes.push(why);
    }

    /// How an API error ends an Awareness Training step: a 404 (endpoint not served)
    /// or, in `auto` mode, a 403 is "unavailable"; with `awareness_training =
    /// "enabled"` a 403 is a failure, because the operator said the product is there.
    pub fn awareness_error(&self, e: ApiError) -> StepError {
        let forbidden = matches!(e, ApiError::Forbidden { .. });
        if e.is_unavailable() && !(forbidden && self.connection.awareness_training == AwarenessTraining::Enabled) {
            StepError::Unavailable(e.to_string())
        } else {
            StepError::Failed(e.into())
        }
    }

    /// Copies of the entities of one type (for steps that build on earlier ones).
    pub fn entities_of_type(&self, entity_type: &str) -> Vec<Entity> {
        self.with_entities_of_types(&[entity_type], |v| v.iter().map(|e| (*e).clone()).collect())
    }

    /// Runs `f` over the entities of `entity_types` in key order, borrowed from the
    /// graph (which stays locked meanwhile) instead of copied.
    pub fn with_entities_of_types<R>(&self, entity_types: &[&str], f: impl FnOnce(&[&Entity]) -> R) -> R {
        let store = self.tenant.store();
        let mut v: Vec<&Entity> = store
            .entities()
            .filter(|e| entity_types.contains(&e.entity_type))
            .collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        f(&v)
    }

    /// The `(from, to)` keys of the relationships of one type.
    pub fn links_of_type(&self, relationship_type: &str) -> Vec<(String, String)> {
        let mut v = Vec::new();
        self.for_each_relationship_of_type(relationship_type, |r| {
            v.push((r.from_key().to_owned(), r.to_key().to_owned()));
        });
        v.sort();
        v
    }

    /// Hands every relationship of one type to `f`, borrowed.
    pub fn for_each_relationship_of_type(&self, relationship_type: &str, mut f: impl FnMut(&Relationship)) {
        let store = self.tenant.store();
        store
            .relationships()
            .filter(|r| r.relationship_type() == relationship_type)
            .for_each(&mut f);
    }

    /// Changes every relationship of one type in place (never its key).
    pub fn update_relationships_of_type(&self, relationship_type: &str, mut f: impl FnMut(&mut Relationship)) {
        self.tenant
            .store()
            .update_relationships(|r| r.relationship_type() == relationship_type, &mut f);
    }

    /// The keys of the entities of one type.
    pub fn keys_of_type(&self, entity_type: &str) -> HashSet<String> {
        let store = self.tenant.store();
        store
            .entities()
            .filter(|e| e.entity_type == entity_type)
            .map(|e| e.key.clone())
            .collect()
    }

    /// Changes an entity in place; false when the key is unknown.
    pub fn update_entity(&self, key: &str, f: impl FnOnce(&mut Entity)) -> bool {
        self.tenant.store().update_entity(key, f)
    }
}
