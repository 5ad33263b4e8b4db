//! Date-time parsing and normalization. The input is one or two texts (split at the
//! first newline).
//!
//! Invariants: a text that parses normalizes to a text that `is_normalized` accepts
//! and that normalizes to itself, naming the same second; `is_normalized` accepts
//! nothing else; for two texts that parse, string order of the normalized forms is
//! time order (to the second).
#![no_main]

use chrono::{DateTime, Timelike, Utc};
use libfuzzer_sys::fuzz_target;
use mimecast_graph::time::{is_normalized, iso, normalize, parse};

/// The normalized form of `text`, checked, with the second it names.
fn normalized(text: &str) -> Option<(String, DateTime<Utc>)> {
    let t = parse(text).ok()?;
    let n = iso(t);
    assert_eq!(normalize(text).as_deref(), Ok(n.as_str()));
    assert!(
        is_normalized(&n),
        "{text:?} normalizes to {n:?}, which is_normalized refuses"
    );
    assert_eq!(
        normalize(&n).as_deref(),
        Ok(n.as_str()),
        "{text:?} -> {n:?} is not stable"
    );
    let again = parse(&n).expect("a normalized text parses");
    assert_eq!(
        again.timestamp(),
        t.timestamp(),
        "{text:?} -> {n:?} names another second"
    );
    assert_eq!(again.nanosecond() % 1_000_000_000, 0, "{n:?} has a fraction");
    Some((n, again))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if is_normalized(text) {
        assert_eq!(normalize(text).as_deref(), Ok(text));
    }
    let (a, b) = text.split_once('\n').unwrap_or((text, ""));
    let (Some((na, ta)), Some((nb, tb))) = (normalized(a), normalized(b)) else {
        return;
    };
    assert_eq!(na.cmp(&nb), ta.cmp(&tb), "{na:?} and {nb:?}");
});
