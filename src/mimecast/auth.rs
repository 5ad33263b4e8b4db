//! Authentication: the API 2.0 bearer token (cached, renewed ahead of expiry, never
//! one per call) and API 1.0 HMAC-SHA1 request signing.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha1::Sha1;
use tokio::sync::Mutex;

/// A token is renewed this long before Mimecast says it expires.
pub const RENEW_AHEAD: Duration = Duration::from_secs(60);

/// Used when the token response has no `expires_in` (the Splunk TA does the same).
pub const DEFAULT_EXPIRES_IN: u64 = 1799;

pub enum Credentials {
    OAuth2 {
        client_id: SecretString,
        client_secret: SecretString,
        cache: Mutex<Option<CachedToken>>,
    },
    Hmac {
        app_id: SecretString,
        app_key: SecretString,
        access_key: SecretString,
        secret_key: SecretString,
    },
}

pub struct CachedToken {
    pub value: SecretString,
    pub renew_at: Instant,
    /// Increments with every new token, so that one expired token triggers one renewal
    /// however many calls saw it fail.
    pub generation: u64,
}

#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    /// When to renew: `RENEW_AHEAD` before expiry, or halfway for very short TTLs.
    pub fn renew_after(&self) -> Duration {
        let ttl = Duration::from_secs(self.expires_in.unwrap_or(DEFAULT_EXPIRES_IN));
        if ttl > RENEW_AHEAD * 2 {
            ttl - RENEW_AHEAD
        } else {
            ttl / 2
        }
    }
}

/// The four headers of an API 1.0 request: `(name, value)`.
pub fn hmac_headers(
    path: &str,
    app_id: &SecretString,
    app_key: &SecretString,
    access_key: &SecretString,
    secret_key: &SecretString,
) -> Result<Vec<(&'static str, String)>, String> {
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S UTC").to_string();
    let request_id = uuid::Uuid::new_v4().to_string();
    let signature = sign(&date, &request_id, path, app_key, secret_key)?;
    Ok(vec![
        (
            "Authorization",
            format!("MC {}:{}", access_key.expose_secret(), signature),
        ),
        ("x-mc-app-id", app_id.expose_secret().to_owned()),
        ("x-mc-date", date),
        ("x-mc-req-id", request_id),
    ])
}

/// `base64(HMAC-SHA1(base64decode(secretKey), "{date}:{reqId}:{path}:{appKey}"))`.
pub fn sign(
    date: &str,
    request_id: &str,
    path: &str,
    app_key: &SecretString,
    secret_key: &SecretString,
) -> Result<String, String> {
    let key = B64
        .decode(secret_key.expose_secret().trim())
        .map_err(|_| "the API 1.0 secret key is not valid base64".to_owned())?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).map_err(|_| "unusable API 1.0 secret key".to_owned())?;
    mac.update(format!("{date}:{request_id}:{path}:{}", app_key.expose_secret()).as_bytes());
    Ok(B64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_documented_algorithm() {
        // Reference value computed independently with Python:
        // base64(hmac.new(b64decode(secret), msg, sha1).digest())
        let secret = SecretString::from(B64.encode(b"secret-key-bytes"));
        let app_key = SecretString::from("app-key".to_owned());
        let sig = sign(
            "Sat, 05 Mar 2022 00:03:37 UTC",
            "0e4b5b2c-1f1a-4d0e-9d7c-2f3c1e0a9b11",
            "/api/account/get-account",
            &app_key,
            &secret,
        )
        .unwrap();
        assert_eq!(sig, "WI3JxCMR6SH3OT1gszxW6PbBGCQ=");
    }

    #[test]
    fn renewal_is_ahead_of_expiry() {
        let t = TokenResponse {
            access_token: String::new(),
            expires_in: Some(1799),
        };
        assert_eq!(t.renew_after(), Duration::from_secs(1739));
        let short = TokenResponse {
            access_token: String::new(),
            expires_in: Some(4),
        };
        assert_eq!(short.renew_after(), Duration::from_secs(2));
        let absent = TokenResponse {
            access_token: String::new(),
            expires_in: None,
        };
        assert_eq!(absent.renew_after(), Duration::from_secs(1739));
    }
}
