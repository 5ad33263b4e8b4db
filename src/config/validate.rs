//! [`Config::validate`]: every bad field named, no I/O.

use super::*;

impl Config {
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
            let activity = &c.message_activity;
            if activity.enabled && !(1..=365).contains(&activity.lookback_days) {
                push(
                    format!("{at}.message_activity.lookback_days"),
                    format!("must be 1 to 365 (got {})", activity.lookback_days),
                );
            }
            if activity.enabled && activity.max_calls_per_sync == 0 {
                push(
                    format!("{at}.message_activity.max_calls_per_sync"),
                    "must be at least 1 (or set enabled = false)".into(),
                );
            }
            if c.siem.enabled {
                for t in &c.siem.types {
                    if !super::SIEM_TYPES.contains(&t.as_str()) {
                        push(
                            format!("{at}.siem.types"),
                            format!(
                                "{t:?} is not a SIEM batch type (known: {})",
                                super::SIEM_TYPES.join(", ")
                            ),
                        );
                    }
                }
                if c.siem.types.is_empty() {
                    push(
                        format!("{at}.siem.types"),
                        "names no type (or set enabled = false)".into(),
                    );
                }
                if !(1..=100).contains(&c.siem.page_size) {
                    push(
                        format!("{at}.siem.page_size"),
                        format!("must be 1 to 100 (got {})", c.siem.page_size),
                    );
                }
                if matches!(c.auth, super::AuthConfig::Hmac { .. }) {
                    push(
                        format!("{at}.siem.enabled"),
                        "the SIEM batch takes API 2.0 (OAuth2) credentials; this connection uses API 1.0 keys".into(),
                    );
                }
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
pub(super) fn is_loopback_http(url: &str) -> bool {
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
