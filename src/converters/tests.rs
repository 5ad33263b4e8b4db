//! Converters on the real recorded responses (API 1.0, 2022), parsed as they are.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use super::*;
use crate::graph::{validate, FindingKind, GraphStore};
use crate::mimecast::records::{CampaignsPage, ItemsPage, UsersPage};
use crate::mimecast::Envelope;
use crate::schema::schema;

fn recording(name: &str) -> Vec<Json> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mimecast-recorded")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Json = serde_json::from_str(&text).unwrap();
    json["exchanges"].as_array().unwrap().clone()
}

fn data<T: DeserializeOwned>(exchange: &Json) -> Vec<T> {
    let env: Envelope<T> = serde_json::from_value(exchange["response_body"].clone()).unwrap();
    assert!(env.fail_errors().is_empty());
    env.data
}

fn exchanges<'a>(all: &'a [Json], path: &'a str) -> impl Iterator<Item = &'a Json> + 'a {
    all.iter().filter(move |e| e["path"] == path)
}

/// Builds the graph from the enrollment recording the way the steps do.
fn recorded_graph() -> GraphStore {
    let all = recording("fetchAwarenessCampaignEnrollmentShouldBuildUserRelationship.json");
    let mut store = GraphStore::new();
    let account: Account = data(exchanges(&all, "/api/account/get-account").next().unwrap()).remove(0);
    let code = account.account_code.clone();
    store.add_entity(super::account(&account, "recorded")).unwrap();
    for d in data::<InternalDomain>(exchanges(&all, "/api/domain/get-internal-domain").next().unwrap()) {
        let e = domain(&code, &d);
        store.add_relationship(account_has_domain(&code, &e.key)).unwrap();
        store.add_entity(e).unwrap();
    }
    for ex in exchanges(&all, "/api/user/get-internal-users") {
        let domain_name = ex["request_body"]["data"][0]["domain"].as_str().unwrap();
        for page in data::<UsersPage>(ex) {
            for u in page.users {
                let e = user(&code, &u);
                store
                    .add_relationship(domain_has_user(&code, &keys::domain(&code, domain_name), &e.key))
                    .unwrap();
                store.add_entity(e).unwrap();
            }
        }
    }
    let campaigns: Vec<TrainingCampaign> = data::<CampaignsPage>(
        exchanges(&all, "/api/awareness-training/campaign/get-campaigns")
            .next()
            .unwrap(),
    )
    .into_iter()
    .flat_map(|p| p.campaigns)
    .collect();
    for c in &campaigns {
        let e = awareness_campaign(&code, c);
        store
            .add_relationship(account_has_awareness_campaign(&code, &e.key))
            .unwrap();
        store.add_entity(e).unwrap();
    }
    for ex in exchanges(&all, "/api/awareness-training/campaign/get-user-data") {
        let id = ex["request_body"]["data"][0]["id"].as_str().unwrap();
        let rows: Vec<CampaignUserData> = data::<ItemsPage<CampaignUserData>>(ex)
            .into_iter()
            .flat_map(|p| p.items)
            .collect();
        let out = enrollments(&code, &keys::awareness_campaign(&code, id), &rows, |k| {
            store.has_entity(k)
        });
        for email in out.unknown {
            store.observe(FindingKind::UnknownParticipant, rels::USER_ASSIGNED_AWARENESS, email);
        }
        for r in out.relationships {
            store.add_relationship(r).unwrap();
        }
    }
    store
}

#[test]
fn recorded_tenant_converts_with_the_real_counts() {
    let mut store = recorded_graph();
    let report = validate(&mut store, schema());

    assert_eq!(report.defects(), 0, "{:?}", report.lines());
    let entities: Vec<(String, usize)> = store.entity_counts().into_iter().collect();
    assert_eq!(
        entities,
        vec![
            ("mimecast_account".to_owned(), 1),
            ("mimecast_awareness_campaign".to_owned(), 4),
            ("mimecast_domain".to_owned(), 3),
            ("mimecast_user".to_owned(), 10),
        ]
    );
    let relationships: Vec<(String, usize)> = store.relationship_counts().into_iter().collect();
    assert_eq!(
        relationships,
        vec![
            ("mimecast_account_has_awareness_campaign".to_owned(), 4),
            ("mimecast_account_has_domain".to_owned(), 3),
            ("mimecast_domain_has_user".to_owned(), 10),
            ("mimecast_user_assigned_awareness_campaign".to_owned(), 4),
            ("mimecast_user_completed_awareness_campaign".to_owned(), 2),
        ]
    );
    // The gmail address is enrolled in all four campaigns, and max.daum@jupiterone.com
    // (not an internal domain) in three: seven enrollments, reported by address.
    assert_eq!(report.count(FindingKind::UnknownParticipant), 7);
    assert_eq!(
        report.findings[&FindingKind::UnknownParticipant].samples[0],
        "max.daum@jupiterone.com"
    );
}

#[test]
fn recorded_completions_carry_exact_answers() {
    let store = recorded_graph();
    let code = "CUSA35A403";
    let max = keys::user(code, "Max.Daum@jupiterone.mime-api.com");
    let completed: Vec<(String, bool, i64, i64)> = store
        .outgoing(&max)
        .into_iter()
        .filter(|r| r.class() == "COMPLETED")
        .map(|r| {
            let name = store.entity(r.to_key()).unwrap().str("name").unwrap().to_owned();
            let int = |k: &str| match r.get(k) {
                Some(Value::Int(i)) => *i,
                other => panic!("{k}: {other:?}"),
            };
            (
                name,
                r.get("passed") == Some(&Value::Bool(true)),
                int("correctAnswers"),
                int("incorrectAnswers"),
            )
        })
        .collect();
    let mut completed = completed;
    completed.sort();
    assert_eq!(
        completed,
        vec![
            ("Another Campaign".to_owned(), false, 0, 1),
            ("J1 Test Campaign".to_owned(), true, 1, 0)
        ]
    );
}

#[test]
fn an_assignment_says_whether_its_completion_exists() {
    let store = recorded_graph();
    let mut flags = (0, 0);
    for r in store
        .relationships()
        .filter(|r| r.relationship_type() == rels::USER_ASSIGNED_AWARENESS)
    {
        let twin = crate::graph::relationship_key(r.from_key(), "COMPLETED", r.to_key());
        let completed = store.relationship(&twin).is_some();
        assert_eq!(r.get("completed"), Some(&Value::Bool(completed)), "{}", r.key());
        if completed {
            flags.0 += 1;
        } else {
            flags.1 += 1;
        }
    }
    // The recorded tenant: two completions among its four enrollments.
    assert_eq!(flags, (2, 2));
}

#[test]
fn a_user_carries_its_open_assignments_oldest_launch_first() {
    let apply = |a: Option<&mut Assignments<'_>>| {
        let mut u = Entity::new("mimecast_user:C1:a@x.com", types::USER, "User");
        apply_assignments(&mut u, a);
        [
            "assignedTrainingCount",
            "openTrainingCount",
            "oldestOpenTrainingLaunch",
            "openTrainings",
            "openTrainingOrder",
        ]
        .map(|p| u.get(p).cloned())
    };
    // Open ones sorted by launch, a campaign without a launch last, names breaking ties.
    let mut a = Assignments {
        assigned: 5,
        open: vec![
            (None, "Undated"),
            (Some("2024-06-01T09:00:00Z"), "PCI"),
            (Some("2024-01-10T09:00:00Z"), "SAF"),
            (Some("2024-06-01T09:00:00Z"), "HIPAA"),
        ],
    };
    assert_eq!(
        apply(Some(&mut a)),
        [
            Some(Value::Int(5)),
            Some(Value::Int(4)),
            Some(Value::from("2024-01-10T09:00:00Z")),
            Some(Value::from(vec![
                "SAF".to_owned(),
                "HIPAA".to_owned(),
                "PCI".to_owned(),
                "Undated".to_owned()
            ])),
            Some(Value::from("2024-01-10T09:00:00Z")),
        ]
    );
    // All answered: counts only; never assigned: zero counts.
    let mut done = Assignments {
        assigned: 2,
        open: vec![],
    };
    assert_eq!(
        apply(Some(&mut done)),
        [Some(Value::Int(2)), Some(Value::Int(0)), None, None, None]
    );
    assert_eq!(
        apply(None),
        [Some(Value::Int(0)), Some(Value::Int(0)), None, None, None]
    );
    // Only undated open campaigns: no oldest launch, and listed after every dated one.
    let mut undated = Assignments {
        assigned: 1,
        open: vec![(None, "Undated")],
    };
    assert_eq!(
        apply(Some(&mut undated)),
        [
            Some(Value::Int(1)),
            Some(Value::Int(1)),
            None,
            Some(Value::from(vec!["Undated".to_owned()])),
            Some(Value::from(UNDATED)),
        ]
    );
    assert!(UNDATED > "9999-12-31T23:59:59Z");
}

#[test]
fn a_phishing_failure_awaits_training_until_one_launched_on_or_after_it() {
    let failure = |props: &[(&str, Value)]| {
        let mut r = Relationship::new(rels::USER_ASSIGNED_PHISHING, "ASSIGNED", "u", "p");
        for (k, v) in props {
            r.set(k, v.clone());
        }
        r
    };
    let mark = |props: &[(&str, Value)], launch: Option<&str>, trained: Option<&str>| {
        let mut r = failure(props);
        mark_retraining(&mut r, launch, trained);
        r.get("awaitingRetraining").cloned()
    };
    let yes = Value::Bool(true);
    let clicked = [("clicked", yes.clone()), ("clickedOn", "2024-03-01T10:00:00Z".into())];
    // Not a failure: left unmarked.
    assert_eq!(
        mark(&[("clicked", Value::Bool(false))], None, Some("2024-01-01T00:00:00Z")),
        None
    );
    // Training launched on or after the click ends the wait; one before does not.
    assert_eq!(
        mark(&clicked, None, Some("2024-03-01T10:00:00Z")),
        Some(Value::Bool(false))
    );
    assert_eq!(mark(&clicked, None, Some("2024-03-01T09:59:59Z")), Some(yes.clone()));
    assert_eq!(mark(&clicked, None, None), Some(yes.clone()));
    // A submission without a click time counts from the submission, then from the
    // phishing launch when no time is known.
    let submitted = [
        ("submitted", yes.clone()),
        ("submittedOn", "2024-05-01T00:00:00Z".into()),
    ];
    assert_eq!(
        mark(&submitted, Some("2024-01-01T00:00:00Z"), Some("2024-04-01T00:00:00Z")),
        Some(yes.clone())
    );
    let untimed = [("clicked", yes.clone())];
    assert_eq!(
        mark(&untimed, Some("2024-01-01T00:00:00Z"), Some("2024-04-01T00:00:00Z")),
        Some(Value::Bool(false))
    );
    // No time at all, or one that does not read: awaiting (the query decides).
    assert_eq!(mark(&untimed, None, Some("2024-04-01T00:00:00Z")), Some(yes.clone()));
    assert_eq!(mark(&untimed, Some("soon"), Some("2024-04-01T00:00:00Z")), Some(yes));
}

#[test]
fn recorded_entities_have_exact_keys_and_properties() {
    let store = recorded_graph();
    let account = store.entity("mimecast_account:CUSA35A403").unwrap();
    assert_eq!(account.str("displayName"), Some("POC - API - JupiterOne"));
    assert_eq!(account.get("awarenessTrainingLicensed"), Some(&Value::Bool(true)));
    assert_eq!(account.get("userCount"), Some(&Value::Int(10)));
    match account.get("packages") {
        Some(Value::StrList(p)) => {
            assert_eq!(p.len(), 20);
            assert_eq!(p[0], "Advanced MTA (Site) [1002]");
        }
        other => panic!("packages: {other:?}"),
    }
    let user = store
        .entity("mimecast_user:CUSA35A403:sam.andrus@jupiterone.mime-api.com")
        .unwrap();
    assert_eq!(user.str("displayName"), Some("Admin account"));
    assert_eq!(user.str("addressType"), Some("created_by_email"));
    assert_eq!(user.str("domain"), Some("jupiterone.mime-api.com"));
    let campaign = store
        .entities()
        .find(|e| e.str("name") == Some("J1 HIPAA Campaign"))
        .unwrap();
    assert_eq!(campaign.str("launchDate"), Some("2022-01-13T18:37:00Z"));
    assert_eq!(campaign.str("moduleTitle"), Some("HIPAA_101"));
    assert_eq!(campaign.get("numSent"), Some(&Value::Int(3)));
    assert_eq!(campaign.get("percentComplete"), Some(&Value::Float(0.0)));
}

#[test]
fn every_recorded_file_parses() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mimecast-recorded");
    let mut parsed = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let all = recording(path.file_name().unwrap().to_str().unwrap());
        for ex in &all {
            let body = &ex["response_body"];
            let env: Envelope<Json> = serde_json::from_value(body.clone()).unwrap();
            if !env.fail_errors().is_empty() {
                parsed += 1;
                continue;
            }
            match ex["path"].as_str().unwrap() {
                "/api/account/get-account" => drop(data::<Account>(ex)),
                "/api/domain/get-internal-domain" => drop(data::<InternalDomain>(ex)),
                "/api/user/get-internal-users" => drop(data::<UsersPage>(ex)),
                "/api/awareness-training/campaign/get-campaigns" => drop(data::<CampaignsPage>(ex)),
                "/api/awareness-training/campaign/get-user-data" => drop(data::<ItemsPage<CampaignUserData>>(ex)),
                other => panic!("unexpected path {other}"),
            }
            parsed += 1;
        }
    }
    assert_eq!(parsed, 35);
}

#[test]
fn recorded_auth_errors_decode_in_both_shapes() {
    let app_id = recording("appId-auth-error.json");
    let env: Envelope<Json> = serde_json::from_value(app_id[0]["response_body"].clone()).unwrap();
    assert_eq!(app_id[0]["status"], 200);
    assert_eq!(env.fail_errors()[0].code, "err_developer_key");
    let app_key = recording("appKey-auth-error.json");
    assert_eq!(app_key[0]["status"], 401);
    let env: Envelope<Json> = serde_json::from_value(app_key[0]["response_body"].clone()).unwrap();
    assert_eq!(env.fail_errors()[0].code, "err_xdk_invalid_signature");
    assert_eq!(env.fail_errors()[0].message, "0004 Invalid Signature");
}

#[test]
fn key_functions_match_the_schema_templates() {
    let render = |entity_type: &str, vars: &[(&str, &str)]| {
        let mut key = schema().entity(entity_type).unwrap().key.clone();
        for (name, value) in vars {
            key = key.replace(&format!("{{{name}}}"), value);
        }
        assert!(!key.contains('{'), "{entity_type}: unfilled template {key}");
        key
    };
    use crate::schema::types as t;
    assert_eq!(keys::account("C1"), render(t::ACCOUNT, &[("accountCode", "C1")]));
    assert_eq!(
        keys::domain("C1", "Acme.COM"),
        render(t::DOMAIN, &[("accountCode", "C1"), ("domain", "acme.com")])
    );
    assert_eq!(
        keys::user("C1", " Ann.Lee@Acme.com"),
        render(t::USER, &[("accountCode", "C1"), ("email", "ann.lee@acme.com")])
    );
    assert_eq!(
        keys::awareness_campaign("C1", "eNo1"),
        render(t::AWARENESS_CAMPAIGN, &[("accountCode", "C1"), ("id", "eNo1")])
    );
    assert_eq!(
        keys::phishing_campaign("C1", "eNo2"),
        render(t::PHISHING_CAMPAIGN, &[("accountCode", "C1"), ("id", "eNo2")])
    );
    assert_eq!(
        keys::training_category("C1", "hipaa"),
        render(t::TRAINING_CATEGORY, &[("accountCode", "C1"), ("category", "hipaa")])
    );
    assert_eq!(
        keys::person("C1", "ann@acme.com"),
        render(t::PERSON, &[("accountCode", "C1"), ("email", "ann@acme.com")])
    );
    assert_eq!(
        keys::compliance_query("builtin", "q1"),
        render(t::COMPLIANCE_QUERY, &[("querySet", "builtin"), ("id", "q1")])
    );
    assert_eq!(
        keys::url_click("C1", "ab12"),
        render(t::URL_CLICK, &[("accountCode", "C1"), ("fingerprint", "ab12")])
    );
    assert_eq!(
        keys::attachment_threat("C1", "ab12"),
        render(t::ATTACHMENT_THREAT, &[("accountCode", "C1"), ("fingerprint", "ab12")])
    );
    assert_eq!(
        keys::impersonation("C1", "MTOKEN:1"),
        render(t::IMPERSONATION, &[("accountCode", "C1"), ("id", "MTOKEN:1")])
    );
    assert_eq!(
        keys::url("C1", " https://x.example.net/A "),
        render(t::URL, &[("accountCode", "C1"), ("url", "https://x.example.net/A")])
    );
    assert_eq!(
        keys::file("C1", "ABCD"),
        render(t::FILE, &[("accountCode", "C1"), ("sha256", "abcd")])
    );
    assert_eq!(
        keys::sender_domain("C1", "Evil.Example.NET"),
        render(
            t::SENDER_DOMAIN,
            &[("accountCode", "C1"), ("domain", "evil.example.net")]
        )
    );
}

#[test]
fn ttp_records_become_findings_with_ocsf_attributes_and_shared_indicators() {
    use crate::converters::threats as th;
    use crate::mimecast::records::{AttachmentLog, ImpersonationLog, UrlClickLog};
    let is_user = |k: &str| k == "mimecast_user:C1:ann@acme.com";
    let click: UrlClickLog = serde_json::from_value(serde_json::json!({
        "userEmailAddress": "Ann@Acme.com", "url": "https://bad.example.net/login", "date": "2026-11-30T10:00:00+0000",
        "messageId": "<m1@bad.example.net>", "scanResult": "malicious", "action": "warn", "userOverride": "Continue",
        "fromUserEmailAddress": "hr@Bad.Example.net"
    }))
    .unwrap();
    let c = th::url_click("C1", &click, &is_user).unwrap();
    let fp = th::fingerprint(&[
        "<m1@bad.example.net>",
        "ann@acme.com",
        "https://bad.example.net/login",
        "2026-11-30T10:00:00Z",
    ]);
    assert_eq!(fp.len(), 32);
    assert_eq!(c.finding.key, format!("mimecast_url_click:C1:{fp}"));
    assert_eq!(c.finding.class, "Finding");
    let p = |k: &str| c.finding.get(k).cloned();
    assert_eq!(p("severityId"), Some(Value::Int(4)));
    assert_eq!(p("severity"), Some(Value::from("High")));
    assert_eq!(p("classUid"), Some(Value::Int(2004)));
    assert_eq!(p("typeUid"), Some(Value::Int(200_401)));
    assert_eq!(p("activityId"), Some(Value::Int(1)));
    assert_eq!(p("time"), Some(Value::Int(1_796_032_800_000)));
    assert_eq!(p("findingUid"), Some(Value::from(c.finding.key.as_str())));
    assert_eq!(
        p("title"),
        Some(Value::from("URL Protection: malicious link, warn (user continued)"))
    );
    assert_eq!(p("product"), Some(Value::from("Mimecast URL Protection")));
    assert_eq!(p("overridden"), Some(Value::Bool(true)));
    assert_eq!(p("senderDomain"), Some(Value::from("bad.example.net")));
    let link = c.link.unwrap();
    assert_eq!(
        (link.from_key(), link.to_key(), link.class()),
        ("mimecast_user:C1:ann@acme.com", c.finding.key.as_str(), "CLICKED")
    );
    assert_eq!(c.unknown, None);

    let att: AttachmentLog = serde_json::from_value(serde_json::json!({
        "recipientAddress": "x@gmail.com", "date": "2026-11-30T11:00:00+0000", "fileHash": "ABCD", "result": "malicious",
        "fileName": "a.exe", "senderAddress": "ap@bad.example.net"
    }))
    .unwrap();
    let a = th::attachment("C1", &att, &is_user).unwrap();
    assert!(a.link.is_none());
    assert_eq!(a.unknown.as_deref(), Some("x@gmail.com"));
    assert_eq!(a.finding.get("fileHash"), Some(&Value::from("abcd")));

    let imp: ImpersonationLog = serde_json::from_value(serde_json::json!({
        "id": "MTOKEN:1", "recipientAddress": "ann@acme.com", "eventTime": "2026-11-29T09:00:00+0000",
        "taggedMalicious": false, "senderAddress": "ceo@bad.example.net", "action": "None"
    }))
    .unwrap();
    let i = th::impersonation("C1", &imp, &is_user).unwrap();
    assert_eq!(i.finding.key, "mimecast_impersonation:C1:MTOKEN:1");
    assert_eq!(i.finding.get("severityId"), Some(&Value::Int(2)));
    let no_date: UrlClickLog =
        serde_json::from_value(serde_json::json!({"userEmailAddress": "a@b.c", "url": "https://x"})).unwrap();
    assert_eq!(
        th::url_click("C1", &no_date, &is_user).err().as_deref(),
        Some("a URL click without a date")
    );

    // One sender domain for all three, seen last at the latest event.
    let (nodes, links) = th::indicators("C1", &[&c.finding, &a.finding, &i.finding]);
    let keys: Vec<&str> = nodes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "mimecast_file:C1:abcd",
            "mimecast_sender_domain:C1:bad.example.net",
            "mimecast_url:C1:https://bad.example.net/login"
        ]
    );
    assert_eq!(nodes[1].get("lastSeenOn"), Some(&Value::from("2026-11-30T11:00:00Z")));
    assert_eq!(nodes[2].get("host"), Some(&Value::from("bad.example.net")));
    let types: Vec<&str> = links.iter().map(|l| l.relationship_type()).collect();
    assert_eq!(links.len(), 5, "{types:?}");
}
