//! SIEM batch events (docs/mimecast-api.md §13.2) to findings: one `Finding` per
//! detection, with the OCSF Detection Finding attributes, linked to every internal
//! user among its recipients. The batch has no event id: the key is a fingerprint
//! of the identifying fields, so a file read twice (an overlap, a re-listed link)
//! gives the same keys.

use serde_json::Value as Json;

use super::threats::{domain_of, finding, fingerprint, Severity};
use super::{email_key, keys, scoped_rel};
use crate::graph::{Element as _, Entity, Relationship, Value};
use crate::schema::{rels, types};

/// A converted event: the finding, its links from the internal users it targeted,
/// and the recipient addresses that are not internal users.
pub struct Detection {
    pub finding: Entity,
    pub links: Vec<Relationship>,
    pub unknown: Vec<String>,
}

/// A field as text: strings trimmed, numbers and booleans written out; empty is none.
fn field(e: &Json, name: &str) -> Option<String> {
    match e.get(name)? {
        Json::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flag(e: &Json, name: &str) -> Option<bool> {
    match field(e, name)?.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// The addresses of a `recipients` field: split on commas, semicolons and spaces,
/// lowercased, sorted, each once.
fn recipients(e: &Json) -> Vec<String> {
    let mut out: Vec<String> = match e.get("recipients") {
        Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).map(str::to_owned).collect(),
        Some(Json::String(s)) => s.split([',', ';', ' ']).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
    .iter()
    .map(|a| email_key(a.trim_matches(['<', '>'])))
    .filter(|a| a.contains('@'))
    .collect();
    out.sort();
    out.dedup();
    out
}

/// The event's time: `timestamp` in ms since 1970 (a number or a numeric string),
/// and as ISO text.
fn event_time(e: &Json) -> Option<(i64, String)> {
    let ms = match e.get("timestamp")? {
        Json::Number(n) => n.as_i64()?,
        Json::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    chrono::DateTime::from_timestamp_millis(ms).map(|t| (ms, crate::time::iso(t)))
}

/// Severity and maliciousness of a detection of `event_type`.
fn judge(event_type: &str, e: &Json) -> (Severity, bool) {
    let action = field(e, "action").unwrap_or_default().to_ascii_lowercase();
    match event_type {
        "av" | "attachment protect" => (Severity::High, true),
        "impersonation protect" if flag(e, "taggedMalicious") == Some(true) => (Severity::High, true),
        "impersonation protect" => (Severity::Low, false),
        // A URL Protect event is a link judged malicious: blocked is contained,
        // allowed or warned through is not.
        "url protect" if action == "block" => (Severity::Medium, true),
        "url protect" => (Severity::High, true),
        _ => (Severity::Informational, false),
    }
}

fn caption(event_type: &str) -> &'static str {
    match event_type {
        "av" => "Anti-virus",
        "attachment protect" => "Attachment Protect",
        "impersonation protect" => "Impersonation Protect",
        "url protect" => "URL Protect",
        "spam" => "Spam",
        _ => "SIEM event",
    }
}

/// An event line that is JSON but not a detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotADetection {
    #[error("an event without a type")]
    NoType,
    #[error("an event without a readable timestamp")]
    NoTime,
}

/// One event line, already parsed.
///
/// # Errors
/// The event has no type or no readable timestamp.
pub fn detection(account_code: &str, e: &Json, is_user: &dyn Fn(&str) -> bool) -> Result<Detection, NotADetection> {
    let event_type = field(e, "type").ok_or(NotADetection::NoType)?.to_lowercase();
    let (ms, time) = event_time(e).ok_or(NotADetection::NoTime)?;
    let to = recipients(e);
    let url = field(e, "url");
    let hash = field(e, "sha256").map(|h| h.to_lowercase());
    let id = fingerprint(&[
        &event_type,
        &field(e, "processingId").unwrap_or_default(),
        &field(e, "aggregateId").unwrap_or_default(),
        &to.join(","),
        &ms.to_string(),
        url.as_deref().unwrap_or(""),
        hash.as_deref().unwrap_or(""),
    ]);
    let key = keys::siem_detection(account_code, &id);
    let (severity, malicious) = judge(&event_type, e);
    let subtype = field(e, "subtype");
    let what = url
        .clone()
        .or_else(|| field(e, "fileName"))
        .or_else(|| field(e, "subject"))
        .unwrap_or_default();
    let title = format!(
        "{}: {}{}",
        caption(&event_type),
        subtype.as_deref().unwrap_or(&event_type),
        if what.is_empty() {
            String::new()
        } else {
            format!(" {what}")
        }
    );
    let sender = field(e, "senderEnvelope").or_else(|| field(e, "senderHeader"));
    let sender_domain = field(e, "senderDomain")
        .map(|d| d.to_lowercase())
        .or_else(|| domain_of(&sender));
    let mut f = finding(
        key.clone(),
        types::SIEM_DETECTION,
        account_code,
        &title,
        &format!("Mimecast SIEM ({event_type})"),
        &time,
        severity,
        malicious,
    );
    let text = |name: &str| field(e, name).map(Value::from);
    f.set("fingerprint", Some(Value::from(id.as_str())))
        .set("eventType", Some(Value::from(event_type.as_str())))
        .set("subtype", subtype.map(Value::from))
        .set(
            "recipients",
            (!to.is_empty()).then(|| Value::StrList(to.clone().into())),
        )
        .set("senderAddress", sender.map(Value::from))
        .set("senderDomain", sender_domain.map(Value::from))
        .set("senderIp", text("senderIp"))
        .set("messageId", text("messageId"))
        .set("subject", text("subject"))
        .set("url", url.map(Value::from))
        .set("urlCategory", text("urlCategory"))
        .set("action", text("action"))
        .set("route", text("route"))
        .set("direction", text("direction"))
        .set("fileName", text("fileName"))
        .set("fileExtension", text("fileExtension"))
        .set("fileHash", hash.map(Value::from))
        .set("virusFound", text("virusFound"))
        .set("definition", text("definition"))
        .set("taggedMalicious", flag(e, "taggedMalicious").map(Value::Bool))
        .set("taggedExternal", flag(e, "taggedExternal").map(Value::Bool))
        .set("processingId", text("processingId"))
        .set("aggregateId", text("aggregateId"));
    let (mut links, mut unknown) = (Vec::new(), Vec::new());
    for address in to {
        let user_key = keys::user(account_code, &address);
        if is_user(&user_key) {
            links.push(scoped_rel(
                rels::USER_RECEIVED_SIEM,
                "RECEIVED",
                &user_key,
                &key,
                account_code,
            ));
        } else {
            unknown.push(address);
        }
    }
    Ok(Detection {
        finding: f,
        links,
        unknown,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_url_protect_event_becomes_a_finding_linked_to_its_internal_recipients() {
        let e = json!({"type": "url protect", "subtype": "Block", "timestamp": 1_764_633_600_123_i64,
            "processingId": "p1", "aggregateId": "a1", "recipients": "Ann@Acme.example; bob@acme.example, x@partner.example",
            "senderEnvelope": "n@bad.example.net", "url": "https://bad.example.net/v", "action": "Block"});
        let is_user = |k: &str| k.ends_with("@acme.example");
        let d = detection("C1", &e, &is_user).unwrap();
        let f = &d.finding;
        assert!(f.key.starts_with("mimecast_siem_detection:C1:"), "{}", f.key);
        assert_eq!(f.str("eventTime"), Some("2025-12-02T00:00:00Z"));
        assert_eq!(f.str("severity"), Some("Medium"));
        assert_eq!(f.get("malicious"), Some(&Value::Bool(true)));
        assert_eq!(f.str("senderDomain"), Some("bad.example.net"));
        assert_eq!(f.str("title"), Some("URL Protect: Block https://bad.example.net/v"));
        assert_eq!(
            f.get("recipients"),
            Some(&Value::StrList(
                [
                    "ann@acme.example".into(),
                    "bob@acme.example".into(),
                    "x@partner.example".into()
                ]
                .into()
            ))
        );
        let targets: Vec<&str> = d.links.iter().map(|l| l.from_key()).collect();
        assert_eq!(
            targets,
            ["mimecast_user:C1:ann@acme.example", "mimecast_user:C1:bob@acme.example"]
        );
        assert_eq!(d.unknown, ["x@partner.example"]);
        // The same event read again gives the same key; another time another.
        assert_eq!(detection("C1", &e, &is_user).unwrap().finding.key, f.key);
        let mut later = e.clone();
        later["timestamp"] = json!(1_764_633_600_124_i64);
        assert_ne!(detection("C1", &later, &is_user).unwrap().finding.key, f.key);
    }

    #[test]
    fn severity_follows_the_type_and_tags() {
        let sev = |e: Json| {
            let d = detection("C1", &e, &|_: &str| false).unwrap();
            (
                d.finding.str("severity").unwrap().to_owned(),
                d.finding.get("malicious").cloned(),
            )
        };
        let t = 1_764_633_600_000_i64;
        assert_eq!(
            sev(json!({"type": "av", "timestamp": t})),
            ("High".into(), Some(Value::Bool(true)))
        );
        assert_eq!(
            sev(json!({"type": "impersonation protect", "timestamp": t, "taggedMalicious": "false"})),
            ("Low".into(), Some(Value::Bool(false)))
        );
        assert_eq!(
            sev(json!({"type": "impersonation protect", "timestamp": t.to_string(), "taggedMalicious": "true"})),
            ("High".into(), Some(Value::Bool(true)))
        );
        assert_eq!(
            sev(json!({"type": "url protect", "timestamp": t, "action": "Allow"})).0,
            "High"
        );
        assert_eq!(sev(json!({"type": "spam", "timestamp": t})).0, "Informational");
        assert_eq!(
            detection("C1", &json!({"type": "av"}), &|_: &str| false).err(),
            Some(NotADetection::NoTime)
        );
        assert_eq!(
            detection("C1", &json!({"timestamp": t}), &|_: &str| false).err(),
            Some(NotADetection::NoType)
        );
    }
}
