//! One key function per entity type: the `key` templates of graph-schema/ as code
//! (a test checks each against its template).

pub fn account(account_code: &str) -> String {
    format!("mimecast_account:{account_code}")
}
pub fn domain(account_code: &str, domain: &str) -> String {
    format!("mimecast_domain:{account_code}:{}", domain.trim().to_lowercase())
}
pub fn user(account_code: &str, email: &str) -> String {
    format!("mimecast_user:{account_code}:{}", email_key(email))
}
pub fn awareness_campaign(account_code: &str, id: &str) -> String {
    format!("mimecast_awareness_campaign:{account_code}:{id}")
}
pub fn phishing_campaign(account_code: &str, id: &str) -> String {
    format!("mimecast_phishing_campaign:{account_code}:{id}")
}
pub fn training_category(account_code: &str, category: &str) -> String {
    format!("training_category:{account_code}:{category}")
}
pub fn person(account_code: &str, normalized_email: &str) -> String {
    format!("person:{account_code}:{normalized_email}")
}
/// Per query set (`builtin` or the folder), so deployments with different
/// folders in one database never share a node.
pub fn compliance_query(query_set: &str, id: &str) -> String {
    format!("compliance_query:{query_set}:{id}")
}
pub fn url_click(account_code: &str, fingerprint: &str) -> String {
    format!("mimecast_url_click:{account_code}:{fingerprint}")
}
pub fn attachment_threat(account_code: &str, fingerprint: &str) -> String {
    format!("mimecast_attachment_threat:{account_code}:{fingerprint}")
}
pub fn impersonation(account_code: &str, id: &str) -> String {
    format!("mimecast_impersonation:{account_code}:{id}")
}
pub fn url(account_code: &str, url: &str) -> String {
    format!("mimecast_url:{account_code}:{}", url.trim())
}
pub fn file(account_code: &str, sha256: &str) -> String {
    format!("mimecast_file:{account_code}:{}", sha256.trim().to_lowercase())
}
pub fn sender_domain(account_code: &str, domain: &str) -> String {
    format!("mimecast_sender_domain:{account_code}:{}", domain.trim().to_lowercase())
}
pub fn siem_detection(account_code: &str, fingerprint: &str) -> String {
    format!("mimecast_siem_detection:{account_code}:{fingerprint}")
}
pub fn group(account_code: &str, id: &str) -> String {
    format!("mimecast_group:{account_code}:{id}")
}

/// The form of an email used in keys and joins: trimmed and lowercased.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}
