//! Unit tests of the schema: the embedded file, parsing errors, keys, generated docs.

use super::*;

#[test]
fn embedded_schema_parses_and_names_every_constant() {
    let s = Schema::parse(SOURCE).unwrap();
    for t in [
        types::ACCOUNT,
        types::DOMAIN,
        types::USER,
        types::AWARENESS_CAMPAIGN,
        types::PHISHING_CAMPAIGN,
        types::TRAINING_CATEGORY,
        types::PERSON,
        types::COMPLIANCE_QUERY,
        types::URL_CLICK,
        types::ATTACHMENT_THREAT,
        types::IMPERSONATION,
        types::URL,
        types::FILE,
        types::SENDER_DOMAIN,
        types::GROUP,
        types::SIEM_DETECTION,
    ] {
        assert!(s.entity(t).is_some(), "{t} missing from graph-schema");
    }
    for r in [
        rels::ACCOUNT_HAS_DOMAIN,
        rels::ACCOUNT_HAS_AWARENESS_CAMPAIGN,
        rels::ACCOUNT_HAS_PHISHING_CAMPAIGN,
        rels::DOMAIN_HAS_USER,
        rels::USER_ASSIGNED_AWARENESS,
        rels::USER_COMPLETED_AWARENESS,
        rels::USER_ASSIGNED_PHISHING,
        rels::CAMPAIGN_COVERS_CATEGORY,
        rels::PERSON_IS_USER,
        rels::PERSON_COMPLETED_CATEGORY,
        rels::USER_CLICKED_URL,
        rels::USER_RECEIVED_ATTACHMENT,
        rels::USER_RECEIVED_IMPERSONATION,
        rels::URL_CLICK_LINKS_TO_URL,
        rels::ATTACHMENT_CARRIES_FILE,
        rels::URL_CLICK_FROM_DOMAIN,
        rels::ATTACHMENT_FROM_DOMAIN,
        rels::IMPERSONATION_FROM_DOMAIN,
        rels::USER_MEMBER_OF_GROUP,
        rels::DOMAIN_MEMBER_OF_GROUP,
        rels::GROUP_CHILD_OF_GROUP,
        rels::USER_RECEIVED_SIEM,
        rels::SIEM_LINKS_TO_URL,
        rels::SIEM_CARRIES_FILE,
        rels::SIEM_FROM_DOMAIN,
    ] {
        assert!(s.relationship(r).is_some(), "{r} missing from graph-schema");
    }
    assert_eq!(s.entities.len(), 16);
    assert_eq!(s.relationships.len(), 25);
}

#[test]
fn labels_follow_the_naming_rules() {
    let s = schema();
    assert_eq!(
        s.entity(types::USER).unwrap().labels(),
        vec!["MimecastUser", "User", "UserAccount"]
    );
    assert_eq!(s.entity(types::PERSON).unwrap().labels(), vec!["Person"]);
    for e in &s.entities {
        if e.entity_type.starts_with("mimecast_") {
            assert!(e.label.starts_with("Mimecast"), "{} label {}", e.entity_type, e.label);
        }
    }
    for r in &s.relationships {
        assert_eq!(r.class, r.class.to_ascii_uppercase(), "{}", r.relationship_type);
    }
}

#[test]
fn bad_schemas_are_refused_with_the_reason() {
    let err = Schema::parse(
        "[[entity]]\ntype='a'\nclass='A'\nlabel='A b'\nkey='a'\nsource=''\ndescription=''\n[entity.properties]\n\n[[relationship]]\ntype='r'\nclass='HAS'\nfrom='a'\nto='a'\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        SchemaError::Invalid("a: label \"A b\" is not an identifier".into())
    );
    let err = Schema::parse(
        "[[entity]]\ntype='a'\nclass='A'\nlabel='A'\nkey='a'\nsource=''\ndescription=''\n[entity.properties]\nx='text'\n[[relationship]]\ntype='r'\nclass='HAS'\nfrom='a'\nto='a'\n",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "a.x: unknown type \"text\"");
    let entity = |extra: &str| {
        format!(
            "[[entity]]\ntype='a'\nclass='A'\nlabel='A'\nkey='a'\nsource=''\ndescription=''\n{extra}\n[entity.properties]\nx='string'\n_o='string'\n[[relationship]]\ntype='r'\nclass='HAS'\nfrom='a'\nto='a'\n"
        )
    };
    assert_eq!(
        Schema::parse(&entity("extra_labels = ['Ok', 'Not ok']"))
            .unwrap_err()
            .to_string(),
        "a: label \"Not ok\" is not an identifier"
    );
    assert_eq!(
        Schema::parse(&entity("indexes = ['y']")).unwrap_err().to_string(),
        "a: index \"y\" must name one of its properties, or several joined by `+`"
    );
    assert_eq!(
        Schema::parse(&entity("indexes = ['x+y']")).unwrap_err().to_string(),
        "a: index \"x+y\" must name one of its properties, or several joined by `+`"
    );
    let ok = Schema::parse(&entity("indexes = ['x', '_o', 'x+_o']\nextra_labels = ['Ok']")).unwrap();
    assert_eq!(ok.entities[0].indexes, ["x", "_o", "x+_o"]);
    assert_eq!(ok.markdown().lines().last(), Some("- `A`: `x`, `_o`, (`x`, `_o`)"));
    assert_eq!(ok.entities[0].labels(), ["A", "Ok"]);
    // Relationship indexes: on a property of the relationship, gathered by class.
    let rel = |indexes: &str, other: &str| {
        format!(
            "[[entity]]\ntype='a'\nclass='A'\nlabel='A'\nkey='a'\nsource=''\ndescription=''\n\
             [entity.properties]\n\
             [[relationship]]\ntype='r'\nclass='HAS'\nfrom='a'\nto='a'\nindexes = {indexes}\n\
             [relationship.properties]\nx='boolean'\ny='string'\n\
             [[relationship]]\ntype='s'\nclass='HAS'\nfrom='a'\nto='a'\nindexes = {other}\n\
             [relationship.properties]\nx='boolean'\nz='string'\n"
        )
    };
    assert_eq!(
        Schema::parse(&rel("['x', 'z']", "[]")).unwrap_err().to_string(),
        "r: index \"z\" must name one of its properties, or several joined by `+`"
    );
    let ok = Schema::parse(&rel("['x', 'y']", "['z', 'x']")).unwrap();
    assert_eq!(ok.relationships[0].indexes, ["x", "y"]);
    let by_class: Vec<(&str, Vec<&str>)> = ok
        .relationship_indexes()
        .into_iter()
        .map(|(c, p)| (c, p.into_iter().collect()))
        .collect();
    assert_eq!(by_class, [("HAS", vec!["x", "y", "z"])]);
}

#[test]
fn generated_docs_match_the_committed_readme() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/graph-schema/README.md");
    let expected = schema().markdown();
    if std::env::var_os("UPDATE_SCHEMA_DOCS").is_some() {
        std::fs::write(path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == expected,
        "graph-schema/README.md is out of date; regenerate it with `mimecast-graph schema docs > graph-schema/README.md` \
         (or UPDATE_SCHEMA_DOCS=1 cargo test schema)"
    );
}

#[test]
fn identifiers() {
    assert!(super::is_identifier("MimecastUser"));
    assert!(super::is_identifier("HAS"));
    assert!(!super::is_identifier("User`) DETACH DELETE n //"));
    assert!(!super::is_identifier(""));
    assert!(!super::is_identifier("1abc"));
}
