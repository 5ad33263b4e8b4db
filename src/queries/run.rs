//! Running saved queries in read transactions, with `--param` overrides checked
//! against each parameter's declared type.

use std::collections::BTreeMap;

use neo4rs::{query, BoltType};
use serde::Serialize;
use serde_json::Value as Json;

use super::def::{Control, ParamDef, QueryDef, Severity};
use crate::sink::bolt::{from_json, to_json};
use crate::sink::{Sink, SinkError};

/// The rows of one query, in the declared column order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryResult {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub severity: Severity,
    pub controls: Vec<Control>,
    /// For a rule: its findings against the population it judged.
    pub judged: Option<Judged>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
    /// The parameters given on the command line that differ from their defaults,
    /// in declaration order.
    pub overrides: Vec<(String, Json)>,
}

/// A rule's result: `findings` of `denominator` (the population it judged).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Judged {
    pub findings: usize,
    pub denominator: u64,
    pub population: String,
    pub remediation: String,
}

impl Judged {
    /// Findings as a percentage of the population; `None` for an empty population.
    pub fn percent(&self) -> Option<f64> {
        (self.denominator > 0).then(|| 100.0 * self.findings as f64 / self.denominator as f64)
    }
}

impl QueryResult {
    /// The value of column `name` in `row` (one of [`QueryResult::rows`]); null when
    /// the query has no such column.
    pub fn value<'a>(&'a self, row: &'a [Json], name: &str) -> &'a Json {
        self.columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| row.get(i))
            .unwrap_or(&Json::Null)
    }

    pub fn findings(&self, def: &QueryDef) -> usize {
        if def.reports_findings() {
            self.rows.len()
        } else {
            0
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("unknown query {0:?}; `mimecast-graph queries list` shows them")]
    Unknown(String),
    #[error("--param {0:?}: expected name=value")]
    BadParam(String),
    #[error("--param {0}: no selected query declares a parameter of that name")]
    UnknownParam(String),
    #[error("--param {name}: expected {expected} (its default is {default}), got {given}")]
    ParamType {
        name: String,
        expected: &'static str,
        default: String,
        given: String,
    },
    #[error("query {id}: {source}")]
    Sink { id: String, source: SinkError },
    #[error("the count query of {id} returned {rows} row(s); it must return one row with an integer `total`")]
    Count { id: String, rows: usize },
    #[error("query {id} returned columns {got:?}, but its header declares {declared:?}")]
    Columns {
        id: String,
        got: Vec<String>,
        declared: Vec<String>,
    },
}

/// A query's statement and, for a rule, its count statement, with the defaults
/// overridden by `params`; and the overrides that differ from the defaults.
struct Bound {
    text: neo4rs::Query,
    count: Option<neo4rs::Query>,
    overrides: Vec<(String, Json)>,
}

fn bind(def: &QueryDef, params: &BTreeMap<String, Json>) -> Result<Bound, QueryError> {
    let mut text = query(&def.text);
    let mut count = def.rule.as_ref().map(|r| query(&r.count));
    let mut overrides = Vec::new();
    for p in &def.params {
        let value = match params.get(&p.name) {
            Some(given) => as_declared(p, given)?,
            None => p.default.clone(),
        };
        if value != p.default {
            overrides.push((p.name.clone(), value.clone()));
        }
        text = text.param(&p.name, from_json(&value));
        count = count.map(|c| c.param(&p.name, from_json(&value)));
    }
    Ok(Bound { text, count, overrides })
}

/// Streams the rows of a bound statement to `each`, in the declared column order, as
/// they arrive (a large answer is never held twice); every row of a result has the
/// same columns, so the first one is checked.
async fn stream_rows(
    sink: &Sink,
    def: &QueryDef,
    text: neo4rs::Query,
    mut each: impl FnMut(Vec<Json>),
) -> Result<(), QueryError> {
    let mut wrong_columns = None;
    let mut first = true;
    sink.read_each(text, |row| {
        if first {
            first = false;
            let mut got: Vec<String> = row.keys().into_iter().map(|k| k.value.clone()).collect();
            let mut declared = def.columns.clone();
            got.sort();
            declared.sort();
            if got != declared {
                wrong_columns = Some(got);
            }
        }
        if wrong_columns.is_none() {
            each(
                def.columns
                    .iter()
                    .map(|c| to_json(&row.get::<BoltType>(c).unwrap_or(BoltType::Null(neo4rs::BoltNull))))
                    .collect(),
            );
        }
        Ok(())
    })
    .await
    .map_err(|source| QueryError::Sink {
        id: def.id.clone(),
        source,
    })?;
    match wrong_columns {
        Some(got) => Err(QueryError::Columns {
            id: def.id.clone(),
            got,
            declared: def.columns.clone(),
        }),
        None => Ok(()),
    }
}

/// Runs one query's statement (not its count) with `params` and hands each row, in
/// the declared column order, to `each`, holding none of them: for callers that only
/// count rows or keep part of each (the sync's history of rule findings).
///
/// # Errors
/// A parameter of the wrong type, the query fails, or it returns other columns than
/// it declares.
pub async fn for_each_row(
    sink: &Sink,
    def: &QueryDef,
    params: &BTreeMap<String, Json>,
    each: impl FnMut(Vec<Json>),
) -> Result<(), QueryError> {
    let bound = bind(def, params)?;
    stream_rows(sink, def, bound.text, each).await
}

/// Runs one query in a read transaction with its defaults overridden by `params`.
///
/// # Errors
/// The query fails, or returns columns other than those it declares.
pub async fn run(sink: &Sink, def: &QueryDef, params: &BTreeMap<String, Json>) -> Result<QueryResult, QueryError> {
    let Bound { text, count, overrides } = bind(def, params)?;
    let failed = |source| QueryError::Sink {
        id: def.id.clone(),
        source,
    };
    let mut rows = Vec::new();
    // The rows and the rule's count are asked for at once, on two connections.
    let counted = async {
        match count {
            Some(count) => sink.read(count).await.map(Some),
            None => Ok(None),
        }
    };
    let (streamed, counted) = tokio::join!(stream_rows(sink, def, text, |row| rows.push(row)), counted);
    streamed?;
    let judged = match (counted.map_err(failed)?, &def.rule) {
        (Some(totals), Some(rule)) => {
            let denominator = match totals.first().and_then(|r| r.get("total")) {
                Some(BoltType::Integer(i)) if totals.len() == 1 => i.value.max(0) as u64,
                _ => {
                    return Err(QueryError::Count {
                        id: def.id.clone(),
                        rows: totals.len(),
                    })
                }
            };
            Some(Judged {
                findings: rows.len(),
                denominator,
                population: rule.population.clone(),
                remediation: rule.remediation.clone(),
            })
        }
        _ => None,
    };
    Ok(QueryResult {
        id: def.id.clone(),
        version: def.version,
        title: def.title.clone(),
        severity: def.severity,
        controls: def.controls.clone(),
        judged,
        columns: def.columns.clone(),
        rows,
        overrides,
    })
}

/// `k=v` from the command line: JSON when it parses (`26`, `true`, `["D","F"]`,
/// `null`), a plain string otherwise.
///
/// # Errors
/// No `=`.
pub fn parse_param(arg: &str) -> Result<(String, Json), QueryError> {
    let (k, v) = arg
        .split_once('=')
        .ok_or_else(|| QueryError::BadParam(arg.to_owned()))?;
    let v = v.trim();
    let value = match serde_json::from_str(v) {
        // A number JSON cannot hold exactly (a long numeric code) stays text.
        Ok(Json::Number(n)) if n.to_string() != v => Json::String(v.to_owned()),
        Ok(json) => json,
        Err(_) => Json::String(v.to_owned()),
    };
    Ok((k.trim().to_owned(), value))
}

/// Checks `--param` values before anything runs: each names a parameter of a
/// selected query and has the type of that parameter's default.
///
/// # Errors
/// [`QueryError::UnknownParam`] or [`QueryError::ParamType`].
pub fn check_params(selected: &[&QueryDef], params: &BTreeMap<String, Json>) -> Result<(), QueryError> {
    for (name, given) in params {
        let declared: Vec<&ParamDef> = selected
            .iter()
            .flat_map(|d| d.params.iter().filter(|p| &p.name == name))
            .collect();
        if declared.is_empty() {
            return Err(QueryError::UnknownParam(name.clone()));
        }
        for p in declared {
            as_declared(p, given)?;
        }
    }
    Ok(())
}

/// A command-line value read as its parameter's type, the type of its default: where
/// the default is a string or null (an account code, a date-time), `--param
/// account=12345` is the string "12345", not a number that never equals a stored
/// account code; a number, a boolean or a list must be given as one.
fn as_declared(p: &ParamDef, given: &Json) -> Result<Json, QueryError> {
    let mismatch = |expected: &'static str| QueryError::ParamType {
        name: p.name.clone(),
        expected,
        default: p.default.to_string(),
        given: given.to_string(),
    };
    match (&p.default, given) {
        (Json::String(_) | Json::Null, Json::String(_) | Json::Null) => Ok(given.clone()),
        (Json::String(_) | Json::Null, Json::Number(_) | Json::Bool(_)) => Ok(Json::String(given.to_string())),
        (Json::String(_) | Json::Null, _) => Err(mismatch("text")),
        (Json::Number(d), Json::Number(g)) if d.is_f64() || !g.is_f64() => Ok(given.clone()),
        (Json::Number(d), _) if d.is_f64() => Err(mismatch("a number")),
        (Json::Number(_), _) => Err(mismatch("a whole number")),
        (Json::Bool(_), Json::Bool(_)) => Ok(given.clone()),
        (Json::Bool(_), _) => Err(mismatch("true or false")),
        (Json::Array(_), Json::Array(_)) => Ok(given.clone()),
        (Json::Array(_), _) => Err(mismatch("a JSON list such as [\"a\",\"b\"]")),
        (Json::Object(_), Json::Object(_)) => Ok(given.clone()),
        (Json::Object(_), _) => Err(mismatch("a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_as_json_or_text() {
        assert_eq!(
            parse_param("max_age_hours=48").unwrap(),
            ("max_age_hours".into(), Json::from(48))
        );
        assert_eq!(
            parse_param("grades=[\"F\"]").unwrap(),
            ("grades".into(), serde_json::json!(["F"]))
        );
        assert_eq!(
            parse_param("account=CUSA1").unwrap(),
            ("account".into(), Json::from("CUSA1"))
        );
        assert!(parse_param("nothing").is_err());
    }

    fn param(default: Json) -> ParamDef {
        ParamDef {
            name: "p".into(),
            default,
            description: String::new(),
        }
    }

    fn declared(default: Json, given: &Json) -> Json {
        as_declared(&param(default), given).unwrap()
    }

    #[test]
    fn a_numeric_value_for_a_text_parameter_stays_text() {
        let (_, given) = parse_param("account=12345").unwrap();
        assert_eq!(declared(Json::Null, &given), Json::from("12345"));
        assert_eq!(declared(Json::from("x"), &Json::Bool(true)), Json::from("true"));
        assert_eq!(declared(Json::Null, &Json::Null), Json::Null);
        assert_eq!(declared(Json::from(26), &given), Json::from(12345));
        let (_, long) = parse_param("account=123456789012345678901234567890").unwrap();
        assert_eq!(
            declared(Json::Null, &long),
            Json::from("123456789012345678901234567890")
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_parameter_and_the_type() {
        let wrong = |default: Json, given: &str| {
            let (_, given) = parse_param(&format!("p={given}")).unwrap();
            as_declared(&param(default), &given).unwrap_err().to_string()
        };
        assert_eq!(
            wrong(Json::from(48), "soon"),
            "--param p: expected a whole number (its default is 48), got \"soon\""
        );
        assert_eq!(
            wrong(Json::from(48), "1.5"),
            "--param p: expected a whole number (its default is 48), got 1.5"
        );
        assert_eq!(
            wrong(Json::from(0.5), "x"),
            "--param p: expected a number (its default is 0.5), got \"x\""
        );
        assert_eq!(
            wrong(Json::from(true), "yes"),
            "--param p: expected true or false (its default is true), got \"yes\""
        );
        assert_eq!(
            wrong(serde_json::json!(["D", "F"]), "F"),
            "--param p: expected a JSON list such as [\"a\",\"b\"] (its default is [\"D\",\"F\"]), got \"F\""
        );
        assert_eq!(
            wrong(Json::Null, "[1]"),
            "--param p: expected text (its default is null), got [1]"
        );
        assert_eq!(declared(Json::from(0.5), &Json::from(2)), Json::from(2));
    }
}
