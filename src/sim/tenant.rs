//! The simulated tenant: credentials the simulator accepts and the records it serves.
//!
//! Records are kept as [`serde_json::Value`] and shaped exactly like the API's own
//! records, so whatever a tenant file holds is served verbatim. Only the fields the
//! simulator routes by are checked: a domain's `domain`, a user's `domain` (or the
//! part of `emailAddress` after `@`), a campaign's `id`. Campaigns carry their
//! per-user rows in an extra `user_data` array, which the campaign listings leave out.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::threats::{record_time, Stream};

/// Credentials the simulator accepts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Credential {
    /// API 2.0: an OAuth2 client-credentials pair for `POST /oauth/token`.
    OAuth2 { client_id: String, client_secret: String },
    /// API 1.0: an application (id and key) and a binding (access key and base64 secret key).
    Hmac {
        app_id: String,
        app_key: String,
        access_key: String,
        secret_key: String,
    },
}

impl Credential {
    /// The name the rate-limit bucket and the logs use: client id or access key.
    pub fn principal(&self) -> &str {
        match self {
            Credential::OAuth2 { client_id, .. } => client_id,
            Credential::Hmac { access_key, .. } => access_key,
        }
    }
}

// Secrets never reach logs or test output.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::OAuth2 { client_id, .. } => f
                .debug_struct("OAuth2")
                .field("client_id", client_id)
                .field("client_secret", &"<redacted>")
                .finish(),
            Credential::Hmac { app_id, access_key, .. } => f
                .debug_struct("Hmac")
                .field("app_id", app_id)
                .field("app_key", &"<redacted>")
                .field("access_key", access_key)
                .field("secret_key", &"<redacted>")
                .finish(),
        }
    }
}

/// A whole simulated tenant, as read from or written to a tenant file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub credentials: Vec<Credential>,
    /// The `get-account` record.
    pub account: Value,
    #[serde(default)]
    pub domains: Vec<Value>,
    #[serde(default)]
    pub users: Vec<Value>,
    /// `campaign/get-campaigns` records, each with its `campaign/get-user-data` rows in `user_data`.
    #[serde(default)]
    pub training_campaigns: Vec<Value>,
    /// `phishing/campaign/get-campaign` records, each with its `get-user-data` rows in `user_data`.
    #[serde(default)]
    pub phishing_campaigns: Vec<Value>,
    #[serde(default)]
    pub safe_scores: Vec<Value>,
    #[serde(default)]
    pub performance: Vec<Value>,
    #[serde(default)]
    pub watchlist: Vec<Value>,
    /// `ttp/url/get-logs` records (`clickLogs`), each with a `date`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url_logs: Vec<Value>,
    /// `ttp/attachment/get-logs` records (`attachmentLogs`), each with a `date`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachment_logs: Vec<Value>,
    /// `ttp/impersonation/get-logs` records (`impersonationLogs`), each with an
    /// `eventTime` and an `id`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub impersonation_logs: Vec<Value>,
    /// `directory/find-groups` records (`id`, `description`, `source`, `parentId`,
    /// `folderCount`, `userCount`), each with its `get-group-members` rows in `members`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Value>,
    /// `message-finder/search` records (`trackedEmails`), found by `fromEnv.emailAddress`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracked_emails: Vec<Value>,
    /// SIEM batch events (`/siem/v1/batch/events/cg`), each with a `type` and a
    /// `timestamp` in ms; `{"type", "timestamp", "_raw": text}` is served as the
    /// corrupt line `text`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siem_events: Vec<Value>,
    /// Role permissions the API application lacks (`Monitoring | URL Protection |
    /// Read`, ...): the endpoints that need one answer 403.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_permissions: Vec<String>,
}

/// Why a tenant could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("cannot read tenant file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tenant file {path} is not a valid tenant: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid tenant: {0}")]
    Invalid(String),
}

impl Tenant {
    /// Reads and checks a tenant file.
    ///
    /// # Errors
    /// The file cannot be read, is not JSON of the tenant shape, or fails [`Tenant::validate`].
    pub fn from_path(path: &Path) -> Result<Tenant, TenantError> {
        let text = std::fs::read(path).map_err(|source| TenantError::Read {
            path: path.to_owned(),
            source,
        })?;
        let tenant: Tenant = serde_json::from_slice(&text).map_err(|source| TenantError::Parse {
            path: path.to_owned(),
            source,
        })?;
        tenant.validate()?;
        Ok(tenant)
    }

    /// Checks what the simulator routes by; everything else is served as it is.
    ///
    /// # Errors
    /// Names the first bad record: no credentials, an account that is not an object,
    /// an HMAC secret key that is not base64, a domain without `domain`, a user
    /// without a domain, a campaign without a string `id` or with a `user_data` that
    /// is not an array.
    pub fn validate(&self) -> Result<(), TenantError> {
        let bad = |m: String| Err(TenantError::Invalid(m));
        if self.credentials.is_empty() {
            return bad("no credentials: nobody could call the simulator".into());
        }
        for (i, c) in self.credentials.iter().enumerate() {
            if let Credential::Hmac { secret_key, .. } = c {
                if base64::engine::general_purpose::STANDARD.decode(secret_key).is_err() {
                    return bad(format!("credentials[{i}].secret_key is not base64"));
                }
            }
        }
        if !self.account.is_object() {
            return bad("account must be a JSON object (the get-account record)".into());
        }
        for (i, d) in self.domains.iter().enumerate() {
            if d.get("domain").and_then(Value::as_str).is_none() {
                return bad(format!("domains[{i}] has no string \"domain\""));
            }
        }
        for (i, u) in self.users.iter().enumerate() {
            if user_domain(u).is_none() {
                return bad(format!(
                    "users[{i}] has neither \"domain\" nor an \"emailAddress\" with @"
                ));
            }
        }
        for (section, list) in [
            ("training_campaigns", &self.training_campaigns),
            ("phishing_campaigns", &self.phishing_campaigns),
        ] {
            for (i, c) in list.iter().enumerate() {
                if c.get("id").and_then(Value::as_str).is_none() {
                    return bad(format!("{section}[{i}] has no string \"id\""));
                }
                match c.get("user_data") {
                    None | Some(Value::Array(_)) => {}
                    Some(_) => return bad(format!("{section}[{i}].user_data is not an array")),
                }
            }
        }
        for (i, g) in self.groups.iter().enumerate() {
            if g.get("id").and_then(Value::as_str).is_none() {
                return bad(format!("groups[{i}] has no string \"id\""));
            }
            match g.get("members") {
                None | Some(Value::Array(_)) => {}
                Some(_) => return bad(format!("groups[{i}].members is not an array")),
            }
        }
        for (i, m) in self.tracked_emails.iter().enumerate() {
            if super::directory::sender(m).is_none() {
                return bad(format!("tracked_emails[{i}] has no string \"fromEnv.emailAddress\""));
            }
        }
        for (section, stream, list) in [
            ("url_logs", Stream::Url, &self.url_logs),
            ("attachment_logs", Stream::Attachment, &self.attachment_logs),
            ("impersonation_logs", Stream::Impersonation, &self.impersonation_logs),
        ] {
            for (i, r) in list.iter().enumerate() {
                if record_time(stream, r).is_none() {
                    let field = if stream == Stream::Impersonation {
                        "eventTime"
                    } else {
                        "date"
                    };
                    return bad(format!("{section}[{i}] has no readable \"{field}\""));
                }
                if stream == Stream::Impersonation && r.get("id").and_then(Value::as_str).is_none() {
                    return bad(format!("{section}[{i}] has no string \"id\""));
                }
            }
        }
        Ok(())
    }

    /// True when the account's `packages` list the Awareness Training package.
    pub fn lists_awareness_training(&self) -> bool {
        self.account.get("packages").and_then(Value::as_array).is_some_and(|p| {
            p.iter()
                .any(|v| v.as_str().is_some_and(|s| s.starts_with("Awareness Training")))
        })
    }

    /// The tenant's account code, when the account record has one.
    pub fn account_code(&self) -> Option<&str> {
        self.account.get("accountCode").and_then(Value::as_str)
    }
}

/// The domain a user record belongs to: its `domain`, else the part of
/// `emailAddress` after the last `@`. Lower-cased, as domains compare.
pub(crate) fn user_domain(user: &Value) -> Option<String> {
    if let Some(d) = user.get("domain").and_then(Value::as_str) {
        return Some(d.to_ascii_lowercase());
    }
    let email = user.get("emailAddress").and_then(Value::as_str)?;
    email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "credentials": [
                {"client_id": "id", "client_secret": "secret"},
                {"app_id": "app", "app_key": "key", "access_key": "ak", "secret_key": "c2VjcmV0"}
            ],
            "account": {"accountCode": "CUSA00A000", "packages": ["Awareness Training [1078]"]}
        })
    }

    #[test]
    fn sections_default_to_empty_and_credentials_parse_both_kinds() {
        let t: Tenant = serde_json::from_value(minimal()).unwrap();
        assert_eq!(t.credentials.len(), 2);
        assert!(matches!(&t.credentials[0], Credential::OAuth2 { client_id, .. } if client_id == "id"));
        assert!(matches!(&t.credentials[1], Credential::Hmac { access_key, .. } if access_key == "ak"));
        assert!(t.users.is_empty() && t.watchlist.is_empty());
        assert_eq!(t.account_code(), Some("CUSA00A000"));
        assert!(t.lists_awareness_training());
        t.validate().unwrap();
    }

    #[test]
    fn debug_hides_secrets() {
        let t: Tenant = serde_json::from_value(minimal()).unwrap();
        let shown = format!("{:?}", t.credentials);
        assert!(!shown.contains("secret\""), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn validate_names_the_bad_record() {
        let mut v = minimal();
        v["users"] = json!([{"emailAddress": "a@x.com"}, {"name": "no address"}]);
        let t: Tenant = serde_json::from_value(v).unwrap();
        assert_eq!(
            t.validate().unwrap_err().to_string(),
            "invalid tenant: users[1] has neither \"domain\" nor an \"emailAddress\" with @"
        );

        let mut v = minimal();
        v["phishing_campaigns"] = json!([{"id": "p1", "user_data": {}}]);
        let t: Tenant = serde_json::from_value(v).unwrap();
        assert_eq!(
            t.validate().unwrap_err().to_string(),
            "invalid tenant: phishing_campaigns[0].user_data is not an array"
        );
    }

    #[test]
    fn from_path_reports_the_file() {
        let err = Tenant::from_path(Path::new("/nonexistent/tenant.json")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot read tenant file /nonexistent/tenant.json"));
    }
}
