//! `run --interval`: the polling daemon until SIGINT/SIGTERM.

use std::path::Path;

use crate::cli::args::RunArgs;
use crate::cli::{load_sync_setup, CliError};
use crate::exit::Exit;

pub async fn run(config: Option<&Path>, args: &RunArgs, json_logs: bool) -> Result<Exit, CliError> {
    let (mut config, queries) = load_sync_setup(config, args.shard.shard)?;
    config.sync.allow_mass_delete = args.guard.allow_mass_delete;
    let stop = crate::stop::Stop::new();
    stop.on_signals(crate::cli::exit_now_interrupted);
    let observe = |o: &crate::sync::SyncOutcome| {
        let summary = crate::cli::render::sync_json(o, crate::cli::exit_of(o.status));
        crate::telemetry::info_json(json_logs, "sync summary", "summary", &summary);
    };
    let opts = crate::daemon::DaemonOptions::every(args.interval);
    let end = crate::daemon::run(
        &config,
        &crate::collect::all_steps(),
        &queries,
        &opts,
        &crate::steps::SilentProgress,
        &stop,
        &observe,
    )
    .await;
    Ok(if end.interrupted { Exit::Failure } else { Exit::Success })
}
