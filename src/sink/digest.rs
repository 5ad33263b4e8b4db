//! Type digests: what lets a sync between full reads skip reading a type it did not
//! change.
//!
//! After every write of an account that completed, the account node keeps, in
//! `_digests`, one digest per snapshot type the write left exactly as collected (not
//! partial, nothing kept by the deletion guard): the number of elements and the
//! wrapping sum of their content fingerprints (`type=count:sum`, the sum as 16 hex
//! digits; a sum is the same whatever the order, and a changed, added or removed
//! element changes it). A later sync that reads keys and fingerprints
//! ([`super::diff::Depth::Fingerprints`]) compares each type's digest of what it
//! collected with the stored one; when they are equal it asks Neo4j only how many
//! elements of the type the account holds ([`Sink::unchanged_types`], without
//! reading relationship properties), and when that count is the collected count too, every element
//! is the same and nothing is gone, without reading them. Otherwise the type is read
//! as before.
//!
//! What the digest stands for holds only while nothing else writes: the digests are
//! removed before a write begins and stored again after it completed, so a write cut
//! short leaves none and the next sync reads everything. An element deleted by hand
//! lowers the count and is restored; an element edited by hand keeps its stored
//! fingerprint, as at the fingerprint depth without digests, and is restored at the
//! next full read.

use std::collections::{BTreeMap, BTreeSet};

use neo4rs::{query, BoltType};

use super::fingerprint;
use super::upsert::SyncStamp;
use super::{Sink, SinkError};
use crate::graph::GraphStore;
use crate::schema::{Lifecycle, Schema};

/// The account property that holds the digests.
pub const PROPERTY: &str = "_digests";

/// The account property naming the last sync that changed the account's content (see
/// [`Sink::begin_write`]): two syncs that see the same value saw the same content.
pub const GENERATION: &str = "_contentGeneration";

/// The digest of one type's elements in one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Digest {
    pub count: u64,
    pub sum: u64,
}

impl Digest {
    /// Adds one element by its fingerprint.
    pub fn add(&mut self, fingerprint: u64) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(fingerprint);
    }

    /// `count:sum`, as stored.
    pub fn text(&self) -> String {
        format!("{}:{:016x}", self.count, self.sum)
    }
}

/// One type of an account as this sync collected it: its digest and where its
/// elements are in the store.
#[derive(Debug, Default)]
pub struct Collected {
    pub digest: Digest,
    /// Store slots, as `u32`: millions of them.
    pub slots: Vec<u32>,
}

/// The collected elements of one account, by type. Every account-scoped snapshot type
/// of the schema that is not partial is present, with no elements if none was
/// collected (event types and partial types are not: they are always read).
#[derive(Debug, Default)]
pub struct Collection {
    pub nodes: BTreeMap<String, Collected>,
    pub rels: BTreeMap<String, Collected>,
    /// The fingerprint of each of these elements by store slot, computed once for
    /// the digest and read again by the diff (0 where none was computed).
    node_fingerprints: Vec<u64>,
    rel_fingerprints: Vec<u64>,
}

impl Collection {
    /// The fingerprint of the entity at `slot`, when it was computed.
    pub fn node_fingerprint(&self, slot: usize) -> Option<u64> {
        self.node_fingerprints.get(slot).copied().filter(|&f| f != 0)
    }

    /// The fingerprint of the relationship at `slot`, when it was computed.
    pub fn rel_fingerprint(&self, slot: usize) -> Option<u64> {
        self.rel_fingerprints.get(slot).copied().filter(|&f| f != 0)
    }
}

/// The collected elements of `account` (see [`Collection`]); their fingerprints are
/// kept when `keep_fingerprints` (the diff reads fingerprints, not content).
pub fn collected(
    store: &GraphStore,
    schema: &Schema,
    account: &str,
    partial: &BTreeSet<String>,
    keep_fingerprints: bool,
) -> Collection {
    let mut nodes: BTreeMap<String, Collected> = schema
        .entities
        .iter()
        .filter(|e| e.is_account_scoped() && e.lifecycle == Lifecycle::Snapshot)
        .filter(|e| !partial.contains(&e.entity_type))
        .map(|e| (e.entity_type.clone(), Collected::default()))
        .collect();
    let mut rels: BTreeMap<String, Collected> = schema
        .relationships
        .iter()
        .filter(|r| !schema.is_event_relationship(r) && !partial.contains(&r.relationship_type))
        .map(|r| (r.relationship_type.clone(), Collected::default()))
        .collect();
    let labels: BTreeMap<&str, Vec<&str>> = schema
        .entities
        .iter()
        .map(|e| (e.entity_type.as_str(), e.labels()))
        .collect();
    let bound = |n: usize| if keep_fingerprints { n } else { 0 };
    let mut node_fingerprints = vec![0; bound(store.entity_slot_bound())];
    let mut rel_fingerprints = vec![0; bound(store.relationship_slot_bound())];
    let mine = |p: &crate::graph::Properties| p.get("accountCode").and_then(|v| v.as_str()) == Some(account);
    in_parts(
        &mut nodes,
        store.entity_slot_bound(),
        &mut node_fingerprints,
        || store.entity_slots(),
        |e| mine(&e.properties).then_some(e.entity_type),
        |e| fingerprint::entity_value(e, labels.get(e.entity_type).map_or(&[][..], Vec::as_slice), schema),
    );
    in_parts(
        &mut rels,
        store.relationship_slot_bound(),
        &mut rel_fingerprints,
        || store.relationship_slots(),
        |r| mine(&r.properties).then(|| r.relationship_type()),
        |r| fingerprint::relationship_value(r, schema),
    );
    Collection {
        nodes,
        rels,
        node_fingerprints,
        rel_fingerprints,
    }
}

/// Digests the elements of `bound` slots into `types` (only the types it holds), on
/// as many threads as there are cores (at most 4), each taking a range of slots:
/// fingerprinting millions of elements is the CPU-bound part of a sync that changed
/// nothing. Each part's slots stay in order, and the sums are the same whatever the
/// split. `kept` (empty, or one per slot) receives each digested element's
/// fingerprint. `slots()` iterates the elements in slot order; `type_of` is the
/// element's type when it is the account's.
fn in_parts<'s, T: Sync + 's, I: Iterator<Item = (usize, &'s T)>>(
    types: &mut BTreeMap<String, Collected>,
    bound: usize,
    kept: &mut [u64],
    slots: impl Fn() -> I + Sync,
    type_of: impl Fn(&T) -> Option<&str> + Sync,
    value: impl Fn(&T) -> u64 + Sync,
) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    let per = bound.div_ceil(threads).max(1);
    let names: Vec<&str> = types.keys().map(String::as_str).collect();
    let parts: Vec<Vec<Collected>> = std::thread::scope(|scope| {
        let mut rest = kept;
        let mut handles = Vec::new();
        for part in 0..threads {
            let (from, to) = (part * per, ((part + 1) * per).min(bound));
            let take = if rest.is_empty() { 0 } else { to.saturating_sub(from) };
            let (mine, tail) = rest.split_at_mut(take);
            rest = tail;
            let (names, slots, type_of, value) = (&names, &slots, &type_of, &value);
            handles.push(scope.spawn(move || {
                let mut out: Vec<Collected> = names.iter().map(|_| Collected::default()).collect();
                for (slot, element) in slots().skip_while(|(s, _)| *s < from) {
                    if slot >= to {
                        break;
                    }
                    let Some(t) = type_of(element) else { continue };
                    let Ok(i) = names.binary_search(&t) else { continue };
                    let f = value(element);
                    out[i].digest.add(f);
                    out[i].slots.push(slot_u32(slot));
                    if let Some(k) = mine.get_mut(slot - from) {
                        *k = f;
                    }
                }
                out
            }));
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("a digest thread panicked"))
            .collect()
    });
    for part in parts {
        for (c, (_, total)) in part.into_iter().zip(types.iter_mut()) {
            total.digest.count += c.digest.count;
            total.digest.sum = total.digest.sum.wrapping_add(c.digest.sum);
            if total.slots.is_empty() {
                total.slots = c.slots;
            } else {
                total.slots.extend(c.slots);
            }
        }
    }
}

/// A store slot as held in the sink's per-element lists (4 bytes: millions of them).
pub(super) fn slot_u32(slot: usize) -> u32 {
    u32::try_from(slot).expect("the store's indices are u32")
}

/// `type=count:sum` lines, sorted by type.
pub fn lines<'a>(digests: impl IntoIterator<Item = (&'a str, Digest)>) -> Vec<String> {
    let mut out: Vec<String> = digests.into_iter().map(|(t, d)| format!("{t}={}", d.text())).collect();
    out.sort();
    out
}

/// Parses stored lines back into `type → count:sum` text; lines it cannot read are
/// left out (their type is read).
pub fn parse(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(t, d)| (t.to_owned(), d.to_owned()))
        .collect()
}

impl Sink {
    /// The digests stored on the account node: none when there is no node, none were
    /// stored, or a sync marked the account after the one that stored them (a sync
    /// that failed, or one by a version that knows nothing of digests and may have
    /// written without removing them).
    ///
    /// # Errors
    /// The read fails after its retries.
    pub(super) async fn stored_digests(&self, account: &str) -> Result<BTreeMap<String, String>, SinkError> {
        let q = query(&format!(
            "MATCH (a:MimecastAccount {{_key: $key}}) \
             RETURN CASE WHEN a.{PROPERTY}On = a.lastSyncOn THEN a.{PROPERTY} END AS d"
        ))
        .param("key", crate::schema::keys::account(account));
        let rows = self.read(q).await?;
        let lines: Vec<String> = match rows.first().and_then(|r| r.get("d")) {
            Some(BoltType::List(l)) => l
                .value
                .iter()
                .filter_map(|v| match v {
                    BoltType::String(s) => Some(s.value.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(parse(&lines))
    }

    /// Before a write begins: removes the account's digests, and names this sync as
    /// the last to change the account's content ([`GENERATION`]), keeping the name it
    /// replaced; [`Sink::store_digests`] puts that back when the write changed nothing.
    /// A write cut short leaves this sync's name, so the content counts as changed.
    ///
    /// # Errors
    /// The write fails after its retries, or a stop was requested.
    pub(super) async fn begin_write(&self, account: &str, stamp: &SyncStamp) -> Result<(), SinkError> {
        let q = query(&format!(
            "MATCH (a:MimecastAccount {{_key: $key}}) REMOVE a.{PROPERTY}, a.{PROPERTY}On \
             SET a._generationWas = a.{GENERATION}, a.{GENERATION} = $syncId"
        ))
        .param("key", crate::schema::keys::account(account))
        .param("syncId", stamp.sync_id.as_str());
        self.write("digests", q).await.map(|_| ())
    }

    /// Stores the account's digests after a complete write, stamped with this sync's
    /// time: they count only while the account's `lastSyncOn` is that time, which
    /// this sync's mark sets next. Written even when a stop was requested: the write
    /// they describe is complete. When the write `changed` nothing, the account's
    /// [`GENERATION`] goes back to the sync that last changed its content. Returns the
    /// generation the account is left with.
    ///
    /// # Errors
    /// The write fails after its retries, or the lease was lost.
    pub(super) async fn store_digests(
        &self,
        account: &str,
        lines: Vec<String>,
        changed: bool,
        stamp: &SyncStamp,
    ) -> Result<Option<String>, SinkError> {
        let q = query(&format!(
            "MATCH (a:MimecastAccount {{_key: $key}}) SET a.{PROPERTY} = $lines, a.{PROPERTY}On = $now, \
             a.{GENERATION} = CASE WHEN $changed OR a._generationWas IS NULL THEN $syncId ELSE a._generationWas END \
             REMOVE a._generationWas RETURN a.{GENERATION} AS generation"
        ))
        .param("key", crate::schema::keys::account(account))
        .param("lines", lines)
        .param("changed", changed)
        .param("syncId", stamp.sync_id.as_str())
        .param("now", stamp.now_value());
        let rows = self.write_even_when_stopped("digests", q).await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("generation"))
            .and_then(super::bolt::text))
    }

    /// The types of `account` that are as collected without reading them: their
    /// stored digest is the collected one, and Neo4j holds as many elements as were
    /// collected. Neo4j counts without reading relationship properties: nodes per
    /// label and `_type` (through the `accountCode` index), relationships per label,
    /// class, direction and other end's label, expanded from the account's nodes.
    /// Types that share a label, or such an end, are counted together and pass
    /// together.
    ///
    /// # Errors
    /// A count fails after its retries.
    pub(super) async fn unchanged_types(
        &self,
        schema: &Schema,
        account: &str,
        collected: &Collection,
        stored: &BTreeMap<String, String>,
    ) -> Result<BTreeSet<String>, SinkError> {
        let (nodes, rels) = (&collected.nodes, &collected.rels);
        let digest_of = |t: &str, map: &BTreeMap<String, Collected>| -> Option<Digest> {
            map.get(t)
                .filter(|c| stored.get(t) == Some(&c.digest.text()))
                .map(|c| c.digest)
        };
        let mut out = BTreeSet::new();
        let mut by_label: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in schema.entities.iter().filter(|e| e.is_account_scoped()) {
            by_label.entry(&e.label).or_default().push(&e.entity_type);
        }
        for (label, types) in by_label {
            let Some(want) = sum_if_all(&types, |t| digest_of(t, nodes)) else {
                continue;
            };
            // Only nodes of these types, as the diff reads them: a node of another
            // `_type` under the label must not stand in for a missing one.
            let cypher =
                format!("MATCH (x:{label} {{accountCode: $account}}) WHERE x._type IN $types RETURN count(x) AS n");
            let q = query(&cypher)
                .param("account", account)
                .param("types", types.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>());
            if self.count(q).await? == want {
                out.extend(types.iter().map(|t| (*t).to_owned()));
            }
        }
        // The relationship types at each end (label, class, direction, other label),
        // and the end each type is read from (its account-scoped one, as the diff
        // reads it).
        let mut ends: BTreeMap<(&str, &str, bool, &str), Vec<&str>> = BTreeMap::new();
        let mut anchors: BTreeSet<(&str, &str, bool, &str)> = BTreeSet::new();
        for r in &schema.relationships {
            let (Some(from), Some(to)) = (schema.entity(&r.from), schema.entity(&r.to)) else {
                continue;
            };
            let out_end = (from.label.as_str(), r.class.as_str(), true, to.label.as_str());
            let in_end = (to.label.as_str(), r.class.as_str(), false, from.label.as_str());
            ends.entry(out_end).or_default().push(&r.relationship_type);
            ends.entry(in_end).or_default().push(&r.relationship_type);
            if from.is_account_scoped() {
                anchors.insert(out_end);
            } else if to.is_account_scoped() {
                anchors.insert(in_end);
            }
        }
        for anchor in anchors {
            let types = &ends[&anchor];
            let Some(want) = sum_if_all(types, |t| digest_of(t, rels)) else {
                continue;
            };
            // The other end's label is checked (a relationship to another tool's node,
            // or to a node that lost our label, is not ours to count); the
            // relationship's own properties are not read.
            let (label, class, outgoing, other) = anchor;
            let pattern = if outgoing {
                format!("(a)-[:{class}]->(:{other})")
            } else {
                format!("(a)<-[:{class}]-(:{other})")
            };
            let cypher = format!("MATCH (a:{label} {{accountCode: $account}}) RETURN sum(COUNT {{ {pattern} }}) AS n");
            if self.count(query(&cypher).param("account", account)).await? == want {
                out.extend(types.iter().map(|t| (*t).to_owned()));
            }
        }
        Ok(out)
    }

    async fn count(&self, q: neo4rs::Query) -> Result<u64, SinkError> {
        let rows = self.read(q).await?;
        Ok(match rows.first().and_then(|r| r.get("n")) {
            Some(BoltType::Integer(i)) => i.value.max(0) as u64,
            _ => 0,
        })
    }
}

/// The total count of `types` when every one has a digest that matched.
fn sum_if_all(types: &[&str], digest: impl Fn(&str) -> Option<Digest>) -> Option<u64> {
    types.iter().map(|t| digest(t).map(|d| d.count)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_the_count_and_the_wrapping_sum_whatever_the_order() {
        let mut a = Digest::default();
        let mut b = Digest::default();
        for fp in [u64::MAX, 2, 0xa0] {
            a.add(fp);
        }
        for fp in [0xa0, u64::MAX, 2] {
            b.add(fp);
        }
        assert_eq!(a, b);
        assert_eq!(a.text(), "3:00000000000000a1");
        let mut c = a;
        c.add(0);
        assert_eq!(c.text(), "4:00000000000000a1");
        assert_ne!(c, a);
    }

    #[test]
    fn lines_round_trip_sorted_and_unreadable_ones_are_dropped() {
        let one = Digest { count: 2, sum: 0x10 };
        let lines = lines([("b_type", one), ("a_type", Digest::default())]);
        assert_eq!(lines, ["a_type=0:0000000000000000", "b_type=2:0000000000000010"]);
        let mut stored = lines.clone();
        stored.push("garbage".into());
        let parsed = parse(&stored);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed["b_type"], "2:0000000000000010");
    }

    #[test]
    fn the_parts_digest_exactly_what_one_pass_over_the_store_does() {
        use crate::graph::{Element as _, Entity, Relationship};
        let schema = crate::schema::schema();
        let mut store = GraphStore::new();
        // Two accounts' users and domains, enrollments between them, and relationships
        // whose other end never arrives (detached, after the attached slots).
        for i in 0..2_001 {
            let account = if i % 3 == 0 { "C2" } else { "C1" };
            let key = format!("mimecast_user:{account}:u{i}@a.com");
            store
                .add_entity(
                    Entity::new(&key, "mimecast_user", "User")
                        .with("accountCode", account)
                        .with("email", format!("u{i}@a.com")),
                )
                .unwrap();
            let domain = format!("mimecast_domain:{account}:d{}.com", i % 7);
            if store.entity(&domain).is_none() {
                store
                    .add_entity(Entity::new(&domain, "mimecast_domain", "Domain").with("accountCode", account))
                    .unwrap();
            }
            store
                .add_relationship(
                    Relationship::new("mimecast_domain_has_user", "HAS", &domain, &key).with("accountCode", account),
                )
                .unwrap();
            if i % 5 == 0 {
                store
                    .add_relationship(
                        Relationship::new("mimecast_domain_has_user", "HAS", &domain, &format!("{key}.gone"))
                            .with("accountCode", account),
                    )
                    .unwrap();
            }
        }
        assert_eq!(store.relationship_count(), 2_001 + 401);
        let partial = BTreeSet::new();

        let got = collected(&store, schema, "C1", &partial, true);

        // One pass, in slot order.
        let labels = |t: &str| schema.entity(t).unwrap().labels();
        let mut nodes: BTreeMap<&str, (Digest, Vec<u32>)> = BTreeMap::new();
        let mut node_fps = vec![0; store.entity_slot_bound()];
        for (slot, e) in store.entity_slots().filter(|(_, e)| e.str("accountCode") == Some("C1")) {
            let f = fingerprint::entity_value(e, &labels(e.entity_type), schema);
            let n = nodes.entry(e.entity_type).or_default();
            n.0.add(f);
            n.1.push(slot_u32(slot));
            node_fps[slot] = f;
        }
        let mut rels: BTreeMap<&str, (Digest, Vec<u32>)> = BTreeMap::new();
        let mut rel_fps = vec![0; store.relationship_slot_bound()];
        for (slot, r) in store
            .relationship_slots()
            .filter(|(_, r)| r.str("accountCode") == Some("C1"))
        {
            let f = fingerprint::relationship_value(r, schema);
            let n = rels.entry(r.relationship_type()).or_default();
            n.0.add(f);
            n.1.push(slot_u32(slot));
            rel_fps[slot] = f;
        }
        let digested = |m: &BTreeMap<String, Collected>| -> BTreeMap<String, (Digest, Vec<u32>)> {
            m.iter()
                .filter(|(_, c)| c.digest.count > 0)
                .map(|(t, c)| (t.clone(), (c.digest, c.slots.clone())))
                .collect()
        };
        let owned = |m: BTreeMap<&str, (Digest, Vec<u32>)>| -> BTreeMap<String, (Digest, Vec<u32>)> {
            m.into_iter().map(|(t, v)| (t.to_owned(), v)).collect()
        };
        assert_eq!(nodes["mimecast_user"].0.count, 1_334);
        assert_eq!(rels["mimecast_domain_has_user"].0.count, 1_334 + 267);
        assert_eq!(digested(&got.nodes), owned(nodes));
        assert_eq!(digested(&got.rels), owned(rels));
        assert_eq!((got.node_fingerprints, got.rel_fingerprints), (node_fps, rel_fps));
        let unkept = collected(&store, schema, "C1", &partial, false);
        assert_eq!(digested(&unkept.rels), digested(&got.rels));
        assert!(unkept.rel_fingerprints.is_empty());
    }
}
