//! The collector's Prometheus counters, on the daemon's `/metrics`.
//!
//! Upstream counts only resource sync errors (`garbagecollector_controller_resources_sync_error_total`)
//! and leaves the rest to the work queues' metrics; Skiff counts what the collector did, which is
//! what a reader watching a cascade wants to see move.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, Opts};

fn register(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    prometheus::default_registry().register(Box::new(counter.clone())).expect("metric names are unique");
    counter
}

/// Objects deleted, by `propagationPolicy`.
pub static DELETED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        "garbagecollector_deleted_total",
        "objects the garbage collector deleted, by propagation policy",
        &["propagation"],
    )
});

/// Owner references removed: `dangling` (the owner is gone, others remain) or `orphan`.
pub static OWNER_REFERENCES_REMOVED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        "garbagecollector_owner_references_removed_total",
        "owner references the garbage collector removed, by why (dangling, orphan)",
        &["reason"],
    )
});

/// `orphan` and `foregroundDeletion` finalizers removed, which lets their owners go.
pub static FINALIZERS_REMOVED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        "garbagecollector_finalizers_removed_total",
        "finalizers the garbage collector removed, by finalizer",
        &["finalizer"],
    )
});

/// Attempts that failed and were requeued with back-off, by queue.
pub static RETRIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register("garbagecollector_retries_total", "attempts that failed and will be retried, by queue", &["queue"])
});

/// Registers every counter now, so that `/metrics` shows them at zero before the first cascade.
pub fn register_all() {
    for counter in [&DELETED, &OWNER_REFERENCES_REMOVED, &FINALIZERS_REMOVED, &RETRIES] {
        LazyLock::force(counter);
    }
}
