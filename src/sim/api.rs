//! The `/api/...` endpoints: the `meta`/`data`/`fail` envelope, pagination and
//! the per-endpoint shapes of docs/mimecast-api.md §4 and §5. Pure functions over the
//! indexed tenant; the server adds authentication, limits and faults around them.

use std::collections::HashMap;
use std::ops::Range;

use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use super::directory::Directory;
use super::siem::Siem;
use super::tenant::{user_domain, Credential, Tenant};
use super::threats::{Logs, Stream, ThreatLogs};

/// Page size when the request gives none.
pub const DEFAULT_PAGE_SIZE: usize = 25;
/// The largest page the simulator serves (larger requests are clamped).
pub const MAX_PAGE_SIZE: usize = 500;

/// The endpoints the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Account,
    Domains,
    Users,
    TrainingCampaigns,
    TrainingUserData,
    PhishingCampaigns,
    PhishingUserData,
    SafeScoreDetails,
    SafeScoreSummary,
    PerformanceDetails,
    WatchlistDetails,
    TtpUrlLogs,
    TtpAttachmentLogs,
    TtpImpersonationLogs,
    FindGroups,
    GroupMembers,
    MessageFinder,
}

/// Every path served, with its endpoint.
pub(crate) const ENDPOINTS: &[(&str, Endpoint)] = &[
    ("/api/account/get-account", Endpoint::Account),
    ("/api/domain/get-internal-domain", Endpoint::Domains),
    ("/api/user/get-internal-users", Endpoint::Users),
    (
        "/api/awareness-training/campaign/get-campaigns",
        Endpoint::TrainingCampaigns,
    ),
    (
        "/api/awareness-training/campaign/get-user-data",
        Endpoint::TrainingUserData,
    ),
    (
        "/api/awareness-training/phishing/campaign/get-campaign",
        Endpoint::PhishingCampaigns,
    ),
    (
        "/api/awareness-training/phishing/campaign/get-user-data",
        Endpoint::PhishingUserData,
    ),
    (
        "/api/awareness-training/company/get-safe-score-details",
        Endpoint::SafeScoreDetails,
    ),
    (
        "/api/awareness-training/company/get-safe-score-summary",
        Endpoint::SafeScoreSummary,
    ),
    (
        "/api/awareness-training/company/get-performance-details",
        Endpoint::PerformanceDetails,
    ),
    (
        "/api/awareness-training/company/get-watchlist-details",
        Endpoint::WatchlistDetails,
    ),
    ("/api/ttp/url/get-logs", Endpoint::TtpUrlLogs),
    ("/api/ttp/attachment/get-logs", Endpoint::TtpAttachmentLogs),
    ("/api/ttp/impersonation/get-logs", Endpoint::TtpImpersonationLogs),
    ("/api/directory/find-groups", Endpoint::FindGroups),
    ("/api/directory/get-group-members", Endpoint::GroupMembers),
    ("/api/message-finder/search", Endpoint::MessageFinder),
];

impl Endpoint {
    pub fn from_path(path: &str) -> Option<Endpoint> {
        ENDPOINTS.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
    }

    /// Awareness Training endpoints answer 403 when the package is not licensed.
    pub fn is_awareness_training(self) -> bool {
        !matches!(
            self,
            Endpoint::Account
                | Endpoint::Domains
                | Endpoint::Users
                | Endpoint::FindGroups
                | Endpoint::GroupMembers
                | Endpoint::MessageFinder
        ) && self.threat_stream().is_none()
    }

    /// The role permission an endpoint needs beyond the basic directory read, where
    /// the simulator checks one (the tenant's `missing_permissions`).
    pub fn permission(self) -> Option<&'static str> {
        match self {
            Endpoint::FindGroups | Endpoint::GroupMembers => Some(super::directory::GROUPS_PERMISSION),
            Endpoint::MessageFinder => Some(super::directory::TRACKING_PERMISSION),
            _ => self.threat_stream().map(Stream::permission),
        }
    }

    /// The TTP log stream of a TTP endpoint.
    pub fn threat_stream(self) -> Option<Stream> {
        Stream::of(self)
    }

    /// Paged endpoints get the configured per-page latency.
    pub fn is_paged(self) -> bool {
        matches!(
            self,
            Endpoint::Users
                | Endpoint::TrainingUserData
                | Endpoint::PhishingUserData
                | Endpoint::SafeScoreDetails
                | Endpoint::PerformanceDetails
                | Endpoint::WatchlistDetails
                | Endpoint::TtpUrlLogs
                | Endpoint::TtpAttachmentLogs
                | Endpoint::TtpImpersonationLogs
                | Endpoint::FindGroups
                | Endpoint::GroupMembers
        )
    }

    /// The short name page tokens carry, so a token only works where it came from.
    fn token_name(self) -> &'static str {
        match self {
            Endpoint::Users => "users",
            Endpoint::TrainingUserData => "training-user-data",
            Endpoint::PhishingUserData => "phishing-user-data",
            Endpoint::SafeScoreDetails => "safe-score",
            Endpoint::PerformanceDetails => "performance",
            Endpoint::WatchlistDetails => "watchlist",
            Endpoint::TtpUrlLogs => "ttp-url",
            Endpoint::TtpAttachmentLogs => "ttp-attachment",
            Endpoint::TtpImpersonationLogs => "ttp-impersonation",
            Endpoint::FindGroups => "groups",
            Endpoint::GroupMembers => "group-members",
            _ => "unpaged",
        }
    }
}

/// The tenant, indexed for serving. Campaign rows are split from the campaign
/// records so listings never copy them.
pub(crate) struct Served {
    /// The account lists the Awareness Training package; without it the Awareness
    /// Training endpoints answer 403, as Mimecast does.
    pub awareness_training: bool,
    pub credentials: Vec<Credential>,
    account: Value,
    domains: Vec<Value>,
    users_by_domain: HashMap<String, Vec<Value>>,
    training: Vec<Value>,
    training_rows: HashMap<String, Vec<Value>>,
    phishing: Vec<Value>,
    phishing_rows: HashMap<String, Vec<Value>>,
    safe_scores: Vec<Value>,
    performance: Vec<Value>,
    watchlist: Vec<Value>,
    threats: ThreatLogs,
    directory: Directory,
    pub(crate) siem: Siem,
    /// Role permissions the API application lacks: endpoints needing one answer 403.
    pub missing_permissions: Vec<String>,
}

impl From<Tenant> for Served {
    /// Indexes a tenant. Records the simulator cannot route (a user with no domain,
    /// a campaign with no id) are skipped; [`Tenant::validate`] reports them.
    fn from(t: Tenant) -> Served {
        let awareness_training = t.lists_awareness_training();
        let mut users_by_domain: HashMap<String, Vec<Value>> = HashMap::new();
        for u in t.users {
            if let Some(d) = user_domain(&u) {
                users_by_domain.entry(d).or_default().push(u);
            }
        }
        let (training, training_rows) = split_rows(t.training_campaigns);
        let (phishing, phishing_rows) = split_rows(t.phishing_campaigns);
        Served {
            awareness_training,
            credentials: t.credentials,
            account: t.account,
            domains: t.domains,
            users_by_domain,
            training,
            training_rows,
            phishing,
            phishing_rows,
            safe_scores: t.safe_scores,
            performance: t.performance,
            watchlist: t.watchlist,
            threats: ThreatLogs {
                url: Logs::new(Stream::Url, t.url_logs),
                attachment: Logs::new(Stream::Attachment, t.attachment_logs),
                impersonation: Logs::new(Stream::Impersonation, t.impersonation_logs),
            },
            directory: Directory::new(t.groups, t.tracked_emails),
            siem: Siem::new(t.siem_events),
            missing_permissions: t.missing_permissions,
        }
    }
}

fn split_rows(campaigns: Vec<Value>) -> (Vec<Value>, HashMap<String, Vec<Value>>) {
    let mut list = Vec::with_capacity(campaigns.len());
    let mut rows = HashMap::new();
    for mut c in campaigns {
        let Some(id) = c.get("id").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        let data = match c.as_object_mut().and_then(|o| o.remove("user_data")) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        rows.insert(id, data);
        list.push(c);
    }
    (list, rows)
}

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
    data: Vec<Value>,
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

    fn first_str(&self, key: &str) -> Option<&str> {
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

    fn page_token(&self) -> Option<&str> {
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

/// Answers one `/api` call. `licensed` hides the Awareness Training package from
/// `get-account` (the AT endpoints themselves are refused before this is called).
/// `list_page` pages the lists Mimecast documents without paging (domains, training
/// and phishing campaigns), as a tenant might: clients must follow `next` there too.
pub(crate) fn answer(
    served: &Served,
    endpoint: Endpoint,
    req: &ApiRequest,
    licensed: bool,
    list_page: Option<usize>,
) -> Answer {
    // A whole list, or one page of it with `meta.pagination` when `list_page` is set.
    let list = |items: Vec<Value>, wrap: &dyn Fn(Vec<Value>) -> Vec<Value>| -> Answer {
        let Some(size) = list_page else {
            return Answer::ok(envelope(200, None, wrap(items), Vec::new()));
        };
        let offset = match cursor(req, endpoint, String::new) {
            Cursor::At(o, _) => o,
            Cursor::BadToken => return bad_token(req),
        };
        let (range, pagination) = paginate(items.len(), offset, size, endpoint, "");
        Answer::ok(envelope(200, Some(pagination), wrap(items[range].to_vec()), Vec::new()))
    };
    match endpoint {
        Endpoint::Account => {
            let mut account = served.account.clone();
            if !licensed {
                if let Some(Value::Array(p)) = account.get_mut("packages") {
                    p.retain(|v| !v.as_str().is_some_and(|s| s.starts_with("Awareness Training")));
                }
            }
            Answer::ok(envelope(200, None, vec![account], Vec::new()))
        }
        Endpoint::Domains => {
            let wanted: Vec<String> = req
                .data
                .iter()
                .filter_map(|d| d.get("domain").and_then(Value::as_str))
                .map(str::to_ascii_lowercase)
                .collect();
            let data = served
                .domains
                .iter()
                .filter(|d| {
                    wanted.is_empty()
                        || d.get("domain")
                            .and_then(Value::as_str)
                            .is_some_and(|n| wanted.contains(&n.to_ascii_lowercase()))
                })
                .cloned()
                .collect();
            list(data, &|v| v)
        }
        Endpoint::Users => {
            if req.page_token().is_none() && req.first_str("domain").is_none() {
                return function_failure(req.first(), "err_validation_missing", "domain is required");
            }
            let (offset, domain) = match cursor(req, endpoint, || {
                req.first_str("domain").unwrap_or("").to_ascii_lowercase()
            }) {
                Cursor::At(o, d) => (o, d),
                Cursor::BadToken => return bad_token(req),
            };
            let users = served.users_by_domain.get(&domain).map_or(&[][..], Vec::as_slice);
            let (range, pagination) = paginate(users.len(), offset, req.page_size(), endpoint, &domain);
            let data = json!({"users": users[range].to_vec(), "userCount": users.len()});
            Answer::ok(envelope(200, Some(pagination), vec![data], Vec::new()))
        }
        Endpoint::TrainingCampaigns => list(served.training.clone(), &|v| vec![json!({"campaigns": v})]),
        Endpoint::TrainingUserData | Endpoint::PhishingUserData => {
            let rows_by_id = if endpoint == Endpoint::TrainingUserData {
                &served.training_rows
            } else {
                &served.phishing_rows
            };
            if req.page_token().is_none() && req.first_str("id").is_none() {
                return function_failure(req.first(), "err_validation_missing", "id is required");
            }
            let (offset, id) = match cursor(req, endpoint, || req.first_str("id").unwrap_or("").to_owned()) {
                Cursor::At(o, id) => (o, id),
                Cursor::BadToken => return bad_token(req),
            };
            let Some(rows) = rows_by_id.get(&id) else {
                return function_failure(Some(&json!({"id": id})), "err_campaign_not_found", "Campaign not found");
            };
            let (range, pagination) = paginate(rows.len(), offset, req.page_size(), endpoint, &id);
            let data = json!({"items": rows[range].to_vec()});
            Answer::ok(envelope(200, Some(pagination), vec![data], Vec::new()))
        }
        Endpoint::PhishingCampaigns => match req.first_str("id") {
            None => list(served.phishing.clone(), &|v| v),
            Some(id) => match served
                .phishing
                .iter()
                .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
            {
                Some(c) => Answer::ok(envelope(200, None, vec![c.clone()], Vec::new())),
                None => function_failure(req.first(), "err_campaign_not_found", "Campaign not found"),
            },
        },
        Endpoint::SafeScoreSummary => {
            let mut counts = [0u64; 5];
            for s in &served.safe_scores {
                let grade = s.get("risk").and_then(Value::as_str).unwrap_or("");
                if let Some(i) = ["A", "B", "C", "D", "F"]
                    .iter()
                    .position(|g| g.eq_ignore_ascii_case(grade))
                {
                    counts[i] += 1;
                }
            }
            let data = json!({"scoreCounts": {"a": counts[0], "b": counts[1], "c": counts[2], "d": counts[3], "f": counts[4]}});
            Answer::ok(envelope(200, None, vec![data], Vec::new()))
        }
        Endpoint::SafeScoreDetails | Endpoint::WatchlistDetails | Endpoint::PerformanceDetails => {
            let list = match endpoint {
                Endpoint::SafeScoreDetails => &served.safe_scores,
                Endpoint::WatchlistDetails => &served.watchlist,
                _ => &served.performance,
            };
            // The only filter carried: performance's includeUserDetails ("1" or "").
            let include = || {
                let wanted = req
                    .first()
                    .and_then(|d| d.get("includeUserDetails"))
                    .and_then(Value::as_bool);
                if wanted == Some(true) { "1" } else { "" }.to_owned()
            };
            let (offset, filter) = match cursor(req, endpoint, include) {
                Cursor::At(o, f) => (o, f),
                Cursor::BadToken => return bad_token(req),
            };
            let (range, pagination) = paginate(list.len(), offset, req.page_size(), endpoint, &filter);
            let mut data = list[range].to_vec();
            if endpoint == Endpoint::PerformanceDetails && filter.is_empty() {
                // userDetails is only present when includeUserDetails is true.
                for row in &mut data {
                    if let Some(o) = row.as_object_mut() {
                        o.remove("userDetails");
                    }
                }
            }
            Answer::ok(envelope(200, Some(pagination), data, Vec::new()))
        }
        Endpoint::TtpUrlLogs | Endpoint::TtpAttachmentLogs | Endpoint::TtpImpersonationLogs => {
            super::threats::answer(&served.threats, endpoint, req, chrono::Utc::now())
        }
        Endpoint::FindGroups | Endpoint::GroupMembers | Endpoint::MessageFinder => {
            super::directory::answer(&served.directory, endpoint, req)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::generate::AWARENESS_TRAINING_PACKAGE;

    fn tenant_with_users(n: usize) -> Tenant {
        let users = (0..n)
            .map(|i| json!({"name": format!("U {i}"), "emailAddress": format!("u{i:05}@a.example.com"), "domain": "a.example.com", "alias": false, "addressType": "created_manually", "source": "cloud"}))
            .collect();
        Tenant {
            credentials: vec![],
            account: json!({"accountCode": "CUSA00A000", "packages": ["Mimecast Platform [1033]", AWARENESS_TRAINING_PACKAGE]}),
            domains: vec![
                json!({"id": "eNo1", "domain": "a.example.com"}),
                json!({"id": "eNo2", "domain": "B.example.com"}),
            ],
            users,
            training_campaigns: vec![
                json!({"id": "c1", "name": "HIPAA 101", "user_data": [{"email": "u00001@a.example.com", "results": {"forQuestion1": "SENT"}}]}),
            ],
            phishing_campaigns: vec![json!({"id": "p1", "name": "Q1", "user_data": []})],
            safe_scores: vec![
                json!({"emailAddress": "x@a.example.com", "risk": "B"}),
                json!({"emailAddress": "y@a.example.com", "risk": "F"}),
            ],
            performance: vec![json!({"email": "x@a.example.com", "numCorrect": 1, "userDetails": {}})],
            watchlist: vec![],
            ..Tenant::default()
        }
    }

    fn call(served: &Served, e: Endpoint, body: Value) -> Value {
        let req = parse_request(body.to_string().as_bytes()).unwrap();
        let a = answer(served, e, &req, true, None);
        assert_eq!(a.status, 200);
        serde_json::from_slice(&a.body).unwrap()
    }

    #[test]
    fn users_page_500_500_234() {
        let served = Served::from(tenant_with_users(1234));
        let mut body = json!({"meta": {"pagination": {"pageSize": 500}}, "data": [{"domain": "a.example.com"}]});
        let mut sizes = Vec::new();
        let mut seen = Vec::new();
        for page in 0.. {
            let r = call(&served, Endpoint::Users, body.clone());
            let p = &r["meta"]["pagination"];
            let users = r["data"][0]["users"].as_array().unwrap();
            assert_eq!(r["data"][0]["userCount"], 1234);
            assert_eq!(p["totalCount"], 1234);
            assert_eq!(p["pageSize"], users.len());
            assert_eq!(p.get("previous").is_some(), page > 0);
            sizes.push(users.len());
            seen.extend(users.iter().map(|u| u["emailAddress"].as_str().unwrap().to_owned()));
            match p.get("next").and_then(Value::as_str) {
                // The second page resends data; the third sends only the token.
                Some(next) if page == 0 => body["meta"]["pagination"]["pageToken"] = next.into(),
                Some(next) => body = json!({"meta": {"pagination": {"pageSize": 500, "pageToken": next}}}),
                None => break,
            }
        }
        assert_eq!(sizes, vec![500, 500, 234]);
        let expected: Vec<String> = (0..1234).map(|i| format!("u{i:05}@a.example.com")).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn page_size_defaults_and_clamps() {
        let served = Served::from(tenant_with_users(600));
        let size = |meta: Value| {
            let r = call(
                &served,
                Endpoint::Users,
                json!({"meta": meta, "data": [{"domain": "A.example.com"}]}),
            );
            r["meta"]["pagination"]["pageSize"].as_u64().unwrap()
        };
        assert_eq!(size(json!({})), 25);
        assert_eq!(size(json!({"pagination": {"pageSize": 1000}})), 500);
        assert_eq!(size(json!({"pagination": {"pageSize": 0}})), 1);
        assert_eq!(size(json!({"pagination": {"pageSize": "40"}})), 40);
    }

    #[test]
    fn bad_tokens_and_missing_parameters_are_fail_entries() {
        let served = Served::from(tenant_with_users(3));
        let r = call(
            &served,
            Endpoint::Users,
            json!({"meta": {"pagination": {"pageToken": "%%%"}}}),
        );
        assert_eq!(r["fail"][0]["errors"][0]["code"], "err_invalid_page_token");
        assert_eq!(r["data"], json!([]));
        // A token from another endpoint is not valid here.
        let other = encode_token(1, Endpoint::SafeScoreDetails, "");
        let r = call(
            &served,
            Endpoint::Users,
            json!({"meta": {"pagination": {"pageToken": other}}}),
        );
        assert_eq!(r["fail"][0]["errors"][0]["code"], "err_invalid_page_token");
        let r = call(&served, Endpoint::Users, json!({"data": []}));
        assert_eq!(r["fail"][0]["errors"][0]["code"], "err_validation_missing");
        let r = call(&served, Endpoint::TrainingUserData, json!({"data": [{"id": "nope"}]}));
        assert_eq!(r["fail"][0]["errors"][0]["code"], "err_campaign_not_found");
        assert_eq!(r["fail"][0]["key"], json!({"id": "nope"}));
        let r = call(&served, Endpoint::PhishingCampaigns, json!({"data": [{"id": "nope"}]}));
        assert_eq!(r["fail"][0]["errors"][0]["code"], "err_campaign_not_found");
    }

    #[test]
    fn shapes_per_endpoint() {
        let served = Served::from(tenant_with_users(3));
        let r = call(
            &served,
            Endpoint::Domains,
            json!({"data": [{"domain": "b.example.com"}]}),
        );
        assert_eq!(r["data"], json!([{"id": "eNo2", "domain": "B.example.com"}]));
        assert_eq!(r["meta"], json!({"status": 200}));
        assert_eq!(
            call(&served, Endpoint::Domains, json!({}))["data"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let r = call(&served, Endpoint::TrainingCampaigns, json!({}));
        assert_eq!(r["data"], json!([{"campaigns": [{"id": "c1", "name": "HIPAA 101"}]}]));
        let r = call(&served, Endpoint::TrainingUserData, json!({"data": [{"id": "c1"}]}));
        assert_eq!(r["data"][0]["items"][0]["email"], "u00001@a.example.com");
        assert_eq!(r["meta"]["pagination"], json!({"pageSize": 1, "totalCount": 1}));
        let r = call(&served, Endpoint::PhishingCampaigns, json!({}));
        assert_eq!(r["data"], json!([{"id": "p1", "name": "Q1"}]));
        let r = call(&served, Endpoint::SafeScoreSummary, json!({}));
        assert_eq!(
            r["data"][0]["scoreCounts"],
            json!({"a": 0, "b": 1, "c": 0, "d": 0, "f": 1})
        );
        let r = call(&served, Endpoint::PerformanceDetails, json!({}));
        assert!(r["data"][0].get("userDetails").is_none());
        let r = call(
            &served,
            Endpoint::PerformanceDetails,
            json!({"data": [{"includeUserDetails": true}]}),
        );
        assert_eq!(r["data"][0]["userDetails"], json!({}));
        // Unknown domain: an empty page, not an error.
        let r = call(
            &served,
            Endpoint::Users,
            json!({"data": [{"domain": "zzz.example.com"}]}),
        );
        assert_eq!(r["data"], json!([{"users": [], "userCount": 0}]));
    }

    #[test]
    fn account_hides_awareness_training_when_unlicensed() {
        let served = Served::from(tenant_with_users(0));
        let req = parse_request(b"").unwrap();
        let r: Value = serde_json::from_slice(&answer(&served, Endpoint::Account, &req, false, None).body).unwrap();
        assert_eq!(r["data"][0]["packages"], json!(["Mimecast Platform [1033]"]));
        let r: Value = serde_json::from_slice(&answer(&served, Endpoint::Account, &req, true, None).body).unwrap();
        assert_eq!(
            r["data"][0]["packages"],
            json!(["Mimecast Platform [1033]", AWARENESS_TRAINING_PACKAGE])
        );
    }

    #[test]
    fn request_bodies() {
        assert!(parse_request(b"").unwrap().data.is_empty());
        assert!(parse_request(b" {} ").unwrap().data.is_empty());
        assert!(parse_request(br#"{"data":[]}"#).unwrap().data.is_empty());
        assert_eq!(parse_request(b"[1]").unwrap_err(), "request body must be a JSON object");
        assert_eq!(
            parse_request(br#"{"data":{}}"#).unwrap_err(),
            "\"data\" must be an array"
        );
        assert!(parse_request(b"{").unwrap_err().starts_with("request body is not JSON"));
    }

    #[test]
    fn envelope_field_order_is_meta_data_fail() {
        let body = envelope(200, None, vec![json!(1)], vec![]);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"meta":{"status":200},"data":[1],"fail":[]}"#
        );
    }
}
