//! The `{"meta": {...}, "data": [...], "fail": [...]}` envelope of `/api/...` responses.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

use super::error::FailError;
use super::records::de;

#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    #[serde(default, deserialize_with = "de::int_opt")]
    pub status: Option<i64>,
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default, deserialize_with = "de::int_opt")]
    pub page_size: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub total_count: Option<i64>,
    #[serde(default)]
    pub next: Option<String>,
}

/// One `fail[]` element in either shape.
#[derive(Debug, Default, Deserialize)]
pub struct FailEntry {
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub errors: Vec<RawError>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub retryable: Option<bool>,
}

/// A decoded envelope whose `data` elements are `T`.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Envelope<T> {
    #[serde(default)]
    pub meta: Meta,
    #[serde(default = "Vec::new", deserialize_with = "de::null_as_default")]
    pub data: Vec<T>,
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub fail: Vec<FailEntry>,
}

impl<T> Envelope<T> {
    pub fn fail_errors(&self) -> Vec<FailError> {
        flatten(&self.fail)
    }

    pub fn next_token(&self) -> Option<&str> {
        self.meta
            .pagination
            .as_ref()
            .and_then(|p| p.next.as_deref())
            .filter(|t| !t.is_empty())
    }
}

/// The error body of a non-200 answer: an envelope, or a gateway's `{"error": ...}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default, deserialize_with = "de::null_as_default")]
    fail: Vec<FailEntry>,
    #[serde(default)]
    error: Option<GatewayError>,
}

#[derive(Debug, Default, Deserialize)]
struct GatewayError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

fn flatten(entries: &[FailEntry]) -> Vec<FailError> {
    let mut out = Vec::new();
    for entry in entries {
        if entry.errors.is_empty() {
            // An entry that says nothing is still a failure, never a silent success.
            let unexplained = entry.code.is_none() && entry.message.is_none();
            out.push(FailError {
                code: entry.code.clone().unwrap_or_else(|| "unexplained".into()),
                message: match &entry.message {
                    Some(m) => m.clone(),
                    None if unexplained => "a fail[] entry without code or message".into(),
                    None => String::new(),
                },
                retryable: false,
            });
        } else {
            out.extend(entry.errors.iter().map(|e| FailError {
                code: e.code.clone().unwrap_or_default(),
                message: e.message.clone().unwrap_or_default(),
                retryable: e.retryable.unwrap_or(false),
            }));
        }
    }
    out
}

/// The errors an error response carries, in whichever shape it uses.
pub fn error_body(body: &[u8]) -> Vec<FailError> {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => {
            let mut errors = flatten(&b.fail);
            if let Some(g) = b.error {
                errors.push(FailError {
                    code: g.code.unwrap_or_default(),
                    message: g.message.unwrap_or_default(),
                    retryable: false,
                });
            }
            errors
        }
        Err(_) => Vec::new(),
    }
}

/// A short, safe description of an error response for messages.
pub fn describe_error(status: u16, body: &[u8]) -> String {
    let errors = error_body(body);
    if errors.is_empty() {
        let text = String::from_utf8_lossy(body);
        let snippet: String = text.chars().take(200).collect();
        if snippet.trim().is_empty() {
            format!("HTTP {status} with an empty body")
        } else {
            format!("body {snippet:?}")
        }
    } else {
        errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    }
}

/// Decodes a 200 response. A body whose `data` does not fit `T` but whose `fail[]`
/// is non-empty is reported through its `fail[]`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<Envelope<T>, DecodeOutcome> {
    match serde_json::from_slice::<Envelope<T>>(body) {
        Ok(env) => Ok(env),
        Err(e) => match serde_json::from_slice::<Envelope<IgnoredAny>>(body) {
            Ok(env) if !env.fail.is_empty() => Err(DecodeOutcome::Fail(env.fail_errors())),
            Ok(_) => Err(DecodeOutcome::Shape(e.to_string())),
            Err(_) => Err(DecodeOutcome::Malformed(e.to_string())),
        },
    }
}

pub enum DecodeOutcome {
    /// Valid JSON, but `fail[]` says what went wrong.
    Fail(Vec<FailError>),
    /// Valid JSON of an unexpected shape: a real incompatibility.
    Shape(String),
    /// Not JSON at all (truncated): worth a retry.
    Malformed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_fail_shapes_decode() {
        let v1 = br#"{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_developer_key","message":"App ID is invalid: INVALID","retryable":false}]}]}"#;
        let env: Envelope<IgnoredAny> = serde_json::from_slice(v1).unwrap();
        assert_eq!(
            env.fail_errors(),
            vec![FailError {
                code: "err_developer_key".into(),
                message: "App ID is invalid: INVALID".into(),
                retryable: false
            }]
        );
        let v2 = br#"{"fail":[{"code":"token_expired","message":"Access Token Expired"}]}"#;
        assert_eq!(
            error_body(v2),
            vec![FailError {
                code: "token_expired".into(),
                message: "Access Token Expired".into(),
                retryable: false
            }]
        );
        assert_eq!(
            error_body(br#"{"error":{"message":"gateway timeout"}}"#)[0].message,
            "gateway timeout"
        );
    }

    #[test]
    fn a_fail_entry_without_code_or_message_is_still_a_failure() {
        let env: Envelope<IgnoredAny> =
            serde_json::from_slice(br#"{"meta":{"status":200},"data":[],"fail":[{"key":{"domain":"x.com"}}]}"#)
                .unwrap();
        assert_eq!(
            env.fail_errors(),
            vec![FailError {
                code: "unexplained".into(),
                message: "a fail[] entry without code or message".into(),
                retryable: false
            }]
        );
    }

    #[test]
    fn next_token_absent_or_empty_means_last_page() {
        let env: Envelope<IgnoredAny> = serde_json::from_slice(
            br#"{"meta":{"status":200,"pagination":{"pageSize":2,"totalCount":2}},"data":[1,2],"fail":[]}"#,
        )
        .unwrap();
        assert_eq!(env.next_token(), None);
        let env: Envelope<IgnoredAny> =
            serde_json::from_slice(br#"{"meta":{"pagination":{"next":""}},"data":[]}"#).unwrap();
        assert_eq!(env.next_token(), None);
    }
}
