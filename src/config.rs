//! Configuration: a TOML file, then environment overrides, then command-line flags.
//!
//! Secrets are never written in the file. The file names the environment variable
//! that holds each one (`client_secret_env = "MIMECAST_CLIENT_SECRET"`); the value is
//! read once, kept in a [`SecretString`] and exposed only where a client is built.
//! [`Config::validate`] is pure: it names every bad field and does no I/O.
//!
//! Single-tenant use needs no file: `MIMECAST_CLIENT_ID`, `MIMECAST_CLIENT_SECRET`,
//! `MIMECAST_REGION` or `MIMECAST_BASE_URL`, `NEO4J_URI`, `NEO4J_USER`, `NEO4J_PASSWORD`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// The compliance training categories a campaign can be mapped to.
pub const TRAINING_CATEGORIES: &[&str] = &[
    "general",
    "hipaa",
    "pci_dss",
    "gdpr",
    "ccpa",
    "insider_threat",
    "social_engineering",
    "ai_risk",
    "secure_code",
];

/// Default `rate_limit_max_wait_secs`: how long one call may wait out throttling.
pub const DEFAULT_RATE_LIMIT_MAX_WAIT_SECS: u64 = 300;

/// Default `max_response_bytes`: 64 MiB, far above a 500-record page.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// API 2.0 hosts (`region = global|us|uk`).
pub const API2_REGIONS: &[(&str, &str)] = &[
    ("global", "https://api.services.mimecast.com"),
    ("us", "https://us-api.services.mimecast.com"),
    ("uk", "https://uk-api.services.mimecast.com"),
];

/// API 1.0 regional hosts, for tenants that still use HMAC-signed 1.0 applications.
pub const API1_REGIONS: &[(&str, &str)] = &[
    ("eu", "https://eu-api.mimecast.com"),
    ("de", "https://de-api.mimecast.com"),
    ("us", "https://us-api.mimecast.com"),
    ("usb", "https://usb-api.mimecast.com"),
    ("ca", "https://ca-api.mimecast.com"),
    ("za", "https://za-api.mimecast.com"),
    ("au", "https://au-api.mimecast.com"),
    ("je", "https://je-api.mimecast.com"),
    ("uspcom", "https://uspcom-api.mimecast-pscom-us.com"),
];

/// A proxy URL. Any `user:password@` in it is never printed: Debug and messages show
/// [`ProxyUrl::redacted`].
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(String);

impl ProxyUrl {
    pub fn new(url: impl Into<String>) -> Self {
        ProxyUrl(url.into())
    }

    /// The URL with its credentials, for the HTTP client only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any user and password replaced by `***`.
    pub fn redacted(&self) -> String {
        match self.0.rsplit_once('@') {
            Some((before, host)) => {
                // Only a real scheme is kept: `http:/|u:p@x://...` has none.
                let scheme = before
                    .split_once("://")
                    .map(|(s, _)| s)
                    .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
                    .map(|s| format!("{s}://"))
                    .unwrap_or_default();
                format!("{scheme}***@{host}")
            }
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

/// A secret read from the environment variable the configuration names.
#[derive(Clone)]
pub struct Secret {
    /// The environment variable it came from (safe to print).
    pub env: String,
    pub value: Option<SecretString>,
}

impl Secret {
    pub fn from_env(env_name: &str, env: &dyn Fn(&str) -> Option<String>) -> Self {
        Secret {
            env: env_name.to_owned(),
            value: env(env_name).filter(|v| !v.is_empty()).map(SecretString::from),
        }
    }

    /// A secret given directly (tests, the simulator).
    pub fn literal(value: &str) -> Self {
        Secret {
            env: "(given)".to_owned(),
            value: Some(SecretString::from(value.to_owned())),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.value.is_some() { "set" } else { "unset" };
        write!(f, "Secret(${} {state})", self.env)
    }
}

/// How the worker authenticates to one Mimecast tenant.
#[derive(Clone, Debug)]
pub enum AuthConfig {
    /// API 2.0: OAuth2 client credentials.
    OAuth2 { client_id: Secret, client_secret: Secret },
    /// API 1.0: HMAC-SHA1 signed requests.
    Hmac {
        app_id: Secret,
        app_key: Secret,
        access_key: Secret,
        secret_key: Secret,
    },
}

/// Whether to call the Awareness Training endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwarenessTraining {
    /// Call them when `get-account` lists the Awareness Training package.
    Auto,
    /// Always call them (a 403 is then reported as a failed step).
    Enabled,
    /// Never call them.
    Disabled,
}

/// What to do with enrollments and phishing results for addresses that are not
/// internal users of the tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownParticipants {
    /// Count them in the integrity report, with samples, and skip them.
    Report,
    /// Fail the run.
    Fail,
}

#[derive(Clone, Debug)]
pub struct ConnectionConfig {
    pub name: String,
    /// `global|us|uk` for API 2.0, or an API 1.0 region; `None` with an explicit base URL.
    pub region: Option<String>,
    /// Explicit base URL; overrides the region.
    pub base_url: Option<String>,
    pub auth: AuthConfig,
    pub page_size: u32,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_attempts: u32,
    /// The first retry wait; doubles per attempt (with jitter) up to 60 s.
    pub retry_backoff: Duration,
    pub max_concurrent_requests: usize,
    /// The longest one call waits out HTTP 429 and low-quota pacing in total, after
    /// which it fails; throttling spends none of `max_attempts`.
    pub rate_limit_max_wait: Duration,
    /// The largest response body read; past it the call fails, naming the endpoint.
    pub max_response_bytes: u64,
    /// From the file, else `HTTPS_PROXY` (for file and environment-only connections
    /// alike); loopback and `no_proxy` hosts bypass it.
    pub proxy: Option<ProxyUrl>,
    /// Hosts that bypass the proxy: `NO_PROXY` (or `no_proxy`), comma-separated.
    pub no_proxy: Option<String>,
    pub tls_insecure_skip_verify: bool,
    pub awareness_training: AwarenessTraining,
    /// The TTP logs read (`threat_logs`); a stream left out is a disabled step.
    pub threat_logs: Vec<ThreatLog>,
    pub compliance: ComplianceConfig,
}

/// A Targeted Threat Protection log the worker can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreatLog {
    /// `ttp/url/get-logs`: URL Protection clicks.
    Url,
    /// `ttp/attachment/get-logs`: Attachment Protection results.
    Attachment,
    /// `ttp/impersonation/get-logs`: Impersonation Protection hits.
    Impersonation,
}

impl ThreatLog {
    pub const ALL: [ThreatLog; 3] = [ThreatLog::Url, ThreatLog::Attachment, ThreatLog::Impersonation];

    /// The stream name cursors are stored under.
    pub fn stream(self) -> &'static str {
        match self {
            ThreatLog::Url => "ttp-url",
            ThreatLog::Attachment => "ttp-attachment",
            ThreatLog::Impersonation => "ttp-impersonation",
        }
    }
}

impl ConnectionConfig {
    /// The base URL requests go to: the explicit one, or the region's host.
    pub fn resolved_base_url(&self) -> Option<String> {
        if let Some(url) = &self.base_url {
            return Some(url.trim_end_matches('/').to_owned());
        }
        let region = self.region.as_deref().unwrap_or("global");
        let table = match self.auth {
            AuthConfig::OAuth2 { .. } => API2_REGIONS,
            AuthConfig::Hmac { .. } => API1_REGIONS,
        };
        table
            .iter()
            .find(|(name, _)| *name == region)
            .map(|(_, url)| (*url).to_owned())
    }

    /// A connection with defaults for everything but the endpoint and OAuth2 credentials.
    pub fn oauth2(name: &str, base_url: &str, client_id: &str, client_secret: &str) -> Self {
        ConnectionConfig {
            name: name.to_owned(),
            region: None,
            base_url: Some(base_url.to_owned()),
            auth: AuthConfig::OAuth2 {
                client_id: Secret::literal(client_id),
                client_secret: Secret::literal(client_secret),
            },
            page_size: 500,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_attempts: 5,
            retry_backoff: Duration::from_millis(500),
            max_concurrent_requests: 4,
            rate_limit_max_wait: Duration::from_secs(DEFAULT_RATE_LIMIT_MAX_WAIT_SECS),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            proxy: None,
            no_proxy: None,
            tls_insecure_skip_verify: false,
            awareness_training: AwarenessTraining::Auto,
            threat_logs: ThreatLog::ALL.to_vec(),
            compliance: ComplianceConfig::default(),
        }
    }
}

/// Compliance context that does not come from Mimecast.
#[derive(Clone, Debug, Default)]
pub struct ComplianceConfig {
    /// Campaign id or exact campaign name to training categories.
    pub campaign_categories: BTreeMap<String, Vec<String>>,
    /// Personnel roster CSV (`email,name,status,group`, other columns kept).
    pub roster: Option<PathBuf>,
    /// Roster group to the categories its members must complete.
    pub group_requirements: BTreeMap<String, Vec<String>>,
    /// Alias domain to primary domain, for matching people to accounts.
    pub domain_aliases: BTreeMap<String, String>,
    /// Trainings done where the API cannot see them (a targeted campaign, another
    /// LMS): CSV of `email,category,completed_on,source`; they count toward
    /// requirements.
    pub extra_completions: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Neo4jConfig {
    pub uri: String,
    pub user: String,
    pub password: Secret,
    pub database: Option<String>,
    pub batch_size: usize,
    pub cleanup_batch_size: usize,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
    pub max_connections: usize,
    /// Attempts per batch on transient server errors (deadlocks, lock timeouts).
    pub max_attempts: u32,
    /// How long an operation keeps retrying while the server is unreachable (a restart,
    /// a network blip) before the sync gives up.
    pub unavailable_retry: Duration,
    /// A PEM file of the CA(s) to trust for a `bolt+s://` or `neo4j+s://` server
    /// instead of the system's roots (a private CA).
    pub ca_file: Option<PathBuf>,
}

impl Neo4jConfig {
    pub fn new(uri: &str, user: &str, password: &str) -> Self {
        Neo4jConfig {
            uri: uri.to_owned(),
            user: user.to_owned(),
            password: Secret::literal(password),
            database: None,
            batch_size: 2000,
            cleanup_batch_size: 10_000,
            connect_timeout: Duration::from_secs(15),
            query_timeout: Duration::from_secs(300),
            max_connections: 4,
            max_attempts: 5,
            unavailable_retry: Duration::from_secs(120),
            ca_file: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SyncConfig {
    pub unknown_participants: UnknownParticipants,
    /// A cleanup that would delete more than this share of an account's elements of
    /// one type (or all of them) deletes none of them; the type is partial.
    pub max_delete_share: f64,
    /// `--allow-mass-delete`: the cleanup deletes whatever the tenant no longer has.
    pub allow_mass_delete: bool,
    /// Elements of `event` types (graph-schema/) older than this many days are deleted.
    pub event_retention_days: u32,
    /// How many `MimecastSyncRun` records each account keeps (the oldest go first).
    pub history_runs: u32,
    /// How far back the first read of a TTP log goes (no cursor stored yet).
    pub threat_lookback_days: u32,
    /// How much before its cursor each later read starts again, to catch late events
    /// (their keys make the re-read idempotent).
    pub threat_overlap_minutes: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            unknown_participants: UnknownParticipants::Report,
            max_delete_share: 0.5,
            allow_mass_delete: false,
            event_retention_days: 90,
            history_runs: 100,
            threat_lookback_days: 7,
            threat_overlap_minutes: 60,
        }
    }
}

/// The whole resolved configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where it was read from, for messages (`None`: environment only).
    pub source: Option<PathBuf>,
    pub connections: Vec<ConnectionConfig>,
    pub neo4j: Neo4jConfig,
    pub sync: SyncConfig,
    /// Folder of saved queries; `None` uses the ones compiled into the binary.
    pub queries_dir: Option<PathBuf>,
}

/// One problem with the configuration, naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration{}:\n{}", .source_name.as_deref().map(|s| format!(" in {s}")).unwrap_or_default(), .errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        source_name: Option<String>,
        errors: Vec<FieldError>,
    },
}

// ---- the file format -------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default, rename = "connection")]
    connections: Vec<RawConnection>,
    #[serde(default)]
    neo4j: RawNeo4j,
    #[serde(default)]
    sync: RawSync,
    #[serde(default)]
    compliance: RawCompliance,
    #[serde(default)]
    queries: RawQueries,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueries {
    dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    name: String,
    region: Option<String>,
    base_url: Option<String>,
    #[serde(default = "default_auth")]
    auth: String,
    client_id_env: Option<String>,
    client_secret_env: Option<String>,
    app_id_env: Option<String>,
    app_key_env: Option<String>,
    access_key_env: Option<String>,
    secret_key_env: Option<String>,
    page_size: Option<u32>,
    connect_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_attempts: Option<u32>,
    retry_backoff_ms: Option<u64>,
    max_concurrent_requests: Option<usize>,
    rate_limit_max_wait_secs: Option<u64>,
    max_response_bytes: Option<u64>,
    proxy: Option<String>,
    #[serde(default)]
    tls_insecure_skip_verify: bool,
    awareness_training: Option<AwarenessTraining>,
    threat_logs: Option<Vec<ThreatLog>>,
    #[serde(default)]
    campaign_categories: BTreeMap<String, Vec<String>>,
    roster: Option<PathBuf>,
    group_requirements: Option<BTreeMap<String, Vec<String>>>,
    domain_aliases: Option<BTreeMap<String, String>>,
    extra_completions: Option<PathBuf>,
}

fn default_auth() -> String {
    "oauth2".to_owned()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNeo4j {
    uri: Option<String>,
    user: Option<String>,
    password_env: Option<String>,
    database: Option<String>,
    batch_size: Option<usize>,
    cleanup_batch_size: Option<usize>,
    connect_timeout_secs: Option<u64>,
    query_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    max_attempts: Option<u32>,
    unavailable_retry_secs: Option<u64>,
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    unknown_participants: Option<UnknownParticipants>,
    max_delete_share: Option<f64>,
    event_retention_days: Option<u32>,
    history_runs: Option<u32>,
    threat_lookback_days: Option<u32>,
    threat_overlap_minutes: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompliance {
    roster: Option<PathBuf>,
    extra_completions: Option<PathBuf>,
    #[serde(default)]
    group_requirements: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    domain_aliases: BTreeMap<String, String>,
}

/// What a command will use, so that validation only demands what it needs
/// (`collect` needs no Neo4j password, `queries` no Mimecast credentials).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    Mimecast,
    Neo4j,
    Both,
    /// Only the file's own shape (listing queries, for example).
    Nothing,
}

impl Needs {
    fn wants(self, field: &str) -> bool {
        let neo4j = field.starts_with("neo4j");
        match self {
            Needs::Both => true,
            Needs::Mimecast => !neo4j,
            Needs::Neo4j => neo4j,
            Needs::Nothing => false,
        }
    }
}

impl Config {
    /// Reads the file (when given), applies the environment, and validates what
    /// `needs` says the command uses.
    ///
    /// # Errors
    /// The file cannot be read or parsed, or [`Config::validate`] finds problems.
    pub fn load(path: Option<&Path>, needs: Needs) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_owned(),
                source,
            })?),
            None => None,
        };
        let env = |name: &str| std::env::var(name).ok();
        let config = Config::from_sources(path, text.as_deref(), &env)?;
        if let Err(errors) = config.validate() {
            let errors: Vec<FieldError> = errors.into_iter().filter(|e| needs.wants(&e.field)).collect();
            if !errors.is_empty() {
                return Err(ConfigError::Invalid {
                    source_name: path.map(|p| p.display().to_string()),
                    errors,
                });
            }
        }
        Ok(config)
    }

    /// Builds the configuration from file text and an environment lookup, without
    /// validating it. Relative roster paths are resolved against the file's folder.
    ///
    /// # Errors
    /// The TOML does not parse or has unknown fields.
    pub fn from_sources(
        path: Option<&Path>,
        text: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = match text {
            Some(t) => toml::from_str(t).map_err(|e| ConfigError::Parse {
                path: path.map(Path::to_owned).unwrap_or_default(),
                message: e.to_string(),
            })?,
            None => RawConfig::default(),
        };
        let base_dir = path.and_then(Path::parent).map(Path::to_owned).unwrap_or_default();
        let resolve_path = |p: PathBuf| if p.is_absolute() { p } else { base_dir.join(p) };

        let default_compliance = ComplianceConfig {
            campaign_categories: BTreeMap::new(),
            roster: raw.compliance.roster.clone().map(resolve_path),
            group_requirements: raw.compliance.group_requirements.clone(),
            domain_aliases: raw.compliance.domain_aliases.clone(),
            extra_completions: raw.compliance.extra_completions.clone().map(resolve_path),
        };

        let mut connections: Vec<ConnectionConfig> = raw
            .connections
            .into_iter()
            .map(|c| resolve_connection(c, &default_compliance, env, &resolve_path))
            .collect();
        if connections.is_empty() && env("MIMECAST_CLIENT_ID").is_some() {
            connections.push(ConnectionConfig {
                name: "default".to_owned(),
                region: env("MIMECAST_REGION"),
                base_url: env("MIMECAST_BASE_URL"),
                auth: AuthConfig::OAuth2 {
                    client_id: Secret::from_env("MIMECAST_CLIENT_ID", env),
                    client_secret: Secret::from_env("MIMECAST_CLIENT_SECRET", env),
                },
                proxy: env_proxy(env),
                no_proxy: env_no_proxy(env),
                compliance: default_compliance.clone(),
                ..ConnectionConfig::oauth2("default", "", "", "")
            });
        }

        let n = raw.neo4j;
        let defaults = Neo4jConfig::new("bolt://127.0.0.1:7687", "neo4j", "");
        let neo4j = Neo4jConfig {
            uri: env("NEO4J_URI").or(n.uri).unwrap_or(defaults.uri),
            user: env("NEO4J_USER").or(n.user).unwrap_or(defaults.user),
            password: Secret::from_env(n.password_env.as_deref().unwrap_or("NEO4J_PASSWORD"), env),
            database: env("NEO4J_DATABASE").or(n.database),
            batch_size: n.batch_size.unwrap_or(defaults.batch_size),
            cleanup_batch_size: n.cleanup_batch_size.unwrap_or(defaults.cleanup_batch_size),
            connect_timeout: n
                .connect_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.connect_timeout),
            query_timeout: n
                .query_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.query_timeout),
            max_connections: n.max_connections.unwrap_or(defaults.max_connections),
            max_attempts: n.max_attempts.unwrap_or(defaults.max_attempts),
            unavailable_retry: n
                .unavailable_retry_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.unavailable_retry),
            ca_file: env("NEO4J_CA_FILE").map(PathBuf::from).or(n.ca_file.map(&resolve_path)),
        };
        let sync_defaults = SyncConfig::default();

        Ok(Config {
            source: path.map(Path::to_owned),
            connections,
            neo4j,
            sync: SyncConfig {
                unknown_participants: raw.sync.unknown_participants.unwrap_or(UnknownParticipants::Report),
                max_delete_share: raw.sync.max_delete_share.unwrap_or(sync_defaults.max_delete_share),
                allow_mass_delete: false,
                event_retention_days: raw
                    .sync
                    .event_retention_days
                    .unwrap_or(sync_defaults.event_retention_days),
                history_runs: raw.sync.history_runs.unwrap_or(sync_defaults.history_runs),
                threat_lookback_days: raw
                    .sync
                    .threat_lookback_days
                    .unwrap_or(sync_defaults.threat_lookback_days),
                threat_overlap_minutes: raw
                    .sync
                    .threat_overlap_minutes
                    .unwrap_or(sync_defaults.threat_overlap_minutes),
            },
            queries_dir: raw.queries.dir.map(resolve_path),
        })
    }

    /// Checks every field without I/O and names each bad one.
    ///
    /// # Errors
    /// Every problem found, each with the field's path (`connection[prod].page_size`).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut push = |field: String, message: String| errors.push(FieldError { field, message });

        let mut names = std::collections::BTreeSet::new();
        for (i, c) in self.connections.iter().enumerate() {
            let at = if c.name.is_empty() {
                format!("connection[{i}]")
            } else {
                format!("connection[{}]", c.name)
            };
            if c.name.trim().is_empty() {
                push(format!("{at}.name"), "must not be empty".into());
            } else if !names.insert(c.name.clone()) {
                push(format!("{at}.name"), "is used by another connection".into());
            }
            match &c.base_url {
                Some(url) if !url.starts_with("https://") && !is_loopback_http(url) => push(
                    format!("{at}.base_url"),
                    format!("must start with https:// (plain http:// only for 127.0.0.1 or localhost; got {url:?})"),
                ),
                Some(_) => {}
                None => {
                    if c.resolved_base_url().is_none() {
                        let allowed = match c.auth {
                            AuthConfig::OAuth2 { .. } => API2_REGIONS,
                            AuthConfig::Hmac { .. } => API1_REGIONS,
                        };
                        let names: Vec<_> = allowed.iter().map(|(n, _)| *n).collect();
                        push(
                            format!("{at}.region"),
                            format!(
                                "unknown region {:?}; expected one of {} (or set base_url)",
                                c.region.as_deref().unwrap_or(""),
                                names.join(", ")
                            ),
                        );
                    }
                }
            }
            let secrets: Vec<(&str, &Secret)> = match &c.auth {
                AuthConfig::OAuth2 {
                    client_id,
                    client_secret,
                } => vec![("client_id_env", client_id), ("client_secret_env", client_secret)],
                AuthConfig::Hmac {
                    app_id,
                    app_key,
                    access_key,
                    secret_key,
                } => vec![
                    ("app_id_env", app_id),
                    ("app_key_env", app_key),
                    ("access_key_env", access_key),
                    ("secret_key_env", secret_key),
                ],
            };
            for (field, secret) in secrets {
                if secret.value.is_none() {
                    push(
                        format!("{at}.{field}"),
                        format!("environment variable {} is not set or empty", secret.env),
                    );
                }
            }
            if !(1..=500).contains(&c.page_size) {
                push(
                    format!("{at}.page_size"),
                    format!("must be 1 to 500 (got {})", c.page_size),
                );
            }
            if c.max_attempts == 0 {
                push(format!("{at}.max_attempts"), "must be at least 1".into());
            }
            if c.max_concurrent_requests == 0 {
                push(format!("{at}.max_concurrent_requests"), "must be at least 1".into());
            }
            if c.request_timeout.is_zero() {
                push(format!("{at}.request_timeout_secs"), "must be at least 1".into());
            }
            if c.connect_timeout.is_zero() {
                push(format!("{at}.connect_timeout_secs"), "must be at least 1".into());
            }
            if c.max_response_bytes < 1024 {
                push(
                    format!("{at}.max_response_bytes"),
                    format!("must be at least 1024 (got {})", c.max_response_bytes),
                );
            }
            if let Some(proxy) = &c.proxy {
                if !proxy.expose().contains("://") {
                    push(
                        format!("{at}.proxy"),
                        format!("must be a URL such as http://proxy:3128 (got {proxy:?})"),
                    );
                }
            }
            validate_compliance(&at, &c.compliance, &mut push);
        }

        let n = &self.neo4j;
        if ![
            "bolt://",
            "bolt+s://",
            "bolt+ssc://",
            "neo4j://",
            "neo4j+s://",
            "neo4j+ssc://",
        ]
        .iter()
        .any(|s| n.uri.starts_with(s))
        {
            push(
                "neo4j.uri".into(),
                format!("must be a bolt:// or neo4j:// URI (got {:?})", n.uri),
            );
        }
        // Whether the file can be read is checked where the pool is built (no I/O here).
        if n.ca_file.is_some() && !(n.uri.starts_with("bolt+s://") || n.uri.starts_with("neo4j+s://")) {
            push(
                "neo4j.ca_file".into(),
                format!(
                    "is only used with a bolt+s:// or neo4j+s:// URI, which checks the server's certificate (got {:?})",
                    n.uri
                ),
            );
        }
        if n.user.is_empty() {
            push("neo4j.user".into(), "must not be empty".into());
        }
        if n.password.value.is_none() {
            push(
                "neo4j.password_env".into(),
                format!("environment variable {} is not set or empty", n.password.env),
            );
        }
        if n.batch_size == 0 || n.batch_size > 100_000 {
            push(
                "neo4j.batch_size".into(),
                format!("must be 1 to 100000 (got {})", n.batch_size),
            );
        }
        if n.cleanup_batch_size == 0 {
            push("neo4j.cleanup_batch_size".into(), "must be at least 1".into());
        }
        if n.max_connections == 0 {
            push("neo4j.max_connections".into(), "must be at least 1".into());
        }
        if n.max_attempts == 0 {
            push("neo4j.max_attempts".into(), "must be at least 1".into());
        }
        if n.connect_timeout.is_zero() {
            push("neo4j.connect_timeout_secs".into(), "must be at least 1".into());
        }
        if n.query_timeout.is_zero() {
            push("neo4j.query_timeout_secs".into(), "must be at least 1".into());
        }
        let share = self.sync.max_delete_share;
        if !(0.0..=1.0).contains(&share) {
            push(
                "sync.max_delete_share".into(),
                format!("must be 0 to 1, a share of an account's elements of one type (got {share})"),
            );
        }
        if self.sync.event_retention_days == 0 {
            push(
                "sync.event_retention_days".into(),
                "must be at least 1 (days an event is kept)".into(),
            );
        }
        if self.sync.threat_lookback_days == 0 {
            push(
                "sync.threat_lookback_days".into(),
                "must be at least 1 (days the first read of a TTP log looks back)".into(),
            );
        } else if self.sync.threat_lookback_days > self.sync.event_retention_days {
            push(
                "sync.threat_lookback_days".into(),
                format!(
                    "must not exceed sync.event_retention_days ({}): older events would be deleted as soon as they are written",
                    self.sync.event_retention_days
                ),
            );
        }
        if self.sync.history_runs == 0 {
            push(
                "sync.history_runs".into(),
                "must be at least 1 (sync records kept per account)".into(),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Errors for commands that need at least one Mimecast connection.
    ///
    /// # Errors
    /// No connection is configured.
    pub fn require_connections(&self) -> Result<(), ConfigError> {
        if self.connections.is_empty() {
            return Err(ConfigError::Invalid {
                source_name: self.source.as_ref().map(|p| p.display().to_string()),
                errors: vec![FieldError {
                    field: "connection".into(),
                    message: "no Mimecast connection: add a [[connection]] to the config file, or set MIMECAST_CLIENT_ID and MIMECAST_CLIENT_SECRET".into(),
                }],
            });
        }
        Ok(())
    }
}

/// `http://` to this machine (the simulator, a local proxy); anything else must be TLS,
/// because the client secret and bearer token travel in the request.
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn validate_compliance(at: &str, c: &ComplianceConfig, push: &mut dyn FnMut(String, String)) {
    let check = |field: String, cats: &[String], push: &mut dyn FnMut(String, String)| {
        for cat in cats {
            if !TRAINING_CATEGORIES.contains(&cat.as_str()) {
                push(
                    field.clone(),
                    format!(
                        "unknown training category {cat:?}; expected one of {}",
                        TRAINING_CATEGORIES.join(", ")
                    ),
                );
            }
        }
    };
    for (campaign, cats) in &c.campaign_categories {
        check(format!("{at}.campaign_categories.{campaign:?}"), cats, push);
    }
    let mut groups: Vec<&String> = Vec::new();
    for (group, cats) in &c.group_requirements {
        check(format!("{at}.group_requirements.{group:?}"), cats, push);
        // Roster groups match case-insensitively, so these would be ambiguous.
        if let Some(same) = groups.iter().find(|g| g.trim().eq_ignore_ascii_case(group.trim())) {
            push(
                format!("{at}.group_requirements.{group:?}"),
                format!("differs from {same:?} only in case; roster groups match case-insensitively, so keep one"),
            );
        }
        groups.push(group);
    }
    for (alias, primary) in &c.domain_aliases {
        // A control character would reach the normalized emails, which become keys.
        let not_a_domain = |d: &str| d.contains('@') || d.chars().any(char::is_control);
        if not_a_domain(alias) || not_a_domain(primary) || primary.is_empty() {
            push(
                format!("{at}.domain_aliases.{alias:?}"),
                format!("must map a domain to a domain, such as \"acme.co.uk\" = \"acme.com\" (got {primary:?})"),
            );
        }
    }
}

/// `HTTPS_PROXY` (or `https_proxy`): the proxy of every connection whose file entry
/// names none, and of the environment-only connection.
fn env_proxy(env: &dyn Fn(&str) -> Option<String>) -> Option<ProxyUrl> {
    env("HTTPS_PROXY")
        .or_else(|| env("https_proxy"))
        .filter(|v| !v.trim().is_empty())
        .map(ProxyUrl::new)
}

/// `NO_PROXY` (or `no_proxy`): hosts reached directly, past any proxy.
fn env_no_proxy(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    env("NO_PROXY")
        .or_else(|| env("no_proxy"))
        .filter(|v| !v.trim().is_empty())
}

fn resolve_connection(
    c: RawConnection,
    defaults: &ComplianceConfig,
    env: &dyn Fn(&str) -> Option<String>,
    resolve_path: &dyn Fn(PathBuf) -> PathBuf,
) -> ConnectionConfig {
    let secret = |name: &Option<String>, default: &str| Secret::from_env(name.as_deref().unwrap_or(default), env);
    let auth = if c.auth.eq_ignore_ascii_case("hmac") {
        AuthConfig::Hmac {
            app_id: secret(&c.app_id_env, "MIMECAST_APP_ID"),
            app_key: secret(&c.app_key_env, "MIMECAST_APP_KEY"),
            access_key: secret(&c.access_key_env, "MIMECAST_ACCESS_KEY"),
            secret_key: secret(&c.secret_key_env, "MIMECAST_SECRET_KEY"),
        }
    } else {
        AuthConfig::OAuth2 {
            client_id: secret(&c.client_id_env, "MIMECAST_CLIENT_ID"),
            client_secret: secret(&c.client_secret_env, "MIMECAST_CLIENT_SECRET"),
        }
    };
    let defaults_conn = ConnectionConfig::oauth2("", "", "", "");
    let mut region = c.region;
    if !c.auth.eq_ignore_ascii_case("hmac") && !c.auth.eq_ignore_ascii_case("oauth2") {
        // Surface the typo through validate(): an impossible region names the field.
        region = Some(format!("(auth {:?} is neither oauth2 nor hmac)", c.auth));
    }
    ConnectionConfig {
        name: c.name,
        region,
        base_url: c.base_url,
        auth,
        page_size: c.page_size.unwrap_or(defaults_conn.page_size),
        connect_timeout: c
            .connect_timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(defaults_conn.connect_timeout),
        request_timeout: c
            .request_timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(defaults_conn.request_timeout),
        max_attempts: c.max_attempts.unwrap_or(defaults_conn.max_attempts),
        retry_backoff: c
            .retry_backoff_ms
            .map(Duration::from_millis)
            .unwrap_or(defaults_conn.retry_backoff),
        max_concurrent_requests: c
            .max_concurrent_requests
            .unwrap_or(defaults_conn.max_concurrent_requests),
        rate_limit_max_wait: c
            .rate_limit_max_wait_secs
            .map(Duration::from_secs)
            .unwrap_or(defaults_conn.rate_limit_max_wait),
        max_response_bytes: c.max_response_bytes.unwrap_or(defaults_conn.max_response_bytes),
        proxy: c.proxy.map(ProxyUrl::new).or_else(|| env_proxy(env)),
        no_proxy: env_no_proxy(env),
        tls_insecure_skip_verify: c.tls_insecure_skip_verify,
        awareness_training: c.awareness_training.unwrap_or(AwarenessTraining::Auto),
        threat_logs: {
            let mut logs = c.threat_logs.unwrap_or_else(|| ThreatLog::ALL.to_vec());
            logs.sort_unstable();
            logs.dedup();
            logs
        },
        compliance: ComplianceConfig {
            campaign_categories: c.campaign_categories,
            roster: c.roster.map(resolve_path).or_else(|| defaults.roster.clone()),
            group_requirements: c
                .group_requirements
                .unwrap_or_else(|| defaults.group_requirements.clone()),
            domain_aliases: c.domain_aliases.unwrap_or_else(|| defaults.domain_aliases.clone()),
            extra_completions: c
                .extra_completions
                .map(resolve_path)
                .or_else(|| defaults.extra_completions.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn proxy_urls_print_without_credentials() {
        assert_eq!(
            ProxyUrl::new("http://u:p@proxy:3128").redacted(),
            "http://***@proxy:3128"
        );
        assert_eq!(ProxyUrl::new("http://u@proxy:3128").redacted(), "http://***@proxy:3128");
        assert_eq!(ProxyUrl::new("http://proxy:3128").redacted(), "http://proxy:3128");
        assert_eq!(format!("{:?}", ProxyUrl::new("u:p@proxy")), r#""***@proxy""#);
        // Found by fuzz/ (target config): a "://" after the credentials was taken for
        // the end of the scheme, and the password was printed.
        assert_eq!(
            ProxyUrl::new("http:/|user:pass@proxxxxtp://user:pass@proxy:3128").redacted(),
            "***@proxy:3128"
        );
    }

    #[test]
    fn env_only_single_tenant() {
        let env = env_of(&[
            ("MIMECAST_CLIENT_ID", "id"),
            ("MIMECAST_CLIENT_SECRET", "s3cret"),
            ("MIMECAST_REGION", "uk"),
            ("NEO4J_URI", "bolt://db:7687"),
            ("NEO4J_PASSWORD", "pw-pw-pw"),
        ]);
        let c = Config::from_sources(None, None, &env).unwrap();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.connections.len(), 1);
        assert_eq!(c.connections[0].name, "default");
        assert_eq!(
            c.connections[0].resolved_base_url().as_deref(),
            Some("https://uk-api.services.mimecast.com")
        );
        assert_eq!(c.neo4j.uri, "bolt://db:7687");
        let AuthConfig::OAuth2 { client_secret, .. } = &c.connections[0].auth else {
            panic!()
        };
        assert_eq!(client_secret.value.as_ref().unwrap().expose_secret(), "s3cret");
    }

    #[test]
    fn a_ca_file_goes_with_a_uri_that_checks_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let ca = ca.display().to_string();
        let check = |uri: &str, ca: &str| {
            let pairs = [
                ("MIMECAST_CLIENT_ID", "id"),
                ("MIMECAST_CLIENT_SECRET", "s3cret"),
                ("NEO4J_URI", uri),
                ("NEO4J_PASSWORD", "pw-pw-pw"),
                ("NEO4J_CA_FILE", ca),
            ];
            let env = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
            let c = Config::from_sources(None, None, &env).unwrap();
            assert_eq!(c.neo4j.ca_file.as_deref(), Some(Path::new(ca)));
            c.validate()
                .map_err(|e| e.into_iter().map(|f| f.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(check("bolt+s://db:7687", &ca), Ok(()));
        assert_eq!(check("neo4j+s://db:7687", &ca), Ok(()));
        assert_eq!(
            check("bolt://db:7687", &ca),
            Err(vec![
                "neo4j.ca_file: is only used with a bolt+s:// or neo4j+s:// URI, which checks the server's certificate (got \"bolt://db:7687\")"
                    .to_owned()
            ])
        );
    }

    #[test]
    fn the_environment_only_connection_uses_https_proxy_and_no_proxy() {
        let env = env_of(&[
            ("MIMECAST_CLIENT_ID", "id"),
            ("MIMECAST_CLIENT_SECRET", "s3cret"),
            ("HTTPS_PROXY", "http://proxy.corp:3128"),
            ("NO_PROXY", "mimecast.internal,.corp"),
        ]);
        let c = Config::from_sources(None, None, &env).unwrap();
        let conn = &c.connections[0];
        assert_eq!(conn.proxy, Some(ProxyUrl::new("http://proxy.corp:3128")));
        assert_eq!(conn.no_proxy.as_deref(), Some("mimecast.internal,.corp"));
        // The same variables for a file connection that names no proxy of its own.
        let text = "[[connection]]\nname = \"a\"\n[[connection]]\nname = \"b\"\nproxy = \"http://own:8080\"\n";
        let c = Config::from_sources(None, Some(text), &env).unwrap();
        let proxies: Vec<_> = c.connections.iter().map(|c| c.proxy.clone()).collect();
        assert_eq!(
            proxies,
            vec![
                Some(ProxyUrl::new("http://proxy.corp:3128")),
                Some(ProxyUrl::new("http://own:8080"))
            ]
        );
        assert_eq!(c.connections[1].no_proxy.as_deref(), Some("mimecast.internal,.corp"));
    }

    #[test]
    fn throttling_and_body_limits_are_read_with_defaults() {
        let text = "[[connection]]\nname = \"a\"\nrate_limit_max_wait_secs = 120\nmax_response_bytes = 1048576\n[[connection]]\nname = \"b\"\nmax_response_bytes = 10\n";
        let env = env_of(&[
            ("MIMECAST_CLIENT_ID", "i"),
            ("MIMECAST_CLIENT_SECRET", "s"),
            ("NEO4J_PASSWORD", "p"),
        ]);
        let c = Config::from_sources(None, Some(text), &env).unwrap();
        let a = &c.connections[0];
        assert_eq!(
            (a.rate_limit_max_wait, a.max_response_bytes),
            (Duration::from_secs(120), 1 << 20)
        );
        let defaults = ConnectionConfig::oauth2("d", "", "", "");
        assert_eq!(
            (defaults.rate_limit_max_wait, defaults.max_response_bytes),
            (Duration::from_secs(300), 64 << 20)
        );
        let errors = c.validate().unwrap_err();
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["connection[b].max_response_bytes: must be at least 1024 (got 10)"]
        );
    }

    #[test]
    fn validate_names_every_bad_field() {
        let text = r#"
            [[connection]]
            name = "prod"
            region = "mars"
            page_size = 900
            client_secret_env = "PROD_SECRET"
            campaign_categories = { "HIPAA 101" = ["hipaa", "astrology"] }
            group_requirements = { Clinical = ["hipaa"], clinical = ["general"] }

            [neo4j]
            uri = "http://localhost:7474"
            batch_size = 0
        "#;
        let env = env_of(&[("MIMECAST_CLIENT_ID", "id")]);
        let c = Config::from_sources(Some(Path::new("/etc/mg.toml")), Some(text), &env).unwrap();
        let errors = c.validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "connection[prod].region",
                "connection[prod].client_secret_env",
                "connection[prod].page_size",
                "connection[prod].campaign_categories.\"HIPAA 101\"",
                "connection[prod].group_requirements.\"clinical\"",
                "neo4j.uri",
                "neo4j.password_env",
                "neo4j.batch_size",
            ]
        );
        assert_eq!(
            errors[1].message,
            "environment variable PROD_SECRET is not set or empty"
        );
        assert_eq!(
            errors[4].message,
            "differs from \"Clinical\" only in case; roster groups match case-insensitively, so keep one"
        );
    }

    #[test]
    fn a_domain_alias_with_a_control_character_is_refused() {
        // Found by fuzz/ (target roster): a NUL in a primary domain reached the normalized emails.
        let text = "[compliance]\ndomain_aliases = { \"acme.co.uk\" = \"acme.gro\\u0000ccom\" }\n[[connection]]\nname = \"p\"\n";
        let env = env_of(&[
            ("MIMECAST_CLIENT_ID", "id"),
            ("MIMECAST_CLIENT_SECRET", "s"),
            ("NEO4J_PASSWORD", "pw"),
        ]);
        let errors = Config::from_sources(None, Some(text), &env)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(
            errors,
            vec![FieldError {
                field: "connection[p].domain_aliases.\"acme.co.uk\"".into(),
                message:
                    "must map a domain to a domain, such as \"acme.co.uk\" = \"acme.com\" (got \"acme.gro\\0ccom\")"
                        .into(),
            }]
        );
    }

    #[test]
    fn plain_http_is_only_for_this_machine() {
        assert!(is_loopback_http("http://127.0.0.1:8080"));
        assert!(is_loopback_http("http://localhost/api"));
        assert!(is_loopback_http("http://[::1]:9"));
        assert!(!is_loopback_http("http://api.services.mimecast.com"));
        assert!(!is_loopback_http("http://127.0.0.1.evil.example:80"));
        let text = "[[connection]]\nname = \"x\"\nbase_url = \"http://mimecast.example.com\"\n";
        let env = env_of(&[
            ("MIMECAST_CLIENT_ID", "i"),
            ("MIMECAST_CLIENT_SECRET", "s"),
            ("NEO4J_PASSWORD", "p"),
        ]);
        let errors = Config::from_sources(None, Some(text), &env)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "connection[x].base_url: must start with https:// (plain http:// only for 127.0.0.1 or localhost; got \"http://mimecast.example.com\")"
        );
    }

    #[test]
    fn unknown_field_is_a_parse_error_naming_it() {
        let err =
            Config::from_sources(Some(Path::new("x.toml")), Some("[neo4j]\nbatchsize = 5\n"), &|_| None).unwrap_err();
        assert!(err.to_string().contains("unknown field `batchsize`"), "{err}");
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let env = env_of(&[
            ("MIMECAST_CLIENT_ID", "id"),
            ("MIMECAST_CLIENT_SECRET", "very-secret-value"),
            ("NEO4J_PASSWORD", "another-secret"),
        ]);
        let c = Config::from_sources(None, None, &env).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("very-secret-value"));
        assert!(!debug.contains("another-secret"));
        assert!(debug.contains("Secret($MIMECAST_CLIENT_SECRET set)"));
    }

    #[test]
    fn threat_log_settings_are_read_with_defaults_and_checked() {
        let env = env_of(&[("NEO4J_PASSWORD", "p"), ("ID", "i"), ("SECRET", "s")]);
        let text = "[sync]\nthreat_lookback_days = 3\nthreat_overlap_minutes = 15\n\
            [[connection]]\nname = \"a\"\nclient_id_env = \"ID\"\nclient_secret_env = \"SECRET\"\n\
            threat_logs = [\"impersonation\", \"url\", \"url\"]\n\
            [[connection]]\nname = \"b\"\nclient_id_env = \"ID\"\nclient_secret_env = \"SECRET\"\n";
        let c = Config::from_sources(None, Some(text), &env).unwrap();
        assert_eq!((c.sync.threat_lookback_days, c.sync.threat_overlap_minutes), (3, 15));
        assert_eq!(
            c.connections[0].threat_logs,
            vec![ThreatLog::Url, ThreatLog::Impersonation]
        );
        assert_eq!(c.connections[1].threat_logs, ThreatLog::ALL.to_vec());
        let defaults = Config::from_sources(None, None, &env).unwrap();
        assert_eq!(
            (defaults.sync.threat_lookback_days, defaults.sync.threat_overlap_minutes),
            (7, 60)
        );
        let bad = |text: &str| {
            Config::from_sources(None, Some(text), &env)
                .unwrap()
                .validate()
                .unwrap_err()
        };
        assert_eq!(
            bad("[sync]\nthreat_lookback_days = 0\n"),
            vec![FieldError {
                field: "sync.threat_lookback_days".into(),
                message: "must be at least 1 (days the first read of a TTP log looks back)".into()
            }]
        );
        assert_eq!(
            bad("[sync]\nthreat_lookback_days = 30\nevent_retention_days = 14\n")[0].message,
            "must not exceed sync.event_retention_days (14): older events would be deleted as soon as they are written"
        );
        let unknown = Config::from_sources(
            None,
            Some("[[connection]]\nname = \"a\"\nthreat_logs = [\"siem\"]\n"),
            &env,
        );
        assert!(unknown.unwrap_err().to_string().contains("siem"));
    }

    #[test]
    fn retry_window_and_deletion_share_are_read_and_checked() {
        let env = env_of(&[("NEO4J_PASSWORD", "p")]);
        let text = "[neo4j]\nunavailable_retry_secs = 30\n[sync]\nmax_delete_share = 0.25\n";
        let c = Config::from_sources(None, Some(text), &env).unwrap();
        assert_eq!(c.neo4j.unavailable_retry, Duration::from_secs(30));
        assert_eq!(c.sync.max_delete_share, 0.25);
        assert!(
            !c.sync.allow_mass_delete,
            "only the command-line flag allows mass deletion"
        );
        let defaults = Config::from_sources(None, None, &env).unwrap();
        assert_eq!(defaults.neo4j.unavailable_retry, Duration::from_secs(120));
        assert_eq!(defaults.sync.max_delete_share, 0.5);
        let bad = Config::from_sources(None, Some("[sync]\nmax_delete_share = 1.5\n"), &env).unwrap();
        assert_eq!(
            bad.validate().unwrap_err(),
            vec![FieldError {
                field: "sync.max_delete_share".into(),
                message: "must be 0 to 1, a share of an account's elements of one type (got 1.5)".into()
            }]
        );
    }

    #[test]
    fn roster_paths_resolve_against_the_config_folder() {
        let text = "[compliance]\nroster = \"people.csv\"\n[[connection]]\nname = \"a\"\n";
        let c = Config::from_sources(Some(Path::new("/etc/mg/config.toml")), Some(text), &|_| None).unwrap();
        assert_eq!(
            c.connections[0].compliance.roster.as_deref(),
            Some(Path::new("/etc/mg/people.csv"))
        );
    }
}
