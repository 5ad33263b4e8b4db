//! Date-time handling. Mimecast writes `2022-01-11T23:32:00+0000` (no colon in the
//! offset); other sources write RFC 3339. Everything stored is normalized to UTC with
//! second precision and a `Z` (`2022-01-11T23:32:00Z`), so string order is time order.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};

/// A text that is not a date-time of either form; the message quotes it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO 8601 date-time: {0:?}")]
pub struct TimeError(pub String);

/// Parses a Mimecast or RFC 3339 timestamp.
///
/// # Errors
/// The text is neither form, or its year in UTC is not 0000 to 9999 (the normalized
/// form has four-digit years, so that string order stays time order).
pub fn parse(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let t = text.trim();
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z"))
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .filter(|d| (0..=9999).contains(&d.year()))
        .ok_or_else(|| TimeError(text.to_owned()))
}

/// The normalized text of a date-time.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses and normalizes in one step.
///
/// # Errors
/// As [`parse`].
pub fn normalize(text: &str) -> Result<String, TimeError> {
    parse(text).map(iso)
}

/// Now, normalized.
pub fn now_iso() -> String {
    iso(Utc::now())
}

/// True when `text` is already in the normalized form.
pub fn is_normalized(text: &str) -> bool {
    text.len() == 20 && text.ends_with('Z') && normalize(text).as_deref() == Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_offset_forms() {
        assert_eq!(normalize("2022-01-11T23:32:00+0000").unwrap(), "2022-01-11T23:32:00Z");
        assert_eq!(normalize("2024-05-01T11:00:00+02:00").unwrap(), "2024-05-01T09:00:00Z");
        assert_eq!(normalize("2024-05-01T09:00:00.250Z").unwrap(), "2024-05-01T09:00:00Z");
        assert_eq!(normalize("2024-05-01T09:00:00.5-0100").unwrap(), "2024-05-01T10:00:00Z");
        assert_eq!(
            normalize("yesterday").unwrap_err().to_string(),
            "not an ISO 8601 date-time: \"yesterday\""
        );
    }

    #[test]
    fn years_outside_four_digits_are_refused() {
        // Found by fuzz/ (target time): a signed year normalized to a text that
        // is_normalized refused and that sorted before year 0.
        for text in [
            "-024-05-01T09:00:00.54-0040",
            "+10000-01-01T00:00:00+0000",
            "9999-12-31T23:30:00-0100",
        ] {
            assert_eq!(normalize(text), Err(TimeError(text.to_owned())));
        }
        assert_eq!(normalize("0000-01-01T00:00:00+0000").unwrap(), "0000-01-01T00:00:00Z");
        assert_eq!(normalize("9999-12-31T23:59:59Z").unwrap(), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn normalized_form_is_recognized() {
        assert!(is_normalized("2022-01-11T23:32:00Z"));
        assert!(!is_normalized("2022-01-11T23:32:00+0000"));
        assert!(!is_normalized("2022-01-11"));
    }
}
