//! Unit tests of the tenant generator.

use super::*;
use std::collections::HashSet;

fn emails(list: &[Value], key: &str) -> Vec<String> {
    list.iter().map(|v| str_field(v, key).to_owned()).collect()
}

#[test]
fn spec_parses_with_defaults_and_names_bad_parts() {
    assert_eq!("".parse::<GenerateSpec>().unwrap(), GenerateSpec::default());
    let s: GenerateSpec = "users=100000, domains=5,campaigns=20,phishing=10,seed=7"
        .parse()
        .unwrap();
    assert_eq!(
        s,
        GenerateSpec {
            users: 100_000,
            domains: 5,
            campaigns: 20,
            phishing: 10,
            seed: 7,
            ..GenerateSpec::default()
        }
    );
    assert_eq!(s.to_string().parse::<GenerateSpec>().unwrap(), s);
    assert_eq!(
        "users=10,colour=blue".parse::<GenerateSpec>().unwrap_err().to_string(),
        "unknown key \"colour\" in generate spec (known: users, domains, campaigns, phishing, seed, threats, groups, activity, siem, until)"
    );
    let t: GenerateSpec = "users=20,threats=30,until=1764633600".parse().unwrap();
    assert_eq!((t.threats, t.until), (30, Some(1_764_633_600)));
    assert_eq!(
        t.to_string(),
        "users=20,domains=2,campaigns=4,phishing=2,seed=1,threats=30,until=1764633600"
    );
    let g = generate(&t);
    assert_eq!(
        (g.url_logs.len(), g.attachment_logs.len(), g.impersonation_logs.len()),
        (30, 30, 30)
    );
    g.validate().unwrap();
    // Without threats the tenant is what it always was: no TTP sections written.
    let plain = serde_json::to_value(generate(&GenerateSpec::default())).unwrap();
    assert!(plain.get("url_logs").is_none() && plain.get("missing_permissions").is_none());
    assert_eq!(
        "users=-3".parse::<GenerateSpec>().unwrap_err(),
        SpecError::BadNumber {
            key: "users".into(),
            value: "-3".into()
        }
    );
    assert_eq!(
        "seed".parse::<GenerateSpec>().unwrap_err(),
        SpecError::NotKeyValue("seed".into())
    );
    assert_eq!("domains=0".parse::<GenerateSpec>().unwrap_err(), SpecError::NoDomain);
}

#[test]
fn dates_match_chrono() {
    for offset in [
        0,
        59,
        86_399,
        86_400,
        40 * 86_400 + 3723,
        424 * 86_400,
        800 * 86_400 + 1,
        -86_400,
    ] {
        let expected = chrono::DateTime::from_timestamp(EPOCH + offset, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S+0000")
            .to_string();
        assert_eq!(date(offset), expected, "{offset}");
    }
    assert_eq!(date(0), "2023-01-02T00:00:00+0000");
}

#[test]
fn same_seed_is_byte_identical_and_seeds_differ() {
    let spec = GenerateSpec::default();
    let a = serde_json::to_vec(&generate(&spec)).unwrap();
    let b = serde_json::to_vec(&generate(&spec)).unwrap();
    assert_eq!(a, b);
    let c = serde_json::to_vec(&generate(&GenerateSpec { seed: 2, ..spec })).unwrap();
    assert_ne!(a, c);
}

#[test]
fn counts_match_the_spec() {
    let spec = GenerateSpec {
        users: 300,
        domains: 3,
        campaigns: 12,
        phishing: 3,
        seed: 9,
        ..GenerateSpec::default()
    };
    let t = generate(&spec);
    t.validate().unwrap();
    assert_eq!(t.domains.len(), 3);
    let primary = str_field(&t.domains[0], "domain");
    assert!(primary.ends_with(".example.com") && !primary.contains('-'), "{primary}");
    assert!(str_field(&t.domains[2], "domain").ends_with("-3.example.com"));
    let aliases = t.users.iter().filter(|u| u["alias"] == true).count();
    assert_eq!(t.users.len(), 300 + aliases + 2 * 3);
    assert_eq!(t.account["userCount"], t.users.len());
    assert!(t.account["packages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == AWARENESS_TRAINING_PACKAGE));
    let code = t.account_code().unwrap();
    assert!(code.len() == 10 && code.starts_with("CUSA"), "{code}");
    for d in &t.domains {
        let d = str_field(d, "domain");
        let dir = emails(&t.users, "emailAddress");
        assert!(dir.contains(&format!("abuse@{d}")) && dir.contains(&format!("postmaster@{d}")));
    }
    assert_eq!(t.training_campaigns.len(), 12);
    assert_eq!(str_field(&t.training_campaigns[1], "name"), "HIPAA 101");
    assert_eq!(str_field(&t.training_campaigns[11], "name"), "HIPAA 101 2");
    assert_eq!(t.phishing_campaigns.len(), 3);
    assert!(str_field(&t.training_campaigns[0], "id").starts_with("eNq"));
    assert!(str_field(&t.domains[0], "id").starts_with("eNo"));
    assert_eq!(
        str_field(&t.training_campaigns[0], "launchDate").len(),
        "2024-05-01T09:00:00+0000".len()
    );
    assert!(str_field(&t.training_campaigns[0], "launchDate").ends_with("+0000"));
    for s in &t.safe_scores {
        assert!(["A", "B", "C", "D", "F"].contains(&str_field(s, "risk")));
    }
    assert!(t.safe_scores.len() > 240 && t.safe_scores.len() < 300);
    assert!(!t.performance.is_empty() && !t.watchlist.is_empty());
    assert_eq!(t.credentials.len(), 1);
    assert!(
        matches!(&t.credentials[0], Credential::OAuth2 { client_id, client_secret }
        if client_id == DEFAULT_CLIENT_ID && client_secret == DEFAULT_CLIENT_SECRET)
    );
}

#[test]
fn enrollments_mix_case_and_include_outsiders() {
    let t = generate(&GenerateSpec::default());
    let directory: HashSet<String> = emails(&t.users, "emailAddress").into_iter().collect();
    let internal: HashSet<String> = t.domains.iter().map(|d| str_field(d, "domain").to_owned()).collect();
    let mut mixed = 0;
    for c in t.training_campaigns.iter().chain(&t.phishing_campaigns) {
        let rows = c["user_data"].as_array().unwrap();
        let outside: Vec<&str> = rows
            .iter()
            .map(|r| str_field(r, "email"))
            .filter(|e| !internal.contains(&e.rsplit_once('@').unwrap().1.to_ascii_lowercase()))
            .collect();
        assert_eq!(outside.len(), external_addresses(50), "{outside:?}");
        assert!(outside.iter().any(|e| e.to_ascii_lowercase().ends_with("@gmail.com")));
        for r in rows {
            let e = str_field(r, "email");
            if e != e.to_ascii_lowercase() {
                assert!(directory.contains(&e.to_ascii_lowercase()), "{e}");
                mixed += 1;
            }
        }
    }
    assert!(mixed > 0);
}

#[test]
fn training_aggregates_match_user_data() {
    let t = generate(&GenerateSpec {
        users: 400,
        ..GenerateSpec::default()
    });
    for c in &t.training_campaigns {
        let rows = c["user_data"].as_array().unwrap();
        let people = 400.0 + 2.0;
        assert!(
            rows.len() as f64 >= 0.2 * people && rows.len() as f64 <= 0.95 * people,
            "{}",
            rows.len()
        );
        let done: Vec<&Value> = rows
            .iter()
            .filter(|r| r["results"].as_object().unwrap().values().any(|v| v != "SENT"))
            .collect();
        assert!(!done.is_empty() && done.len() < rows.len());
        let questions = c["title"]["correctAnswers"].as_object().unwrap().len();
        assert!((1..=4).contains(&questions));
        let answers: Vec<&Value> = done
            .iter()
            .flat_map(|r| r["results"].as_object().unwrap().values())
            .collect();
        let correct = answers.iter().filter(|v| **v == "CORRECT").count() as u64;
        assert_eq!(c["numSent"], rows.len());
        assert_eq!(c["numCompleted"], done.len());
        assert_eq!(c["percentComplete"], percent(done.len() as u64, rows.len() as u64));
        assert_eq!(c["percentCorrect"], percent(correct, answers.len() as u64));
        for q in 1..=questions {
            let key = format!("forQuestion{q}");
            let n = rows.iter().filter(|r| r["results"][&key] == "CORRECT").count();
            assert_eq!(c["numCorrectAnswers"][&key], n);
        }
    }
}

#[test]
fn phishing_times_follow_status() {
    let t = generate(&GenerateSpec {
        users: 400,
        phishing: 3,
        ..GenerateSpec::default()
    });
    for c in &t.phishing_campaigns {
        let rows = c["user_data"].as_array().unwrap();
        let at_least = |s: &[&str]| rows.iter().filter(|r| s.contains(&str_field(r, "status"))).count();
        assert_eq!(c["numSent"], rows.len());
        assert_eq!(c["numOpened"], at_least(&["opened", "clicked", "submitted"]));
        assert_eq!(c["numClicked"], at_least(&["clicked", "submitted"]));
        assert_eq!(c["numSubmitted"], at_least(&["submitted"]));
        assert_eq!(
            c["numReported"],
            rows.iter().filter(|r| !r["timeReported"].is_null()).count()
        );
        for r in rows {
            let s = str_field(r, "status");
            assert_eq!(r["timeOpened"].is_null(), s == "sent");
            assert_eq!(r["timeClicked"].is_null(), s == "sent" || s == "opened");
            assert_eq!(r["timeSubmitted"].is_null(), s != "submitted");
            assert_eq!(r["clickedIp"].is_null(), r["timeClicked"].is_null());
            if !r["timeClicked"].is_null() {
                assert!(str_field(r, "timeClicked") > str_field(r, "timeOpened"));
            }
        }
    }
}
