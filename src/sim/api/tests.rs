//! Unit tests of `sim::api`.

use super::*;
use crate::sim::generate::AWARENESS_TRAINING_PACKAGE;

fn tenant_with_users(n: usize) -> Tenant {
    let users = (0..n)
            .map(|i| json!({"name": format!("U {i}"), "emailAddress": format!("u{i:05}@a.example.com"), "domain": "a.example.com", "alias": false, "addressType": "created_manually", "source": "cloud"}))
            .collect();
    Tenant {
        credentials: vec![],
        account: json!({"accountCode": "CUSA00A000", "packages": ["Mimecast Platform [1033]", AWARENESS_TRAINING_PACKAGE]}),
        domains: vec![
            json!({"id": "eNo1", "domain": "a.example.com"}),
            json!({"id": "eNo2", "domain": "B.example.com"}),
        ],
        users,
        training_campaigns: vec![
            json!({"id": "c1", "name": "HIPAA 101", "user_data": [{"email": "u00001@a.example.com", "results": {"forQuestion1": "SENT"}}]}),
        ],
        phishing_campaigns: vec![json!({"id": "p1", "name": "Q1", "user_data": []})],
        safe_scores: vec![
            json!({"emailAddress": "x@a.example.com", "risk": "B"}),
            json!({"emailAddress": "y@a.example.com", "risk": "F"}),
        ],
        performance: vec![json!({"email": "x@a.example.com", "numCorrect": 1, "userDetails": {}})],
        watchlist: vec![],
        ..Tenant::default()
    }
}

fn call(served: &Served, e: Endpoint, body: Value) -> Value {
    let req = parse_request(body.to_string().as_bytes()).unwrap();
    let a = answer(served, e, &req, true, None);
    assert_eq!(a.status, 200);
    serde_json::from_slice(&a.body).unwrap()
}

#[test]
fn users_page_500_500_234() {
    let served = Served::from(tenant_with_users(1234));
    let mut body = json!({"meta": {"pagination": {"pageSize": 500}}, "data": [{"domain": "a.example.com"}]});
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    for page in 0.. {
        let r = call(&served, Endpoint::Users, body.clone());
        let p = &r["meta"]["pagination"];
        let users = r["data"][0]["users"].as_array().unwrap();
        assert_eq!(r["data"][0]["userCount"], 1234);
        assert_eq!(p["totalCount"], 1234);
        assert_eq!(p["pageSize"], users.len());
        assert_eq!(p.get("previous").is_some(), page > 0);
        sizes.push(users.len());
        seen.extend(users.iter().map(|u| u["emailAddress"].as_str().unwrap().to_owned()));
        match p.get("next").and_then(Value::as_str) {
            // The second page resends data; the third sends only the token.
            Some(next) if page == 0 => body["meta"]["pagination"]["pageToken"] = next.into(),
            Some(next) => body = json!({"meta": {"pagination": {"pageSize": 500, "pageToken": next}}}),
            None => break,
        }
    }
    assert_eq!(sizes, vec![500, 500, 234]);
    let expected: Vec<String> = (0..1234).map(|i| format!("u{i:05}@a.example.com")).collect();
    assert_eq!(seen, expected);
}

#[test]
fn page_size_defaults_and_clamps() {
    let served = Served::from(tenant_with_users(600));
    let size = |meta: Value| {
        let r = call(
            &served,
            Endpoint::Users,
            json!({"meta": meta, "data": [{"domain": "A.example.com"}]}),
        );
        r["meta"]["pagination"]["pageSize"].as_u64().unwrap()
    };
    assert_eq!(size(json!({})), 25);
    assert_eq!(size(json!({"pagination": {"pageSize": 1000}})), 500);
    assert_eq!(size(json!({"pagination": {"pageSize": 0}})), 1);
    assert_eq!(size(json!({"pagination": {"pageSize": "40"}})), 40);
}

#[test]
fn bad_tokens_and_missing_parameters_are_fail_entries() {
    let served = Served::from(tenant_with_users(3));
    let r = call(
        &served,
        Endpoint::Users,
        json!({"meta": {"pagination": {"pageToken": "%%%"}}}),
    );
    assert_eq!(r["fail"][0]["errors"][0]["code"], "err_invalid_page_token");
    assert_eq!(r["data"], json!([]));
    // A token from another endpoint is not valid here.
    let other = encode_token(1, Endpoint::SafeScoreDetails, "");
    let r = call(
        &served,
        Endpoint::Users,
        json!({"meta": {"pagination": {"pageToken": other}}}),
    );
    assert_eq!(r["fail"][0]["errors"][0]["code"], "err_invalid_page_token");
    let r = call(&served, Endpoint::Users, json!({"data": []}));
    assert_eq!(r["fail"][0]["errors"][0]["code"], "err_validation_missing");
    let r = call(&served, Endpoint::TrainingUserData, json!({"data": [{"id": "nope"}]}));
    assert_eq!(r["fail"][0]["errors"][0]["code"], "err_campaign_not_found");
    assert_eq!(r["fail"][0]["key"], json!({"id": "nope"}));
    let r = call(&served, Endpoint::PhishingCampaigns, json!({"data": [{"id": "nope"}]}));
    assert_eq!(r["fail"][0]["errors"][0]["code"], "err_campaign_not_found");
}

#[test]
fn shapes_per_endpoint() {
    let served = Served::from(tenant_with_users(3));
    let r = call(
        &served,
        Endpoint::Domains,
        json!({"data": [{"domain": "b.example.com"}]}),
    );
    assert_eq!(r["data"], json!([{"id": "eNo2", "domain": "B.example.com"}]));
    assert_eq!(r["meta"], json!({"status": 200}));
    assert_eq!(
        call(&served, Endpoint::Domains, json!({}))["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = call(&served, Endpoint::TrainingCampaigns, json!({}));
    assert_eq!(r["data"], json!([{"campaigns": [{"id": "c1", "name": "HIPAA 101"}]}]));
    let r = call(&served, Endpoint::TrainingUserData, json!({"data": [{"id": "c1"}]}));
    assert_eq!(r["data"][0]["items"][0]["email"], "u00001@a.example.com");
    assert_eq!(r["meta"]["pagination"], json!({"pageSize": 1, "totalCount": 1}));
    let r = call(&served, Endpoint::PhishingCampaigns, json!({}));
    assert_eq!(r["data"], json!([{"id": "p1", "name": "Q1"}]));
    let r = call(&served, Endpoint::SafeScoreSummary, json!({}));
    assert_eq!(
        r["data"][0]["scoreCounts"],
        json!({"a": 0, "b": 1, "c": 0, "d": 0, "f": 1})
    );
    let r = call(&served, Endpoint::PerformanceDetails, json!({}));
    assert!(r["data"][0].get("userDetails").is_none());
    let r = call(
        &served,
        Endpoint::PerformanceDetails,
        json!({"data": [{"includeUserDetails": true}]}),
    );
    assert_eq!(r["data"][0]["userDetails"], json!({}));
    // Unknown domain: an empty page, not an error.
    let r = call(
        &served,
        Endpoint::Users,
        json!({"data": [{"domain": "zzz.example.com"}]}),
    );
    assert_eq!(r["data"], json!([{"users": [], "userCount": 0}]));
}

#[test]
fn account_hides_awareness_training_when_unlicensed() {
    let served = Served::from(tenant_with_users(0));
    let req = parse_request(b"").unwrap();
    let r: Value = serde_json::from_slice(&answer(&served, Endpoint::Account, &req, false, None).body).unwrap();
    assert_eq!(r["data"][0]["packages"], json!(["Mimecast Platform [1033]"]));
    let r: Value = serde_json::from_slice(&answer(&served, Endpoint::Account, &req, true, None).body).unwrap();
    assert_eq!(
        r["data"][0]["packages"],
        json!(["Mimecast Platform [1033]", AWARENESS_TRAINING_PACKAGE])
    );
}

#[test]
fn request_bodies() {
    assert!(parse_request(b"").unwrap().data.is_empty());
    assert!(parse_request(b" {} ").unwrap().data.is_empty());
    assert!(parse_request(br#"{"data":[]}"#).unwrap().data.is_empty());
    assert_eq!(parse_request(b"[1]").unwrap_err(), "request body must be a JSON object");
    assert_eq!(
        parse_request(br#"{"data":{}}"#).unwrap_err(),
        "\"data\" must be an array"
    );
    assert!(parse_request(b"{").unwrap_err().starts_with("request body is not JSON"));
}

#[test]
fn envelope_field_order_is_meta_data_fail() {
    let body = envelope(200, None, vec![json!(1)], vec![]);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"meta":{"status":200},"data":[1],"fail":[]}"#
    );
}
