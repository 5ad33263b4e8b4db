//! Authentication as Mimecast does it: OAuth2 bearer tokens that expire (API 2.0)
//! and HMAC-SHA1 request signatures (API 1.0, docs/mimecast-api.md §3.3).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::rng::SplitMix64;
use super::tenant::Credential;

/// The API 1.0 signature of one request:
/// `base64(HMAC-SHA1(base64decode(secret_key), "{date}:{request_id}:{path}:{app_key}"))`.
///
/// `date` is the `x-mc-date` header, `request_id` the `x-mc-req-id` header and `path`
/// the URI path only (`/api/account/get-account`).
///
/// # Errors
/// `secret_key` is not standard base64.
pub fn sign_api1(
    secret_key: &str,
    app_key: &str,
    date: &str,
    request_id: &str,
    path: &str,
) -> Result<String, base64::DecodeError> {
    let key = base64::engine::general_purpose::STANDARD.decode(secret_key)?;
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{date}:{request_id}:{path}:{app_key}").as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Why a request was not authenticated. Each maps to the response Mimecast sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AuthProblem {
    /// No usable `Authorization` header, or a bearer token never issued (2.0, 401).
    UnknownToken,
    /// A bearer token older than the TTL (2.0, 401 `token_expired`).
    ExpiredToken,
    /// API 1.0: `x-mc-app-id` matches no application (HTTP 200 `err_developer_key`).
    UnknownAppId(String),
    /// API 1.0: wrong access key, secret key, app key or signature (401).
    BadSignature,
}

/// The request headers authentication looks at.
pub(crate) struct AuthHeaders<'a> {
    pub authorization: Option<&'a str>,
    pub app_id: Option<&'a str>,
    pub date: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

struct Issued {
    client_id: String,
    at: Instant,
    revoked: bool,
}

/// Issued bearer tokens and when they were issued.
pub(crate) struct TokenStore {
    issued: HashMap<String, Issued>,
    rng: SplitMix64,
}

/// Tokens kept before the store prunes long-expired ones (a benchmark asking for a
/// token per call must not grow memory without bound).
const PRUNE_ABOVE: usize = 100_000;

impl TokenStore {
    pub fn new() -> Self {
        // Tokens must differ between runs (a stale token from another simulator must
        // be unknown here), so this stream is seeded from the clock, not the options.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        TokenStore {
            issued: HashMap::new(),
            rng: SplitMix64::new(nanos ^ u64::from(std::process::id()).rotate_left(32)),
        }
    }

    /// Issues a new opaque token for `client_id`.
    pub fn issue(&mut self, client_id: &str, now: Instant, ttl: Duration) -> String {
        if self.issued.len() > PRUNE_ABOVE {
            let keep_for = ttl + Duration::from_secs(3600);
            self.issued
                .retain(|_, t| now.saturating_duration_since(t.at) < keep_for);
        }
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let token: String = (0..40)
            .map(|_| char::from(ALPHABET[self.rng.below(ALPHABET.len() as u64) as usize]))
            .collect();
        self.issued.insert(
            token.clone(),
            Issued {
                client_id: client_id.to_owned(),
                at: now,
                revoked: false,
            },
        );
        token
    }

    /// The client a token was issued to, if it is known and younger than `ttl`.
    pub fn check(&self, token: &str, now: Instant, ttl: Duration) -> Result<String, AuthProblem> {
        match self.issued.get(token) {
            None => Err(AuthProblem::UnknownToken),
            Some(t) if t.revoked || now.saturating_duration_since(t.at) >= ttl => Err(AuthProblem::ExpiredToken),
            Some(t) => Ok(t.client_id.clone()),
        }
    }

    /// Makes every token issued so far expired, as if the TTL had passed.
    pub fn expire_all(&mut self) {
        for t in self.issued.values_mut() {
            t.revoked = true;
        }
    }
}

/// Authenticates one `/api/...` request; returns the principal (client id or access
/// key) that its rate limit is charged to.
pub(crate) fn authenticate(
    headers: &AuthHeaders<'_>,
    path: &str,
    credentials: &[Credential],
    tokens: &TokenStore,
    now: Instant,
    ttl: Duration,
) -> Result<String, AuthProblem> {
    let auth = headers.authorization.unwrap_or("").trim();
    let (scheme, rest) = auth.split_once(' ').unwrap_or((auth, ""));
    if scheme.eq_ignore_ascii_case("Bearer") {
        return tokens.check(rest.trim(), now, ttl);
    }
    if scheme != "MC" {
        return Err(AuthProblem::UnknownToken);
    }
    let app_id = headers.app_id.unwrap_or("");
    let apps: Vec<&Credential> = credentials
        .iter()
        .filter(|c| matches!(c, Credential::Hmac { app_id: a, .. } if a == app_id))
        .collect();
    if apps.is_empty() {
        return Err(AuthProblem::UnknownAppId(app_id.to_owned()));
    }
    let Some((access_key, signature)) = rest.trim().rsplit_once(':') else {
        return Err(AuthProblem::BadSignature);
    };
    let date = headers.date.unwrap_or("");
    let request_id = headers.request_id.unwrap_or("");
    for c in apps {
        if let Credential::Hmac {
            app_key,
            access_key: ak,
            secret_key,
            ..
        } = c
        {
            if ak != access_key {
                continue;
            }
            match sign_api1(secret_key, app_key, date, request_id, path) {
                Ok(expected) if expected == signature => return Ok(ak.clone()),
                _ => {}
            }
        }
    }
    Err(AuthProblem::BadSignature)
}

/// Checks an `/oauth/token` client id and secret against the OAuth2 credentials.
pub(crate) fn client_credentials_valid(credentials: &[Credential], id: &str, secret: &str) -> bool {
    credentials.iter().any(
        |c| matches!(c, Credential::OAuth2 { client_id, client_secret } if client_id == id && client_secret == secret),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "c2VjcmV0LWtleS1ieXRlcw=="; // "secret-key-bytes"

    fn creds() -> Vec<Credential> {
        vec![
            Credential::OAuth2 {
                client_id: "cid".into(),
                client_secret: "csecret".into(),
            },
            Credential::Hmac {
                app_id: "app-1".into(),
                app_key: "appkey-1".into(),
                access_key: "access-1".into(),
                secret_key: SECRET.into(),
            },
        ]
    }

    fn headers<'a>(auth: &'a str, app: &'a str) -> AuthHeaders<'a> {
        AuthHeaders {
            authorization: Some(auth),
            app_id: Some(app),
            date: Some("Sat, 05 Mar 2022 00:03:37 UTC"),
            request_id: Some("8f0a2c1e-1111-4222-8333-944455556666"),
        }
    }

    #[test]
    fn signature_matches_an_independent_computation() {
        // Computed with: printf '%s' 'Sat, 05 Mar 2022 00:03:37 UTC:8f0a2c1e-1111-4222-8333-944455556666:/api/account/get-account:appkey-1'
        //   | openssl dgst -sha1 -hmac 'secret-key-bytes' -binary | base64
        let sig = sign_api1(
            SECRET,
            "appkey-1",
            "Sat, 05 Mar 2022 00:03:37 UTC",
            "8f0a2c1e-1111-4222-8333-944455556666",
            "/api/account/get-account",
        )
        .unwrap();
        assert_eq!(sig, EXPECTED_SIG);
        assert!(sign_api1("not base64!", "k", "d", "r", "/p").is_err());
    }

    const EXPECTED_SIG: &str = "g1jCSG1598bFU1XZNFRhwaQkw4w=";

    #[test]
    fn hmac_accepts_a_good_signature_and_rejects_others() {
        let (tokens, now, ttl) = (TokenStore::new(), Instant::now(), Duration::from_secs(60));
        let path = "/api/account/get-account";
        let good = format!("MC access-1:{}", EXPECTED_SIG);
        assert_eq!(
            authenticate(&headers(&good, "app-1"), path, &creds(), &tokens, now, ttl),
            Ok("access-1".to_owned())
        );
        // Same signature on another path: the path is signed.
        assert_eq!(
            authenticate(
                &headers(&good, "app-1"),
                "/api/domain/get-internal-domain",
                &creds(),
                &tokens,
                now,
                ttl
            ),
            Err(AuthProblem::BadSignature)
        );
        let wrong_key = format!("MC access-2:{}", EXPECTED_SIG);
        assert_eq!(
            authenticate(&headers(&wrong_key, "app-1"), path, &creds(), &tokens, now, ttl),
            Err(AuthProblem::BadSignature)
        );
        assert_eq!(
            authenticate(&headers("MC access-1:AAAA", "app-1"), path, &creds(), &tokens, now, ttl),
            Err(AuthProblem::BadSignature)
        );
        assert_eq!(
            authenticate(&headers(&good, "INVALID"), path, &creds(), &tokens, now, ttl),
            Err(AuthProblem::UnknownAppId("INVALID".into()))
        );
    }

    #[test]
    fn bearer_tokens_expire_after_the_ttl() {
        let mut tokens = TokenStore::new();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(1799);
        let token = tokens.issue("cid", t0, ttl);
        assert_eq!(token.len(), 40);
        let bearer = format!("Bearer {token}");
        let h = headers(&bearer, "");
        assert_eq!(
            authenticate(&h, "/p", &creds(), &tokens, t0 + Duration::from_secs(1798), ttl),
            Ok("cid".into())
        );
        assert_eq!(
            authenticate(&h, "/p", &creds(), &tokens, t0 + ttl, ttl),
            Err(AuthProblem::ExpiredToken)
        );
        assert_eq!(
            authenticate(&headers("Bearer nope", ""), "/p", &creds(), &tokens, t0, ttl),
            Err(AuthProblem::UnknownToken)
        );
        assert_eq!(
            authenticate(&headers("", ""), "/p", &creds(), &tokens, t0, ttl),
            Err(AuthProblem::UnknownToken)
        );
        tokens.expire_all();
        assert_eq!(
            authenticate(&h, "/p", &creds(), &tokens, t0, ttl),
            Err(AuthProblem::ExpiredToken)
        );
    }

    #[test]
    fn client_credentials_must_both_match() {
        assert!(client_credentials_valid(&creds(), "cid", "csecret"));
        assert!(!client_credentials_valid(&creds(), "cid", "wrong"));
        assert!(!client_credentials_valid(&creds(), "access-1", SECRET));
    }
}
