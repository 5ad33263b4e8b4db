//! A realistic, deterministic tenant generator for demos, tests and benchmarks.
//!
//! `users=N,domains=N,campaigns=N,phishing=N,seed=S` (every key optional). The same
//! spec always yields a byte-identical tenant: all randomness comes from
//! [`SplitMix64`] sub-streams of the seed, and records are JSON objects with sorted keys.
//!
//! What it contains, for `users=N` people over `domains=D`:
//! - an account `CUSA<nn><L><nnn>` with the Awareness Training package;
//! - domains `<company>.example.com` (primary) and `<company>-2.example.com`, ...;
//! - the directory: N people (about 60% on the primary domain), about 3% of them
//!   with an extra alias address (`alias: true`), and the `abuse@` and `postmaster@`
//!   addresses Mimecast creates for every domain;
//! - training campaigns enrolling 30-90% of the people, each with 1-4 questions:
//!   some finished (`CORRECT`/`INCORRECT` answers), the rest only `SENT`, with
//!   campaign aggregates computed from those rows;
//! - phishing campaigns enrolling 30-90% of the people, statuses
//!   `sent`/`opened`/`clicked`/`submitted` with matching `time*` fields, some reported;
//! - SAFE scores for about 90% of the people, performance rows for everyone
//!   enrolled in training, watchlist rows for people with unwatched modules;
//! - [`external_addresses`] addresses that are not internal users (a personal gmail
//!   address, an old corporate address of a real employee, ...) enrolled in **every**
//!   training and phishing campaign, as the recorded tenant shows;
//! - AT lists spell about 10% of addresses in another case than the directory.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{json, Map, Value};

use super::rng::SplitMix64;
use super::tenant::{Credential, Tenant};

/// The OAuth2 client id a generated tenant accepts unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "demo-client-id";
/// The OAuth2 client secret a generated tenant accepts unless told otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "demo-client-secret";

/// The package that means "Awareness Training is licensed".
pub const AWARENESS_TRAINING_PACKAGE: &str = "Awareness Training [1078]";

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateSpec {
    /// People in the directory (aliases and the per-domain `abuse@`/`postmaster@`
    /// addresses come on top).
    pub users: usize,
    /// Internal domains (at least 1).
    pub domains: usize,
    /// Training campaigns.
    pub campaigns: usize,
    /// Phishing campaigns.
    pub phishing: usize,
    pub seed: u64,
    /// TTP log records of each kind (URL clicks, attachments, impersonation).
    pub threats: usize,
    /// Directory groups (0: none; otherwise the fixed structure of
    /// `sim::directory::generate`, then project groups up to this many).
    pub groups: usize,
    /// The most tracked messages a person sent (Message Finder); 0: none.
    pub activity: usize,
    /// SIEM batch detection events (url protect, impersonation, attachment protect,
    /// av, spam) over the 6 days before `until`; 0: none.
    pub siem: usize,
    /// The end of the 14 days the TTP logs span, in seconds since 1970; `None` is the
    /// end of the generated campaign history. (`mimecast-sim --generate` makes it
    /// the current day, so a worker's look-back window finds them.)
    pub until: Option<i64>,
}

impl Default for GenerateSpec {
    fn default() -> Self {
        GenerateSpec {
            users: 50,
            domains: 2,
            campaigns: 4,
            phishing: 2,
            seed: 1,
            threats: 0,
            groups: 0,
            activity: 0,
            siem: 0,
            until: None,
        }
    }
}

/// A generate spec that could not be parsed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("unknown key {0:?} in generate spec (known: users, domains, campaigns, phishing, seed, threats, groups, activity, siem, until)")]
    UnknownKey(String),
    #[error("{key}={value:?} in generate spec is not a non-negative integer")]
    BadNumber { key: String, value: String },
    #[error("{0:?} in generate spec is not key=value")]
    NotKeyValue(String),
    #[error("domains=0 in generate spec: a tenant needs at least one internal domain")]
    NoDomain,
}

impl FromStr for GenerateSpec {
    type Err = SpecError;

    /// Parses `users=N,domains=N,campaigns=N,phishing=N,seed=S,threats=N,groups=N,activity=N,siem=N,until=T`
    /// (`until` in seconds since 1970); missing keys keep their defaults (50, 2, 4, 2,
    /// 1, 0, 0, 0, 0, none), an empty string is all defaults.
    fn from_str(text: &str) -> Result<Self, SpecError> {
        let mut spec = GenerateSpec::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| SpecError::NotKeyValue(part.to_owned()))?;
            let (key, value) = (key.trim(), value.trim());
            let number = || {
                value.parse::<u64>().map_err(|_| SpecError::BadNumber {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
            };
            let count = || {
                number().and_then(|n| {
                    usize::try_from(n).map_err(|_| SpecError::BadNumber {
                        key: key.to_owned(),
                        value: value.to_owned(),
                    })
                })
            };
            match key {
                "users" => spec.users = count()?,
                "domains" => spec.domains = count()?,
                "campaigns" => spec.campaigns = count()?,
                "phishing" => spec.phishing = count()?,
                "seed" => spec.seed = number()?,
                "threats" => spec.threats = count()?,
                "groups" => spec.groups = count()?,
                "activity" => spec.activity = count()?,
                "siem" => spec.siem = count()?,
                "until" => {
                    spec.until = Some(i64::try_from(number()?).map_err(|_| SpecError::BadNumber {
                        key: key.to_owned(),
                        value: value.to_owned(),
                    })?)
                }
                other => return Err(SpecError::UnknownKey(other.to_owned())),
            }
        }
        if spec.domains == 0 {
            return Err(SpecError::NoDomain);
        }
        Ok(spec)
    }
}

impl fmt::Display for GenerateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "users={},domains={},campaigns={},phishing={},seed={}",
            self.users, self.domains, self.campaigns, self.phishing, self.seed
        )?;
        if self.threats > 0 {
            write!(f, ",threats={}", self.threats)?;
        }
        if self.groups > 0 {
            write!(f, ",groups={}", self.groups)?;
        }
        if self.activity > 0 {
            write!(f, ",activity={}", self.activity)?;
        }
        if self.siem > 0 {
            write!(f, ",siem={}", self.siem)?;
        }
        match self.until {
            Some(t) => write!(f, ",until={t}"),
            None => Ok(()),
        }
    }
}

/// How many addresses outside the internal domains a tenant of `users` people has:
/// 2, plus one per thousand people, at most 20. Each is enrolled in every training
/// and every phishing campaign.
pub fn external_addresses(users: usize) -> usize {
    2 + (users / 1000).min(18)
}

mod names;

pub use names::TRAINING_NAMES;
use names::*;

// Sub-stream ids: each part of the tenant draws from its own stream, so changing how
// one part is generated does not reshuffle the others.
const S_ACCOUNT: u64 = 1;
const S_DOMAINS: u64 = 2;
const S_PEOPLE: u64 = 3;
const S_EXTERNAL: u64 = 4;
const S_TRAINING: u64 = 5;
const S_PHISHING: u64 = 6;
const S_SCORES: u64 = 7;
const S_THREATS: u64 = 8;
const S_DIRECTORY: u64 = 9;
const S_SIEM: u64 = 10;

/// 2023-01-02T00:00:00Z: every generated date is an offset from it, never "now".
const EPOCH: i64 = 1_672_617_600;
/// Campaign launch dates spread over this many days.
const SPAN_DAYS: i64 = 700;

/// Someone who can appear in Awareness Training lists.
struct Person {
    name: String,
    first: &'static str,
    last: &'static str,
    email: String,
    department: &'static str,
    /// Training tallies, filled while training campaigns are generated.
    assigned: u32,
    all_correct: u32,
    some_incorrect: u32,
    not_watched: u32,
    correct_answers: u32,
    incorrect_answers: u32,
    /// Phishing tallies.
    phish_sent: u32,
    phish_clicked: u32,
}

impl Person {
    fn new(first: &'static str, last: &'static str, name: String, email: String, department: &'static str) -> Self {
        Person {
            name,
            first,
            last,
            email,
            department,
            assigned: 0,
            all_correct: 0,
            some_incorrect: 0,
            not_watched: 0,
            correct_answers: 0,
            incorrect_answers: 0,
            phish_sent: 0,
            phish_clicked: 0,
        }
    }
}

/// Generates a tenant. Deterministic: the same spec gives a byte-identical tenant.
pub fn generate(spec: &GenerateSpec) -> Tenant {
    let domains_n = spec.domains.max(1);
    let mut rng = SplitMix64::derive(spec.seed, S_ACCOUNT);
    let (slug, company) = *rng.pick(COMPANIES);
    let account_code = format!(
        "CUSA{:02}{}{:03}",
        rng.below(100),
        char::from(b'A' + rng.below(26) as u8),
        rng.below(1000)
    );

    // Domains.
    let mut rng = SplitMix64::derive(spec.seed, S_DOMAINS);
    let domain_names: Vec<String> = (0..domains_n)
        .map(|i| {
            if i == 0 {
                format!("{slug}.example.com")
            } else {
                format!("{slug}-{}.example.com", i + 1)
            }
        })
        .collect();
    let domains: Vec<Value> = domain_names
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({
                "id": secure_id(&mut rng, "eNo"),
                "domain": d,
                "sendOnly": false,
                // Most tenants route to their own mail servers; a secondary domain may
                // be hosted by Mimecast.
                "local": i > 0 && rng.chance(0.3),
                "inboundType": if i == 0 { "known" } else { *rng.pick(&["known", "any", "smtp"]) },
            })
        })
        .collect();

    // People, aliases and system addresses.
    let mut rng = SplitMix64::derive(spec.seed, S_PEOPLE);
    let mut taken: Vec<HashMap<String, u32>> = vec![HashMap::new(); domains_n];
    let mut unique_local = |domain: usize, base: String| -> String {
        let n = taken[domain].entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            base
        } else {
            format!("{base}{n}")
        }
    };
    let mut people: Vec<Person> = Vec::with_capacity(spec.users);
    let mut directory: Vec<(usize, Value)> = Vec::with_capacity(spec.users + spec.users / 25 + 2 * domains_n);
    for _ in 0..spec.users {
        let first = *rng.pick(FIRST_NAMES);
        let last = *rng.pick(LAST_NAMES);
        let d = if domains_n == 1 || rng.chance(0.6) {
            0
        } else {
            1 + rng.below(domains_n as u64 - 1) as usize
        };
        let local = unique_local(
            d,
            format!("{}.{}", first.to_ascii_lowercase(), last.to_ascii_lowercase()),
        );
        let email = format!("{local}@{}", domain_names[d]);
        let name = format!("{first} {last}");
        let department = *rng.pick(DEPARTMENTS);
        let source = if rng.chance(0.25) { "ldap" } else { "cloud" };
        let address_type = if rng.chance(0.1) {
            "created_by_email"
        } else {
            "created_manually"
        };
        directory.push((
            d,
            user_record(&name, email.clone(), &domain_names[d], false, address_type, source),
        ));
        if rng.chance(0.03) {
            // An alias: initial + surname, on another domain when there is one.
            let ad = if domains_n > 1 {
                (d + 1 + rng.below(domains_n as u64 - 1) as usize) % domains_n
            } else {
                d
            };
            let alocal = unique_local(
                ad,
                format!("{}{}", first[..1].to_ascii_lowercase(), last.to_ascii_lowercase()),
            );
            let aemail = format!("{alocal}@{}", domain_names[ad]);
            directory.push((
                ad,
                user_record(&name, aemail, &domain_names[ad], true, "created_manually", source),
            ));
        }
        people.push(Person::new(first, last, name, email, department));
    }
    for (d, domain) in domain_names.iter().enumerate() {
        let abuse = format!("abuse@{domain}");
        let postmaster = format!("postmaster@{domain}");
        directory.push((
            d,
            user_record(
                "Domain abuse address",
                abuse,
                domain,
                false,
                "created_manually",
                "cloud",
            ),
        ));
        directory.push((
            d,
            user_record(
                "Domain postMaster address",
                postmaster,
                domain,
                false,
                "created_manually",
                "cloud",
            ),
        ));
    }
    // The API lists a domain's users by address.
    directory.sort_by(|(da, a), (db, b)| {
        da.cmp(db)
            .then_with(|| str_field(a, "emailAddress").cmp(str_field(b, "emailAddress")))
    });
    let users: Vec<Value> = directory.into_iter().map(|(_, u)| u).collect();

    // Addresses outside the internal domains.
    let mut rng = SplitMix64::derive(spec.seed, S_EXTERNAL);
    let externals: Vec<Person> = (0..external_addresses(spec.users))
        .map(|k| external_person(&mut rng, k, slug, &people))
        .collect();

    let internal_count = people.len();
    let mut everyone = people;
    everyone.extend(externals);

    // TTP logs aimed at the people (and a few outside addresses).
    let threats = {
        let emails: Vec<&str> = everyone.iter().map(|p| p.email.as_str()).collect();
        let (internal, external) = emails.split_at(internal_count);
        let until = spec.until.unwrap_or(EPOCH + SPAN_DAYS * 86_400);
        let mut rng = SplitMix64::derive(spec.seed, S_THREATS);
        super::threats::generate(&mut rng, spec.threats, until, slug, internal, external)
    };

    // SIEM detections aimed at the people (and a few outside addresses).
    let siem_events = {
        let emails: Vec<&str> = everyone.iter().map(|p| p.email.as_str()).collect();
        let (internal, external) = emails.split_at(internal_count);
        let until = spec.until.unwrap_or(EPOCH + SPAN_DAYS * 86_400);
        let mut rng = SplitMix64::derive(spec.seed, S_SIEM);
        super::siem::generate(&mut rng, spec.siem, until, slug, &account_code, internal, external)
    };

    // Directory groups and sent messages of the people.
    let directory = {
        fn member(p: &Person) -> super::directory::Member<'_> {
            super::directory::Member {
                name: p.name.as_str(),
                email: p.email.as_str(),
                department: p.department,
            }
        }
        let (internal, external) = everyone.split_at(internal_count);
        let internal: Vec<_> = internal.iter().map(member).collect();
        let external: Vec<_> = external.iter().map(member).collect();
        let until = spec.until.unwrap_or(EPOCH + SPAN_DAYS * 86_400);
        let mut rng = SplitMix64::derive(spec.seed, S_DIRECTORY);
        super::directory::generate(
            &mut rng,
            spec.groups,
            spec.activity,
            until,
            &internal,
            &external,
            &domain_names,
        )
    };

    // Decide everything first (cheap and sequential), then build the records in
    // parallel: a tenant of 100,000 users holds millions of row objects (about 4 GB),
    // and allocating them is most of the time.
    let training = decide_training(spec, &mut everyone, internal_count);
    let phishing = decide_phishing(spec, &mut everyone, internal_count, slug);
    let people = &everyone[..internal_count];
    let ((training_rows, phishing_rows), (safe_scores, performance, watchlist)) = std::thread::scope(|scope| {
        let scores = scope.spawn(|| scores(spec, people));
        let rows = build_rows(&training, &phishing, &everyone);
        (
            rows,
            scores.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        )
    });
    let with_rows = |record: Value, rows: Vec<Value>| {
        let mut record = record;
        record["user_data"] = Value::Array(rows);
        record
    };
    let training_campaigns: Vec<Value> = training
        .into_iter()
        .zip(training_rows)
        .map(|(t, rows)| with_rows(t.record, rows))
        .collect();
    let phishing_campaigns: Vec<Value> = phishing
        .into_iter()
        .zip(phishing_rows)
        .map(|(p, rows)| with_rows(p.record, rows))
        .collect();

    let mut rng = SplitMix64::derive(spec.seed, S_ACCOUNT ^ 0xACC0);
    let contact = people.first().map_or_else(|| "IT Admin".to_owned(), |p| p.name.clone());
    let account = json!({
        "region": "us",
        "accountCode": account_code,
        "accountName": company,
        "mimecastId": format!("01-{:04}-{:05}", rng.below(10_000), rng.below(100_000)),
        "supportCode": format!("{:04X}", rng.below(0x10000)),
        "databaseCode": format!("usterm{}", rng.range(1, 12)),
        "type": "full",
        "archive": false,
        "gateway": true,
        "passphrase": "",
        "maxRetention": 30,
        "maxRetentionConfirmed": true,
        "minRetentionEnabled": false,
        "automatedSegmentPurge": true,
        "policyInheritance": false,
        "searchReason": false,
        "contentAdministratorDefaultView": "Metadata",
        "adminSessionTimeout": 60,
        "exportApi": false,
        "exgestAllowQuery": false,
        "adminEmail": "",
        "contactEmail": format!("it-admin@{}", domain_names[0]),
        "contactName": contact,
        "telephone": format!("555-01{:02}", rng.below(100)),
        "domain": "",
        "userCount": users.len(),
        "packages": PACKAGES,
    });

    Tenant {
        credentials: vec![Credential::OAuth2 {
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
        }],
        account,
        domains,
        users,
        training_campaigns,
        phishing_campaigns,
        safe_scores,
        performance,
        watchlist,
        url_logs: threats.url,
        attachment_logs: threats.attachment,
        impersonation_logs: threats.impersonation,
        groups: directory.groups,
        tracked_emails: directory.tracked_emails,
        siem_events,
        missing_permissions: Vec::new(),
    }
}

/// A JSON object from owned values. Large tenants hold millions of records: values
/// are moved in rather than copied through `json!`, and the map is bulk-built from
/// sorted keys (compact nodes). The allocation churn `json!` causes made glibc
/// consolidate its heap over and over and tripled generation time.
fn obj<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn text(t: &str) -> Value {
    Value::String(t.to_owned())
}

fn user_record(name: &str, email: String, domain: &str, alias: bool, address_type: &str, source: &str) -> Value {
    obj([
        ("name", text(name)),
        ("emailAddress", Value::String(email)),
        ("domain", text(domain)),
        ("alias", Value::Bool(alias)),
        ("addressType", text(address_type)),
        ("source", text(source)),
    ])
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The k-th address outside the internal domains: a personal mailbox (no name, as
/// the recording shows), an old corporate address of a real employee, or a contractor.
fn external_person(rng: &mut SplitMix64, k: usize, slug: &str, people: &[Person]) -> Person {
    let (first, last, name) = match people.get(rng.below(people.len() as u64) as usize) {
        Some(p) => (p.first, p.last, p.name.clone()),
        None => {
            let (f, l) = (*rng.pick(FIRST_NAMES), *rng.pick(LAST_NAMES));
            (f, l, format!("{f} {l}"))
        }
    };
    let (fl, ll) = (first.to_ascii_lowercase(), last.to_ascii_lowercase());
    match k % 3 {
        0 => {
            let host = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com"][(k / 3) % 4];
            let email = format!("{fl}{ll}{}@{host}", rng.range(1970, 2003));
            Person::new(first, last, String::new(), email, "")
        }
        1 => Person::new(first, last, name, format!("{fl}.{ll}@{slug}.com"), ""),
        _ => Person::new(
            first,
            last,
            name,
            format!("{fl}.{ll}@{slug}-consulting.example.net"),
            "",
        ),
    }
}

/// A Mimecast-looking secure id: a prefix (`eNo`/`eNq`) and URL-safe base64 text.
pub(super) fn secure_id(rng: &mut SplitMix64, prefix: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let len = rng.range(90, 150) as usize;
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    let mut bits = 0u64;
    let mut left = 0;
    for _ in 0..len {
        if left == 0 {
            bits = rng.next_u64();
            left = 10;
        }
        id.push(char::from(ALPHABET[(bits & 63) as usize]));
        bits >>= 6;
        left -= 1;
    }
    id
}

/// Mimecast's date form: `2024-05-01T09:00:00+0000`, for seconds after [`EPOCH`].
///
/// Written by hand (Howard Hinnant's days-to-civil): millions of these are formatted
/// for a large tenant and `chrono`'s formatter is several times slower.
fn date(offset_secs: i64) -> String {
    use std::fmt::Write;
    let t = EPOCH + offset_secs;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = String::with_capacity(24);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+0000",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    out
}

/// How an AT list spells an address: as the directory does (0), with capitalized
/// local parts (1) or a capitalized domain (2). About 10% differ from the directory.
fn pick_case(rng: &mut SplitMix64) -> u8 {
    if !rng.chance(0.1) {
        0
    } else if rng.chance(0.5) {
        1
    } else {
        2
    }
}

fn spelled(email: &str, case: u8) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return email.to_owned();
    };
    match case {
        1 => {
            let local: Vec<String> = local.split('.').map(capitalize).collect();
            format!("{}@{domain}", local.join("."))
        }
        2 => format!("{local}@{}", capitalize(domain)),
        _ => email.to_owned(),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Rounds `100 * part / whole` to the nearest integer (0 when `whole` is 0).
pub(crate) fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        (200 * part + whole) / (2 * whole)
    }
}

fn launch_offset(rng: &mut SplitMix64, index: usize, count: usize, shift_days: i64) -> i64 {
    let day = shift_days + (index as i64 * SPAN_DAYS) / count.max(1) as i64;
    day * 86_400 + rng.range(8, 16) as i64 * 3600 + rng.below(4) as i64 * 900
}

fn group(rng: &mut SplitMix64, parent: &str, description: &str, user_count: usize) -> Value {
    json!({
        "id": secure_id(rng, "eNo"),
        "description": description,
        "source": "cloud",
        "parentId": parent,
        "userCount": user_count,
        "folderCount": 0,
    })
}

/// One training campaign, decided: the record without its rows, and who got what.
struct Training {
    record: Value,
    questions: usize,
    rows: Vec<Enrollment>,
}

/// One enrolled address: answers as a bitmask of correct questions (meaningful only
/// when `done`), and how the list spells the address.
struct Enrollment {
    person: u32,
    done: bool,
    correct: u8,
    case: u8,
}

/// Decides every training campaign (sequentially: the per-person tallies that
/// later records report add up across campaigns). Rows are built later, in parallel.
fn decide_training(spec: &GenerateSpec, everyone: &mut [Person], internal: usize) -> Vec<Training> {
    let mut rng = SplitMix64::derive(spec.seed, S_TRAINING);
    let root_group = secure_id(&mut rng, "eNo");
    let externals = everyone.len() - internal;
    let mut out = Vec::with_capacity(spec.campaigns);
    for c in 0..spec.campaigns {
        let base = TRAINING_NAMES[c % TRAINING_NAMES.len()];
        let round = c / TRAINING_NAMES.len();
        let name = if round == 0 {
            base.to_owned()
        } else {
            format!("{base} {}", round + 1)
        };
        let questions = rng.range(1, 4) as usize;
        let launch = launch_offset(&mut rng, c, spec.campaigns, 0);
        let created = launch - rng.range(300, 3 * 86_400) as i64;
        let enroll = 0.3 + 0.6 * rng.next_f64();
        let complete = 0.45 + 0.5 * rng.next_f64();
        let p_correct = 0.65 + 0.3 * rng.next_f64();

        let mut rows = Vec::with_capacity((everyone.len() as f64 * enroll) as usize + externals);
        let mut completed = 0u64;
        let mut correct_total = 0u64;
        let mut per_question = vec![0u64; questions];
        for (i, p) in everyone.iter_mut().enumerate() {
            let external = i >= internal;
            if !external && !rng.chance(enroll) {
                continue;
            }
            let done = rng.chance(if external { 0.2 } else { complete });
            let mut correct = 0u8;
            if done {
                for (q, hits) in per_question.iter_mut().enumerate() {
                    if rng.chance(p_correct) {
                        correct |= 1 << q;
                        *hits += 1;
                    }
                }
            }
            let right = correct.count_ones();
            let wrong = questions as u32 - right;
            if done {
                completed += 1;
                correct_total += u64::from(right);
            }
            if !external {
                p.assigned += 1;
                if !done {
                    p.not_watched += 1;
                } else if wrong == 0 {
                    p.all_correct += 1;
                } else {
                    p.some_incorrect += 1;
                }
                if done {
                    p.correct_answers += right;
                    p.incorrect_answers += wrong;
                }
            }
            rows.push(Enrollment {
                person: i as u32,
                done,
                correct,
                // Outside addresses keep one spelling, as the recorded gmail one does.
                case: if external { 0 } else { pick_case(&mut rng) },
            });
        }
        let sent = rows.len() as u64;
        let title = base.replace(' ', "_");
        let correct_answers: Map<String, Value> = (1..=questions)
            .map(|q| (format!("forQuestion{q}"), Value::from(rng.range(1, 4))))
            .collect();
        let num_correct: Map<String, Value> = per_question
            .iter()
            .enumerate()
            .map(|(q, n)| (format!("forQuestion{}", q + 1), Value::from(*n)))
            .collect();
        let record = json!({
            "id": secure_id(&mut rng, "eNq"),
            "name": name,
            "title": {
                "id": secure_id(&mut rng, "eNq"),
                "title": title,
                "titleForCustomModule": false,
                "correctAnswers": correct_answers,
                "defaultGifs": {
                    "correctGif": format!("http://i.giphy.com/{}.gif", &secure_id(&mut rng, "")[..18]),
                    "incorrectGif": format!("http://i.giphy.com/{}.gif", &secure_id(&mut rng, "")[..18]),
                },
            },
            "group": group(&mut rng, &root_group, "All Staff", rows.len() - externals),
            "launchDate": date(launch),
            "createDate": date(created),
            "emailCustomized": false,
            "emailMsg": {
                "subject": format!("Security Awareness Module | {base}"),
                "body": format!(
                    "Hi [name],<br><br>Here's a security training module for you to complete.<br><br>[videoposter]<br><br>Click [platformlink] to watch \"{base}\". Then answer the knowledge question to complete your training experience.<br><br>Enjoy.<br><br>"
                ),
            },
            "numSent": sent,
            "numCompleted": completed,
            "allOtherCampaigns": {},
            "locked": false,
            "percentComplete": percent(completed, sent),
            "percentCorrect": percent(correct_total, completed * questions as u64),
            "numCorrectAnswers": num_correct,
        });
        out.push(Training {
            record,
            questions,
            rows,
        });
    }
    out
}

/// The `campaign/get-user-data` rows of one training campaign.
fn training_rows(t: &Training, everyone: &[Person]) -> Vec<Value> {
    t.rows
        .iter()
        .map(|e| {
            let p = &everyone[e.person as usize];
            let results: Map<String, Value> = (0..t.questions)
                .map(|q| {
                    let result = if !e.done {
                        "SENT"
                    } else if e.correct & (1 << q) != 0 {
                        "CORRECT"
                    } else {
                        "INCORRECT"
                    };
                    (format!("forQuestion{}", q + 1), text(result))
                })
                .collect();
            obj([
                ("name", text(&p.name)),
                ("email", Value::String(spelled(&p.email, e.case))),
                ("department", text(p.department)),
                ("results", Value::Object(results)),
                ("acknowledgement", Value::Bool(false)),
                ("userState", text("ACTIVE")),
            ])
        })
        .collect()
}

/// One recipient's outcome in one phishing campaign.
struct Outcome {
    person: u32,
    template: u8,
    /// 0 sent, 1 opened, 2 clicked, 3 submitted.
    stage: u8,
    reported: bool,
    case: u8,
    ip: u8,
    scheduled: i64,
    opened: i64,
    clicked: i64,
    submitted: i64,
    reported_at: i64,
}

struct Phishing {
    record: Value,
    rows: Vec<Outcome>,
}

/// Decides every phishing campaign (sequentially: rows report totals across campaigns).
fn decide_phishing(spec: &GenerateSpec, everyone: &mut [Person], internal: usize, slug: &str) -> Vec<Phishing> {
    let mut rng = SplitMix64::derive(spec.seed, S_PHISHING);
    let root_group = secure_id(&mut rng, "eNo");
    let mut out = Vec::with_capacity(spec.phishing);
    for p in 0..spec.phishing {
        let launch = launch_offset(&mut rng, p, spec.phishing, 21);
        let enroll = 0.3 + 0.6 * rng.next_f64();
        let first_template = rng.below(PHISH_TEMPLATES.len() as u64) as usize;
        let template_count = rng.range(1, 2) as usize;
        let mut rows = Vec::with_capacity((everyone.len() as f64 * enroll) as usize + everyone.len() - internal);
        for (i, person) in everyone.iter_mut().enumerate() {
            if i < internal && !rng.chance(enroll) {
                continue;
            }
            let template = (first_template + rng.below(template_count as u64) as usize) % PHISH_TEMPLATES.len();
            let mut stage = 0u8;
            if rng.chance(0.6) {
                stage = 1;
                if rng.chance(0.3) {
                    stage = 2;
                    if rng.chance(0.35) {
                        stage = 3;
                    }
                }
            }
            let reported = match stage {
                0 => false,
                1 => rng.chance(0.25),
                _ => rng.chance(0.05),
            };
            let scheduled = launch + rng.below(120) as i64 * 60;
            let opened = scheduled + rng.range(60, 36_000) as i64;
            let clicked = opened + rng.range(5, 300) as i64;
            let submitted = clicked + rng.range(10, 180) as i64;
            let reported_at = if stage >= 2 { clicked } else { opened } + rng.range(30, 7200) as i64;
            person.phish_sent += 1;
            if stage >= 2 {
                person.phish_clicked += 1;
            }
            rows.push(Outcome {
                person: i as u32,
                template: template as u8,
                stage,
                reported,
                case: if i < internal { pick_case(&mut rng) } else { 0 },
                ip: rng.range(1, 254) as u8,
                scheduled,
                opened,
                clicked,
                submitted,
                reported_at,
            });
        }

        let templates: Vec<Value> = (0..template_count)
            .map(|t| {
                let title = PHISH_TEMPLATES[(first_template + t) % PHISH_TEMPLATES.len()].0;
                json!({"id": secure_id(&mut rng, "eNo"), "displayTitle": title})
            })
            .collect();
        let (lead_title, sender_name, mailbox) = PHISH_TEMPLATES[first_template];
        let when = date(launch);
        let quarter = (when[5..7].parse::<u32>().unwrap_or(1) - 1) / 3 + 1;
        let name = format!("Q{quarter} {} Phish Test - {lead_title}", &when[..4]);
        let count = |f: &dyn Fn(&Outcome) -> bool| rows.iter().filter(|o| f(o)).count();
        let landing = *rng.pick(LANDING_PAGES);
        let record = json!({
            "id": secure_id(&mut rng, "eNo"),
            "name": name,
            "templates": templates,
            "sender": {
                "name": sender_name,
                "email": format!("{mailbox}@{slug}-secure-mail.example.net"),
            },
            "group": group(&mut rng, &root_group, "All Staff", count(&|o| (o.person as usize) < internal)),
            "landingPage": {"id": secure_id(&mut rng, "eNo"), "name": landing},
            "launchDate": when,
            "locale": "en",
            "timeSlotSelected": format!("TZ{}", rng.range(1, 4)),
            "locked": false,
            "numSent": rows.len(),
            "numOpened": count(&|o| o.stage >= 1),
            "numClicked": count(&|o| o.stage >= 2),
            "numSubmitted": count(&|o| o.stage >= 3),
            "numReported": count(&|o| o.reported),
        });
        out.push(Phishing { record, rows });
    }
    out
}

/// The `phishing/campaign/get-user-data` rows of one phishing campaign.
fn phishing_rows(c: &Phishing, everyone: &[Person]) -> Vec<Value> {
    c.rows
        .iter()
        .map(|o| {
            let p = &everyone[o.person as usize];
            let status = ["sent", "opened", "clicked", "submitted"][usize::from(o.stage)];
            let at = |reached: bool, t: i64| if reached { Value::String(date(t)) } else { Value::Null };
            let reaction = if o.stage >= 2 {
                Value::from(o.clicked - o.opened)
            } else if o.reported {
                Value::from(o.reported_at - o.opened)
            } else {
                Value::Null
            };
            obj([
                ("name", text(&p.name)),
                ("email", Value::String(spelled(&p.email, o.case))),
                ("department", text(p.department)),
                ("userState", text("ACTIVE")),
                ("templateName", text(PHISH_TEMPLATES[usize::from(o.template)].0)),
                ("status", text(status)),
                ("numCampaignsSent", Value::from(p.phish_sent)),
                ("numCampaignsClicked", Value::from(p.phish_clicked)),
                ("numTrainingModulesAssigned", Value::from(p.assigned)),
                ("numCorrectAnswers", Value::from(p.correct_answers)),
                ("numIncorrectAnswers", Value::from(p.incorrect_answers)),
                ("timeScheduled", Value::String(date(o.scheduled))),
                ("timeOpened", at(o.stage >= 1, o.opened)),
                ("timeClicked", at(o.stage >= 2, o.clicked)),
                ("timeSubmitted", at(o.stage >= 3, o.submitted)),
                ("timeReported", at(o.reported, o.reported_at)),
                (
                    "clickedIp",
                    if o.stage >= 2 {
                        Value::String(format!("203.0.113.{}", o.ip))
                    } else {
                        Value::Null
                    },
                ),
                ("reactionTime", reaction),
                ("numCampaignsScanned", Value::from(0)),
                ("numCampaignsClickedScanned", Value::from(0)),
                ("timeScanned", Value::Null),
            ])
        })
        .collect()
}

/// Builds every campaign's rows, spread over the available cores. Each job only
/// reads decided data, so the output does not depend on scheduling.
fn build_rows(training: &[Training], phishing: &[Phishing], everyone: &[Person]) -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let jobs = training.len() + phishing.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(jobs.max(1));
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<Value>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let job = next.fetch_add(1, Ordering::Relaxed);
                        if job >= jobs {
                            return mine;
                        }
                        let rows = if job < training.len() {
                            training_rows(&training[job], everyone)
                        } else {
                            phishing_rows(&phishing[job - training.len()], everyone)
                        };
                        mine.push((job, rows));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    done.sort_by_key(|(job, _)| *job);
    let mut rows = done.into_iter().map(|(_, r)| r);
    let t: Vec<Vec<Value>> = rows.by_ref().take(training.len()).collect();
    (t, rows.collect())
}

fn grade(rng: &mut SplitMix64, base: f64) -> &'static str {
    let g = (base + rng.next_f64() * 1.5 - 0.5).round().clamp(0.0, 4.0);
    GRADES[g as usize]
}

/// SAFE scores for about 90% of the people, performance rows for everyone with a
/// training module, watchlist rows for people with two or more unwatched modules
/// (and half of those with one).
fn scores(spec: &GenerateSpec, people: &[Person]) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut rng = SplitMix64::derive(spec.seed, S_SCORES);
    let mut safe = Vec::with_capacity(people.len());
    let mut performance = Vec::with_capacity(people.len());
    let mut watchlist = Vec::new();
    for p in people {
        if rng.chance(0.9) {
            // Grades as indices 0 (A) to 4 (F): clicks drive human error, answers
            // drive knowledge, finishing modules drives engagement.
            let human_error = (f64::from(p.phish_clicked) * 1.2).min(4.0);
            let answered = p.correct_answers + p.incorrect_answers;
            let knowledge = if answered == 0 {
                3.0
            } else {
                4.0 * f64::from(p.incorrect_answers) / f64::from(answered)
            };
            let engagement = if p.assigned == 0 {
                2.0
            } else {
                4.0 * f64::from(p.not_watched) / f64::from(p.assigned)
            };
            let sentiment = rng.next_f64() * 2.0;
            let risk = (human_error * 2.0 + knowledge + engagement + sentiment) / 5.0;
            safe.push(obj([
                ("emailAddress", Value::String(spelled(&p.email, pick_case(&mut rng)))),
                ("name", text(&p.name)),
                ("department", text(p.department)),
                ("risk", text(grade(&mut rng, risk))),
                ("humanError", text(grade(&mut rng, human_error))),
                ("sentiment", text(grade(&mut rng, sentiment))),
                ("engagement", text(grade(&mut rng, engagement))),
                ("knowledge", text(grade(&mut rng, knowledge))),
                ("userState", text("ACTIVE")),
            ]));
        }
        if p.assigned > 0 {
            performance.push(obj([
                ("email", Value::String(spelled(&p.email, pick_case(&mut rng)))),
                ("name", text(&p.name)),
                ("department", text(p.department)),
                ("numCorrect", Value::from(p.all_correct)),
                ("numIncorrect", Value::from(p.some_incorrect)),
                ("numNotWatched", Value::from(p.not_watched)),
                ("userState", text("ACTIVE")),
                ("userDetails", Value::Object(Map::new())),
            ]));
        }
        if p.not_watched >= 2 || (p.not_watched == 1 && rng.chance(0.5)) {
            watchlist.push(obj([
                ("email", Value::String(spelled(&p.email, pick_case(&mut rng)))),
                ("name", text(&p.name)),
                ("department", text(p.department)),
                ("watchlistCount", Value::from(p.not_watched)),
                ("userState", text("ACTIVE")),
            ]));
        }
    }
    (safe, performance, watchlist)
}

#[cfg(test)]
mod tests;
