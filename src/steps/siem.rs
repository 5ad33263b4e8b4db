//! `fetch-siem-detections`: the SIEM batch (docs/mimecast-api.md §13.2), one stream
//! per configured event type (`[connection.siem] types`).
//!
//! A stream with a stored cursor (the `@nextPage` token of the last listing written)
//! continues from it; one without starts `min(threat_lookback_days, 7)` days back (the
//! batch holds 7). The listing is followed until `isCaughtUp`; each file is streamed,
//! decompressed and converted line by line. A corrupt line is counted and sampled
//! (`corrupt_record`) and skipped. An expired file link is fetched again through a
//! fresh listing of the same page once; a link that expires again is counted and
//! its events skipped. A stored token Mimecast refuses (400) restarts the stream
//! from the look-back day. The sync stores the last token once the account is
//! written. A refused listing (403) is unavailable: stored detections stay.

use std::collections::HashSet;

use super::{StepContext, StepError, StepFuture, StreamWindow};
use crate::converters::siem as conv;
use crate::graph::FindingKind;
use crate::mimecast::siem::{shown, FileError, From, Listing};
use crate::mimecast::ApiError;
use crate::schema::{rels, types};

pub const FETCH_SIEM: &str = "fetch-siem-detections";

/// The longest listing followed in one sync, in pages (a loop guard).
const MAX_PAGES: usize = 100_000;

/// The cursor stream of one event type.
pub fn stream(event_type: &str) -> String {
    format!("siem:{}", event_type.replace(' ', "-"))
}

/// What one type's read gave.
#[derive(Default)]
struct Read {
    records: usize,
    corrupt: usize,
    expired: usize,
    token: Option<String>,
}

pub(super) fn fetch(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let cfg = &ctx.connection.siem;
        if !cfg.enabled {
            return Err(StepError::Disabled("[connection.siem] enabled is false".into()));
        }
        let code = ctx.account()?.code;
        let plan = &ctx.tenant.threats;
        let day = crate::time::parse(&plan.now)
            .map(|now| now - chrono::Duration::days(i64::from(plan.lookback_days.min(7))))
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let users: HashSet<String> = ctx.keys_of_type(types::USER);
        let mut seen = HashSet::new();
        let mut windows = Vec::new();
        for event_type in &cfg.types {
            let stream = stream(event_type);
            let stored = plan.cursors.get(&code).and_then(|c| c.get(&stream)).cloned();
            let read = match read_type(ctx, &code, event_type, stored.as_deref(), &day, &users, &mut seen).await {
                Ok(r) => r,
                Err(e) if e.is_unavailable() => {
                    for t in [types::SIEM_DETECTION, rels::USER_RECEIVED_SIEM] {
                        ctx.mark_partial(t, format!("{t} keeps its stored events: the SIEM batch was refused"));
                    }
                    return Err(StepError::Unavailable(e.to_string()));
                }
                Err(e) => return Err(StepError::Failed(e.into())),
            };
            if read.corrupt > 0 {
                ctx.note(format!(
                    "{} corrupt lines skipped in the {event_type:?} files",
                    read.corrupt
                ));
            }
            if read.expired > 0 {
                ctx.note(format!(
                    "{} {event_type:?} files expired again after a fresh listing; their events were skipped",
                    read.expired
                ));
            }
            windows.push(StreamWindow {
                stream,
                entity_type: types::SIEM_DETECTION.to_owned(),
                from: stored.unwrap_or_else(|| day.clone()),
                to: read.token.unwrap_or_default(),
                records: read.records,
            });
        }
        ctx.tenant
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(windows.into_iter().filter(|w| !w.to.is_empty()));
        Ok(())
    })
}

/// Why one type's read stopped.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("the SIEM listing of {0:?} did not catch up within {MAX_PAGES} pages")]
    Endless(String),
}

impl ReadError {
    fn is_unavailable(&self) -> bool {
        matches!(self, ReadError::Api(e) if e.is_unavailable())
    }
}

/// Where a listing starts: a day (the first read, or after a refused token) or the
/// token a listing gave.
#[derive(Debug, PartialEq, Eq)]
enum Position {
    Day(String),
    Token(String),
}

impl Position {
    fn start(&self) -> From<'_> {
        match self {
            Position::Day(d) => From::Day(d),
            Position::Token(t) => From::Token(t),
        }
    }
}

async fn read_type(
    ctx: &StepContext,
    code: &str,
    event_type: &str,
    stored: Option<&str>,
    day: &str,
    users: &HashSet<String>,
    seen: &mut HashSet<String>,
) -> Result<Read, ReadError> {
    let page_size = ctx.connection.siem.page_size;
    let client = &ctx.client;
    let mut read = Read::default();
    let mut at = match stored {
        Some(token) => Position::Token(token.to_owned()),
        None => Position::Day(day.to_owned()),
    };
    for _ in 0..MAX_PAGES {
        let listing: Listing = match client.siem_listing(event_type, page_size, at.start()).await {
            Ok(l) => l,
            Err(ApiError::Fail { .. }) if matches!(at, Position::Token(_)) && read.token.is_none() => {
                ctx.note(format!(
                    "the stored SIEM cursor of {event_type:?} was refused; reading again from {day}"
                ));
                at = Position::Day(day.to_owned());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut relisted: Option<Listing> = None;
        for (i, link) in listing.value.iter().enumerate() {
            let mut url = link.url.clone();
            loop {
                match read_file(ctx, code, event_type, &url, users, seen, &mut read).await {
                    Ok(()) => break,
                    Err(FileError::Expired { .. }) if relisted.is_none() => {
                        let fresh = client.siem_listing(event_type, page_size, at.start()).await?;
                        let next = fresh.value.get(i).map(|l| l.url.clone());
                        relisted = Some(fresh);
                        match next {
                            Some(u) => url = u,
                            None => {
                                read.expired += 1;
                                break;
                            }
                        }
                    }
                    Err(FileError::Expired { link, status }) => {
                        read.expired += 1;
                        ctx.observe(
                            FindingKind::CorruptRecord,
                            types::SIEM_DETECTION,
                            format!("{event_type} file {link}: expired again (HTTP {status}); its events were skipped"),
                        );
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let next = listing.next_page.filter(|t| !t.is_empty());
        if let Some(t) = &next {
            read.token = Some(t.clone());
        }
        match next {
            Some(t) if !listing.caught_up && !listing.value.is_empty() && at != Position::Token(t.clone()) => {
                at = Position::Token(t);
            }
            _ => return Ok(read),
        }
    }
    Err(ReadError::Endless(event_type.to_owned()))
}

/// Streams one file into the graph. Its events are added only once the file has
/// been read to its end: a transfer that breaks is read again from its start (up to
/// the connection's `max_attempts`); one that keeps breaking adds nothing, the step
/// fails and the stream's cursor stays where it was.
async fn read_file(
    ctx: &StepContext,
    code: &str,
    event_type: &str,
    url: &str,
    users: &HashSet<String>,
    seen: &mut HashSet<String>,
    read: &mut Read,
) -> Result<(), FileError> {
    let is_user = |k: &str| users.contains(k);
    let mut attempt = 0;
    let (staged, corrupt) = loop {
        attempt += 1;
        let mut line_no = 0usize;
        let mut staged = Vec::new();
        let mut corrupt = Vec::new();
        let got = ctx
            .client
            .siem_file(url, |line| {
                line_no += 1;
                let parsed = match line {
                    None => Err(format!("longer than {} bytes", crate::mimecast::siem::MAX_LINE_BYTES)),
                    Some(bytes) => serde_json::from_slice::<serde_json::Value>(bytes)
                        .map_err(|e| format!("not JSON ({e})"))
                        .and_then(|event| conv::detection(code, &event, &is_user).map_err(|e| e.to_string())),
                };
                match parsed {
                    Ok(d) => staged.push(d),
                    Err(why) => corrupt.push(format!("{event_type} file {} line {line_no}: {why}", shown(url))),
                }
            })
            .await;
        match got {
            Ok(()) => break (staged, corrupt),
            // A transfer that broke is read again from its start, as often as the
            // connection retries a call.
            Err(e @ FileError::Failed { .. }) => match ctx.client.file_retry_wait(attempt) {
                Some(wait) => {
                    tracing::warn!(link = %shown(url), attempt, error = %e, "retrying a SIEM file");
                    tokio::time::sleep(wait).await;
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    };
    read.records += staged.len();
    read.corrupt += corrupt.len();
    for sample in corrupt {
        ctx.observe(FindingKind::CorruptRecord, types::SIEM_DETECTION, sample);
    }
    for d in staged {
        if !seen.insert(d.finding.key.clone()) {
            continue;
        }
        for address in d.unknown {
            ctx.unknown_participant(rels::USER_RECEIVED_SIEM, format!("{address} (SIEM {event_type})"));
        }
        for link in d.links {
            ctx.add_relationship(link);
        }
        ctx.add_entity(d.finding);
    }
    Ok(())
}
