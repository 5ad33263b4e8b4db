//! Authentication: the API 2.0 bearer token (cached, renewed ahead of expiry, never
//! one per call) and API 1.0 HMAC-SHA1 request signing.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha1::Sha1;
use tokio::sync::Mutex;

use super::client::Client;
use super::envelope;
use super::error::{ApiError, TOKEN_BODY_HINT, TOKEN_HINT};
use super::retry::{Answer, Exchange, Failure, Kind, Verdict};
use super::throttle::retry_after;

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
) -> Result<Vec<(&'static str, String)>, SignError> {
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

/// An API 1.0 secret key that cannot sign.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the API 1.0 secret key is not valid base64")]
    NotBase64,
    #[error("unusable API 1.0 secret key")]
    Unusable,
}

/// `base64(HMAC-SHA1(base64decode(secretKey), "{date}:{reqId}:{path}:{appKey}"))`.
pub fn sign(
    date: &str,
    request_id: &str,
    path: &str,
    app_key: &SecretString,
    secret_key: &SecretString,
) -> Result<String, SignError> {
    let key = B64
        .decode(secret_key.expose_secret().trim())
        .map_err(|_| SignError::NotBase64)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).map_err(|_| SignError::Unusable)?;
    mac.update(format!("{date}:{request_id}:{path}:{}", app_key.expose_secret()).as_bytes());
    Ok(B64.encode(mac.finalize().into_bytes()))
}

impl Credentials {
    /// The credential values to redact (the API 1.0 application id is not secret,
    /// and error texts name it).
    pub fn secrets(&self) -> Vec<&SecretString> {
        match self {
            Credentials::OAuth2 {
                client_id,
                client_secret,
                ..
            } => vec![client_id, client_secret],
            Credentials::Hmac {
                app_key,
                access_key,
                secret_key,
                ..
            } => vec![app_key, access_key, secret_key],
        }
    }
}

/// A header value never printed by reqwest's or our Debug output.
fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

impl Client {
    /// Headers for one request, and the token generation they used (OAuth2 only).
    pub(super) async fn auth_headers(&self, path: &str) -> Result<(HeaderMap, Option<u64>), ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let generation = match &self.inner.credentials {
            Credentials::OAuth2 { .. } => {
                let (token, generation) = self.bearer().await?;
                let value = sensitive(&format!("Bearer {}", token.expose_secret()))
                    .ok_or_else(|| self.setup("the access token holds characters not allowed in a header".into()))?;
                headers.insert(AUTHORIZATION, value);
                Some(generation)
            }
            Credentials::Hmac {
                app_id,
                app_key,
                access_key,
                secret_key,
            } => {
                let pairs = hmac_headers(path, app_id, app_key, access_key, secret_key)
                    .map_err(|e| self.setup(e.to_string()))?;
                for (name, v) in pairs {
                    let value = sensitive(&v).ok_or_else(|| {
                        self.setup(format!(
                            "a credential holds characters not allowed in the {name} header"
                        ))
                    })?;
                    headers.insert(name, value);
                }
                // Only the signature line is a secret; the app id, date and request id
                // are not, and error texts may name them.
                for (_, value) in headers.iter_mut().filter(|(n, _)| *n != AUTHORIZATION) {
                    value.set_sensitive(false);
                }
                None
            }
        };
        Ok((headers, generation))
    }

    /// The cached token, fetched or renewed when due. The cache lock is held while a
    /// token is fetched, so concurrent calls wait for one request instead of each
    /// making their own.
    pub(super) async fn bearer(&self) -> Result<(SecretString, u64), ApiError> {
        let Credentials::OAuth2 {
            client_id,
            client_secret,
            cache,
        } = &self.inner.credentials
        else {
            unreachable!("bearer() is only called for OAuth2 credentials")
        };
        let mut cached = cache.lock().await;
        if let Some(t) = cached.as_ref() {
            if Instant::now() < t.renew_at {
                return Ok((t.value.clone(), t.generation));
            }
        }
        let generation = cached.as_ref().map_or(1, |t| t.generation + 1);
        let response = self
            .send(TokenRequest {
                client: self,
                url: format!("{}/oauth/token", self.base_url()),
                client_id,
                client_secret,
            })
            .await?;
        let token = CachedToken {
            value: SecretString::from(response.access_token.clone()),
            renew_at: Instant::now() + response.renew_after(),
            generation,
        };
        let out = (token.value.clone(), generation);
        *cached = Some(token);
        Ok(out)
    }

    pub(super) async fn invalidate_token(&self, generation: Option<u64>) {
        if let Credentials::OAuth2 { cache, .. } = &self.inner.credentials {
            let mut cached = cache.lock().await;
            if cached.as_ref().map(|t| t.generation) == generation {
                if let Some(t) = cached.as_mut() {
                    t.renew_at = Instant::now();
                }
            }
        }
    }
}

/// `POST {base}/oauth/token` with the client credentials, form-encoded. Network
/// errors and 5xx are retried (429 is waited out); any other refusal is an auth error.
struct TokenRequest<'a> {
    client: &'a Client,
    url: String,
    client_id: &'a SecretString,
    client_secret: &'a SecretString,
}

impl Exchange for TokenRequest<'_> {
    type Output = TokenResponse;
    const KIND: Kind = Kind::Token;

    fn url(&self) -> &str {
        &self.url
    }

    async fn request(&mut self) -> Result<reqwest::RequestBuilder, ApiError> {
        let form = [
            ("client_id", self.client_id.expose_secret()),
            ("client_secret", self.client_secret.expose_secret()),
            ("grant_type", "client_credentials"),
        ];
        Ok(self.client.inner.http.post(&self.url).form(&form))
    }

    async fn judge(&mut self, answer: Answer, _attempt: u32) -> Verdict<TokenResponse> {
        let Answer { status, headers, body } = answer;
        let refused = |detail: String, hint: &'static str| {
            Verdict::Stop(ApiError::Auth {
                connection: self.client.connection().to_owned(),
                url: self.url.clone(),
                status: status.as_u16(),
                detail,
                hint,
            })
        };
        if status.is_success() {
            return match serde_json::from_slice::<TokenResponse>(&body) {
                Ok(token) => Verdict::Done(token),
                Err(e) => refused(
                    format!("the token response has no usable access_token: {e}"),
                    TOKEN_BODY_HINT,
                ),
            };
        }
        if status.is_server_error() {
            return Verdict::Retry(Failure::Status(status.as_u16()), retry_after(&headers));
        }
        refused(envelope::describe_error(status.as_u16(), &body), TOKEN_HINT)
    }

    fn exhausted(&self, failure: Failure, attempts: u32) -> ApiError {
        let connection = self.client.connection().to_owned();
        let url = self.url.clone();
        match failure {
            // The host answered: not a network problem.
            Failure::Status(status) => ApiError::TokenUnavailable {
                connection,
                url,
                status,
                attempts,
            },
            Failure::Network(detail) | Failure::Malformed(detail) => ApiError::Network {
                connection,
                url,
                detail,
                attempts,
            },
            Failure::Retryable(errors) => ApiError::Network {
                connection,
                url,
                detail: errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                attempts,
            },
        }
    }
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
