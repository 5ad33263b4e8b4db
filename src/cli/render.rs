//! Text output of the commands: the configuration description and query tables.

use std::fmt::Write as _;

use crate::config::{AuthConfig, Config};
use crate::queries;

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
    if let Some(ca) = &n.ca_file {
        let _ = writeln!(
            out,
            "neo4j: server certificate checked against the CA in {}",
            ca.display()
        );
    }
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
        let _ = writeln!(
            out,
            "  requests: {} at a time, {} attempts on failures (first wait {} ms), throttling waited out up to {} s per call (rate_limit_max_wait_secs), responses up to {} bytes (max_response_bytes), proxy {}",
            c.max_concurrent_requests,
            c.max_attempts,
            c.retry_backoff.as_millis(),
            c.rate_limit_max_wait.as_secs(),
            c.max_response_bytes,
            c.proxy.as_ref().map_or_else(|| "none".to_owned(), crate::config::ProxyUrl::redacted)
        );
        let logs: Vec<String> = c.threat_logs.iter().map(|l| format!("{l:?}").to_lowercase()).collect();
        let _ = writeln!(
            out,
            "  threat logs: {} (first read {} days back, then from each stream's cursor less {} min)",
            if logs.is_empty() {
                "none".to_owned()
            } else {
                logs.join(", ")
            },
            config.sync.threat_lookback_days,
            config.sync.threat_overlap_minutes
        );
        if !c.compliance.campaign_categories.is_empty() {
            let _ = writeln!(out, "  campaign mappings: {}", c.compliance.campaign_categories.len());
        }
        if let Some(r) = &c.compliance.roster {
            let _ = writeln!(out, "  roster: {}", r.display());
        }
        if let Some(r) = &c.compliance.extra_completions {
            let _ = writeln!(out, "  extra completions: {}", r.display());
        }
    }
    out
}

/// The JSON summary of a sync, with the exit code it ends in.
pub fn sync_json(outcome: &crate::sync::SyncOutcome, exit: crate::exit::Exit) -> serde_json::Value {
    let mut summary = outcome.to_json();
    summary["exitCode"] = exit.code().into();
    summary
}

/// The text summary of a sync; its first line ends with the exit code.
pub fn sync_text(outcome: &crate::sync::SyncOutcome, exit: crate::exit::Exit) -> String {
    outcome
        .human()
        .replacen('\n', &format!(" (exit code {})\n", exit.code()), 1)
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
    let _ = writeln!(out, "version:     {}", d.version);
    for p in &d.params {
        let _ = writeln!(out, "param:       {} = {}  ({})", p.name, p.default, p.description);
    }
    if let Some(rule) = &d.rule {
        let _ = writeln!(out, "population:  {}\ncount:       {}", rule.population, rule.count);
        let _ = writeln!(out, "remediation: {}", rule.remediation);
    }
    let _ = writeln!(out, "description: {}\n\n{}", d.description, d.text);
    out
}
