//! Command-line interface. Each subcommand is a thin call into the library; errors
//! print with their whole cause chain and map to the codes in [`crate::exit`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{AuthConfig, Config, ConfigError, Needs};
use crate::exit;
use crate::telemetry::{self, LogFormat};

const ABOUT: &str = "Mimecast to Neo4j knowledge-graph ingestion for security and compliance audits.";

const LONG_ABOUT: &str = "\
Mimecast to Neo4j knowledge-graph ingestion for security and compliance audits.

Reads a Mimecast tenant through API 2.0 (OAuth2 client credentials; HMAC-signed API 1.0 \
as a legacy mode): the account, internal domains and users, and Awareness Training \
campaigns, enrollments, phishing simulations and SAFE scores. Builds the graph in \
memory, validates its integrity, and upserts it into Neo4j. The worker only reads \
from Mimecast; it never writes to it.

Configuration comes from a TOML file (--config or MIMECAST_GRAPH_CONFIG), then the \
environment. A single tenant needs no file: set MIMECAST_CLIENT_ID, \
MIMECAST_CLIENT_SECRET, MIMECAST_REGION (global|us|uk) or MIMECAST_BASE_URL, and \
NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD. Secrets are read from environment variables \
only and never printed.

Logs go to stderr (filter with RUST_LOG, e.g. RUST_LOG=debug); results go to stdout.";

const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   unexpected error
  2   bad command line
  3   invalid configuration
  4   Mimecast unusable (credentials, permissions, network)
  5   Neo4j unusable (unreachable, authentication, failed writes), or another sync
      is writing the same account
  6   integrity validation failed under a `fail` policy
  10  partial sync: some steps or tenants failed, or the deletion guard kept a
      type; those types were not cleaned up
  20  queries found rows (with --fail-on-findings)";

#[derive(Debug, Parser)]
#[command(name = "mimecast-graph", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXIT_CODES)]
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration, each connection's credentials and product access
    /// (one call per product area), and Neo4j; print a table of what works and what
    /// to fix. Exits non-zero when anything fails.
    Validate,
    /// Fetch every configured tenant, build and validate the graph, and write
    /// DIR/graph.json and DIR/summary.json. Needs no Neo4j.
    Collect(CollectArgs),
    /// Collect, then write to Neo4j: apply the schema, upsert in batches, and delete
    /// what each account no longer has (only for types whose steps all succeeded).
    /// Prints created, updated and deleted counts per type.
    Sync(SyncArgs),
    /// The polling daemon: sync now, then every --interval (with jitter), never two
    /// runs at once, retrying failures sooner with backoff. SIGINT/SIGTERM let the
    /// batches in flight finish, then exit. Logs JSON lines when stderr is not a terminal.
    Run(RunArgs),
    /// The graph schema (graph-schema/).
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// The saved compliance queries (queries/*.cypher): list, show, run against Neo4j
    /// in read transactions.
    Queries(QueriesArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
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
    #[command(flatten)]
    pub guard: GuardArgs,
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
    /// `info` are findings.
    Run(RunQueriesArgs),
}

#[derive(Debug, Args)]
pub struct RunQueriesArgs {
    /// Query ids to run.
    #[arg(value_name = "ID", required_unless_present = "all", conflicts_with = "all")]
    pub ids: Vec<String>,
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

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> u8 {
    telemetry::init(cli.global.log_format, matches!(cli.command, Command::Run(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Validate => {
            let config = match load_tenants_config(cli.global.config.as_deref(), Needs::Both) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let report = crate::validate::validate(&config).await;
            print!("{}", report.table());
            report.exit_code()
        }
        Command::Collect(args) => collect(cli.global.config.as_deref(), &args).await,
        Command::Sync(args) => sync(cli.global.config.as_deref(), &args).await,
        Command::Run(args) => daemon(cli.global.config.as_deref(), &args).await,
        Command::Schema(SchemaCommand::Apply) => schema_apply(cli.global.config.as_deref()).await,
        Command::Queries(args) => queries(cli.global.config.as_deref(), args).await,
        Command::Schema(SchemaCommand::Docs) => {
            print!("{}", crate::schema::schema().markdown());
            exit::SUCCESS
        }
        Command::Config(ConfigCommand::Check) => match Config::load(cli.global.config.as_deref(), Needs::Both) {
            Ok(config) => {
                print!("{}", describe(&config));
                exit::SUCCESS
            }
            Err(e) => report_config_error(&e),
        },
    }
}

fn load_config(path: Option<&std::path::Path>, needs: Needs) -> Result<Config, u8> {
    Config::load(path, needs).map_err(|e| report_config_error(&e))
}

/// The configuration of a command that reads Mimecast: at least one connection.
fn load_tenants_config(path: Option<&std::path::Path>, needs: Needs) -> Result<Config, u8> {
    let config = load_config(path, needs)?;
    config.require_connections().map_err(|e| report_config_error(&e))?;
    Ok(config)
}

/// What `sync` and `run` need: tenants, Neo4j, and the queries to store.
fn load_sync_setup(path: Option<&std::path::Path>) -> Result<(Config, crate::queries::QuerySet), u8> {
    let config = load_tenants_config(path, Needs::Both)?;
    let queries = load_queries(&config)?;
    Ok((config, queries))
}

fn load_queries(config: &Config) -> Result<crate::queries::QuerySet, u8> {
    crate::queries::for_config(config.queries_dir.as_deref()).map_err(|e| {
        eprintln!("error: {e}");
        exit::CONFIG
    })
}

async fn collect(config_path: Option<&std::path::Path>, args: &CollectArgs) -> u8 {
    let config = match load_tenants_config(config_path, Needs::Mimecast) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let progress = crate::steps::TerminalProgress::new();
    let collection = crate::collect::collect(&config, &crate::collect::all_steps(), &progress).await;
    if let Err(e) = collection.write_files(&args.out) {
        eprintln!("error: {e:#}");
        return exit::FAILURE;
    }
    print!("{}", collection.human());
    println!(
        "wrote {} ({} entities, {} relationships) and {}",
        args.out.join("graph.json").display(),
        collection.store.entity_count(),
        collection.store.relationship_count(),
        args.out.join("summary.json").display()
    );
    collection_exit_code(&collection)
}

async fn sync(config_path: Option<&std::path::Path>, args: &SyncArgs) -> u8 {
    let (mut config, queries) = match load_sync_setup(config_path) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    config.sync.allow_mass_delete = args.guard.allow_mass_delete;
    let progress = crate::steps::TerminalProgress::new();
    let stop = crate::stop::Stop::new();
    stop.on_signals();
    let outcome = crate::sync::run_once(&config, &crate::collect::all_steps(), &queries, &progress, &stop).await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcome.to_json()).unwrap_or_default()
        );
    } else {
        print!("{}", outcome.human());
    }
    outcome.status.exit_code()
}

async fn queries(config_path: Option<&std::path::Path>, args: QueriesArgs) -> u8 {
    use crate::queries as q;
    let needs_neo4j = matches!(args.command, QueriesCommand::Run(_));
    let config = match load_config(config_path, if needs_neo4j { Needs::Neo4j } else { Needs::Nothing }) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut config = config;
    if args.queries_dir.is_some() {
        config.queries_dir = args.queries_dir.clone();
    }
    let defs = match load_queries(&config) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let find = |id: &str| {
        defs.iter()
            .find(|d| d.id == id)
            .ok_or_else(|| q::QueryError::Unknown(id.to_owned()))
    };
    match args.command {
        QueriesCommand::List => {
            for d in defs.iter() {
                println!("{:<28} {:<9} {}", d.id, d.severity, d.title);
            }
            exit::SUCCESS
        }
        QueriesCommand::Show { id } => match find(&id) {
            Ok(d) => {
                println!(
                    "id:          {}\ntitle:       {}\nseverity:    {}",
                    d.id, d.title, d.severity
                );
                println!(
                    "frameworks:  {}\ncolumns:     {}",
                    d.frameworks.join("; "),
                    d.columns.join(", ")
                );
                for p in &d.params {
                    println!("param:       {} = {}  ({})", p.name, p.default, p.description);
                }
                println!("description: {}\n\n{}", d.description, d.text);
                exit::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::USAGE
            }
        },
        QueriesCommand::Run(run) => run_queries(&config, &defs, &run).await,
    }
}

async fn run_queries(config: &Config, defs: &[crate::queries::QueryDef], args: &RunQueriesArgs) -> u8 {
    use crate::queries as q;
    let selected: Vec<&q::QueryDef> = if args.all {
        defs.iter().collect()
    } else {
        let mut v = Vec::new();
        for id in &args.ids {
            match defs.iter().find(|d| &d.id == id) {
                Some(d) => v.push(d),
                None => {
                    eprintln!("error: {}", q::QueryError::Unknown(id.clone()));
                    return exit::USAGE;
                }
            }
        }
        v
    };
    let mut params = std::collections::BTreeMap::new();
    for p in &args.params {
        match q::parse_param(p) {
            Ok((k, v)) => {
                if !selected.iter().any(|d| d.params.iter().any(|x| x.name == k)) {
                    eprintln!("error: {}", q::QueryError::UnknownParam(k));
                    return exit::USAGE;
                }
                params.insert(k, v);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    }
    let sink = match crate::sink::Sink::connect(&config.neo4j).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::NEO4J;
        }
    };
    let mut findings = 0;
    let mut json_out = Vec::new();
    for d in selected {
        match q::run(&sink, d, &params).await {
            Ok(r) => {
                findings += r.findings(d);
                match args.format {
                    Format::Table => {
                        let total = r.rows.len();
                        let mut shown = r.clone();
                        if let Some(n) = args.limit {
                            shown.rows.truncate(n);
                        }
                        print!(
                            "{}",
                            q::format_table(&shown).replacen(
                                &format!("({})", q::row_count(shown.rows.len())),
                                &format!("({})", q::row_count(total)),
                                1
                            )
                        );
                        if total > shown.rows.len() {
                            println!(
                                "... {} more rows (use --format csv or json for all)",
                                total - shown.rows.len()
                            );
                        }
                        println!();
                    }
                    Format::Csv => {
                        if args.all || args.ids.len() > 1 {
                            println!("# {}", r.id);
                        }
                        print!("{}", q::format_csv(&r));
                    }
                    Format::Json => json_out.push(q::to_json_value(&r)),
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::NEO4J;
            }
        }
    }
    if args.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&json_out).unwrap_or_default());
    }
    if args.fail_on_findings && findings > 0 {
        eprintln!("{findings} finding(s)");
        return exit::FINDINGS;
    }
    exit::SUCCESS
}

async fn daemon(config_path: Option<&std::path::Path>, args: &RunArgs) -> u8 {
    let (mut config, queries) = match load_sync_setup(config_path) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    config.sync.allow_mass_delete = args.guard.allow_mass_delete;
    let stop = crate::stop::Stop::new();
    stop.on_signals();
    let observe = |o: &crate::sync::SyncOutcome| {
        tracing::info!(summary = %o.to_json(), "sync summary");
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
    if end.interrupted {
        exit::FAILURE
    } else {
        exit::SUCCESS
    }
}

async fn schema_apply(config_path: Option<&std::path::Path>) -> u8 {
    let config = match load_config(config_path, Needs::Neo4j) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = async {
        let sink = crate::sink::Sink::connect(&config.neo4j).await?;
        sink.apply_schema(crate::schema::schema()).await
    }
    .await;
    match result {
        Ok(n) => {
            println!(
                "schema applied at {}: {n} constraints and indexes present",
                config.neo4j.uri
            );
            exit::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::NEO4J
        }
    }
}

/// The exit code of a collection, before anything is written to Neo4j.
pub fn collection_exit_code(c: &crate::collect::Collection) -> u8 {
    use crate::collect::RunStatus;
    if c.policy_violation.is_some() {
        return exit::INTEGRITY;
    }
    match c.status() {
        RunStatus::Success => exit::SUCCESS,
        RunStatus::Partial => exit::PARTIAL,
        RunStatus::Failed => exit::MIMECAST,
    }
}

/// Prints a configuration error and returns [`exit::CONFIG`].
pub fn report_config_error(e: &ConfigError) -> u8 {
    eprintln!("error: {e}");
    exit::CONFIG
}

/// A human description of the resolved configuration; secrets appear only as the
/// name of the environment variable holding them.
pub fn describe(config: &Config) -> String {
    use std::fmt::Write;
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
