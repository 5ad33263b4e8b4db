//! Conversions between graph values and Bolt values.

//!
//! Properties the graph schema types as `datetime` travel as Neo4j `DATETIME` values
//! (so Cypher's date arithmetic works on them); the graph and graph.json keep their
//! normalized ISO text ([`crate::time`]). Temporal values read back print as that text.

use chrono::{DateTime, SecondsFormat, Utc};
use neo4rs::{BoltBoolean, BoltFloat, BoltInteger, BoltList, BoltMap, BoltNull, BoltString, BoltType};

use crate::graph::{Properties, Value};

/// A graph value as Bolt; `datetime` says the schema types it as a date-time, and then
/// a normalized ISO text becomes a `DATETIME` (any other text stays text, and the
/// integrity check reports it).
pub fn to_bolt(value: &Value, datetime: bool) -> BoltType {
    match value {
        Value::Bool(v) => BoltType::Boolean(BoltBoolean::new(*v)),
        Value::Int(v) => BoltType::Integer(BoltInteger::new(*v)),
        Value::Float(v) => BoltType::Float(BoltFloat::new(*v)),
        Value::Str(v) if datetime => date_time_text(v),
        Value::Str(v) => BoltType::String(BoltString::from(v.as_str())),
        Value::StrList(v) => BoltType::List(
            v.iter()
                .map(|s| BoltType::String(BoltString::from(s.as_str())))
                .collect::<Vec<_>>()
                .into(),
        ),
    }
}

/// A property map with extra string entries (`_key`, `_type`, ...) in front;
/// `is_datetime` names the properties the schema types as date-times.
pub fn props_map(extra: &[(&str, &str)], props: &Properties, is_datetime: impl Fn(&str) -> bool) -> BoltMap {
    let mut map = BoltMap::with_capacity(extra.len() + props.len());
    for (k, v) in extra {
        map.put(BoltString::from(*k), BoltType::String(BoltString::from(*v)));
    }
    for (k, v) in props {
        map.put(BoltString::from(k), to_bolt(v, is_datetime(k)));
    }
    map
}

/// A `DATETIME` (UTC).
pub fn date_time(t: DateTime<Utc>) -> BoltType {
    BoltType::DateTime(t.into())
}

/// A `DATETIME` from an ISO text; a text that is not one stays text.
pub fn date_time_text(text: &str) -> BoltType {
    crate::time::parse(text).map_or_else(|_| string(text), date_time)
}

/// The instant of a temporal value with a zone or offset; `None` for anything else.
pub fn instant(value: &BoltType) -> Option<DateTime<Utc>> {
    match value {
        BoltType::DateTime(d) => DateTime::<Utc>::try_from(d).ok(),
        BoltType::DateTimeZoneId(d) => DateTime::<Utc>::try_from(d).ok(),
        _ => None,
    }
}

/// ISO text of an instant: UTC with a `Z`, seconds, and a fraction only when there is
/// one (so what the sink wrote reads back as the text the graph holds).
pub fn instant_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A text value, or a date-time as its ISO text; `None` for anything else.
pub fn text(value: &BoltType) -> Option<String> {
    match value {
        BoltType::String(s) => Some(s.value.clone()),
        other => instant(other).map(instant_text),
    }
}

pub fn string(s: &str) -> BoltType {
    BoltType::String(BoltString::from(s))
}

pub fn list(items: Vec<BoltType>) -> BoltType {
    BoltType::List(BoltList::from(items))
}

pub fn map(entries: Vec<(&str, BoltType)>) -> BoltType {
    let mut m = BoltMap::with_capacity(entries.len());
    for (k, v) in entries {
        m.put(BoltString::from(k), v);
    }
    BoltType::Map(m)
}

/// Bolt to JSON, for query output. Temporal values print as their ISO text;
/// nodes and relationships print as their property maps.
pub fn to_json(value: &BoltType) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        BoltType::Null(BoltNull) => J::Null,
        BoltType::Boolean(b) => J::Bool(b.value),
        BoltType::Integer(i) => J::from(i.value),
        BoltType::Float(f) => serde_json::Number::from_f64(f.value).map_or(J::Null, J::Number),
        BoltType::String(s) => J::String(s.value.clone()),
        BoltType::List(l) => J::Array(l.value.iter().map(to_json).collect()),
        BoltType::Map(m) => map_to_json(m),
        BoltType::Node(n) => map_to_json(&n.properties),
        BoltType::Relation(r) => map_to_json(&r.properties),
        BoltType::UnboundedRelation(r) => map_to_json(&r.properties),
        other => J::String(instant(other).map_or_else(|| other.to_string(), instant_text)),
    }
}

fn map_to_json(m: &BoltMap) -> serde_json::Value {
    let sorted: std::collections::BTreeMap<_, _> = m.value.iter().map(|(k, v)| (k.value.clone(), to_json(v))).collect();
    serde_json::Value::Object(sorted.into_iter().collect())
}

/// JSON (query parameters) to Bolt.
pub fn from_json(value: &serde_json::Value) -> BoltType {
    use serde_json::Value as J;
    match value {
        J::Null => BoltType::Null(BoltNull),
        J::Bool(b) => BoltType::Boolean(BoltBoolean::new(*b)),
        J::Number(n) => match n.as_i64() {
            Some(i) => BoltType::Integer(BoltInteger::new(i)),
            None => BoltType::Float(BoltFloat::new(n.as_f64().unwrap_or(f64::NAN))),
        },
        J::String(s) => string(s),
        J::Array(items) => list(items.iter().map(from_json).collect()),
        J::Object(m) => {
            let mut map = BoltMap::with_capacity(m.len());
            for (k, v) in m {
                map.put(BoltString::from(k.as_str()), from_json(v));
            }
            BoltType::Map(map)
        }
    }
}
