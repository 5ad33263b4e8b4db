//! TTP log records to findings (docs/mimecast-api.md §9.1-9.3): one `Finding` entity
//! per event, with the OCSF Detection Finding (class 2004) attributes, linked to the
//! internal user it targeted; and the indicator entities (URL, file by SHA-256,
//! sender domain) built from the findings, shared by every event that names them.

use sha2::{Digest, Sha256};

use super::{email_key, keys, non_empty, scoped, scoped_rel, text};
use crate::graph::{Element as _, Entity, Relationship, Value};
use crate::mimecast::records::{AttachmentLog, ImpersonationLog, UrlClickLog};
use crate::schema::{rels, types};

/// OCSF Detection Finding: `class_uid`, `category_uid` (Findings) and activity
/// Create; `type_uid` is `class_uid * 100 + activity_id`.
pub const OCSF_CLASS_UID: i64 = 2004;
pub const OCSF_CATEGORY_UID: i64 = 2;
pub const OCSF_ACTIVITY_CREATE: i64 = 1;

/// OCSF `severity_id` values used here, with their captions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Informational = 1,
    Low = 2,
    Medium = 3,
    High = 4,
}

impl Severity {
    pub fn caption(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
        }
    }
}

/// A converted TTP record: the finding, and its link to the user it targeted when
/// that address is an internal user (`unknown` names it otherwise).
pub struct Converted {
    pub finding: Entity,
    pub link: Option<Relationship>,
    pub unknown: Option<String>,
}

/// A record that cannot become a finding (no time, no address): what is missing.
pub type Skipped = String;

/// The first 32 hex digits of the SHA-256 of the identifying fields, one per line.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.trim().as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The domain of an address, lowercased.
pub(super) fn domain_of(address: &Option<String>) -> Option<String> {
    non_empty(address)
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, d)| d.trim().trim_end_matches('>').to_lowercase())
        .filter(|d| !d.is_empty())
}

fn epoch_ms(iso: &str) -> i64 {
    crate::time::parse(iso).map_or(0, |t| t.timestamp_millis())
}

fn eq(v: &Option<String>, word: &str) -> bool {
    non_empty(v).is_some_and(|s| s.eq_ignore_ascii_case(word))
}

/// The finding entity with what every finding carries, OCSF attributes included.
#[allow(clippy::too_many_arguments)]
pub(super) fn finding(
    key: String,
    entity_type: &str,
    account_code: &str,
    title: &str,
    product: &str,
    time: &str,
    severity: Severity,
    malicious: bool,
) -> Entity {
    let mut e = scoped(key.clone(), entity_type, "Finding", account_code, title);
    e.set("eventTime", Some(Value::from(time)))
        .set("malicious", Some(Value::Bool(malicious)))
        .set("classUid", Some(Value::Int(OCSF_CLASS_UID)))
        .set("categoryUid", Some(Value::Int(OCSF_CATEGORY_UID)))
        .set("activityId", Some(Value::Int(OCSF_ACTIVITY_CREATE)))
        .set("typeUid", Some(Value::Int(OCSF_CLASS_UID * 100 + OCSF_ACTIVITY_CREATE)))
        .set("severityId", Some(Value::Int(severity as i64)))
        .set("severity", Some(Value::from(severity.caption())))
        .set("time", Some(Value::Int(epoch_ms(time))))
        .set("product", Some(Value::from(product)))
        .set("findingUid", Some(Value::from(key.as_str())))
        .set("title", Some(Value::from(title)));
    e
}

/// The finding with its link from the targeted user, when `address` is one of the
/// tenant's users (`unknown` names it otherwise).
fn targeted(
    account_code: &str,
    finding: Entity,
    (rel_type, class): (&str, &str),
    address: &str,
    is_user: &dyn Fn(&str) -> bool,
) -> Converted {
    let user_key = keys::user(account_code, address);
    let (link, unknown) = if is_user(&user_key) {
        let link = scoped_rel(rel_type, class, &user_key, &finding.key, account_code);
        (Some(link), None)
    } else {
        (None, Some(email_key(address)))
    };
    Converted { finding, link, unknown }
}

/// A URL Protection click. Malicious when the scan said so; overridden when the
/// user chose to continue past a warning.
///
/// # Errors
/// The record has no date.
pub fn url_click(account_code: &str, c: &UrlClickLog, is_user: &dyn Fn(&str) -> bool) -> Result<Converted, Skipped> {
    let time = c.date.as_deref().ok_or("a URL click without a date")?;
    let clicker = email_key(&c.user_email_address);
    let id = fingerprint(&[c.message_id.as_deref().unwrap_or(""), &clicker, c.url.trim(), time]);
    let key = keys::url_click(account_code, &id);
    let malicious = eq(&c.scan_result, "malicious");
    let overridden = non_empty(&c.user_override).is_some_and(|o| !o.eq_ignore_ascii_case("none"));
    let action = non_empty(&c.action).unwrap_or("clicked").to_lowercase();
    let severity = match (malicious, action.as_str()) {
        (false, _) => Severity::Informational,
        (true, "block") if !overridden => Severity::Medium,
        (true, _) => Severity::High,
    };
    let title = format!(
        "URL Protection: {} link, {action}{}",
        if malicious {
            "malicious"
        } else {
            non_empty(&c.scan_result).unwrap_or("unscanned")
        },
        if overridden { " (user continued)" } else { "" }
    );
    let mut e = finding(
        key.clone(),
        types::URL_CLICK,
        account_code,
        &title,
        "Mimecast URL Protection",
        time,
        severity,
        malicious,
    );
    e.set("fingerprint", Some(Value::from(id.as_str())))
        .set("userEmailAddress", Some(Value::from(clicker.as_str())))
        .set("url", Some(Value::from(c.url.trim())))
        .set("overridden", Some(Value::Bool(overridden)))
        .set("scanResult", text(&c.scan_result))
        .set("action", text(&c.action))
        .set("category", text(&c.category))
        .set("route", text(&c.route))
        .set("userOverride", text(&c.user_override))
        .set("adminOverride", text(&c.admin_override))
        .set("userAwarenessAction", text(&c.user_awareness_action))
        .set("ttpDefinition", text(&c.ttp_definition))
        .set("messageId", text(&c.message_id))
        .set("fromUserEmailAddress", text(&c.from_user_email_address))
        .set("senderDomain", domain_of(&c.from_user_email_address).map(Value::from))
        .set("subject", text(&c.subject))
        .set("sendingIp", text(&c.sending_ip));
    Ok(targeted(
        account_code,
        e,
        (rels::USER_CLICKED_URL, "CLICKED"),
        &clicker,
        is_user,
    ))
}

/// An Attachment Protection result. Malicious unless the result is `safe` (or a
/// time-out, which is reported as low).
///
/// # Errors
/// The record has no date.
pub fn attachment(account_code: &str, a: &AttachmentLog, is_user: &dyn Fn(&str) -> bool) -> Result<Converted, Skipped> {
    let time = a.date.as_deref().ok_or("an attachment log without a date")?;
    let recipient = email_key(&a.recipient_address);
    let hash = non_empty(&a.file_hash).map(str::to_lowercase);
    let id = fingerprint(&[
        a.message_id.as_deref().unwrap_or(""),
        &recipient,
        hash.as_deref().unwrap_or(""),
        time,
    ]);
    let key = keys::attachment_threat(account_code, &id);
    let result = non_empty(&a.result).unwrap_or("unknown").to_lowercase();
    let malicious = result == "malicious";
    let severity = match result.as_str() {
        "malicious" => Severity::High,
        "safe" => Severity::Informational,
        _ => Severity::Low,
    };
    let title = format!(
        "Attachment Protection: {result} file {}",
        non_empty(&a.file_name).unwrap_or("(unnamed)")
    );
    let mut e = finding(
        key.clone(),
        types::ATTACHMENT_THREAT,
        account_code,
        &title,
        "Mimecast Attachment Protection",
        time,
        severity,
        malicious,
    );
    e.set("fingerprint", Some(Value::from(id.as_str())))
        .set("recipientAddress", Some(Value::from(recipient.as_str())))
        .set("result", text(&a.result))
        .set("fileName", text(&a.file_name))
        .set("fileType", text(&a.file_type))
        .set("fileHash", hash.map(Value::from))
        .set("senderAddress", text(&a.sender_address))
        .set("senderDomain", domain_of(&a.sender_address).map(Value::from))
        .set("actionTriggered", text(&a.action_triggered))
        .set("route", text(&a.route))
        .set("details", text(&a.details))
        .set("messageId", text(&a.message_id))
        .set("subject", text(&a.subject))
        .set("definition", text(&a.definition));
    Ok(targeted(
        account_code,
        e,
        (rels::USER_RECEIVED_ATTACHMENT, "RECEIVED"),
        &recipient,
        is_user,
    ))
}

/// An Impersonation Protection hit, keyed by its log id. Malicious when tagged so.
///
/// # Errors
/// The record has no event time or an empty id.
pub fn impersonation(
    account_code: &str,
    i: &ImpersonationLog,
    is_user: &dyn Fn(&str) -> bool,
) -> Result<Converted, Skipped> {
    let time = i
        .event_time
        .as_deref()
        .ok_or("an impersonation log without an eventTime")?;
    let id = i.id.trim();
    if id.is_empty() {
        return Err("an impersonation log with an empty id".into());
    }
    let recipient = email_key(&i.recipient_address);
    let key = keys::impersonation(account_code, id);
    let malicious = i.tagged_malicious == Some(true);
    let severity = if malicious { Severity::High } else { Severity::Low };
    let title = format!(
        "Impersonation Protection: {} ({})",
        non_empty(&i.definition).unwrap_or("impersonation"),
        non_empty(&i.action).unwrap_or("no action")
    );
    let mut e = finding(
        key.clone(),
        types::IMPERSONATION,
        account_code,
        &title,
        "Mimecast Impersonation Protection",
        time,
        severity,
        malicious,
    );
    e.set("id", Some(Value::from(id)))
        .set("recipientAddress", Some(Value::from(recipient.as_str())))
        .set("action", text(&i.action))
        .set("definition", text(&i.definition))
        .set("hits", i.hits.map(Value::Int))
        .set(
            "identifiers",
            (!i.identifiers.is_empty()).then(|| Value::StrList(i.identifiers.clone().into())),
        )
        .set("senderAddress", text(&i.sender_address))
        .set("senderDomain", domain_of(&i.sender_address).map(Value::from))
        .set("senderIpAddress", text(&i.sender_ip_address))
        .set("subject", text(&i.subject))
        .set("taggedExternal", i.tagged_external.map(Value::Bool))
        .set("messageId", text(&i.message_id));
    Ok(targeted(
        account_code,
        e,
        (rels::USER_RECEIVED_IMPERSONATION, "RECEIVED"),
        &recipient,
        is_user,
    ))
}

/// The indicators of a set of findings: one entity per URL, file and sender domain
/// (its `lastSeenOn` the latest event naming it), and one relationship from each
/// finding to each indicator it names. Sorted by key.
pub fn indicators(account_code: &str, findings: &[&Entity]) -> (Vec<Entity>, Vec<Relationship>) {
    use std::collections::BTreeMap;
    let mut nodes: BTreeMap<String, Entity> = BTreeMap::new();
    let mut links = Vec::new();
    let mut add = |key: String, make: &dyn Fn() -> Entity, seen: &str, from: &Entity, rel: (&str, &str)| {
        let node = nodes.entry(key.clone()).or_insert_with(make);
        if node.str("lastSeenOn").is_none_or(|t| t < seen) {
            node.set("lastSeenOn", Some(Value::from(seen)));
        }
        links.push(scoped_rel(rel.0, rel.1, &from.key, &key, account_code));
    };
    for f in findings {
        let Some(seen) = f.str("eventTime") else { continue };
        let siem = f.entity_type == types::SIEM_DETECTION;
        if f.entity_type == types::URL_CLICK || siem {
            if let Some(url) = f.str("url") {
                let make = || {
                    let mut e = scoped(keys::url(account_code, url), types::URL, "Indicator", account_code, url);
                    e.set("url", Some(Value::from(url))).set(
                        "host",
                        url.split("://")
                            .nth(1)
                            .and_then(|rest| rest.split(['/', '?', '#']).next())
                            .filter(|h| !h.is_empty())
                            .map(|h| Value::from(h.to_lowercase())),
                    );
                    e
                };
                add(
                    keys::url(account_code, url),
                    &make,
                    seen,
                    f,
                    (
                        if siem {
                            rels::SIEM_LINKS_TO_URL
                        } else {
                            rels::URL_CLICK_LINKS_TO_URL
                        },
                        "LINKS_TO",
                    ),
                );
            }
        }
        if f.entity_type == types::ATTACHMENT_THREAT || siem {
            if let Some(hash) = f.str("fileHash") {
                let make = || {
                    let mut e = scoped(
                        keys::file(account_code, hash),
                        types::FILE,
                        "Indicator",
                        account_code,
                        hash,
                    );
                    e.set("sha256", Some(Value::from(hash)))
                        .set("fileName", f.get("fileName").cloned())
                        .set("fileType", f.get("fileType").cloned());
                    e
                };
                add(
                    keys::file(account_code, hash),
                    &make,
                    seen,
                    f,
                    (
                        if siem {
                            rels::SIEM_CARRIES_FILE
                        } else {
                            rels::ATTACHMENT_CARRIES_FILE
                        },
                        "CARRIES",
                    ),
                );
            }
        }
        if let Some(domain) = f.str("senderDomain") {
            let rel = match f.entity_type {
                types::URL_CLICK => rels::URL_CLICK_FROM_DOMAIN,
                types::ATTACHMENT_THREAT => rels::ATTACHMENT_FROM_DOMAIN,
                types::SIEM_DETECTION => rels::SIEM_FROM_DOMAIN,
                _ => rels::IMPERSONATION_FROM_DOMAIN,
            };
            let make = || {
                let mut e = scoped(
                    keys::sender_domain(account_code, domain),
                    types::SENDER_DOMAIN,
                    "Indicator",
                    account_code,
                    domain,
                );
                e.set("domain", Some(Value::from(domain)));
                e
            };
            add(
                keys::sender_domain(account_code, domain),
                &make,
                seen,
                f,
                (rel, "SENT_FROM"),
            );
        }
    }
    links.sort_by(|a, b| a.cmp_key(b));
    (nodes.into_values().collect(), links)
}
