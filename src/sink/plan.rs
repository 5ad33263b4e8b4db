//! How relationship writes are split for concurrency. Neo4j locks a dense node's
//! relationship groups when a relationship is added to it, so two transactions
//! writing to one campaign at once deadlock. Rows are therefore grouped into units
//! that share no dense node (union-find over the dense endpoints of each row); units
//! run concurrently, and a unit writes its parts one after the other. Rows are sorted
//! by endpoint keys, so the sparse nodes (users) are locked in the same order
//! everywhere.

use petgraph::unionfind::UnionFind;
use std::collections::{BTreeMap, HashMap};

use super::upsert::Mode;
use crate::graph::Relationship;
use crate::schema::Schema;

/// Rows of one relationship type, written in one go (in batches).
#[derive(Debug)]
pub struct Part<'a> {
    pub relationship_type: &'a str,
    pub mode: Mode,
    pub rows: Vec<&'a Relationship>,
}

/// Parts written one after the other; no two units share a dense node.
#[derive(Debug, Default)]
pub struct Unit<'a> {
    pub parts: Vec<Part<'a>>,
}

impl Unit<'_> {
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.rows.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Rows by (schema rank, relationship type, write mode): parts in schema order.
type Slices<'a> = BTreeMap<(usize, &'a str, Mode), Vec<&'a Relationship>>;

fn add_rows<'a>(
    slices: &mut Slices<'a>,
    order: &HashMap<&str, usize>,
    relationship_type: &'a str,
    mode: Mode,
    rows: impl IntoIterator<Item = &'a Relationship>,
) {
    let rank = order.get(relationship_type).copied().unwrap_or(usize::MAX);
    slices.entry((rank, relationship_type, mode)).or_default().extend(rows);
}

/// Splits relationships into units, each type written in the mode `mode_of` gives
/// it. Units smaller than `batch_size` are packed together, so no batch is
/// needlessly small; the largest units come first.
pub fn plan<'a>(
    rows: Vec<&'a Relationship>,
    mode_of: impl Fn(&str) -> Mode,
    schema: &Schema,
    batch_size: usize,
) -> Vec<Unit<'a>> {
    let dense = |entity_type: &str| schema.entity(entity_type).is_some_and(|e| e.dense);
    let order: HashMap<&str, usize> = schema
        .relationships
        .iter()
        .enumerate()
        .map(|(i, r)| (r.relationship_type.as_str(), i))
        .collect();

    // Union-find over dense node keys: an id per key, then the endpoints joined.
    // A row's dense ends are held inline, `NONE` where it has fewer than two
    // (millions of rows: 8 bytes each, not a `Vec` each).
    const NONE: u32 = u32::MAX;
    let mut ids: HashMap<&'a str, u32> = HashMap::new();
    let mut dense_ends: Vec<[u32; 2]> = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut ends = [NONE; 2];
        if let Some(spec) = schema.relationship(r.relationship_type()) {
            let dense_keys = [(r.from_key(), &spec.from), (r.to_key(), &spec.to)]
                .into_iter()
                .filter(|(_, t)| dense(t));
            for (slot, (key, _)) in ends.iter_mut().zip(dense_keys) {
                let next = u32::try_from(ids.len()).expect("fewer dense nodes than u32::MAX");
                *slot = *ids.entry(key).or_insert(next);
            }
        }
        dense_ends.push(ends);
    }
    let mut sets = UnionFind::<u32>::new(ids.len());
    for &[a, b] in &dense_ends {
        if b != NONE {
            sets.union(a, b);
        }
    }

    // Group rows: by the root of their dense endpoint, or by type when they have none.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Group<'b> {
        Dense(u32),
        Sparse(&'b str),
    }
    let mut groups: BTreeMap<Group, Slices<'a>> = BTreeMap::new();
    for (r, ends) in rows.into_iter().zip(dense_ends) {
        let group = match ends[0] {
            NONE => Group::Sparse(r.relationship_type()),
            id => Group::Dense(sets.find_mut(id)),
        };
        add_rows(
            groups.entry(group).or_default(),
            &order,
            r.relationship_type(),
            mode_of(r.relationship_type()),
            [r],
        );
    }
    // Rows are sorted once, below, after packing.
    let mut units: Vec<Unit<'a>> = groups
        .into_values()
        .map(|slices| Unit {
            parts: slices
                .into_iter()
                .map(|((_, t, mode), rows)| Part {
                    relationship_type: t,
                    mode,
                    rows,
                })
                .collect(),
        })
        .collect();
    units.sort_by_key(|u| std::cmp::Reverse(u.len()));

    // Pack small units so batches stay full.
    let mut packed: Vec<Unit<'a>> = Vec::new();
    let mut bin = Unit::default();
    for unit in units {
        if unit.len() >= batch_size {
            packed.push(unit);
            continue;
        }
        bin.parts.extend(unit.parts);
        if bin.len() >= batch_size {
            packed.push(std::mem::take(&mut bin));
        }
    }
    if !bin.is_empty() {
        packed.push(bin);
    }
    // Inside a unit, one part per type and mode (full batches), in schema order, its
    // rows sorted by endpoint keys.
    for unit in &mut packed {
        let mut merged = Slices::new();
        for part in std::mem::take(&mut unit.parts) {
            add_rows(&mut merged, &order, part.relationship_type, part.mode, part.rows);
        }
        unit.parts = merged
            .into_iter()
            .map(|((_, t, mode), mut rows)| {
                rows.sort_by(|a, b| (a.from_key(), a.to_key()).cmp(&(b.from_key(), b.to_key())));
                Part {
                    relationship_type: t,
                    mode,
                    rows,
                }
            })
            .collect();
    }
    packed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{rels, schema};

    fn rel(t: &str, class: &str, from: &str, to: &str) -> Relationship {
        Relationship::new(t, class, from, to)
    }

    /// Which campaigns (dense keys) each unit touches.
    fn dense_keys(unit: &Unit) -> Vec<String> {
        let mut keys: Vec<String> = unit
            .parts
            .iter()
            .flat_map(|p| p.rows.iter())
            .flat_map(|r| [r.from_key().to_owned(), r.to_key().to_owned()])
            .filter(|k| k.starts_with("campaign") || k.starts_with("domain"))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    #[test]
    fn units_never_share_a_dense_node_and_keep_types_in_order() {
        let mut owned = Vec::new();
        for c in ["campaign:1", "campaign:2"] {
            for u in ["user:a", "user:b", "user:c"] {
                owned.push(rel(rels::USER_COMPLETED_AWARENESS, "COMPLETED", u, c));
                owned.push(rel(rels::USER_ASSIGNED_AWARENESS, "ASSIGNED", u, c));
            }
        }
        owned.push(rel(rels::DOMAIN_HAS_USER, "HAS", "domain:x", "user:a"));
        owned.push(rel(rels::PERSON_IS_USER, "IS", "person:a", "user:a"));
        let rows: Vec<&Relationship> = owned.iter().collect();

        let units = plan(rows, |_| Mode::Replace, schema(), 1);

        assert_eq!(units.len(), 4);
        let campaign_units: Vec<Vec<String>> = units.iter().map(dense_keys).filter(|k| !k.is_empty()).collect();
        assert_eq!(
            campaign_units,
            vec![
                vec!["campaign:1".to_owned()],
                vec!["campaign:2".to_owned()],
                vec!["domain:x".to_owned()]
            ]
        );
        // Assignments before completions, users in key order.
        let first = &units[0];
        assert_eq!(first.parts[0].relationship_type, rels::USER_ASSIGNED_AWARENESS);
        assert_eq!(first.parts[1].relationship_type, rels::USER_COMPLETED_AWARENESS);
        let users: Vec<&str> = first.parts[0].rows.iter().map(|r| r.from_key()).collect();
        assert_eq!(users, vec!["user:a", "user:b", "user:c"]);
        assert_eq!(units.iter().map(Unit::len).sum::<usize>(), 14);
    }

    #[test]
    fn small_units_are_packed_up_to_a_batch() {
        let owned: Vec<Relationship> = (0..10)
            .map(|i| {
                rel(
                    rels::USER_ASSIGNED_PHISHING,
                    "ASSIGNED",
                    "user:a",
                    &format!("campaign:{i}"),
                )
            })
            .collect();
        let units = plan(owned.iter().collect(), |_| Mode::Merge, schema(), 4);
        let sizes: Vec<usize> = units.iter().map(Unit::len).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        assert!(
            units
                .iter()
                .all(|u| u.parts.len() == 1 && u.parts[0].mode == Mode::Merge),
            "one part per type, in the type's mode: full batches"
        );
    }
}
