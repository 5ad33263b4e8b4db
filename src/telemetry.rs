//! Logging set-up. Logs go to stderr (stdout carries results); `RUST_LOG` filters,
//! `--log-format` picks human text or JSON lines. The daemon logs JSON when stderr is
//! not a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise for the daemon; text otherwise for one-shot commands.
    Auto,
    Text,
    Json,
}

/// Installs the global subscriber. `json_when_piped` makes `auto` mean JSON when stderr
/// is not a terminal (the daemon under a supervisor).
pub fn init(format: LogFormat, json_when_piped: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,neo4rs=warn"));
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => json_when_piped && !terminal,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.with_ansi(terminal).try_init()
    };
}
