//! Entities, relationships and their property values, in JupiterOne's shape:
//! every element has `_key`, `_type` and `_class`; relationships also name their
//! endpoints with `_fromEntityKey` and `_toEntityKey`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A property value. These are the only types written to Neo4j; date-times travel as
/// normalized ISO 8601 UTC strings (`2024-05-01T09:00:00Z`) so that string order is
/// time order in Cypher and in graph.json alike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    StrList(Vec<String>),
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
        Value::Str(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_owned())
    }
}
impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Value::StrList(v)
    }
}

/// Property maps are ordered so that graph.json and test output are stable.
pub type Properties = BTreeMap<String, Value>;

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    #[serde(rename = "_key")]
    pub key: String,
    #[serde(rename = "_type")]
    pub entity_type: String,
    #[serde(rename = "_class")]
    pub class: String,
    #[serde(flatten)]
    pub properties: Properties,
}

impl Entity {
    pub fn new(key: impl Into<String>, entity_type: &str, class: &str) -> Self {
        Entity {
            key: key.into(),
            entity_type: entity_type.to_owned(),
            class: class.to_owned(),
            properties: Properties::new(),
        }
    }

    /// Sets a property; `None` leaves it unset (absent, never null).
    pub fn set(&mut self, name: &str, value: impl Into<Option<Value>>) -> &mut Self {
        if let Some(v) = value.into() {
            self.properties.insert(name.to_owned(), v);
        }
        self
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }
}

/// A directed edge of the graph. Its Neo4j type is its `_class` (HAS, ASSIGNED, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    #[serde(rename = "_key")]
    pub key: String,
    #[serde(rename = "_type")]
    pub relationship_type: String,
    #[serde(rename = "_class")]
    pub class: String,
    #[serde(rename = "_fromEntityKey")]
    pub from_key: String,
    #[serde(rename = "_toEntityKey")]
    pub to_key: String,
    #[serde(flatten)]
    pub properties: Properties,
}

impl Relationship {
    /// Builds a relationship with J1's key convention: `{from}|{class lower}|{to}`.
    pub fn new(relationship_type: &str, class: &str, from_key: &str, to_key: &str) -> Self {
        Relationship {
            key: relationship_key(from_key, class, to_key),
            relationship_type: relationship_type.to_owned(),
            class: class.to_owned(),
            from_key: from_key.to_owned(),
            to_key: to_key.to_owned(),
            properties: Properties::new(),
        }
    }

    pub fn set(&mut self, name: &str, value: impl Into<Option<Value>>) -> &mut Self {
        if let Some(v) = value.into() {
            self.properties.insert(name.to_owned(), v);
        }
        self
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }
}

/// `{from _key}|{class lower}|{to _key}`, as design.md and the J1 SDK define it.
pub fn relationship_key(from_key: &str, class: &str, to_key: &str) -> String {
    format!("{from_key}|{}|{to_key}", class.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(r.key, "a|has|b");
    }

    #[test]
    fn float_and_int_stay_distinct_through_json() {
        let v: Value = serde_json::from_str("1.0").unwrap();
        assert_eq!(v, Value::Float(1.0));
        let v: Value = serde_json::from_str("1").unwrap();
        assert_eq!(v, Value::Int(1));
    }
}
