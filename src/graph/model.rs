//! Entities, relationships and their property values, in JupiterOne's shape:
//! every element has `_key`, `_type` and `_class`; relationships also name their
//! endpoints with `_fromEntityKey` and `_toEntityKey`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

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
///
/// A list is open (a `Vec`) while a converter builds it; the store freezes it into
/// an exact shared slice when it takes the element, and shares one slice among the
/// relationships whose properties are equal (a million `ASSIGNED` edges carry a
/// handful of distinct lists). Changing a frozen list opens a copy first.
#[derive(Clone, Debug)]
pub struct Properties(List);

type Entry = (&'static str, Value);

#[derive(Clone, Debug)]
enum List {
    Open(Vec<Entry>),
    Frozen(Arc<[Entry]>),
}

impl Default for Properties {
    fn default() -> Self {
        Properties(List::Open(Vec::new()))
    }
}

impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Properties {
    pub fn new() -> Self {
        Self::default()
    }

    fn as_slice(&self) -> &[Entry] {
        match &self.0 {
            List::Open(v) => v,
            List::Frozen(s) => s,
        }
    }

    /// The list, opened for change (a frozen one is copied).
    fn open(&mut self) -> &mut Vec<Entry> {
        if let List::Frozen(s) = &self.0 {
            self.0 = List::Open(s.to_vec());
        }
        match &mut self.0 {
            List::Open(v) => v,
            List::Frozen(_) => unreachable!("opened above"),
        }
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.as_slice().binary_search_by(|(k, _)| (*k).cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).ok().map(|i| &self.as_slice()[i].1)
    }

    /// Sets a property; returns the value it replaced.
    pub fn insert(&mut self, name: &str, value: Value) -> Option<Value> {
        match self.position(name) {
            Ok(i) => Some(std::mem::replace(&mut self.open()[i].1, value)),
            Err(i) => {
                self.open().insert(i, (intern(name), value));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.position(name).ok()?;
        Some(self.open().remove(i).1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> + '_ {
        self.as_slice().iter().map(|(k, v)| (*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.as_slice().iter().map(|(k, _)| *k)
    }

    /// Freezes the list into an exact slice (a list of 9 has room for 16 while open):
    /// the store calls it on every element it takes and after every change.
    pub fn freeze(&mut self) {
        if let List::Open(v) = &mut self.0 {
            self.0 = List::Frozen(Arc::from(std::mem::take(v)));
        }
    }

    /// How many properties the list has room for.
    pub fn capacity(&self) -> usize {
        match &self.0 {
            List::Open(v) => v.capacity(),
            List::Frozen(s) => s.len(),
        }
    }

    /// Whether two lists share one slice.
    pub fn shares_with(&self, other: &Properties) -> bool {
        matches!((&self.0, &other.0), (List::Frozen(a), List::Frozen(b)) if Arc::ptr_eq(a, b))
    }
}

/// Shares equal frozen property lists (see [`Properties`]). Values are compared
/// exactly: floats by their bits.
#[derive(Default)]
pub(crate) struct PropertyLists(std::collections::HashSet<Shared, crate::graph::store::Hashing>);

struct Shared(Arc<[Entry]>);

impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(other.0.iter()).all(|((ka, va), (kb, vb))| {
                ka == kb
                    && match (va, vb) {
                        (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
                        (a, b) => a == b,
                    }
            })
    }
}

impl Eq for Shared {}

impl std::hash::Hash for Shared {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_usize(self.0.len());
        for (k, v) in self.0.iter() {
            k.hash(h);
            std::mem::discriminant(v).hash(h);
            match v {
                Value::Bool(b) => b.hash(h),
                Value::Int(i) => i.hash(h),
                Value::Float(f) => f.to_bits().hash(h),
                Value::Str(s) => s.hash(h),
                Value::StrList(l) => l.hash(h),
            }
        }
    }
}

impl PropertyLists {
    /// Freezes `p` and, when an equal list is already shared, uses that one instead.
    pub(crate) fn share(&mut self, p: &mut Properties) {
        p.freeze();
        let List::Frozen(s) = &p.0 else {
            unreachable!("frozen above")
        };
        let candidate = Shared(Arc::clone(s));
        match self.0.get(&candidate) {
            Some(existing) => p.0 = List::Frozen(Arc::clone(&existing.0)),
            None => {
                self.0.insert(candidate);
            }
        }
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
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.as_slice() {
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
/// Its key is not stored: J1's key `{from}|{class lower}|{to}` is built from the
/// endpoint keys when asked for, and the store shares those with the entities
/// (millions of relationships would otherwise each carry a key of 200 bytes, and
/// their endpoint keys again). Only a relationship read from a graph.json whose key
/// breaks that convention keeps its own key.
#[derive(Clone, Debug, PartialEq)]
pub struct Relationship {
    from: Arc<str>,
    to: Arc<str>,
    /// Boxed twice: a thin pointer, for the rare key that breaks the convention.
    #[expect(clippy::box_collection, reason = "8 bytes instead of 16 on every relationship")]
    odd_key: Option<Box<String>>,
    kind: &'static RelKind,
    pub properties: Properties,
}

/// A relationship's `_type` and `_class`, with the class as keys hold it: interned
/// together, so a relationship holds one pointer for the three.
#[derive(Debug, PartialEq, Eq)]
pub struct RelKind {
    relationship_type: &'static str,
    class: &'static str,
    class_in_key: &'static str,
}

impl RelKind {
    fn of(relationship_type: &str, class: &str) -> &'static RelKind {
        use std::collections::HashMap;
        use std::sync::{OnceLock, RwLock};
        type Kinds = RwLock<HashMap<(&'static str, &'static str), &'static RelKind>>;
        static KINDS: OnceLock<Kinds> = OnceLock::new();
        let (relationship_type, class) = (intern(relationship_type), intern(class));
        let kinds = KINDS.get_or_init(Default::default);
        let read = kinds.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(k) = read.get(&(relationship_type, class)) {
            return k;
        }
        drop(read);
        let mut write = kinds.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        write.entry((relationship_type, class)).or_insert_with(|| {
            Box::leak(Box::new(RelKind {
                relationship_type,
                class,
                class_in_key: intern(&class.to_ascii_lowercase()),
            }))
        })
    }
}

impl Serialize for Relationship {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(5 + self.properties.len()))?;
        map.serialize_entry("_key", &self.key())?;
        map.serialize_entry("_type", self.relationship_type())?;
        map.serialize_entry("_class", self.class())?;
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
        let mut r = Relationship::new(&t.relationship_type, &t.class, &t.from_key, &t.to_key);
        r.properties = t.properties;
        if !r.key_is(&t.key) {
            r.odd_key = Some(Box::new(t.key));
        }
        r
    }
}

/// A relationship's key as the pieces it is made of, compared and hashed as the
/// text they join into, without joining them.
#[derive(Clone, Copy)]
pub(crate) struct KeyParts<'a>([&'a str; 5]);

impl<'a> KeyParts<'a> {
    pub(crate) fn whole(key: &'a str) -> Self {
        KeyParts([key, "", "", "", ""])
    }

    pub(crate) fn joined(&self) -> String {
        self.0.concat()
    }

    fn bytes(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.0.iter().map(|p| p.as_bytes()).filter(|p| !p.is_empty())
    }

    /// The key's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.iter().map(|p| p.len()).sum()
    }

    /// Hands the key's bytes to `f`, piece by piece, in order.
    pub(crate) fn for_each_piece(&self, mut f: impl FnMut(&[u8])) {
        for p in self.bytes() {
            f(p);
        }
    }

    #[cfg(test)]
    pub(crate) fn starts_with(&self, prefix: &str) -> bool {
        self.cmp_prefix(prefix.as_bytes())
    }

    fn cmp_prefix(&self, mut prefix: &[u8]) -> bool {
        for p in self.bytes() {
            let n = p.len().min(prefix.len());
            if p[..n] != prefix[..n] {
                return false;
            }
            prefix = &prefix[n..];
            if prefix.is_empty() {
                return true;
            }
        }
        prefix.is_empty()
    }

    /// Whether the key is `key`.
    pub(crate) fn is(&self, key: &str) -> bool {
        self.0.iter().map(|p| p.len()).sum::<usize>() == key.len() && self.cmp_prefix(key.as_bytes())
    }
}

impl Ord for KeyParts<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (mut a, mut b) = (self.bytes(), other.bytes());
        let (mut x, mut y): (&[u8], &[u8]) = (&[], &[]);
        loop {
            if x.is_empty() {
                x = a.next().unwrap_or_default();
            }
            if y.is_empty() {
                y = b.next().unwrap_or_default();
            }
            if x.is_empty() || y.is_empty() {
                return x.len().cmp(&y.len());
            }
            let n = x.len().min(y.len());
            match x[..n].cmp(&y[..n]) {
                std::cmp::Ordering::Equal => (x, y) = (&x[n..], &y[n..]),
                unequal => return unequal,
            }
        }
    }
}

impl PartialOrd for KeyParts<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for KeyParts<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for KeyParts<'_> {}

impl Relationship {
    /// Builds a relationship with J1's key convention: `{from}|{class lower}|{to}`.
    pub fn new(relationship_type: &str, class: &str, from_key: &str, to_key: &str) -> Self {
        Relationship {
            from: Arc::from(from_key),
            to: Arc::from(to_key),
            odd_key: None,
            kind: RelKind::of(relationship_type, class),
            properties: Properties::new(),
        }
    }

    /// `_key`, built from its parts (see [`Relationship::key_parts`] to compare it
    /// without building it).
    pub fn key(&self) -> Cow<'_, str> {
        match &self.odd_key {
            Some(k) => Cow::Borrowed(k),
            None => Cow::Owned(self.key_parts().joined()),
        }
    }

    pub(crate) fn key_parts(&self) -> KeyParts<'_> {
        match &self.odd_key {
            Some(k) => KeyParts::whole(k),
            None => KeyParts([&self.from, "|", self.kind.class_in_key, "|", &self.to]),
        }
    }

    /// Whether `_key` is `key`.
    pub fn key_is(&self, key: &str) -> bool {
        self.key_parts().is(key)
    }

    /// Orders relationships by `_key`.
    pub fn cmp_key(&self, other: &Relationship) -> std::cmp::Ordering {
        self.key_parts().cmp(&other.key_parts())
    }

    /// `_type`.
    pub fn relationship_type(&self) -> &'static str {
        self.kind.relationship_type
    }

    /// `_class`: the Neo4j relationship type.
    pub fn class(&self) -> &'static str {
        self.kind.class
    }

    /// `_fromEntityKey`.
    pub fn from_key(&self) -> &str {
        &self.from
    }

    /// `_toEntityKey`.
    pub fn to_key(&self) -> &str {
        &self.to
    }

    /// The `from` key as the store shares it: a copy costs a reference count, not the
    /// text.
    pub fn from_shared(&self) -> &Arc<str> {
        &self.from
    }

    /// Uses the store's copies of the endpoint keys (equal to its own).
    pub(crate) fn share_ends(&mut self, from: &Arc<str>, to: &Arc<str>) {
        debug_assert!((&**from, &**to) == (self.from_key(), self.to_key()));
        self.from = Arc::clone(from);
        self.to = Arc::clone(to);
    }

    /// The same relationship under another key (its endpoints unchanged).
    #[cfg(test)]
    pub fn rekeyed(&self, key: &str) -> Relationship {
        let mut r = Relationship {
            odd_key: None,
            ..self.clone()
        };
        if !r.key_is(key) {
            r.odd_key = Some(Box::new(key.to_owned()));
        }
        r
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
        // Millions of relationships: two shared endpoint keys, one kind, a list.
        assert_eq!(std::mem::size_of::<Properties>(), 24);
        assert_eq!(std::mem::size_of::<Relationship>(), 72);
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
        assert_eq!((&*r.key(), r.from_key(), r.to_key()), ("a|has|b", "a", "b"));
        assert!(r.odd_key.is_none());
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
        assert_eq!((&*odd.key(), odd.from_key(), odd.to_key()), ("k", "x:1", "y:2"));
        assert_eq!(odd.odd_key.as_deref().map(String::as_str), Some("k"));
        let moved = r.rekeyed("other");
        assert_eq!(
            (&*moved.key(), moved.from_key(), moved.to_key()),
            ("other", "x:1", "y:2")
        );
        assert_eq!(moved.properties, r.properties);
    }

    #[test]
    fn a_key_in_parts_hashes_orders_and_compares_as_its_text() {
        let long = "x".repeat(600);
        let keys = [
            ("a", "HAS", "b"),
            (long.as_str(), "HAS", "b"),
            ("a", "HAS", "ba"),
            ("a|", "HAS", "b"),
            ("ab", "IS", ""),
            ("", "HAS", "b"),
            ("mimecast_user:C1:x@y", "ASSIGNED", "mimecast_awareness_campaign:C1:1"),
            ("mimecast_user:C1:x@y", "COMPLETED", "mimecast_awareness_campaign:C1:1"),
        ];
        let rels: Vec<Relationship> = keys.iter().map(|(f, c, t)| Relationship::new("t", c, f, t)).collect();
        for r in &rels {
            let text = r.key().into_owned();
            assert_eq!(text, relationship_key(r.from_key(), r.class(), r.to_key()));
            assert!(r.key_is(&text));
            assert!(!r.key_is(&text[..text.len() - 1]) && !r.key_is(&format!("{text}x")));
            // The relationship index hashes a key's parts as it hashes its text.
            assert_eq!(
                super::super::store::GraphStore::key_hash(r.key_parts()),
                super::super::store::GraphStore::key_hash(KeyParts::whole(&text)),
                "{text}"
            );
            for other in &rels {
                assert_eq!(
                    r.cmp_key(other),
                    text.as_str().cmp(&*other.key()),
                    "{text} against {}",
                    other.key()
                );
            }
        }
        assert!(rels[0].key_parts().starts_with("a|h") && !rels[0].key_parts().starts_with("a|x"));
    }

    #[test]
    fn equal_property_lists_are_shared_and_a_change_opens_a_copy() {
        let mut lists = PropertyLists::default();
        let mut a = Properties::new();
        a.insert("n", Value::Float(0.0));
        a.insert("s", Value::from("x"));
        let (mut b, mut c) = (a.clone(), a.clone());
        c.insert("n", Value::Float(-0.0));
        for p in [&mut a, &mut b, &mut c] {
            lists.share(p);
        }
        assert!(a.shares_with(&b));
        // -0.0 == 0.0, but the two are written differently: compared by their bits.
        assert!(!a.shares_with(&c));
        b.insert("s", Value::from("y"));
        assert!(!a.shares_with(&b));
        assert_eq!(
            (a.get("s"), b.get("s")),
            (Some(&Value::from("x")), Some(&Value::from("y")))
        );
        assert_eq!(b.capacity(), 2);
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
