//! Pure functions from API records to entities and relationships. No I/O.
//!
//! Keys are built by one function per type ([`keys`]), exactly as graph-schema/
//! declares them. Emails are matched lowercased: directories and enrollment lists
//! spell the same address in different cases.

use crate::graph::Element as _;
use std::collections::BTreeMap;

use crate::graph::{Entity, Relationship, Value};
use crate::mimecast::records::{
    Account, CampaignUserData, InternalDomain, InternalUser, PerformanceDetail, PhishingCampaign, PhishingUserData,
    SafeScore, TrainingCampaign, WatchlistDetail,
};
use crate::schema::{rels, types};

pub use crate::schema::keys;

pub mod directory;
pub mod siem;
pub mod threats;

pub use crate::schema::keys::email_key;

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn text(s: &Option<String>) -> Option<Value> {
    non_empty(s).map(Value::from)
}

fn int(v: Option<i64>) -> Option<Value> {
    v.map(Value::Int)
}

fn float(v: Option<f64>) -> Option<Value> {
    v.filter(|f| f.is_finite()).map(Value::Float)
}

fn boolean(v: Option<bool>) -> Option<Value> {
    v.map(Value::Bool)
}

fn scoped(key: String, entity_type: &str, class: &str, account_code: &str, display_name: &str) -> Entity {
    Entity::new(key, entity_type, class)
        .with("accountCode", account_code)
        .with("displayName", display_name)
        .with("name", display_name)
}

fn scoped_rel(rel_type: &str, class: &str, from: &str, to: &str, account_code: &str) -> Relationship {
    Relationship::new(rel_type, class, from, to).with("accountCode", account_code)
}

/// The tenant's account entity.
pub fn account(a: &Account, connection: &str) -> Entity {
    let display = non_empty(&a.account_name).unwrap_or(&a.account_code).to_owned();
    let mut e = scoped(
        keys::account(&a.account_code),
        types::ACCOUNT,
        "Account",
        &a.account_code,
        &display,
    );
    e.set("accountName", text(&a.account_name))
        .set("region", text(&a.region))
        .set("mimecastId", text(&a.mimecast_id))
        .set("supportCode", text(&a.support_code))
        .set("accountType", text(&a.account_type))
        .set("archive", boolean(a.archive))
        .set("gateway", boolean(a.gateway))
        .set("userCount", int(a.user_count))
        .set("maxRetention", int(a.max_retention))
        .set("contactEmail", text(&a.contact_email))
        .set("contactName", text(&a.contact_name))
        .set("mailPlatform", text(&a.mail_platform))
        .set("packages", Some(Value::StrList(a.sorted_packages().into())))
        .set(
            "awarenessTrainingLicensed",
            Some(Value::Bool(a.has_awareness_training())),
        )
        .set("connection", Some(Value::from(connection)));
    e
}

pub fn domain(account_code: &str, d: &InternalDomain) -> Entity {
    let name = d.domain.trim().to_lowercase();
    let mut e = scoped(
        keys::domain(account_code, &name),
        types::DOMAIN,
        "Domain",
        account_code,
        &name,
    );
    e.set("domain", Some(Value::from(name.as_str())))
        .set("id", text(&d.id))
        .set("sendOnly", boolean(d.send_only))
        .set("local", boolean(d.local))
        .set("inboundType", text(&d.inbound_type));
    e
}

pub fn account_has_domain(account_code: &str, domain_key: &str) -> Relationship {
    scoped_rel(
        rels::ACCOUNT_HAS_DOMAIN,
        "HAS",
        &keys::account(account_code),
        domain_key,
        account_code,
    )
}

pub fn user(account_code: &str, u: &InternalUser) -> Entity {
    let email = email_key(&u.email_address);
    let display = non_empty(&u.name).unwrap_or(&email).to_owned();
    let mut e = scoped(
        keys::user(account_code, &email),
        types::USER,
        "User",
        account_code,
        &display,
    );
    e.set("email", Some(Value::from(email.as_str())))
        // The UserAccount ontology of Cartography: graphs of other identity sources
        // join on `_ont_email`.
        .set("_ont_email", Some(Value::from(email.as_str())))
        .set("_ont_source", Some(Value::from("mimecast")))
        .set("emailAddress", Some(Value::from(u.email_address.trim())))
        .set(
            "domain",
            text(&u.domain).map(|v| Value::from(v.to_string().to_lowercase())),
        )
        .set("alias", boolean(u.alias))
        .set("addressType", text(&u.address_type))
        .set("source", text(&u.source));
    e
}

pub fn domain_has_user(account_code: &str, domain_key: &str, user_key: &str) -> Relationship {
    scoped_rel(rels::DOMAIN_HAS_USER, "HAS", domain_key, user_key, account_code)
}

/// SAFE score properties for a user.
pub fn apply_safe_score(user: &mut Entity, s: &SafeScore) {
    user.set(
        "safeRisk",
        text(&s.risk).map(|v| Value::from(v.to_string().to_uppercase())),
    )
    .set("safeHumanError", text(&s.human_error))
    .set("safeSentiment", text(&s.sentiment))
    .set("safeEngagement", text(&s.engagement))
    .set("safeKnowledge", text(&s.knowledge));
    apply_common(user, &s.department, &s.user_state);
}

pub fn apply_performance(user: &mut Entity, p: &PerformanceDetail) {
    user.set("trainingCorrect", int(p.num_correct))
        .set("trainingIncorrect", int(p.num_incorrect))
        .set("trainingNotWatched", int(p.num_not_watched));
    apply_common(user, &p.department, &p.user_state);
}

pub fn apply_watchlist(user: &mut Entity, w: &WatchlistDetail) {
    user.set("watchlistCount", int(w.watchlist_count))
        .set("onWatchlist", Some(Value::Bool(w.watchlist_count.unwrap_or(1) > 0)));
    apply_common(user, &w.department, &w.user_state);
}

/// One user's training assignments, gathered from the `[:ASSIGNED]` relationships of
/// every training campaign: how many there are, and the open ones (no answer yet) as
/// (launch, name) pairs.
#[derive(Debug, Default)]
pub struct Assignments<'a> {
    pub assigned: i64,
    pub open: Vec<(Option<&'a str>, &'a str)>,
}

/// `openTrainingOrder` of a user whose open campaigns all lack a launch date: sorts
/// after every normalized date-time (`2025-01-06T09:00:00Z`), which start with a digit.
pub const UNDATED: &str = "undated";

/// Puts a user's assignments on the user, for `assigned-not-completed` to read one
/// row per user instead of one per open assignment: `assignedTrainingCount`,
/// `openTrainingCount`, the open campaigns' names oldest launch first
/// (`openTrainings`; a campaign without a launch date last, names breaking ties) and
/// the oldest launch (`oldestOpenTrainingLaunch`). A user with no assignment gets
/// zero counts.
///
/// `openTrainingOrder` is the order the query lists users in, which a range index on
/// it and `email` serves (no sort of every row): the oldest open launch as its
/// normalized text (string order is time order), or [`UNDATED`] (after every date)
/// when no open campaign has a launch date; absent without an open assignment.
pub fn apply_assignments(user: &mut Entity, a: Option<&mut Assignments<'_>>) {
    let mut none = Assignments::default();
    let a = a.unwrap_or(&mut none);
    a.open
        .sort_by(|x, y| (x.0.is_none(), x.0, x.1).cmp(&(y.0.is_none(), y.0, y.1)));
    let names: Vec<String> = a.open.iter().map(|(_, name)| (*name).to_owned()).collect();
    user.set("assignedTrainingCount", Some(Value::Int(a.assigned)))
        .set("openTrainingCount", Some(Value::Int(names.len() as i64)))
        .set(
            "oldestOpenTrainingLaunch",
            a.open.first().and_then(|(l, _)| *l).map(Value::from),
        )
        .set(
            "openTrainingOrder",
            a.open.first().map(|(l, _)| Value::from(l.unwrap_or(UNDATED))),
        )
        .set("openTrainings", (!names.is_empty()).then(|| Value::from(names)));
}

fn apply_common(user: &mut Entity, department: &Option<String>, user_state: &Option<String>) {
    if user.get("department").is_none() {
        user.set("department", text(department));
    }
    if user.get("userState").is_none() {
        user.set("userState", text(user_state));
    }
}

pub fn awareness_campaign(account_code: &str, c: &TrainingCampaign) -> Entity {
    let display = non_empty(&c.name).unwrap_or(&c.id).to_owned();
    let mut e = scoped(
        keys::awareness_campaign(account_code, &c.id),
        types::AWARENESS_CAMPAIGN,
        "Training",
        account_code,
        &display,
    );
    e.set("id", Some(Value::from(c.id.as_str())))
        .set("launchDate", c.launch_date.clone().map(Value::from))
        .set("createDate", c.create_date.clone().map(Value::from))
        .set("locked", boolean(c.locked))
        .set("numSent", int(c.num_sent))
        .set("numCompleted", int(c.num_completed))
        .set("percentComplete", float(c.percent_complete))
        .set("percentCorrect", float(c.percent_correct))
        .set("moduleId", c.title.as_ref().and_then(|t| text(&t.id)))
        .set("moduleTitle", c.title.as_ref().and_then(|t| text(&t.title)))
        .set("groupName", c.group.as_ref().and_then(|g| text(&g.description)));
    e
}

pub fn account_has_awareness_campaign(account_code: &str, campaign_key: &str) -> Relationship {
    scoped_rel(
        rels::ACCOUNT_HAS_AWARENESS_CAMPAIGN,
        "HAS",
        &keys::account(account_code),
        campaign_key,
        account_code,
    )
}

/// Rows keyed by lowercased address; when an address repeats (other casing), the row
/// with the higher `weight` wins. Returns the rows and how many repeats were merged.
fn one_per_address<T>(
    rows: &[T],
    email: impl Fn(&T) -> &str,
    weight: impl Fn(&T) -> i64,
) -> (BTreeMap<String, &T>, usize) {
    let mut by_email: BTreeMap<String, &T> = BTreeMap::new();
    let mut merged = 0;
    for row in rows {
        match by_email.entry(email_key(email(row))) {
            std::collections::btree_map::Entry::Occupied(mut seen) => {
                merged += 1;
                if weight(row) > weight(seen.get()) {
                    seen.insert(row);
                }
            }
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(row);
            }
        }
    }
    (by_email, merged)
}

/// What one campaign's enrollment list becomes.
#[derive(Debug, Default)]
pub struct Enrollments {
    pub relationships: Vec<Relationship>,
    /// Addresses that are not internal users: reported, never dropped silently.
    pub unknown: Vec<String>,
    /// Rows that repeated an address already seen in this campaign (other casing).
    pub merged: usize,
}

/// ASSIGNED for every enrolled internal user (`completed` when any answer is
/// recorded); COMPLETED as well when one is, with `passed` true when every recorded
/// answer is CORRECT.
pub fn enrollments(
    account_code: &str,
    campaign_key: &str,
    rows: &[CampaignUserData],
    is_user: impl Fn(&str) -> bool,
) -> Enrollments {
    // One row per address; a repeat keeps the row with the most recorded answers.
    let (by_email, merged) = one_per_address(
        rows,
        |r| &r.email,
        |r| r.outcome().map_or(0, |o| o.correct + o.incorrect),
    );
    let mut out = Enrollments {
        merged,
        ..Enrollments::default()
    };
    for (email, row) in by_email {
        let user_key = keys::user(account_code, &email);
        if !is_user(&user_key) {
            out.unknown.push(email);
            continue;
        }
        let mut assigned = scoped_rel(
            rels::USER_ASSIGNED_AWARENESS,
            "ASSIGNED",
            &user_key,
            campaign_key,
            account_code,
        );
        assigned
            .set("userState", text(&row.user_state))
            .set("acknowledged", boolean(row.acknowledgement))
            .set("completed", Value::from(row.outcome().is_some()));
        out.relationships.push(assigned);
        if let Some(outcome) = row.outcome() {
            out.relationships.push(
                scoped_rel(
                    rels::USER_COMPLETED_AWARENESS,
                    "COMPLETED",
                    &user_key,
                    campaign_key,
                    account_code,
                )
                .with("passed", outcome.passed())
                .with("correctAnswers", outcome.correct)
                .with("incorrectAnswers", outcome.incorrect),
            );
        }
    }
    out
}

pub fn phishing_campaign(account_code: &str, p: &PhishingCampaign) -> Entity {
    let display = non_empty(&p.name).unwrap_or(&p.id).to_owned();
    let mut e = scoped(
        keys::phishing_campaign(account_code, &p.id),
        types::PHISHING_CAMPAIGN,
        "Training",
        account_code,
        &display,
    );
    let templates: Vec<String> = p
        .templates
        .iter()
        .filter_map(|t| non_empty(&t.display_title).map(str::to_owned))
        .collect();
    e.set("id", Some(Value::from(p.id.as_str())))
        .set("launchDate", p.launch_date.clone().map(Value::from))
        .set("locale", text(&p.locale))
        .set("locked", boolean(p.locked))
        .set("timeSlot", text(&p.time_slot_selected))
        .set("numSent", int(p.num_sent))
        .set("numOpened", int(p.num_opened))
        .set("numClicked", int(p.num_clicked))
        .set("numSubmitted", int(p.num_submitted))
        .set("numReported", int(p.num_reported))
        .set("senderName", p.sender.as_ref().and_then(|s| text(&s.name)))
        .set("senderEmail", p.sender.as_ref().and_then(|s| text(&s.email)))
        .set("groupName", p.group.as_ref().and_then(|g| text(&g.description)))
        .set(
            "templates",
            (!templates.is_empty()).then_some(Value::StrList(templates.into())),
        );
    e
}

pub fn account_has_phishing_campaign(account_code: &str, campaign_key: &str) -> Relationship {
    scoped_rel(
        rels::ACCOUNT_HAS_PHISHING_CAMPAIGN,
        "HAS",
        &keys::account(account_code),
        campaign_key,
        account_code,
    )
}

/// What one phishing campaign's recipients become.
#[derive(Debug, Default)]
pub struct PhishingResults {
    pub relationships: Vec<Relationship>,
    pub unknown: Vec<String>,
    pub merged: usize,
}

/// ASSIGNED with the recipient's result for every internal user.
pub fn phishing_results(
    account_code: &str,
    campaign_key: &str,
    rows: &[PhishingUserData],
    is_user: impl Fn(&str) -> bool,
) -> PhishingResults {
    // One row per address; a repeat keeps the row that went furthest.
    let (by_email, merged) = one_per_address(
        rows,
        |r| &r.email,
        |r| i64::from(r.opened()) + i64::from(r.clicked()) + i64::from(r.submitted()) + i64::from(r.reported()),
    );
    let mut out = PhishingResults {
        merged,
        ..PhishingResults::default()
    };
    for (email, row) in by_email {
        let user_key = keys::user(account_code, &email);
        if !is_user(&user_key) {
            out.unknown.push(email);
            continue;
        }
        let mut r = scoped_rel(
            rels::USER_ASSIGNED_PHISHING,
            "ASSIGNED",
            &user_key,
            campaign_key,
            account_code,
        )
        .with("opened", row.opened())
        .with("clicked", row.clicked())
        .with("submitted", row.submitted())
        .with("reported", row.reported());
        r.set("status", row.status_lower().map(Value::from))
            .set("template", text(&row.template_name))
            .set("scheduledOn", row.time_scheduled.clone().map(Value::from))
            .set("openedOn", row.time_opened.clone().map(Value::from))
            .set("clickedOn", row.time_clicked.clone().map(Value::from))
            .set("submittedOn", row.time_submitted.clone().map(Value::from))
            .set("reportedOn", row.time_reported.clone().map(Value::from))
            .set("reactionTime", float(row.reaction_time));
        out.relationships.push(r);
    }
    out
}

/// Marks one phishing assignment for `phished-not-retrained`: on a click or a
/// submission, `awaitingRetraining` is false when the latest training campaign the
/// user completed (`latest_training`, its launch) launched on or after the failure
/// (the click, else the submission, else the phishing campaign's `phishing_launch`),
/// and true otherwise, also when a time is missing or unreadable (the query then
/// decides from the graph). An assignment without a failure is left unmarked.
pub fn mark_retraining(r: &mut Relationship, phishing_launch: Option<&str>, latest_training: Option<&str>) {
    let failed = |name| r.get(name) == Some(&Value::Bool(true));
    if !(failed("clicked") || failed("submitted")) {
        return;
    }
    let failed_on = r.str("clickedOn").or_else(|| r.str("submittedOn")).or(phishing_launch);
    let retrained = match (
        failed_on.map(crate::time::parse),
        latest_training.map(crate::time::parse),
    ) {
        (Some(Ok(failed_on)), Some(Ok(trained))) => trained >= failed_on,
        _ => false,
    };
    r.set("awaitingRetraining", Value::from(!retrained));
}

#[cfg(test)]
mod tests;
