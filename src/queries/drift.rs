//! Drift between two recorded syncs of an account, as Cartography's drift detection
//! reports it: per rule, the findings that are new in the later sync and the ones
//! resolved since the earlier one. A finding is known by its identity, the values of
//! the rule's `// identity:` columns, which each sync keeps in its history record
//! (`crate::sink::SyncRun::finding_ids`). `queries diff` prints it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value as Json;

use crate::sink::{RuleFindings, Sink, SinkError, SyncRun};

/// `--since`: a recorded sync, or a moment (the newest sync that started at or before it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Since {
    Sync(String),
    Time(DateTime<Utc>),
}

impl Since {
    /// `2024-05-01` (midnight UTC), an ISO 8601 date-time, or else a sync id.
    pub fn parse(text: &str) -> Since {
        let t = text.trim();
        if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Since::Time(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
        }
        match crate::time::parse(t) {
            Ok(when) => Since::Time(when),
            Err(_) => Since::Sync(t.to_owned()),
        }
    }
}

/// Why an account has nothing to compare.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unpicked {
    #[error("no sync of account {0} recorded its findings")]
    NoRun(String),
    #[error("account {account} has one sync that recorded its findings ({sync_id}); the next sync gives something to compare")]
    OnlyOne { account: String, sync_id: String },
    #[error(
        "sync {sync_id} of account {account} is not recorded (`mimecast-graph history --account {account}` lists them)"
    )]
    UnknownSync { account: String, sync_id: String },
    #[error("sync {sync_id} of account {account} recorded no finding identities (status {status}: a failed sync, or one recorded before identities were)")]
    NoIds {
        account: String,
        sync_id: String,
        status: String,
    },
    #[error("no sync of account {account} that recorded its findings started on or before {since}; the oldest started {oldest}")]
    NothingBefore {
        account: String,
        since: String,
        oldest: String,
    },
}

impl Unpicked {
    pub fn account(&self) -> &str {
        match self {
            Unpicked::NoRun(account)
            | Unpicked::OnlyOne { account, .. }
            | Unpicked::UnknownSync { account, .. }
            | Unpicked::NoIds { account, .. }
            | Unpicked::NothingBefore { account, .. } => account,
        }
    }

    /// True when `--since` named something the history does not hold, rather than the
    /// history being too short yet.
    pub fn is_since(&self) -> bool {
        matches!(
            self,
            Unpicked::UnknownSync { .. } | Unpicked::NoIds { .. } | Unpicked::NothingBefore { .. }
        )
    }
}

/// One end of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    pub sync_id: String,
    pub started_on: String,
    pub status: String,
}

impl From<&SyncRun> for RunRef {
    fn from(r: &SyncRun) -> RunRef {
        RunRef {
            sync_id: r.sync_id.clone(),
            started_on: r.started_on.clone(),
            status: r.status.clone(),
        }
    }
}

/// Whether a rule's findings could be compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compared {
    /// Both syncs recorded it with the same identity columns.
    Yes,
    /// Only the later sync recorded it (a new rule, or it failed in the earlier one).
    NotInEarlier,
    /// Only the earlier sync recorded it (a rule removed, or it failed in the later one).
    NotInLater,
    /// Its identity columns changed between the two, so identities do not compare.
    IdentityChanged,
    /// One side kept only the number of its findings (more than `[sync]
    /// history_finding_ids_max`), so identities do not compare.
    TooMany,
}

/// One rule between two syncs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleDrift {
    pub id: String,
    pub compared: Compared,
    /// The identity columns (of the later sync when it has the rule).
    pub identity: Vec<String>,
    pub from_version: Option<u32>,
    pub to_version: Option<u32>,
    /// Findings in the earlier and in the later sync.
    pub from_findings: Option<usize>,
    pub to_findings: Option<usize>,
    /// In the later sync and not in the earlier one, sorted.
    pub new: Vec<Vec<Json>>,
    /// In the earlier sync and not in the later one, sorted.
    pub resolved: Vec<Vec<Json>>,
}

/// One account's drift from one sync to a later one.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDrift {
    pub account: String,
    pub from: RunRef,
    pub to: RunRef,
    /// By rule id.
    pub rules: Vec<RuleDrift>,
}

impl AccountDrift {
    pub fn new_count(&self) -> usize {
        self.rules.iter().map(|r| r.new.len()).sum()
    }

    pub fn resolved_count(&self) -> usize {
        self.rules.iter().map(|r| r.resolved.len()).sum()
    }
}

/// The two runs to compare among an account's runs (newest first): the latest that
/// recorded finding identities, and `since` or else the one before it.
///
/// # Errors
/// [`Unpicked`] says why there is nothing to compare.
pub fn pick<'a>(
    account: &str,
    runs: &'a [SyncRun],
    since: Option<&Since>,
) -> Result<(&'a SyncRun, &'a SyncRun), Unpicked> {
    let mut comparable = runs.iter().filter(|r| r.has_finding_ids);
    let latest = comparable.next().ok_or_else(|| Unpicked::NoRun(account.to_owned()))?;
    let from = match since {
        None => comparable.next().ok_or_else(|| Unpicked::OnlyOne {
            account: account.to_owned(),
            sync_id: latest.sync_id.clone(),
        })?,
        Some(Since::Sync(id)) => {
            let run = runs
                .iter()
                .find(|r| &r.sync_id == id)
                .ok_or_else(|| Unpicked::UnknownSync {
                    account: account.to_owned(),
                    sync_id: id.clone(),
                })?;
            if !run.has_finding_ids {
                return Err(Unpicked::NoIds {
                    account: account.to_owned(),
                    sync_id: id.clone(),
                    status: run.status.clone(),
                });
            }
            run
        }
        Some(Since::Time(when)) => {
            let started = |r: &SyncRun| crate::time::parse(&r.started_on).ok();
            let mut all = runs.iter().filter(|r| r.has_finding_ids);
            all.find(|r| started(r).is_some_and(|s| s <= *when))
                .ok_or_else(|| Unpicked::NothingBefore {
                    account: account.to_owned(),
                    since: crate::time::iso(*when),
                    oldest: runs
                        .iter()
                        .rfind(|r| r.has_finding_ids)
                        .map_or_else(String::new, |r| r.started_on.clone()),
                })?
        }
    };
    Ok((from, latest))
}

/// Each rule recorded by either side, by id: what is new in `to` and what `from` had
/// that `to` no longer has.
pub fn compare(from: &BTreeMap<String, RuleFindings>, to: &BTreeMap<String, RuleFindings>) -> Vec<RuleDrift> {
    let ids: BTreeSet<&String> = from.keys().chain(to.keys()).collect();
    ids.into_iter()
        .map(|id| {
            let (f, t) = (from.get(id), to.get(id));
            let compared = match (f, t) {
                (Some(f), Some(t)) if f.capped.is_some() || t.capped.is_some() => Compared::TooMany,
                (Some(f), Some(t)) if f.identity == t.identity => Compared::Yes,
                (Some(_), Some(_)) => Compared::IdentityChanged,
                (None, _) => Compared::NotInEarlier,
                (_, None) => Compared::NotInLater,
            };
            let (new, resolved) = match (f, t) {
                (Some(f), Some(t)) if compared == Compared::Yes => (minus(&t.ids, &f.ids), minus(&f.ids, &t.ids)),
                _ => (Vec::new(), Vec::new()),
            };
            RuleDrift {
                id: id.clone(),
                compared,
                identity: t.or(f).map(|r| r.identity.clone()).unwrap_or_default(),
                from_version: f.map(|r| r.version),
                to_version: t.map(|r| r.version),
                from_findings: f.map(RuleFindings::count),
                to_findings: t.map(RuleFindings::count),
                new,
                resolved,
            }
        })
        .collect()
}

/// The identities of `a` that `b` lacks, in `a`'s order.
fn minus(a: &[Vec<Json>], b: &[Vec<Json>]) -> Vec<Vec<Json>> {
    let key = |id: &Vec<Json>| Json::from(id.clone()).to_string();
    let b: BTreeSet<String> = b.iter().map(key).collect();
    a.iter().filter(|id| !b.contains(&key(id))).cloned().collect()
}

/// The drift of each account (of `account`, or of every account with recorded syncs,
/// by code): a comparison, or why there is none.
///
/// # Errors
/// Reading the history fails.
pub async fn drift(
    sink: &Sink,
    account: Option<&str>,
    since: Option<&Since>,
) -> Result<Vec<Result<AccountDrift, Unpicked>>, SinkError> {
    let mut by_account: BTreeMap<String, Vec<SyncRun>> = BTreeMap::new();
    if let Some(a) = account {
        by_account.insert(a.to_owned(), Vec::new());
    }
    for run in sink.runs(account, usize::MAX).await? {
        by_account.entry(run.account.clone()).or_default().push(run);
    }
    let mut out = Vec::with_capacity(by_account.len());
    for (code, runs) in &by_account {
        let (from, to) = match pick(code, runs, since) {
            Ok(pair) => pair,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        let before = sink.run_finding_ids(code, &from.sync_id).await?.unwrap_or_default();
        let after = sink.run_finding_ids(code, &to.sync_id).await?.unwrap_or_default();
        out.push(Ok(AccountDrift {
            account: code.clone(),
            from: from.into(),
            to: to.into(),
            rules: compare(&before, &after),
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, started: &str, ids: bool) -> SyncRun {
        SyncRun {
            account: "C1".into(),
            sync_id: id.into(),
            started_on: started.into(),
            status: if ids { "success" } else { "failed" }.into(),
            has_finding_ids: ids,
            ..SyncRun::default()
        }
    }

    fn picked(runs: &[SyncRun], since: Option<&str>) -> Result<(String, String), Unpicked> {
        let since = since.map(Since::parse);
        pick("C1", runs, since.as_ref()).map(|(f, t)| (f.sync_id.clone(), t.sync_id.clone()))
    }

    #[test]
    fn since_reads_a_date_a_date_time_or_a_sync_id() {
        let at = |s: &str| Since::Time(crate::time::parse(s).unwrap());
        assert_eq!(Since::parse("2024-05-02"), at("2024-05-02T00:00:00Z"));
        assert_eq!(Since::parse("2024-05-02T11:00:00+02:00"), at("2024-05-02T09:00:00Z"));
        assert_eq!(
            Since::parse(" 6f1c2a9e-1b7e-4c1a-9d3e-2f4b5a6c7d8e "),
            Since::Sync("6f1c2a9e-1b7e-4c1a-9d3e-2f4b5a6c7d8e".into())
        );
    }

    #[test]
    fn the_latest_is_compared_with_the_previous_or_the_one_since_names() {
        // Newest first; s3 failed and recorded no identities.
        let runs = [
            run("s4", "2024-05-04T09:00:00Z", true),
            run("s3", "2024-05-03T09:00:00Z", false),
            run("s2", "2024-05-02T09:00:00Z", true),
            run("s1", "2024-05-01T09:00:00Z", true),
        ];
        let pair = |f: &str, t: &str| Ok((f.to_owned(), t.to_owned()));
        assert_eq!(picked(&runs, None), pair("s2", "s4"));
        assert_eq!(picked(&runs, Some("s1")), pair("s1", "s4"));
        assert_eq!(picked(&runs, Some("2024-05-02T09:00:00Z")), pair("s2", "s4"));
        assert_eq!(picked(&runs, Some("2024-05-02")), pair("s1", "s4"));
        assert_eq!(picked(&runs, Some("2024-06-01")), pair("s4", "s4"));
        assert_eq!(
            picked(&runs, Some("s3")).unwrap_err().to_string(),
            "sync s3 of account C1 recorded no finding identities (status failed: a failed sync, or one recorded before identities were)"
        );
        assert_eq!(
            picked(&runs, Some("s9")).unwrap_err().to_string(),
            "sync s9 of account C1 is not recorded (`mimecast-graph history --account C1` lists them)"
        );
        assert_eq!(
            picked(&runs, Some("2024-04-30")).unwrap_err().to_string(),
            "no sync of account C1 that recorded its findings started on or before 2024-04-30T00:00:00Z; the oldest started 2024-05-01T09:00:00Z"
        );
        assert_eq!(
            picked(&runs[..2], None).unwrap_err(),
            Unpicked::OnlyOne {
                account: "C1".into(),
                sync_id: "s4".into()
            }
        );
        assert_eq!(picked(&runs[1..2], None).unwrap_err(), Unpicked::NoRun("C1".into()));
    }

    fn findings(version: u32, identity: &[&str], ids: &[&[&str]]) -> RuleFindings {
        RuleFindings {
            version,
            identity: identity.iter().map(|s| (*s).to_owned()).collect(),
            ids: ids
                .iter()
                .map(|id| id.iter().map(|v| Json::from(*v)).collect())
                .collect(),
            capped: None,
        }
    }

    #[test]
    fn new_and_resolved_findings_per_rule() {
        let from = BTreeMap::from([
            ("a".to_owned(), findings(1, &["email"], &[&["ann@x"], &["bob@x"]])),
            ("b".to_owned(), findings(1, &["email"], &[&["ann@x"]])),
            ("gone".to_owned(), findings(1, &["email"], &[&["ann@x"]])),
        ]);
        let to = BTreeMap::from([
            ("a".to_owned(), findings(2, &["email"], &[&["bob@x"], &["cat@x"]])),
            (
                "b".to_owned(),
                findings(1, &["email", "category"], &[&["ann@x", "hipaa"]]),
            ),
            ("added".to_owned(), findings(1, &["id"], &[&["c1"]])),
        ]);

        let d = compare(&from, &to);

        let ids: Vec<&str> = d.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["a", "added", "b", "gone"]);
        assert_eq!(
            d[0],
            RuleDrift {
                id: "a".into(),
                compared: Compared::Yes,
                identity: vec!["email".into()],
                from_version: Some(1),
                to_version: Some(2),
                from_findings: Some(2),
                to_findings: Some(2),
                new: vec![vec![Json::from("cat@x")]],
                resolved: vec![vec![Json::from("ann@x")]],
            }
        );
        let status: Vec<Compared> = d.iter().map(|r| r.compared).collect();
        assert_eq!(
            status,
            vec![
                Compared::Yes,
                Compared::NotInEarlier,
                Compared::IdentityChanged,
                Compared::NotInLater
            ]
        );
        assert!(d[1..].iter().all(|r| r.new.is_empty() && r.resolved.is_empty()));
        assert_eq!((d[1].from_findings, d[1].to_findings), (None, Some(1)));
        assert_eq!((d[3].from_findings, d[3].to_findings), (Some(1), None));
    }

    #[test]
    fn a_rule_whose_identities_were_not_kept_is_counted_not_compared() {
        let capped = RuleFindings {
            capped: Some(12_000),
            ..findings(1, &["email"], &[])
        };
        let from = BTreeMap::from([("a".to_owned(), findings(1, &["email"], &[&["ann@x"]]))]);
        let to = BTreeMap::from([("a".to_owned(), capped)]);

        let d = compare(&from, &to);

        assert_eq!(
            d,
            vec![RuleDrift {
                id: "a".into(),
                compared: Compared::TooMany,
                identity: vec!["email".into()],
                from_version: Some(1),
                to_version: Some(1),
                from_findings: Some(1),
                to_findings: Some(12_000),
                new: Vec::new(),
                resolved: Vec::new(),
            }]
        );
    }
}
