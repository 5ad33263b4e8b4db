//! What the sink did in one sync: per type created, updated, unchanged and deleted,
//! and where the time went (read, write, delete, rules).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::guard::HeldBack;
use super::upsert::WriteCounts;

/// What a sync did to one type, in one account or overall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TypeWrite {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Time spent upserting this type (cleanup not included).
    #[serde(rename = "upsertMs")]
    pub upsert_ms: u64,
}

/// What the sink did in one sync. Counts include the batches of a write that was cut
/// short (a stop, a failure): what is in Neo4j, not what was planned.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    /// By `_type`.
    pub types: BTreeMap<String, TypeWrite>,
    /// Types whose upsert did not write every element (the sync stopped or failed).
    pub incomplete_types: BTreeSet<String>,
    /// Types the deletion guard kept, per account.
    pub held_back: Vec<HeldBack>,
    /// Reading the stored state and comparing it.
    pub read_ms: u64,
    /// Stored elements read, or counted by type digest.
    pub read_elements: u64,
    /// Of those, the elements of types found unchanged by their digest and count,
    /// counted by Neo4j rather than read (see `sink::digest`).
    pub counted_elements: u64,
    /// Accounts whose stored content was read in full and verified this sync (the
    /// others' fingerprints only: see `[neo4j] verify_content_hours`).
    pub content_verified: Vec<String>,
    pub upsert_ms: u64,
    pub cleanup_ms: u64,
    /// Running the saved rules after the write, for the sync's history.
    pub rules_ms: u64,
    /// Of those, the rules (one per account) whose findings were copied from the
    /// account's previous run, as the account's content had not changed since.
    pub rules_reused: u64,
    /// The sync that last changed each written account's content (`sink::digest::GENERATION`).
    #[serde(skip)]
    pub generations: BTreeMap<String, String>,
}

impl TypeWrite {
    /// Every count and time added up.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a TypeWrite>) -> TypeWrite {
        all.into_iter().fold(TypeWrite::default(), |mut acc, t| {
            acc.created += t.created;
            acc.updated += t.updated;
            acc.unchanged += t.unchanged;
            acc.deleted += t.deleted;
            acc.upsert_ms += t.upsert_ms;
            acc
        })
    }

    /// (created, updated, unchanged, deleted), without the timing.
    pub fn counts(&self) -> (u64, u64, u64, u64) {
        (self.created, self.updated, self.unchanged, self.deleted)
    }
}

impl LoadReport {
    /// Adds another report (of one account) to this one.
    pub fn absorb(&mut self, other: LoadReport) {
        for (t, w) in other.types {
            let e = self.types.entry(t).or_default();
            *e = TypeWrite::sum([&*e, &w]);
        }
        self.incomplete_types.extend(other.incomplete_types);
        self.held_back.extend(other.held_back);
        self.read_ms += other.read_ms;
        self.read_elements += other.read_elements;
        self.counted_elements += other.counted_elements;
        self.rules_ms += other.rules_ms;
        self.rules_reused += other.rules_reused;
        self.generations.extend(other.generations);
        self.content_verified.extend(other.content_verified);
        self.upsert_ms += other.upsert_ms;
        self.cleanup_ms += other.cleanup_ms;
    }

    pub(super) fn add_deleted(&mut self, t: &str, deleted: u64) {
        self.types.entry(t.to_owned()).or_default().deleted += deleted;
    }

    pub(super) fn add_counts(&mut self, t: &str, c: WriteCounts, ms: u64) {
        let e = self.types.entry(t.to_owned()).or_default();
        e.created += c.created;
        e.updated += c.updated;
        e.unchanged += c.unchanged;
        e.upsert_ms += ms;
    }

    pub fn totals(&self) -> TypeWrite {
        TypeWrite::sum(self.types.values())
    }
}
