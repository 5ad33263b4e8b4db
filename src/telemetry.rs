//! Logging set-up. Logs go to stderr (stdout carries results); `RUST_LOG` filters
//! (else `-v`/`-q` pick the level), `--log-format` picks human text or JSON lines. The
//! daemon logs JSON when stderr is not a terminal. Colour only on a terminal, and never
//! when `NO_COLOR` is set (<https://no-color.org>).

use std::io::{IsTerminal, Write as _};

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise for the daemon; text otherwise for one-shot commands.
    Auto,
    Text,
    Json,
}

/// How much is logged when `RUST_LOG` is not set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Info,
    Debug,
    Trace,
}

impl Level {
    /// The filter directives: the worker's own level, the libraries' a step quieter.
    pub fn directives(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Info => "info,neo4rs=warn",
            Level::Debug => "debug,neo4rs=info,hyper=info,hyper_util=info,reqwest=info,rustls=info,h2=info",
            Level::Trace => "trace",
        }
    }
}

/// True when `NO_COLOR` is set to anything but the empty string.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Installs the global subscriber. `json_when_piped` makes `auto` mean JSON when stderr
/// is not a terminal (the daemon under a supervisor). Returns whether logs are JSON.
pub fn init(format: LogFormat, json_when_piped: bool, level: Level) -> bool {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level.directives()));
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
        builder.with_ansi(terminal && !no_color()).try_init()
    };
    json
}

/// Logs one event whose field is a JSON document. A tracing field can only hold text,
/// so on JSON logs the line is written here in the subscriber's own shape (timestamp,
/// level, message, then the field) with the document as an object, not an escaped
/// string; on text logs it is an ordinary event.
pub fn info_json(json_logs: bool, message: &str, field: &str, value: &serde_json::Value) {
    if json_logs {
        let mut line = serde_json::Map::new();
        line.insert(
            "timestamp".into(),
            serde_json::Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), "INFO".into());
        line.insert("message".into(), message.into());
        line.insert(field.into(), value.clone());
        // Like the subscriber, a log line that cannot be written is dropped, not fatal.
        let _ = writeln!(std::io::stderr(), "{}", serde_json::Value::Object(line));
    } else {
        tracing::info!(value = %value, "{message}");
    }
}
