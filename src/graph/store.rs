//! The in-memory graph: a petgraph `StableDiGraph` of entities whose edges are the
//! relationships, with key indexes. A duplicate key is refused (as in the J1 SDK) and
//! remembered for the integrity report; a relationship whose endpoint is not (yet)
//! present is kept aside and checked again at validation.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeIndexable as _, EdgeRef, NodeIndexable as _};

use super::model::{KeyParts, PropertyLists};
use super::{Entity, Relationship};

/// The error a step gets when it adds a key that is already present.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duplicate {kind} key {key:?} (type {element_type})")]
pub struct DuplicateKey {
    pub kind: &'static str,
    pub key: String,
    pub element_type: String,
}

/// Facts the converters report instead of dropping data silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub kind: super::FindingKind,
    /// The types whose completeness it affects.
    pub element_type: String,
    pub sample: String,
}

/// How the store's key indexes hash: foldhash, seeded at random once per process.
pub(crate) type Hashing = foldhash::fast::RandomState;

/// The relationship index's hasher (one for every store of the process: a key's hash
/// is computed without the store at hand).
fn edge_hashing() -> &'static Hashing {
    static SEED: std::sync::OnceLock<Hashing> = std::sync::OnceLock::new();
    SEED.get_or_init(Hashing::default)
}

#[derive(Default)]
pub struct GraphStore {
    graph: StableDiGraph<Entity, Relationship>,
    /// Entity key index; relationships share these keys as their endpoints'.
    nodes: HashMap<Arc<str>, NodeIndex, Hashing>,
    /// Relationship key index: edge indices only, hashed by the key their edge
    /// builds (`Relationship::key_parts`), so no key is stored for it.
    edges: hashbrown::HashTable<EdgeIndex>,
    /// Relationships whose endpoints were missing when added.
    detached: Vec<Relationship>,
    detached_keys: HashSet<String>,
    /// The relationships' property lists, shared when equal.
    lists: PropertyLists,
    pub(crate) duplicates: Vec<DuplicateKey>,
    pub(crate) observations: Vec<Observation>,
}

impl GraphStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entity.
    ///
    /// # Errors
    /// [`DuplicateKey`] when the key is present; the first entity stays.
    pub fn add_entity(&mut self, mut entity: Entity) -> Result<(), DuplicateKey> {
        if self.nodes.contains_key(entity.key.as_str()) {
            let dup = DuplicateKey {
                kind: "entity",
                key: entity.key.clone(),
                element_type: entity.entity_type.to_owned(),
            };
            self.duplicates.push(dup.clone());
            return Err(dup);
        }
        let key = Arc::from(entity.key.as_str());
        entity.properties.freeze();
        let idx = self.graph.add_node(entity);
        self.nodes.insert(key, idx);
        Ok(())
    }

    /// Adds a relationship.
    ///
    /// # Errors
    /// [`DuplicateKey`] when the key is present; the first relationship stays.
    pub fn add_relationship(&mut self, mut rel: Relationship) -> Result<(), DuplicateKey> {
        let parts = rel.key_parts();
        if self.edge_index_of(parts).is_some()
            || (!self.detached_keys.is_empty() && self.detached_keys.contains(&*rel.key()))
        {
            let dup = DuplicateKey {
                kind: "relationship",
                key: rel.key().into_owned(),
                element_type: rel.relationship_type().to_owned(),
            };
            self.duplicates.push(dup.clone());
            return Err(dup);
        }
        self.lists.share(&mut rel.properties);
        if let Err(rel) = self.try_attach(rel) {
            self.detached_keys.insert(rel.key().into_owned());
            self.detached.push(rel);
        }
        Ok(())
    }

    /// Records something the converters could not turn into graph elements.
    pub fn observe(&mut self, kind: super::FindingKind, element_type: &str, sample: String) {
        self.observations.push(Observation {
            kind,
            element_type: element_type.to_owned(),
            sample,
        });
    }

    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    pub fn entity(&self, key: &str) -> Option<&Entity> {
        self.nodes.get(key).map(|&i| &self.graph[i])
    }

    pub fn has_entity(&self, key: &str) -> bool {
        self.nodes.contains_key(key)
    }

    pub fn relationship(&self, key: &str) -> Option<&Relationship> {
        self.edge_index(key)
            .map(|i| &self.graph[i])
            .or_else(|| self.detached.iter().find(|r| r.key_is(key)))
    }

    /// The hash of a key in the relationship index: the same for a key and for its
    /// parts.
    pub(crate) fn key_hash(key: KeyParts<'_>) -> u64 {
        // Tests force collisions with this prefix; a 64-bit hash never yields them in
        // practice.
        #[cfg(test)]
        if key.starts_with("collide") {
            return 0;
        }
        // foldhash hashes each `write` on its own, so the parts are joined first (on
        // the stack: keys are about 230 bytes).
        let mut joined = [0_u8; 512];
        let len = key.len();
        if len > joined.len() {
            return std::hash::BuildHasher::hash_one(edge_hashing(), key.joined().as_bytes());
        }
        let mut at = 0;
        key.for_each_piece(|p| {
            joined[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        });
        std::hash::BuildHasher::hash_one(edge_hashing(), &joined[..len])
    }

    fn edge_index(&self, key: &str) -> Option<EdgeIndex> {
        self.edge_index_of(KeyParts::whole(key))
    }

    fn edge_index_of(&self, key: KeyParts<'_>) -> Option<EdgeIndex> {
        self.edges
            .find(Self::key_hash(key), |&i| self.graph[i].key_parts() == key)
            .copied()
    }

    /// Adds the relationship as an edge when both its endpoints are present (its key
    /// known to be new), sharing their keys; hands it back otherwise.
    fn try_attach(&mut self, mut rel: Relationship) -> Result<(), Relationship> {
        let (Some((from, &a)), Some((to, &b))) = (
            self.nodes.get_key_value(rel.from_key()),
            self.nodes.get_key_value(rel.to_key()),
        ) else {
            return Err(rel);
        };
        rel.share_ends(from, to);
        let h = Self::key_hash(rel.key_parts());
        let idx = self.graph.add_edge(a, b, rel);
        let graph = &self.graph;
        self.edges
            .insert_unique(h, idx, |&i| Self::key_hash(graph[i].key_parts()));
        Ok(())
    }

    fn unindex_edge(&mut self, key: &str) -> Option<EdgeIndex> {
        let key = KeyParts::whole(key);
        let graph = &self.graph;
        self.edges
            .find_entry(Self::key_hash(key), |&i| graph[i].key_parts() == key)
            .ok()
            .map(|e| e.remove().0)
    }

    pub fn entities(&self) -> impl Iterator<Item = &Entity> {
        self.graph.node_weights()
    }

    /// Every relationship, attached or not.
    pub fn relationships(&self) -> impl Iterator<Item = &Relationship> {
        self.graph.edge_weights().chain(self.detached.iter())
    }

    /// Changes in place, with `f`, every relationship (attached or not) that `filter`
    /// selects; never its key. Their property lists are shared again afterwards.
    pub fn update_relationships(
        &mut self,
        filter: impl Fn(&Relationship) -> bool,
        mut f: impl FnMut(&mut Relationship),
    ) {
        let lists = &mut self.lists;
        for r in self.graph.edge_weights_mut().chain(self.detached.iter_mut()) {
            if filter(r) {
                f(r);
                lists.share(&mut r.properties);
            }
        }
    }

    /// Changes an entity in place with `f` (never its key); false when the key is unknown.
    pub fn update_entity(&mut self, key: &str, f: impl FnOnce(&mut Entity)) -> bool {
        let Some(&i) = self.nodes.get(key) else {
            return false;
        };
        let e = &mut self.graph[i];
        f(e);
        e.properties.freeze();
        true
    }

    /// Every entity with its slot: a number below [`GraphStore::entity_slot_bound`]
    /// that stays the element's until the store changes (the sink's diff is kept by it).
    pub fn entity_slots(&self) -> impl Iterator<Item = (usize, &Entity)> {
        self.graph.node_indices().map(|i| (i.index(), &self.graph[i]))
    }

    /// The entity of `key` with its slot.
    pub fn entity_slot(&self, key: &str) -> Option<(usize, &Entity)> {
        self.nodes.get(key).map(|&i| (i.index(), &self.graph[i]))
    }

    pub fn entity_slot_bound(&self) -> usize {
        self.graph.node_bound()
    }

    /// Every relationship with its slot (detached ones after the attached).
    pub fn relationship_slots(&self) -> impl Iterator<Item = (usize, &Relationship)> {
        let bound = self.graph.edge_bound();
        self.graph
            .edge_indices()
            .map(|i| (i.index(), &self.graph[i]))
            .chain(self.detached.iter().enumerate().map(move |(i, r)| (bound + i, r)))
    }

    /// The relationship of `key` (attached or not) with its slot, found with one
    /// lookup.
    pub fn relationship_slot(&self, key: &str) -> Option<(usize, &Relationship)> {
        if let Some(i) = self.edge_index(key) {
            return Some((i.index(), &self.graph[i]));
        }
        let bound = self.graph.edge_bound();
        self.detached
            .iter()
            .enumerate()
            .find(|(_, r)| r.key_is(key))
            .map(|(i, r)| (bound + i, r))
    }

    pub fn relationship_slot_bound(&self) -> usize {
        self.graph.edge_bound() + self.detached.len()
    }

    pub fn entity_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn relationship_count(&self) -> usize {
        self.graph.edge_count() + self.detached.len()
    }

    /// Relationships leaving `key`.
    pub fn outgoing(&self, key: &str) -> Vec<&Relationship> {
        match self.nodes.get(key) {
            Some(&i) => self.graph.edges(i).map(|e| e.weight()).collect(),
            None => Vec::new(),
        }
    }

    /// Entity counts by `_type`, sorted.
    pub fn entity_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for e in self.entities() {
            *counts.entry(e.entity_type.to_owned()).or_insert(0) += 1;
        }
        counts
    }

    /// Relationship counts by `_type`, sorted.
    pub fn relationship_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in self.relationships() {
            *counts.entry(r.relationship_type().to_owned()).or_insert(0) += 1;
        }
        counts
    }

    /// Attaches relationships whose endpoints have arrived since; returns the ones
    /// still dangling.
    pub(crate) fn reattach(&mut self) -> Vec<Relationship> {
        let detached = std::mem::take(&mut self.detached);
        self.detached_keys.clear();
        let mut dangling = Vec::new();
        for rel in detached {
            if let Err(rel) = self.try_attach(rel) {
                dangling.push(rel);
            }
        }
        dangling
    }

    /// Removes an entity and the relationships touching it; returns those relationships.
    pub(crate) fn remove_entity(&mut self, key: &str) -> Vec<Relationship> {
        let Some(idx) = self.nodes.remove(key) else {
            return Vec::new();
        };
        let touching: Vec<EdgeIndex> = self
            .graph
            .edges_directed(idx, petgraph::Direction::Outgoing)
            .chain(self.graph.edges_directed(idx, petgraph::Direction::Incoming))
            .map(|e| e.id())
            .collect();
        let mut removed = Vec::new();
        for e in touching {
            let key = self.graph[e].key().into_owned();
            self.unindex_edge(&key);
            if let Some(rel) = self.graph.remove_edge(e) {
                removed.push(rel);
            }
        }
        self.graph.remove_node(idx);
        removed
    }

    pub(crate) fn remove_relationship(&mut self, key: &str) -> Option<Relationship> {
        let idx = self.unindex_edge(key)?;
        self.graph.remove_edge(idx)
    }

    /// Moves everything from `other` into this store (several tenants into one graph).
    /// Keys are namespaced by account, so a collision is a duplicate like any other.
    pub fn absorb(&mut self, other: GraphStore) {
        if self.nodes.is_empty() && self.detached.is_empty() {
            let duplicates = std::mem::take(&mut self.duplicates);
            let observations = std::mem::take(&mut self.observations);
            *self = other;
            self.duplicates.splice(0..0, duplicates);
            self.observations.splice(0..0, observations);
            return;
        }
        let GraphStore {
            graph,
            detached,
            duplicates,
            observations,
            ..
        } = other;
        // Taking the weights out whole is linear; removing edges one by one from a
        // stable graph costs the degree of each endpoint (quadratic for campaigns).
        let (nodes, edges) = petgraph::Graph::from(graph).into_nodes_edges();
        for n in nodes {
            let _ = self.add_entity(n.weight);
        }
        for e in edges {
            let _ = self.add_relationship(e.weight);
        }
        for r in detached {
            let _ = self.add_relationship(r);
        }
        self.duplicates.extend(duplicates);
        self.observations.extend(observations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Element as _;

    fn user(key: &str) -> Entity {
        Entity::new(key, "mimecast_user", "User")
    }

    #[test]
    fn duplicate_keys_are_refused_and_remembered() {
        let mut s = GraphStore::new();
        s.add_entity(user("u1").with("name", "first")).unwrap();
        let err = s.add_entity(user("u1").with("name", "second")).unwrap_err();
        assert_eq!(err.to_string(), "duplicate entity key \"u1\" (type mimecast_user)");
        assert_eq!(s.entity("u1").unwrap().str("name"), Some("first"));
        assert_eq!(s.entity_count(), 1);
        assert_eq!(s.duplicates.len(), 1);
    }

    #[test]
    fn elements_are_kept_without_spare_room_for_properties() {
        let mut s = GraphStore::new();
        let mut e = user("a");
        let mut r = Relationship::new("t", "HAS", "a", "a");
        for (i, name) in ["p1", "p2", "p3", "p4", "p5"].into_iter().enumerate() {
            e.set(name, Some(crate::graph::Value::Int(i as i64)));
            r.set(name, Some(crate::graph::Value::Int(i as i64)));
        }
        assert_eq!((e.properties.capacity(), r.properties.capacity()), (8, 8));
        s.add_entity(e).unwrap();
        s.add_relationship(r).unwrap();
        assert_eq!(s.entity("a").unwrap().properties.capacity(), 5);
        assert_eq!(s.relationship("a|has|a").unwrap().properties.capacity(), 5);
    }

    #[test]
    fn relationships_attach_when_their_endpoints_arrive() {
        let mut s = GraphStore::new();
        s.add_entity(user("a")).unwrap();
        s.add_relationship(Relationship::new("t", "HAS", "a", "b")).unwrap();
        assert_eq!(s.outgoing("a").len(), 0);
        s.add_entity(user("b")).unwrap();
        assert!(s.reattach().is_empty());
        assert_eq!(s.outgoing("a").len(), 1);
        s.add_relationship(Relationship::new("t", "HAS", "a", "zz")).unwrap();
        let dangling = s.reattach();
        assert_eq!(dangling.len(), 1);
        assert_eq!(dangling[0].to_key(), "zz");
    }

    #[test]
    fn removing_an_entity_removes_its_relationships() {
        let mut s = GraphStore::new();
        s.add_entity(user("a")).unwrap();
        s.add_entity(user("b")).unwrap();
        s.add_relationship(Relationship::new("t", "HAS", "a", "b")).unwrap();
        let removed = s.remove_entity("b");
        assert_eq!(removed.len(), 1);
        assert_eq!(s.relationship_count(), 0);
        assert!(s.relationship("a|has|b").is_none());
    }

    #[test]
    fn colliding_key_hashes_keep_relationships_apart() {
        let mut s = GraphStore::new();
        for k in ["collide-a", "collide-b"] {
            s.add_entity(user(k)).unwrap();
        }
        s.add_relationship(Relationship::new("t", "HAS", "collide-a", "collide-b"))
            .unwrap();
        s.add_relationship(Relationship::new("t", "IS", "collide-a", "collide-b"))
            .unwrap();
        assert!(s
            .add_relationship(Relationship::new("t", "IS", "collide-a", "collide-b"))
            .is_err());
        assert_eq!(s.relationship("collide-a|has|collide-b").unwrap().class(), "HAS");
        assert_eq!(s.relationship("collide-a|is|collide-b").unwrap().class(), "IS");
        assert_eq!(s.remove_relationship("collide-a|has|collide-b").unwrap().class(), "HAS");
        assert!(s.relationship("collide-a|has|collide-b").is_none());
        assert_eq!(s.relationship("collide-a|is|collide-b").unwrap().class(), "IS");
    }

    #[test]
    fn relationships_share_their_endpoint_keys_and_equal_property_lists() {
        let mut s = GraphStore::new();
        for k in ["a", "b", "c"] {
            s.add_entity(user(k)).unwrap();
        }
        for (class, to, n) in [("HAS", "b", 1), ("HAS", "c", 1), ("IS", "c", 2)] {
            s.add_relationship(Relationship::new("t", class, "a", to).with("n", n as i64))
                .unwrap();
        }
        let (ab, ac, is) = (
            s.relationship("a|has|b").unwrap(),
            s.relationship("a|has|c").unwrap(),
            s.relationship("a|is|c").unwrap(),
        );
        assert!(std::ptr::eq(ab.from_key(), ac.from_key()));
        assert!(std::ptr::eq(ac.to_key(), is.to_key()));
        assert!(ab.properties.shares_with(&ac.properties));
        assert!(!ab.properties.shares_with(&is.properties));
        // A change shares again: the IS relationship now equals the other two.
        s.update_relationships(
            |r| r.class() == "IS",
            |r| {
                r.properties.insert("n", crate::graph::Value::Int(1));
            },
        );
        let (ab, is) = (s.relationship("a|has|b").unwrap(), s.relationship("a|is|c").unwrap());
        assert!(ab.properties.shares_with(&is.properties));
        assert!(s.update_entity("a", |e| {
            e.properties.insert("name", "A".into());
        }));
        assert_eq!(s.entity("a").unwrap().properties.capacity(), 1);
        assert!(!s.update_entity("zz", |_| unreachable!("no such entity")));
    }

    #[test]
    fn absorb_merges_stores() {
        let mut a = GraphStore::new();
        a.add_entity(user("a")).unwrap();
        let mut b = GraphStore::new();
        b.add_entity(user("b")).unwrap();
        b.add_entity(user("c")).unwrap();
        b.add_relationship(Relationship::new("t", "HAS", "b", "c")).unwrap();
        b.observe(super::super::FindingKind::UnknownParticipant, "t", "x@gmail.com".into());
        a.absorb(b);
        assert_eq!(a.entity_count(), 3);
        assert_eq!(a.relationship_count(), 1);
        assert_eq!(a.observations().len(), 1);
    }
}
