//! The fingerprint read of a type a sync changed: stored fingerprints first, keys only
//! for what they do not account for.
//!
//! A type whose digest differs from the stored one ([`super::digest`]) is read at the
//! fingerprint depth in two steps instead of one row per element with its key:
//!
//! 1. Neo4j groups the type's stored fingerprints by their first three hex digits
//!    and returns, per group, the fingerprints with their element ids (4,096 rows,
//!    each a list; a fingerprint is 16 characters where a key is about 230). The
//!    groups are small so that the rows the driver fetches ahead stay small. Each
//!    group is compared at once with the collected elements whose fingerprint starts
//!    with the same 12 bits, sorted: a stored fingerprint equal to a collected one,
//!    and held by no other stored element, is that element, the same (a fingerprint
//!    covers the key, [`super::fingerprint`]).
//! 2. The stored elements no collected fingerprint accounts for (changed, gone, a
//!    fingerprint missing, not ours, or held by two elements after an edit by hand)
//!    are looked up by element id for their `_key` and `_fingerprint`, and classified
//!    by key as the one-step read does: the same or different when the sync brought
//!    the key and has not classed it yet, gone otherwise.
//!
//! With a 1% churn, step 2 reads a few percent of the type. What is kept between the
//! steps is the ids of those elements and the collected slots, sorted by fingerprint
//! (4 bytes each).
//!
//! A fingerprint copied by hand onto another element while the element it belongs to
//! was deleted by hand stands in for it: the deleted one is not seen missing, and the
//! other's `CREATE` collides with its stored self. A collision makes the next sync
//! read the account's content in full ([`super::load`]), which restores both.

use std::time::Instant;

use neo4rs::query;
use tracing::debug;

use super::diff::{Scan, Seen};
use super::fingerprint;
use super::{Sink, SinkError};

/// A fingerprint's group: its first three hex digits (12 bits).
const GROUP_SHIFT: u32 = 52;

/// Element ids looked up per query in step 2.
const LOOKUP_CHUNK: usize = 5_000;

/// One type to sift: its stored elements (`pattern`, binding `x`), and its collected
/// elements with their fingerprints and how a stored key finds one of them.
pub(super) struct Sifting<'a, F, K> {
    pub pattern: &'a str,
    pub account: &'a str,
    pub element_type: &'a str,
    pub nodes: bool,
    /// The collected elements' store slots.
    pub slots: &'a [u32],
    /// The store's slot bound (for the seen set).
    pub bound: usize,
    /// The fingerprint of the collected element at a slot.
    pub fingerprint_of: F,
    /// The slot of the collected element of this type with this key.
    pub slot_of: K,
}

impl Sink {
    /// Reads one type in the two steps above, again from the start after a retryable
    /// failure.
    ///
    /// # Errors
    /// A read fails after its retries.
    pub(super) async fn sift<F, K>(&self, s: &Sifting<'_, F, K>) -> Result<Scan, SinkError>
    where
        F: Fn(usize) -> u64,
        K: Fn(&str) -> Option<usize>,
    {
        let mut by_fingerprint: Vec<u32> = s.slots.to_vec();
        by_fingerprint.sort_unstable_by_key(|&slot| (s.fingerprint_of)(slot as usize));
        self.read_again(|| self.sift_once(s, &by_fingerprint)).await
    }

    async fn sift_once<F, K>(&self, s: &Sifting<'_, F, K>, by_fingerprint: &[u32]) -> Result<Scan, SinkError>
    where
        F: Fn(usize) -> u64,
        K: Fn(&str) -> Option<usize>,
    {
        let t0 = Instant::now();
        let fp = |slot: u32| (s.fingerprint_of)(slot as usize);
        let mut scan = Scan::default();
        let mut seen = Seen::new(s.bound);
        let mut unaccounted: Vec<String> = Vec::new();
        // A fingerprint that is not text (set by hand) is grouped with the missing ones.
        let grouped = format!(
            "MATCH {} WHERE x._type = $type \
             WITH elementId(x) AS id, CASE WHEN x._fingerprint IS :: STRING THEN x._fingerprint END AS f \
             RETURN substring(f, 0, 3) AS g, count(*) AS n, collect(f) AS fs, collect(id) AS ids",
            s.pattern
        );
        let q = query(&grouped)
            .param("account", s.account)
            .param("type", s.element_type);
        self.read_each(q, |row| {
            let bad = |e: neo4rs::DeError| SinkError::Query(e.to_string());
            let n: i64 = row.get("n").map_err(bad)?;
            scan.stored += u64::try_from(n).unwrap_or(0);
            let ids: Vec<&str> = row.get("ids").map_err(bad)?;
            let fingerprints: Vec<&str> = row.get("fs").map_err(bad)?;
            let group = row
                .get::<Option<&str>>("g")
                .map_err(bad)?
                .and_then(|g| u64::from_str_radix(g, 16).ok().filter(|_| g.len() == 3));
            let (Some(group), true) = (group, fingerprints.len() == ids.len()) else {
                // Missing fingerprints (their group is null), or a group not ours.
                unaccounted.extend(ids.iter().map(|&id| id.to_owned()));
                return Ok(());
            };
            let start = by_fingerprint.partition_point(|&slot| fp(slot) >> GROUP_SHIFT < group);
            let end = by_fingerprint.partition_point(|&slot| fp(slot) >> GROUP_SHIFT <= group);
            let collected = &by_fingerprint[start..end];
            let mut stored: Vec<(Option<u64>, &str)> = fingerprints
                .iter()
                .map(|f| fingerprint::parse(f))
                .zip(ids.iter().copied())
                .collect();
            stored.sort_unstable();
            let held_once = |i: usize, f: u64| {
                (i == 0 || stored[i - 1].0 != Some(f)) && stored.get(i + 1).is_none_or(|n| n.0 != Some(f))
            };
            let mut next = 0;
            for (i, &(f, id)) in stored.iter().enumerate() {
                let Some(f) = f.filter(|&f| held_once(i, f)) else {
                    unaccounted.push(id.to_owned());
                    continue;
                };
                while next < collected.len() && fp(collected[next]) < f {
                    next += 1;
                }
                match collected.get(next) {
                    Some(&slot) if fp(slot) == f && seen.first(slot as usize) => scan.same.push(slot),
                    _ => unaccounted.push(id.to_owned()),
                }
            }
            Ok(())
        })
        .await?;
        let grouped_ms = t0.elapsed().as_millis() as u64;
        let lookup = if s.nodes {
            "UNWIND $ids AS id MATCH (x) WHERE elementId(x) = id RETURN id, x._key AS k, x._fingerprint AS f"
        } else {
            "UNWIND $ids AS id MATCH ()-[x]->() WHERE elementId(x) = id RETURN id, x._key AS k, x._fingerprint AS f"
        };
        for chunk in unaccounted.chunks(LOOKUP_CHUNK) {
            self.read_each(query(lookup).param("ids", chunk.to_vec()), |row| {
                let bad = |e: neo4rs::DeError| SinkError::Query(e.to_string());
                let id: &str = row.get("id").map_err(bad)?;
                let key: Option<&str> = row.get("k").map_err(bad)?;
                // A fingerprint that is not text (set by hand) differs.
                let stored = row.get::<Option<&str>>("f").ok().flatten().and_then(fingerprint::parse);
                match key.and_then(&s.slot_of).filter(|&slot| seen.first(slot)) {
                    Some(slot) if stored == Some((s.fingerprint_of)(slot)) => {
                        scan.same.push(super::digest::slot_u32(slot))
                    }
                    Some(slot) => scan.differs.push((slot, id.into())),
                    None => scan.gone.push(id.to_owned()),
                }
                Ok(())
            })
            .await?;
        }
        debug!(
            element_type = s.element_type,
            stored = scan.stored,
            same = scan.same.len(),
            looked_up = unaccounted.len(),
            grouped_ms,
            elapsed_ms = t0.elapsed().as_millis() as u64,
            "fingerprints sifted"
        );
        Ok(scan)
    }
}
