//! One saved query: its `// key: value` header parsed into a [`QueryDef`].

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use crate::graph::{Element as _, Entity};
use crate::schema::keys;
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

/// A compliance framework a query's controls belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    Soc2,
    Hipaa,
    Pci,
    Iso27001,
    Gdpr,
    #[value(name = "nist-csf")]
    #[serde(rename = "nist-csf")]
    NistCsf,
}

impl Framework {
    pub const ALL: [Framework; 6] = [
        Framework::Soc2,
        Framework::Hipaa,
        Framework::Pci,
        Framework::Iso27001,
        Framework::Gdpr,
        Framework::NistCsf,
    ];

    /// How a control of this framework is written in a query header: `SOC 2 CC6.2`.
    pub const fn prefix(self) -> &'static str {
        match self {
            Framework::Soc2 => "SOC 2",
            Framework::Hipaa => "HIPAA",
            Framework::Pci => "PCI DSS",
            Framework::Iso27001 => "ISO 27001",
            Framework::Gdpr => "GDPR",
            Framework::NistCsf => "NIST CSF",
        }
    }

    /// The name `--framework` takes.
    pub const fn id(self) -> &'static str {
        match self {
            Framework::Soc2 => "soc2",
            Framework::Hipaa => "hipaa",
            Framework::Pci => "pci",
            Framework::Iso27001 => "iso27001",
            Framework::Gdpr => "gdpr",
            Framework::NistCsf => "nist-csf",
        }
    }
}

/// One control a query gives evidence for: `SOC 2 CC6.2` is SOC 2, control CC6.2.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Control {
    pub framework: Framework,
    pub control: String,
}

impl Control {
    /// Reads `SOC 2 CC6.2`, `HIPAA 164.308(a)(5)`, ...
    pub fn parse(text: &str) -> Option<Control> {
        Framework::ALL.into_iter().find_map(|f| {
            let control = text.strip_prefix(f.prefix())?.strip_prefix(' ')?.trim();
            (!control.is_empty()).then(|| Control {
                framework: f,
                control: control.to_owned(),
            })
        })
    }
}

impl std::fmt::Display for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.framework.prefix(), self.control)
    }
}

/// What makes a finding-reporting query a rule: the population it judged (a count
/// query, its denominator, with the same parameters) and what to do about a finding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    /// Cypher returning one row with one column `total`.
    pub count: String,
    /// The population in words, plural: "active people", "phishing failures".
    pub population: String,
    pub remediation: String,
    /// The columns whose values identify one finding across syncs (`// identity:`,
    /// every column when the header has none), in header order: what the sync history
    /// keeps per finding, so that `queries diff` can say which findings are new and
    /// which were resolved.
    pub identity: Vec<String>,
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
    /// The controls as written (`SOC 2 CC6.2`), in header order.
    pub frameworks: Vec<String>,
    pub controls: Vec<Control>,
    pub severity: Severity,
    /// Changes whenever the query's meaning changes, so evidence names what it ran.
    pub version: u32,
    /// Every query that reports findings is a rule; informational ones are not.
    pub rule: Option<Rule>,
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
                "id" | "title" | "description" | "frameworks" | "severity" | "columns" | "version" | "population"
                | "remediation" | "identity" => {
                    if fields.insert(key, value.to_owned()).is_some() {
                        return Err(err(format!("header key {key:?} appears twice")));
                    }
                }
                // A count query may run over several `// count:` lines.
                "count" => {
                    let count = fields.entry("count").or_default();
                    if !count.is_empty() {
                        count.push('\n');
                    }
                    count.push_str(value);
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
        let missing = |k: &str| err(format!("the header has no `// {k}:` line"));
        let mut take = |k: &str| fields.remove(k).ok_or_else(|| missing(k));
        let frameworks: Vec<String> = take("frameworks")?
            .split(';')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let controls = frameworks
            .iter()
            .map(|f| {
                Control::parse(f).ok_or_else(|| {
                    err(format!(
                        "control {f:?} names no known framework (write it as {})",
                        Framework::ALL.map(|f| format!("\"{} ...\"", f.prefix())).join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let version = take("version")?;
        let version = version
            .parse::<u32>()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| err(format!("version {version:?} is not a whole number from 1")))?;
        let def = QueryDef {
            id: take("id")?,
            title: take("title")?,
            description: take("description")?,
            frameworks,
            controls,
            version,
            rule: None,
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
        let mut def = def;
        if Some(def.id.as_str()) != file.strip_suffix(".cypher") {
            return Err(err(format!("id {:?} differs from the file name", def.id)));
        }
        // Without `// identity:` every column identifies a finding.
        let identity = match take("identity") {
            Ok(text) => {
                let identity: Vec<String> = text
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                if identity.is_empty() {
                    return Err(err("`// identity:` names no column".to_owned()));
                }
                for (i, c) in identity.iter().enumerate() {
                    if !def.columns.contains(c) {
                        return Err(err(format!(
                            "identity column {c:?} is not one of the columns ({})",
                            def.columns.join(", ")
                        )));
                    }
                    if identity[..i].contains(c) {
                        return Err(err(format!("identity column {c:?} appears twice")));
                    }
                }
                Some(identity)
            }
            Err(_) => None,
        };
        const RULE_KEYS: [&str; 3] = ["count", "population", "remediation"];
        let rule = RULE_KEYS.map(&mut take);
        match rule {
            [Ok(count), Ok(population), Ok(remediation)] if def.reports_findings() => {
                def.rule = Some(Rule {
                    count,
                    population,
                    remediation,
                    identity: identity.unwrap_or_else(|| def.columns.clone()),
                });
            }
            found if def.reports_findings() => {
                for r in found {
                    r?;
                }
            }
            found => {
                let given = RULE_KEYS
                    .into_iter()
                    .zip(found)
                    .find_map(|(k, v)| v.is_ok().then_some(k))
                    .or(identity.map(|_| "identity"));
                if let Some(k) = given {
                    return Err(err(format!(
                        "`// {k}:` is for queries that report findings; this one is info"
                    )));
                }
            }
        }
        let count = def.rule.as_ref().map(|r| r.count.as_str()).unwrap_or_default();
        for used in parameters_used(text).into_iter().chain(parameters_used(count)) {
            if !def.params.iter().any(|p| p.name == used) {
                return Err(err(format!("${used} is used but not declared with `// param:`")));
            }
        }
        Ok(def)
    }

    /// True when one of its controls belongs to `framework` (`--framework`).
    pub fn maps_to(&self, framework: Framework) -> bool {
        self.controls.iter().any(|c| c.framework == framework)
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
        let entity = Entity::new(
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
        .with(
            "controls",
            self.controls
                .iter()
                .map(|c| format!("{}:{}", c.framework.id(), c.control))
                .collect::<Vec<_>>(),
        )
        .with("version", i64::from(self.version))
        .with("parameters", params)
        .with("columns", self.columns.clone())
        .with("cypher", self.text.as_str())
        .with("file", self.file.as_str())
        .with("querySet", source);
        match &self.rule {
            Some(rule) => entity
                .with("countCypher", rule.count.as_str())
                .with("population", rule.population.as_str())
                .with("remediation", rule.remediation.as_str())
                .with("identity", rule.identity.clone()),
            None => entity,
        }
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
mod tests;
