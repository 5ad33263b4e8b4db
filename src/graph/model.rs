//! Entities, relationships and their property values, in JupiterOne's shape:
//! every element has `_key`, `_type` and `_class`; relationships also name their
//! endpoints with `_fromEntityKey` and `_toEntityKey`.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// A property value. These are the only types written to Neo4j; date-times travel as
/// normalized ISO 8601 UTC strings (`2024-05-01T09:00:00Z`) so that string order is
/// time order in graph.json (the sink writes them as Neo4j date-times). Text of up to
/// 24 bytes is held inline (`CompactString`), so most values need no allocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(CompactString),
    /// Boxed, not a `Vec`: with the inline text this keeps a value at 24 bytes.
    StrList(Box<[String]>),
}

impl Value {
    /// The schema name of this value's type (`datetime` values report `string`).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::StrList(_) => "string[]",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Str(v) => f.write_str(v),
            Value::StrList(v) => write!(f, "[{}]", v.join(", ")),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(CompactString::from(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(CompactString::from(v))
    }
}
impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Value::StrList(v.into_boxed_slice())
    }
}

/// Interns a name (type, class or property name) for the life of the process. The
/// set of names is small and bounded (graph-schema/ plus roster columns), while a
/// large tenant has millions of elements carrying them: one copy each saves gigabytes.
pub fn intern(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{OnceLock, RwLock};
    static NAMES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    if let Some(n) = names
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(name)
    {
        return n;
    }
    let mut w = names.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(n) = w.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    w.insert(leaked);
    leaked
}

/// Properties of an element: a small list sorted by name. (A `BTreeMap` allocates a
/// node of eleven slots for the three properties a relationship typically has.)
/// Ordered, so graph.json and test output are stable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties(Vec<(&'static str, Value)>);

impl Properties {
    pub fn new() -> Self {
        Properties(Vec::new())
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (*k).cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    /// Sets a property; returns the value it replaced.
    pub fn insert(&mut self, name: &str, value: Value) -> Option<Value> {
        match self.position(name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (intern(name), value));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.position(name).ok().map(|i| self.0.remove(i).1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> + '_ {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }

    /// Drops the room the list grew for (a list of 9 has room for 16): the store
    /// calls it on every element it takes.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }

    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = (&'static str, &'a Value);
    type IntoIter = Box<dyn Iterator<Item = (&'static str, &'a Value)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl FromIterator<(String, Value)> for Properties {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut p = Properties::new();
        for (k, v) in iter {
            p.insert(&k, v);
        }
        p
    }
}

impl Serialize for Properties {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Properties;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of properties")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Properties, A::Error> {
                let mut p = Properties::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    p.insert(&k, v);
                }
                Ok(p)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// What entities and relationships share: a property list, set fluently.
pub trait Element: Sized {
    fn properties(&self) -> &Properties;
    fn properties_mut(&mut self) -> &mut Properties;

    /// Sets a property; `None` leaves it unset (absent, never null).
    fn set(&mut self, name: &str, value: impl Into<Option<Value>>) -> &mut Self {
        if let Some(v) = value.into() {
            self.properties_mut().insert(name, v);
        }
        self
    }

    fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties_mut().insert(name, value.into());
        self
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.properties().get(name)
    }

    fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }
}

impl Element for Entity {
    fn properties(&self) -> &Properties {
        &self.properties
    }
    fn properties_mut(&mut self) -> &mut Properties {
        &mut self.properties
    }
}

impl Element for Relationship {
    fn properties(&self) -> &Properties {
        &self.properties
    }
    fn properties_mut(&mut self) -> &mut Properties {
        &mut self.properties
    }
}

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entity {
    #[serde(rename = "_key")]
    pub key: String,
    #[serde(rename = "_type")]
    pub entity_type: &'static str,
    #[serde(rename = "_class")]
    pub class: &'static str,
    #[serde(flatten)]
    pub properties: Properties,
}

/// How an entity reads from JSON, before its names are interned.
#[derive(Deserialize)]
struct EntityText {
    #[serde(rename = "_key")]
    key: String,
    #[serde(rename = "_type")]
    entity_type: String,
    #[serde(rename = "_class")]
    class: String,
    #[serde(flatten)]
    properties: Properties,
}

impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EntityText::deserialize(d).map(Entity::from)
    }
}

impl From<EntityText> for Entity {
    fn from(t: EntityText) -> Self {
        Entity {
            key: t.key,
            entity_type: intern(&t.entity_type),
            class: intern(&t.class),
            properties: t.properties,
        }
    }
}

impl Entity {
    pub fn new(key: impl Into<String>, entity_type: &str, class: &str) -> Self {
        Entity {
            key: key.into(),
            entity_type: intern(entity_type),
            class: intern(class),
            properties: Properties::new(),
        }
    }
}

/// A directed edge of the graph. Its Neo4j type is its `_class` (HAS, ASSIGNED, ...).
///
/// The key and the endpoint keys share one text: J1's key `{from}|{class}|{to}` holds
/// both endpoints, so they are slices of it (a relationship read from a graph.json
/// whose key breaks that convention keeps them apart). Millions of relationships
/// would otherwise carry every endpoint key twice.
#[derive(Clone, Debug, PartialEq)]
pub struct Relationship {
    key: Box<str>,
    ends: Ends,
    pub relationship_type: &'static str,
    pub class: &'static str,
    pub properties: Properties,
}

/// Where a relationship's endpoint keys are.
#[derive(Clone, Debug, PartialEq)]
enum Ends {
    /// The from key is `key[..from_end]`, the to key `key[to_start..]`.
    InKey {
        from_end: u32,
        to_start: u32,
    },
    Apart(Box<(Box<str>, Box<str>)>),
}

impl Ends {
    fn of(key: &str, from_key: &str, to_key: &str) -> Ends {
        let in_key = key.starts_with(from_key) && key.ends_with(to_key);
        match (
            u32::try_from(from_key.len()),
            u32::try_from(key.len() - to_key.len().min(key.len())),
        ) {
            (Ok(from_end), Ok(to_start)) if in_key => Ends::InKey { from_end, to_start },
            _ => Ends::Apart(Box::new((from_key.into(), to_key.into()))),
        }
    }
}

impl Serialize for Relationship {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(5 + self.properties.len()))?;
        map.serialize_entry("_key", self.key())?;
        map.serialize_entry("_type", self.relationship_type)?;
        map.serialize_entry("_class", self.class)?;
        map.serialize_entry("_fromEntityKey", self.from_key())?;
        map.serialize_entry("_toEntityKey", self.to_key())?;
        for (k, v) in &self.properties {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// How a relationship reads from JSON, before its names are interned.
#[derive(Deserialize)]
struct RelationshipText {
    #[serde(rename = "_key")]
    key: String,
    #[serde(rename = "_type")]
    relationship_type: String,
    #[serde(rename = "_class")]
    class: String,
    #[serde(rename = "_fromEntityKey")]
    from_key: String,
    #[serde(rename = "_toEntityKey")]
    to_key: String,
    #[serde(flatten)]
    properties: Properties,
}

impl<'de> Deserialize<'de> for Relationship {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RelationshipText::deserialize(d).map(Relationship::from)
    }
}

impl From<RelationshipText> for Relationship {
    fn from(t: RelationshipText) -> Self {
        Relationship {
            ends: Ends::of(&t.key, &t.from_key, &t.to_key),
            key: t.key.into_boxed_str(),
            relationship_type: intern(&t.relationship_type),
            class: intern(&t.class),
            properties: t.properties,
        }
    }
}

impl Relationship {
    /// Builds a relationship with J1's key convention: `{from}|{class lower}|{to}`.
    pub fn new(relationship_type: &str, class: &str, from_key: &str, to_key: &str) -> Self {
        let key = relationship_key(from_key, class, to_key);
        Relationship {
            ends: Ends::of(&key, from_key, to_key),
            key: key.into_boxed_str(),
            relationship_type: intern(relationship_type),
            class: intern(class),
            properties: Properties::new(),
        }
    }

    /// `_key`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `_fromEntityKey`.
    pub fn from_key(&self) -> &str {
        match &self.ends {
            Ends::InKey { from_end, .. } => &self.key[..*from_end as usize],
            Ends::Apart(ends) => &ends.0,
        }
    }

    /// `_toEntityKey`.
    pub fn to_key(&self) -> &str {
        match &self.ends {
            Ends::InKey { to_start, .. } => &self.key[*to_start as usize..],
            Ends::Apart(ends) => &ends.1,
        }
    }

    /// The same relationship under another key (its endpoints unchanged).
    #[cfg(test)]
    pub fn rekeyed(&self, key: &str) -> Relationship {
        Relationship {
            ends: Ends::of(key, self.from_key(), self.to_key()),
            key: key.into(),
            ..self.clone()
        }
    }
}

/// `{from _key}|{class lower}|{to _key}`, as CONTRIBUTING.md §6.1 and the J1 SDK define it.
pub fn relationship_key(from_key: &str, class: &str, to_key: &str) -> String {
    format!("{from_key}|{}|{to_key}", class.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_and_a_property_are_small() {
        // Millions of elements hold several properties each (src/graph/model.rs).
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<(&'static str, Value)>(), 40);
    }

    #[test]
    fn entity_serializes_flat_with_j1_names() {
        let e = Entity::new("mimecast_account:C1", "mimecast_account", "Account")
            .with("accountCode", "C1")
            .with("userCount", 10_i64)
            .with("packages", vec!["A".to_owned()]);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "_key": "mimecast_account:C1", "_type": "mimecast_account", "_class": "Account",
                "accountCode": "C1", "packages": ["A"], "userCount": 10
            })
        );
        let back: Entity = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn relationship_key_follows_convention() {
        let r = Relationship::new("mimecast_account_has_domain", "HAS", "a", "b");
        assert_eq!((r.key(), r.from_key(), r.to_key()), ("a|has|b", "a", "b"));
        assert!(matches!(
            r.ends,
            Ends::InKey {
                from_end: 1,
                to_start: 6
            }
        ));
    }

    #[test]
    fn relationships_round_trip_through_json_whatever_their_key() {
        let r = Relationship::new("t", "HAS", "x:1", "y:2").with("accountCode", "C1");
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"_key":"x:1|has|y:2","_type":"t","_class":"HAS","_fromEntityKey":"x:1","_toEntityKey":"y:2","accountCode":"C1"}"#
        );
        assert_eq!(serde_json::from_str::<Relationship>(&json).unwrap(), r);
        // A key that does not hold its endpoints keeps them apart.
        let odd: Relationship = serde_json::from_str(
            r#"{"_key":"k","_type":"t","_class":"HAS","_fromEntityKey":"x:1","_toEntityKey":"y:2"}"#,
        )
        .unwrap();
        assert_eq!((odd.key(), odd.from_key(), odd.to_key()), ("k", "x:1", "y:2"));
        assert!(matches!(odd.ends, Ends::Apart(_)));
        let moved = r.rekeyed("other");
        assert_eq!((moved.key(), moved.from_key(), moved.to_key()), ("other", "x:1", "y:2"));
        assert_eq!(moved.properties, r.properties);
    }

    #[test]
    fn float_and_int_stay_distinct_through_json() {
        let v: Value = serde_json::from_str("1.0").unwrap();
        assert_eq!(v, Value::Float(1.0));
        let v: Value = serde_json::from_str("1").unwrap();
        assert_eq!(v, Value::Int(1));
    }
}

/// What the sync read from Neo4j about one user's mailbox activity before the run
/// (`sink::Sink::stored_activity`), for the users not checked this run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredActivity {
    pub last_sent: Option<String>,
    pub count: Option<i64>,
    pub capped: Option<bool>,
    pub checked_on: Option<String>,
}

/// Stored activity by user key.
pub type ActivityState = std::collections::BTreeMap<String, StoredActivity>;
