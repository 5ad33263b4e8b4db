//! The command line: clap types only. What each command does is in [`super::cmd`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::Exit;
use crate::telemetry::LogFormat;

const ABOUT: &str = "Mimecast to Neo4j knowledge-graph ingestion for security and compliance audits.";

const LONG_ABOUT: &str = "\
Mimecast to Neo4j knowledge-graph ingestion for security and compliance audits.

Reads a Mimecast tenant through API 2.0 (OAuth2 client credentials; HMAC-signed API 1.0 \
as a legacy mode): the account, internal domains and users, Awareness Training \
campaigns, enrollments, phishing simulations and SAFE scores, and the Targeted Threat \
Protection URL, attachment and impersonation logs (as events, resumed from a cursor \
per stream). Builds the graph in \
memory, validates its integrity, and upserts it into Neo4j. The worker only reads \
from Mimecast; it never writes to it.

Configuration comes from a TOML file (--config or MIMECAST_GRAPH_CONFIG), then the \
environment. A single tenant needs no file: set MIMECAST_CLIENT_ID, \
MIMECAST_CLIENT_SECRET, MIMECAST_REGION (global|us|uk) or MIMECAST_BASE_URL, and \
NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD. Secrets are read from environment variables \
only and never printed.

Logs go to stderr (filter with RUST_LOG, e.g. RUST_LOG=debug); results go to stdout.";

#[derive(Debug, Parser)]
#[command(name = "mimecast-graph", version, about = ABOUT, long_about = LONG_ABOUT, after_help = Exit::help())]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file (TOML). Without one, everything comes from the environment.
    #[arg(long, short = 'c', global = true, env = "MIMECAST_GRAPH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format on stderr: auto (text on a terminal; the daemon logs JSON otherwise),
    /// text, or json.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// More log detail on stderr: -v debug, -vv trace (RUST_LOG, when set, decides).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr (RUST_LOG, when set, decides).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

impl GlobalArgs {
    /// The log level the flags ask for.
    pub fn log_level(&self) -> crate::telemetry::Level {
        use crate::telemetry::Level;
        match (self.quiet, self.verbose) {
            (true, _) => Level::Error,
            (false, 0) => Level::Info,
            (false, 1) => Level::Debug,
            (false, _) => Level::Trace,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration, each connection's credentials and product access
    /// (one call per product area), and Neo4j; print a table of what works and what
    /// to fix. Exits non-zero when anything fails.
    Validate,
    /// Fetch every configured tenant, build and validate the graph, and write
    /// DIR/graph.json, DIR/summary.json and DIR/findings.ocsf.jsonl (one OCSF Detection
    /// Finding per TTP URL, attachment and impersonation event and per SIEM batch
    /// detection). Needs no Neo4j.
    Collect(CollectArgs),
    /// Collect, then write to Neo4j only what changed: apply the schema, read what
    /// Neo4j holds of each account, create what is new, rewrite what changed, and
    /// delete what the account no longer has (only for complete snapshot types, within
    /// the deletion guard). Records the sync in the account's history. Prints created,
    /// updated, unchanged and deleted counts per type.
    Sync(SyncArgs),
    /// The polling daemon: sync now, then every --interval (with jitter), never two
    /// runs at once, retrying failures sooner with backoff. SIGINT/SIGTERM let the
    /// batches in flight finish, then exit. Logs JSON lines when stderr is not a terminal.
    Run(RunArgs),
    /// The recorded syncs of each account, newest first: when each ran, how it ended,
    /// what it created, changed, left unchanged and deleted, its API requests and
    /// throttling, and the saved rules' findings after it. Kept in Neo4j as
    /// MimecastSyncRun nodes ([sync] history_runs per account, default 100), with the
    /// identity of each finding (compared by `queries diff`) and each campaign's
    /// completion.
    History(HistoryArgs),
    /// The graph schema (graph-schema/).
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// The saved compliance queries (queries/*.cypher): list, show, run against Neo4j
    /// in read transactions.
    Queries(QueriesArgs),
    /// Write the evidence report for audits into DIR: index.html (one self-contained
    /// page: sync freshness, campaign completion and pass rates, required-training
    /// coverage, every rule's findings of its population with severity, controls and
    /// remediation, phishing simulations, trends of findings and of campaign
    /// completion over the recorded syncs; printable to
    /// PDF), rules/ID.csv with each query's rows, and manifest.json with the tool
    /// version, the time, each account's latest sync id, each rule's counts and the
    /// SHA-256 of every other file. Prints the manifest's own SHA-256.
    #[command(after_help = crate::report::after_help())]
    Report(ReportArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script: `mimecast-graph completions bash >
    /// /etc/bash_completion.d/mimecast-graph` (zsh: a file named _mimecast-graph in
    /// your $fpath; fish: ~/.config/fish/completions/mimecast-graph.fish).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `mimecast-graph man > mimecast-graph.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only this account code (default: every account in the graph).
    #[arg(long, value_name = "CODE")]
    pub account: Option<String>,
    /// Only the queries with controls of this framework.
    #[arg(long, value_enum, value_name = "FRAMEWORK")]
    pub framework: Option<crate::queries::Framework>,
    /// Read the queries from this folder instead of the ones built in (or the
    /// config's [queries] dir).
    #[arg(long, value_name = "DIR")]
    pub queries_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Output folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Print the summary as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Read each account's stored state in full this time and restore whatever was
    /// edited by hand, however recently it was verified. Without it a sync reads only
    /// keys and fingerprints when the last full read is younger than [neo4j]
    /// verify_content_hours (default 24): deletions by hand are restored every sync,
    /// property edits by hand at the next full read.
    #[arg(long)]
    pub verify_content: bool,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
}

#[derive(Debug, Args)]
pub struct ShardArgs {
    /// Sync only shard K of N (K from 1): the connections whose name hashes to it, so
    /// N workers given the same configuration share the tenants (each connection in
    /// exactly one shard; stable across runs, hosts and versions).
    #[arg(long, env = "MIMECAST_GRAPH_SHARD", value_name = "K/N")]
    pub shard: Option<crate::shard::Shard>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this account code.
    #[arg(long, value_name = "CODE")]
    pub account: Option<String>,
    /// At most N syncs.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Print JSON (one array of runs, with per-type counts and per-rule findings).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GuardArgs {
    /// Let the cleanup delete more than [sync] max_delete_share (default 0.5) of an
    /// account's elements of one type, or all of them. Without it such a cleanup
    /// deletes none of them and the type is partial (exit 10).
    #[arg(long)]
    pub allow_mass_delete: bool,
}

#[derive(Debug, Args)]
pub struct QueriesArgs {
    /// Read the queries from this folder instead of the ones built in (or the
    /// config's [queries] dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub queries_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: QueriesCommand,
}

#[derive(Debug, Subcommand)]
pub enum QueriesCommand {
    /// One line per query: id, severity, title.
    List,
    /// A query's metadata and Cypher (paste it into Neo4j Browser after its :param lines).
    Show {
        /// The query id.
        id: String,
    },
    /// Run queries and print their rows. Rows of queries whose severity is not
    /// `info` are findings. With --all the queries run most severe first.
    Run(RunQueriesArgs),
    /// Findings history: per rule, the findings that are new in the latest recorded
    /// sync and the ones resolved since an earlier sync (default: the previous one),
    /// known by the rule's identity columns (`// identity:`). Each sync records them
    /// in its MimecastSyncRun node; reads Neo4j only.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Only this account code (default: every account with recorded syncs).
    #[arg(long, value_name = "CODE")]
    pub account: Option<String>,
    /// The earlier sync: a sync id (`mimecast-graph history` lists them), or a date
    /// or ISO 8601 date-time, meaning the newest sync that started at or before it
    /// (a date is midnight UTC). Default: the sync before the latest.
    #[arg(long, value_name = "SYNC_ID|DATE")]
    pub since: Option<String>,
    /// Print JSON: per account the two syncs and per rule its new and resolved
    /// findings, each as an object of its identity columns.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunQueriesArgs {
    /// Query ids to run.
    #[arg(value_name = "ID", required_unless_present_any = ["all", "framework"], conflicts_with = "all")]
    pub ids: Vec<String>,
    /// Only the queries with controls of this framework (alone: all of them).
    #[arg(long, value_enum, value_name = "FRAMEWORK")]
    pub framework: Option<crate::queries::Framework>,
    /// Run every query.
    #[arg(long)]
    pub all: bool,
    /// Override a parameter, as name=value; the value is JSON when it parses
    /// (26, true, ["D","F"], null), text otherwise. Repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Exit with code 20 when any finding-reporting query returns rows.
    #[arg(long)]
    pub fail_on_findings: bool,
    /// Show at most N rows per query in table format (the count still covers all).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// With --format csv: write one file per query, DIR/ID.csv, instead of stdout
    /// (required when several queries run as CSV).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Time between syncs: 30m, 1h, 1d, or seconds.
    #[arg(long, value_name = "INTERVAL", value_parser = crate::daemon::parse_interval)]
    pub interval: std::time::Duration,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Create the uniqueness constraints and indexes of graph-schema/ in Neo4j
    /// (idempotent; every sync also does it).
    Apply,
    /// Print graph-schema/README.md, generated from graph-schema/schema.toml.
    Docs,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration without any network access and print it, with
    /// secrets shown only as the environment variable they come from.
    Check,
}
