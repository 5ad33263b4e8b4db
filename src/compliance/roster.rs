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
    #[error("roster {path} has {bytes} bytes, more than the {max} a roster may have; is it the right file?", max = MAX_FILE_BYTES)]
    TooLarge { path: String, bytes: u64 },
    #[error("roster {path}, line 1: the header has no {column:?} column (required: email, name, status, group)")]
    MissingColumn { path: String, column: &'static str },
    #[error("roster {path}, line {line}: {message}")]
    Line { path: String, line: u64, message: String },
}

const REQUIRED: [&str; 4] = ["email", "name", "status", "group"];

/// Property names a roster column must not take: the Person's own, and the sink's
/// bookkeeping ([`crate::schema::BOOKKEEPING`]).
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
    RESERVED.contains(&property) || crate::schema::BOOKKEEPING.contains(&property)
}

/// `Employee ID` to `employeeId`: a column header as a camelCase property name. Words
/// are split at anything but ASCII letters and digits; a word in capitals (`ID`, `SSO`)
/// is written as one (`Id`, `Sso`), any other keeps its inner capitals
/// (`costCentre`, `EmployeeNumber` to `employeeNumber`).
pub fn property_name(header: &str) -> String {
    let mut out = String::new();
    for word in header
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = if word.chars().all(|c| !c.is_ascii_lowercase()) {
            word.to_ascii_lowercase()
        } else {
            word.to_owned()
        };
        let mut chars = word.chars();
        let Some(first) = chars.next() else { continue };
        if out.is_empty() {
            if first.is_ascii_digit() {
                out.push('c');
            }
            out.push(first.to_ascii_lowercase());
        } else {
            out.push(first.to_ascii_uppercase());
        }
        out.extend(chars);
    }
    out
}

/// The largest roster file read, in bytes: far above any real personnel export, and a
/// bound on the memory a wrong path (a disk image, a log) can take.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The longest roster line (all its fields together), in bytes.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The longest roster field, in bytes.
pub const MAX_FIELD_BYTES: usize = 4 * 1024;

/// Reads and checks a roster file, stopping at the first bad line (what a sync does:
/// the personnel step fails and nothing of it is written).
///
/// # Errors
/// The file cannot be read, a required column is missing, or a line is bad (missing
/// email, unknown status, an email that repeats another line's after normalization).
pub fn read(path: &Path, domain_aliases: &BTreeMap<String, String>) -> Result<Vec<RosterPerson>, RosterError> {
    read_all(path, domain_aliases)?.into_result()
}

/// Reads a roster file and checks every line, for `config check`: every problem of
/// the file at once.
///
/// # Errors
/// The file cannot be read, or its header is unusable (nothing after it can be read).
pub fn read_all(path: &Path, domain_aliases: &BTreeMap<String, String>) -> Result<Checked, RosterError> {
    let read_error = |source| RosterError::Read {
        path: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_FILE_BYTES {
        return Err(RosterError::TooLarge {
            path: path.display().to_string(),
            bytes: size,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    parse_all(&text, &path.display().to_string(), domain_aliases)
}

/// The people of a roster and the problems of its bad lines, in line order.
#[derive(Debug)]
pub struct Checked {
    pub people: Vec<RosterPerson>,
    pub errors: Vec<RosterError>,
}

impl Checked {
    /// The people, or the first problem.
    ///
    /// # Errors
    /// The first bad line.
    pub fn into_result(self) -> Result<Vec<RosterPerson>, RosterError> {
        match self.errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.people),
        }
    }
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
    parse_all(text, path, domain_aliases)?.into_result()
}

/// The columns of a roster header: the required ones' positions, and the other
/// columns as property names.
struct Columns {
    required: HashMap<&'static str, usize>,
    extras: Vec<(usize, String)>,
}

/// The header's columns, checked in this order: two of one name, a required one
/// missing, one that would take a reserved property.
fn columns(headers: &csv::StringRecord, path: &str) -> Result<Columns, RosterError> {
    let header_error = |message: String| RosterError::Line {
        path: path.to_owned(),
        line: 1,
        message,
    };
    let lower: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
    for (i, h) in lower.iter().enumerate() {
        if let Some(j) = lower[..i].iter().position(|earlier| earlier == h && !h.is_empty()) {
            return Err(header_error(format!(
                "columns {} ({:?}) and {} ({:?}) have the same name",
                j + 1,
                headers.get(j).unwrap_or(""),
                i + 1,
                headers.get(i).unwrap_or("")
            )));
        }
    }
    let mut required = HashMap::new();
    for name in REQUIRED {
        let i = lower.iter().position(|h| h == name).ok_or(RosterError::MissingColumn {
            path: path.to_owned(),
            column: name,
        })?;
        required.insert(name, i);
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
            return Err(header_error(format!(
                "column {h:?} would become property {prop:?}, which is taken"
            )));
        }
        extras.push((i, prop));
    }
    Ok(Columns { required, extras })
}

/// Parses roster text and checks every line.
///
/// # Errors
/// The header is unusable: unreadable, a required column missing, two columns of one
/// name, or a column that would take a reserved property.
pub fn parse_all(text: &str, path: &str, domain_aliases: &BTreeMap<String, String>) -> Result<Checked, RosterError> {
    let line_error = |line: u64, message: String| RosterError::Line {
        path: path.to_owned(),
        line,
        message,
    };
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let mut lines = Lines::new(text);
    let headers = reader
        .headers()
        .map_err(|e| line_error(1, format!("cannot read the header: {e}")))?
        .clone();
    let columns = columns(&headers, path)?;
    let mut checked = Checked {
        people: Vec::new(),
        errors: Vec::new(),
    };
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p.byte()));
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("the line has {len} fields; the header has {expected_len}")
                    }
                    _ => e.to_string(),
                };
                checked.errors.push(line_error(line, message));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        match person(&record, &headers, &columns, line, domain_aliases, &mut seen) {
            Ok(Some(p)) => checked.people.push(p),
            Ok(None) => {}
            Err(message) => checked.errors.push(line_error(line, message)),
        }
    }
    Ok(checked)
}

/// One line as a person; `None` for a blank line.
fn person(
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
    columns: &Columns,
    line: u64,
    domain_aliases: &BTreeMap<String, String>,
    seen: &mut HashMap<String, u64>,
) -> Result<Option<RosterPerson>, String> {
    check_bounds(record, headers)?;
    let field = |name: &str| record.get(columns.required[name]).unwrap_or("").trim().to_owned();
    if record.iter().all(|f| f.trim().is_empty()) {
        return Ok(None);
    }
    let email = field("email");
    if email.is_empty() {
        return Err("the email is empty".into());
    }
    // A tab or line break (which other columns may hold) would reach a `_key`.
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') || email.contains(char::is_control) {
        return Err(format!("{email:?} is not an email address"));
    }
    let status = field("status").to_lowercase();
    let active = match status.as_str() {
        "active" => true,
        "terminated" => false,
        other => {
            return Err(format!(
                "unknown status {other:?} for {email}; expected active or terminated"
            ))
        }
    };
    let normalized_email = normalize_email(&email, domain_aliases);
    if normalized_email.starts_with('@') {
        return Err(format!("{email:?} has nothing before the @ once its +tag is removed"));
    }
    if let Some(first) = seen.get(&normalized_email) {
        return Err(format!(
            "{email} is the same person as line {first} (both normalize to {normalized_email})"
        ));
    }
    seen.insert(normalized_email.clone(), line);
    let group = Some(field("group")).filter(|g| !g.is_empty());
    let extra = columns
        .extras
        .iter()
        .filter_map(|(i, prop)| {
            let v = record.get(*i).unwrap_or("").trim();
            (!v.is_empty()).then(|| (prop.clone(), v.to_owned()))
        })
        .collect();
    Ok(Some(RosterPerson {
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
    }))
}

/// The 1-based lines of records, counting `\n`, `\r\n` and a lone `\r` as line ends,
/// as the CSV reader splits records (its own line count sees `\n` only, so a file with
/// `\r` line ends would be all line 1, and it places a record after blank lines on the
/// first blank one). Offsets must not decrease.
struct Lines<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first byte from `byte` on that does not end a line.
    fn at(&mut self, byte: u64) -> u64 {
        let mut end = usize::try_from(byte).unwrap_or(usize::MAX).min(self.text.len());
        while matches!(self.text.get(end), Some(b'\r' | b'\n')) {
            end += 1;
        }
        for i in self.offset..end {
            let lone_cr = self.text[i] == b'\r' && self.text.get(i + 1) != Some(&b'\n');
            if self.text[i] == b'\n' || lone_cr {
                self.line += 1;
            }
        }
        self.offset = self.offset.max(end);
        self.line
    }
}

/// The line and field length limits, and no control characters but tab in a field
/// (a NUL or an escape in an email would reach a `_key`).
fn check_bounds(record: &csv::StringRecord, headers: &csv::StringRecord) -> Result<(), String> {
    let length = record.as_slice().len();
    if length > MAX_LINE_BYTES {
        return Err(format!(
            "the fields of the line have {length} bytes, more than the {MAX_LINE_BYTES} a roster line may have"
        ));
    }
    for (i, value) in record.iter().enumerate() {
        let column = headers.get(i).unwrap_or("?");
        if value.len() > MAX_FIELD_BYTES {
            return Err(format!(
                "column {column:?} has {} bytes, more than the {MAX_FIELD_BYTES} a roster field may have",
                value.len()
            ));
        }
        if let Some(c) = value
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(format!("column {column:?} holds the control character {:?}", c));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
