//! The TTP log steps: one per log (URL clicks, attachments, impersonation), each
//! reading one window of its stream and adding a finding per event linked to the
//! user it targeted; then the shared indicators (URL, file, sender domain).
//!
//! Windows: a stream with a stored cursor (per account and stream, kept in Neo4j by
//! the sync) starts `[sync] threat_overlap_minutes` before it, to catch late events;
//! one without starts `[sync] threat_lookback_days` ago. Both end at the sync's start.
//! The keys make the overlap idempotent. A stream read whole records its window,
//! and the sync advances the cursor to the window's end once the account is written.
//! A refused log (403: no product, or the role lacks the permission) is unavailable:
//! its types are partial (nothing deleted) and the run is partial.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::{Step, StepContext, StepError, StepFuture, StepSpec, FETCH_USERS};
use crate::config::ThreatLog;
use crate::converters::threats::{self as conv, Converted, Skipped};
use crate::mimecast::{all, ApiError};
use crate::schema::{rels, types};

pub const FETCH_TTP_URL: &str = "fetch-ttp-url-logs";
pub const FETCH_TTP_ATTACHMENT: &str = "fetch-ttp-attachment-logs";
pub const FETCH_TTP_IMPERSONATION: &str = "fetch-ttp-impersonation-logs";
pub const BUILD_THREAT_INDICATORS: &str = "build-threat-indicators";

/// Stored cursors: account code, then stream (`ttp-url`, ...), then the ISO time up
/// to which that stream has been written.
pub type Cursors = BTreeMap<String, BTreeMap<String, String>>;

/// Where the TTP log streams of a run read from.
#[derive(Clone, Debug)]
pub struct ThreatPlan {
    /// The end of every window: the start of the run (ISO UTC).
    pub now: String,
    pub lookback_days: u32,
    pub overlap_minutes: u32,
    pub cursors: Cursors,
}

impl Default for ThreatPlan {
    fn default() -> Self {
        let sync = crate::config::SyncConfig::default();
        ThreatPlan {
            now: crate::time::now_iso(),
            lookback_days: sync.threat_lookback_days,
            overlap_minutes: sync.threat_overlap_minutes,
            cursors: Cursors::new(),
        }
    }
}

impl ThreatPlan {
    /// The `(from, to)` window of one stream of one account.
    pub fn window(&self, account: &str, stream: &str) -> (String, String) {
        let Ok(now) = crate::time::parse(&self.now) else {
            return (self.now.clone(), self.now.clone());
        };
        let from = match self
            .cursors
            .get(account)
            .and_then(|c| c.get(stream))
            .and_then(|c| crate::time::parse(c).ok())
        {
            Some(cursor) => cursor - chrono::Duration::minutes(i64::from(self.overlap_minutes)),
            None => now - chrono::Duration::days(i64::from(self.lookback_days)),
        };
        (crate::time::iso(from.min(now)), self.now.clone())
    }
}

/// One stream's window, read whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamWindow {
    pub stream: String,
    /// The finding type the stream fills.
    pub entity_type: String,
    pub from: String,
    pub to: String,
    /// Records read (repeats within the window included).
    pub records: usize,
}

const FINDINGS: &[&str] = &[
    types::URL_CLICK,
    types::ATTACHMENT_THREAT,
    types::IMPERSONATION,
    types::SIEM_DETECTION,
];

/// The TTP log steps, in declaration order.
pub fn threat_steps() -> Vec<Step> {
    vec![
        Step {
            spec: StepSpec {
                id: FETCH_TTP_URL,
                name: "Fetch URL Protection click logs",
                depends_on: &[FETCH_USERS],
                entity_types: &[types::URL_CLICK],
                relationship_types: &[rels::USER_CLICKED_URL],
            },
            run: |ctx| fetch(ctx, ThreatLog::Url),
        },
        Step {
            spec: StepSpec {
                id: FETCH_TTP_ATTACHMENT,
                name: "Fetch Attachment Protection logs",
                depends_on: &[FETCH_USERS],
                entity_types: &[types::ATTACHMENT_THREAT],
                relationship_types: &[rels::USER_RECEIVED_ATTACHMENT],
            },
            run: |ctx| fetch(ctx, ThreatLog::Attachment),
        },
        Step {
            spec: StepSpec {
                id: FETCH_TTP_IMPERSONATION,
                name: "Fetch Impersonation Protection logs",
                depends_on: &[FETCH_USERS],
                entity_types: &[types::IMPERSONATION],
                relationship_types: &[rels::USER_RECEIVED_IMPERSONATION],
            },
            run: |ctx| fetch(ctx, ThreatLog::Impersonation),
        },
        Step {
            spec: StepSpec {
                id: super::siem::FETCH_SIEM,
                name: "Fetch SIEM batch detections",
                depends_on: &[FETCH_USERS],
                entity_types: &[types::SIEM_DETECTION],
                relationship_types: &[rels::USER_RECEIVED_SIEM],
            },
            run: super::siem::fetch,
        },
        Step {
            spec: StepSpec {
                id: BUILD_THREAT_INDICATORS,
                name: "Build the URLs, files and sender domains the threat logs share",
                depends_on: &[
                    FETCH_TTP_URL,
                    FETCH_TTP_ATTACHMENT,
                    FETCH_TTP_IMPERSONATION,
                    super::siem::FETCH_SIEM,
                ],
                entity_types: &[types::URL, types::FILE, types::SENDER_DOMAIN],
                relationship_types: &[
                    rels::URL_CLICK_LINKS_TO_URL,
                    rels::ATTACHMENT_CARRIES_FILE,
                    rels::URL_CLICK_FROM_DOMAIN,
                    rels::ATTACHMENT_FROM_DOMAIN,
                    rels::IMPERSONATION_FROM_DOMAIN,
                    rels::SIEM_LINKS_TO_URL,
                    rels::SIEM_CARRIES_FILE,
                    rels::SIEM_FROM_DOMAIN,
                ],
            },
            run: build_indicators,
        },
    ]
}

/// What each log is called in notes and unknown-participant samples, its finding
/// type and its link type.
fn describe(log: ThreatLog) -> (&'static str, &'static str, &'static str) {
    match log {
        ThreatLog::Url => ("URL click", types::URL_CLICK, rels::USER_CLICKED_URL),
        ThreatLog::Attachment => ("attachment", types::ATTACHMENT_THREAT, rels::USER_RECEIVED_ATTACHMENT),
        ThreatLog::Impersonation => ("impersonation", types::IMPERSONATION, rels::USER_RECEIVED_IMPERSONATION),
    }
}

fn fetch(ctx: &StepContext, log: ThreatLog) -> StepFuture<'_> {
    Box::pin(async move {
        if !ctx.connection.threat_logs.contains(&log) {
            return Err(StepError::Disabled(format!(
                "threat_logs in the configuration leaves out {:?}",
                format!("{log:?}").to_lowercase()
            )));
        }
        let code = ctx.account()?.code;
        let (from, to) = ctx.tenant.threats.window(&code, log.stream());
        let users: HashSet<String> = ctx.keys_of_type(types::USER);
        let is_user = |k: &str| users.contains(k);
        let c = &ctx.client;
        let converted: Result<Vec<Result<Converted, Skipped>>, ApiError> = match log {
            ThreatLog::Url => all(c.ttp_url_logs(&from, &to))
                .await
                .map(|rows| rows.iter().map(|r| conv::url_click(&code, r, &is_user)).collect()),
            ThreatLog::Attachment => all(c.ttp_attachment_logs(&from, &to))
                .await
                .map(|rows| rows.iter().map(|r| conv::attachment(&code, r, &is_user)).collect()),
            ThreatLog::Impersonation => all(c.ttp_impersonation_logs(&from, &to))
                .await
                .map(|rows| rows.iter().map(|r| conv::impersonation(&code, r, &is_user)).collect()),
        };
        let (what, finding_type, link_type) = describe(log);
        let converted = match converted {
            Ok(c) => c,
            Err(e) if e.is_unavailable() => {
                // Stored events stay (events are never deleted for being absent), and
                // the run says the data is incomplete.
                for t in [finding_type, link_type] {
                    ctx.mark_partial(t, format!("{t} keeps its stored events: the {what} log was refused"));
                }
                return Err(StepError::Unavailable(e.to_string()));
            }
            Err(e) => return Err(StepError::Failed(e.into())),
        };
        let records = converted.len();
        let mut seen = HashSet::new();
        let (mut repeated, mut skipped) = (0, Vec::new());
        for c in converted {
            let c = match c {
                Ok(c) => c,
                Err(why) => {
                    skipped.push(why);
                    continue;
                }
            };
            if !seen.insert(c.finding.key.clone()) {
                repeated += 1;
                continue;
            }
            if let Some(address) = c.unknown {
                ctx.unknown_participant(link_type, format!("{address} ({what})"));
            }
            if let Some(link) = c.link {
                ctx.add_relationship(link);
            }
            ctx.add_entity(c.finding);
        }
        if repeated > 0 {
            ctx.note(format!("{repeated} repeated {what} records in the window merged"));
        }
        if !skipped.is_empty() {
            ctx.mark_partial(
                finding_type,
                format!("{} {what} records skipped: {}", skipped.len(), skipped.join("; ")),
            );
            // A window with unreadable records is not recorded: its cursor stays, and
            // the next sync reads the window again.
            return Ok(());
        }
        ctx.tenant
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(StreamWindow {
                stream: log.stream().to_owned(),
                entity_type: finding_type.to_owned(),
                from,
                to,
                records,
            });
        Ok(())
    })
}

fn build_indicators(ctx: &StepContext) -> StepFuture<'_> {
    Box::pin(async move {
        let code = ctx.account()?.code;
        // The findings are read where they are, not copied: a SIEM batch has millions.
        let (nodes, links) = ctx.with_entities_of_types(FINDINGS, |findings| conv::indicators(&code, findings));
        for n in nodes {
            ctx.add_entity(n);
        }
        for l in links {
            ctx.add_relationship(l);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_at_the_cursor_less_the_overlap_or_the_look_back() {
        let mut plan = ThreatPlan {
            now: "2026-12-02T12:00:00Z".into(),
            lookback_days: 7,
            overlap_minutes: 60,
            cursors: Cursors::new(),
        };
        assert_eq!(
            plan.window("C1", "ttp-url"),
            ("2026-11-25T12:00:00Z".to_owned(), "2026-12-02T12:00:00Z".to_owned())
        );
        plan.cursors
            .entry("C1".into())
            .or_default()
            .insert("ttp-url".into(), "2026-12-02T06:30:00Z".into());
        assert_eq!(
            plan.window("C1", "ttp-url"),
            ("2026-12-02T05:30:00Z".to_owned(), "2026-12-02T12:00:00Z".to_owned())
        );
        // Another stream, another account: no cursor.
        assert_eq!(plan.window("C1", "ttp-attachment").0, "2026-11-25T12:00:00Z");
        assert_eq!(plan.window("C2", "ttp-url").0, "2026-11-25T12:00:00Z");
        // A cursor in the future (a clock moved back) never makes from pass to.
        plan.cursors
            .entry("C1".into())
            .or_default()
            .insert("ttp-url".into(), "2026-12-03T00:00:00Z".into());
        assert_eq!(plan.window("C1", "ttp-url").0, "2026-12-02T12:00:00Z");
    }
}
