//! `collect` against the simulator: exact counts and keys, partial types on a failed
//! step, unknown participants, a bad roster, and the files it writes.

use mimecast_graph::graph::Element as _;
use std::collections::BTreeMap;

use mimecast_graph::collect::{all_steps, collect, Collection, RunStatus};
use mimecast_graph::config::UnknownParticipants;
use mimecast_graph::graph::{FindingKind, Value};
use mimecast_graph::sim::SimOptions;
use mimecast_graph::steps::{SilentProgress, StepStatus};

use crate::helpers::{acme_connection, acme_tenant, config_with, start_sim};

fn counts(map: BTreeMap<String, usize>) -> Vec<(String, usize)> {
    map.into_iter().collect()
}

fn pairs(list: &[(&str, usize)]) -> Vec<(String, usize)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

pub const ACME_ENTITIES: &[(&str, usize)] = &[
    ("mimecast_account", 1),
    ("mimecast_awareness_campaign", 4),
    ("mimecast_domain", 2),
    ("mimecast_phishing_campaign", 1),
    ("mimecast_user", 12),
    ("person", 8),
    ("training_category", 4),
];

pub const ACME_RELATIONSHIPS: &[(&str, usize)] = &[
    ("mimecast_account_has_awareness_campaign", 4),
    ("mimecast_account_has_domain", 2),
    ("mimecast_account_has_phishing_campaign", 1),
    ("mimecast_awareness_campaign_covers_training_category", 3),
    ("mimecast_domain_has_user", 12),
    ("mimecast_user_assigned_awareness_campaign", 11),
    ("mimecast_user_assigned_phishing_campaign", 4),
    ("mimecast_user_completed_awareness_campaign", 7),
    ("person_is_mimecast_user", 7),
];

async fn acme_collection(account: &str, options: SimOptions) -> Collection {
    let sim = start_sim(acme_tenant(account), options).await;
    let config = config_with(vec![acme_connection("acme", &sim)]);
    collect(&config, &all_steps(), &SilentProgress).await
}

#[tokio::test]
async fn collect_builds_the_exact_graph() {
    let c = acme_collection("CCOLLECT01", SimOptions::default()).await;

    assert_eq!(c.status(), RunStatus::Success);
    assert_eq!(counts(c.store.entity_counts()), pairs(ACME_ENTITIES));
    assert_eq!(counts(c.store.relationship_counts()), pairs(ACME_RELATIONSHIPS));
    assert_eq!(c.integrity.defects(), 0, "{:?}", c.integrity.lines());
    assert_eq!(
        c.integrity.findings[&FindingKind::UnknownParticipant].samples,
        vec![
            "contractor@gmail.com in training campaign \"Security Awareness Fundamentals\"",
            "old.user@acme.com (SAFE score)",
            "x@partner.org in phishing campaign \"Q1 Password Reset\"",
        ]
    );
    let t = &c.tenants[0];
    assert_eq!(t.account_code.as_deref(), Some("CCOLLECT01"));
    assert!(t.partial_types.is_empty(), "{:?}", t.partial_types);
    let statuses: Vec<(&str, StepStatus)> = t.steps.iter().map(|s| (s.id.as_str(), s.status)).collect();
    assert_eq!(
        statuses,
        vec![
            ("fetch-account", StepStatus::Success),
            ("fetch-domains", StepStatus::Success),
            ("fetch-users", StepStatus::Success),
            ("fetch-awareness-campaigns", StepStatus::Success),
            ("fetch-awareness-campaign-enrollments", StepStatus::Success),
            ("fetch-phishing-campaigns", StepStatus::Success),
            ("derive-phishing-retraining", StepStatus::Success),
            ("build-training-categories", StepStatus::Success),
            ("build-personnel", StepStatus::Success),
            ("build-extra-completions", StepStatus::Disabled),
            ("build-group-requirements", StepStatus::Disabled),
            ("fetch-ttp-url-logs", StepStatus::Success),
            ("fetch-ttp-attachment-logs", StepStatus::Success),
            ("fetch-ttp-impersonation-logs", StepStatus::Success),
            ("fetch-siem-detections", StepStatus::Disabled),
            ("build-threat-indicators", StepStatus::Success),
            ("fetch-groups", StepStatus::Success),
            ("fetch-group-members", StepStatus::Success),
            ("fetch-message-activity", StepStatus::Disabled),
        ]
    );
    // What each step produced is what it declared.
    let declared: std::collections::BTreeMap<&str, Vec<&str>> = all_steps()
        .iter()
        .map(|s| {
            (
                s.spec.id,
                s.spec
                    .entity_types
                    .iter()
                    .chain(s.spec.relationship_types)
                    .copied()
                    .collect(),
            )
        })
        .collect();
    for step in &t.steps {
        for produced in step.entities.keys().chain(step.relationships.keys()) {
            assert!(
                declared[step.id.as_str()].contains(&produced.as_str()),
                "{} produced undeclared {produced}",
                step.id
            );
        }
    }
    let personnel = t.steps.iter().find(|s| s.id == "build-personnel").unwrap();
    assert_eq!(
        personnel.notes,
        vec![
            "7 of 8 roster people matched a Mimecast user",
            "1 roster people have no Mimecast user: hank@acme.com",
            "5 Mimecast users (aliases excluded) match no roster person: abuse@acme.com, abuse@labs.acme.com, erin@acme.com, postmaster@acme.com, postmaster@labs.acme.com",
        ]
    );
    // The human summary carries the match report, one line per note.
    let human = c.human();
    assert!(
        human.contains("\n    build-personnel: 1 roster people have no Mimecast user: hank@acme.com\n"),
        "{human}"
    );
    assert!(
        human.contains("\n    build-personnel: 7 of 8 roster people matched a Mimecast user\n"),
        "{human}"
    );
    let categories = t.steps.iter().find(|s| s.id == "build-training-categories").unwrap();
    assert_eq!(
        categories.notes,
        vec!["campaign_categories entries that match no campaign id or name: Secure Coding Basics"]
    );
}

#[tokio::test]
async fn collected_elements_have_exact_keys_and_properties() {
    let c = acme_collection("CKEYS00001", SimOptions::default()).await;
    let bob = c.store.entity("mimecast_user:CKEYS00001:bob@acme.com").unwrap();
    let get = |k: &str| bob.get(k).cloned();
    assert_eq!(get("safeRisk"), Some(Value::from("F")));
    assert_eq!(get("watchlistCount"), Some(Value::Int(2)));
    assert_eq!(get("onWatchlist"), Some(Value::Bool(true)));
    assert_eq!(get("trainingIncorrect"), Some(Value::Int(1)));
    assert_eq!(get("department"), Some(Value::from("IT")));

    let gina_completed = c
        .store
        .relationship("mimecast_user:CKEYS00001:gina@labs.acme.com|completed|mimecast_awareness_campaign:CKEYS00001:eNoTrainingSAF000001")
        .expect("the mixed-case enrollment joins gina@labs.acme.com");
    assert_eq!(gina_completed.get("passed"), Some(&Value::Bool(true)));

    let carol_phish = c
        .store
        .relationship("mimecast_user:CKEYS00001:carol@acme.com|assigned|mimecast_phishing_campaign:CKEYS00001:eNoPhishQ1Reset00001")
        .unwrap();
    assert_eq!(carol_phish.get("status"), Some(&Value::from("submitted")));
    assert_eq!(carol_phish.get("clickedOn"), Some(&Value::from("2024-02-16T09:00:00Z")));
    assert_eq!(carol_phish.get("submitted"), Some(&Value::Bool(true)));

    let carol_person = c.store.entity("person:CKEYS00001:carol@acme.com").unwrap();
    assert_eq!(carol_person.get("email"), Some(&Value::from("carol@acme.co.uk")));
    assert_eq!(carol_person.get("department"), Some(&Value::from("Nursing")));
    assert_eq!(
        carol_person.get("requiredCategories"),
        Some(&Value::StrList(["general".into(), "hipaa".into()].into()))
    );
    let link = c
        .store
        .relationship("person:CKEYS00001:carol@acme.com|is|mimecast_user:CKEYS00001:carol@acme.com")
        .unwrap();
    assert_eq!(link.get("matchedBy"), Some(&Value::from("normalized_email")));
    let hipaa = c
        .store
        .relationship(
            "mimecast_awareness_campaign:CKEYS00001:eNoTrainingHIPAA0002|covers|training_category:CKEYS00001:hipaa",
        )
        .unwrap();
    assert_eq!(hipaa.get("mappedBy"), Some(&Value::from("id")));
}

#[tokio::test]
async fn a_failing_enrollment_endpoint_marks_exactly_its_types_partial() {
    let options = SimOptions {
        fail_paths: vec![("/api/awareness-training/campaign/get-user-data".into(), 500)],
        ..SimOptions::default()
    };
    let c = acme_collection("CPARTIAL01", options).await;
    assert_eq!(c.status(), RunStatus::Partial);
    let t = &c.tenants[0];
    let failed: Vec<&str> = t
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(failed, vec!["fetch-awareness-campaign-enrollments"]);
    let partial: Vec<&str> = t.partial_types.iter().map(String::as_str).collect();
    // The users too: their training assignment counts come from the enrollments, so
    // they keep their stored ones (merged, nothing deleted) and carry none here.
    assert_eq!(
        partial,
        vec![
            "mimecast_user",
            "mimecast_user_assigned_awareness_campaign",
            "mimecast_user_completed_awareness_campaign"
        ]
    );
    assert_eq!(
        c.store
            .relationship_counts()
            .get("mimecast_user_assigned_awareness_campaign"),
        None
    );
    assert_eq!(c.store.entity_counts()["mimecast_user"], 12);
    let carol = c.store.entity("mimecast_user:CPARTIAL01:carol@acme.com").unwrap();
    assert_eq!(carol.get("openTrainingCount"), None);
    assert_eq!(carol.get("assignedTrainingCount"), None);
}

#[tokio::test]
async fn awareness_training_unlicensed_leaves_directory_data_complete() {
    let options = SimOptions {
        awareness_training_licensed: false,
        ..SimOptions::default()
    };
    let c = acme_collection("CNOATCOL01", options).await;
    assert_eq!(c.status(), RunStatus::Success);
    let t = &c.tenants[0];
    let unavailable: Vec<&str> = t
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Unavailable)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        unavailable,
        vec![
            "fetch-awareness-campaigns",
            "fetch-awareness-campaign-enrollments",
            "fetch-phishing-campaigns",
            "derive-phishing-retraining"
        ]
    );
    assert!(!t.partial_types.contains("mimecast_user"));
    assert!(t.partial_types.contains("mimecast_awareness_campaign"));
    assert_eq!(c.store.entity_counts()["mimecast_user"], 12);
    assert_eq!(
        c.store
            .entity("mimecast_user:CNOATCOL01:bob@acme.com")
            .unwrap()
            .get("safeRisk"),
        None
    );
}

#[tokio::test]
async fn the_fail_policy_turns_unknown_participants_into_a_violation() {
    let sim = start_sim(acme_tenant("CPOLICY001"), SimOptions::default()).await;
    let mut config = config_with(vec![acme_connection("acme", &sim)]);
    config.sync.unknown_participants = UnknownParticipants::Fail;
    let c = collect(&config, &all_steps(), &SilentProgress).await;
    assert_eq!(
        c.policy_violation.as_deref(),
        Some("3 enrollments, phishing results or scores name addresses that are not internal users, and [sync] unknown_participants = \"fail\"")
    );
}

#[tokio::test]
async fn a_malformed_roster_fails_its_step_naming_the_line() {
    let dir = tempfile::Builder::new().prefix("mg-roster-").tempdir().unwrap();
    let roster = dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "email,name,status,group\nann@acme.com,Ann,active,clinical\nbob@acme.com,Bob,retired,engineering\n",
    )
    .unwrap();
    let sim = start_sim(acme_tenant("CROSTER001"), SimOptions::default()).await;
    let mut conn = acme_connection("acme", &sim);
    conn.compliance.roster = Some(roster.clone());
    let c = collect(&config_with(vec![conn]), &all_steps(), &SilentProgress).await;
    let step = c.tenants[0].steps.iter().find(|s| s.id == "build-personnel").unwrap();
    assert_eq!(step.status, StepStatus::Failed);
    assert_eq!(
        step.error.as_deref(),
        Some(
            format!(
                "roster {}, line 3: unknown status \"retired\" for bob@acme.com; expected active or terminated",
                roster.display()
            )
            .as_str()
        )
    );
    assert_eq!(c.status(), RunStatus::Partial);
    assert!(c.tenants[0].partial_types.contains("person"));
}

#[tokio::test]
async fn two_tenants_collect_side_by_side_and_one_failing_does_not_stop_the_other() {
    let a = start_sim(acme_tenant("CTWOA00001"), SimOptions::default()).await;
    let b = start_sim(acme_tenant("CTWOB00001"), SimOptions::default()).await;
    let mut broken = acme_connection("broken", &b);
    broken.auth = mimecast_graph::config::AuthConfig::OAuth2 {
        client_id: mimecast_graph::config::Secret::literal("acme-client-id"),
        client_secret: mimecast_graph::config::Secret::literal("nope-nope"),
    };
    let config = config_with(vec![acme_connection("a", &a), acme_connection("b", &b), broken]);
    let c = collect(&config, &all_steps(), &SilentProgress).await;
    let statuses: Vec<(&str, RunStatus, Option<&str>)> = c
        .tenants
        .iter()
        .map(|t| (t.connection.as_str(), t.status, t.account_code.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("a", RunStatus::Success, Some("CTWOA00001")),
            ("b", RunStatus::Success, Some("CTWOB00001")),
            ("broken", RunStatus::Failed, None),
        ]
    );
    assert_eq!(c.store.entity_counts()["mimecast_user"], 24);
    assert_eq!(c.status(), RunStatus::Partial);
}

#[tokio::test]
async fn two_connections_to_one_tenant_are_refused() {
    let a = start_sim(acme_tenant("CSAME00001"), SimOptions::default()).await;
    let config = config_with(vec![acme_connection("first", &a), acme_connection("second", &a)]);
    let c = collect(&config, &all_steps(), &SilentProgress).await;
    assert_eq!(c.tenants[1].status, RunStatus::Failed);
    assert_eq!(
        c.tenants[1].error.as_deref(),
        Some(
            "account CSAME00001 is already collected by connection \"first\"; two connections point at the same tenant"
        )
    );
    assert_eq!(c.store.entity_counts()["mimecast_user"], 12);
    assert_eq!(c.integrity.count(FindingKind::DuplicateKey), 0);
}

#[tokio::test]
async fn collect_writes_stable_graph_and_summary_files() {
    let c = acme_collection("CFILES0001", SimOptions::default()).await;
    let tmp = tempfile::Builder::new().prefix("mg-collect-").tempdir().unwrap();
    let dir = tmp.path();
    c.write_files(dir).unwrap();
    let graph: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("graph.json")).unwrap()).unwrap();
    let entities = graph["entities"].as_array().unwrap();
    let relationships = graph["relationships"].as_array().unwrap();
    assert_eq!((entities.len(), relationships.len()), (32, 51));
    let keys: Vec<&str> = entities.iter().map(|e| e["_key"].as_str().unwrap()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys[0], "mimecast_account:CFILES0001");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "success");
    assert_eq!(summary["counts"]["entities"]["mimecast_user"], 12);
    assert_eq!(summary["integrity"]["findings"]["unknown_participant"]["count"], 3);
    assert_eq!(summary["tenants"][0]["steps"][2]["id"], "fetch-users");
    assert_eq!(summary["tenants"][0]["steps"][2]["entities"]["mimecast_user"], 12);
}

#[tokio::test]
async fn a_refused_score_endpoint_leaves_users_partial_and_the_run_partial() {
    let options = SimOptions {
        fail_paths: vec![("/api/awareness-training/company/get-safe-score-details".into(), 403)],
        ..SimOptions::default()
    };
    let account = crate::helpers::unique_account("SAF");
    let c = acme_collection(&account, options).await;
    assert_eq!(c.status(), RunStatus::Partial);
    let t = &c.tenants[0];
    let users = t.steps.iter().find(|s| s.id == "fetch-users").unwrap();
    assert_eq!(users.status, StepStatus::Success);
    assert_eq!(users.partial, vec!["mimecast_user"]);
    assert!(
        users.notes[0].starts_with("SAFE scores unavailable, users keep their stored values: "),
        "{:?}",
        users.notes
    );
    assert!(t.partial_types.contains("mimecast_user"));
    assert!(!t.partial_types.contains("mimecast_domain_has_user"));
    let bob = c
        .store
        .entity(&format!("mimecast_user:{account}:bob@acme.com"))
        .unwrap();
    assert_eq!(bob.get("safeRisk"), None);
    assert_eq!(bob.get("watchlistCount"), Some(&Value::Int(2)));
}

#[tokio::test]
async fn with_awareness_training_enabled_a_refusal_fails_the_step() {
    let options = SimOptions {
        fail_paths: vec![("/api/awareness-training/phishing/campaign/get-campaign".into(), 403)],
        ..SimOptions::default()
    };
    let sim = start_sim(acme_tenant(&crate::helpers::unique_account("ENA")), options).await;
    let mut conn = acme_connection("acme", &sim);
    conn.awareness_training = mimecast_graph::config::AwarenessTraining::Enabled;
    let c = collect(&config_with(vec![conn]), &all_steps(), &SilentProgress).await;
    let phishing = c.tenants[0]
        .steps
        .iter()
        .find(|s| s.id == "fetch-phishing-campaigns")
        .unwrap();
    assert_eq!(phishing.status, StepStatus::Failed);
    assert_eq!(c.status(), RunStatus::Partial);
}
