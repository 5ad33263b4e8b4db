//! Trainings done where the Mimecast API cannot see them (`[compliance]
//! extra_completions`): a CSV with `email`, `category`, `completed_on` and `source`,
//! one completion per line. Mimecast's API lists only global training campaigns, so a
//! targeted campaign or another LMS is recorded here, and counts toward requirements.

use std::collections::BTreeMap;
use std::path::Path;

use super::normalize_email;
use crate::config::TRAINING_CATEGORIES;

/// One recorded completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraCompletion {
    /// As written.
    pub email: String,
    /// The matching form, as for the roster.
    pub normalized_email: String,
    pub category: String,
    /// ISO 8601 UTC (`2026-03-01T00:00:00Z`; a date alone is its midnight UTC).
    pub completed_on: String,
    pub source: String,
    /// The 1-based line of the CSV file.
    pub line: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CompletionsError {
    #[error("cannot read the extra completions {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("extra completions {path} has {bytes} bytes, more than the {max} it may have; is it the right file?", max = MAX_FILE_BYTES)]
    TooLarge { path: String, bytes: u64 },
    #[error("extra completions {path}, line 1: the header has no {column:?} column (required: email, category, completed_on, source)")]
    MissingColumn { path: String, column: &'static str },
    #[error("extra completions {path}, line {line}: {message}")]
    Line { path: String, line: u64, message: String },
}

const REQUIRED: [&str; 4] = ["email", "category", "completed_on", "source"];
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The completions of a file and the problems of its bad lines, in line order.
#[derive(Debug, Default)]
pub struct Checked {
    pub completions: Vec<ExtraCompletion>,
    pub errors: Vec<CompletionsError>,
}

/// Reads the file, checking every line (`config check` lists every problem; a sync
/// refuses a file with any).
///
/// # Errors
/// The file cannot be read, or its header is unusable.
pub fn read_all(path: &Path, domain_aliases: &BTreeMap<String, String>) -> Result<Checked, CompletionsError> {
    let shown = path.display().to_string();
    let read_error = |source| CompletionsError::Read {
        path: shown.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_FILE_BYTES {
        return Err(CompletionsError::TooLarge {
            path: shown,
            bytes: size,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    parse_all(text.trim_start_matches('\u{feff}'), &shown, domain_aliases)
}

/// [`read_all`], failing on the first bad line.
///
/// # Errors
/// As [`read_all`], or the first bad line.
pub fn read(path: &Path, domain_aliases: &BTreeMap<String, String>) -> Result<Vec<ExtraCompletion>, CompletionsError> {
    let checked = read_all(path, domain_aliases)?;
    match checked.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(checked.completions),
    }
}

fn parse_all(text: &str, path: &str, aliases: &BTreeMap<String, String>) -> Result<Checked, CompletionsError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| CompletionsError::Line {
            path: path.to_owned(),
            line: 1,
            message: e.to_string(),
        })?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let mut columns = [0usize; 4];
    for (slot, name) in columns.iter_mut().zip(REQUIRED) {
        *slot = header
            .iter()
            .position(|h| h == name)
            .ok_or(CompletionsError::MissingColumn {
                path: path.to_owned(),
                column: name,
            })?;
    }
    let mut out = Checked::default();
    for record in reader.records() {
        let (line, result) = match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line());
                (line, completion(&r, columns, aliases, line))
            }
            Err(e) => (
                e.position().map_or(0, |p| p.line()),
                Err(format!("not a CSV record: {e}")),
            ),
        };
        match result {
            Ok(c) => out.completions.push(c),
            Err(message) => out.errors.push(CompletionsError::Line {
                path: path.to_owned(),
                line,
                message,
            }),
        }
    }
    Ok(out)
}

fn completion(
    r: &csv::StringRecord,
    [email, category, completed_on, source]: [usize; 4],
    aliases: &BTreeMap<String, String>,
    line: u64,
) -> Result<ExtraCompletion, String> {
    let field = |i: usize, name: &str| -> Result<String, String> {
        let v = r.get(i).unwrap_or("");
        if v.is_empty() {
            Err(format!("{name} is empty"))
        } else if v.chars().any(char::is_control) {
            Err(format!("{name} holds a control character"))
        } else {
            Ok(v.to_owned())
        }
    };
    let address = field(email, "email")?;
    if !address.contains('@') {
        return Err(format!("email {address:?} is not an email address"));
    }
    let cat = field(category, "category")?.to_ascii_lowercase();
    if !TRAINING_CATEGORIES.contains(&cat.as_str()) {
        return Err(format!(
            "unknown training category {cat:?}; expected one of {}",
            TRAINING_CATEGORIES.join(", ")
        ));
    }
    let when = field(completed_on, "completed_on")?;
    let completed_on = match chrono::NaiveDate::parse_from_str(&when, "%Y-%m-%d") {
        Ok(d) => format!("{d}T00:00:00Z"),
        Err(_) => crate::time::normalize(&when)
            .map_err(|_| format!("completed_on {when:?} is not a date (2026-03-01) or an ISO 8601 time"))?,
    };
    Ok(ExtraCompletion {
        normalized_email: normalize_email(&address, aliases),
        email: address,
        category: cat,
        completed_on,
        source: field(source, "source")?,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Checked {
        let aliases = BTreeMap::from([("acme.co.uk".to_owned(), "acme.com".to_owned())]);
        parse_all(text, "extra.csv", &aliases).unwrap()
    }

    #[test]
    fn rows_are_normalized_and_every_bad_line_is_named() {
        let c = parse(
            "Email,Category,Completed_On,Source\n\
             Hank@acme.co.uk,HIPAA,2026-03-01,Targeted campaign \"Clinical onboarding\"\n\
             dave+x@acme.com,pci_dss,2026-02-10T14:30:00+01:00,LMS\n\
             nobody,general,2026-01-01,LMS\n\
             a@acme.com,cooking,2026-01-01,LMS\n\
             a@acme.com,general,yesterday,LMS\n\
             a@acme.com,general,2026-01-01,\n",
        );
        assert_eq!(
            c.completions,
            vec![
                ExtraCompletion {
                    email: "Hank@acme.co.uk".into(),
                    normalized_email: "hank@acme.com".into(),
                    category: "hipaa".into(),
                    completed_on: "2026-03-01T00:00:00Z".into(),
                    source: "Targeted campaign \"Clinical onboarding\"".into(),
                    line: 2,
                },
                ExtraCompletion {
                    email: "dave+x@acme.com".into(),
                    normalized_email: "dave@acme.com".into(),
                    category: "pci_dss".into(),
                    completed_on: "2026-02-10T13:30:00Z".into(),
                    source: "LMS".into(),
                    line: 3,
                },
            ]
        );
        let errors: Vec<String> = c.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            vec![
                "extra completions extra.csv, line 4: email \"nobody\" is not an email address".to_owned(),
                format!(
                    "extra completions extra.csv, line 5: unknown training category \"cooking\"; expected one of {}",
                    TRAINING_CATEGORIES.join(", ")
                ),
                "extra completions extra.csv, line 6: completed_on \"yesterday\" is not a date (2026-03-01) or an ISO 8601 time"
                    .to_owned(),
                "extra completions extra.csv, line 7: source is empty".to_owned(),
            ]
        );
    }

    #[test]
    fn a_header_without_a_required_column_is_refused() {
        let aliases = BTreeMap::new();
        let err = parse_all("email,category,source\n", "x.csv", &aliases).unwrap_err();
        assert_eq!(
            err.to_string(),
            "extra completions x.csv, line 1: the header has no \"completed_on\" column (required: email, category, completed_on, source)"
        );
    }
}
