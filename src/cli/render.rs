//! Text output of the commands: the configuration description and query tables.

use std::fmt::Write as _;

use crate::config::{AuthConfig, Config};
use crate::queries::{self, QueryResult};

/// A human description of the resolved configuration; secrets appear only as the
/// name of the environment variable holding them.
pub fn describe(config: &Config) -> String {
    let mut out = String::new();
    let source = config
        .source
        .as_ref()
        .map_or_else(|| "environment only".to_owned(), |p| p.display().to_string());
    let _ = writeln!(out, "configuration: {source}");
    let n = &config.neo4j;
    let _ = writeln!(
        out,
        "neo4j: {} as {} (password from ${}), database {}, batch size {}",
        n.uri,
        n.user,
        n.password.env,
        n.database.as_deref().unwrap_or("(default)"),
        n.batch_size
    );
    if config.connections.is_empty() {
        let _ = writeln!(out, "connections: none");
    }
    for c in &config.connections {
        let auth = match &c.auth {
            AuthConfig::OAuth2 {
                client_id,
                client_secret,
            } => format!(
                "API 2.0 OAuth2 (client id ${}, secret ${})",
                client_id.env, client_secret.env
            ),
            AuthConfig::Hmac { access_key, .. } => {
                format!("API 1.0 HMAC (keys from ${} and related variables)", access_key.env)
            }
        };
        let _ = writeln!(
            out,
            "connection {}: {} via {}, page size {}, awareness training {:?}",
            c.name,
            c.resolved_base_url().unwrap_or_else(|| "(unknown region)".into()),
            auth,
            c.page_size,
            c.awareness_training
        );
        if !c.compliance.campaign_categories.is_empty() {
            let _ = writeln!(out, "  campaign mappings: {}", c.compliance.campaign_categories.len());
        }
        if let Some(r) = &c.compliance.roster {
            let _ = writeln!(out, "  roster: {}", r.display());
        }
    }
    out
}

/// A query result as a table, at most `limit` rows shown; the title counts all rows
/// and a last line says how many were left out.
pub fn query_table(result: &QueryResult, limit: Option<usize>) -> String {
    let total = result.rows.len();
    let mut shown = result.clone();
    if let Some(n) = limit {
        shown.rows.truncate(n);
    }
    let mut out = queries::format_table(&shown).replacen(
        &format!("({})", queries::row_count(shown.rows.len())),
        &format!("({})", queries::row_count(total)),
        1,
    );
    let hidden = total - shown.rows.len();
    if hidden > 0 {
        let rows = if hidden == 1 { "row" } else { "rows" };
        let _ = writeln!(out, "... {hidden} more {rows} (use --format csv or json for all)");
    }
    out
}

/// `queries show`: a query's metadata, then its Cypher.
pub fn query_definition(d: &queries::QueryDef) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "id:          {}\ntitle:       {}\nseverity:    {}",
        d.id, d.title, d.severity
    );
    let _ = writeln!(
        out,
        "frameworks:  {}\ncolumns:     {}",
        d.frameworks.join("; "),
        d.columns.join(", ")
    );
    for p in &d.params {
        let _ = writeln!(out, "param:       {} = {}  ({})", p.name, p.default, p.description);
    }
    let _ = writeln!(out, "description: {}\n\n{}", d.description, d.text);
    out
}

#[cfg(test)]
mod tests {
    use super::query_table;
    use crate::queries::QueryResult;

    fn result(rows: usize) -> QueryResult {
        QueryResult {
            id: "q".into(),
            title: "T".into(),
            severity: crate::queries::Severity::Low,
            columns: vec!["a".into()],
            rows: (0..rows).map(|i| vec![serde_json::json!(i)]).collect(),
        }
    }

    #[test]
    fn a_limited_table_counts_every_row_and_names_what_it_left_out() {
        assert_eq!(
            query_table(&result(3), Some(2)),
            "== q [low]: T (3 rows)\na\n-\n0\n1\n... 1 more row (use --format csv or json for all)\n"
        );
        assert_eq!(
            query_table(&result(3), Some(1)),
            "== q [low]: T (3 rows)\na\n-\n0\n... 2 more rows (use --format csv or json for all)\n"
        );
        assert_eq!(query_table(&result(1), None), "== q [low]: T (1 row)\na\n-\n0\n");
    }
}
