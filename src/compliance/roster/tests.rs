//! Unit tests of `compliance::roster`.

use super::*;

fn aliases() -> BTreeMap<String, String> {
    BTreeMap::from([("acme.co.uk".to_owned(), "acme.com".to_owned())])
}

#[test]
fn parses_people_and_keeps_other_columns() {
    let text = "email,name,status,group,Employee ID,Cost Centre\n\
                    Ann.Lee+hr@Acme.co.uk,\"Lee, Ann\",Active,clinical,E-1,\n\
                    bob@acme.com,Bob,terminated,,E-2,CC9\n\n";
    let people = parse(text, "roster.csv", &aliases()).unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(
        people[0],
        RosterPerson {
            email: "Ann.Lee+hr@Acme.co.uk".into(),
            normalized_email: "ann.lee@acme.com".into(),
            name: "Lee, Ann".into(),
            active: true,
            status: "active".into(),
            group: Some("clinical".into()),
            line: 2,
            extra: BTreeMap::from([("employeeId".to_owned(), "E-1".to_owned())]),
        }
    );
    assert_eq!(people[1].group, None);
    assert!(!people[1].active);
    assert_eq!(people[1].extra["costCentre"], "CC9");
}

#[test]
fn a_missing_column_is_named() {
    let err = parse("email,name,group\na@b.c,A,g\n", "roster.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster roster.csv, line 1: the header has no \"status\" column (required: email, name, status, group)"
    );
}

#[test]
fn an_unknown_status_names_the_line() {
    let err = parse(
        "email,name,status,group\na@b.c,A,active,g\nb@b.c,B,on leave,g\n",
        "r.csv",
        &aliases(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 3: unknown status \"on leave\" for b@b.c; expected active or terminated"
    );
}

#[test]
fn a_duplicate_email_names_both_lines() {
    let text = "email,name,status,group\nann@acme.com,Ann,active,g\nx@acme.com,X,active,g\nANN+old@acme.co.uk,Ann again,active,g\n";
    let err = parse(text, "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 4: ANN+old@acme.co.uk is the same person as line 2 (both normalize to ann@acme.com)"
    );
}

#[test]
fn empty_or_bad_emails_are_refused() {
    let err = parse("email,name,status,group\n,A,active,g\n", "r.csv", &aliases()).unwrap_err();
    assert_eq!(err.to_string(), "roster r.csv, line 2: the email is empty");
    let err = parse("email,name,status,group\nann,A,active,g\n", "r.csv", &aliases()).unwrap_err();
    assert_eq!(err.to_string(), "roster r.csv, line 2: \"ann\" is not an email address");
    let err = parse("email,name,status,group\n+x@acme.com,A,active,g\n", "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 2: \"+x@acme.com\" has nothing before the @ once its +tag is removed"
    );
}

#[test]
fn an_email_holding_a_line_break_or_tab_is_refused() {
    // Found by fuzz/ (target roster): a quoted email spanning lines passed the check
    // for control characters, which lets tabs and line breaks through elsewhere.
    let text = "email,name,status,group\n\"ob@acme.com,Bob,terminated,,E-2,CC9\n\nc@x.org\",B,active,g\n";
    let err = parse(text, "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 2: \"ob@acme.com,Bob,terminated,,E-2,CC9\\n\\nc@x.org\" is not an email address"
    );
    let err = parse(
        "email,name,status,group\n\"a\tb@c.d\",A,active,g\n",
        "r.csv",
        &aliases(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 2: \"a\\tb@c.d\" is not an email address"
    );
}

#[test]
fn lines_are_counted_at_carriage_returns_too() {
    // Found by fuzz/ (target roster): after a header ending in a lone \r, the first
    // person was said to be on line 1, the header's line. A line after a blank
    // one was also given the blank one's number.
    let text =
        "email,name,status,group\rann@acme.com,Ann,active,g\r\nbob@acme.com,Bob,active,g\n\ncy@acme.com,Cy,gone,g\n";
    let err = parse(text, "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 5: unknown status \"gone\" for cy@acme.com; expected active or terminated"
    );
    let people = parse(&text.replace(",gone,", ",active,"), "r.csv", &aliases()).unwrap();
    assert_eq!(people.iter().map(|p| p.line).collect::<Vec<_>>(), vec![2, 3, 5]);
}

#[test]
fn a_column_may_not_take_a_property_the_sink_owns() {
    let err = parse("email,name,status,group,Last Sync On\n", "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 1: column \"Last Sync On\" would become property \"lastSyncOn\", which is taken"
    );
}

#[test]
fn a_ragged_line_is_an_error_with_its_line() {
    let err = parse("email,name,status,group\na@b.c,A,active\n", "r.csv", &aliases()).unwrap_err();
    assert!(err.to_string().starts_with("roster r.csv, line 2: "), "{err}");
}

#[test]
fn reserved_column_names_are_refused() {
    let err = parse("email,name,status,group,Display Name\n", "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 1: column \"Display Name\" would become property \"displayName\", which is taken"
    );
}

#[test]
fn property_names_are_camel_case_identifiers() {
    assert_eq!(property_name("Employee ID"), "employeeId");
    assert_eq!(property_name("employee_id"), "employeeId");
    assert_eq!(property_name("EmployeeNumber"), "employeeNumber");
    assert_eq!(property_name("SSO ID"), "ssoId");
    assert_eq!(property_name("cost_centre"), "costCentre");
    assert_eq!(property_name("2fa"), "c2fa");
    assert_eq!(property_name("  "), "");
}

#[test]
fn every_bad_line_is_reported_and_the_good_ones_kept() {
    let text = "email,name,status,group\n\
                    ann@acme.com,Ann,active,g\n\
                    bob,Bob,active,g\n\
                    cy@acme.com,Cy,retired,g\n\
                    ANN@acme.com,Ann again,active,g\n\
                    dee@acme.com,Dee,active\n\
                    eve@acme.com,Eve,terminated,g\n";
    let checked = parse_all(text, "r.csv", &aliases()).unwrap();
    let emails: Vec<&str> = checked.people.iter().map(|p| p.email.as_str()).collect();
    assert_eq!(emails, vec!["ann@acme.com", "eve@acme.com"]);
    let errors: Vec<String> = checked.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        vec![
            "roster r.csv, line 3: \"bob\" is not an email address".to_owned(),
            "roster r.csv, line 4: unknown status \"retired\" for cy@acme.com; expected active or terminated"
                .to_owned(),
            "roster r.csv, line 5: ANN@acme.com is the same person as line 2 (both normalize to ann@acme.com)"
                .to_owned(),
            "roster r.csv, line 6: the line has 3 fields; the header has 4".to_owned(),
        ]
    );
    // A sync stops at the first.
    assert_eq!(parse(text, "r.csv", &aliases()).unwrap_err().to_string(), errors[0]);
}

#[test]
fn duplicate_headers_are_refused_with_their_columns() {
    let err = parse("email,name,status,group,name\n", "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 1: columns 2 (\"name\") and 5 (\"name\") have the same name"
    );
    let err = parse("email,name,status,Status,group\n", "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 1: columns 3 (\"status\") and 4 (\"Status\") have the same name"
    );
}

#[test]
fn over_long_fields_and_lines_and_control_characters_name_the_line() {
    let long = "x".repeat(MAX_FIELD_BYTES + 1);
    let text = format!("email,name,status,group\na@b.c,A,active,g\nb@b.c,{long},active,g\n");
    let err = parse(&text, "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "roster r.csv, line 3: column \"name\" has {} bytes, more than the 4096 a roster field may have",
            MAX_FIELD_BYTES + 1
        )
    );
    let field = "y".repeat(MAX_FIELD_BYTES);
    let wide = vec![field.as_str(); 17].join(",");
    let header = (0..17).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
    let text = format!("email,name,status,group,{header}\na@b.c,A,active,g,{wide}\n");
    let err = parse(&text, "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 2: the fields of the line have 69645 bytes, more than the 65536 a roster line may have"
    );
    let err = parse("email,name,status,group\na\u{0}x@b.c,A,active,g\n", "r.csv", &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roster r.csv, line 2: column \"email\" holds the control character '\\0'"
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.csv");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(MAX_FILE_BYTES + 1).unwrap();
    let err = read(&path, &aliases()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "roster {} has 268435457 bytes, more than the 268435456 a roster may have; is it the right file?",
            path.display()
        )
    );
}
