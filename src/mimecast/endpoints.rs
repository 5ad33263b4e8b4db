//! The read-only allowlist: the only endpoints the client will call.

use std::fmt;

/// The product area an endpoint belongs to; it decides permission hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Account,
    Directory,
    AwarenessTraining,
    /// Targeted Threat Protection logs: one role permission each.
    UrlProtection,
    AttachmentProtection,
    ImpersonationProtection,
    /// Directory groups: `Directories | Groups | Read`.
    Groups,
    /// Message Finder: `Gateway | Tracking | Read`.
    MessageTracking,
    /// The SIEM batch: `Security Events and Data Retrieval | Threat and Security
    /// Events (SIEM) | Read`.
    Siem,
}

/// Every endpoint the worker may call. All are reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    GetAccount,
    GetInternalDomain,
    GetInternalUsers,
    GetCampaigns,
    GetCampaignUserData,
    GetPhishingCampaign,
    GetPhishingUserData,
    GetSafeScoreDetails,
    GetPerformanceDetails,
    GetWatchlistDetails,
    GetTtpUrlLogs,
    GetTtpAttachmentLogs,
    GetTtpImpersonationLogs,
    FindGroups,
    GetGroupMembers,
    MessageFinderSearch,
    /// `GET /siem/v1/batch/events/cg`: a listing of event files (its only method).
    SiemBatch,
}

impl Endpoint {
    pub const ALL: [Endpoint; 17] = [
        Endpoint::GetAccount,
        Endpoint::GetInternalDomain,
        Endpoint::GetInternalUsers,
        Endpoint::GetCampaigns,
        Endpoint::GetCampaignUserData,
        Endpoint::GetPhishingCampaign,
        Endpoint::GetPhishingUserData,
        Endpoint::GetSafeScoreDetails,
        Endpoint::GetPerformanceDetails,
        Endpoint::GetWatchlistDetails,
        Endpoint::GetTtpUrlLogs,
        Endpoint::GetTtpAttachmentLogs,
        Endpoint::GetTtpImpersonationLogs,
        Endpoint::FindGroups,
        Endpoint::GetGroupMembers,
        Endpoint::MessageFinderSearch,
        Endpoint::SiemBatch,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::GetAccount => "/api/account/get-account",
            Endpoint::GetInternalDomain => "/api/domain/get-internal-domain",
            Endpoint::GetInternalUsers => "/api/user/get-internal-users",
            Endpoint::GetCampaigns => "/api/awareness-training/campaign/get-campaigns",
            Endpoint::GetCampaignUserData => "/api/awareness-training/campaign/get-user-data",
            Endpoint::GetPhishingCampaign => "/api/awareness-training/phishing/campaign/get-campaign",
            Endpoint::GetPhishingUserData => "/api/awareness-training/phishing/campaign/get-user-data",
            Endpoint::GetSafeScoreDetails => "/api/awareness-training/company/get-safe-score-details",
            Endpoint::GetPerformanceDetails => "/api/awareness-training/company/get-performance-details",
            Endpoint::GetWatchlistDetails => "/api/awareness-training/company/get-watchlist-details",
            Endpoint::GetTtpUrlLogs => "/api/ttp/url/get-logs",
            Endpoint::GetTtpAttachmentLogs => "/api/ttp/attachment/get-logs",
            Endpoint::GetTtpImpersonationLogs => "/api/ttp/impersonation/get-logs",
            Endpoint::FindGroups => "/api/directory/find-groups",
            Endpoint::GetGroupMembers => "/api/directory/get-group-members",
            Endpoint::MessageFinderSearch => "/api/message-finder/search",
            Endpoint::SiemBatch => "/siem/v1/batch/events/cg",
        }
    }

    /// The allowlist check: `Some` only for the read endpoints above.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }

    pub fn area(self) -> Area {
        match self {
            Endpoint::GetAccount => Area::Account,
            Endpoint::GetInternalDomain | Endpoint::GetInternalUsers => Area::Directory,
            Endpoint::GetTtpUrlLogs => Area::UrlProtection,
            Endpoint::GetTtpAttachmentLogs => Area::AttachmentProtection,
            Endpoint::GetTtpImpersonationLogs => Area::ImpersonationProtection,
            Endpoint::FindGroups | Endpoint::GetGroupMembers => Area::Groups,
            Endpoint::MessageFinderSearch => Area::MessageTracking,
            Endpoint::SiemBatch => Area::Siem,
            _ => Area::AwarenessTraining,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_holds_only_reads() {
        for e in Endpoint::ALL {
            assert_eq!(Endpoint::from_path(e.path()), Some(e));
            // Reads only: get-*, find-* (a listing), Message Finder's search and the
            // SIEM batch listing (a GET; the client sends nothing else there).
            let action = e.path().rsplit('/').next().unwrap();
            assert!(
                action.starts_with("get-")
                    || action.starts_with("find-")
                    || action == "search"
                    || e.path() == "/siem/v1/batch/events/cg",
                "{action} is not a read"
            );
        }
        assert_eq!(Endpoint::from_path("/api/user/delete-user"), None);
        assert_eq!(
            Endpoint::from_path("/api/account/get-account/../../user/create-user"),
            None
        );
    }
}
