//! The `/api/...` endpoints: the `meta`/`data`/`fail` envelope, pagination and
//! the per-endpoint shapes of docs/mimecast-api.md §4 and §5. Pure functions over the
//! indexed tenant; the server adds authentication, limits and faults around them.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::directory::Directory;
use super::siem::Siem;
use super::tenant::{user_domain, Credential, Tenant};
use super::threats::{Logs, Stream, ThreatLogs};

mod wire;
pub(crate) use wire::*;

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
mod tests;
