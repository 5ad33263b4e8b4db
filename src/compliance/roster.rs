//! The personnel roster: a CSV with `email`, `name`, `status` (active | terminated)
//! and `group`; any other column is kept as a string property. Errors name the line.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::normalize_email;

/// One person of the roster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterPerson {
    /// As written in the roster.
    pub email: String,
    /// The matching form: lowercased, `+tag` removed, domain aliases applied.
    pub normalized_email: String,
    pub name: String,
    pub active: bool,
    pub status: String,
    pub group: Option<String>,
    /// The 1-based line of the CSV file.
    pub line: u64,
    /// Other columns, by property name.
    pub extra: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("cannot read the roster {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("roster {path}, line 1: the header has no {column:?} column (required: email, name, status, group)")]
    MissingColumn { path: String, column: &'static str },
    #[error("roster {path}, line {line}: {message}")]
    Line { path: String, line: u64, message: String },
}

const REQUIRED: [&str; 4] = ["email", "name", "status", "group"];

/// Property names a roster column must not take: the Person's own, and the sink's
/// bookkeeping ([`crate::sink::BOOKKEEPING`]).
const RESERVED: [&str; 13] = [
    "_class",
    "email",
    "name",
    "status",
    "group",
    "active",
    "accountCode",
    "displayName",
    "normalizedEmail",
    "requiredCategories",
    "rosterLine",
    "_key",
    "_type",
];

fn is_reserved(property: &str) -> bool {
    RESERVED.contains(&property) || crate::sink::BOOKKEEPING.contains(&property)
}

/// `Employee ID` to `employeeId`: a column header as a property name.
pub fn property_name(header: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in header.trim().chars() {
        if c.is_ascii_alphanumeric() {
            if out.is_empty() {
                if c.is_ascii_digit() {
                    out.push('c');
                }
                out.push(c.to_ascii_lowercase());
            } else if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = !out.is_empty();
        }
    }
    out
}

/// Reads and checks a roster file.
///
/// # Errors
/// The file cannot be read, a required column is missing, or a line is bad (missing
/// email, unknown status, an email that repeats another line's after normalization).
pub fn read(path: &Path, domain_aliases: &BTreeMap<String, String>) -> Result<Vec<RosterPerson>, RosterError> {
    let text = std::fs::read_to_string(path).map_err(|source| RosterError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string(), domain_aliases)
}

/// Parses roster text; `path` names it in errors.
///
/// # Errors
/// As [`read`].
pub fn parse(
    text: &str,
    path: &str,
    domain_aliases: &BTreeMap<String, String>,
) -> Result<Vec<RosterPerson>, RosterError> {
    let line_error = |line: u64, message: String| RosterError::Line {
        path: path.to_owned(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| line_error(1, format!("cannot read the header: {e}")))?
        .clone();
    let lower: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
    let mut column: HashMap<&str, usize> = HashMap::new();
    for name in REQUIRED {
        let i = lower.iter().position(|h| h == name).ok_or(RosterError::MissingColumn {
            path: path.to_owned(),
            column: name,
        })?;
        column.insert(name, i);
    }
    let mut extras: Vec<(usize, String)> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if REQUIRED.contains(&lower[i].as_str()) {
            continue;
        }
        let prop = property_name(h);
        if prop.is_empty() {
            continue;
        }
        if is_reserved(&prop) || extras.iter().any(|(_, p)| *p == prop) {
            return Err(line_error(
                1,
                format!("column {h:?} would become property {prop:?}, which is taken"),
            ));
        }
        extras.push((i, prop));
    }

    let mut people = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            line_error(line, e.to_string())
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let field = |name: &str| record.get(column[name]).unwrap_or("").trim().to_owned();
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let email = field("email");
        if email.is_empty() {
            return Err(line_error(line, "the email is empty".into()));
        }
        if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
            return Err(line_error(line, format!("{email:?} is not an email address")));
        }
        let status = field("status").to_lowercase();
        let active = match status.as_str() {
            "active" => true,
            "terminated" => false,
            other => {
                return Err(line_error(
                    line,
                    format!("unknown status {other:?} for {email}; expected active or terminated"),
                ))
            }
        };
        let normalized_email = normalize_email(&email, domain_aliases);
        if normalized_email.starts_with('@') {
            return Err(line_error(
                line,
                format!("{email:?} has nothing before the @ once its +tag is removed"),
            ));
        }
        if let Some(first) = seen.insert(normalized_email.clone(), line) {
            return Err(line_error(
                line,
                format!("{email} is the same person as line {first} (both normalize to {normalized_email})"),
            ));
        }
        let group = Some(field("group")).filter(|g| !g.is_empty());
        let extra = extras
            .iter()
            .filter_map(|(i, prop)| {
                let v = record.get(*i).unwrap_or("").trim();
                (!v.is_empty()).then(|| (prop.clone(), v.to_owned()))
            })
            .collect();
        people.push(RosterPerson {
            name: Some(field("name"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| email.clone()),
            email,
            normalized_email,
            active,
            status,
            group,
            line,
            extra,
        });
    }
    Ok(people)
}

#[cfg(test)]
mod tests {
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
                extra: BTreeMap::from([("employeeID".to_owned(), "E-1".to_owned())]),
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
        assert_eq!(property_name("Employee ID"), "employeeID");
        assert_eq!(property_name("cost_centre"), "costCentre");
        assert_eq!(property_name("2fa"), "c2fa");
        assert_eq!(property_name("  "), "");
    }
}
