//! The diff: what Neo4j holds of each account, compared with what the sync brings.
//!
//! After the leases are taken, every account-scoped label and relationship type of
//! each account is read once, streamed (`MATCH (x:Label {accountCode: $account})`
//! through the index; relationships anchored on their account-scoped endpoint), and
//! each stored element is classified against the collected graph by its `_key` and
//! its content fingerprint ([`super::fingerprint`]): the same (nothing to write),
//! different (rewritten by element id), or not brought by this sync (gone: deleted if
//! its type is complete and a snapshot). Collected elements found nowhere are new.
//! Nothing is kept from the read but these classes and the gone elements' ids, so the
//! read costs little memory however large the account.
//!
//! The state is read fresh each sync, in one of two depths ([`Depth`]). Reading the
//! content (every property, the labels and a relationship's endpoints, fingerprinted
//! again here) catches any edit by hand: the element is different and the sync
//! restores it. Reading the fingerprints (the stored `_fingerprint`s, and `_key` only
//! where they do not account for an element, [`super::sift`]) catches what a sync
//! changed and what was deleted by hand, but not a property edited by hand, which
//! leaves the stored fingerprint as it was. The sink reads content when the account's content was last
//! verified `[neo4j] verify_content_hours` ago or longer (or never), and fingerprints
//! otherwise; partial types are always read in content (their stored fingerprint
//! describes more than the sync brings).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use neo4rs::{query, BoltMap, BoltType};
use tracing::{debug, warn};

use super::digest::{Collected, Collection};
use super::fingerprint;
use super::sift::Sifting;
use super::{Sink, SinkError};
use crate::graph::GraphStore;
use crate::schema::Schema;

/// How much of each stored element the diff reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Every property, the labels and the endpoints: catches edits by hand.
    Content,
    /// `_key` and `_fingerprint`: catches what a sync changed and what was deleted.
    Fingerprints,
}

/// What Neo4j holds of one element the sync brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found<'a> {
    /// Nothing: the element is new.
    Absent,
    /// The same content: nothing to write.
    Same,
    /// Different content, at this element id.
    Differs(&'a str),
}

/// What Neo4j holds of every collected element, by store slot: a byte each (millions
/// of elements), the element ids of the differing ones aside.
#[derive(Debug, Default)]
pub struct Classes {
    same: Vec<u8>,
    differs: std::collections::HashMap<usize, Box<str>>,
}

impl Classes {
    fn new(slots: usize) -> Self {
        Classes {
            same: vec![0; slots],
            differs: Default::default(),
        }
    }

    pub fn get(&self, slot: usize) -> Found<'_> {
        match self.differs.get(&slot) {
            Some(id) => Found::Differs(id),
            None if self.same[slot] != 0 => Found::Same,
            None => Found::Absent,
        }
    }

    /// The element at `slot` is stored: the same, or different at element id `id`.
    fn set(&mut self, slot: usize, differs: Option<Box<str>>) {
        match differs {
            Some(id) => {
                self.same[slot] = 0;
                self.differs.insert(slot, id);
            }
            None => {
                self.same[slot] = 1;
                self.differs.remove(&slot);
            }
        }
    }
}

/// The classes of every collected element (by store slot) and what is stored but not
/// collected.
#[derive(Debug, Default)]
pub struct Diff {
    pub nodes: Classes,
    pub relationships: Classes,
    /// (account, type): element ids of what is stored and was not brought.
    pub gone: BTreeMap<(String, String), Vec<String>>,
    /// (account, type): how many elements are stored.
    pub stored: BTreeMap<(String, String), u64>,
    pub read_ms: u64,
    /// Stored elements read, or counted ([`Diff::counted`]).
    pub read: u64,
    /// Stored elements of types whose digest and count matched what was collected:
    /// counted by Neo4j, not read (see [`super::digest`]).
    pub counted: u64,
}

/// One scan's result, applied to the diff only once the scan completed (a scan that
/// failed half-way is run again from the start).
#[derive(Default)]
pub(super) struct Scan {
    /// Slots found stored with the same content (4 bytes each: a type can hold
    /// millions), and those found different, with their element ids.
    pub same: Vec<u32>,
    pub differs: Vec<(usize, Box<str>)>,
    pub gone: Vec<String>,
    pub stored: u64,
}

/// The store slots a scan has classed: a bit each. A second stored copy of one
/// element (a relationship has no uniqueness constraint in a graph written by an
/// older version) finds its slot classed already, and is gone.
pub(super) struct Seen(Vec<u64>);

impl Seen {
    pub fn new(bound: usize) -> Self {
        Seen(vec![0; bound.div_ceil(64)])
    }

    /// Whether `slot` was not classed yet; it is now.
    pub fn first(&mut self, slot: usize) -> bool {
        let (word, bit) = (slot / 64, 1_u64 << (slot % 64));
        let first = self.0[word] & bit == 0;
        self.0[word] |= bit;
        first
    }
}

/// The columns of a fingerprint read: `_key` and `_fingerprint`, no labels.
const FINGERPRINTS: &str = "x {._key, ._fingerprint} AS p, [] AS l";

/// Whether the stored fingerprint is `ours` (an element written without one differs).
fn same_fingerprint(props: &BoltMap, ours: u64) -> bool {
    string(props, "_fingerprint").is_some_and(|stored| fingerprint::is(stored, ours))
}

/// Stamps an older version wrote as text, not as `DATETIME`: the element is rewritten
/// once, and its first-seen time kept (converted).
fn stamped_as_text(map: &BoltMap) -> bool {
    ["_firstSeenOn", "_lastChangedOn"]
        .iter()
        .any(|k| matches!(map.value.get(*k), Some(BoltType::String(_))))
}

fn string<'a>(map: &'a BoltMap, key: &str) -> Option<&'a str> {
    match map.value.get(key) {
        Some(BoltType::String(s)) => Some(&s.value),
        _ => None,
    }
}

impl Sink {
    /// Reads what Neo4j holds of `accounts` and classifies it against `store`. At the
    /// fingerprint depth, a type whose collected digest equals the stored one
    /// (`stored_digests`) and whose stored count is the collected count is not read.
    ///
    /// # Errors
    /// A read fails after its retries.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn read_diff(
        &self,
        store: &GraphStore,
        schema: &Schema,
        account: &str,
        partial: &BTreeSet<String>,
        depth: Depth,
        collected: &Collection,
        stored_digests: &BTreeMap<String, String>,
    ) -> Result<Diff, SinkError> {
        let t0 = Instant::now();
        let mut diff = Diff {
            nodes: Classes::new(store.entity_slot_bound()),
            relationships: Classes::new(store.relationship_slot_bound()),
            ..Diff::default()
        };
        let unchanged = if depth == Depth::Fingerprints && !stored_digests.is_empty() {
            self.unchanged_types(schema, account, collected, stored_digests).await?
        } else {
            BTreeSet::new()
        };
        {
            for spec in schema.entities.iter().filter(|e| e.is_account_scoped()) {
                let pattern = format!("(x:{} {{accountCode: $account}})", spec.label);
                if let Some(c) = collected
                    .nodes
                    .get(&spec.entity_type)
                    .filter(|_| unchanged.contains(&spec.entity_type))
                {
                    diff.counted(c, account, &spec.entity_type, true);
                    continue;
                }
                let labels = spec.labels();
                let merge = partial.contains(&spec.entity_type);
                let content = merge || depth == Depth::Content;
                if let Some(c) = collected.nodes.get(&spec.entity_type).filter(|_| !content) {
                    let sifting = Sifting {
                        pattern: &pattern,
                        account,
                        element_type: &spec.entity_type,
                        nodes: true,
                        slots: &c.slots,
                        bound: store.entity_slot_bound(),
                        // Kept by the collection at this depth; 0 (none) matches nothing, so
                        // the element would be rewritten, never wrongly kept.
                        fingerprint_of: |slot| collected.node_fingerprint(slot).unwrap_or(0),
                        slot_of: |key: &str| {
                            let (slot, e) = store.entity_slot(key)?;
                            (e.entity_type == spec.entity_type).then_some(slot)
                        },
                    };
                    let scan = self.sift(&sifting).await?;
                    diff.apply(scan, account, &spec.entity_type, true);
                    continue;
                }
                let cypher = format!(
                    "MATCH {pattern} WHERE x._type = $type RETURN elementId(x) AS id, {}",
                    if content {
                        "properties(x) AS p, labels(x) AS l"
                    } else {
                        FINGERPRINTS
                    }
                );
                let scan = self
                    .scan(
                        &cypher,
                        account,
                        &spec.entity_type,
                        store.entity_slot_bound(),
                        |props, stored_labels| {
                            let key = string(props, "_key")?;
                            let (slot, e) = store.entity_slot(key)?;
                            if e.entity_type != spec.entity_type {
                                return None;
                            }
                            if !content {
                                let ours = collected
                                    .node_fingerprint(slot)
                                    .unwrap_or_else(|| fingerprint::entity_value(e, &labels, schema));
                                return Some((slot, same_fingerprint(props, ours)));
                            }
                            if stamped_as_text(props) {
                                return Some((slot, false));
                            }
                            // Labels other tools added are theirs: only ours are compared.
                            let ours: Vec<&str> = stored_labels.into_iter().filter(|l| labels.contains(l)).collect();
                            let stored = if merge {
                                let names: BTreeSet<&str> =
                                    e.properties.keys().chain(["_key", "_type", "_class"]).collect();
                                fingerprint::of_stored(props, Some(ours), |k| names.contains(k))
                            } else {
                                fingerprint::of_stored(props, Some(ours), |_| true)
                            };
                            Some((slot, stored == fingerprint::of_entity(e, &labels, schema)))
                        },
                    )
                    .await?;
                diff.apply(scan, account, &spec.entity_type, true);
            }
            for spec in &schema.relationships {
                let from = schema.entity(&spec.from).expect("schema checked");
                let to = schema.entity(&spec.to).expect("schema checked");
                let anchored = if from.is_account_scoped() {
                    format!(
                        "(a:{} {{accountCode: $account}})-[x:{}]->(b:{})",
                        from.label, spec.class, to.label
                    )
                } else if to.is_account_scoped() {
                    format!(
                        "(a:{})-[x:{}]->(b:{} {{accountCode: $account}})",
                        from.label, spec.class, to.label
                    )
                } else {
                    continue;
                };
                if let Some(c) = collected
                    .rels
                    .get(&spec.relationship_type)
                    .filter(|_| unchanged.contains(&spec.relationship_type))
                {
                    diff.counted(c, account, &spec.relationship_type, false);
                    continue;
                }
                let merge = partial.contains(&spec.relationship_type);
                let content = merge || depth == Depth::Content;
                if let Some(c) = collected.rels.get(&spec.relationship_type).filter(|_| !content) {
                    let sifting = Sifting {
                        pattern: &anchored,
                        account,
                        element_type: &spec.relationship_type,
                        nodes: false,
                        slots: &c.slots,
                        bound: store.relationship_slot_bound(),
                        fingerprint_of: |slot| collected.rel_fingerprint(slot).unwrap_or(0),
                        slot_of: |key: &str| {
                            let (slot, r) = store.relationship_slot(key)?;
                            (r.relationship_type() == spec.relationship_type).then_some(slot)
                        },
                    };
                    let scan = self.sift(&sifting).await?;
                    diff.apply(scan, account, &spec.relationship_type, false);
                    continue;
                }
                // Neo4j keeps a relationship's class as its type and its endpoints' keys
                // on the endpoints; the fingerprint covers them, read from there.
                let cypher = format!(
                    "MATCH {anchored} WHERE x._type = $type RETURN elementId(x) AS id, {}",
                    if content {
                        "properties(x) AS p, [a._key, b._key, type(x)] AS l"
                    } else {
                        FINGERPRINTS
                    }
                );
                let scan = self
                    .scan(
                        &cypher,
                        account,
                        &spec.relationship_type,
                        store.relationship_slot_bound(),
                        |props, ends| {
                            let key = string(props, "_key")?;
                            let (slot, r) = store.relationship_slot(key)?;
                            if r.relationship_type() != spec.relationship_type {
                                return None;
                            }
                            if !content {
                                let ours = collected
                                    .rel_fingerprint(slot)
                                    .unwrap_or_else(|| fingerprint::relationship_value(r, schema));
                                return Some((slot, same_fingerprint(props, ours)));
                            }
                            let [from, to, class] = ends[..] else {
                                return None;
                            };
                            // Written by an older version, with the three stored again or
                            // with text stamps: rewritten once without them.
                            if props
                                .value
                                .keys()
                                .any(|k| matches!(k.value.as_str(), "_class" | "_fromEntityKey" | "_toEntityKey"))
                                || stamped_as_text(props)
                            {
                                return Some((slot, false));
                            }
                            let ends = [("_class", class), ("_fromEntityKey", from), ("_toEntityKey", to)];
                            let stored = if merge {
                                let names: BTreeSet<&str> = r.properties.keys().chain(["_key", "_type"]).collect();
                                fingerprint::of_stored_relationship(props, ends, |k| names.contains(k))
                            } else {
                                fingerprint::of_stored_relationship(props, ends, |_| true)
                            };
                            Some((slot, stored == fingerprint::of_relationship(r, schema)))
                        },
                    )
                    .await?;
                diff.apply(scan, account, &spec.relationship_type, false);
            }
        }
        diff.read_ms = t0.elapsed().as_millis() as u64;
        debug!(elements = diff.read, elapsed_ms = diff.read_ms, "stored state read");
        Ok(diff)
    }

    /// Runs one scan (`classify` gives a stored element's slot and whether its content
    /// is the same, or `None` when it was not collected), again from the start after
    /// a retryable failure. A second stored copy of one element is gone ([`Seen`]).
    async fn scan(
        &self,
        cypher: &str,
        account: &str,
        element_type: &str,
        bound: usize,
        classify: impl Fn(&BoltMap, Vec<&str>) -> Option<(usize, bool)>,
    ) -> Result<Scan, SinkError> {
        self.read_again(|| async {
            let mut scan = Scan::default();
            let mut seen = Seen::new(bound);
            let q = query(cypher).param("account", account).param("type", element_type);
            self.read_each(q, |row| {
                // Borrowed from the row: only a differing or gone element's id is kept.
                let id: &str = row.get("id").map_err(|e| SinkError::Query(e.to_string()))?;
                let props: BoltMap = row.get("p").map_err(|e| SinkError::Query(e.to_string()))?;
                let labels: Vec<&str> = row.get("l").unwrap_or_default();
                scan.stored += 1;
                let class = classify(&props, labels);
                match class.filter(|(slot, _)| seen.first(*slot)) {
                    Some((slot, true)) => scan.same.push(super::digest::slot_u32(slot)),
                    Some((slot, false)) => scan.differs.push((slot, id.into())),
                    None => scan.gone.push(id.to_owned()),
                }
                Ok(())
            })
            .await?;
            Ok(scan)
        })
        .await
    }

    /// Runs a read of the stored state, again from the start after a retryable
    /// failure (a read that failed half-way is not resumed).
    pub(super) async fn read_again<T, Fut>(&self, mut attempt: impl FnMut() -> Fut) -> Result<T, SinkError>
    where
        Fut: std::future::Future<Output = Result<T, SinkError>>,
    {
        let mut retry = super::retry::Retry::new(self.config());
        loop {
            match attempt().await {
                Ok(done) => return Ok(done),
                Err(e) => match retry.next_wait(&e) {
                    Some(wait) => {
                        warn!(error = %e, wait_ms = wait.as_millis() as u64, "reading the stored state failed; reading again");
                        tokio::time::sleep(wait).await;
                    }
                    None => return Err(retry.give_up(e)),
                },
            }
        }
    }
}

impl Diff {
    /// A type found unchanged by its digest and count: every collected element is the
    /// same, nothing is gone.
    fn counted(&mut self, c: &Collected, account: &str, element_type: &str, nodes: bool) {
        let n = c.digest.count;
        self.read += n;
        self.counted += n;
        *self
            .stored
            .entry((account.to_owned(), element_type.to_owned()))
            .or_default() += n;
        let classes = if nodes {
            &mut self.nodes
        } else {
            &mut self.relationships
        };
        for &slot in &c.slots {
            classes.set(slot as usize, None);
        }
    }

    fn apply(&mut self, scan: Scan, account: &str, element_type: &str, nodes: bool) {
        let key = (account.to_owned(), element_type.to_owned());
        self.read += scan.stored;
        *self.stored.entry(key.clone()).or_default() += scan.stored;
        self.gone.entry(key).or_default().extend(scan.gone);
        let classes = if nodes {
            &mut self.nodes
        } else {
            &mut self.relationships
        };
        for slot in scan.same {
            classes.set(slot as usize, None);
        }
        for (slot, id) in scan.differs {
            classes.set(slot, Some(id));
        }
    }

    /// Stored elements of `account`'s `element_type` that this sync did not bring.
    pub fn gone_of(&self, account: &str, element_type: &str) -> &[String] {
        self.gone
            .get(&(account.to_owned(), element_type.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    pub fn stored_of(&self, account: &str, element_type: &str) -> u64 {
        self.stored
            .get(&(account.to_owned(), element_type.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Classes, Found};

    #[test]
    fn classes_hold_a_byte_per_slot_and_the_ids_of_differing_elements_aside() {
        let mut c = Classes::new(3);
        assert_eq!((0..3).map(|s| c.get(s)).collect::<Vec<_>>(), [Found::Absent; 3]);
        c.set(0, None);
        c.set(2, Some("4:abc:7".into()));
        assert_eq!(
            (0..3).map(|s| c.get(s)).collect::<Vec<_>>(),
            [Found::Same, Found::Absent, Found::Differs("4:abc:7")]
        );
        // A slot read again takes its latest class.
        c.set(2, None);
        c.set(0, Some("4:abc:1".into()));
        assert_eq!(
            (0..3).map(|s| c.get(s)).collect::<Vec<_>>(),
            [Found::Differs("4:abc:1"), Found::Absent, Found::Same]
        );
        assert_eq!(c.differs.len(), 1);
    }
}
