//! Redaction: the one place that keeps credentials and tokens out of error texts and
//! logs, even when a server echoes the request (its headers or its form body) back.

use reqwest::header::{HeaderMap, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};

use super::error::ApiError;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// Shorter values are not replaced: they would blank out ordinary words.
const MIN_LEN: usize = 4;

/// The secrets to remove, each in every form an echo may show it in: as sent,
/// form-encoded (the token request's body) and JSON-escaped.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<SecretString>,
}

impl Redactor {
    pub fn new<'a>(values: impl IntoIterator<Item = &'a SecretString>) -> Redactor {
        let mut r = Redactor::default();
        for v in values {
            r.add(v.expose_secret());
        }
        r
    }

    /// This redactor plus the `Authorization` value of one request (the bearer
    /// token, an API 1.0 access key and signature), whole and in its parts.
    pub fn with_headers(&self, headers: &HeaderMap) -> Redactor {
        let mut r = self.clone();
        for value in headers.get_all(AUTHORIZATION) {
            let Ok(text) = value.to_str() else { continue };
            r.add(text);
            if let Some((_scheme, credential)) = text.split_once(' ') {
                r.add(credential);
                for part in credential.split(':') {
                    r.add(part);
                }
            }
        }
        r
    }

    fn add(&mut self, value: &str) {
        let value = value.trim();
        if value.len() < MIN_LEN {
            return;
        }
        let json = serde_json::to_string(value).unwrap_or_default();
        let forms = [value.to_owned(), form_encode(value), json.trim_matches('"').to_owned()];
        for form in forms {
            if !self.secrets.iter().any(|s| s.expose_secret() == form) {
                self.secrets.push(SecretString::from(form));
            }
        }
        // Longest first, so a secret that contains another is removed whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.expose_secret().len()));
    }

    pub fn text(&self, text: String) -> String {
        self.secrets.iter().fold(text, |t, s| {
            let s = s.expose_secret();
            if t.contains(s) {
                t.replace(s, REDACTED)
            } else {
                t
            }
        })
    }

    /// A response body with every secret removed (it may be shown in part).
    pub fn body(&self, body: Vec<u8>) -> Vec<u8> {
        let text = String::from_utf8_lossy(&body);
        if self.secrets.iter().any(|s| text.contains(s.expose_secret())) {
            self.text(text.into_owned()).into_bytes()
        } else {
            body
        }
    }

    pub fn error(&self, e: ApiError) -> ApiError {
        e.map_text(&|t| self.text(t))
    }
}

/// `application/x-www-form-urlencoded`, as reqwest encodes the token request's fields.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn every_form_of_a_secret_is_removed() {
        let r = Redactor::new(&[secret("the-client-id"), secret("s3cr/t \"x\"+y")]);
        assert_eq!(
            r.text("bad secret s3cr/t \"x\"+y for the-client-id".into()),
            "bad secret [redacted] for [redacted]"
        );
        assert_eq!(
            r.text("client_id=the-client-id&client_secret=s3cr%2Ft+%22x%22%2By".into()),
            "client_id=[redacted]&client_secret=[redacted]"
        );
        assert_eq!(
            r.text(r#"{"echo":"s3cr/t \"x\"+y"}"#.into()),
            r#"{"echo":"[redacted]"}"#
        );
        assert_eq!(r.text("abc".into()), "abc");
    }

    #[test]
    fn the_authorization_header_is_removed_whole_and_in_parts() {
        let mut headers = HeaderMap::new();
        let mut value = HeaderValue::from_static("Bearer tok3n-value-123");
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
        headers.insert("x-mc-app-id", HeaderValue::from_static("not-secret"));
        let r = Redactor::new(&[]).with_headers(&headers);
        assert_eq!(
            r.text("Authorization: Bearer tok3n-value-123; token tok3n-value-123; app not-secret".into()),
            "Authorization: [redacted]; token [redacted]; app not-secret"
        );
        let mut hmac = HeaderMap::new();
        let mut value = HeaderValue::from_static("MC access-key-1:c2lnbmF0dXJl");
        value.set_sensitive(true);
        hmac.insert(AUTHORIZATION, value);
        let r = Redactor::new(&[]).with_headers(&hmac);
        assert_eq!(
            r.text("key access-key-1 signature c2lnbmF0dXJl".into()),
            "key [redacted] signature [redacted]"
        );
    }
}
