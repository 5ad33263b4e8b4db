//! `--shard K/N`: which connections one of N workers syncs.
//!
//! Each connection belongs to exactly one of N shards, decided by a stable hash of its
//! name (SHA-256, so every platform, build and version agrees), so N daemons or CronJob
//! replicas given the same configuration share the tenants without talking to each
//! other. The per-account write lease still guarantees one writer per account if two
//! workers are ever given the same shard.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::config::ConnectionConfig;

/// Shard K of N, K counted from 1 (`1/3`, `2/3`, `3/3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` (from 1) of `count`; `None` unless 1 ≤ index ≤ count.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index >= 1 && index <= count).then_some(Shard { index, count })
    }

    /// The shard (from 1) a connection name falls in, of `count`.
    pub fn of(name: &str, count: u32) -> u32 {
        let digest = Sha256::digest(name.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32 + 1
    }

    /// Whether the connection of this name is this shard's.
    pub fn owns(&self, name: &str) -> bool {
        Shard::of(name, self.count) == self.index
    }

    /// Keeps this shard's connections, in their configured order.
    pub fn select(&self, connections: Vec<ConnectionConfig>) -> Vec<ConnectionConfig> {
        connections.into_iter().filter(|c| self.owns(&c.name)).collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Text that is not `K/N` with 1 ≤ K ≤ N.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a shard: write K/N with 1 <= K <= N, e.g. 2/3")]
pub struct BadShard(pub String);

impl FromStr for Shard {
    type Err = BadShard;

    fn from_str(s: &str) -> Result<Shard, BadShard> {
        let bad = || BadShard(s.to_owned());
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::{BadShard, Shard};

    #[test]
    fn parses_k_of_n_counted_from_one() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(" 1 / 1 ".parse::<Shard>().map(|s| s.to_string()), Ok("1/1".to_string()));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", ""] {
            assert_eq!(bad.parse::<Shard>(), Err(BadShard(bad.to_owned())));
            assert_eq!(
                bad.parse::<Shard>().unwrap_err().to_string(),
                format!("{bad:?} is not a shard: write K/N with 1 <= K <= N, e.g. 2/3")
            );
        }
    }

    #[test]
    fn every_name_falls_in_exactly_one_shard_and_the_split_is_pinned() {
        let names: Vec<String> = (0..300).map(|i| format!("tenant-{i}")).collect();
        let shards: Vec<Shard> = (1..=3).map(|k| Shard::new(k, 3).unwrap()).collect();
        let mut sizes = [0usize; 3];
        for name in &names {
            let owners: Vec<usize> = (0..3).filter(|&i| shards[i].owns(name)).collect();
            assert_eq!(owners.len(), 1, "{name}");
            sizes[owners[0]] += 1;
        }
        // Pinned: a change of hash would move tenants between running workers.
        assert_eq!(sizes, [108, 105, 87]);
        assert_eq!(Shard::of("acme", 3), 1);
        assert_eq!(Shard::of("globex", 3), 2);
        // The Kubernetes examples split their two tenants this way.
        assert_eq!((Shard::of("americas", 2), Shard::of("emea", 2)), (1, 2));
        assert_eq!(Shard::of("anything", 1), 1);
    }
}
