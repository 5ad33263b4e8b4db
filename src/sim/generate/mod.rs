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

/// How many addresses outside the internal domains a tenant of `users` people has:
/// 2, plus one per thousand people, at most 20. Each is enrolled in every training
/// and every phishing campaign.
pub fn external_addresses(users: usize) -> usize {
    2 + (users / 1000).min(18)
}

mod names;
mod phishing;
mod scores;
mod spec;
mod training;
mod values;

pub use names::TRAINING_NAMES;
use names::*;
use phishing::*;
use scores::*;
pub use spec::{GenerateSpec, SpecError};
use training::*;
use values::*;
pub(crate) use values::{percent, secure_id};

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

#[cfg(test)]
mod tests;
