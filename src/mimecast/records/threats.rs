//! The Targeted Threat Protection log records (URL clicks, attachments,
//! impersonation attempts; docs/mimecast-api.md §9).

use serde::Deserialize;

use super::de;

/// `ttp/url/get-logs`: `data[0]` wraps `clickLogs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClickLogsPage {
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub click_logs: Vec<UrlClickLog>,
}

/// One URL Protection click (docs/mimecast-api.md §9.1). The key is a fingerprint of
/// the message id, the clicker, the URL and the date.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlClickLog {
    pub user_email_address: String,
    pub url: String,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub date: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub user_awareness_action: Option<String>,
    #[serde(default)]
    pub route: Option<String>,
    #[serde(default)]
    pub admin_override: Option<String>,
    #[serde(default)]
    pub scan_result: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub ttp_definition: Option<String>,
    #[serde(default)]
    pub user_override: Option<String>,
    #[serde(default)]
    pub from_user_email_address: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub sending_ip: Option<String>,
}

/// `ttp/attachment/get-logs`: `data[0]` wraps `attachmentLogs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentLogsPage {
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub attachment_logs: Vec<AttachmentLog>,
}

/// One Attachment Protection result (§9.2). The key is a fingerprint of the message
/// id, the recipient, the file hash and the date.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentLog {
    pub recipient_address: String,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub date: Option<String>,
    #[serde(default)]
    pub file_hash: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub sender_address: Option<String>,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub file_type: Option<String>,
    #[serde(default)]
    pub action_triggered: Option<String>,
    #[serde(default)]
    pub route: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub definition: Option<String>,
}

/// `ttp/impersonation/get-logs`: `data[0]` wraps `impersonationLogs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpersonationLogsPage {
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub impersonation_logs: Vec<ImpersonationLog>,
}

/// One Impersonation Protection hit (§9.3): the only TTP log with an `id`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpersonationLog {
    pub id: String,
    pub recipient_address: String,
    #[serde(default, deserialize_with = "de::datetime_opt")]
    pub event_time: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub definition: Option<String>,
    #[serde(default, deserialize_with = "de::int_opt")]
    pub hits: Option<i64>,
    #[serde(default, deserialize_with = "de::null_as_default")]
    pub identifiers: Vec<String>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub sender_address: Option<String>,
    #[serde(default)]
    pub sender_ip_address: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub tagged_external: Option<bool>,
    #[serde(default)]
    pub tagged_malicious: Option<bool>,
}
