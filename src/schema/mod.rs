//! The graph model as data, loaded from `graph-schema/schema.toml` (embedded at
//! build time). Labels, relationship types, constraints and validation all come from
//! here.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// Entity types, as the schema names them.
pub mod types {
    pub const ACCOUNT: &str = "mimecast_account";
    pub const DOMAIN: &str = "mimecast_domain";
    pub const USER: &str = "mimecast_user";
    pub const AWARENESS_CAMPAIGN: &str = "mimecast_awareness_campaign";
    pub const PHISHING_CAMPAIGN: &str = "mimecast_phishing_campaign";
    pub const TRAINING_CATEGORY: &str = "training_category";
    pub const PERSON: &str = "person";
    pub const COMPLIANCE_QUERY: &str = "compliance_query";
    pub const URL_CLICK: &str = "mimecast_url_click";
    pub const ATTACHMENT_THREAT: &str = "mimecast_attachment_threat";
    pub const IMPERSONATION: &str = "mimecast_impersonation";
    pub const URL: &str = "mimecast_url";
    pub const FILE: &str = "mimecast_file";
    pub const SENDER_DOMAIN: &str = "mimecast_sender_domain";
    pub const GROUP: &str = "mimecast_group";
    pub const SIEM_DETECTION: &str = "mimecast_siem_detection";
}

/// Relationship types, as the schema names them.
pub mod rels {
    pub const ACCOUNT_HAS_DOMAIN: &str = "mimecast_account_has_domain";
    pub const ACCOUNT_HAS_AWARENESS_CAMPAIGN: &str = "mimecast_account_has_awareness_campaign";
    pub const ACCOUNT_HAS_PHISHING_CAMPAIGN: &str = "mimecast_account_has_phishing_campaign";
    pub const DOMAIN_HAS_USER: &str = "mimecast_domain_has_user";
    pub const USER_ASSIGNED_AWARENESS: &str = "mimecast_user_assigned_awareness_campaign";
    pub const USER_COMPLETED_AWARENESS: &str = "mimecast_user_completed_awareness_campaign";
    pub const USER_ASSIGNED_PHISHING: &str = "mimecast_user_assigned_phishing_campaign";
    pub const CAMPAIGN_COVERS_CATEGORY: &str = "mimecast_awareness_campaign_covers_training_category";
    pub const PERSON_IS_USER: &str = "person_is_mimecast_user";
    /// A training done where the API cannot see it (`[compliance] extra_completions`).
    pub const PERSON_COMPLETED_CATEGORY: &str = "person_completed_training_category";
    pub const USER_CLICKED_URL: &str = "mimecast_user_clicked_url_click";
    pub const USER_RECEIVED_ATTACHMENT: &str = "mimecast_user_received_attachment_threat";
    pub const USER_RECEIVED_IMPERSONATION: &str = "mimecast_user_received_impersonation";
    pub const URL_CLICK_LINKS_TO_URL: &str = "mimecast_url_click_links_to_url";
    pub const ATTACHMENT_CARRIES_FILE: &str = "mimecast_attachment_threat_carries_file";
    pub const URL_CLICK_FROM_DOMAIN: &str = "mimecast_url_click_sent_from_sender_domain";
    pub const ATTACHMENT_FROM_DOMAIN: &str = "mimecast_attachment_threat_sent_from_sender_domain";
    pub const IMPERSONATION_FROM_DOMAIN: &str = "mimecast_impersonation_sent_from_sender_domain";
    pub const USER_MEMBER_OF_GROUP: &str = "mimecast_user_member_of_group";
    pub const DOMAIN_MEMBER_OF_GROUP: &str = "mimecast_domain_member_of_group";
    pub const GROUP_CHILD_OF_GROUP: &str = "mimecast_group_child_of_group";
    pub const USER_RECEIVED_SIEM: &str = "mimecast_user_received_siem_detection";
    pub const SIEM_LINKS_TO_URL: &str = "mimecast_siem_detection_links_to_url";
    pub const SIEM_CARRIES_FILE: &str = "mimecast_siem_detection_carries_file";
    pub const SIEM_FROM_DOMAIN: &str = "mimecast_siem_detection_sent_from_sender_domain";
}

/// The text of graph-schema/schema.toml.
pub const SOURCE: &str = include_str!("../../graph-schema/schema.toml");

/// A property's declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropType {
    String,
    Integer,
    Float,
    Boolean,
    StringList,
    DateTime,
}

impl PropType {
    fn parse(s: &str) -> Option<PropType> {
        Some(match s {
            "string" => PropType::String,
            "integer" => PropType::Integer,
            "float" => PropType::Float,
            "boolean" => PropType::Boolean,
            "string[]" => PropType::StringList,
            "datetime" => PropType::DateTime,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            PropType::String => "string",
            PropType::Integer => "integer",
            PropType::Float => "float",
            PropType::Boolean => "boolean",
            PropType::StringList => "string[]",
            PropType::DateTime => "datetime",
        }
    }
}

#[derive(Clone, Debug)]
pub struct PropSpec {
    pub name: String,
    pub prop_type: PropType,
    pub required: bool,
}

#[derive(Clone, Debug)]
pub struct EntitySchema {
    pub entity_type: String,
    pub class: String,
    /// The type label, e.g. `MimecastUser`.
    pub label: String,
    pub key: String,
    pub source: String,
    pub description: String,
    pub properties: Vec<PropSpec>,
    pub additional_properties: Option<PropType>,
    /// Gathers many relationships: the sink never writes to one such node from two
    /// transactions at once (see `sink::plan`).
    pub dense: bool,
    pub lifecycle: Lifecycle,
    /// Semantic labels after the type and class labels (`UserAccount`), so that graphs
    /// of other tools join on them.
    pub extra_labels: Vec<String>,
    /// Properties with a Neo4j range index of their own (beside `_key` and
    /// `accountCode`): what joins and saved queries filter by.
    pub indexes: Vec<String>,
}

/// How long an element stays in the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// The tenant's current state: an element the next complete sync does not bring
    /// is deleted (within the deletion guard).
    Snapshot,
    /// Something that happened (a click, a detection): never deleted for being absent
    /// from a sync, only once its `time` property is older than the retention window.
    Event {
        /// The datetime property that says when it happened.
        time: String,
    },
}

impl EntitySchema {
    /// Neo4j labels: the type label, then the J1 class label when it differs, then
    /// the extra semantic labels.
    pub fn labels(&self) -> Vec<&str> {
        let mut labels = vec![self.label.as_str()];
        if self.class != self.label {
            labels.push(self.class.as_str());
        }
        labels.extend(self.extra_labels.iter().map(String::as_str));
        labels
    }

    pub fn property(&self, name: &str) -> Option<&PropSpec> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Whether the property `name` is typed `datetime` (declared, or an additional
    /// property of a type whose additional properties are date-times).
    pub fn is_datetime(&self, name: &str) -> bool {
        self.property(name)
            .map_or(self.additional_properties == Some(PropType::DateTime), |p| {
                p.prop_type == PropType::DateTime
            })
    }

    /// Scoped types carry `accountCode`; cleanup is per account.
    pub fn is_account_scoped(&self) -> bool {
        self.property("accountCode").is_some_and(|p| p.required)
    }
}

#[derive(Clone, Debug)]
pub struct RelationshipSchema {
    pub relationship_type: String,
    /// Also the Neo4j relationship type.
    pub class: String,
    pub from: String,
    pub to: String,
    pub properties: Vec<PropSpec>,
    /// Properties with a Neo4j relationship range index (on the class, so shared by
    /// every type of that class that has the property): what saved queries seek by.
    pub indexes: Vec<String>,
}

impl RelationshipSchema {
    pub fn property(&self, name: &str) -> Option<&PropSpec> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Whether the property `name` is typed `datetime`.
    pub fn is_datetime(&self, name: &str) -> bool {
        self.property(name).is_some_and(|p| p.prop_type == PropType::DateTime)
    }
}

#[derive(Clone, Debug)]
pub struct Schema {
    pub entities: Vec<EntitySchema>,
    pub relationships: Vec<RelationshipSchema>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    entity: Vec<RawEntity>,
    relationship: Vec<RawRelationship>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntity {
    #[serde(rename = "type")]
    entity_type: String,
    class: String,
    label: String,
    key: String,
    source: String,
    description: String,
    additional_properties: Option<String>,
    #[serde(default)]
    dense: bool,
    /// `snapshot` (the default) or `event`.
    lifecycle: Option<String>,
    /// For `event`: the datetime property that says when it happened.
    event_time: Option<String>,
    #[serde(default)]
    extra_labels: Vec<String>,
    #[serde(default)]
    indexes: Vec<String>,
    properties: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelationship {
    #[serde(rename = "type")]
    relationship_type: String,
    class: String,
    from: String,
    to: String,
    #[serde(default)]
    indexes: Vec<String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

fn props(raw: BTreeMap<String, String>, owner: &str) -> Result<Vec<PropSpec>, SchemaError> {
    raw.into_iter()
        .map(|(name, t)| {
            let (t, required) = match t.strip_suffix('!') {
                Some(t) => (t, true),
                None => (t.as_str(), false),
            };
            let prop_type = PropType::parse(t)
                .ok_or_else(|| SchemaError::Invalid(format!("{owner}.{name}: unknown type {t:?}")))?;
            Ok(PropSpec {
                name,
                prop_type,
                required,
            })
        })
        .collect()
}

/// Every index of a type names one of its properties, or several joined by `+` (one
/// composite index).
fn check_indexes(owner: &str, indexes: &[String], properties: &[PropSpec]) -> Result<(), SchemaError> {
    for index in indexes {
        for name in index_properties(index) {
            if !is_identifier(name.trim_start_matches('_')) || !properties.iter().any(|p| p.name == name) {
                return Err(SchemaError::Invalid(format!(
                    "{owner}: index {index:?} must name one of its properties, or several joined by `+`"
                )));
            }
        }
    }
    Ok(())
}

/// The properties of a declared index, in order: `a+b` is a composite index on `a`
/// then `b`.
pub fn index_properties(index: &str) -> impl Iterator<Item = &str> {
    index.split('+')
}

/// A schema text that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// Not TOML of the schema's shape.
    #[error("{0}")]
    Toml(String),
    /// A declaration that breaks a rule; the text names the type and the rule.
    #[error("{0}")]
    Invalid(String),
}

impl Schema {
    /// The relationship indexes by class (Neo4j indexes a relationship type, which
    /// is the class here), each property once.
    pub fn relationship_indexes(&self) -> BTreeMap<&str, std::collections::BTreeSet<&str>> {
        let mut out: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        for r in self.relationships.iter().filter(|r| !r.indexes.is_empty()) {
            out.entry(r.class.as_str())
                .or_default()
                .extend(r.indexes.iter().map(String::as_str));
        }
        out
    }

    /// Parses and checks a schema text.
    ///
    /// # Errors
    /// Bad TOML, unknown property types, labels that are not identifiers, duplicate
    /// types, relationships naming unknown entity types.
    pub fn parse(text: &str) -> Result<Schema, SchemaError> {
        let raw: RawSchema = toml::from_str(text).map_err(|e| SchemaError::Toml(e.to_string()))?;
        let mut entities = Vec::new();
        for e in raw.entity {
            let properties = props(e.properties, &e.entity_type)?;
            let additional_properties = match e.additional_properties {
                Some(t) => Some(
                    PropType::parse(&t)
                        .ok_or_else(|| SchemaError::Invalid(format!("{}: unknown type {t:?}", e.entity_type)))?,
                ),
                None => None,
            };
            for name in [&e.label, &e.class].into_iter().chain(&e.extra_labels) {
                if !is_identifier(name) {
                    return Err(SchemaError::Invalid(format!(
                        "{}: label {name:?} is not an identifier",
                        e.entity_type
                    )));
                }
            }
            check_indexes(&e.entity_type, &e.indexes, &properties)?;
            let lifecycle = match (e.lifecycle.as_deref(), e.event_time) {
                (None | Some("snapshot"), None) => Lifecycle::Snapshot,
                (Some("event"), Some(time)) => {
                    if !properties
                        .iter()
                        .any(|p| p.name == time && p.prop_type == PropType::DateTime && p.required)
                    {
                        return Err(SchemaError::Invalid(format!(
                            "{}: event_time {time:?} must name a required datetime property",
                            e.entity_type
                        )));
                    }
                    Lifecycle::Event { time }
                }
                (Some("event"), None) => {
                    return Err(SchemaError::Invalid(format!(
                        "{}: lifecycle \"event\" needs event_time",
                        e.entity_type
                    )))
                }
                (None | Some("snapshot"), Some(_)) => {
                    return Err(SchemaError::Invalid(format!(
                        "{}: event_time is only for lifecycle \"event\"",
                        e.entity_type
                    )))
                }
                (Some(other), _) => {
                    return Err(SchemaError::Invalid(format!(
                        "{}: lifecycle {other:?} is neither \"snapshot\" nor \"event\"",
                        e.entity_type
                    )))
                }
            };
            entities.push(EntitySchema {
                lifecycle,
                entity_type: e.entity_type,
                class: e.class,
                label: e.label,
                key: e.key,
                source: e.source,
                description: e.description,
                properties,
                additional_properties,
                dense: e.dense,
                extra_labels: e.extra_labels,
                indexes: e.indexes,
            });
        }
        let mut relationships = Vec::new();
        for r in raw.relationship {
            for end in [&r.from, &r.to] {
                if !entities.iter().any(|e| &e.entity_type == end) {
                    return Err(SchemaError::Invalid(format!(
                        "{}: unknown entity type {end:?}",
                        r.relationship_type
                    )));
                }
            }
            if !is_identifier(&r.class) {
                return Err(SchemaError::Invalid(format!(
                    "{}: class {:?} is not an identifier",
                    r.relationship_type, r.class
                )));
            }
            let properties = props(r.properties, &r.relationship_type)?;
            check_indexes(&r.relationship_type, &r.indexes, &properties)?;
            relationships.push(RelationshipSchema {
                properties,
                indexes: r.indexes,
                relationship_type: r.relationship_type,
                class: r.class,
                from: r.from,
                to: r.to,
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in entities
            .iter()
            .map(|e| &e.entity_type)
            .chain(relationships.iter().map(|r| &r.relationship_type))
        {
            if !seen.insert(t.clone()) {
                return Err(SchemaError::Invalid(format!("type {t:?} is declared twice")));
            }
        }
        Ok(Schema {
            entities,
            relationships,
        })
    }

    /// Whether the property `name` of the entity or relationship type `element_type`
    /// is typed `datetime`: the sink writes those as Neo4j `DATETIME` values. False for
    /// a type the schema does not declare.
    pub fn is_datetime(&self, element_type: &str, name: &str) -> bool {
        match self.entity(element_type) {
            Some(e) => e.is_datetime(name),
            None => self.relationship(element_type).is_some_and(|r| r.is_datetime(name)),
        }
    }

    pub fn entity(&self, entity_type: &str) -> Option<&EntitySchema> {
        self.entities.iter().find(|e| e.entity_type == entity_type)
    }

    pub fn relationship(&self, relationship_type: &str) -> Option<&RelationshipSchema> {
        self.relationships
            .iter()
            .find(|r| r.relationship_type == relationship_type)
    }

    /// A relationship lives as long as its endpoints: it is an event when either
    /// endpoint is one (it is deleted with that node, never for being absent).
    pub fn is_event_relationship(&self, r: &RelationshipSchema) -> bool {
        [&r.from, &r.to].iter().any(|t| {
            self.entity(t)
                .is_some_and(|e| matches!(e.lifecycle, Lifecycle::Event { .. }))
        })
    }
}

/// The embedded schema.
///
/// # Panics
/// When graph-schema/schema.toml is invalid; a unit test parses it, so a build that
/// passed its tests cannot panic here.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::parse(SOURCE).unwrap_or_else(|e| panic!("graph-schema/schema.toml: {e}")))
}

pub mod keys;
mod markdown;

/// Properties the sink owns: they survive upserts and are left out of the content
/// fingerprint that decides whether an element changed. No converter or roster column
/// may set them. (`_lastSeenOn` and `_lastSyncId` were written by versions before the
/// diff engine; they are still ignored where an older graph holds them.)
pub const BOOKKEEPING: [&str; 13] = [
    "_firstSeenOn",
    "_lastChangedOn",
    "_fingerprint",
    "_lastSeenOn",
    "_lastSyncId",
    "lastSyncOn",
    "lastSyncStatus",
    "lastSuccessfulSyncOn",
    "_contentVerifiedOn",
    "_digests",
    "_digestsOn",
    "_contentGeneration",
    "_generationWas",
];

/// True for names safe to splice into Cypher as a label or relationship type.
/// Labels come from graph-schema/; the sink checks again as a second line of defence.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests;
