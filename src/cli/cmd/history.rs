//! `history [--account CODE] [--limit N] [--json]`.

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::args::HistoryArgs;
use crate::cli::{load_config, output, CliError};
use crate::config::Needs;
use crate::exit::Exit;
use crate::sink::{Sink, SyncRun};

pub async fn run(config: Option<&Path>, args: &HistoryArgs) -> Result<Exit, CliError> {
    let config = load_config(config, Needs::Neo4j)?;
    let sink = Sink::connect(&config.neo4j).await?;
    let runs = sink.runs(args.account.as_deref(), args.limit).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&runs).map_err(CliError::failure)?;
        output::println(&text)?;
    } else {
        output::print(&table(&runs, args.account.as_deref()))?;
    }
    Ok(Exit::Success)
}

/// One line per run, newest first.
pub fn table(runs: &[SyncRun], account: Option<&str>) -> String {
    if runs.is_empty() {
        return match account {
            Some(a) => format!("no sync of account {a} is recorded\n"),
            None => "no sync is recorded yet\n".to_owned(),
        };
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:<36} {:<20} {:<8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8}",
        "account", "sync", "started", "status", "created", "changed", "unchanged", "deleted", "api", "findings"
    );
    for r in runs {
        let t = r.totals();
        let _ = writeln!(
            out,
            "{:<12} {:<36} {:<20} {:<8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8}",
            r.account,
            r.sync_id,
            r.started_on,
            r.status,
            t.created,
            t.updated,
            t.unchanged,
            t.deleted,
            r.api_requests,
            r.findings.values().sum::<u64>()
        );
    }
    out
}
