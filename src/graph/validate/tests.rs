//! Unit tests of `graph::validate`.

use super::*;
use crate::schema::{rels, schema, types};

fn account() -> Entity {
    Entity::new("mimecast_account:C1", types::ACCOUNT, "Account")
        .with("accountCode", "C1")
        .with("displayName", "Acme")
        .with("name", "Acme")
        .with("awarenessTrainingLicensed", true)
        .with("connection", "prod")
}

fn domain(name: &str) -> Entity {
    Entity::new(format!("mimecast_domain:C1:{name}"), types::DOMAIN, "Domain")
        .with("accountCode", "C1")
        .with("displayName", name)
        .with("name", name)
        .with("domain", name)
}

fn has_domain(d: &Entity) -> Relationship {
    Relationship::new(rels::ACCOUNT_HAS_DOMAIN, "HAS", "mimecast_account:C1", &d.key).with("accountCode", "C1")
}

fn store_with(entities: Vec<Entity>, relationships: Vec<Relationship>) -> GraphStore {
    let mut s = GraphStore::new();
    for e in entities {
        let _ = s.add_entity(e);
    }
    for r in relationships {
        let _ = s.add_relationship(r);
    }
    s
}

#[test]
fn a_valid_graph_is_clean_and_untouched() {
    let d = domain("acme.com");
    let mut s = store_with(vec![account(), d.clone()], vec![has_domain(&d)]);
    let report = validate(&mut s, schema());
    assert!(report.is_clean(), "{:?}", report);
    assert_eq!((s.entity_count(), s.relationship_count()), (2, 1));
}

#[test]
fn a_key_with_a_nul_byte_is_removed_with_its_relationships_and_reported() {
    let good = domain("acme.com");
    let bad = domain("ev\u{0}il.com");
    let mut s = store_with(
        vec![account(), good.clone(), bad.clone()],
        vec![has_domain(&good), has_domain(&bad)],
    );
    let report = validate(&mut s, schema());
    assert_eq!(report.count(FindingKind::InvalidKey), 1);
    assert_eq!(
        report.findings[&FindingKind::InvalidKey].samples,
        vec!["mimecast_domain:C1:ev\\0il.com (mimecast_domain) holds a control character"]
    );
    assert_eq!((s.entity_count(), s.relationship_count()), (2, 1));
    assert!(s.entity("mimecast_domain:C1:acme.com").is_some());
    assert_eq!(
        report.affected_in("C1"),
        BTreeSet::from(["mimecast_domain".to_owned(), rels::ACCOUNT_HAS_DOMAIN.to_owned()])
    );
}

#[test]
fn duplicates_are_reported_and_the_first_kept() {
    let d = domain("acme.com");
    let mut s = store_with(vec![account(), d.clone(), d.clone().with("local", true)], vec![]);
    let report = validate(&mut s, schema());
    assert_eq!(report.count(FindingKind::DuplicateKey), 1);
    assert_eq!(
        report.findings[&FindingKind::DuplicateKey].samples,
        vec!["entity mimecast_domain:C1:acme.com (mimecast_domain)"]
    );
    assert_eq!(report.affected_types, BTreeSet::from(["mimecast_domain".to_owned()]));
    // Only the account the duplicate came from is affected.
    assert_eq!(report.affected_in("C1"), BTreeSet::from(["mimecast_domain".to_owned()]));
    assert_eq!(report.affected_in("C2"), BTreeSet::new());
    assert_eq!(s.entity("mimecast_domain:C1:acme.com").unwrap().get("local"), None);
}

#[test]
fn dangling_relationships_are_removed_and_reported() {
    let d = domain("gone.com");
    let mut s = store_with(vec![account()], vec![has_domain(&d)]);
    let report = validate(&mut s, schema());
    assert_eq!(report.count(FindingKind::DanglingRelationship), 1);
    assert_eq!(
            report.findings[&FindingKind::DanglingRelationship].samples[0],
            "mimecast_account:C1|has|mimecast_domain:C1:gone.com (mimecast_account_has_domain): no entity mimecast_domain:C1:gone.com"
        );
    assert_eq!(s.relationship_count(), 0);
    assert!(report.affected_types.contains(rels::ACCOUNT_HAS_DOMAIN));
    assert_eq!(
        report.affected_in("C1"),
        BTreeSet::from([rels::ACCOUNT_HAS_DOMAIN.to_owned()])
    );
    assert_eq!(report.affected_in("OTHER"), BTreeSet::new());
}

#[test]
fn endpoint_types_must_be_allowed() {
    let d = domain("acme.com");
    let wrong =
        Relationship::new(rels::DOMAIN_HAS_USER, "HAS", "mimecast_account:C1", &d.key).with("accountCode", "C1");
    let mut s = store_with(vec![account(), d], vec![wrong]);
    let report = validate(&mut s, schema());
    assert_eq!(report.count(FindingKind::DisallowedEndpoint), 1);
    assert_eq!(
            report.findings[&FindingKind::DisallowedEndpoint].samples[0],
            "mimecast_account:C1|has|mimecast_domain:C1:acme.com joins mimecast_account to mimecast_domain; mimecast_domain_has_user allows mimecast_domain to mimecast_user"
        );
    assert_eq!(s.relationship_count(), 0);
}

#[test]
fn unknown_types_and_classes_are_refused() {
    let odd = Entity::new("x:1", "mimecast_mailbox", "Mailbox");
    let wrong_class = domain("acme.com");
    let wrong_class = Entity {
        class: "Host",
        ..wrong_class
    };
    let mut s = store_with(vec![account(), odd, wrong_class], vec![]);
    let report = validate(&mut s, schema());
    assert_eq!(report.count(FindingKind::UnknownType), 2);
    assert_eq!(s.entity_count(), 1);
}

#[test]
fn required_and_typed_properties_are_enforced() {
    let mut missing = domain("a.com");
    missing.properties.remove("domain");
    let mistyped = domain("b.com").with("sendOnly", "no");
    let bad_date = Entity::new(
        "mimecast_awareness_campaign:C1:1",
        types::AWARENESS_CAMPAIGN,
        "Training",
    )
    .with("accountCode", "C1")
    .with("displayName", "x")
    .with("name", "x")
    .with("id", "1")
    .with("launchDate", "2022-01-11T23:32:00+0000");
    let undeclared = domain("c.com").with("favouriteColour", "blue");
    let d = missing.clone();
    let mut s = store_with(
        vec![account(), missing, mistyped, bad_date, undeclared],
        vec![has_domain(&d)],
    );
    let report = validate(&mut s, schema());
    assert_eq!(report.count(FindingKind::MissingProperty), 1);
    assert_eq!(
        report.findings[&FindingKind::MissingProperty].samples[0],
        "mimecast_domain:C1:a.com: domain (string)"
    );
    assert_eq!(report.count(FindingKind::MistypedProperty), 3);
    assert_eq!(
            report.findings[&FindingKind::MistypedProperty].samples,
            vec![
                "mimecast_domain:C1:b.com: sendOnly is string Str(\"no\"), expected boolean",
                "mimecast_awareness_campaign:C1:1: launchDate is string Str(\"2022-01-11T23:32:00+0000\"), expected datetime",
                "mimecast_domain:C1:c.com: favouriteColour is not declared in graph-schema",
            ]
        );
    // The removed domain takes its HAS relationship with it, and both types are partial.
    assert_eq!(s.entity_count(), 1);
    assert_eq!(s.relationship_count(), 0);
    assert!(report.affected_types.contains(rels::ACCOUNT_HAS_DOMAIN));
    assert!(report.affected_types.contains(types::DOMAIN));
}

#[test]
fn unknown_participants_are_counted_but_leave_types_complete() {
    let mut s = store_with(vec![account()], vec![]);
    s.observe(
        FindingKind::UnknownParticipant,
        rels::USER_ASSIGNED_AWARENESS,
        "mdaum1993@gmail.com in J1 Test Campaign".into(),
    );
    let report = validate(&mut s, schema());
    assert_eq!(report.count(FindingKind::UnknownParticipant), 1);
    assert_eq!(report.defects(), 0);
    assert!(report.affected_types.is_empty());
}

#[test]
fn a_sample_is_kept_once_however_often_it_is_seen() {
    let mut report = IntegrityReport::default();
    for _ in 0..3 {
        report.add(FindingKind::UnknownParticipant, "x@gmail.com".into());
    }
    report.add(FindingKind::UnknownParticipant, "y@gmail.com".into());
    // The same address from another source is the same example.
    report.add(FindingKind::UnknownParticipant, "x@gmail.com (SIEM av)".into());
    report.add(
        FindingKind::UnknownParticipant,
        "y@gmail.com in training campaign \"HIPAA 101\"".into(),
    );
    let mut other = IntegrityReport::default();
    other.add(FindingKind::UnknownParticipant, "x@gmail.com".into());
    report.merge(other);
    assert_eq!(report.count(FindingKind::UnknownParticipant), 7);
    assert_eq!(
        report.findings[&FindingKind::UnknownParticipant].samples,
        vec!["x@gmail.com", "y@gmail.com"]
    );
    assert_eq!(
        report.lines(),
        vec!["unknown_participant: 7 (e.g. x@gmail.com; y@gmail.com)"]
    );
}
