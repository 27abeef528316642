//! Owners known not to exist, so that the many dependents of one deleted owner do not each
//! look it up again.
//!
//! Mirrors `pkg/controller/garbagecollector/uid_cache.go` (`ReferenceCache`, 500 entries). A uid
//! is never reused, so "gone" never goes stale; the bound only keeps memory in check. Keyed by
//! namespace and uid because a namespaced owner absent from one namespace says nothing about
//! another (a reference across namespaces is invalid, and must be found dangling there).
//!
//! Left out: upstream's least-recently-*used* order; the oldest entry goes first here.

use std::collections::{HashSet, VecDeque};

use parking_lot::Mutex;

/// How many absent owners are remembered (upstream's size).
const CAPACITY: usize = 500;

type Key = (Option<String>, String);

#[derive(Default)]
pub struct ReferenceCache {
    /// A set for lookups, a queue for the order of forgetting.
    entries: Mutex<(HashSet<Key>, VecDeque<Key>)>,
}

impl ReferenceCache {
    /// Remembers that the owner `uid` does not exist in `namespace` (`None`: cluster-scoped).
    pub fn add(&self, namespace: Option<String>, uid: String) {
        let mut entries = self.entries.lock();
        let (set, order) = &mut *entries;
        let key = (namespace, uid);
        if !set.insert(key.clone()) {
            return;
        }
        order.push_back(key);
        if order.len() > CAPACITY {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
    }

    pub fn has(&self, namespace: Option<&str>, uid: &str) -> bool {
        self.entries.lock().0.contains(&(namespace.map(str::to_string), uid.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_owner_is_remembered_per_namespace_and_the_oldest_is_forgotten_first() {
        let cache = ReferenceCache::default();
        cache.add(Some("a".into()), "u0".into());
        assert!(cache.has(Some("a"), "u0"));
        assert!(!cache.has(Some("b"), "u0"), "absent in a says nothing about b");
        for i in 1..=CAPACITY {
            cache.add(None, format!("u{i}"));
        }
        assert!(!cache.has(Some("a"), "u0"), "the oldest went to make room");
        assert!(cache.has(None, "u1") && cache.has(None, &format!("u{CAPACITY}")));
    }
}
