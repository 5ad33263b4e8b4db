//! Where saved queries come from: the files compiled into the binary, or a folder.

use std::path::Path;

use super::def::{DefError, QueryDef};

/// The queries compiled into the binary, so a deployed worker has them.
const EMBEDDED: [(&str, &str); 20] = [
    (
        "active-without-account.cypher",
        include_str!("../../queries/active-without-account.cypher"),
    ),
    (
        "assigned-not-completed.cypher",
        include_str!("../../queries/assigned-not-completed.cypher"),
    ),
    (
        "campaign-completion.cypher",
        include_str!("../../queries/campaign-completion.cypher"),
    ),
    (
        "clicked-malicious-not-retrained.cypher",
        include_str!("../../queries/clicked-malicious-not-retrained.cypher"),
    ),
    (
        "dormant-mailboxes.cypher",
        include_str!("../../queries/dormant-mailboxes.cypher"),
    ),
    (
        "high-risk-safe-score.cypher",
        include_str!("../../queries/high-risk-safe-score.cypher"),
    ),
    (
        "impersonation-targets.cypher",
        include_str!("../../queries/impersonation-targets.cypher"),
    ),
    (
        "malicious-attachment-recipients.cypher",
        include_str!("../../queries/malicious-attachment-recipients.cypher"),
    ),
    (
        "missing-required-training.cypher",
        include_str!("../../queries/missing-required-training.cypher"),
    ),
    (
        "phished-not-retrained.cypher",
        include_str!("../../queries/phished-not-retrained.cypher"),
    ),
    (
        "real-and-simulated-failures.cypher",
        include_str!("../../queries/real-and-simulated-failures.cypher"),
    ),
    (
        "siem-detections-not-retrained.cypher",
        include_str!("../../queries/siem-detections-not-retrained.cypher"),
    ),
    ("stale-sync.cypher", include_str!("../../queries/stale-sync.cypher")),
    ("sync-history.cypher", include_str!("../../queries/sync-history.cypher")),
    (
        "terminated-with-account.cypher",
        include_str!("../../queries/terminated-with-account.cypher"),
    ),
    (
        "training-completed-elsewhere.cypher",
        include_str!("../../queries/training-completed-elsewhere.cypher"),
    ),
    (
        "unmapped-campaigns.cypher",
        include_str!("../../queries/unmapped-campaigns.cypher"),
    ),
    (
        "url-warning-overrides.cypher",
        include_str!("../../queries/url-warning-overrides.cypher"),
    ),
    (
        "users-without-active-person.cypher",
        include_str!("../../queries/users-without-active-person.cypher"),
    ),
    ("watchlist.cypher", include_str!("../../queries/watchlist.cypher")),
];

/// Why a query folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(transparent)]
    Def(#[from] DefError),
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
pub fn for_config(dir: Option<&Path>) -> Result<QuerySet, LoadError> {
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
pub fn load_dir(dir: &Path) -> Result<QuerySet, LoadError> {
    let unreadable = |path: &Path| {
        let path = path.display().to_string();
        move |source| LoadError::Read { path, source }
    };
    let entries = std::fs::read_dir(dir).map_err(unreadable(dir))?;
    let mut defs = Vec::new();
    for entry in entries {
        let path = entry.map_err(unreadable(dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("cypher") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(unreadable(&path))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_query_parses_and_the_list_matches_the_folder() {
        let defs = embedded();
        assert_eq!(defs.len(), 20);
        assert_eq!(defs.source, "builtin");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let from_disk = load_dir(&dir).unwrap();
        assert_eq!(
            from_disk.queries, defs.queries,
            "queries/ and the EMBEDDED list in src/queries/load.rs differ"
        );
        for d in defs.iter() {
            assert!(!d.columns.is_empty(), "{}", d.id);
            // Every built-in rule names its identity columns rather than taking all.
            assert_eq!(
                d.text.lines().any(|l| l.starts_with("// identity: ")),
                d.rule.is_some(),
                "{}: a rule declares `// identity:`, an info query does not",
                d.id
            );
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
}
