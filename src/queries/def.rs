//! One saved query: its `// key: value` header parsed into a [`QueryDef`].

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use crate::converters::keys;
use crate::graph::{Element as _, Entity};
use crate::schema::types;

/// How serious a query's rows are. `info` queries report no findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = ();
    fn from_str(s: &str) -> Result<Severity, ()> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

/// A query file that does not parse, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct DefError {
    pub file: String,
    pub message: String,
}

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
    pub severity: Severity,
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
    pub fn parse(file: &str, text: &str) -> Result<QueryDef, DefError> {
        let err = |message: String| DefError {
            file: file.to_owned(),
            message,
        };
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
            severity: {
                let s = take("severity")?;
                s.parse().map_err(|()| {
                    err(format!(
                        "severity {s:?} is not one of {}",
                        Severity::ALL.map(Severity::as_str).join(", ")
                    ))
                })?
            },
            params,
            columns: take("columns")?.split(',').map(|s| s.trim().to_owned()).collect(),
            text: text.to_owned(),
            file: file.to_owned(),
        };
        if Some(def.id.as_str()) != file.strip_suffix(".cypher") {
            return Err(err(format!("id {:?} differs from the file name", def.id)));
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
        self.severity != Severity::Info
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

#[cfg(test)]
mod tests {
    use super::*;

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
            QueryDef::parse("q.cypher", &undeclared).unwrap_err().to_string(),
            "q.cypher: $y is used but not declared with `// param:`"
        );
        assert_eq!(
            QueryDef::parse("other.cypher", ok).unwrap_err().to_string(),
            "other.cypher: id \"q\" differs from the file name"
        );
        assert_eq!(
            QueryDef::parse("q.cypher", &ok.replace("severity: low", "severity: urgent"))
                .unwrap_err()
                .to_string(),
            "q.cypher: severity \"urgent\" is not one of info, low, medium, high, critical"
        );
        assert_eq!(
            QueryDef::parse("q.cypher", &ok.replace("// columns: a\n", ""))
                .unwrap_err()
                .to_string(),
            "q.cypher: the header has no `// columns:` line"
        );
    }
}
