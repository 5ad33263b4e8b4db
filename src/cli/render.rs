//! Text output of the commands: the configuration description, query tables and the
//! findings diff.

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
        if c.siem.enabled {
            let _ = writeln!(
                out,
                "  SIEM batch: {} ({} files per listing page; first read {} days back, then from each type's token)",
                c.siem.types.join(", "),
                c.siem.page_size,
                config.sync.threat_lookback_days.min(7)
            );
        } else {
            let _ = writeln!(out, "  SIEM batch: off ([connection.siem] enabled = false)");
        }
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
        let _ = writeln!(out, "identity:    {}", rule.identity.join(", "));
    }
    let _ = writeln!(out, "description: {}\n\n{}", d.description, d.text);
    out
}

/// The rules of `drift` in the order of `defs` (most severe first, as `queries run
/// --all`), then any rule the current set no longer has, by id.
fn drift_rules<'a>(
    drift: &'a queries::drift::AccountDrift,
    defs: &'a [queries::QueryDef],
) -> Vec<(&'a queries::drift::RuleDrift, Option<&'a queries::QueryDef>)> {
    let mut rules: Vec<_> = drift
        .rules
        .iter()
        .map(|r| (r, defs.iter().find(|d| d.id == r.id)))
        .collect();
    rules.sort_by(|(a, da), (b, db)| match (da, db) {
        (Some(da), Some(db)) => db.severity.cmp(&da.severity).then_with(|| a.id.cmp(&b.id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.id.cmp(&b.id),
    });
    rules
}

/// One finding's identity as `column=value, column=value`.
fn identity_text(columns: &[String], id: &[serde_json::Value]) -> String {
    columns
        .iter()
        .zip(id)
        .map(|(c, v)| format!("{c}={}", queries::cell(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn findings_word(n: usize) -> String {
    if n == 1 {
        "1 finding".to_owned()
    } else {
        format!("{n} findings")
    }
}

/// `queries diff`: per account the two syncs, then per rule its new (`+`) and
/// resolved (`-`) findings.
pub fn drift_table(
    results: &[Result<queries::drift::AccountDrift, queries::drift::Unpicked>],
    defs: &[queries::QueryDef],
) -> String {
    use queries::drift::Compared;
    let mut out = String::new();
    if results.is_empty() {
        out.push_str("no sync is recorded yet\n");
    }
    for result in results {
        let d = match result {
            Ok(d) => d,
            Err(why) => {
                let _ = writeln!(out, "== {}: nothing to compare: {why}", why.account());
                continue;
            }
        };
        let _ = writeln!(
            out,
            "== {}: {} new, {} resolved, from sync {} ({}) to sync {} ({})",
            d.account,
            d.new_count(),
            d.resolved_count(),
            d.from.sync_id,
            d.from.started_on,
            d.to.sync_id,
            d.to.started_on
        );
        for (r, def) in drift_rules(d, defs) {
            let severity = def.map_or_else(|| "removed".to_owned(), |d| d.severity.to_string());
            let count = |n: Option<usize>| findings_word(n.unwrap_or(0));
            let version = match (r.from_version, r.to_version) {
                (Some(a), Some(b)) if a != b => format!("; version {a} then {b}"),
                _ => String::new(),
            };
            let summary = match r.compared {
                Compared::Yes if r.new.is_empty() && r.resolved.is_empty() => {
                    format!("no change ({})", count(r.to_findings))
                }
                Compared::Yes => format!(
                    "{} new, {} resolved ({} then {})",
                    r.new.len(),
                    r.resolved.len(),
                    count(r.from_findings),
                    findings_word(r.to_findings.unwrap_or(0))
                ),
                Compared::NotInEarlier => format!("not recorded in the earlier sync ({} now)", count(r.to_findings)),
                Compared::NotInLater => format!("not recorded in the latest sync ({} before)", count(r.from_findings)),
                Compared::IdentityChanged => format!(
                    "its identity columns changed, so findings do not compare ({} then {})",
                    count(r.from_findings),
                    count(r.to_findings)
                ),
                Compared::TooMany => format!(
                    "too many findings to keep their identities ([sync] history_finding_ids_max), so they do \
                     not compare ({} then {})",
                    count(r.from_findings),
                    count(r.to_findings)
                ),
            };
            let _ = writeln!(out, "{} [{severity}]: {summary}{version}", r.id);
            for id in &r.new {
                let _ = writeln!(out, "  + {}", identity_text(&r.identity, id));
            }
            for id in &r.resolved {
                let _ = writeln!(out, "  - {}", identity_text(&r.identity, id));
            }
        }
    }
    out
}

/// `queries diff --json`: per account `from`, `to`, the totals and per rule its
/// findings, each an object of its identity columns; or a `note` saying why the
/// account has nothing to compare.
pub fn drift_json(
    results: &[Result<queries::drift::AccountDrift, queries::drift::Unpicked>],
    defs: &[queries::QueryDef],
) -> serde_json::Value {
    use serde_json::json;
    let objects = |columns: &[String], ids: &[Vec<serde_json::Value>]| -> Vec<serde_json::Value> {
        ids.iter()
            .map(|id| serde_json::Value::Object(columns.iter().cloned().zip(id.iter().cloned()).collect()))
            .collect()
    };
    let accounts: Vec<serde_json::Value> = results
        .iter()
        .map(|result| match result {
            Err(why) => json!({"account": why.account(), "note": why.to_string()}),
            Ok(d) => {
                let rules: Vec<serde_json::Value> = drift_rules(d, defs)
                    .into_iter()
                    .map(|(r, def)| {
                        json!({
                            "id": r.id,
                            "title": def.map(|d| d.title.as_str()),
                            "severity": def.map(|d| d.severity),
                            "compared": r.compared,
                            "identity": r.identity,
                            "fromVersion": r.from_version,
                            "toVersion": r.to_version,
                            "fromFindings": r.from_findings,
                            "toFindings": r.to_findings,
                            "new": objects(&r.identity, &r.new),
                            "resolved": objects(&r.identity, &r.resolved),
                        })
                    })
                    .collect();
                json!({
                    "account": d.account,
                    "from": d.from,
                    "to": d.to,
                    "new": d.new_count(),
                    "resolved": d.resolved_count(),
                    "rules": rules,
                })
            }
        })
        .collect();
    serde_json::Value::Array(accounts)
}
