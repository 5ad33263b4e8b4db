//! Content fingerprints: what decides whether a stored element differs from the one a
//! sync brings.
//!
//! A fingerprint covers every property the sink writes for an element except its own
//! bookkeeping ([`crate::schema::BOOKKEEPING`]), and a node's labels. It is computed the
//! same way from the collected element ([`of_entity`], [`of_relationship`]) and from
//! what Neo4j holds ([`of_stored`]), so an element edited or stripped by hand no
//! longer matches and is restored by the next sync. Fields are encoded in name order
//! with their type and length (so `"1"` and `1`, or `["a,b"]` and `["a","b"]`, differ)
//! and hashed with SHA-256; the first 64 bits, as 16 hex digits, are the fingerprint:
//! the same on every run and platform.
//!
//! A property the schema types as `datetime` enters as its instant, read from the
//! collected text or from the stored `DATETIME`; stored as text (by a version that
//! wrote date-times as strings), it differs, so the element is rewritten once with
//! native values.

use neo4rs::BoltType;
use sha2::{Digest, Sha256};

use crate::graph::{Entity, Relationship, Value};
use crate::schema::{Schema, BOOKKEEPING};

/// The name under which a node's labels enter its fingerprint (not a property name:
/// properties cannot start with a NUL).
const LABELS: &str = "\0labels";

/// One field's value, borrowed from either side.
enum Field<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<&'a str>),
    /// A date-time: seconds and nanoseconds since the epoch.
    Time(i64, u32),
    /// A value of a type the sink never writes (set by hand): never equal to ours.
    Foreign(String),
}

fn from_value(v: &Value, datetime: bool) -> Field<'_> {
    match v {
        Value::Str(s) if datetime => crate::time::parse(s).map_or(Field::Str(s), |t| time(&t)),
        Value::Str(s) => Field::Str(s),
        Value::Int(i) => Field::Int(*i),
        Value::Float(f) => Field::Float(*f),
        Value::Bool(b) => Field::Bool(*b),
        Value::StrList(l) => Field::List(l.iter().map(String::as_str).collect()),
    }
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> Field<'static> {
    Field::Time(t.timestamp(), t.timestamp_subsec_nanos())
}

fn from_bolt(v: &BoltType) -> Field<'_> {
    if let Some(t) = super::bolt::instant(v) {
        return time(&t);
    }
    match v {
        BoltType::String(s) => Field::Str(&s.value),
        BoltType::Integer(i) => Field::Int(i.value),
        BoltType::Float(f) => Field::Float(f.value),
        BoltType::Boolean(b) => Field::Bool(b.value),
        BoltType::List(l) => {
            let strings: Option<Vec<&str>> = l
                .value
                .iter()
                .map(|x| match x {
                    BoltType::String(s) => Some(s.value.as_str()),
                    _ => None,
                })
                .collect();
            strings.map_or_else(|| Field::Foreign(format!("{v:?}")), Field::List)
        }
        other => Field::Foreign(format!("{other:?}")),
    }
}

/// A fingerprint as written: 16 lower-case hex digits.
pub fn hex(fingerprint: u64) -> String {
    format!("{fingerprint:016x}")
}

/// Whether `stored` is the written form of `fingerprint`.
pub fn is(stored: &str, fingerprint: u64) -> bool {
    parse(stored) == Some(fingerprint)
}

/// The fingerprint `stored` is the written form of: exactly 16 lower-case hex digits.
pub fn parse(stored: &str) -> Option<u64> {
    (stored.len() == 16 && stored.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| u64::from_str_radix(stored, 16).ok())
        .flatten()
}

fn digest(fields: Vec<(&str, Field<'_>)>) -> String {
    hex(digest_value(fields))
}

fn digest_value(mut fields: Vec<(&str, Field<'_>)>) -> u64 {
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    let mut bytes = |tag: u8, payload: &[u8]| {
        h.update([tag]);
        h.update((payload.len() as u64).to_le_bytes());
        h.update(payload);
    };
    for (name, field) in &fields {
        bytes(b'n', name.as_bytes());
        match field {
            Field::Str(s) => bytes(b's', s.as_bytes()),
            Field::Int(i) => bytes(b'i', &i.to_le_bytes()),
            Field::Float(f) => bytes(b'f', &f.to_bits().to_le_bytes()),
            Field::Bool(b) => bytes(b'b', &[u8::from(*b)]),
            Field::List(items) => {
                bytes(b'l', &(items.len() as u64).to_le_bytes());
                for s in items {
                    bytes(b's', s.as_bytes());
                }
            }
            Field::Time(secs, nanos) => {
                let mut b = secs.to_le_bytes().to_vec();
                b.extend_from_slice(&nanos.to_le_bytes());
                bytes(b't', &b);
            }
            Field::Foreign(text) => bytes(b'x', text.as_bytes()),
        }
    }
    let out = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    u64::from_be_bytes(first)
}

fn data<'a>(
    props: &'a crate::graph::Properties,
    is_datetime: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = (&'a str, Field<'a>)> {
    props
        .iter()
        .filter(|(k, _)| !BOOKKEEPING.contains(k))
        .map(move |(k, v)| (k, from_value(v, is_datetime(k))))
}

/// The fingerprint of an entity as the sink writes it, with `labels`; `schema` says
/// which properties are date-times.
pub fn of_entity(e: &Entity, labels: &[&str], schema: &Schema) -> String {
    hex(entity_value(e, labels, schema))
}

/// [`of_entity`] as a number (its text is [`hex`] of it).
pub fn entity_value(e: &Entity, labels: &[&str], schema: &Schema) -> u64 {
    let mut fields: Vec<(&str, Field)> = vec![
        ("_key", Field::Str(&e.key)),
        ("_type", Field::Str(e.entity_type)),
        ("_class", Field::Str(e.class)),
        (LABELS, sorted(labels.to_vec())),
    ];
    // The type's schema is looked up once, not once per property.
    let spec = schema.entity(e.entity_type);
    fields.extend(data(&e.properties, move |k| spec.is_some_and(|s| s.is_datetime(k))));
    digest_value(fields)
}

/// The fingerprint of a relationship as the sink writes it.
pub fn of_relationship(r: &Relationship, schema: &Schema) -> String {
    hex(relationship_value(r, schema))
}

/// [`of_relationship`] as a number (its text is [`hex`] of it).
pub fn relationship_value(r: &Relationship, schema: &Schema) -> u64 {
    let key = r.key();
    let mut fields: Vec<(&str, Field)> = vec![
        ("_key", Field::Str(&key)),
        ("_type", Field::Str(r.relationship_type())),
        ("_class", Field::Str(r.class())),
        ("_fromEntityKey", Field::Str(r.from_key())),
        ("_toEntityKey", Field::Str(r.to_key())),
    ];
    let spec = schema.relationship(r.relationship_type());
    fields.extend(data(&r.properties, move |k| spec.is_some_and(|s| s.is_datetime(k))));
    digest_value(fields)
}

fn sorted(mut labels: Vec<&str>) -> Field<'_> {
    labels.sort_unstable();
    Field::List(labels)
}

/// The fingerprint of what Neo4j holds: its properties (`properties(x)`) for which
/// `keep` is true and, for a node, its labels.
pub fn of_stored<'a>(props: &'a neo4rs::BoltMap, labels: Option<Vec<&'a str>>, keep: impl Fn(&str) -> bool) -> String {
    let mut fields = stored_fields(props, keep);
    if let Some(labels) = labels {
        fields.push((LABELS, sorted(labels)));
    }
    digest(fields)
}

/// A stored element's data properties for which `keep` is true.
fn stored_fields(props: &neo4rs::BoltMap, keep: impl Fn(&str) -> bool) -> Vec<(&str, Field<'_>)> {
    props
        .value
        .iter()
        .filter(|(k, _)| !BOOKKEEPING.contains(&k.value.as_str()) && keep(&k.value))
        .map(|(k, v)| (k.value.as_str(), from_bolt(v)))
        .collect()
}

/// The fingerprint of a stored relationship: its properties for which `keep` is true,
/// and `ends` (`_class`, `_fromEntityKey`, `_toEntityKey`), which Neo4j holds as the
/// relationship's type and its endpoints' keys.
pub fn of_stored_relationship<'a>(
    props: &'a neo4rs::BoltMap,
    ends: [(&'a str, &'a str); 3],
    keep: impl Fn(&str) -> bool,
) -> String {
    let mut fields = stored_fields(props, keep);
    fields.extend(ends.into_iter().map(|(k, v)| (k, Field::Str(v))));
    digest(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Element as _;
    use crate::schema::schema;
    use crate::sink::bolt::props_map;

    fn user() -> Entity {
        Entity::new("mimecast_user:C1:a@x.com", "mimecast_user", "User")
            .with("accountCode", "C1")
            .with("email", "a@x.com")
            .with("watchlistCount", 2_i64)
            .with("risk", 0.5)
            .with("alias", false)
            .with("groups", vec!["a".to_owned(), "b".to_owned()])
    }

    fn stored(e: &Entity, extra: &[(&str, &str)]) -> neo4rs::BoltMap {
        let mut base = vec![("_key", e.key.as_str()), ("_type", e.entity_type), ("_class", e.class)];
        base.extend_from_slice(extra);
        props_map(&base, &e.properties, |k| schema().is_datetime(e.entity_type, k))
    }

    #[test]
    fn stable_known_value() {
        // A change here changes every stored fingerprint: every element is rewritten once.
        assert_eq!(
            of_entity(&user(), &["MimecastUser", "User"], schema()),
            "8115368e455fb709"
        );
    }

    #[test]
    fn the_stored_form_matches_and_ignores_bookkeeping_and_label_order() {
        let e = user();
        let map = stored(&e, &[("_firstSeenOn", "2026-01-01T00:00:00Z"), ("_fingerprint", "x")]);
        assert_eq!(
            of_stored(&map, Some(vec!["User", "MimecastUser"]), |_| true),
            of_entity(&e, &["MimecastUser", "User"], schema())
        );
    }

    #[test]
    fn any_difference_changes_it() {
        let e = user();
        let base = of_entity(&e, &["MimecastUser", "User"], schema());
        let edits: Vec<Entity> = vec![
            e.clone().with("watchlistCount", 3_i64),
            e.clone().with("watchlistCount", "2"),
            e.clone().with("groups", vec!["a,b".to_owned()]),
            e.clone().with("risk", 0.25),
            e.clone().with("extra", ""),
            {
                let mut x = e.clone();
                x.properties.remove("alias");
                x
            },
        ];
        for edited in &edits {
            assert_ne!(
                of_entity(edited, &["MimecastUser", "User"], schema()),
                base,
                "{edited:?}"
            );
        }
        assert_ne!(of_entity(&e, &["MimecastUser"], schema()), base, "a label removed");
        let mut map = stored(&e, &[]);
        map.put("displayName".into(), BoltType::String("edited by hand".into()));
        assert_ne!(of_stored(&map, Some(vec!["MimecastUser", "User"]), |_| true), base);
    }

    #[test]
    fn a_fingerprint_is_16_lower_hex_digits_and_compared_as_written() {
        let r = Relationship::new("t", "HAS", "a", "b").with("passed", true);
        let value = relationship_value(&r, schema());
        let text = of_relationship(&r, schema());
        assert_eq!((text.len(), hex(value)), (16, text.clone()));
        assert!(is(&text, value));
        assert!(!is(&text.to_uppercase(), value) || text.bytes().all(|b| b.is_ascii_digit()));
        assert!(!is(&format!("0{text}"), value) && !is(&text[1..], value));
        assert!(!is(&hex(value ^ 1), value));
        assert_eq!(hex(0xa1), "00000000000000a1");
        assert!(is("00000000000000a1", 0xa1) && !is("+0000000000000a1", 0xa1));
        assert_eq!(parse("ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse("00000000000000a1"), Some(0xa1));
        for not_ours in ["00000000000000A1", "+0000000000000a1", "0xa1", "", "00000000000000a10"] {
            assert_eq!(parse(not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn relationships_cover_their_endpoints() {
        let r = Relationship::new("t", "HAS", "a", "b").with("passed", true);
        let mut other = Relationship::new("t", "HAS", "a", "c").with("passed", true);
        other = other.rekeyed(&r.key());
        assert_ne!(of_relationship(&r, schema()), of_relationship(&other, schema()));
        let map = props_map(
            &[
                ("_key", &*r.key()),
                ("_type", "t"),
                ("_class", "HAS"),
                ("_fromEntityKey", "a"),
                ("_toEntityKey", "b"),
            ],
            &r.properties,
            |_| false,
        );
        assert_eq!(of_stored(&map, None, |_| true), of_relationship(&r, schema()));
    }

    #[test]
    fn date_times_match_as_instants_and_text_stored_for_one_differs() {
        let e = user().with("lastMessageSentOn", "2026-11-30T09:15:00Z");
        let ours = of_entity(&e, &["MimecastUser", "User"], schema());
        let native = stored(&e, &[]);
        assert!(matches!(
            native.value.get("lastMessageSentOn"),
            Some(BoltType::DateTime(_))
        ));
        assert_eq!(of_stored(&native, Some(vec!["MimecastUser", "User"]), |_| true), ours);
        // As an older version wrote it: the same text, but a string.
        let mut text = native.clone();
        text.put(
            "lastMessageSentOn".into(),
            BoltType::String("2026-11-30T09:15:00Z".into()),
        );
        assert_ne!(of_stored(&text, Some(vec!["MimecastUser", "User"]), |_| true), ours);
        // A different instant differs.
        let later = user().with("lastMessageSentOn", "2026-11-30T09:15:01Z");
        assert_ne!(of_entity(&later, &["MimecastUser", "User"], schema()), ours);
    }
}
