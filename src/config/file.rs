//! The configuration file format (`Raw*`, read with serde) and its resolution into
//! [`Config`]: defaults, the environment's overrides, paths relative to the file.

use super::*;

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
    directory_groups: Option<bool>,
    #[serde(default)]
    message_activity: MessageActivity,
    #[serde(default)]
    siem: SiemConfig,
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
    verify_content_hours: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    unknown_participants: Option<UnknownParticipants>,
    max_delete_share: Option<f64>,
    event_retention_days: Option<u32>,
    history_runs: Option<u32>,
    history_finding_ids_max: Option<u32>,
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
            verify_content_hours: n.verify_content_hours.unwrap_or(defaults.verify_content_hours),
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
                history_finding_ids_max: raw
                    .sync
                    .history_finding_ids_max
                    .unwrap_or(sync_defaults.history_finding_ids_max),
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
        directory_groups: c.directory_groups.unwrap_or(defaults_conn.directory_groups),
        message_activity: c.message_activity,
        siem: c.siem,
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
