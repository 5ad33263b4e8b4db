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
    /// Read directory groups and their members (`directory_groups`, default true).
    pub directory_groups: bool,
    /// Message Finder activity per user (`[connection.message_activity]`, opt-in).
    pub message_activity: MessageActivity,
    /// SIEM batch detections (`[connection.siem]`, opt-in).
    pub siem: SiemConfig,
    pub compliance: ComplianceConfig,
}

/// `[connection.siem]`: detections from the SIEM batch files
/// (`/siem/v1/batch/events/cg`), one stream per event type. API 2.0 credentials only.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiemConfig {
    pub enabled: bool,
    /// The event types read (of the batch's 10); the default keeps detections only.
    pub types: Vec<String>,
    /// Files per listing page (1 to 100).
    pub page_size: u32,
}

/// The SIEM batch event types (docs/mimecast-api.md §13.2).
pub const SIEM_TYPES: [&str; 10] = [
    "av",
    "delivery",
    "internal email protect",
    "impersonation protect",
    "journal",
    "process",
    "receipt",
    "attachment protect",
    "spam",
    "url protect",
];

impl Default for SiemConfig {
    fn default() -> Self {
        SiemConfig {
            enabled: false,
            types: ["av", "attachment protect", "impersonation protect", "url protect"]
                .map(str::to_owned)
                .to_vec(),
            page_size: 100,
        }
    }
}

/// `[connection.message_activity]`: the last message each internal user sent, from
/// Message Finder, one call per user, rationed per sync.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageActivity {
    pub enabled: bool,
    /// How far back each search looks.
    pub lookback_days: u32,
    /// The most Message Finder calls one sync makes; the users left over keep their
    /// stored values and come first next time.
    pub max_calls_per_sync: u32,
}

impl Default for MessageActivity {
    fn default() -> Self {
        MessageActivity {
            enabled: false,
            lookback_days: 30,
            max_calls_per_sync: 2000,
        }
    }
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
            directory_groups: true,
            message_activity: MessageActivity::default(),
            siem: SiemConfig::default(),
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
    /// How often a sync reads an account's stored content in full (catching edits by
    /// hand) instead of only its keys and fingerprints; 0: every sync.
    pub verify_content_hours: u32,
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
            verify_content_hours: 24,
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
    /// A rule with more distinct findings than this keeps only their number in a
    /// sync's history, not their identities (which `queries diff` compares).
    pub history_finding_ids_max: u32,
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
            history_finding_ids_max: 10_000,
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

mod file;
mod validate;

#[cfg(test)]
mod tests;
