//! The roster parser on any text. The first line of the input is the domain aliases
//! (`alias=primary` pairs separated by `;`), the rest is the CSV.
//!
//! Invariants, for a roster that parses: normalized emails are unique; each is what
//! `normalize_email` makes of the person's email, and normalizing it again changes
//! nothing (when no primary domain is itself an alias); an email has an `@` with
//! something on both sides and no control character (it becomes a graph key);
//! status is `active` or `terminated` and `active` agrees; the name is never empty;
//! lines increase and each is a line that is not blank; extra properties are named,
//! not reserved, and hold trimmed, non-empty values within the field limit.
#![no_main]

use std::collections::{BTreeMap, HashSet};

use libfuzzer_sys::fuzz_target;
use mimecast_graph::compliance::normalize_email;
use mimecast_graph::compliance::roster::{parse, MAX_FIELD_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (alias_line, csv) = text.split_once('\n').unwrap_or((text, ""));
    // What the config's validate() lets through: a domain to a non-empty domain, with
    // no '@' and no control character.
    let domain = |d: &str| !d.contains('@') && !d.chars().any(char::is_control);
    let aliases: BTreeMap<String, String> = alias_line
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(a, p)| domain(a) && domain(p) && !p.is_empty())
        .map(|(a, p)| (a.to_owned(), p.to_owned()))
        .collect();
    let Ok(people) = parse(csv, "fuzz.csv", &aliases) else {
        return;
    };

    let chained = aliases
        .values()
        .any(|p| aliases.keys().any(|a| a.eq_ignore_ascii_case(&p.to_lowercase())));
    let physical: Vec<&str> = csv
        .trim_start_matches('\u{feff}')
        .split("\r\n")
        .flat_map(|l| l.split(['\r', '\n']))
        .collect();
    let mut seen = HashSet::new();
    let mut last_line = 1;
    for p in &people {
        assert!(
            seen.insert(p.normalized_email.clone()),
            "{} repeats",
            p.normalized_email
        );
        assert_eq!(p.normalized_email, normalize_email(&p.email, &aliases));
        if !chained {
            assert_eq!(normalize_email(&p.normalized_email, &aliases), p.normalized_email);
        }
        let (local, domain) = p.email.rsplit_once('@').expect("an email has an @");
        assert!(!local.is_empty() && !domain.is_empty(), "{:?}", p.email);
        assert!(!p.normalized_email.starts_with('@'), "{:?}", p.normalized_email);
        for email in [&p.email, &p.normalized_email] {
            assert!(!email.chars().any(char::is_control), "control character in {email:?}");
        }
        assert_eq!(p.active, p.status == "active");
        assert!(p.active || p.status == "terminated", "{:?}", p.status);
        assert!(!p.name.is_empty());
        assert!(p.line > last_line, "line {} after {last_line}", p.line);
        let start = physical.get(usize::try_from(p.line).unwrap() - 1).copied();
        assert!(
            start.is_some_and(|l| !l.trim().is_empty()),
            "line {} is {start:?}",
            p.line
        );
        last_line = p.line;
        for (prop, value) in &p.extra {
            assert!(!prop.is_empty());
            assert!(!["email", "name", "status", "group", "active", "normalizedEmail"].contains(&prop.as_str()));
            assert!(
                !value.is_empty() && value.trim() == value && value.len() <= MAX_FIELD_BYTES,
                "{value:?}"
            );
        }
    }
});
