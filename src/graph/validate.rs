//! Integrity validation, run before any output. Elements that break a rule are taken
//! out of the graph (they could not be written correctly) and counted with samples in
//! the report; their types are returned so the run marks them partial and never
//! cleans them up on incomplete data.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::store::GraphStore;
use super::{Element, Entity, Properties, Relationship, Value};
use crate::schema::{PropSpec, PropType, Schema};

/// How many samples a finding keeps.
pub const SAMPLES: usize = 5;

/// What an integrity finding is about. The order is the report's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Two elements with one `_key`; the first is kept.
    DuplicateKey,
    /// A key holding a control character.
    InvalidKey,
    /// A relationship whose endpoint is not in the graph.
    DanglingRelationship,
    /// A relationship joining types its schema does not allow.
    DisallowedEndpoint,
    /// A type or class graph-schema/ does not declare.
    UnknownType,
    /// A required property is absent.
    MissingProperty,
    /// A property of the wrong type, or one the schema does not declare.
    MistypedProperty,
    /// An enrollment or phishing result for an address that is not an internal user
    /// of the tenant: not a defect of the graph; the configured policy decides.
    UnknownParticipant,
    /// Mimecast's own counts disagree with what it lists (a group's `userCount` or
    /// `folderCount`, a parent group not listed): reported, not a defect of the graph.
    SourceMismatch,
    /// A line of a SIEM batch file that is not a JSON event (or is longer than the
    /// line cap): counted and sampled, skipped; not a defect of the graph.
    CorruptRecord,
}

impl FindingKind {
    pub const ALL: [FindingKind; 10] = [
        FindingKind::DuplicateKey,
        FindingKind::InvalidKey,
        FindingKind::DanglingRelationship,
        FindingKind::DisallowedEndpoint,
        FindingKind::UnknownType,
        FindingKind::MissingProperty,
        FindingKind::MistypedProperty,
        FindingKind::UnknownParticipant,
        FindingKind::SourceMismatch,
        FindingKind::CorruptRecord,
    ];

    /// The name summaries and graph.json use.
    pub const fn as_str(self) -> &'static str {
        match self {
            FindingKind::DuplicateKey => "duplicate_key",
            FindingKind::InvalidKey => "invalid_key",
            FindingKind::DanglingRelationship => "dangling_relationship",
            FindingKind::DisallowedEndpoint => "disallowed_endpoint",
            FindingKind::UnknownType => "unknown_type",
            FindingKind::MissingProperty => "missing_property",
            FindingKind::MistypedProperty => "mistyped_property",
            FindingKind::UnknownParticipant => "unknown_participant",
            FindingKind::SourceMismatch => "source_mismatch",
            FindingKind::CorruptRecord => "corrupt_record",
        }
    }

    /// Whether the kind points at a defect of the graph (its types are incomplete and
    /// the run is partial). Unknown participants and source mismatches are facts of
    /// the tenant: the elements are as complete as the source.
    pub const fn is_defect(self) -> bool {
        !matches!(
            self,
            FindingKind::UnknownParticipant | FindingKind::SourceMismatch | FindingKind::CorruptRecord
        )
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub count: usize,
    pub samples: Vec<String>,
}

impl Finding {
    fn add(&mut self, sample: String) {
        self.count += 1;
        self.keep(sample);
    }

    /// Keeps a sample unless there are enough, or the same one is kept already.
    fn keep(&mut self, sample: String) {
        if self.samples.len() < SAMPLES && !self.samples.contains(&sample) {
            self.samples.push(sample);
        }
    }
}

/// Counts by kind, with a few samples each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IntegrityReport {
    pub findings: BTreeMap<FindingKind, Finding>,
    /// Types whose data is incomplete because elements were removed.
    pub affected_types: BTreeSet<String>,
    /// The same by account code; `None` for elements without one (they affect every
    /// account). Cleanup skips a type only in the accounts it is incomplete in.
    #[serde(skip)]
    pub affected_by_account: BTreeMap<Option<String>, BTreeSet<String>>,
}

impl IntegrityReport {
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.get(&kind).map_or(0, |f| f.count)
    }

    pub fn add(&mut self, kind: FindingKind, sample: String) {
        let finding = self.findings.entry(kind).or_default();
        // An unknown participant met in several sources ("x@gmail.com (SIEM av)",
        // "x@gmail.com in training campaign ...") is one example: the samples show
        // distinct participants, each named before " (" or " in ".
        fn who(s: &str) -> &str {
            let end = [" (", " in "].iter().filter_map(|m| s.find(m)).min().unwrap_or(s.len());
            &s[..end]
        }
        if kind == FindingKind::UnknownParticipant && finding.samples.iter().any(|s| who(s) == who(&sample)) {
            finding.count += 1;
            return;
        }
        finding.add(sample);
    }

    /// Records that `element_type` lost elements in `account` (`None`: unknown).
    pub fn affect(&mut self, account: Option<&str>, element_type: &str) {
        self.affected_types.insert(element_type.to_owned());
        self.affected_by_account
            .entry(account.map(str::to_owned))
            .or_default()
            .insert(element_type.to_owned());
    }

    /// The types incomplete in one account: its own and those of unknown account.
    pub fn affected_in(&self, account: &str) -> BTreeSet<String> {
        [Some(account.to_owned()), None]
            .iter()
            .filter_map(|a| self.affected_by_account.get(a))
            .flatten()
            .cloned()
            .collect()
    }

    /// Findings that point at a defect (every kind but unknown participants, which
    /// real tenants have and which the configured policy handles).
    pub fn defects(&self) -> usize {
        self.findings
            .iter()
            .filter(|(k, _)| k.is_defect())
            .map(|(_, f)| f.count)
            .sum()
    }

    pub fn is_clean(&self) -> bool {
        self.findings.values().all(|f| f.count == 0)
    }

    pub fn merge(&mut self, other: IntegrityReport) {
        for (kind, f) in other.findings {
            let mine = self.findings.entry(kind).or_default();
            mine.count += f.count;
            for s in f.samples {
                mine.keep(s);
            }
        }
        self.affected_types.extend(other.affected_types);
        for (account, types) in other.affected_by_account {
            self.affected_by_account.entry(account).or_default().extend(types);
        }
    }

    /// One line per kind with findings, for humans.
    pub fn lines(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|(_, f)| f.count > 0)
            .map(|(k, f)| format!("{k}: {} (e.g. {})", f.count, f.samples.join("; ")))
            .collect()
    }
}

/// Checks a property map against the declared properties. Returns the missing and
/// mistyped property descriptions.
fn check_properties(
    props: &Properties,
    specs: &[PropSpec],
    additional: Option<PropType>,
    owner: &str,
    report: &mut IntegrityReport,
) -> bool {
    let mut ok = true;
    for spec in specs {
        match props.get(&spec.name) {
            None if spec.required => {
                report.add(
                    FindingKind::MissingProperty,
                    format!("{owner}: {} ({})", spec.name, spec.prop_type.name()),
                );
                ok = false;
            }
            None => {}
            Some(v) if !accepts(spec.prop_type, v) => {
                report.add(
                    FindingKind::MistypedProperty,
                    format!(
                        "{owner}: {} is {} {v:?}, expected {}",
                        spec.name,
                        v.kind(),
                        spec.prop_type.name()
                    ),
                );
                ok = false;
            }
            Some(_) => {}
        }
    }
    for (name, v) in props {
        if specs.iter().any(|s| s.name == name) {
            continue;
        }
        match additional {
            Some(t) if accepts(t, v) => {}
            Some(t) => {
                report.add(
                    FindingKind::MistypedProperty,
                    format!("{owner}: {name} is {} {v:?}, expected {}", v.kind(), t.name()),
                );
                ok = false;
            }
            None => {
                report.add(
                    FindingKind::MistypedProperty,
                    format!("{owner}: {name} is not declared in graph-schema"),
                );
                ok = false;
            }
        }
    }
    ok
}

/// A key must not hold a NUL or another control character: it could not be matched
/// or printed as the same text everywhere (Cypher, graph.json, a terminal).
fn key_ok(key: &str, element_type: &str, report: &mut IntegrityReport) -> bool {
    if key.chars().any(char::is_control) {
        report.add(
            FindingKind::InvalidKey,
            format!("{} ({element_type}) holds a control character", key.escape_debug()),
        );
        return false;
    }
    true
}

fn entity_ok(e: &Entity, schema: &Schema, report: &mut IntegrityReport) -> bool {
    if !key_ok(&e.key, e.entity_type, report) {
        return false;
    }
    let Some(spec) = schema.entity(e.entity_type) else {
        report.add(
            FindingKind::UnknownType,
            format!("entity {} has type {:?}", e.key, e.entity_type),
        );
        return false;
    };
    if e.class != spec.class {
        report.add(
            FindingKind::UnknownType,
            format!("entity {} has class {:?}, schema says {:?}", e.key, e.class, spec.class),
        );
        return false;
    }
    check_properties(
        &e.properties,
        &spec.properties,
        spec.additional_properties,
        &e.key,
        report,
    )
}

fn relationship_ok(r: &Relationship, store: &GraphStore, schema: &Schema, report: &mut IntegrityReport) -> bool {
    let key = r.key();
    if !key_ok(&key, r.relationship_type(), report) {
        return false;
    }
    let Some(spec) = schema.relationship(r.relationship_type()) else {
        report.add(
            FindingKind::UnknownType,
            format!("relationship {key} has type {:?}", r.relationship_type()),
        );
        return false;
    };
    if r.class() != spec.class {
        report.add(
            FindingKind::UnknownType,
            format!(
                "relationship {key} has class {:?}, schema says {:?}",
                r.class(),
                spec.class
            ),
        );
        return false;
    }
    let from = store.entity(r.from_key()).map(|e| e.entity_type);
    let to = store.entity(r.to_key()).map(|e| e.entity_type);
    if from != Some(spec.from.as_str()) || to != Some(spec.to.as_str()) {
        report.add(
            FindingKind::DisallowedEndpoint,
            format!(
                "{key} joins {} to {}; {} allows {} to {}",
                from.unwrap_or("?"),
                to.unwrap_or("?"),
                r.relationship_type(),
                spec.from,
                spec.to
            ),
        );
        return false;
    }
    check_properties(&r.properties, &spec.properties, None, &key, report)
}

/// Validates the store against the schema, removes what breaks a rule, and reports.
pub fn validate(store: &mut GraphStore, schema: &Schema) -> IntegrityReport {
    let mut report = IntegrityReport::default();
    for d in std::mem::take(&mut store.duplicates) {
        report.add(
            FindingKind::DuplicateKey,
            format!("{} {} ({})", d.kind, d.key, d.element_type),
        );
        // The element kept under the key tells the account.
        let account = store
            .entity(&d.key)
            .map(|e| account_of(e))
            .or_else(|| store.relationship(&d.key).map(|r| account_of(r)))
            .flatten()
            .map(str::to_owned);
        report.affect(account.as_deref(), &d.element_type);
    }
    // Steps run concurrently; sorting makes the samples the same on every run.
    let mut observations = std::mem::take(&mut store.observations);
    observations.sort_by(|a, b| (a.kind, &a.sample).cmp(&(b.kind, &b.sample)));
    for o in observations {
        // Unknown participants are not defects of the graph: those elements cannot
        // exist (there is no user to join), the types stay complete, and the
        // configured policy decides what the run does.
        if o.kind.is_defect() {
            report.affect(None, &o.element_type);
        }
        report.add(o.kind, o.sample);
    }
    for r in store.reattach() {
        let missing = if store.has_entity(r.from_key()) {
            r.to_key()
        } else {
            r.from_key()
        };
        report.add(
            FindingKind::DanglingRelationship,
            format!("{} ({}): no entity {missing}", r.key(), r.relationship_type()),
        );
        report.affect(account_of(&r), r.relationship_type());
    }
    let bad_entities: Vec<(String, String, Option<String>)> = store
        .entities()
        .filter(|e| !entity_ok(e, schema, &mut report))
        .map(|e| {
            (
                e.key.clone(),
                e.entity_type.to_owned(),
                account_of(e).map(str::to_owned),
            )
        })
        .collect();
    for (key, entity_type, account) in bad_entities {
        for rel in store.remove_entity(&key) {
            report.affect(account.as_deref(), rel.relationship_type());
        }
        report.affect(account.as_deref(), &entity_type);
    }
    let bad_rels: Vec<(String, String, Option<String>)> = store
        .relationships()
        .filter(|r| !relationship_ok(r, store, schema, &mut report))
        .map(|r| {
            (
                r.key().into_owned(),
                r.relationship_type().to_owned(),
                account_of(r).map(str::to_owned),
            )
        })
        .collect();
    for (key, rel_type, account) in bad_rels {
        store.remove_relationship(&key);
        report.affect(account.as_deref(), &rel_type);
    }
    report
}

fn account_of(element: &impl Element) -> Option<&str> {
    element.str("accountCode")
}

/// Whether `value` has the schema type `t` (a datetime must be normalized ISO UTC text).
fn accepts(t: PropType, value: &Value) -> bool {
    match (t, value) {
        (PropType::String, Value::Str(_))
        | (PropType::Integer, Value::Int(_))
        | (PropType::Float, Value::Float(_))
        | (PropType::Boolean, Value::Bool(_))
        | (PropType::StringList, Value::StrList(_)) => true,
        (PropType::DateTime, Value::Str(s)) => crate::time::is_normalized(s),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
