//! Saved compliance queries: `queries/*.cypher`, each with a metadata header of
//! `// key: value` lines. They run in read transactions only, and the files run
//! unchanged in Neo4j Browser once its `:param` lines (listed in each header) are set.

use crate::graph::Element as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use neo4rs::{query, BoltType};
use serde::Serialize;
use serde_json::Value as Json;

use crate::converters::keys;
use crate::graph::Entity;
use crate::schema::types;
use crate::sink::bolt::{from_json, to_json};
use crate::sink::{Sink, SinkError};

/// The queries compiled into the binary, so a deployed worker has them.
const EMBEDDED: [(&str, &str); 11] = [
    (
        "active-without-account.cypher",
        include_str!("../queries/active-without-account.cypher"),
    ),
    (
        "assigned-not-completed.cypher",
        include_str!("../queries/assigned-not-completed.cypher"),
    ),
    (
        "campaign-completion.cypher",
        include_str!("../queries/campaign-completion.cypher"),
    ),
    (
        "high-risk-safe-score.cypher",
        include_str!("../queries/high-risk-safe-score.cypher"),
    ),
    (
        "missing-required-training.cypher",
        include_str!("../queries/missing-required-training.cypher"),
    ),
    (
        "phished-not-retrained.cypher",
        include_str!("../queries/phished-not-retrained.cypher"),
    ),
    ("stale-sync.cypher", include_str!("../queries/stale-sync.cypher")),
    (
        "terminated-with-account.cypher",
        include_str!("../queries/terminated-with-account.cypher"),
    ),
    (
        "unmapped-campaigns.cypher",
        include_str!("../queries/unmapped-campaigns.cypher"),
    ),
    (
        "users-without-active-person.cypher",
        include_str!("../queries/users-without-active-person.cypher"),
    ),
    ("watchlist.cypher", include_str!("../queries/watchlist.cypher")),
];

pub const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParamDef {
    pub name: String,
    pub default: Json,
    pub description: String,
}

/// One saved query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryDef {
    pub id: String,
    pub title: String,
    pub description: String,
    pub frameworks: Vec<String>,
    pub severity: String,
    pub params: Vec<ParamDef>,
    pub columns: Vec<String>,
    /// The whole file, header included (what Neo4j Browser runs).
    pub text: String,
    pub file: String,
}

impl QueryDef {
    /// Parses one `.cypher` file.
    ///
    /// # Errors
    /// A missing or unknown header key, a bad severity or parameter default, an id
    /// that differs from the file name, or `$parameters` the header does not declare.
    pub fn parse(file: &str, text: &str) -> Result<QueryDef, String> {
        let err = |m: String| format!("{file}: {m}");
        let mut fields: BTreeMap<&str, String> = BTreeMap::new();
        let mut params = Vec::new();
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("//") else {
                break;
            };
            let Some((key, value)) = rest.trim().split_once(':') else {
                continue;
            };
            let key = key.trim();
            let value = value.trim();
            // The insert is a side effect: it stays out of a match guard.
            #[allow(clippy::collapsible_match)]
            match key {
                "id" | "title" | "description" | "frameworks" | "severity" | "columns" => {
                    if fields.insert(key, value.to_owned()).is_some() {
                        return Err(err(format!("header key {key:?} appears twice")));
                    }
                }
                "param" => {
                    let (decl, description) = value.split_once('|').unwrap_or((value, ""));
                    let (name, default) = decl
                        .split_once('=')
                        .ok_or_else(|| err(format!("param {decl:?} needs `name = default`")))?;
                    let default: Json = serde_json::from_str(default.trim())
                        .map_err(|e| err(format!("param {}: default is not JSON: {e}", name.trim())))?;
                    params.push(ParamDef {
                        name: name.trim().to_owned(),
                        default,
                        description: description.trim().to_owned(),
                    });
                }
                // Free text such as the Browser instructions.
                _ => {}
            }
        }
        let mut take = |k: &str| {
            fields
                .remove(k)
                .ok_or_else(|| err(format!("the header has no `// {k}:` line")))
        };
        let def = QueryDef {
            id: take("id")?,
            title: take("title")?,
            description: take("description")?,
            frameworks: take("frameworks")?
                .split(';')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            severity: take("severity")?,
            params,
            columns: take("columns")?.split(',').map(|s| s.trim().to_owned()).collect(),
            text: text.to_owned(),
            file: file.to_owned(),
        };
        if Some(def.id.as_str()) != file.strip_suffix(".cypher") {
            return Err(err(format!("id {:?} differs from the file name", def.id)));
        }
        if !SEVERITIES.contains(&def.severity.as_str()) {
            return Err(err(format!(
                "severity {:?} is not one of {}",
                def.severity,
                SEVERITIES.join(", ")
            )));
        }
        for used in parameters_used(text) {
            if !def.params.iter().any(|p| p.name == used) {
                return Err(err(format!("${used} is used but not declared with `// param:`")));
            }
        }
        Ok(def)
    }

    /// Rows of this query are findings unless it is informational.
    pub fn reports_findings(&self) -> bool {
        self.severity != "info"
    }

    /// The query as a `ComplianceQuery` entity of the set `source`.
    pub fn entity(&self, source: &str) -> Entity {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{} = {}", p.name, p.default))
            .collect();
        Entity::new(
            keys::compliance_query(source, &self.id),
            types::COMPLIANCE_QUERY,
            "Procedure",
        )
        .with("displayName", self.title.as_str())
        .with("name", self.id.as_str())
        .with("id", self.id.as_str())
        .with("title", self.title.as_str())
        .with("description", self.description.as_str())
        .with("severity", self.severity.as_str())
        .with("frameworks", self.frameworks.clone())
        .with("parameters", params)
        .with("columns", self.columns.clone())
        .with("cypher", self.text.as_str())
        .with("file", self.file.as_str())
        .with("querySet", source)
    }
}

/// `$name` references in Cypher text, comments excluded.
fn parameters_used(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(i) = rest.find('$') {
            let name: String = rest[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name.clone());
            }
            rest = &rest[i + 1 + name.len()..];
        }
    }
    out
}

/// A set of saved queries and where it came from (`builtin`, or a folder). Stored
/// `ComplianceQuery` nodes carry the set's source, and a sync prunes only its own set:
/// deployments with different query folders never delete each other's queries.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySet {
    pub source: String,
    pub queries: Vec<QueryDef>,
}

impl std::ops::Deref for QuerySet {
    type Target = [QueryDef];
    fn deref(&self) -> &[QueryDef] {
        &self.queries
    }
}

impl IntoIterator for QuerySet {
    type Item = QueryDef;
    type IntoIter = std::vec::IntoIter<QueryDef>;
    fn into_iter(self) -> Self::IntoIter {
        self.queries.into_iter()
    }
}

/// The embedded queries, sorted by id.
///
/// # Panics
/// Never in a tested build: a unit test parses every embedded file.
pub fn embedded() -> QuerySet {
    QuerySet {
        source: "builtin".to_owned(),
        queries: EMBEDDED
            .iter()
            .map(|(file, text)| QueryDef::parse(file, text).unwrap_or_else(|e| panic!("{e}")))
            .collect(),
    }
}

/// The queries a configuration uses: its `[queries] dir`, or the embedded ones.
///
/// # Errors
/// As [`load_dir`].
pub fn for_config(dir: Option<&Path>) -> Result<QuerySet, String> {
    match dir {
        Some(d) => load_dir(d),
        None => Ok(embedded()),
    }
}

/// Every `.cypher` file of a folder, sorted by id; the set's source is the folder's
/// absolute path.
///
/// # Errors
/// The folder cannot be read or a file does not parse.
pub fn load_dir(dir: &Path) -> Result<QuerySet, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut defs = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("cypher") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_owned();
        defs.push(QueryDef::parse(&file, &text)?);
    }
    defs.sort_by(|a, b| a.id.cmp(&b.id));
    let source = std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_owned())
        .display()
        .to_string();
    Ok(QuerySet { source, queries: defs })
}

/// The rows of one query, in the declared column order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryResult {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
}

impl QueryResult {
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
    #[error("query {id} returned columns {got:?}, but its header declares {declared:?}")]
    Columns {
        id: String,
        got: Vec<String>,
        declared: Vec<String>,
    },
}

/// Runs one query in a read transaction with its defaults overridden by `params`.
///
/// # Errors
/// The query fails, or returns columns other than those it declares.
pub async fn run(sink: &Sink, def: &QueryDef, params: &BTreeMap<String, Json>) -> Result<QueryResult, QueryError> {
    let mut q = query(&def.text);
    for p in &def.params {
        let value = match params.get(&p.name) {
            Some(given) => as_declared(p, given)?,
            None => p.default.clone(),
        };
        q = q.param(&p.name, from_json(&value));
    }
    let records = sink.read(q).await.map_err(|source| QueryError::Sink {
        id: def.id.clone(),
        source,
    })?;
    let mut rows = Vec::with_capacity(records.len());
    for r in &records {
        let mut got: Vec<String> = r.keys().cloned().collect();
        let mut declared = def.columns.clone();
        got.sort();
        declared.sort();
        if got != declared {
            return Err(QueryError::Columns {
                id: def.id.clone(),
                got,
                declared: def.columns.clone(),
            });
        }
        rows.push(
            def.columns
                .iter()
                .map(|c| to_json(r.get(c).unwrap_or(&BoltType::Null(neo4rs::BoltNull))))
                .collect(),
        );
    }
    Ok(QueryResult {
        id: def.id.clone(),
        title: def.title.clone(),
        severity: def.severity.clone(),
        columns: def.columns.clone(),
        rows,
    })
}

/// `k=v` from the command line: JSON when it parses (`26`, `true`, `["D","F"]`,
/// `null`), a plain string otherwise.
///
/// # Errors
/// No `=`.
pub fn parse_param(arg: &str) -> Result<(String, Json), String> {
    let (k, v) = arg
        .split_once('=')
        .ok_or_else(|| format!("--param {arg:?}: expected name=value"))?;
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

fn cell(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// `1 row`, `3 rows`.
pub fn row_count(n: usize) -> String {
    if n == 1 {
        "1 row".to_owned()
    } else {
        format!("{n} rows")
    }
}

/// An aligned text table with a title line.
pub fn format_table(r: &QueryResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {} [{}]: {} ({})",
        r.id,
        r.severity,
        r.title,
        row_count(r.rows.len())
    );
    if r.rows.is_empty() {
        return out;
    }
    let cells: Vec<Vec<String>> = r.rows.iter().map(|row| row.iter().map(cell).collect()).collect();
    let widths: Vec<usize> = r
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
                .min(60)
        })
        .collect();
    let line = |values: Vec<&str>| {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| {
                let v: String = v.chars().take(*w).collect();
                format!("{v:<w$}", w = *w)
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let _ = writeln!(out, "{}", line(r.columns.iter().map(String::as_str).collect()));
    let _ = writeln!(
        out,
        "{}",
        line(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect()
        )
    );
    for row in &cells {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// RFC 4180 CSV with a header row.
pub fn format_csv(r: &QueryResult) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        r.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(",")
    );
    for row in &r.rows {
        let _ = writeln!(
            out,
            "{}",
            row.iter().map(|v| quote(&cell(v))).collect::<Vec<_>>().join(",")
        );
    }
    out
}

/// The JSON of one result: title, severity, columns and rows as objects.
pub fn to_json_value(r: &QueryResult) -> Json {
    let rows: Vec<Json> = r
        .rows
        .iter()
        .map(|row| Json::Object(r.columns.iter().cloned().zip(row.iter().cloned()).collect()))
        .collect();
    serde_json::json!({"id": r.id, "title": r.title, "severity": r.severity, "columns": r.columns, "rows": rows})
}

impl Sink {
    /// Upserts the saved queries as `ComplianceQuery` nodes and deletes the nodes of
    /// the same set whose id is no longer in it.
    ///
    /// # Errors
    /// A write fails.
    pub async fn sync_queries(
        &self,
        set: &QuerySet,
        stamp: &crate::sink::SyncStamp,
    ) -> Result<(crate::sink::WriteCounts, u64), SinkError> {
        let schema = crate::schema::schema();
        let labels = schema
            .entity(types::COMPLIANCE_QUERY)
            .map(crate::schema::EntitySchema::labels)
            .unwrap_or_default();
        let entities: Vec<Entity> = set.iter().map(|q| q.entity(&set.source)).collect();
        let refs: Vec<&Entity> = entities.iter().collect();
        let counts = self
            .upsert_nodes(&labels, &refs, crate::sink::Mode::Replace, stamp)
            .await?;
        // By key, so nodes of an older key form are replaced too.
        let keys: Vec<BoltType> = entities.iter().map(|e| crate::sink::bolt::string(&e.key)).collect();
        let rows = self
            .write(
                "compliance-queries",
                query(
                    "MATCH (q:ComplianceQuery {querySet: $source}) WHERE NOT q._key IN $keys \
                     DETACH DELETE q RETURN count(*) AS deleted",
                )
                .param("source", set.source.as_str())
                .param("keys", crate::sink::bolt::list(keys)),
            )
            .await?;
        let deleted = match rows.first().and_then(|r| r.get("deleted")) {
            Some(BoltType::Integer(i)) => i.value.max(0) as u64,
            _ => 0,
        };
        Ok((counts, deleted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_query_parses_and_the_list_matches_the_folder() {
        let defs = embedded();
        assert_eq!(defs.len(), 11);
        assert_eq!(defs.source, "builtin");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let from_disk = load_dir(&dir).unwrap();
        assert_eq!(
            from_disk.queries, defs.queries,
            "queries/ and the EMBEDDED list in src/queries.rs differ"
        );
        for d in defs.iter() {
            assert!(!d.columns.is_empty(), "{}", d.id);
            assert!(
                d.params.iter().any(|p| p.name == "account"),
                "{} has no account parameter",
                d.id
            );
            for p in &d.params {
                assert!(
                    d.text.contains(&format!(":param {} => ", p.name)),
                    "{}: the Browser instructions lack `:param {} => ...`",
                    d.id,
                    p.name
                );
            }
        }
    }

    #[test]
    fn header_errors_name_the_problem() {
        let ok = "// id: q\n// title: T\n// description: D\n// frameworks: A; B\n// severity: low\n// param: x = 1 | an x\n// columns: a\nRETURN $x AS a\n";
        let d = QueryDef::parse("q.cypher", ok).unwrap();
        assert_eq!(d.frameworks, vec!["A", "B"]);
        assert_eq!(
            d.params[0],
            ParamDef {
                name: "x".into(),
                default: Json::from(1),
                description: "an x".into()
            }
        );
        let undeclared = ok.replace("RETURN $x AS a", "RETURN $y AS a");
        assert_eq!(
            QueryDef::parse("q.cypher", &undeclared).unwrap_err(),
            "q.cypher: $y is used but not declared with `// param:`"
        );
        assert_eq!(
            QueryDef::parse("other.cypher", ok).unwrap_err(),
            "other.cypher: id \"q\" differs from the file name"
        );
        assert_eq!(
            QueryDef::parse("q.cypher", &ok.replace("severity: low", "severity: urgent")).unwrap_err(),
            "q.cypher: severity \"urgent\" is not one of info, low, medium, high, critical"
        );
        assert_eq!(
            QueryDef::parse("q.cypher", &ok.replace("// columns: a\n", "")).unwrap_err(),
            "q.cypher: the header has no `// columns:` line"
        );
    }

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

    #[test]
    fn formats() {
        let r = QueryResult {
            id: "q".into(),
            title: "T".into(),
            severity: "low".into(),
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec![Json::from("x, \"y\""), Json::Null],
                vec![Json::from(12), serde_json::json!(["p", "q"])],
            ],
        };
        assert_eq!(format_csv(&r), "a,b\n\"x, \"\"y\"\"\",\n12,\"p, q\"\n");
        assert_eq!(
            format_table(&r),
            "== q [low]: T (2 rows)\na       b\n------  ----\nx, \"y\"\n12      p, q\n"
        );
    }
}
