//! Command-line interface. [`args`] holds the clap types, [`cmd`] one module per
//! command (each returns an [`Exit`] or a [`CliError`]), [`render`] the text output.
//! This file runs a command and is the one place where errors become exit codes and
//! are printed with their whole cause chain.

pub mod args;
pub mod cmd;
pub mod output;
pub mod render;

use std::path::Path;

pub use args::{Cli, Command};

use crate::config::{Config, ConfigError, Needs};
use crate::exit::Exit;
use crate::queries::{QueryError, QuerySet};
use crate::report::ReportError;
use crate::sink::SinkError;
use crate::telemetry;

/// Why a command failed, and the exit code that says so.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub error: anyhow::Error,
    /// Nothing to say: the reader of stdout went away.
    quiet: bool,
}

impl CliError {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            exit,
            error: error.into(),
            quiet: false,
        }
    }

    /// stdout was closed by its reader (`| head`): stop, say nothing, exit 0.
    pub fn closed_pipe() -> CliError {
        CliError {
            exit: Exit::Success,
            error: anyhow::anyhow!("stdout was closed"),
            quiet: true,
        }
    }

    /// A bad command line.
    pub fn usage(message: impl std::fmt::Display) -> CliError {
        CliError::new(Exit::Usage, anyhow::anyhow!("{message}"))
    }

    /// An unexpected failure (a file that cannot be written, ...).
    pub fn failure(error: impl Into<anyhow::Error>) -> CliError {
        CliError::new(Exit::Failure, error)
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> CliError {
        CliError::new(Exit::Config, e)
    }
}

impl From<SinkError> for CliError {
    fn from(e: SinkError) -> CliError {
        CliError::new(Exit::Neo4j, e)
    }
}

impl From<ReportError> for CliError {
    fn from(e: ReportError) -> CliError {
        match e {
            ReportError::UnknownAccount { .. }
            | ReportError::NoAccounts
            | ReportError::NoQueries(_)
            | ReportError::NotEmpty(_) => CliError::new(Exit::Usage, e),
            ReportError::Io { .. } => CliError::failure(e),
            ReportError::Query(e) => e.into(),
            ReportError::Sink(e) => e.into(),
            ReportError::History(_) => CliError::new(Exit::Neo4j, e),
        }
    }
}

impl From<QueryError> for CliError {
    fn from(e: QueryError) -> CliError {
        let exit = match e {
            QueryError::Unknown(_)
            | QueryError::BadParam(_)
            | QueryError::UnknownParam(_)
            | QueryError::ParamType { .. } => Exit::Usage,
            QueryError::Sink { .. } | QueryError::Columns { .. } | QueryError::Count { .. } => Exit::Neo4j,
        };
        CliError::new(exit, e)
    }
}

/// Ends the process with [`Exit::Interrupted`]: a second stop signal during `sync`
/// or `run`.
pub fn exit_now_interrupted() {
    std::process::exit(i32::from(Exit::Interrupted.code()));
}

/// The exit code of a sync.
pub fn exit_of(status: crate::sync::SyncStatus) -> Exit {
    use crate::sync::SyncStatus as S;
    match status {
        S::Success => Exit::Success,
        S::Partial => Exit::Partial,
        S::MimecastFailed => Exit::Mimecast,
        S::Neo4jFailed => Exit::Neo4j,
        S::PolicyFailed => Exit::Policy,
        S::Stopped => Exit::Failure,
    }
}

/// An error and its causes, `: `-separated, each said once: a cause whose text its
/// parent already includes (`cannot read x: No such file or directory`) is not
/// repeated.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> Exit {
    let json_logs = telemetry::init(
        cli.global.log_format,
        matches!(cli.command, Command::Run(_)),
        cli.global.log_level(),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Failure;
        }
    };
    match runtime.block_on(run(cli, json_logs)) {
        Ok(exit) => exit,
        Err(e) if e.quiet => e.exit,
        Err(e) => {
            eprintln!("error: {}", cause_chain(e.error.as_ref()));
            e.exit
        }
    }
}

async fn run(cli: Cli, json_logs: bool) -> Result<Exit, CliError> {
    let config = cli.global.config.as_deref();
    match cli.command {
        Command::Validate => cmd::validate::run(config).await,
        Command::Collect(args) => cmd::collect::run(config, &args).await,
        Command::Sync(args) => cmd::sync::run(config, &args).await,
        Command::Run(args) => cmd::daemon::run(config, &args, json_logs).await,
        Command::History(args) => cmd::history::run(config, &args).await,
        Command::Schema(command) => cmd::schema::run(config, &command).await,
        Command::Queries(args) => cmd::queries::run(config, args).await,
        Command::Report(args) => cmd::report::run(config, &args).await,
        Command::Config(command) => cmd::config::run(config, &command),
        Command::Completions { shell } => cmd::docs::completions(shell),
        Command::Man => cmd::docs::man(),
    }
}

/// The configuration, loaded and validated for what the command needs.
fn load_config(path: Option<&Path>, needs: Needs) -> Result<Config, CliError> {
    Ok(Config::load(path, needs)?)
}

/// The configuration of a command that reads Mimecast: at least one connection.
fn load_tenants_config(path: Option<&Path>, needs: Needs) -> Result<Config, CliError> {
    let config = load_config(path, needs)?;
    config.require_connections()?;
    Ok(config)
}

/// What `sync` and `run` need: tenants (only the shard's, with `--shard`), Neo4j, and
/// the queries to store.
fn load_sync_setup(path: Option<&Path>, shard: Option<crate::shard::Shard>) -> Result<(Config, QuerySet), CliError> {
    let mut config = load_tenants_config(path, Needs::Both)?;
    if let Some(shard) = shard {
        let all = config.connections.len();
        config.connections = shard.select(std::mem::take(&mut config.connections));
        let names: Vec<&str> = config.connections.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() {
            tracing::warn!(%shard, connections = all, "this shard holds none of the connections: nothing to sync");
        } else {
            tracing::info!(%shard, connections = all, selected = %names.join(","), "syncing this shard's connections");
        }
    }
    let queries = load_queries(&config)?;
    Ok((config, queries))
}

fn load_queries(config: &Config) -> Result<QuerySet, CliError> {
    crate::queries::for_config(config.queries_dir.as_deref())
        .map_err(|e| CliError::new(Exit::Config, anyhow::anyhow!(e)))
}

#[cfg(test)]
mod tests {
    use super::cause_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the roster r.csv: {source}")]
    struct Outer {
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("loading the configuration")]
    struct Top {
        source: Outer,
    }

    #[test]
    fn a_cause_already_in_its_parent_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let e = Top {
            source: Outer { source: io },
        };
        assert_eq!(
            cause_chain(&e),
            "loading the configuration: cannot read the roster r.csv: No such file or directory (os error 2)"
        );
    }
}
