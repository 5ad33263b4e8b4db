//! The `mimecast-sim` binary: a local Mimecast API for the demo, tests and benchmarks.
//! Parses flags, loads or generates a tenant, runs [`mimecast_graph::sim`] until
//! SIGINT/SIGTERM (or `--idle-exit-secs`), and prints its URL as the one stdout line.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{ArgGroup, Parser};
use mimecast_graph::exit::Exit;
use mimecast_graph::sim::{self, Credential, GenerateSpec, RateLimit, SimOptions, Tenant};
use mimecast_graph::telemetry::{self, LogFormat};
use tracing::{info, warn};

const LONG_ABOUT: &str = "\
A local Mimecast API simulator: POST /oauth/token (OAuth2 client credentials) and the \
/api/... endpoints the worker reads (account, internal domains and users, Awareness \
Training campaigns, phishing, SAFE scores, performance, watchlist, TTP URL, attachment \
and impersonation logs), with the real \
envelope, pagination (at most 500 per page), fail[] errors, expiring tokens, API 1.0 \
HMAC signatures, X-RateLimit-* headers and 429s.

Serve a tenant file (--tenant) or a generated tenant (--generate). A generated tenant \
accepts client id `demo-client-id` and secret `demo-client-secret` unless \
--client-id/--client-secret say otherwise.

On start it prints one line to stdout, `listening on http://127.0.0.1:PORT`; logs go \
to stderr (RUST_LOG=debug logs every request). It stops on SIGINT or SIGTERM, or \
after --idle-exit-secs without a request.";

const EXAMPLES: &str = "\
Examples:
  mimecast-sim --generate users=200,seed=7
  mimecast-sim --generate users=500,threats=200 --write-tenant tenant.json
  mimecast-sim --generate users=100000,domains=5,campaigns=20,phishing=10 --port 8089 --idle-exit-secs 300
  mimecast-sim --generate users=100000,domains=5,campaigns=20,phishing=10 --churn 1%
  mimecast-sim --tenant tenant.json --rate-limit 100/1 --token-ttl-secs 5 --at-unlicensed
  mimecast-sim --generate seed=3 --write-tenant tenant.json --fail-path /api/user/get-internal-users=503";

#[derive(Debug, Parser)]
#[command(
    name = "mimecast-sim",
    version,
    about = "A local Mimecast API simulator for tests, demos and benchmarks.",
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    group(ArgGroup::new("source").required(true).args(["tenant", "generate"]))
)]
struct Args {
    /// Serve this tenant file (JSON: credentials, account, domains, users, campaigns, ...).
    #[arg(long, value_name = "FILE")]
    tenant: Option<PathBuf>,

    /// Generate a tenant: users=N,domains=N,campaigns=N,phishing=N,seed=S,threats=N,groups=N,
    /// activity=N,siem=N,until=T, each optional (defaults 50, 2, 4, 2, 1, 0, 0, 0, 0). threats=N adds N
    /// TTP log records of each kind (URL clicks, attachments, impersonation) over the 14
    /// days before `until` (seconds since 1970; default: the start of the current hour).
    /// groups=N adds N directory groups (a department tree, LDAP groups, a domain
    /// member, outside members, one group whose userCount is wrong, then projects);
    /// activity=N up to N Message Finder records per person (one in eight dormant).
    /// siem=N adds N SIEM batch detections (url protect, impersonation protect,
    /// attachment protect, av, spam) over the 6 days before `until`.
    /// The same spec always gives the same tenant.
    #[arg(long, value_name = "SPEC")]
    generate: Option<GenerateSpec>,

    /// Age the tenant (file or generated) by a deterministic churn before serving it:
    /// about SHARE of the people leave and as many join, of the pending enrolments get
    /// completed, of the phishing recipients move on a stage, of the SAFE risk grades
    /// move a letter. SHARE is 1% or 0.01; add ,round=R (default 1) for another week's
    /// churn. The same tenant and churn always give the same result.
    #[arg(long, value_name = "SHARE[,round=R]")]
    churn: Option<sim::Churn>,

    /// Address to listen on. Keep the loopback default unless you mean otherwise.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    host: IpAddr,

    /// Port to listen on; 0 picks a free one (the printed URL tells which).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Access-token lifetime; data calls after it get 401 token_expired.
    #[arg(long, default_value_t = 1799, value_name = "SECS")]
    token_ttl_secs: u64,

    /// Per-credential rate limit as CALLS/SECS (e.g. 100/1); 429 with Retry-After when
    /// exceeded. Without it the headers still report a large limit.
    #[arg(long, value_name = "CALLS/SECS")]
    rate_limit: Option<RateLimit>,

    /// Delay before answering each page of a paged endpoint.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    latency_ms: u64,

    /// Share (0 to 1) of API calls answered 500.
    #[arg(long, default_value_t = 0.0, value_parser = share, value_name = "SHARE")]
    error_rate: f64,

    /// Share (0 to 1) of API calls answered 200 with a truncated JSON body.
    #[arg(long, default_value_t = 0.0, value_parser = share, value_name = "SHARE")]
    malformed_rate: f64,

    /// Behave as a tenant without Awareness Training: 403 on /api/awareness-training/...
    /// and no Awareness Training package in get-account. A --tenant file whose account
    /// lists no Awareness Training package is served this way without the flag.
    #[arg(long)]
    at_unlicensed: bool,

    /// OAuth2 client id to accept. Replaces the generated default pair; with --tenant it
    /// is added to the file's credentials.
    #[arg(
        long,
        requires = "client_secret",
        env = "MIMECAST_SIM_CLIENT_ID",
        hide_env_values = true
    )]
    client_id: Option<String>,

    /// OAuth2 client secret to accept, with --client-id.
    #[arg(
        long,
        requires = "client_id",
        env = "MIMECAST_SIM_CLIENT_SECRET",
        hide_env_values = true
    )]
    client_secret: Option<String>,

    /// Answer every call to PATH with STATUS and an envelope body (repeatable), e.g.
    /// /api/user/get-internal-users=503 or /oauth/token=500. A 429 or 503 carries
    /// Retry-After: 1; a 429 also X-RateLimit-Remaining: 0 and X-RateLimit-Reset: 1000.
    #[arg(long = "fail-path", value_name = "PATH=STATUS", value_parser = fail_path)]
    fail_paths: Vec<(String, u16)>,

    /// Page the lists Mimecast documents without paging (domains, training and
    /// phishing campaigns) at N items with `next`, to test that clients follow it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=500))]
    list_page_size: Option<u16>,

    /// SIEM batch: events per listed file (each file a gzip NDJSON link).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    siem_events_per_file: u32,

    /// Also write the served tenant (after credential overrides) to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    write_tenant: Option<PathBuf>,

    /// Also write a demo personnel roster CSV for the tenant (email, name, status,
    /// group, department, employee_id): most people match their mailbox, some by other
    /// case, a +tag or the alias domain <company>.example.co.uk; some are leavers,
    /// some mailboxes have no owner, three new hires have no mailbox.
    #[arg(long, value_name = "FILE")]
    write_roster: Option<PathBuf>,

    /// Exit when no request has come for this long (demo and benchmark servers stop
    /// by themselves).
    #[arg(long, value_name = "SECS")]
    idle_exit_secs: Option<u64>,

    /// Seed of the fault decisions (--error-rate, --malformed-rate). The generated
    /// data has its own seed in --generate.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, value_name = "FORMAT")]
    log_format: LogFormat,
}

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{text:?} is not a number from 0 to 1")),
    }
}

fn fail_path(text: &str) -> Result<(String, u16), String> {
    let (path, status) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not PATH=STATUS"))?;
    let status: u16 = status
        .parse()
        .ok()
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| format!("{status:?} is not an HTTP status"))?;
    if !path.starts_with('/') {
        return Err(format!("{path:?} is not a path (it starts with /)"));
    }
    Ok((path.to_owned(), status))
}

fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init(args.log_format, false, telemetry::Level::Info);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Failure.code());
        }
    };
    ExitCode::from(runtime.block_on(run(args)))
}

async fn run(args: Args) -> u8 {
    let mut tenant = match load(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    if let Some(churn) = args.churn {
        let r = sim::apply_churn(&mut tenant, churn);
        info!(
            churn = %churn,
            left = r.left,
            joined = r.joined,
            completed = r.completed,
            phishing_moved = r.phishing_moved,
            scores_moved = r.scores_moved,
            "tenant churned"
        );
    }
    if let (Some(id), Some(secret)) = (&args.client_id, &args.client_secret) {
        let pair = Credential::OAuth2 {
            client_id: id.clone(),
            client_secret: secret.clone(),
        };
        if args.generate.is_some() {
            tenant.credentials = vec![pair];
        } else if !tenant.credentials.contains(&pair) {
            tenant.credentials.insert(0, pair);
        }
    }
    if let Some(path) = &args.write_tenant {
        if let Err(e) = write_tenant(&tenant, path) {
            eprintln!("error: cannot write tenant to {}: {e}", path.display());
            return Exit::Failure.code();
        }
        info!(path = %path.display(), "tenant written");
    }
    if let Some(path) = &args.write_roster {
        if let Err(e) = std::fs::write(path, sim::demo_roster(&tenant)) {
            eprintln!("error: cannot write the roster to {}: {e}", path.display());
            return Exit::Failure.code();
        }
        info!(path = %path.display(), "roster written");
    }
    if !args.host.is_loopback() {
        warn!(host = %args.host, "listening beyond loopback: the simulator has no real security");
    }
    if !tenant.lists_awareness_training() {
        info!("the tenant's account lists no Awareness Training package: Awareness Training endpoints answer 403");
    }

    let options = SimOptions {
        token_ttl: Duration::from_secs(args.token_ttl_secs),
        rate_limit: args.rate_limit,
        page_latency: Duration::from_millis(args.latency_ms),
        error_rate: args.error_rate,
        malformed_rate: args.malformed_rate,
        seed: args.seed,
        awareness_training_licensed: !args.at_unlicensed,
        fail_paths: args.fail_paths.clone(),
        list_page_size: args.list_page_size.map(usize::from),
        siem_events_per_file: args.siem_events_per_file as usize,
        ..SimOptions::default()
    };
    let addr = SocketAddr::new(args.host, args.port);
    let server = match sim::start(tenant, options, addr).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return Exit::Failure.code();
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let printed = writeln!(out, "listening on {}", server.base_url()).and_then(|()| out.flush());
        if let Err(e) = printed {
            // Whoever started us is gone; keep serving until a signal or idle exit.
            warn!(error = %e, "cannot print the listening line");
        }
    }

    let reason = wait_for_stop(&server, args.idle_exit_secs.map(Duration::from_secs)).await;
    info!(reason, "stopping");
    let mut server = server;
    server.stop().await;
    let stats = server.stats();
    // Freeing a large tenant (gigabytes of small objects) takes seconds and the
    // process is about to exit anyway.
    std::mem::forget(server);
    info!(
        token_requests = stats.token_requests,
        calls = stats.calls.values().sum::<u64>(),
        rate_limited = stats.rate_limited,
        unauthorized = stats.unauthorized,
        server_errors = stats.server_errors,
        "simulator stopped"
    );
    Exit::Success.code()
}

fn load(args: &Args) -> Result<Tenant, u8> {
    if let Some(path) = &args.tenant {
        return Tenant::from_path(path).map_err(|e| {
            eprintln!("error: {e}");
            Exit::Config.code()
        });
    }
    let mut spec = args.generate.unwrap_or_default();
    if (spec.threats > 0 || spec.activity > 0 || spec.siem > 0) && spec.until.is_none() {
        // TTP logs end at the start of this hour, so a worker's look-back finds them
        // (and the same spec gives the same tenant within the hour).
        let now = chrono::Utc::now().timestamp();
        spec.until = Some(now - now.rem_euclid(3600));
    }
    let started = Instant::now();
    let tenant = sim::generate(&spec);
    info!(
        spec = %spec,
        account_code = tenant.account_code().unwrap_or(""),
        users = tenant.users.len(),
        training_campaigns = tenant.training_campaigns.len(),
        phishing_campaigns = tenant.phishing_campaigns.len(),
        ttp_logs = tenant.url_logs.len() + tenant.attachment_logs.len() + tenant.impersonation_logs.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "tenant generated"
    );
    Ok(tenant)
}

fn write_tenant(tenant: &Tenant, path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, tenant)?;
    w.write_all(b"\n")?;
    w.flush()
}

async fn wait_for_stop(server: &sim::SimServer, idle_exit: Option<Duration>) -> &'static str {
    let idle = async {
        match idle_exit {
            None => std::future::pending::<()>().await,
            Some(limit) => loop {
                let idle = server.idle_for();
                if idle >= limit {
                    return;
                }
                tokio::time::sleep((limit - idle).min(Duration::from_secs(1))).await;
            },
        }
    };
    let terminate = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        () = terminate => "SIGTERM",
        () = idle => "idle",
    }
}
