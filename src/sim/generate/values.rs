//! Small value builders the generators share: JSON objects, user records, outside
//! addresses, secure ids, Mimecast's date form, and the mixed case of addresses.

use serde_json::Value;

use super::names::{FIRST_NAMES, LAST_NAMES};
use super::{Person, EPOCH};
use crate::sim::rng::SplitMix64;

/// A JSON object from owned values. Large tenants hold millions of records: values
/// are moved in rather than copied through `json!`, and the map is bulk-built from
/// sorted keys (compact nodes). The allocation churn `json!` causes made glibc
/// consolidate its heap over and over and tripled generation time.
pub(super) fn obj<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub(super) fn text(t: &str) -> Value {
    Value::String(t.to_owned())
}

pub(super) fn user_record(
    name: &str,
    email: String,
    domain: &str,
    alias: bool,
    address_type: &str,
    source: &str,
) -> Value {
    obj([
        ("name", text(name)),
        ("emailAddress", Value::String(email)),
        ("domain", text(domain)),
        ("alias", Value::Bool(alias)),
        ("addressType", text(address_type)),
        ("source", text(source)),
    ])
}

pub(super) fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The k-th address outside the internal domains: a personal mailbox (no name, as
/// the recording shows), an old corporate address of a real employee, or a contractor.
pub(super) fn external_person(rng: &mut SplitMix64, k: usize, slug: &str, people: &[Person]) -> Person {
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
pub(crate) fn secure_id(rng: &mut SplitMix64, prefix: &str) -> String {
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
pub(super) fn date(offset_secs: i64) -> String {
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
pub(super) fn pick_case(rng: &mut SplitMix64) -> u8 {
    if !rng.chance(0.1) {
        0
    } else if rng.chance(0.5) {
        1
    } else {
        2
    }
}

pub(super) fn spelled(email: &str, case: u8) -> String {
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

pub(super) fn capitalize(s: &str) -> String {
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
