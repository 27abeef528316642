//! The `attempt_to_orphan` queue's workers: an owner deleted with `propagationPolicy: Orphan`.
//!
//! Mirrors `attemptToOrphanWorker` and `orphanDependents`
//! (`pkg/controller/garbagecollector/garbagecollector.go`):
//!
//! 1. Take the owner's dependents from the graph.
//! 2. Remove the reference to the owner from each of them, all at once (a dependent already
//!    gone, or without the reference, is fine).
//! 3. Then, and only if every dependent is done, remove the owner's `orphan` finalizer: the API
//!    server deletes the owner, and its former dependents stay.
//!
//! Any failure requeues the owner; steps 2 and 3 are safe to repeat.

use std::sync::Arc;

use futures::future::join_all;
use tracing::{info, warn};

use super::graph::{Node, ObjectReference};
use super::operations::uid_of;
use super::patch::delete_owner_ref_json_patch;
use super::{causes, metrics, Error, GarbageCollector, WorkQueueItemAction, ORPHAN_FINALIZER};

impl GarbageCollector {
    pub(super) async fn run_attempt_to_orphan_worker(self: Arc<Self>) {
        while let Some(uid) = self.attempt_to_orphan.get().await {
            match self.attempt_to_orphan_worker(&uid).await {
                WorkQueueItemAction::Forget => self.attempt_to_orphan.forget(&uid),
                WorkQueueItemAction::Requeue => {
                    metrics::RETRIES.with_label_values(&["attempt_to_orphan"]).inc();
                    self.attempt_to_orphan.add_rate_limited(uid.clone());
                }
            }
            self.attempt_to_orphan.done(&uid);
        }
    }

    /// One owner of the queue (see the module doc).
    pub async fn attempt_to_orphan_worker(&self, uid: &str) -> WorkQueueItemAction {
        let (owner, dependents) = {
            let graph = self.graph.lock();
            let Some(owner) = graph.node(uid) else { return WorkQueueItemAction::Forget };
            (owner.identity.clone(), graph.dependents(uid))
        };
        if let Err(err) = self.orphan_dependents(&owner, &dependents).await {
            warn!(owner = %owner, cause = causes(&err), "orphaning dependents failed; retrying");
            return WorkQueueItemAction::Requeue;
        }
        if let Err(err) = self.remove_finalizer(&owner, ORPHAN_FINALIZER).await {
            warn!(owner = %owner, cause = causes(&err), "removing the orphan finalizer failed; retrying");
            return WorkQueueItemAction::Requeue;
        }
        WorkQueueItemAction::Forget
    }

    /// Removes the reference to `owner` from every one of `dependents`.
    async fn orphan_dependents(&self, owner: &ObjectReference, dependents: &[Node]) -> Result<(), Error> {
        let results = join_all(dependents.iter().map(|d| self.orphan_dependent(owner, &d.identity))).await;
        let mut errors: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
        if errors.is_empty() {
            if !dependents.is_empty() {
                info!(owner = %owner, dependents = dependents.len(), "orphaned the dependents");
            }
            return Ok(());
        }
        Err(Error::OrphanDependents {
            owner: owner.to_string(),
            failed: errors.len(),
            first: Box::new(errors.remove(0)),
        })
    }

    async fn orphan_dependent(&self, owner: &ObjectReference, dependent: &ObjectReference) -> Result<(), Error> {
        let latest = match self.get_object(dependent).await {
            Err(err) if err.is_not_found() => return Ok(()),
            other => other?,
        };
        if uid_of(&latest) != dependent.uid {
            return Ok(());
        }
        let Some(patch) = delete_owner_ref_json_patch(&latest, std::slice::from_ref(&owner.uid)) else { return Ok(()) };
        match self.patch_object(dependent, &patch).await {
            Err(err) if err.is_not_found() => Ok(()),
            Err(err) => Err(err),
            Ok(_) => {
                metrics::OWNER_REFERENCES_REMOVED.with_label_values(&["orphan"]).inc();
                Ok(())
            }
        }
    }
}
