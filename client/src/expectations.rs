//! Expectations: a controller never creates or deletes twice because its cache lags behind its
//! own writes.
//!
//! Mirrors client-go's `ControllerExpectations` (kubernetes `pkg/controller/controller_utils.go`).
//! A ReplicaSet controller that creates 3 pods records "expect 3 creations" for the ReplicaSet's
//! key. Until its cache has seen those 3 pods arrive (each arrival calls
//! [`Expectations::creation_observed`]), a reconcile of that key must not count pods and create
//! more: the missing ones are on their way. Deletions likewise. A failed create lowers the count
//! ([`Expectations::lower`]), since that pod will never arrive.
//!
//! Expectations expire after 5 minutes, as upstream: a watch event lost for good must not wedge
//! the controller for ever.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// How long an expectation holds without being met (client-go's `ExpectationsTimeout`).
pub const TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy)]
struct Expected {
    creations: i64,
    deletions: i64,
    set_at: Instant,
}

/// Pending creations and deletions per controller key.
#[derive(Debug)]
pub struct Expectations<K> {
    expected: Mutex<HashMap<K, Expected>>,
}

impl<K: Eq + Hash + Clone> Default for Expectations<K> {
    fn default() -> Self {
        Expectations { expected: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash + Clone> Expectations<K> {
    /// Whether the controller may act on `key`: nothing is pending (or the wait timed out).
    pub fn satisfied(&self, key: &K) -> bool {
        match self.expected.lock().get(key) {
            None => true,
            Some(e) => (e.creations <= 0 && e.deletions <= 0) || e.set_at.elapsed() > TIMEOUT,
        }
    }

    /// Records that `creations` creates and `deletions` deletes are on their way, replacing what
    /// was expected before.
    pub fn expect(&self, key: K, creations: i64, deletions: i64) {
        self.expected.lock().insert(key, Expected { creations, deletions, set_at: Instant::now() });
    }

    /// The cache saw one of the expected objects arrive.
    pub fn creation_observed(&self, key: &K) {
        self.lower(key, 1, 0);
    }

    /// The cache saw one of the expected objects go.
    pub fn deletion_observed(&self, key: &K) {
        self.lower(key, 0, 1);
    }

    /// Expects fewer: observed, or a write that failed and will never be observed.
    pub fn lower(&self, key: &K, creations: i64, deletions: i64) {
        if let Some(e) = self.expected.lock().get_mut(key) {
            e.creations -= creations;
            e.deletions -= deletions;
        }
    }

    /// Forgets `key` (its object was deleted).
    pub fn forget(&self, key: &K) {
        self.expected.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_expected_is_satisfied() {
        let expectations: Expectations<&str> = Expectations::default();
        assert!(expectations.satisfied(&"default/web"));
    }

    #[test]
    fn creations_must_all_be_observed() {
        let expectations = Expectations::default();
        expectations.expect("rs", 3, 0);
        for seen in 1..=3 {
            assert!(!expectations.satisfied(&"rs"), "{seen} of 3 not yet seen");
            expectations.creation_observed(&"rs");
        }
        assert!(expectations.satisfied(&"rs"));
        expectations.creation_observed(&"rs");
        assert!(expectations.satisfied(&"rs"), "an extra observation does no harm");
    }

    #[test]
    fn a_failed_create_lowers_what_is_expected() {
        let expectations = Expectations::default();
        expectations.expect("rs", 2, 1);
        expectations.creation_observed(&"rs");
        expectations.lower(&"rs", 1, 0); // the second create failed
        assert!(!expectations.satisfied(&"rs"), "the deletion is still pending");
        expectations.deletion_observed(&"rs");
        assert!(expectations.satisfied(&"rs"));
        expectations.forget(&"rs");
        assert!(expectations.satisfied(&"rs"));
    }

    #[tokio::test(start_paused = true)]
    async fn expectations_time_out_after_five_minutes() {
        let expectations = Expectations::default();
        expectations.expect("rs", 1, 0);
        tokio::time::advance(Duration::from_secs(299)).await;
        assert!(!expectations.satisfied(&"rs"));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(expectations.satisfied(&"rs"), "a lost event does not wedge the controller");
    }
}
