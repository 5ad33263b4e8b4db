//! The SIEM batch (docs/mimecast-api.md §13.2): `GET /siem/v1/batch/events/cg` lists
//! gzip NDJSON files of one event type, and each file is fetched from its own
//! signed link (as Mimecast's blob links are), with no credentials.
//!
//! Listing: `type` (one of the 10 types), `pageSize` (1 to 100), then either
//! `dateRangeStartsAt` (`YYYY-MM-DD`, at most 7 days back; `dateRangeEndsAt`
//! optional, inclusive) or the `nextPage` token of an earlier answer. The answer is
//! `{"value":[{"url","expiry"}], "@nextPage": token, "isCaughtUp": bool}`; a token
//! points just past the last file listed, so a client that kept it reads only what
//! arrived since (the token of a caught-up answer included). Bearer tokens only
//! (401 otherwise), rate-limited like `/api`, 403 when the tenant's
//! `missing_permissions` names [`PERMISSION`].
//!
//! Files: `GET /siem/files/{type}/{start}-{end}.json.gz?se={expiry}&sig={signature}`,
//! events `[start, end)` of the type in arrival order, at most `siem_events_per_file`
//! per file. A request carrying `Authorization` is refused (400) and counted: a link
//! on another origin must never receive the worker's token. A bad signature or a
//! link past its expiry (or one of the next `siem_expire_next_files`) is 403, a range
//! the tenant does not hold 404.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::api::Answer;
use super::rng::SplitMix64;

/// The listing path.
pub const LISTING_PATH: &str = "/siem/v1/batch/events/cg";
/// Where the file links point.
pub(crate) const FILES_PREFIX: &str = "/siem/files/";
/// The role permission the listing needs.
pub const PERMISSION: &str = "Security Events and Data Retrieval | Threat and Security Events (SIEM) | Read";
/// The ten batch event types.
pub const TYPES: [&str; 10] = crate::config::SIEM_TYPES;
/// How far back a listing may start.
pub const MAX_DAYS_BACK: i64 = 7;

const DAY_MS: i64 = 86_400_000;

/// The events of a tenant by type: `(timestamp ms, line)` in arrival order (by
/// timestamp, ties in tenant order). An event `{"type", "timestamp", "_raw": text}`
/// is served as the line `text` (a corrupt line).
#[derive(Default)]
pub(crate) struct Siem {
    by_type: BTreeMap<String, Vec<(i64, String)>>,
}

fn slug(event_type: &str) -> String {
    event_type.replace(' ', "-")
}

fn from_slug(slug: &str) -> Option<&'static str> {
    TYPES.into_iter().find(|t| t.replace(' ', "-") == slug)
}

/// The timestamp (ms) of an event: a number or a numeric string.
pub(crate) fn event_time(event: &Value) -> Option<i64> {
    match event.get("timestamp")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Siem {
    pub fn new(events: Vec<Value>) -> Siem {
        let mut by_type: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
        for e in events {
            let (Some(t), Some(ts)) = (e.get("type").and_then(Value::as_str), event_time(&e)) else {
                continue;
            };
            let line = match e.get("_raw").and_then(Value::as_str) {
                Some(raw) => raw.to_owned(),
                None => e.to_string(),
            };
            by_type.entry(t.to_owned()).or_default().push((ts, line));
        }
        for list in by_type.values_mut() {
            list.sort_by_key(|(ts, _)| *ts);
        }
        Siem { by_type }
    }

    fn events(&self, event_type: &str) -> &[(i64, String)] {
        self.by_type.get(event_type).map_or(&[], Vec::as_slice)
    }
}

/// What the simulator's options say about the batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub events_per_file: usize,
    pub link_ttl_secs: u64,
    pub seed: u64,
}

fn bad_request(message: &str) -> Answer {
    Answer {
        status: 400,
        body: json!({"fail": [{"code": "bad_request", "message": message}]})
            .to_string()
            .into_bytes(),
    }
}

/// A `nextPage` token: the type, the offset of the next file, the end bound.
fn token(event_type: &str, offset: usize, end: Option<usize>) -> String {
    let end = end.map_or_else(|| "-".to_owned(), |e| e.to_string());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("siem:{event_type}:{offset}:{end}"))
}

fn read_token(text: &str) -> Option<(String, usize, Option<usize>)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.strip_prefix("siem:")?.rsplitn(3, ':');
    let end = parts.next()?;
    let offset = parts.next()?.parse().ok()?;
    let event_type = parts.next()?.to_owned();
    let end = if end == "-" { None } else { Some(end.parse().ok()?) };
    Some((event_type, offset, end))
}

fn day_start_ms(date: &str) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// The signature of a file link.
fn signature(seed: u64, path: &str, expiry: i64) -> String {
    let mut h = Sha256::new();
    h.update(format!("mimecast-sim-siem:{seed}\n{path}\n{expiry}").as_bytes());
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A listing request, answered at `now_ms`; links point at `origin`
/// (`http://host:port`).
pub(crate) fn listing(
    siem: &Siem,
    query: &HashMap<String, String>,
    settings: Settings,
    origin: &str,
    now_ms: i64,
) -> Answer {
    let Some(event_type) = query.get("type").map(|t| t.trim()) else {
        return bad_request("type is required");
    };
    let Some(event_type) = TYPES.into_iter().find(|t| *t == event_type) else {
        return bad_request(&format!("unknown type {event_type:?}"));
    };
    let page_size = match query.get("pageSize").map(|p| p.trim().parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return bad_request("pageSize must be 1 to 100"),
    };
    let events = siem.events(event_type);
    let (offset, end) = match query.get("nextPage").filter(|t| !t.trim().is_empty()) {
        Some(t) => match read_token(t) {
            Some((t, offset, end)) if t == event_type => (offset, end),
            _ => return bad_request("nextPage is not a token of this type"),
        },
        None => {
            let Some(start) = query.get("dateRangeStartsAt").and_then(|d| day_start_ms(d)) else {
                return bad_request("dateRangeStartsAt (YYYY-MM-DD) is required without nextPage");
            };
            let today = now_ms - now_ms.rem_euclid(DAY_MS);
            if start < today - MAX_DAYS_BACK * DAY_MS {
                return bad_request("dateRangeStartsAt is more than 7 days back");
            }
            let end = match query.get("dateRangeEndsAt") {
                None => None,
                Some(d) => match day_start_ms(d) {
                    Some(e) if e >= start => Some(events.partition_point(|(ts, _)| *ts < e + DAY_MS)),
                    _ => return bad_request("dateRangeEndsAt is not a date on or after dateRangeStartsAt"),
                },
            };
            (events.partition_point(|(ts, _)| *ts < start), end)
        }
    };
    let limit = end.unwrap_or(events.len()).min(events.len());
    let per_file = settings.events_per_file.max(1);
    let expiry = now_ms / 1000 + i64::try_from(settings.link_ttl_secs).unwrap_or(i64::MAX / 2);
    let mut value = Vec::new();
    let mut at = offset.min(limit);
    while at < limit && value.len() < page_size {
        let to = (at + per_file).min(limit);
        let path = format!("{FILES_PREFIX}{}/{at}-{to}.json.gz", slug(event_type));
        let sig = signature(settings.seed, &path, expiry);
        value.push(json!({
            "url": format!("{origin}{path}?se={expiry}&sig={sig}"),
            "expiry": crate::time::iso(chrono::DateTime::from_timestamp(expiry, 0).unwrap_or_default()),
        }));
        at = to;
    }
    let body = json!({
        "value": value,
        "@nextPage": token(event_type, at.max(offset), end),
        "isCaughtUp": at >= limit,
    });
    Answer::ok(body.to_string().into_bytes())
}

/// A file request: `path` under [`FILES_PREFIX`], its query, whether the link is to
/// be treated as expired, at `now_ms`.
pub(crate) fn file(
    siem: &Siem,
    path: &str,
    query: &HashMap<String, String>,
    seed: u64,
    expired: bool,
    now_ms: i64,
) -> Answer {
    let forbidden = |m: &str| Answer {
        status: 403,
        body: format!("<Error><Code>AuthenticationFailed</Code><Message>{m}</Message></Error>").into_bytes(),
    };
    let not_found = Answer {
        status: 404,
        body: b"<Error><Code>BlobNotFound</Code></Error>".to_vec(),
    };
    let expiry = query.get("se").and_then(|s| s.parse::<i64>().ok());
    let sig = query.get("sig").map_or("", String::as_str);
    let Some(expiry) = expiry.filter(|e| signature(seed, path, *e) == sig) else {
        return forbidden("Signature did not match");
    };
    if expired || now_ms / 1000 > expiry {
        return forbidden("Signed expiry time has passed");
    }
    let Some((type_slug, range)) = path
        .strip_prefix(FILES_PREFIX)
        .and_then(|rest| rest.strip_suffix(".json.gz"))
        .and_then(|rest| rest.split_once('/'))
    else {
        return not_found;
    };
    let (Some(event_type), Some((start, end))) = (from_slug(type_slug), range.split_once('-')) else {
        return not_found;
    };
    let events = siem.events(event_type);
    let (Ok(start), Ok(end)) = (start.parse::<usize>(), end.parse::<usize>()) else {
        return not_found;
    };
    if start >= end || end > events.len() {
        return not_found;
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for (_, line) in &events[start..end] {
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(line.as_bytes());
        let _ = gz.write_all(b"\n");
    }
    Answer::ok(gz.finish().unwrap_or_default())
}

/// Generates `count` detection events over the 6 days before `until` (seconds):
/// url protect 30%, impersonation protect 25%, attachment protect 20%, av 15%,
/// spam 10%; about one in ten aimed at an outside address. Shapes follow the
/// Elastic integration's samples (docs/mimecast-api.md §13.2).
pub(crate) fn generate(
    rng: &mut SplitMix64,
    count: usize,
    until: i64,
    slug: &str,
    account_code: &str,
    internal: &[&str],
    external: &[&str],
) -> Vec<Value> {
    if count == 0 || internal.is_empty() {
        return Vec::new();
    }
    let pool = (count / 10).clamp(3, 400);
    let senders: Vec<String> = (0..pool).map(|i| format!("{slug}-billing{i}.example.net")).collect();
    let urls: Vec<String> = (0..pool)
        .map(|i| format!("https://{}/verify/{i:04}", senders[(i * 3) % pool]))
        .collect();
    let hashes: Vec<String> = (0..pool).map(|_| super::threats::hex(rng, 32)).collect();
    let span_ms = 6 * DAY_MS;
    let until_ms = until * 1000;
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let ts = until_ms - 1 - i64::try_from(rng.below(span_ms as u64)).unwrap_or(0);
        let roll = rng.below(100);
        let event_type = match roll {
            0..=29 => "url protect",
            30..=54 => "impersonation protect",
            55..=74 => "attachment protect",
            75..=89 => "av",
            _ => "spam",
        };
        let recipient = if !external.is_empty() && rng.chance(0.1) {
            (*rng.pick(external)).to_owned()
        } else {
            (*rng.pick(internal)).to_owned()
        };
        let k = rng.below(pool as u64) as usize;
        let sender_domain = &senders[k];
        let sender = format!("notices@{sender_domain}");
        let message_id = format!("<{}@{sender_domain}>", super::threats::hex(rng, 8));
        let mut e = json!({
            "_offset": n,
            "_partition": 0,
            "accountId": account_code,
            "aggregateId": super::threats::hex(rng, 12),
            "processingId": super::threats::hex(rng, 16),
            "timestamp": ts,
            "type": event_type,
        });
        let extra = match event_type {
            "url protect" => {
                let action = *rng.pick(&["Block", "Block", "Allow", "Warn"]);
                json!({"subtype": "Block", "recipients": recipient, "senderEnvelope": sender,
                       "messageId": message_id, "subject": "Verify your account",
                       "url": urls[k], "urlCategory": "Phishing & Fraud", "action": action,
                       "route": "inbound"})
            }
            "impersonation protect" => {
                let tagged = rng.chance(0.6);
                json!({"subtype": "Impersonation", "recipients": recipient, "senderEnvelope": sender,
                       "senderHeader": format!("CEO <ceo@{sender_domain}>"), "senderDomain": sender_domain,
                       "senderIp": format!("203.0.113.{}", rng.below(250) + 1), "messageId": message_id,
                       "subject": "Urgent wire transfer", "taggedExternal": "true",
                       "taggedMalicious": if tagged { "true" } else { "false" }, "hits": "2",
                       "action": if tagged { "Hold" } else { "None" },
                       "definition": "Default Impersonation Definition"})
            }
            "attachment protect" => json!({"subtype": "Unsafe", "fileName": format!("Invoice_{k}.docm"),
                       "fileExtension": "docm", "md5": super::threats::hex(rng, 16),
                       "sha1": super::threats::hex(rng, 20), "sha256": hashes[k]}),
            "av" => json!({"subtype": "Virus", "recipients": recipient, "senderEnvelope": sender,
                       "senderDomain": sender_domain, "messageId": message_id, "subject": "Remittance",
                       "fileName": format!("Scan_{k}.zip"), "fileExtension": "zip", "sha256": hashes[k],
                       "virusFound": "Troj/Agent-AB", "direction": "Inbound"}),
            _ => json!({"subtype": "Spam", "recipients": recipient, "senderEnvelope": sender,
                       "senderDomain": sender_domain, "messageId": message_id, "subject": "You won"}),
        };
        if let (Some(e), Value::Object(extra)) = (e.as_object_mut(), extra) {
            e.extend(extra);
        }
        out.push(e);
    }
    out
}

#[cfg(test)]
mod tests;
