//! Typed API records. They accept the recorded responses unchanged, ignore fields
//! they do not know, tolerate absent and null fields, and normalize dates (both
//! `+0000` and RFC 3339 offsets) to UTC `...Z` text.

use std::collections::BTreeMap;

use serde::Deserialize;

mod threats;
pub use threats::*;

/// `account/get-account`: `data[0]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub account_code: String,
    #[serde(default)]
    pub account_name: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub mimecast_id: Option<String>,
    #[serde(default)]
    pub support_code: Option<String>,
    #[serde(default, rename = "type")]
    pub account_type: Option<String>,
    #[serde(default)]
    pub archive: Option<bool>,
    #[serde(default)]
    pub gateway: Option<bool>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub user_count: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub max_retention: Option<i64>,
    #[serde(default)]
    pub contact_email: Option<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub mail_platform: Option<String>,
    /// `"Name [productId]"` entries; their order changes between calls.
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub packages: Vec<String>,
}

/// The package name `get-account` lists when Awareness Training is licensed.
pub const AWARENESS_TRAINING_PACKAGE: &str = "Awareness Training";

impl Account {
    /// True when `packages` lists Awareness Training (`"Awareness Training [1078]"`).
    pub fn has_awareness_training(&self) -> bool {
        self.packages
            .iter()
            .any(|p| p.split(" [").next().map(str::trim) == Some(AWARENESS_TRAINING_PACKAGE))
    }

    /// The package names sorted, so that a reordered list is not a change.
    pub fn sorted_packages(&self) -> Vec<String> {
        let mut p = self.packages.clone();
        p.sort();
        p
    }
}

/// `domain/get-internal-domain`: a flat list.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InternalDomain {
    #[serde(default)]
    pub id: Option<String>,
    pub domain: String,
    #[serde(default)]
    pub send_only: Option<bool>,
    #[serde(default)]
    pub local: Option<bool>,
    #[serde(default)]
    pub inbound_type: Option<String>,
}

/// `user/get-internal-users`: `data[0]` wraps the page.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub users: Vec<InternalUser>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub user_count: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InternalUser {
    #[serde(default)]
    pub name: Option<String>,
    pub email_address: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub alias: Option<bool>,
    #[serde(default)]
    pub address_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// A group a campaign targets.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroup {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub user_count: Option<i64>,
}

/// `awareness-training/campaign/get-campaigns` (API 1.0): `data[0]` wraps `campaigns`.
#[derive(Clone, Debug, Deserialize)]
pub struct CampaignsPage {
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub campaigns: Vec<TrainingCampaign>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingCampaign {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub launch_date: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub create_date: Option<String>,
    #[serde(default)]
    pub locked: Option<bool>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_sent: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_completed: Option<i64>,
    #[serde(default, deserialize_with = "de::float_opt")]
    pub percent_complete: Option<f64>,
    #[serde(default, deserialize_with = "de::float_opt")]
    pub percent_correct: Option<f64>,
    #[serde(default)]
    pub title: Option<TrainingTitle>,
    #[serde(default)]
    pub group: Option<TargetGroup>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingTitle {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

/// `{"items": [...]}`, the wrapper of both `get-user-data` endpoints.
#[derive(Clone, Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct ItemsPage<T> {
    #[serde(default = "Vec::new", deserialize_with = "de::null_as_default")]
    pub items: Vec<T>,
}

/// `awareness-training/campaign/get-user-data` (API 1.0): one enrolled recipient.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignUserData {
    #[serde(default)]
    pub name: Option<String>,
    pub email: String,
    #[serde(default)]
    pub department: Option<String>,
    /// `forQuestionN` to `SENT`, `CORRECT` or `INCORRECT`.
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub results: BTreeMap<String, String>,
    #[serde(default)]
    pub acknowledgement: Option<bool>,
    #[serde(default)]
    pub user_state: Option<String>,
}

/// Training state derived from one enrollment's answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrainingOutcome {
    pub correct: i64,
    pub incorrect: i64,
}

impl TrainingOutcome {
    /// Every recorded answer is correct.
    pub fn passed(&self) -> bool {
        self.incorrect == 0 && self.correct > 0
    }
}

impl CampaignUserData {
    /// `Some` when any answer is recorded (a result other than `SENT`), as JupiterOne
    /// defines completion; `None` while the module is only sent.
    pub fn outcome(&self) -> Option<TrainingOutcome> {
        let mut correct = 0;
        let mut incorrect = 0;
        for v in self.results.values() {
            match v.to_ascii_uppercase().as_str() {
                "CORRECT" => correct += 1,
                "INCORRECT" => incorrect += 1,
                _ => {}
            }
        }
        (correct + incorrect > 0).then_some(TrainingOutcome { correct, incorrect })
    }
}

/// `awareness-training/phishing/campaign/get-campaign`: a flat list.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhishingCampaign {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub launch_date: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub locked: Option<bool>,
    #[serde(default)]
    pub time_slot_selected: Option<String>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_sent: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_opened: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_clicked: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_submitted: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_reported: Option<i64>,
    #[serde(default)]
    pub sender: Option<PhishingSender>,
    #[serde(default)]
    pub group: Option<TargetGroup>,
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub templates: Vec<PhishingTemplate>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhishingSender {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhishingTemplate {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub display_title: Option<String>,
}

/// `awareness-training/phishing/campaign/get-user-data`: one recipient.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhishingUserData {
    #[serde(default)]
    pub name: Option<String>,
    pub email: String,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub user_state: Option<String>,
    #[serde(default)]
    pub template_name: Option<String>,
    /// `sent`, `opened`, `clicked`, `submitted` (case not confirmed; compared lowercased).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub time_scheduled: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub time_opened: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub time_clicked: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub time_submitted: Option<String>,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub time_reported: Option<String>,
    #[serde(default, deserialize_with = "de::float_opt")]
    pub reaction_time: Option<f64>,
}

impl PhishingUserData {
    pub fn status_lower(&self) -> Option<String> {
        self.status.as_deref().map(str::to_ascii_lowercase)
    }

    /// Opened the message (a later stage implies it).
    pub fn opened(&self) -> bool {
        self.time_opened.is_some() || self.clicked() || matches!(self.status_lower().as_deref(), Some("opened"))
    }

    /// Clicked the link (submitting implies it).
    pub fn clicked(&self) -> bool {
        self.time_clicked.is_some() || self.submitted() || matches!(self.status_lower().as_deref(), Some("clicked"))
    }

    /// Submitted data on the landing page.
    pub fn submitted(&self) -> bool {
        self.time_submitted.is_some() || matches!(self.status_lower().as_deref(), Some("submitted"))
    }

    /// Reported the message as phishing.
    pub fn reported(&self) -> bool {
        self.time_reported.is_some() || matches!(self.status_lower().as_deref(), Some("reported"))
    }
}

/// `awareness-training/company/get-safe-score-details`: a flat list. Note the
/// field is `emailAddress` here and `email` on the other AT endpoints.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeScore {
    pub email_address: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub risk: Option<String>,
    #[serde(default)]
    pub human_error: Option<String>,
    #[serde(default)]
    pub sentiment: Option<String>,
    #[serde(default)]
    pub engagement: Option<String>,
    #[serde(default)]
    pub knowledge: Option<String>,
    #[serde(default)]
    pub user_state: Option<String>,
}

/// `awareness-training/company/get-performance-details`: a flat list.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceDetail {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_correct: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_incorrect: Option<i64>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub num_not_watched: Option<i64>,
    #[serde(default)]
    pub user_state: Option<String>,
}

/// `awareness-training/company/get-watchlist-details`: a flat list.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchlistDetail {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub watchlist_count: Option<i64>,
    #[serde(default)]
    pub user_state: Option<String>,
}

/// Lenient field decoders: the AT endpoints are documented with "real" numbers, and
/// any field may be null.
pub(crate) mod de {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};

    pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }

    pub fn int_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.is_finite())
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("expected a whole number, got {n}"))),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("expected a whole number, got {s:?}"))),
            Some(other) => Err(D::Error::custom(format!("expected a whole number, got {other}"))),
        }
    }

    pub fn float_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => Ok(n.as_f64()),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("expected a number, got {s:?}"))),
            Some(other) => Err(D::Error::custom(format!("expected a number, got {other}"))),
        }
    }

    pub fn datetime_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) => crate::time::normalize(&s).map(Some).map_err(D::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests;
