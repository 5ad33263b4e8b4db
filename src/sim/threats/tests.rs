//! Unit tests of `sim::threats`.

use super::*;
use crate::sim::api::parse_request;

fn click(date: &str, user: &str, scan: &str, route: &str) -> Value {
    json!({"date": date, "userEmailAddress": user, "url": "https://x.example.net/a", "scanResult": scan, "route": route, "action": "block"})
}

fn logs() -> ThreatLogs {
    ThreatLogs {
        url: Logs::new(
            Stream::Url,
            vec![
                click("2026-11-30T10:00:00+0000", "b@acme.com", "malicious", "inbound"),
                click("2026-11-29T10:00:00+0000", "a@acme.com", "clean", "inbound"),
                click("2026-12-01T10:00:00+0000", "c@acme.com", "malicious", "internal"),
                json!({"userEmailAddress": "no-date@acme.com"}),
            ],
        ),
        attachment: Logs::default(),
        impersonation: Logs::new(
            Stream::Impersonation,
            vec![
                json!({"id": "i1", "eventTime": "2026-11-30T08:00:00+0000", "taggedMalicious": true, "senderAddress": "ceo@evil.example.net", "subject": "Wire"}),
                json!({"id": "i2", "eventTime": "2026-11-30T09:00:00+0000", "taggedMalicious": false, "senderAddress": "hr@ok.example.org", "subject": "Hello"}),
            ],
        ),
    }
}

fn now() -> DateTime<Utc> {
    crate::time::parse("2026-12-02T12:00:00Z").unwrap()
}

fn call(e: Endpoint, body: Value) -> Value {
    let req = parse_request(body.to_string().as_bytes()).unwrap();
    let a = answer(&logs(), e, &req, now());
    assert_eq!(a.status, 200);
    serde_json::from_slice(&a.body).unwrap()
}

fn users(r: &Value) -> Vec<&str> {
    r["data"][0]["clickLogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["userEmailAddress"].as_str().unwrap())
        .collect()
}

#[test]
fn a_window_newest_first_by_default_and_oldest_first_on_request() {
    let window = json!({"from": "2026-11-29T00:00:00+0000", "to": "2026-12-01T10:00:00+0000"});
    let r = call(Endpoint::TtpUrlLogs, json!({"data": [window]}));
    assert_eq!(users(&r), vec!["c@acme.com", "b@acme.com", "a@acme.com"]);
    assert_eq!(r["meta"]["pagination"], json!({"pageSize": 3, "totalCount": 3}));
    let mut oldest = window.clone();
    oldest["oldestFirst"] = json!(true);
    let r = call(Endpoint::TtpUrlLogs, json!({"data": [oldest]}));
    assert_eq!(users(&r), vec!["a@acme.com", "b@acme.com", "c@acme.com"]);
    // Both ends are inclusive; the default window is today (nothing on 2 Dec).
    let r = call(
        Endpoint::TtpUrlLogs,
        json!({"data": [{"from": "2026-11-30T10:00:00Z", "to": "2026-11-30T10:00:00Z"}]}),
    );
    assert_eq!(users(&r), vec!["b@acme.com"]);
    let r = call(Endpoint::TtpUrlLogs, json!({"data": []}));
    assert_eq!(r["data"], json!([{"clickLogs": []}]));
}

#[test]
fn filters_and_pages_carry_the_window() {
    let q = json!({"from": "2026-11-01T00:00:00+0000", "to": "2026-12-02T00:00:00+0000", "oldestFirst": true, "scanResult": "malicious"});
    let r = call(
        Endpoint::TtpUrlLogs,
        json!({"meta": {"pagination": {"pageSize": 1}}, "data": [q]}),
    );
    assert_eq!(users(&r), vec!["b@acme.com"]);
    assert_eq!(r["meta"]["pagination"]["totalCount"], 2);
    let next = r["meta"]["pagination"]["next"].as_str().unwrap().to_owned();
    // The token alone carries the window, order and filter.
    let r = call(
        Endpoint::TtpUrlLogs,
        json!({"meta": {"pagination": {"pageSize": 1, "pageToken": next}}}),
    );
    assert_eq!(users(&r), vec!["c@acme.com"]);
    assert!(r["meta"]["pagination"].get("next").is_none());
    assert!(r["meta"]["pagination"].get("previous").is_some());
    let r = call(
        Endpoint::TtpUrlLogs,
        json!({"data": [{"from": "2026-11-01T00:00:00Z", "to": "2026-12-02T00:00:00Z", "route": "internal"}]}),
    );
    assert_eq!(users(&r), vec!["c@acme.com"]);
    let r = call(
        Endpoint::TtpImpersonationLogs,
        json!({"data": [{"from": "2026-11-01T00:00:00Z", "to": "2026-12-02T00:00:00Z", "taggedMalicious": true}]}),
    );
    assert_eq!(r["data"][0]["impersonationLogs"].as_array().unwrap().len(), 1);
    assert_eq!(r["data"][0]["impersonationLogs"][0]["id"], "i1");
    let r = call(
        Endpoint::TtpImpersonationLogs,
        json!({"data": [{"from": "2026-11-01T00:00:00Z", "to": "2026-12-02T00:00:00Z", "searchField": "senderAddress", "query": "HR@"}]}),
    );
    assert_eq!(r["data"][0]["impersonationLogs"][0]["id"], "i2");
    // A token of another endpoint is refused.
    let other = crate::sim::api::encode_token(1, Endpoint::Users, "x");
    let r = call(
        Endpoint::TtpUrlLogs,
        json!({"meta": {"pagination": {"pageToken": other}}}),
    );
    assert_eq!(r["fail"][0]["errors"][0]["code"], "err_invalid_page_token");
}

#[test]
fn bad_parameters_are_fail_entries_naming_the_field() {
    for (data, message) in [
        (json!({"from": "yesterday"}), "from is not a date-time: \"yesterday\""),
        (
            json!({"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"}),
            "from is after to",
        ),
        (json!({"oldestFirst": "yes"}), "oldestFirst is not a boolean: \"yes\""),
        (
            json!({"scanResult": "bad"}),
            "scanResult \"bad\" is not one of all, clean, malicious",
        ),
    ] {
        let r = call(Endpoint::TtpUrlLogs, json!({"data": [data.clone()]}));
        assert_eq!(r["fail"][0]["errors"][0]["code"], "err_validation_invalid", "{data}");
        assert_eq!(r["fail"][0]["errors"][0]["message"], message);
        assert_eq!(r["fail"][0]["key"], data);
    }
}

#[test]
fn generated_logs_are_deterministic_and_aimed_at_the_given_addresses() {
    let internal = ["a@acme.example.com", "b@acme.example.com", "c@acme.example.com"];
    let external = ["x@gmail.com"];
    let until = 1_764_633_600; // 2025-12-02T00:00:00Z
    let make = || generate(&mut SplitMix64::new(9), 40, until, "acme", &internal, &external);
    let (a, b) = (make(), make());
    assert_eq!(a.url, b.url);
    assert_eq!((a.url.len(), a.attachment.len(), a.impersonation.len()), (40, 40, 40));
    for r in &a.url {
        let who = r["userEmailAddress"].as_str().unwrap();
        assert!(internal.contains(&who) || external.contains(&who), "{who}");
        let t = record_time(Stream::Url, r).unwrap();
        assert!((until - 14 * 86_400..=until).contains(&t));
    }
    for r in &a.impersonation {
        assert!(r["id"].as_str().unwrap().starts_with("MTOKEN:eNq"));
        assert!(record_time(Stream::Impersonation, r).is_some());
    }
    for r in &a.attachment {
        assert_eq!(r["fileHash"].as_str().unwrap().len(), 64);
    }
    // Indicators are shared: fewer distinct malicious URLs than malicious clicks.
    let malicious: Vec<&str> = a
        .url
        .iter()
        .filter(|r| r["scanResult"] == "malicious")
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    let distinct: std::collections::BTreeSet<&&str> = malicious.iter().collect();
    assert!(distinct.len() < malicious.len(), "{malicious:?}");
    assert!(a.url.iter().any(|r| r["userEmailAddress"] == "x@gmail.com"));
}
