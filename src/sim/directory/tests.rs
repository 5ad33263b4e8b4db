//! Unit tests of `sim::directory`.

use super::*;
use crate::sim::api::parse_request;

fn call(dir: &Directory, e: Endpoint, body: Value) -> Value {
    let req = parse_request(body.to_string().as_bytes()).unwrap();
    let a = answer(dir, e, &req);
    assert_eq!(a.status, 200);
    serde_json::from_slice(&a.body).unwrap()
}

fn people() -> Vec<(String, String, &'static str)> {
    (0..40)
        .map(|i| {
            let dept = ["Finance", "Engineering", "Sales"][i % 3];
            (format!("P {i}"), format!("p{i:02}@a.example.com"), dept)
        })
        .collect()
}

fn generated(groups: usize, activity: usize) -> Generated {
    let p = people();
    let members: Vec<Member<'_>> = p
        .iter()
        .map(|(n, e, d)| Member {
            name: n,
            email: e,
            department: d,
        })
        .collect();
    let ext = [Member {
        name: "X",
        email: "x@gmail.example",
        department: "",
    }];
    let mut rng = SplitMix64::new(5);
    generate(
        &mut rng,
        groups,
        activity,
        1_764_633_600,
        &members,
        &ext,
        &["a.example.com".to_owned()],
    )
}

#[test]
fn generated_groups_have_the_documented_structure_and_counts() {
    let g = generated(12, 0);
    let names: Vec<&str> = g.groups.iter().map(|g| g["description"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "All Staff",
            "Engineering",
            "Finance",
            "Sales",
            "Directory Sync",
            "VPN Users",
            "Contractors",
            "Mail Domains",
            "Legacy Distribution",
            "Projects",
            "Project 1",
            "Project 2"
        ]
    );
    let by = |n: &str| g.groups.iter().find(|g| g["description"] == n).unwrap();
    assert_eq!(by("All Staff")["folderCount"], 3);
    assert_eq!(by("Directory Sync")["source"], "ldap");
    assert_eq!(by("Engineering")["userCount"], 13);
    assert_eq!(by("Engineering")["parentId"], by("All Staff")["id"]);
    assert_eq!(by("Legacy Distribution")["userCount"], 6);
    assert_eq!(by("Legacy Distribution")["members"].as_array().unwrap().len(), 4);
    assert_eq!(by("Contractors")["members"][0]["internal"], false);
    assert!(by("Mail Domains")["members"][0].get("emailAddress").is_none());
}

#[test]
fn find_groups_filters_by_source_and_pages_and_members_page() {
    let g = generated(12, 0);
    let dir = Directory::new(g.groups, Vec::new());
    let ldap = call(&dir, Endpoint::FindGroups, json!({"data": [{"source": "ldap"}]}));
    let names: Vec<&str> = ldap["data"][0]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["description"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Directory Sync", "VPN Users", "Contractors"]);
    assert!(ldap["data"][0]["folders"][0].get("members").is_none());
    let first = call(
        &dir,
        Endpoint::FindGroups,
        json!({"meta": {"pagination": {"pageSize": 5}}, "data": [{"source": "cloud"}]}),
    );
    assert_eq!(first["data"][0]["folders"].as_array().unwrap().len(), 5);
    assert_eq!(first["meta"]["pagination"]["totalCount"], 9);
    let next = first["meta"]["pagination"]["next"].as_str().unwrap();
    let second = call(
        &dir,
        Endpoint::FindGroups,
        json!({"meta": {"pagination": {"pageSize": 5, "pageToken": next}}}),
    );
    assert_eq!(second["data"][0]["folders"].as_array().unwrap().len(), 4);
    assert!(second["meta"]["pagination"].get("next").is_none());

    let eng = first["data"][0]["folders"][1]["id"].as_str().unwrap().to_owned();
    let m = call(
        &dir,
        Endpoint::GroupMembers,
        json!({"meta": {"pagination": {"pageSize": 10}}, "data": [{"id": eng}]}),
    );
    assert_eq!(m["data"][0]["groupMembers"].as_array().unwrap().len(), 10);
    assert_eq!(m["meta"]["pagination"]["totalCount"], 13);
    let missing = call(&dir, Endpoint::GroupMembers, json!({"data": [{"id": "nope"}]}));
    assert_eq!(missing["fail"][0]["errors"][0]["code"], "err_folder_not_found");
}

#[test]
fn message_finder_needs_one_criterion_and_finds_by_sender_in_the_window() {
    let g = generated(0, 3);
    assert!(g.groups.is_empty());
    let dir = Directory::new(Vec::new(), g.tracked_emails.clone());
    let window = json!({"start": "2025-10-01T00:00:00+0000", "end": "2025-12-02T00:00:00+0000"});
    let mut body = window.clone();
    body["advancedTrackAndTraceOptions"] = json!({"from": "P00@A.example.com"});
    let r = call(&dir, Endpoint::MessageFinder, json!({"data": [body]}));
    let found = r["data"][0]["trackedEmails"].as_array().unwrap();
    let expected = g
        .tracked_emails
        .iter()
        .filter(|m| m["fromEnv"]["emailAddress"] == "p00@a.example.com")
        .count();
    assert_eq!(found.len(), expected);
    assert!(r["meta"].get("pagination").is_none());
    let times: Vec<i64> = found.iter().map(|m| message_time(m).unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let mut both = window.clone();
    both["messageId"] = json!("sim-msg-00000001");
    both["advancedTrackAndTraceOptions"] = json!({"from": "p00@a.example.com"});
    let r = call(&dir, Endpoint::MessageFinder, json!({"data": [both]}));
    assert_eq!(r["fail"][0]["errors"][0]["code"], "err_validation_invalid_request");
    let r = call(&dir, Endpoint::MessageFinder, json!({"data": [window]}));
    assert_eq!(r["fail"][0]["errors"][0]["code"], "err_validation_invalid_request");
}
