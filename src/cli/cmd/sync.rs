//! `sync [--json]`: one whole sync, then its summary.

use std::path::Path;

use crate::cli::args::SyncArgs;
use crate::cli::{load_sync_setup, output, render, CliError};
use crate::exit::Exit;

pub async fn run(config: Option<&Path>, args: &SyncArgs) -> Result<Exit, CliError> {
    let (mut config, queries) = load_sync_setup(config, args.shard.shard)?;
    config.sync.allow_mass_delete = args.guard.allow_mass_delete;
    if args.verify_content {
        config.neo4j.verify_content_hours = 0;
    }
    let progress = crate::steps::TerminalProgress::new();
    let stop = crate::stop::Stop::new();
    stop.on_signals(crate::cli::exit_now_interrupted);
    let outcome = crate::sync::run_once(&config, &crate::collect::all_steps(), &queries, &progress, &stop).await;
    let exit = crate::cli::exit_of(outcome.status);
    if args.json {
        output::println(&serde_json::to_string_pretty(&render::sync_json(&outcome, exit)).unwrap_or_default())?;
    } else {
        output::print(&render::sync_text(&outcome, exit))?;
    }
    Ok(exit)
}
