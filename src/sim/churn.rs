//! `--churn SHARE`: a tenant a little older, for measuring a realistic re-sync.
//!
//! Applied to a loaded or generated tenant, deterministically (the same tenant, share
//! and round always give the same result), it changes about SHARE of each kind of
//! record the way a working week does:
//! - people leave (their mailbox, SAFE score, performance and watchlist rows go; an
//!   alias address and their training and phishing history stay, as they often do)
//!   and as many join (a new mailbox on the primary domain, no scores yet);
//! - enrolments still `SENT` get completed (every answer `CORRECT`), and the
//!   campaign aggregates are counted again from the rows;
//! - phishing recipients move on a stage (`sent` → `opened` → `clicked`), with the
//!   matching `time*` field;
//! - SAFE risk grades move by one letter.
//!
//! Round R (default 1) picks different records than round R-1, so successive rounds
//! model successive weeks.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::generate::percent;
use super::rng::SplitMix64;
use super::tenant::Tenant;

const S_CHURN: u64 = 0xC4_0000;

/// How much to change: a share of 0 to 1 of each kind of record, and the round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Churn {
    pub share: f64,
    pub round: u64,
}

/// Text that is not a churn.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a churn: write a share such as 1% or 0.01, optionally with ,round=R")]
pub struct BadChurn(pub String);

impl FromStr for Churn {
    type Err = BadChurn;

    /// `1%`, `0.01`, or either with `,round=R`.
    fn from_str(text: &str) -> Result<Churn, BadChurn> {
        let bad = || BadChurn(text.to_owned());
        let mut parts = text.split(',').map(str::trim);
        let share = parts.next().ok_or_else(bad)?;
        let share = match share.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
            None => share.parse::<f64>(),
        }
        .ok()
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(bad)?;
        let mut round = 1;
        for part in parts {
            match part.split_once('=') {
                Some(("round", r)) => round = r.trim().parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            }
        }
        Ok(Churn { share, round })
    }
}

impl fmt::Display for Churn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%,round={}", self.share * 100.0, self.round)
    }
}

/// What [`apply`] changed, for the log and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChurnReport {
    pub left: usize,
    pub joined: usize,
    pub completed: usize,
    pub phishing_moved: usize,
    pub scores_moved: usize,
}

/// Changes the tenant as [`Churn`] says.
pub fn apply(tenant: &mut Tenant, churn: Churn) -> ChurnReport {
    let mut report = ChurnReport::default();
    let seed = churn.round.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    people(tenant, churn.share, seed, &mut report);
    let mut rng = SplitMix64::derive(seed, S_CHURN + 2);
    for campaign in &mut tenant.training_campaigns {
        report.completed += complete(campaign, churn.share, &mut rng);
    }
    let mut rng = SplitMix64::derive(seed, S_CHURN + 3);
    for campaign in &mut tenant.phishing_campaigns {
        for row in rows(campaign) {
            if rng.chance(churn.share) && advance(row) {
                report.phishing_moved += 1;
            }
        }
    }
    let mut rng = SplitMix64::derive(seed, S_CHURN + 4);
    for score in &mut tenant.safe_scores {
        if rng.chance(churn.share) {
            if let Some(Value::String(risk)) = score.get_mut("risk") {
                *risk = next_grade(risk);
                report.scores_moved += 1;
            }
        }
    }
    report
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn is_person(user: &Value) -> bool {
    let email = text(user, "emailAddress");
    user.get("alias") != Some(&Value::Bool(true))
        && !email.starts_with("abuse@")
        && !email.starts_with("postmaster@")
        && !email.is_empty()
}

/// Leavers and joiners, as many of each.
fn people(tenant: &mut Tenant, share: f64, seed: u64, report: &mut ChurnReport) {
    let mut rng = SplitMix64::derive(seed, S_CHURN + 1);
    let mut left_addresses: HashSet<String> = HashSet::new();
    tenant.users.retain(|u| {
        let leaves = is_person(u) && rng.chance(share);
        if leaves {
            left_addresses.insert(text(u, "emailAddress").to_ascii_lowercase());
        }
        !leaves
    });
    report.left = left_addresses.len();
    let left = |v: &Value, key: &str| left_addresses.contains(&text(v, key).to_ascii_lowercase());
    tenant.safe_scores.retain(|s| !left(s, "emailAddress"));
    tenant.performance.retain(|s| !left(s, "email"));
    tenant.watchlist.retain(|s| !left(s, "email"));

    let primary = tenant
        .domains
        .first()
        .map(|d| text(d, "domain").to_owned())
        .unwrap_or_else(|| "example.com".to_owned());
    for k in 0..report.left {
        let email = format!("joiner{}.{k}@{primary}", seed % 100_000);
        let mut user = Map::new();
        user.insert("addressType".into(), "created_manually".into());
        user.insert("alias".into(), false.into());
        user.insert("domain".into(), primary.clone().into());
        user.insert("emailAddress".into(), email.into());
        user.insert("name".into(), format!("New Joiner {k}").into());
        user.insert("source".into(), if rng.chance(0.25) { "ldap" } else { "cloud" }.into());
        tenant.users.push(Value::Object(user));
    }
    report.joined = report.left;
    let count = tenant.users.len();
    if let Some(n) = tenant.account.get_mut("userCount") {
        *n = Value::from(count);
    }
}

fn rows(campaign: &mut Value) -> impl Iterator<Item = &mut Value> {
    campaign
        .get_mut("user_data")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// Completes some `SENT` enrolments of one training campaign, then recounts its
/// aggregates; returns how many it completed.
fn complete(campaign: &mut Value, share: f64, rng: &mut SplitMix64) -> usize {
    let mut done = 0;
    for row in rows(campaign) {
        let Some(Value::Object(results)) = row.get_mut("results") else {
            continue;
        };
        let pending = !results.is_empty() && results.values().all(|r| r == "SENT");
        if pending && rng.chance(share) {
            for r in results.values_mut() {
                *r = Value::from("CORRECT");
            }
            done += 1;
        }
    }
    if done > 0 {
        recount(campaign);
    }
    done
}

/// numCompleted, percentComplete, percentCorrect and numCorrectAnswers from the rows.
fn recount(campaign: &mut Value) {
    let (mut sent, mut completed, mut answers, mut correct) = (0u64, 0u64, 0u64, 0u64);
    let mut per_question: Map<String, Value> = Map::new();
    for row in rows(campaign) {
        sent += 1;
        let Some(Value::Object(results)) = row.get("results") else {
            continue;
        };
        if results.values().all(|r| r == "SENT") {
            continue;
        }
        completed += 1;
        for (q, r) in results {
            answers += 1;
            let n = per_question.entry(q.clone()).or_insert(Value::from(0u64));
            if r == "CORRECT" {
                correct += 1;
                *n = Value::from(n.as_u64().unwrap_or(0) + 1);
            }
        }
    }
    campaign["numCompleted"] = Value::from(completed);
    campaign["percentComplete"] = Value::from(percent(completed, sent));
    campaign["percentCorrect"] = Value::from(percent(correct, answers));
    if let Some(Value::Object(numbers)) = campaign.get_mut("numCorrectAnswers") {
        for (q, n) in numbers.iter_mut() {
            *n = per_question.get(q).cloned().unwrap_or(Value::from(0u64));
        }
    }
}

/// Moves one phishing recipient on a stage; `false` when it cannot move.
fn advance(row: &mut Value) -> bool {
    let next = match text(row, "status") {
        "sent" => ("opened", "timeOpened", "timeScheduled"),
        "opened" => ("clicked", "timeClicked", "timeOpened"),
        _ => return false,
    };
    let (status, field, after) = next;
    let at = chrono::DateTime::parse_from_str(text(row, after), "%Y-%m-%dT%H:%M:%S%z").map(|t| {
        (t + chrono::Duration::minutes(37))
            .format("%Y-%m-%dT%H:%M:%S%z")
            .to_string()
    });
    let Ok(at) = at else {
        return false;
    };
    row["status"] = Value::from(status);
    row[field] = Value::from(at);
    if status == "clicked" {
        row["clickedIp"] = Value::from("203.0.113.250");
    }
    true
}

/// A SAFE grade one letter on (A→B, …, F→E).
fn next_grade(grade: &str) -> String {
    match grade {
        "A" => "B",
        "B" => "C",
        "C" => "D",
        "D" => "F",
        "F" => "D",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{generate, GenerateSpec};

    #[test]
    fn parses_a_share_as_percent_or_fraction_with_an_optional_round() {
        assert_eq!("1%".parse::<Churn>(), Ok(Churn { share: 0.01, round: 1 }));
        assert_eq!("0.05,round=3".parse::<Churn>(), Ok(Churn { share: 0.05, round: 3 }));
        for bad in ["", "x", "101%", "-1%", "1%,rounds=2", "1%,round=x"] {
            assert_eq!(bad.parse::<Churn>(), Err(BadChurn(bad.to_owned())), "{bad}");
            assert!(
                bad.parse::<Churn>().unwrap_err().to_string().contains("is not a churn"),
                "{bad}"
            );
        }
    }

    #[test]
    fn churn_is_deterministic_and_changes_each_kind_of_record() {
        let spec: GenerateSpec = "users=2000,seed=5".parse().unwrap();
        let base = generate(&spec);
        let mut a = base.clone();
        let mut b = base.clone();
        let churn: Churn = "2%".parse().unwrap();
        let report = apply(&mut a, churn);
        assert_eq!(apply(&mut b, churn), report);
        assert_eq!(a, b);
        assert_eq!(
            report,
            ChurnReport {
                left: 42,
                joined: 42,
                completed: 22,
                phishing_moved: 37,
                scores_moved: 36,
            }
        );
        // As many join as leave.
        let persons = |t: &Tenant| t.users.iter().filter(|u| is_person(u)).count();
        assert_eq!(persons(&a), persons(&base));
        assert_eq!(a.account["userCount"], Value::from(a.users.len()));
        // Round 2 picks other records.
        let mut c = base.clone();
        let round2 = apply(&mut c, "2%,round=2".parse().unwrap());
        assert_ne!(c, a);
        assert_ne!(round2, report);
        // Aggregates agree with the rows again.
        for campaign in &a.training_campaigns {
            let mut recounted = campaign.clone();
            recount(&mut recounted);
            assert_eq!(&recounted, campaign);
        }
    }

    #[test]
    fn a_recount_of_an_unchanged_generated_campaign_changes_nothing() {
        let base = generate(&"users=300,seed=2".parse().unwrap());
        for campaign in &base.training_campaigns {
            let mut recounted = campaign.clone();
            recount(&mut recounted);
            assert_eq!(&recounted, campaign);
        }
    }
}
