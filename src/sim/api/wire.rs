//! The wire of `/api` calls: the `meta`/`data`/`fail` envelope, request bodies, and
//! page tokens with `meta.pagination`.

use std::ops::Range;

use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use super::{Endpoint, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// `meta.pagination` of a response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Pagination {
    #[serde(rename = "pageSize")]
    pub page_size: usize,
    #[serde(rename = "totalCount")]
    pub total_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

#[derive(Serialize)]
struct Meta {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
}

/// The response envelope, fields in the order Mimecast writes them.
#[derive(Serialize)]
struct Envelope {
    meta: Meta,
    data: Vec<Value>,
    fail: Vec<Value>,
}

/// An envelope body.
pub(crate) fn envelope(status: u16, pagination: Option<Pagination>, data: Vec<Value>, fail: Vec<Value>) -> Vec<u8> {
    let body = Envelope {
        meta: Meta { status, pagination },
        data,
        fail,
    };
    // Serializing Values and plain structs cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// One API 1.0-style `fail[]` element: `{"errors":[{code,message,retryable}]}`.
pub(crate) fn fail_entry(code: &str, message: &str, retryable: bool) -> Value {
    json!({"errors": [{"code": code, "message": message, "retryable": retryable}]})
}

/// A function-level failure: HTTP 200, `meta.status` 200, empty `data`, one `fail`
/// entry echoing the input under `key` (as Mimecast does for a failed data item).
pub(crate) fn function_failure(key: Option<&Value>, code: &str, message: &str) -> Answer {
    let mut entry = fail_entry(code, message, false);
    if let (Some(k), Some(o)) = (key, entry.as_object_mut()) {
        o.insert("key".into(), k.clone());
    }
    Answer::ok(envelope(200, None, Vec::new(), vec![entry]))
}

/// An HTTP status and a JSON body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub(crate) fn ok(body: Vec<u8>) -> Answer {
        Answer { status: 200, body }
    }

    /// An envelope carrying one `fail` entry, with `meta.status` equal to the HTTP status.
    pub fn error(status: u16, code: &str, message: &str, retryable: bool) -> Answer {
        Answer {
            status,
            body: envelope(status, None, Vec::new(), vec![fail_entry(code, message, retryable)]),
        }
    }
}

/// A parsed `/api` request body: `{"meta":{...},"data":[...]}`, both optional.
#[derive(Debug, Default)]
pub(crate) struct ApiRequest {
    meta: Value,
    pub(crate) data: Vec<Value>,
}

/// Parses a request body. An empty body, `{}` and `{"data":[]}` are all "no parameters".
///
/// # Errors
/// The body is not a JSON object, or its `data` is not an array; the message says which.
pub(crate) fn parse_request(body: &[u8]) -> Result<ApiRequest, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ApiRequest::default());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("request body is not JSON: {e}"))?;
    let Value::Object(mut o) = v else {
        return Err("request body must be a JSON object".into());
    };
    let data = match o.remove("data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("\"data\" must be an array".into()),
    };
    Ok(ApiRequest {
        meta: o.remove("meta").unwrap_or(Value::Null),
        data,
    })
}

impl ApiRequest {
    pub(crate) fn first(&self) -> Option<&Value> {
        self.data.first()
    }

    pub(crate) fn first_str(&self, key: &str) -> Option<&str> {
        self.first()?.get(key)?.as_str().filter(|s| !s.is_empty())
    }

    /// `meta.pagination.pageSize`, defaulted and clamped to `1..=500`.
    pub(crate) fn page_size(&self) -> usize {
        let v = &self.meta["pagination"]["pageSize"];
        let n = v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .or_else(|| v.as_i64().map(|_| 1));
        match n {
            None => DEFAULT_PAGE_SIZE,
            Some(n) => (n as usize).clamp(1, MAX_PAGE_SIZE),
        }
    }

    pub(crate) fn page_token(&self) -> Option<&str> {
        self.meta["pagination"]["pageToken"].as_str().filter(|s| !s.is_empty())
    }
}

/// A page token: opaque to clients, `base64url("{offset}:{endpoint}:{filter}")` here.
pub(crate) fn encode_token(offset: usize, endpoint: Endpoint, filter: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{offset}:{}:{filter}", endpoint.token_name()))
}

/// The offset and filter a token carries, if it is one of ours for this endpoint.
pub(crate) fn decode_token(token: &str, endpoint: Endpoint) -> Option<(usize, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(3, ':');
    let offset = parts.next()?.parse().ok()?;
    (parts.next()? == endpoint.token_name()).then_some(())?;
    Some((offset, parts.next()?.to_owned()))
}

/// The slice of `total` items a page covers and the `meta.pagination` describing it:
/// `pageSize` is the number of items returned, `next` only while more remain,
/// `previous` on every page after the first.
pub(crate) fn paginate(
    total: usize,
    offset: usize,
    size: usize,
    endpoint: Endpoint,
    filter: &str,
) -> (Range<usize>, Pagination) {
    let start = offset.min(total);
    let end = start.saturating_add(size).min(total);
    let pagination = Pagination {
        page_size: end - start,
        total_count: total,
        next: (end < total).then(|| encode_token(end, endpoint, filter)),
        previous: (offset > 0).then(|| encode_token(offset.saturating_sub(size), endpoint, filter)),
    };
    (start..end, pagination)
}

/// Where a paged request starts and what it filters by: from its page token when it
/// has one (the token carries the filter; `data` may be left out), else from `data`.
pub(crate) enum Cursor {
    At(usize, String),
    BadToken,
}

pub(crate) fn cursor(req: &ApiRequest, endpoint: Endpoint, filter_from_data: impl FnOnce() -> String) -> Cursor {
    match req.page_token() {
        Some(t) => match decode_token(t, endpoint) {
            Some((offset, filter)) => Cursor::At(offset, filter),
            None => Cursor::BadToken,
        },
        None => Cursor::At(0, filter_from_data()),
    }
}

pub(crate) fn bad_token(req: &ApiRequest) -> Answer {
    let key = json!({"pageToken": req.page_token().unwrap_or("")});
    function_failure(Some(&key), "err_invalid_page_token", "The page token is invalid")
}
