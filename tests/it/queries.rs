//! Every saved query against a synced fixture tenant and roster, with exact rows.

use std::collections::BTreeMap;

use mimecast_graph::queries::{embedded, run, QueryDef, QueryResult};
use serde_json::{json, Value as Json};
use tokio::sync::OnceCell;

use crate::helpers::{acme_connection, acme_tenant, config_with, sink, start_sim};

/// This run's account code.
fn account() -> &'static str {
    static CODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CODE.get_or_init(|| crate::helpers::unique_account("QRY"))
}

/// Syncs the Acme fixtures (with the TTP logs of threats-acme.json) once for every
/// test in this file.
async fn synced() -> &'static String {
    static DONE: OnceCell<String> = OnceCell::const_new();
    DONE.get_or_init(|| async {
        // A runtime of its own: the simulator must outlive the test that came first.
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let sim = start_sim(
                    crate::threats::acme_threat_tenant(account()),
                    mimecast_graph::sim::SimOptions::default(),
                )
                .await;
                let config = config_with(vec![acme_connection("acme", &sim)]);
                let outcome = crate::sync::sync(&config).await;
                assert_eq!(
                    outcome.status,
                    mimecast_graph::sync::SyncStatus::Success,
                    "{}",
                    outcome.human()
                );
                outcome.started_on
            })
        })
        .join()
        .unwrap()
    })
    .await
}

fn def(id: &str) -> QueryDef {
    embedded().into_iter().find(|d| d.id == id).unwrap()
}

async fn rows(id: &str, params: &[(&str, Json)]) -> QueryResult {
    synced().await;
    let mut p: BTreeMap<String, Json> = params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    p.insert("account".into(), json!(account()));
    run(&sink().await, &def(id), &p).await.unwrap()
}

fn table(r: &QueryResult) -> Vec<Vec<Json>> {
    r.rows.clone()
}

#[tokio::test]
async fn missing_required_training() {
    let r = rows("missing-required-training", &[]).await;
    assert_eq!(r.columns, vec!["account", "person", "email", "group", "category"]);
    assert_eq!(
        table(&r),
        vec![
            vec![
                json!(account()),
                json!("Bob Stone"),
                json!("bob+it@acme.com"),
                json!("engineering"),
                json!("secure_code")
            ],
            vec![
                json!(account()),
                json!("Carol Diaz"),
                json!("carol@acme.co.uk"),
                json!("clinical"),
                json!("general")
            ],
            vec![
                json!(account()),
                json!("Dave Kim"),
                json!("dave@acme.com"),
                json!("finance"),
                json!("pci_dss")
            ],
            vec![
                json!(account()),
                json!("Gina Park"),
                json!("gina@labs.acme.com"),
                json!("engineering"),
                json!("secure_code")
            ],
            vec![
                json!(account()),
                json!("Hank New"),
                json!("hank@acme.com"),
                json!("clinical"),
                json!("general")
            ],
            vec![
                json!(account()),
                json!("Hank New"),
                json!("hank@acme.com"),
                json!("clinical"),
                json!("hipaa")
            ],
        ]
    );
    let strict = rows("missing-required-training", &[("require_pass", json!(true))]).await;
    let pairs: Vec<(String, String)> = strict
        .rows
        .iter()
        .map(|r| (r[1].as_str().unwrap().to_owned(), r[4].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("Bob Stone".into(), "general".into()),
            ("Bob Stone".into(), "secure_code".into()),
            ("Carol Diaz".into(), "general".into()),
            ("Carol Diaz".into(), "hipaa".into()),
            ("Dave Kim".into(), "pci_dss".into()),
            ("Gina Park".into(), "secure_code".into()),
            ("Hank New".into(), "general".into()),
            ("Hank New".into(), "hipaa".into()),
        ]
    );
}

#[tokio::test]
async fn campaign_completion() {
    let r = rows("campaign-completion", &[]).await;
    assert_eq!(
        table(&r),
        vec![
            vec![
                json!(account()),
                json!("Security Awareness Fundamentals"),
                json!("eNoTrainingSAF000001"),
                json!("2024-01-10T09:00:00Z"),
                json!(5),
                json!(4),
                json!(3),
                json!(80.0),
                json!(75.0)
            ],
            vec![
                json!(account()),
                json!("Lunch and Learn"),
                json!("eNoTrainingLNL000004"),
                json!("2024-02-01T09:00:00Z"),
                json!(1),
                json!(1),
                json!(1),
                json!(100.0),
                json!(100.0)
            ],
            vec![
                json!(account()),
                json!("HIPAA 101"),
                json!("eNoTrainingHIPAA0002"),
                json!("2024-03-01T09:00:00Z"),
                json!(3),
                json!(2),
                json!(1),
                json!(66.7),
                json!(50.0)
            ],
            vec![
                json!(account()),
                json!("PCI DSS Essentials"),
                json!("eNoTrainingPCI000003"),
                json!("2024-06-01T09:00:00Z"),
                json!(2),
                json!(0),
                json!(0),
                json!(0.0),
                json!(0.0)
            ],
        ]
    );
}

#[tokio::test]
async fn assigned_not_completed() {
    // One row per user with open assignments, the oldest open launch first.
    let r = rows("assigned-not-completed", &[]).await;
    let row = |email: &str, name: &str, launched: &str, campaign: &str| {
        vec![
            json!(account()),
            json!(email),
            json!(name),
            json!(1),
            json!(launched),
            json!([campaign]),
        ]
    };
    assert_eq!(
        table(&r),
        vec![
            row(
                "carol@acme.com",
                "Carol Diaz",
                "2024-01-10T09:00:00Z",
                "Security Awareness Fundamentals"
            ),
            row("frank@acme.com", "Frank Old", "2024-03-01T09:00:00Z", "HIPAA 101"),
            row(
                "bob@acme.com",
                "Bob Stone",
                "2024-06-01T09:00:00Z",
                "PCI DSS Essentials"
            ),
            row(
                "dave@acme.com",
                "Dave Kim",
                "2024-06-01T09:00:00Z",
                "PCI DSS Essentials"
            ),
        ]
    );
}

#[tokio::test]
async fn users_without_active_person() {
    let r = rows("users-without-active-person", &[]).await;
    assert_eq!(
        table(&r),
        vec![
            vec![
                json!(account()),
                json!("erin@acme.com"),
                json!("Erin Shared"),
                json!("created_manually"),
                json!("no roster person"),
                Json::Null
            ],
            vec![
                json!(account()),
                json!("frank@acme.com"),
                json!("Frank Old"),
                json!("created_manually"),
                json!("roster person is terminated"),
                Json::Null
            ],
        ]
    );
    let with_system = rows("users-without-active-person", &[("ignore_local_parts", json!([]))]).await;
    let emails: Vec<&str> = with_system.rows.iter().map(|r| r[1].as_str().unwrap()).collect();
    assert_eq!(
        emails,
        vec![
            "abuse@acme.com",
            "abuse@labs.acme.com",
            "erin@acme.com",
            "frank@acme.com",
            "postmaster@acme.com",
            "postmaster@labs.acme.com"
        ]
    );
}

#[tokio::test]
async fn terminated_with_account() {
    let r = rows("terminated-with-account", &[]).await;
    assert_eq!(
        table(&r),
        vec![vec![
            json!(account()),
            json!("Frank Old"),
            json!("frank@acme.com"),
            json!("frank@acme.com"),
            json!("email")
        ]]
    );
}

#[tokio::test]
async fn active_without_account() {
    let r = rows("active-without-account", &[]).await;
    assert_eq!(
        table(&r),
        vec![vec![
            json!(account()),
            json!("Hank New"),
            json!("hank@acme.com"),
            json!("clinical")
        ]]
    );
}

#[tokio::test]
async fn high_risk_safe_score() {
    let r = rows("high-risk-safe-score", &[]).await;
    assert_eq!(
        table(&r),
        vec![
            vec![
                json!(account()),
                json!("bob@acme.com"),
                json!("Bob Stone"),
                json!("F"),
                json!("F"),
                json!("D"),
                json!("Bob Stone")
            ],
            vec![
                json!(account()),
                json!("carol@acme.com"),
                json!("Carol Diaz"),
                json!("D"),
                json!("C"),
                json!("D"),
                json!("Carol Diaz")
            ],
        ]
    );
    let only_f = rows("high-risk-safe-score", &[("grades", json!(["F"]))]).await;
    assert_eq!(table(&only_f), table(&r)[..1].to_vec());
}

#[tokio::test]
async fn phished_not_retrained() {
    let r = rows("phished-not-retrained", &[]).await;
    assert_eq!(
        table(&r),
        vec![vec![
            json!(account()),
            json!("bob@acme.com"),
            json!("Q1 Password Reset"),
            json!("eNoPhishQ1Reset00001"),
            json!("clicked"),
            json!("2024-02-15T10:00:00Z")
        ]]
    );
}

#[tokio::test]
async fn each_phishing_failure_and_each_assignment_carries_the_mark_its_query_seeks() {
    synced().await;
    let read = |cypher: &'static str| async move {
        sink()
            .await
            .read(neo4rs::query(cypher).param("account", account()))
            .await
            .unwrap()
            .iter()
            .map(|row| {
                row.values()
                    .map(mimecast_graph::sink::bolt::to_json)
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    // A failure is marked; a recipient who did not fail is not.
    let phishing = read(
        "MATCH (u:MimecastUser)-[r:ASSIGNED]->(p:MimecastPhishingCampaign) WHERE r.accountCode = $account \
         RETURN u.email AS a, p.name AS b, r.clicked OR r.submitted AS c, r.awaitingRetraining AS d ORDER BY a, b",
    )
    .await;
    assert_eq!(
        phishing,
        vec![
            vec![
                json!("ann@acme.com"),
                json!("Q1 Password Reset"),
                json!(false),
                Json::Null
            ],
            vec![
                json!("bob@acme.com"),
                json!("Q1 Password Reset"),
                json!(true),
                json!(true)
            ],
            // Carol clicked and submitted on 2024-02-16, and completed a training
            // launched after that.
            vec![
                json!("carol@acme.com"),
                json!("Q1 Password Reset"),
                json!(true),
                json!(false)
            ],
            vec![
                json!("dave@acme.com"),
                json!("Q1 Password Reset"),
                json!(false),
                Json::Null
            ],
        ]
    );
    // `completed` on every training assignment says whether its COMPLETED exists.
    let training = read(
        "MATCH (u:MimecastUser)-[r:ASSIGNED]->(c:MimecastAwarenessCampaign) WHERE r.accountCode = $account \
         RETURN u.email AS a, c.name AS b, r.completed AS c, EXISTS { (u)-[:COMPLETED]->(c) } AS d ORDER BY a, b",
    )
    .await;
    for row in &training {
        assert_eq!(row[2], row[3], "{row:?}");
    }
    let completed = training.iter().filter(|row| row[2] == json!(true)).count();
    // tenant-acme.json: eleven enrollments of internal users, seven with an answer.
    assert_eq!((training.len(), completed), (11, 7), "{training:?}");
}

#[tokio::test]
async fn a_completion_first_seen_after_the_click_counts_as_retraining() {
    // Bob clicked on 2024-02-15. A completion of a campaign launched before that
    // counts only when a later sync first sees it, as here.
    let code = crate::helpers::unique_account("RTR");
    let sim = start_sim(acme_tenant(&code), mimecast_graph::sim::SimOptions::default()).await;
    let config = config_with(vec![acme_connection("acme", &sim)]);
    let params = BTreeMap::from([("account".to_owned(), json!(code))]);
    let flagged = || async {
        let r = run(&sink().await, &def("phished-not-retrained"), &params)
            .await
            .unwrap();
        r.rows
            .iter()
            .map(|row| row[1].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        crate::sync::sync(&config).await.status,
        mimecast_graph::sync::SyncStatus::Success
    );
    assert_eq!(flagged().await, vec!["bob@acme.com"]);

    // Timestamps have second precision: the next sync must be stamped later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut t = acme_tenant(&code);
    let lunch = t
        .training_campaigns
        .iter_mut()
        .find(|c| c["name"] == "Lunch and Learn")
        .unwrap();
    assert_eq!(lunch["launchDate"], "2024-02-01T09:00:00+0000");
    lunch["user_data"].as_array_mut().unwrap().push(json!({
        "email": "bob@acme.com", "name": "Bob Stone", "department": "",
        "results": {"forQuestion1": "CORRECT"}, "acknowledgement": true, "userState": "ACTIVE"
    }));
    sim.set_tenant(t);
    assert_eq!(
        crate::sync::sync(&config).await.status,
        mimecast_graph::sync::SyncStatus::Success
    );
    assert_eq!(flagged().await, Vec::<String>::new());
}

#[tokio::test]
async fn watchlist() {
    let r = rows("watchlist", &[]).await;
    assert_eq!(
        table(&r),
        vec![
            vec![
                json!(account()),
                json!("bob@acme.com"),
                json!("Bob Stone"),
                json!(2),
                json!(1)
            ],
            vec![
                json!(account()),
                json!("carol@acme.com"),
                json!("Carol Diaz"),
                json!(1),
                json!(1)
            ],
        ]
    );
}

#[tokio::test]
async fn unmapped_campaigns() {
    let r = rows("unmapped-campaigns", &[]).await;
    assert_eq!(
        table(&r),
        vec![vec![
            json!(account()),
            json!("Lunch and Learn"),
            json!("eNoTrainingLNL000004"),
            json!("2024-02-01T09:00:00Z")
        ]]
    );
}

#[tokio::test]
async fn stale_sync() {
    let started = synced().await.clone();
    let fresh = rows("stale-sync", &[]).await;
    assert!(fresh.rows.is_empty(), "{:?}", fresh.rows);
    let later = rows("stale-sync", &[("as_of", json!("2100-01-01T00:00:00Z"))]).await;
    assert_eq!(
        table(&later),
        vec![vec![
            json!(account()),
            json!("Acme Health"),
            json!(started),
            json!(started),
            json!("success")
        ]]
    );
}

/// Queries whose rows need data the shared fixture does not hold; the named test
/// runs each with rows, so `run` checks its columns there.
const ROWS_CHECKED_ELSEWHERE: [(&str, &str); 3] = [
    (
        "training-completed-elsewhere",
        "trainings_recorded_elsewhere_meet_requirements_and_show_their_source",
    ),
    (
        "dormant-mailboxes",
        "groups::the_activity_budget_covers_every_mailbox_within_three_syncs",
    ),
    (
        "siem-detections-not-retrained",
        "siem::siem_detections_are_streamed_merged_and_linked_to_users_and_indicators",
    ),
];

/// Every query returns rows for the fixtures (the freshness one when measured from
/// the far future), so `run` checks each result's columns against the header.
#[tokio::test]
async fn every_query_returns_the_columns_it_declares() {
    synced().await;
    let s = sink().await;
    for d in embedded() {
        if ROWS_CHECKED_ELSEWHERE.iter().any(|(id, _)| *id == d.id) {
            continue;
        }
        let mut p = BTreeMap::new();
        p.insert("account".to_owned(), json!(account()));
        if d.id == "stale-sync" {
            p.insert("as_of".to_owned(), json!("2100-01-01T00:00:00Z"));
        }
        let r = run(&s, &d, &p).await.unwrap_or_else(|e| panic!("{}: {e}", d.id));
        assert!(
            !r.rows.is_empty(),
            "{} returned no rows, so its columns went unchecked",
            d.id
        );
        assert!(r.rows.iter().all(|row| row.len() == d.columns.len()));
    }
}

/// A rule's findings, denominator and population; `None` for an informational query.
type Judgement = Option<(usize, u64, String)>;

#[tokio::test]
async fn every_rule_reports_its_findings_of_the_population_it_judged() {
    let mut judged = Vec::new();
    for d in embedded() {
        let params: Vec<(&str, Json)> = if d.id == "stale-sync" {
            vec![("as_of", json!("2100-01-01T00:00:00Z"))]
        } else {
            vec![]
        };
        let r = rows(&d.id, &params).await;
        judged.push((
            d.id.clone(),
            r.judged
                .as_ref()
                .map(|j| (j.findings, j.denominator, j.population.clone())),
        ));
    }
    // The Acme roster: 7 active people (6 in groups requiring 2 categories each), 1
    // terminated; the tenant: 12 users (5 with a SAFE grade, 7 under access review),
    // 4 campaigns with 11 assignments of 6 internal users, 2 phishing failures.
    let expected = [
        ("active-without-account", Some((1, 7, "active people"))),
        (
            "assigned-not-completed",
            Some((4, 6, "users with training assignments")),
        ),
        ("campaign-completion", None),
        (
            "clicked-malicious-not-retrained",
            Some((3, 3, "malicious or blocked link clicks by internal users")),
        ),
        (
            "dormant-mailboxes",
            Some((0, 0, "mailboxes whose activity has been checked")),
        ),
        ("high-risk-safe-score", Some((2, 5, "users with a SAFE score"))),
        ("impersonation-targets", Some((3, 12, "Mimecast users"))),
        (
            "malicious-attachment-recipients",
            Some((2, 3, "attachment results for internal users")),
        ),
        (
            "missing-required-training",
            Some((
                6,
                12,
                "training requirements of active people and of unmatched users (one per person and category)",
            )),
        ),
        ("phished-not-retrained", Some((1, 2, "phishing clicks or submissions"))),
        (
            "real-and-simulated-failures",
            Some((2, 2, "users who failed a phishing simulation")),
        ),
        (
            "siem-detections-not-retrained",
            Some((0, 0, "malicious SIEM detections received by internal users")),
        ),
        ("stale-sync", Some((1, 1, "accounts"))),
        ("sync-history", None),
        ("terminated-with-account", Some((1, 1, "terminated people"))),
        ("training-completed-elsewhere", None),
        ("unmapped-campaigns", Some((1, 4, "training campaigns"))),
        (
            "url-warning-overrides",
            Some((1, 2, "URL Protection warnings shown to internal users")),
        ),
        ("users-without-active-person", Some((2, 7, "reviewed Mimecast users"))),
        ("watchlist", Some((2, 12, "Mimecast users"))),
    ];
    let expected: Vec<(String, Judgement)> = expected
        .into_iter()
        .map(|(id, j)| (id.to_owned(), j.map(|(f, d, p)| (f, d, p.to_owned()))))
        .collect();
    assert_eq!(judged, expected);
}

/// Trainings recorded outside Mimecast (`extra_completions`) count toward requirements
/// and are listed with their source; lines naming nobody, or a category nothing asks
/// for, are noted and not recorded.
#[tokio::test]
async fn trainings_recorded_elsewhere_meet_requirements_and_show_their_source() {
    let account = crate::helpers::unique_account("XTR");
    let sim = start_sim(acme_tenant(&account), mimecast_graph::sim::SimOptions::default()).await;
    let mut connection = acme_connection("acme", &sim);
    connection.compliance.extra_completions = Some(crate::helpers::fixture("extra-completions-acme.csv"));
    let config = config_with(vec![connection]);
    let outcome = crate::sync::sync(&config).await;
    assert_eq!(
        outcome.status,
        mimecast_graph::sync::SyncStatus::Success,
        "{}",
        outcome.human()
    );
    let tenant = &outcome.collection.as_ref().unwrap().tenants[0];
    let step = tenant.steps.iter().find(|s| s.id == "build-extra-completions").unwrap();
    assert_eq!(
        step.notes,
        vec![
            "3 of 5 extra completions recorded (2 person and category pairs)",
            "1 extra completions name no roster person: nobody@acme.com",
            "extra completions of categories no group requires and no campaign covers (not recorded): ai_risk",
        ]
    );
    let s = sink().await;
    let run_for = |id: &'static str, extra: Vec<(&'static str, Json)>| {
        let account = account.clone();
        let s = s.clone();
        async move {
            let mut p: BTreeMap<String, Json> = extra.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            p.insert("account".into(), json!(account));
            run(&s, &def(id), &p).await.unwrap()
        }
    };
    let missing = run_for("missing-required-training", vec![]).await;
    let pairs = |r: &QueryResult| -> Vec<(String, String)> {
        r.rows
            .iter()
            .map(|r| (r[1].as_str().unwrap().to_owned(), r[4].as_str().unwrap().to_owned()))
            .collect()
    };
    // Without the file: Bob secure_code, Carol general, Dave pci_dss, Gina secure_code,
    // Hank general and hipaa. Dave's pci_dss and Hank's hipaa were done elsewhere.
    assert_eq!(
        pairs(&missing),
        vec![
            ("Bob Stone".into(), "secure_code".into()),
            ("Carol Diaz".into(), "general".into()),
            ("Gina Park".into(), "secure_code".into()),
            ("Hank New".into(), "general".into()),
        ]
    );
    let strict = run_for("missing-required-training", vec![("require_pass", json!(true))]).await;
    assert!(!pairs(&strict).contains(&("Hank New".to_owned(), "hipaa".to_owned())));
    let elsewhere = run_for("training-completed-elsewhere", vec![]).await;
    assert_eq!(
        elsewhere.columns,
        vec![
            "account",
            "person",
            "email",
            "category",
            "completedOn",
            "source",
            "required"
        ]
    );
    assert_eq!(
        table(&elsewhere),
        vec![
            vec![
                json!(account),
                json!("Dave Kim"),
                json!("dave@acme.com"),
                json!("pci_dss"),
                json!("2026-02-10T14:30:00Z"),
                json!("Northwind LMS"),
                json!(true)
            ],
            vec![
                json!(account),
                json!("Hank New"),
                json!("hank@acme.com"),
                json!("hipaa"),
                json!("2026-04-01T00:00:00Z"),
                json!("Northwind LMS"),
                json!(true)
            ],
        ]
    );
}
