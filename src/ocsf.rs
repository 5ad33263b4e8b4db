//! OCSF export of the findings: one Detection Finding (class 2004, category 2
//! Findings, OCSF 1.3) per TTP event of a collection, for SIEMs and data lakes
//! (`collect --out DIR` writes `DIR/findings.ocsf.jsonl`, one event per line).
//!
//! Every event carries the class's required attributes (`activity_id`,
//! `category_uid`, `class_uid`, `finding_info` with `uid` and `title`, `metadata`
//! with `product` and `version`, `severity_id`, `time`, `type_uid`), the captions
//! beside them, `status_id` New, the observables (the target's and the sender's
//! addresses, the URL, the file name and hash, the sending IP) and, under
//! `unmapped`, the Mimecast fields as the graph stores them.

use std::io::Write;

use serde_json::{json, Map, Value as Json};

use crate::converters::threats::{OCSF_CATEGORY_UID, OCSF_CLASS_UID};
use crate::graph::{Element as _, Entity, GraphStore, Value};
use crate::schema::types;

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// OCSF observable `type_id`s used here.
const OBSERVABLE_IP: i64 = 2;
const OBSERVABLE_EMAIL: i64 = 5;
const OBSERVABLE_URL: i64 = 6;
const OBSERVABLE_FILE_NAME: i64 = 7;
const OBSERVABLE_HASH: i64 = 8;

fn json_of(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) => json!(s),
        Value::StrList(l) => json!(l),
    }
}

/// What each finding type is called in `finding_info.types`, and the properties that
/// name its observables.
fn kind(entity_type: &str) -> Option<(&'static str, &'static [(&'static str, i64)])> {
    Some(match entity_type {
        types::URL_CLICK => (
            "URL Protection click",
            &[
                ("userEmailAddress", OBSERVABLE_EMAIL),
                ("fromUserEmailAddress", OBSERVABLE_EMAIL),
                ("url", OBSERVABLE_URL),
                ("sendingIp", OBSERVABLE_IP),
            ],
        ),
        types::ATTACHMENT_THREAT => (
            "Attachment Protection result",
            &[
                ("recipientAddress", OBSERVABLE_EMAIL),
                ("senderAddress", OBSERVABLE_EMAIL),
                ("fileName", OBSERVABLE_FILE_NAME),
                ("fileHash", OBSERVABLE_HASH),
            ],
        ),
        types::IMPERSONATION => (
            "Impersonation Protection hit",
            &[
                ("recipientAddress", OBSERVABLE_EMAIL),
                ("senderAddress", OBSERVABLE_EMAIL),
                ("senderIpAddress", OBSERVABLE_IP),
            ],
        ),
        types::SIEM_DETECTION => (
            "SIEM detection",
            &[
                ("senderAddress", OBSERVABLE_EMAIL),
                ("url", OBSERVABLE_URL),
                ("fileName", OBSERVABLE_FILE_NAME),
                ("fileHash", OBSERVABLE_HASH),
                ("senderIp", OBSERVABLE_IP),
            ],
        ),
        _ => return None,
    })
}

/// The Detection Finding of one finding entity; `None` for any other entity.
pub fn detection_finding(e: &Entity) -> Option<Json> {
    let (finding_type, observables) = kind(e.entity_type)?;
    let int = |k: &str| match e.get(k) {
        Some(Value::Int(i)) => *i,
        _ => 0,
    };
    let text = |k: &str| e.str(k).unwrap_or_default().to_owned();
    let activity = int("activityId");
    let time = int("time");
    let observed: Vec<Json> = observables
        .iter()
        .filter_map(|(k, type_id)| e.str(k).map(|v| json!({"name": k, "type_id": type_id, "value": v})))
        .collect();
    let unmapped: Map<String, Json> = e
        .properties
        .iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| (k.to_owned(), json_of(v)))
        .collect();
    Some(json!({
        "class_uid": OCSF_CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": OCSF_CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity,
        "activity_name": if activity == 1 { "Create" } else { "Other" },
        "type_uid": OCSF_CLASS_UID * 100 + activity,
        "type_name": format!("Detection Finding: {}", if activity == 1 { "Create" } else { "Other" }),
        "time": time,
        "severity_id": int("severityId"),
        "severity": text("severity"),
        "status_id": 1,
        "status": "New",
        "message": text("title"),
        "finding_info": {
            "uid": text("findingUid"),
            "title": text("title"),
            "types": [finding_type],
            "created_time": time,
        },
        "metadata": {
            "version": OCSF_VERSION,
            "uid": e.key,
            "tenant_uid": text("accountCode"),
            "product": {"name": text("product"), "vendor_name": "Mimecast"},
        },
        "observables": observed,
        "unmapped": unmapped,
    }))
}

/// Writes one Detection Finding per finding of `store`, sorted by key. Returns how
/// many were written.
///
/// # Errors
/// Writing fails.
pub fn write_jsonl(store: &GraphStore, out: &mut dyn Write) -> std::io::Result<usize> {
    let mut findings: Vec<&Entity> = store.entities().filter(|e| kind(e.entity_type).is_some()).collect();
    findings.sort_by(|a, b| a.key.cmp(&b.key));
    let mut n = 0;
    for e in findings {
        if let Some(event) = detection_finding(e) {
            serde_json::to_writer(&mut *out, &event)?;
            out.write_all(b"\n")?;
            n += 1;
        }
    }
    Ok(n)
}
