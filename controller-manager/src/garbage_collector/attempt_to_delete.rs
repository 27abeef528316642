//! The `attempt_to_delete` queue's workers: should this object go, and how?
//!
//! Mirrors `attemptToDeleteWorker`, `attemptToDeleteItem`, `isDangling` and
//! `processDeletingDependentsItem` (`pkg/controller/garbagecollector/garbagecollector.go`).
//! `attempt_to_delete_item(item)`:
//!
//! 1. Being deleted, and not waiting for its own dependents: nothing to do; its final deletion
//!    will queue its dependents.
//! 2. Read it live. Not found, or another uid under its name: tell the graph builder (a virtual
//!    delete), which forgets it and queues its dependents.
//! 3. Being deleted in the foreground (as the graph or the live object says): if no dependent
//!    blocks it any more, remove its `foregroundDeletion` finalizer (the API server then deletes
//!    it); else queue the blocking dependents. Being deleted otherwise, live: as 1 (the graph has
//!    not heard yet; deleting it again would change nothing).
//! 4. No owner references: nothing to do.
//! 5. Look every owner up live (unless the absent owner cache knows it is gone) and classify the
//!    references: solid, dangling, waiting for dependents deletion (`classify.rs`).
//! 6. Do what `decide` says: keep it, patch the gone owners out of its references, or delete
//!    it (with uid and resourceVersion preconditions).
//!
//! A virtual node whose object turned out to exist is requeued until an informer observes it,
//! so that a node made up from a reference is never left in the graph for good.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use tracing::{debug, instrument, warn};

use super::classify::{classify_references, decide, Classified, Decision, Item};
use super::graph::{Node, ObjectReference};
use super::operations::{api_resource, metadata_of, uid_of};
use super::patch::{delete_owner_ref_json_patch, unblock_owner_references_json_patch};
use super::{causes, metrics, Error, GarbageCollector, WorkQueueItemAction, FOREGROUND_FINALIZER};

/// How an attempt ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempted {
    Done,
    /// The object does not exist; the graph builder was told (upstream's
    /// `enqueuedVirtualDeleteEventErr`, an outcome rather than an error here).
    VirtualDeleteEnqueued,
}

impl GarbageCollector {
    pub(super) async fn run_attempt_to_delete_worker(self: Arc<Self>) {
        while let Some(uid) = self.attempt_to_delete.get().await {
            match self.attempt_to_delete_worker(&uid).await {
                WorkQueueItemAction::Forget => self.attempt_to_delete.forget(&uid),
                WorkQueueItemAction::Requeue => {
                    metrics::RETRIES.with_label_values(&["attempt_to_delete"]).inc();
                    self.attempt_to_delete.add_rate_limited(uid.clone());
                }
            }
            self.attempt_to_delete.done(&uid);
        }
    }

    /// One uid of the queue: the node as the graph has it now, attempted.
    pub async fn attempt_to_delete_worker(&self, uid: &str) -> WorkQueueItemAction {
        let Some(item) = self.graph.lock().node(uid).cloned() else {
            debug!(uid, "item no longer in the graph");
            return WorkQueueItemAction::Forget;
        };
        match self.attempt_to_delete_item(&item).await {
            Ok(Attempted::VirtualDeleteEnqueued) => WorkQueueItemAction::Forget,
            Ok(Attempted::Done) if !item.observed => {
                debug!(item = %item.identity, "item exists but has not been observed by an informer yet");
                WorkQueueItemAction::Requeue
            }
            Ok(Attempted::Done) => WorkQueueItemAction::Forget,
            Err(err) if err.is_permanent() => {
                warn!(item = %item.identity, cause = causes(&err), "cannot collect item; giving up on it");
                WorkQueueItemAction::Forget
            }
            Err(err) => {
                warn!(item = %item.identity, cause = causes(&err), "error syncing item; retrying");
                WorkQueueItemAction::Requeue
            }
        }
    }

    /// See the module doc.
    #[instrument(skip_all, fields(item = %item.identity, virtual = !item.observed))]
    pub(super) async fn attempt_to_delete_item(&self, item: &Node) -> Result<Attempted, Error> {
        if item.being_deleted && !item.deleting_dependents {
            debug!("being deleted; waiting for its final deletion");
            return Ok(Attempted::Done);
        }
        let latest = match self.get_object(&item.identity).await {
            Err(err) if err.is_not_found() => return Ok(self.virtual_delete(&item.identity)),
            other => other?,
        };
        if uid_of(&latest) != item.identity.uid {
            debug!(found = uid_of(&latest), "another object has the name now");
            return Ok(self.virtual_delete(&item.identity));
        }
        let meta = metadata_of(&latest, &item.identity)?;
        let live_deleting_dependents =
            meta.deletion_timestamp.is_some() && meta.finalizers.iter().flatten().any(|f| f == FOREGROUND_FINALIZER);
        if item.deleting_dependents || live_deleting_dependents {
            self.process_deleting_dependents_item(item).await?;
            return Ok(Attempted::Done);
        }
        if meta.deletion_timestamp.is_some() {
            debug!("being deleted (the graph has not heard yet); waiting for its final deletion");
            return Ok(Attempted::Done);
        }
        let owner_references = meta.owner_references.clone().unwrap_or_default();
        if owner_references.is_empty() {
            debug!("no owners");
            return Ok(Attempted::Done);
        }
        let classified = self.classify_owners(&item.identity, &owner_references).await?;
        debug!(
            solid = classified.solid.len(),
            dangling = classified.dangling.len(),
            waiting_for_dependents_deletion = classified.waiting_for_dependents_deletion.len(),
            "classified the owner references"
        );
        let dependents = self.graph.lock().dependents(&item.identity.uid);
        let state = Item {
            finalizers: meta.finalizers.clone().unwrap_or_default(),
            dependents: dependents.len(),
            a_dependent_is_deleting_dependents: dependents.iter().any(|d| d.deleting_dependents),
        };
        let outcome = match decide(&classified, &state) {
            Decision::Keep => {
                debug!("at least one owner exists; keeping it");
                return Ok(Attempted::Done);
            }
            Decision::RemoveReferences(owner_uids) => {
                let Some(patch) = delete_owner_ref_json_patch(&latest, &owner_uids) else { return Ok(Attempted::Done) };
                let patched = self.patch_object(&item.identity, &patch).await;
                if patched.is_ok() {
                    metrics::OWNER_REFERENCES_REMOVED.with_label_values(&["dangling"]).inc_by(owner_uids.len() as u64);
                    tracing::info!(owners = ?owner_uids, "removed the references to owners that are gone or going");
                }
                patched.map(|_| ())
            }
            Decision::Delete { propagation, unblock_first } => {
                let mut latest = latest;
                if unblock_first {
                    // An owner and this dependent both wait for their dependents: unblock this
                    // side so the owner's wait can end. (A coarse cycle check, as upstream's.)
                    if let Some(patch) = unblock_owner_references_json_patch(&latest) {
                        latest = self.patch_object(&item.identity, &patch).await?;
                    }
                }
                self.delete_object(&item.identity, &latest, propagation).await
            }
        };
        match outcome {
            Err(err) if err.is_not_found() => Ok(self.virtual_delete(&item.identity)),
            other => other.map(|_| Attempted::Done),
        }
    }

    fn virtual_delete(&self, identity: &ObjectReference) -> Attempted {
        self.enqueue_virtual_delete_event(identity);
        Attempted::VirtualDeleteEnqueued
    }

    /// Every reference of `item`, its owner looked up live (upstream's `classifyReferences`).
    async fn classify_owners(
        &self,
        item: &ObjectReference,
        references: &[OwnerReference],
    ) -> Result<Classified, Error> {
        let mut looked_up = Vec::with_capacity(references.len());
        for reference in references {
            looked_up.push((reference.clone(), self.is_dangling(reference, item).await?));
        }
        Ok(classify_references(looked_up))
    }

    /// The live metadata of the owner `reference` names, `None` if it does not exist (upstream's
    /// `isDangling`, which answers both at once). A namespaced owner is looked for in the
    /// dependent's namespace, since that is the only place it may live.
    async fn is_dangling(
        &self,
        reference: &OwnerReference,
        item: &ObjectReference,
    ) -> Result<Option<ObjectMeta>, Error> {
        let resource = api_resource(&reference.api_version, &reference.kind)?;
        let namespace = match (&item.namespace, resource.namespaced) {
            (_, false) => None,
            (Some(namespace), true) => Some(namespace.as_str()),
            (None, true) => {
                return Err(Error::NamespacedOwnerOfClusterScopedObject {
                    item: item.to_string(),
                    owner: ObjectReference::of_owner(reference, None).to_string(),
                })
            }
        };
        if self.absent_owner_cache.has(namespace, &reference.uid) {
            debug!(owner = %reference.name, "the owner is known to be gone");
            return Ok(None);
        }
        let owner = match self.client.get_object(resource, namespace, &reference.name).await {
            Ok(owner) => owner,
            Err(err) if err.is_not_found() => {
                self.absent_owner_cache.add(namespace.map(str::to_string), reference.uid.clone());
                return Ok(None);
            }
            Err(source) => {
                let owner = ObjectReference::of_owner(reference, namespace).to_string();
                return Err(Error::GetOwner { item: item.to_string(), owner, source });
            }
        };
        if uid_of(&owner) != reference.uid {
            // The name belongs to a new object: the owner named is gone.
            self.absent_owner_cache.add(namespace.map(str::to_string), reference.uid.clone());
            return Ok(None);
        }
        Ok(Some(metadata_of(&owner, &ObjectReference::of_owner(reference, namespace))?))
    }

    /// An owner waiting for its dependents: done waiting once none blocks it, else make sure the
    /// blocking ones are being looked at (upstream's `processDeletingDependentsItem`).
    async fn process_deleting_dependents_item(&self, item: &Node) -> Result<(), Error> {
        let blocking = self.graph.lock().blocking_dependents(&item.identity.uid);
        if blocking.is_empty() {
            debug!("no dependent blocks it any more");
            return self.remove_finalizer(&item.identity, FOREGROUND_FINALIZER).await;
        }
        for dependent in blocking.iter().filter(|d| !d.deleting_dependents) {
            debug!(dependent = %dependent.identity, "its owner is deleting dependents");
            self.attempt_to_delete.add(dependent.identity.uid.clone());
        }
        Ok(())
    }
}
