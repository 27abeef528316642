//! The lease expiry loop: revoke leases whose time is up.
//!
//! Mirrors etcd `server/lease/lessor.go` (`runLoop`, `revokeExpiredLeases`) and the server side
//! that turns expired leases into revoke proposals. A revoke goes through the committer like any
//! write, so an expired lease's keys disappear in one transaction, with DELETE events for the
//! watchers, and only once that is on disk.
//!
//! The loop sleeps until the next lease is due (at most [`MAX_SLEEP`]), and is woken early when
//! a lease is granted, since the new one may be due first.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::StoreError;
use crate::store::Store;

/// The longest the loop sleeps without looking.
const MAX_SLEEP: Duration = Duration::from_secs(60);

pub async fn expiry_loop(store: Store, shutdown: CancellationToken) {
    loop {
        let (expired, next) = {
            let lessor = store.shared().lessor.lock();
            let now = Instant::now();
            (lessor.expired(now), lessor.next_expiry())
        };
        for id in expired {
            match store.lease_revoke(id).await {
                Ok(revision) => {
                    tracing::info!(lease = format!("{id:016x}"), revision, "lease expired; its keys are deleted")
                }
                // Revoked by a client in the meantime.
                Err(StoreError::LeaseNotFound) => {}
                Err(err) => {
                    tracing::error!(cause = %err, lease = format!("{id:016x}"), "cannot revoke an expired lease");
                    return;
                }
            }
        }
        let wake = next.unwrap_or_else(|| Instant::now() + MAX_SLEEP).min(Instant::now() + MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = store.shared().lease_changed.notified() => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
