//! The TTP logs (docs/mimecast-api.md §9.1-9.3): `ttp/url/get-logs` (`clickLogs`),
//! `ttp/attachment/get-logs` (`attachmentLogs`) and `ttp/impersonation/get-logs`
//! (`impersonationLogs`), served from the tenant's `url_logs`, `attachment_logs` and
//! `impersonation_logs`; and the generator of those logs.
//!
//! A request gives a `from`/`to` window (Mimecast's `+0000` form or RFC 3339; the
//! defaults are the start of the current UTC day and now, as documented), inclusive at
//! both ends, `oldestFirst` (default `false`: newest first) and the documented filters
//! (`route` and `scanResult` for URLs, `route` and `result` for attachments,
//! `taggedMalicious`, `searchField` and `query` for impersonation). `data[0]` wraps
//! the page (`{"clickLogs": [...]}`); pages follow the usual `next` token, which
//! carries the window and the filters, so a follow-up may leave `data` out.
//!
//! A tenant whose `missing_permissions` names an endpoint's permission (for example
//! `Monitoring | URL Protection | Read`) is answered 403 there, as a role lacking it
//! would be (the body is the invented `err_forbidden` of §7.2).

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::{json, Map, Value};

use super::api::{bad_token, cursor, envelope, function_failure, paginate, Answer, ApiRequest, Cursor, Endpoint};
use super::rng::SplitMix64;

/// One TTP log stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    Url,
    Attachment,
    Impersonation,
}

impl Stream {
    pub fn of(endpoint: Endpoint) -> Option<Stream> {
        match endpoint {
            Endpoint::TtpUrlLogs => Some(Stream::Url),
            Endpoint::TtpAttachmentLogs => Some(Stream::Attachment),
            Endpoint::TtpImpersonationLogs => Some(Stream::Impersonation),
            _ => None,
        }
    }

    /// The role permission the endpoint needs (docs/mimecast-api.md §6).
    pub fn permission(self) -> &'static str {
        match self {
            Stream::Url => "Monitoring | URL Protection | Read",
            Stream::Attachment => "Monitoring | Attachment Protection | Read",
            Stream::Impersonation => "Monitoring | Impersonation Protection | Read",
        }
    }

    /// The array `data[0]` wraps.
    fn list_name(self) -> &'static str {
        match self {
            Stream::Url => "clickLogs",
            Stream::Attachment => "attachmentLogs",
            Stream::Impersonation => "impersonationLogs",
        }
    }

    /// The field that says when it happened.
    fn time_field(self) -> &'static str {
        match self {
            Stream::Url | Stream::Attachment => "date",
            Stream::Impersonation => "eventTime",
        }
    }
}

/// The seconds since 1970 of a record's time field, if it has a readable one.
pub(crate) fn record_time(stream: Stream, record: &Value) -> Option<i64> {
    let text = record.get(stream.time_field())?.as_str()?;
    crate::time::parse(text).ok().map(|t| t.timestamp())
}

/// One stream's records, oldest first (records without a readable time are left out;
/// [`super::Tenant::validate`] names them).
#[derive(Default)]
pub(crate) struct Logs(Vec<(i64, Value)>);

impl Logs {
    pub fn new(stream: Stream, records: Vec<Value>) -> Logs {
        let mut timed: Vec<(i64, Value)> = records
            .into_iter()
            .filter_map(|r| record_time(stream, &r).map(|t| (t, r)))
            .collect();
        timed.sort_by_key(|(t, _)| *t);
        Logs(timed)
    }
}

/// The three streams of a tenant.
#[derive(Default)]
pub(crate) struct ThreatLogs {
    pub url: Logs,
    pub attachment: Logs,
    pub impersonation: Logs,
}

impl ThreatLogs {
    fn of(&self, stream: Stream) -> &Logs {
        match stream {
            Stream::Url => &self.url,
            Stream::Attachment => &self.attachment,
            Stream::Impersonation => &self.impersonation,
        }
    }
}

/// What a request asks for; its text form is what page tokens carry.
#[derive(Debug, PartialEq, Eq)]
struct Query {
    from: i64,
    to: i64,
    oldest_first: bool,
    /// `route` (URL, attachment) or `searchField` (impersonation); empty for all.
    field: String,
    /// `scanResult` (URL), `result` (attachment) or the search `query`; empty for all.
    value: String,
    /// Impersonation's `taggedMalicious`: `t`, `f` or empty.
    tagged: String,
}

impl Query {
    fn text(&self) -> String {
        // The free-text parts go last, in JSON, so any character survives.
        let rest = json!([self.field, self.value, self.tagged]).to_string();
        format!("{},{},{},{rest}", self.from, self.to, u8::from(self.oldest_first))
    }

    fn parse(text: &str) -> Option<Query> {
        let mut parts = text.splitn(4, ',');
        let from = parts.next()?.parse().ok()?;
        let to = parts.next()?.parse().ok()?;
        let oldest_first = parts.next()? == "1";
        let rest: Vec<String> = serde_json::from_str(parts.next()?).ok()?;
        let [field, value, tagged] = <[String; 3]>::try_from(rest).ok()?;
        Some(Query {
            from,
            to,
            oldest_first,
            field,
            value,
            tagged,
        })
    }

    /// From a request's `data[0]`; the message names the bad field.
    fn from_request(stream: Stream, p: &Value, now: DateTime<Utc>) -> Result<Query, String> {
        let time = |key: &str, default: i64| -> Result<i64, String> {
            match p.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(default),
                Some(Value::String(s)) => crate::time::parse(s)
                    .map(|t| t.timestamp())
                    .map_err(|_| format!("{key} is not a date-time: {s:?}")),
                Some(other) => Err(format!("{key} is not a date-time: {other}")),
            }
        };
        let start_of_day = now.timestamp() - now.timestamp().rem_euclid(86_400);
        let from = time("from", start_of_day)?;
        let to = time("to", now.timestamp())?;
        if from > to {
            return Err("from is after to".into());
        }
        let oldest_first = match p.get("oldestFirst") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(format!("oldestFirst is not a boolean: {other}")),
        };
        let word = |key: &str, allowed: &[&str]| -> Result<String, String> {
            match p.get(key).and_then(Value::as_str).map(str::trim) {
                None | Some("") => Ok(String::new()),
                Some(v) if allowed.is_empty() || allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) => {
                    Ok(if v.eq_ignore_ascii_case("all") {
                        String::new()
                    } else {
                        v.to_ascii_lowercase()
                    })
                }
                Some(v) => Err(format!("{key} {v:?} is not one of {}", allowed.join(", "))),
            }
        };
        const ROUTES: &[&str] = &["all", "inbound", "outbound", "internal"];
        let (field, value, tagged) = match stream {
            Stream::Url => (
                word("route", ROUTES)?,
                word("scanResult", &["all", "clean", "malicious"])?,
                String::new(),
            ),
            Stream::Attachment => (word("route", ROUTES)?, word("result", &[])?, String::new()),
            Stream::Impersonation => {
                let field = word(
                    "searchField",
                    &["all", "senderAddress", "recipientAddress", "subject", "policy"],
                )?;
                let query = p
                    .get("query")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .to_lowercase();
                let tagged = match p.get("taggedMalicious") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::Bool(b)) => if *b { "t" } else { "f" }.to_owned(),
                    Some(other) => return Err(format!("taggedMalicious is not a boolean: {other}")),
                };
                (field, query, tagged)
            }
        };
        Ok(Query {
            from,
            to,
            oldest_first,
            field,
            value,
            tagged,
        })
    }

    fn matches(&self, stream: Stream, r: &Value) -> bool {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        match stream {
            Stream::Url => {
                (self.field.is_empty() || s("route").eq_ignore_ascii_case(&self.field))
                    && (self.value.is_empty() || s("scanResult").eq_ignore_ascii_case(&self.value))
            }
            Stream::Attachment => {
                (self.field.is_empty() || s("route").eq_ignore_ascii_case(&self.field))
                    && (self.value.is_empty() || s("result").eq_ignore_ascii_case(&self.value))
            }
            Stream::Impersonation => {
                let tagged = r.get("taggedMalicious").and_then(Value::as_bool);
                let tag_ok = match self.tagged.as_str() {
                    "t" => tagged == Some(true),
                    "f" => tagged == Some(false),
                    _ => true,
                };
                let fields: &[&str] = match self.field.as_str() {
                    "senderaddress" => &["senderAddress"],
                    "recipientaddress" => &["recipientAddress"],
                    "subject" => &["subject"],
                    "policy" => &["definition"],
                    _ => &["senderAddress", "recipientAddress", "subject", "definition"],
                };
                tag_ok && (self.value.is_empty() || fields.iter().any(|f| s(f).to_lowercase().contains(&self.value)))
            }
        }
    }
}

/// Answers one TTP log call.
pub(crate) fn answer(logs: &ThreatLogs, endpoint: Endpoint, req: &ApiRequest, now: DateTime<Utc>) -> Answer {
    let Some(stream) = Stream::of(endpoint) else {
        return Answer::error(404, "err_not_found", "Not Found", false);
    };
    let mut invalid = None;
    let (offset, text) = match cursor(req, endpoint, || {
        let empty = Value::Object(Map::new());
        match Query::from_request(stream, req.first().unwrap_or(&empty), now) {
            Ok(q) => q.text(),
            Err(e) => {
                invalid = Some(e);
                String::new()
            }
        }
    }) {
        Cursor::At(o, t) => (o, t),
        Cursor::BadToken => return bad_token(req),
    };
    if let Some(message) = invalid {
        return function_failure(req.first(), "err_validation_invalid", &message);
    }
    let Some(query) = Query::parse(&text) else {
        return bad_token(req);
    };
    let all = &logs.of(stream).0;
    let lo = all.partition_point(|(t, _)| *t < query.from);
    let hi = all.partition_point(|(t, _)| *t <= query.to);
    let mut selected: Vec<&Value> = all[lo..hi]
        .iter()
        .map(|(_, r)| r)
        .filter(|r| query.matches(stream, r))
        .collect();
    if !query.oldest_first {
        selected.reverse();
    }
    let (range, pagination) = paginate(selected.len(), offset, req.page_size(), endpoint, &text);
    let page: Vec<Value> = selected[range].iter().map(|r| (*r).clone()).collect();
    let mut wrapper = Map::new();
    wrapper.insert(stream.list_name().to_owned(), Value::Array(page));
    Answer::ok(envelope(
        200,
        Some(pagination),
        vec![Value::Object(wrapper)],
        Vec::new(),
    ))
}

// ---- generation --------------------------------------------------------------------

/// Generated threat logs: `count` records of each stream, over the 14 days before
/// `until` (seconds since 1970), aimed at `internal` addresses (about 90%) and at
/// `external` ones, from a small pool of sender domains, URLs and files shared between
/// events so that one indicator has several victims.
pub(crate) struct Generated {
    pub url: Vec<Value>,
    pub attachment: Vec<Value>,
    pub impersonation: Vec<Value>,
}

const LURES: &[&str] = &[
    "Your mailbox is almost full",
    "Invoice overdue: action required",
    "Shared document: Q3 bonus plan",
    "Payroll update",
    "Voicemail received",
    "Unusual sign-in activity",
];

const DEFINITION_URL: &str = "Default URL Protection Definition";
const DEFINITION_ATTACHMENT: &str = "Inbound - Safe file with On-Demand Sandbox";
const DEFINITION_IMPERSONATION: &str = "Default Impersonation Definition";

/// Mimecast's date form for seconds since 1970.
fn mimecast_date(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%S+0000").to_string())
}

pub(crate) fn hex(rng: &mut SplitMix64, bytes: usize) -> String {
    (0..bytes.div_ceil(8))
        .map(|_| format!("{:016x}", rng.next_u64()))
        .collect::<String>()[..bytes * 2]
        .to_owned()
}

fn ip(rng: &mut SplitMix64) -> String {
    // 198.51.100.0/24 (TEST-NET-2): documentation addresses only.
    format!("198.51.100.{}", rng.range(1, 255))
}

/// Generates the logs. `slug` is the company's short name, for look-alike domains.
pub(crate) fn generate(
    rng: &mut SplitMix64,
    count: usize,
    until: i64,
    slug: &str,
    internal: &[&str],
    external: &[&str],
) -> Generated {
    let mut out = Generated {
        url: Vec::with_capacity(count),
        attachment: Vec::with_capacity(count),
        impersonation: Vec::with_capacity(count),
    };
    if count == 0 || (internal.is_empty() && external.is_empty()) {
        return out;
    }
    let pool = (count / 8).clamp(3, 500);
    let senders: Vec<String> = (0..pool)
        .map(|i| match i % 3 {
            0 => format!("{slug}-payroll{i}.example.net"),
            1 => format!("secure-docs{i}.example.org"),
            _ => format!("{slug}{i}-support.example.info"),
        })
        .collect();
    let urls: Vec<String> = (0..pool)
        .map(|i| format!("https://{}/login/{}", senders[(i * 7) % pool], hex(rng, 4)))
        .collect();
    let files: Vec<(String, String, &str)> = (0..pool)
        .map(|i| {
            let (name, kind) = match i % 3 {
                0 => (
                    format!("Invoice_{:05}.pdf.exe", rng.below(100_000)),
                    "Windows Executable",
                ),
                1 => (format!("Remittance_{i}.docm"), "Microsoft Word Macro-Enabled Document"),
                _ => (format!("Scan_{i}.zip"), "Zip Archive"),
            };
            (name, hex(rng, 32), kind)
        })
        .collect();
    let target = |rng: &mut SplitMix64| -> String {
        if external.is_empty() || (!internal.is_empty() && rng.chance(0.9)) {
            (*rng.pick(internal)).to_owned()
        } else {
            (*rng.pick(external)).to_owned()
        }
    };
    let when = |rng: &mut SplitMix64| until - rng.below(14 * 86_400) as i64;
    let message_id = |rng: &mut SplitMix64, sender: &str| format!("<{}@{sender}>", hex(rng, 8));
    for _ in 0..count {
        let clicker = target(rng);
        let s = rng.below(pool as u64) as usize;
        let malicious = rng.chance(0.4);
        let (action, user_override) = if !malicious {
            ("allow", "None")
        } else if rng.chance(0.2) {
            ("warn", if rng.chance(0.5) { "Continue" } else { "None" })
        } else {
            ("block", "None")
        };
        let url = if malicious {
            urls[s].clone()
        } else {
            format!("https://www.example.com/news/{}", rng.below(50))
        };
        let sender = format!("notifications@{}", senders[s]);
        out.url.push(json!({
            "category": if malicious { *rng.pick(&["Phishing & Fraud", "Malware"]) } else { "Computers & Technology" },
            "userEmailAddress": clicker,
            "fromUserEmailAddress": sender,
            "url": url,
            "userAwarenessAction": "NA",
            "route": if rng.chance(0.9) { "inbound" } else { "internal" },
            "adminOverride": "N/A",
            "date": mimecast_date(when(rng)),
            "scanResult": if malicious { "malicious" } else { "clean" },
            "action": action,
            "ttpDefinition": DEFINITION_URL,
            "userOverride": user_override,
            "emailPartsDescription": ["Body"],
            "messageId": message_id(rng, &senders[s]),
            "subject": *rng.pick(LURES),
            "sendingIp": ip(rng),
        }));
    }
    for _ in 0..count {
        let recipient = target(rng);
        let s = rng.below(pool as u64) as usize;
        let roll = rng.next_f64();
        let (result, action, details) = if roll < 0.5 {
            (
                "malicious",
                "sandbox, block",
                "Malicious \r\nTime taken: 0 hrs, 0 min, 41 sec",
            )
        } else if roll < 0.95 {
            ("safe", "user release, none", "Safe \r\nTime taken: 0 hrs, 0 min, 7 sec")
        } else {
            (
                "timeout",
                "sandbox, hold",
                "Timeout \r\nTime taken: 0 hrs, 5 min, 0 sec",
            )
        };
        let (name, hash, kind) = &files[s];
        out.attachment.push(json!({
            "result": result,
            "date": mimecast_date(when(rng)),
            "senderAddress": format!("accounts@{}", senders[s]),
            "recipientAddress": recipient,
            "fileName": name,
            "fileType": kind,
            "fileHash": hash,
            "actionTriggered": action,
            "route": "inbound",
            "details": details,
            "messageId": message_id(rng, &senders[s]),
            "subject": *rng.pick(LURES),
            "definition": DEFINITION_ATTACHMENT,
        }));
    }
    for _ in 0..count {
        let recipient = target(rng);
        let s = rng.below(pool as u64) as usize;
        let tagged_malicious = rng.chance(0.7);
        let identifiers: Vec<&str> = [
            "similar_internal_domain",
            "newly_observed_domain",
            "internal_user_name",
            "reply_address_mismatch",
        ]
        .into_iter()
        .filter(|_| rng.chance(0.5))
        .collect();
        out.impersonation.push(json!({
            "id": format!("MTOKEN:{}", super::generate::secure_id(rng, "eNq")),
            "action": if tagged_malicious { "Hold" } else { "None" },
            "definition": DEFINITION_IMPERSONATION,
            "eventTime": mimecast_date(when(rng)),
            "hits": identifiers.len().max(1),
            "identifiers": identifiers,
            "impersonationResults": [{"impersonationDomainSource": "lookalike", "similarDomain": senders[s], "checkerResult": if tagged_malicious { "hit" } else { "none" }}],
            "messageId": message_id(rng, &senders[s]),
            "recipientAddress": recipient,
            "senderAddress": format!("ceo.office@{}", senders[s]),
            "senderIpAddress": ip(rng),
            "subject": *rng.pick(&["Urgent wire transfer", "Are you at your desk?", "Gift cards for the team"]),
            "taggedExternal": true,
            "taggedMalicious": tagged_malicious,
        }));
    }
    out
}

#[cfg(test)]
mod tests;
