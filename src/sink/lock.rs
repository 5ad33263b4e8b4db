//! One writer per account. Cleanup deletes what does not carry this sync's id, so two
//! syncs of one account writing at once (a daemon and a scheduled CI job) would delete
//! each other's fresh data. Before it fetches a tenant a sync takes a lease on its
//! account (a `MimecastGraphLock` node); another sync finding a live lease writes
//! nothing and says who holds it. While a sync runs, its leases are renewed every
//! [`RENEW_EVERY`]; a renewal that finds a lease gone stops every further write. The
//! lease ends when the sync releases it, or [`LEASE`] after the last renewal.
//!
//! A lease records its [`Holder`]: host, pid, process start time and an instance id
//! made once per process. A lease that could not be released (Neo4j was down at the
//! end of the sync) is therefore not waited for when its holder is known to be gone:
//! a lease of this very process (the daemon's earlier run) is taken over at once, and
//! so is one of a process on this host that no longer exists (its pid is gone, or now
//! belongs to a process that started at another time).

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use neo4rs::{query, BoltType};

use super::upsert::SyncStamp;
use super::{bolt, Sink, SinkError};

/// The label of lease nodes: bookkeeping, not part of graph-schema/.
pub const LOCK_LABEL: &str = "MimecastGraphLock";

/// How long a lease lives without renewal (when its process was killed).
pub const LEASE: Duration = Duration::from_secs(600);

/// How often a writing sync renews its leases.
pub const RENEW_EVERY: Duration = Duration::from_secs(120);

/// Who holds a lease: enough to tell later whether that process still exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holder {
    /// A uuid made once per process.
    pub instance: String,
    /// The host name, for people reading the lease.
    pub host: String,
    /// The kernel boot and pid namespace: pids are only comparable within one.
    pub host_id: String,
    pub pid: u32,
    /// The process start time (`/proc/<pid>/stat` field 22, clock ticks after boot),
    /// so a reused pid is not mistaken for the old process.
    pub process_start: u64,
}

impl Holder {
    /// This process.
    pub fn current() -> &'static Holder {
        static CURRENT: OnceLock<Holder> = OnceLock::new();
        CURRENT.get_or_init(|| {
            let pid = std::process::id();
            Holder {
                instance: uuid::Uuid::new_v4().to_string(),
                host: read_trimmed("/proc/sys/kernel/hostname")
                    .or_else(|| std::env::var("HOSTNAME").ok())
                    .unwrap_or_default(),
                host_id: host_id().unwrap_or_default(),
                pid,
                process_start: process_start(pid).unwrap_or(0),
            }
        })
    }

    /// True when this holder certainly no longer runs: it is on this host (same boot,
    /// same pid namespace) and its pid is gone or belongs to a process that started
    /// at another time. A holder on another host, or one that recorded too little,
    /// is never judged gone: its lease is waited for until it expires.
    pub fn is_gone(&self) -> bool {
        let here = Holder::current();
        if self.host_id.is_empty() || self.host_id != here.host_id || self.pid == 0 || self.process_start == 0 {
            return false;
        }
        process_start(self.pid) != Some(self.process_start)
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// This kernel boot and this pid namespace (Linux); `None` elsewhere.
fn host_id() -> Option<String> {
    let boot = read_trimmed("/proc/sys/kernel/random/boot_id")?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{boot}/{}", namespace.display()))
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks after
/// boot. `None` when there is no such process.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The syncs of this process that hold or are taking leases (with how many
/// `lock_accounts` calls not yet released). A lease recorded by this process's
/// instance but not by one of these is left from an earlier run of it.
static LIVE: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

fn live_syncs() -> Vec<String> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .keys()
        .cloned()
        .collect()
}

fn set_live(sync_id: &str, live: bool) {
    let mut map = LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let n = map.entry(sync_id.to_owned()).or_default();
    if live {
        *n += 1;
    } else {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(sync_id);
        }
    }
}

/// Takes the lease only where it is free: no lease, an expired one, our own, one left
/// by an earlier run of this process (`$instance`, owner not live), or one whose
/// holder was found gone (`$gone`). The `SET` first takes the node's write lock, so
/// two syncs serialize here and the second sees the first's owner. Times are the
/// server's (`datetime()`), so a worker host whose clock is off neither keeps a lease
/// alive nor takes one early; `datetime(l.expiresOn)` also reads a lease an older
/// version wrote with text times.
const ACQUIRE: &str = "UNWIND $accounts AS account \
    MERGE (l:MimecastGraphLock {accountCode: account}) \
    ON CREATE SET l.owner = $syncId, l.since = datetime(), \
      l.expiresOn = datetime() + duration({seconds: $leaseSeconds}) \
    SET l.claimedOn = datetime() \
    WITH l, coalesce(l.owner = $syncId, false) OR coalesce(datetime(l.expiresOn) < datetime(), true) \
      OR coalesce(l.instance = $instance AND NOT l.owner IN $live, false) \
      OR coalesce(l.owner IN $gone, false) AS free \
    FOREACH (_ IN CASE WHEN free THEN [1] ELSE [] END | \
      SET l.owner = $syncId, l.since = datetime(), l.expiresOn = datetime() + duration({seconds: $leaseSeconds}), \
          l.instance = $instance, \
          l.host = $host, l.hostId = $hostId, l.pid = $pid, l.processStart = $processStart) \
    RETURN l.accountCode AS account, free, l.owner AS owner, l.since AS since, l.expiresOn AS until, \
      l.host AS host, l.hostId AS hostId, l.pid AS pid, l.processStart AS processStart";

/// Extends this sync's leases; the count says whether it still holds them all.
const RENEW: &str = "UNWIND $accounts AS account \
    MATCH (l:MimecastGraphLock {accountCode: account, owner: $syncId}) \
    SET l.expiresOn = datetime() + duration({seconds: $leaseSeconds}) RETURN count(l) AS held";

const RELEASE: &str = "UNWIND $accounts AS account \
    MATCH (l:MimecastGraphLock {accountCode: account, owner: $syncId}) DELETE l";

/// A text column, or a time as its ISO text.
fn text(r: &super::Record, k: &str) -> String {
    r.get(k).and_then(bolt::text).unwrap_or_default()
}

fn lease_seconds() -> i64 {
    i64::try_from(LEASE.as_secs()).unwrap_or(i64::MAX)
}

fn number(r: &super::Record, k: &str) -> u64 {
    match r.get(k) {
        Some(BoltType::Integer(i)) => i.value.max(0) as u64,
        _ => 0,
    }
}

/// The holder a lease row names.
fn holder_of(r: &super::Record) -> Holder {
    Holder {
        instance: String::new(),
        host: text(r, "host"),
        host_id: text(r, "hostId"),
        pid: u32::try_from(number(r, "pid")).unwrap_or(0),
        process_start: number(r, "processStart"),
    }
}

impl Sink {
    /// Takes the write lease of every account, or none: when another sync holds one,
    /// the leases taken are given back and the error names the holder. Leases whose
    /// holder is gone (see the module) are taken over.
    ///
    /// # Errors
    /// [`SinkError::Locked`], or the statement fails.
    pub async fn lock_accounts(&self, accounts: &[&str], stamp: &SyncStamp) -> Result<(), SinkError> {
        set_live(&stamp.sync_id, true);
        match self.try_lock(accounts, stamp).await {
            Ok(None) => Ok(()),
            Ok(Some(locked)) => {
                self.unlock_accounts(accounts, stamp).await;
                Err(locked)
            }
            Err(e) => {
                // Nothing to give back worth waiting for Neo4j again: a lease this
                // attempt may have taken is this process's, and its next run takes it.
                set_live(&stamp.sync_id, false);
                Err(e)
            }
        }
    }

    /// Acquires; then, once, acquires again taking over the leases whose holders are
    /// gone. Returns the refusal naming the first holder still in the way.
    async fn try_lock(&self, accounts: &[&str], stamp: &SyncStamp) -> Result<Option<SinkError>, SinkError> {
        // Anything but a plain `true` is someone else's lease.
        let refused = |rows: &[super::Record]| -> Vec<super::Record> {
            rows.iter()
                .filter(|r| !matches!(r.get("free"), Some(BoltType::Boolean(b)) if b.value))
                .cloned()
                .collect()
        };
        let mut held = refused(&self.acquire(accounts, stamp, &[]).await?);
        let gone: Vec<&super::Record> = held.iter().filter(|r| holder_of(r).is_gone()).collect();
        if !gone.is_empty() {
            for r in &gone {
                tracing::warn!(
                    account = %text(r, "account"), owner = %text(r, "owner"), pid = number(r, "pid"),
                    "taking over a write lease whose process no longer exists"
                );
            }
            let owners: Vec<String> = gone.iter().map(|r| text(r, "owner")).collect();
            held = refused(&self.acquire(accounts, stamp, &owners).await?);
        }
        Ok(held.first().map(|first| {
            let holder = holder_of(first);
            let mut owner = text(first, "owner");
            if !holder.host.is_empty() {
                owner = format!("{owner}, pid {} on {}", holder.pid, holder.host);
            }
            SinkError::Locked {
                account: text(first, "account"),
                owner,
                since: text(first, "since"),
                until: text(first, "until"),
            }
        }))
    }

    async fn acquire(
        &self,
        accounts: &[&str],
        stamp: &SyncStamp,
        gone: &[String],
    ) -> Result<Vec<super::Record>, SinkError> {
        let me = Holder::current();
        let strings = |v: &[String]| bolt::list(v.iter().map(|s| bolt::string(s)).collect());
        let q = query(ACQUIRE)
            .param("accounts", accounts_param(accounts))
            .param("syncId", stamp.sync_id.as_str())
            .param("leaseSeconds", lease_seconds())
            .param("instance", me.instance.as_str())
            .param("live", strings(&live_syncs()))
            .param("gone", strings(gone))
            .param("host", me.host.as_str())
            .param("hostId", me.host_id.as_str())
            .param("pid", i64::from(me.pid))
            .param("processStart", me.process_start as i64);
        self.write("lock", q).await
    }

    /// Runs `work` while renewing the leases every `every`. When a renewal finds a
    /// lease no longer this sync's, every later write of this sink is refused with
    /// [`SinkError::LeaseLost`]; a renewal that fails (Neo4j busy or away) is retried
    /// at the next tick.
    pub async fn hold_leases<T>(
        &self,
        accounts: &[&str],
        stamp: &SyncStamp,
        every: Duration,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        if accounts.is_empty() {
            return work.await;
        }
        let finished = tokio::sync::Notify::new();
        let renewing = async {
            loop {
                tokio::select! {
                    () = finished.notified() => break,
                    () = tokio::time::sleep(every) => {}
                }
                match self.renew_leases(accounts, stamp).await {
                    Ok(held) if held == accounts.len() as i64 => {}
                    Ok(held) => {
                        tracing::error!(held, accounts = accounts.len(), "a write lease was lost; writing stops");
                        self.lease_lost.store(true, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew the write leases; retrying"),
                }
            }
        };
        let working = async {
            let out = work.await;
            finished.notify_one();
            out
        };
        tokio::join!(working, renewing).0
    }

    async fn renew_leases(&self, accounts: &[&str], stamp: &SyncStamp) -> Result<i64, SinkError> {
        let q = query(RENEW)
            .param("accounts", accounts_param(accounts))
            .param("syncId", stamp.sync_id.as_str())
            .param("leaseSeconds", lease_seconds());
        let rows = self.write_even_when_stopped("renew-lease", q).await?;
        Ok(match rows.first().and_then(|r| r.get("held")) {
            Some(BoltType::Integer(i)) => i.value,
            _ => 0,
        })
    }

    /// Gives back this sync's leases. Best effort and never refused by a stop request:
    /// a lease left behind expires by itself, and the next run of this process, or any
    /// run on this host once this process has exited, takes it over at once.
    pub async fn unlock_accounts(&self, accounts: &[&str], stamp: &SyncStamp) {
        let q = query(RELEASE)
            .param("accounts", accounts_param(accounts))
            .param("syncId", stamp.sync_id.as_str());
        if let Err(e) = self.write_even_when_stopped("unlock", q).await {
            tracing::warn!(error = %e, "could not release the account write leases; this process's next run takes them over, others wait until they expire");
        }
        set_live(&stamp.sync_id, false);
    }
}

fn accounts_param(accounts: &[&str]) -> BoltType {
    bolt::list(accounts.iter().map(|a| bolt::string(a)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not_it() {
        let me = Holder::current().clone();
        assert_eq!(me.pid, std::process::id());
        assert!(me.process_start > 0);
        assert!(!me.host_id.is_empty());
        assert!(!me.is_gone());
        // The same pid with another start time: the pid was reused.
        let reused = Holder {
            process_start: me.process_start + 1,
            ..me.clone()
        };
        assert!(reused.is_gone());
        // A holder on another host (or another boot) is never judged gone.
        let elsewhere = Holder {
            host_id: "another-boot/pid:[1]".into(),
            ..reused.clone()
        };
        assert!(!elsewhere.is_gone());
        // A lease that recorded no process (older versions) is waited for.
        assert!(!Holder::default().is_gone());
    }

    #[test]
    fn an_exited_process_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = process_start(pid).unwrap();
        child.wait().unwrap();
        let holder = Holder {
            pid,
            process_start: start,
            ..Holder::current().clone()
        };
        assert!(holder.is_gone());
    }
}
