//! Leases: time-limited grants that keys can be attached to.
//!
//! Mirrors etcd `server/lease/lessor.go`. A lease has a TTL; a client keeps it alive by sending
//! keep-alives; when it expires, the store revokes it, which deletes every key attached to it in
//! one transaction (so watchers see DELETE events at one revision). Kubernetes uses leases for
//! events (they expire after an hour) and for master leases.
//!
//! This file is the bookkeeping only: which leases exist, when each expires, which keys each
//! holds. Granting and revoking change the disk, so they go through the committer (`apply.rs`);
//! the expiry loop at the bottom proposes revokes for expired leases.
//!
//! Expiry times are not stored: like etcd, a restarted store gives every lease its full TTL
//! again, because the time a lease had left is unknowable after a restart. Left out: etcd's
//! checkpointing of remaining TTLs and its lease priority queue (a scan of every lease is cheap at
//! this scale).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::error::StoreError;

/// The shortest TTL granted: shorter requests are raised to it. etcd derives its minimum from
/// the election timeout (1.5 × 1 s, rounded up); a single store has no elections but keeps the
/// same floor so that clients see the same TTLs.
pub const MIN_TTL: i64 = 2;

/// The longest TTL etcd accepts (about 285 years).
pub const MAX_TTL: i64 = 9_000_000_000;

#[derive(Debug, Clone)]
pub struct Lease {
    pub id: i64,
    /// The TTL granted, in seconds.
    pub ttl: i64,
    pub expiry: Instant,
    pub keys: BTreeSet<Bytes>,
}

impl Lease {
    /// Whole seconds left before expiry, as etcd reports them (rounded down).
    pub fn remaining(&self, now: Instant) -> i64 {
        self.expiry.saturating_duration_since(now).as_secs() as i64
    }
}

#[derive(Debug, Default)]
pub struct Lessor {
    leases: HashMap<i64, Lease>,
}

impl Lessor {
    /// The TTL a grant of `requested` seconds gets.
    pub fn effective_ttl(requested: i64) -> Result<i64, StoreError> {
        if requested > MAX_TTL {
            return Err(StoreError::LeaseTtlTooLarge);
        }
        Ok(requested.max(MIN_TTL))
    }

    pub fn contains(&self, id: i64) -> bool {
        self.leases.contains_key(&id)
    }

    pub fn get(&self, id: i64) -> Option<&Lease> {
        self.leases.get(&id)
    }

    /// Adds a lease that expires `ttl` seconds after `now`. The caller has chosen a free id.
    pub fn grant(&mut self, id: i64, ttl: i64, now: Instant) {
        let expiry = now + Duration::from_secs(ttl as u64);
        self.leases.insert(id, Lease { id, ttl, expiry, keys: BTreeSet::new() });
    }

    /// Removes a lease and returns it with the keys it held.
    pub fn revoke(&mut self, id: i64) -> Result<Lease, StoreError> {
        self.leases.remove(&id).ok_or(StoreError::LeaseNotFound)
    }

    /// A keep-alive: the lease expires its full TTL after `now`. An expired lease that the
    /// expiry loop has not revoked yet cannot be renewed, as in etcd.
    pub fn renew(&mut self, id: i64, now: Instant) -> Result<i64, StoreError> {
        let lease = self.leases.get_mut(&id).ok_or(StoreError::LeaseNotFound)?;
        if lease.expiry <= now {
            return Err(StoreError::LeaseNotFound);
        }
        lease.expiry = now + Duration::from_secs(lease.ttl as u64);
        Ok(lease.ttl)
    }

    pub fn attach(&mut self, id: i64, key: Bytes) {
        if let Some(lease) = self.leases.get_mut(&id) {
            lease.keys.insert(key);
        }
    }

    pub fn detach(&mut self, id: i64, key: &[u8]) {
        if let Some(lease) = self.leases.get_mut(&id) {
            lease.keys.remove(key);
        }
    }

    /// Leases whose time is up at `now`, oldest expiry first.
    pub fn expired(&self, now: Instant) -> Vec<i64> {
        let mut expired: Vec<&Lease> = self.leases.values().filter(|l| l.expiry <= now).collect();
        expired.sort_by_key(|l| l.expiry);
        expired.into_iter().map(|l| l.id).collect()
    }

    /// When the next lease expires, if any.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.leases.values().map(|l| l.expiry).min()
    }

    /// Every lease id, soonest to expire first (as etcd lists them; ties by id).
    pub fn ids_by_expiry(&self) -> Vec<i64> {
        let mut leases: Vec<(Instant, i64)> = self.leases.values().map(|l| (l.expiry, l.id)).collect();
        leases.sort();
        leases.into_iter().map(|(_, id)| id).collect()
    }

    pub fn len(&self) -> usize {
        self.leases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_raised_to_the_minimum_and_bounded() {
        let cases = [
            ("zero gets the minimum", 0, MIN_TTL),
            ("one gets the minimum", 1, MIN_TTL),
            ("ten stays ten", 10, 10),
            ("the maximum is allowed", MAX_TTL, MAX_TTL),
        ];
        for (name, requested, want) in cases {
            assert_eq!(Lessor::effective_ttl(requested).ok(), Some(want), "{name}");
        }
        assert!(matches!(Lessor::effective_ttl(MAX_TTL + 1), Err(StoreError::LeaseTtlTooLarge)));
    }

    #[test]
    fn leases_expire_after_their_ttl_unless_renewed() {
        let start = Instant::now();
        let mut lessor = Lessor::default();
        lessor.grant(1, 10, start);
        lessor.grant(2, 5, start);
        assert_eq!(lessor.next_expiry(), Some(start + Duration::from_secs(5)));
        assert!(lessor.expired(start + Duration::from_secs(4)).is_empty());
        assert_eq!(lessor.expired(start + Duration::from_secs(5)), vec![2]);

        // A keep-alive at t=9 moves lease 1's expiry to t=19.
        assert_eq!(lessor.renew(1, start + Duration::from_secs(9)).unwrap(), 10);
        assert_eq!(lessor.expired(start + Duration::from_secs(18)), vec![2]);
        assert_eq!(lessor.expired(start + Duration::from_secs(19)), vec![2, 1]);
        assert_eq!(lessor.get(1).unwrap().remaining(start + Duration::from_millis(9_500)), 9);
    }

    #[test]
    fn an_expired_lease_cannot_be_renewed() {
        let start = Instant::now();
        let mut lessor = Lessor::default();
        lessor.grant(1, 5, start);
        assert!(matches!(lessor.renew(1, start + Duration::from_secs(6)), Err(StoreError::LeaseNotFound)));
        assert!(matches!(lessor.renew(9, start), Err(StoreError::LeaseNotFound)));
    }

    #[test]
    fn revoking_returns_the_attached_keys() {
        let start = Instant::now();
        let mut lessor = Lessor::default();
        lessor.grant(1, 5, start);
        lessor.attach(1, Bytes::from_static(b"a"));
        lessor.attach(1, Bytes::from_static(b"b"));
        lessor.detach(1, b"a");
        let lease = lessor.revoke(1).unwrap();
        assert_eq!(lease.keys.into_iter().collect::<Vec<_>>(), vec![Bytes::from_static(b"b")]);
        assert!(matches!(lessor.revoke(1), Err(StoreError::LeaseNotFound)));
    }
}
