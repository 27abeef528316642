//! The ReplicaSet controller: keeps `replicas` pods running from a ReplicaSet's template.
//!
//! Mirrors `pkg/controller/replicaset/replica_set.go` (Kubernetes 1.31):
//!
//! | file          | upstream                                          | what                      |
//! |---------------|---------------------------------------------------|---------------------------|
//! | `mod.rs`      | `syncReplicaSet`, `claimPods`                     | one sync, top-down        |
//! | `manage.rs`   | `manageReplicas`, `slowStartBatch`, `getPodsToDelete` | creating and deleting pods |
//! | `status.rs`   | `replica_set_utils.go`                            | counts, `ReplicaFailure`  |
//! | `observe.rs`  | the pod event handlers, `UIDTrackingControllerExpectations` | expectations, keys |
//!
//! `sync_replica_set(key)`:
//!
//! 1. Not in the cache: deleted; forget its expectations.
//! 2. Claim its pods (adopt matching orphans, release its pods that stopped matching); only
//!    active pods count (not finished, not being deleted).
//! 3. If its expectations are met (every pod it created or deleted last time has been seen in
//!    the cache) and it is not being deleted: create or delete the difference
//!    (`manage_replicas`). If not met, the cache is behind its own writes: counting now would
//!    create or delete twice.
//! 4. Write the status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
//!    observedGeneration, and a `ReplicaFailure` condition if pods could not be created or deleted.
//! 5. If a pod is ready but not yet available (`minReadySeconds`), ask to look again when it will
//!    be: nothing else would wake the controller then.
//!
//! Driving it: reconcile keys of the ReplicaSet cache with [`ReplicaSetController::sync_replica_set`],
//! and feed every pod event through [`ReplicaSetController::pod_event`], which records what the
//! expectations wait for and says which ReplicaSets to sync.
//!
//! Left out: the `--concurrent-replicaset-syncs` and burst flags (the burst is upstream's default,
//! 500 pods a sync), `LogarithmicScaleDown` (see `pods.rs`), the retries of a failed status write
//! inside one sync (the work queue retries the key instead), terminating-pod counts (1.33),
//! metrics.

mod manage;
mod observe;
mod status;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use skiff_api::selector::LabelSelector as Selector;
use skiff_client::controller::Action;
use skiff_client::reflector::{ObjectKey, Store};
use tracing::{debug, instrument, warn};

use crate::claim_pods::{self, ClaimError};
use crate::client::{ApiError, PodControl, ReplicaSetClient};
use crate::clock::Clock;
use crate::events::{self, EventRecorder, EventType};
use crate::fields;
use crate::owner;
use crate::pod_expectations::PodExpectations;
use crate::pods::filter_active_pods;
use crate::selector::label_selector_as_selector;

pub use manage::slow_start_batch;

/// The kind in the controller references it sets.
const CONTROLLER_KIND: &str = "ReplicaSet";

/// At most this many pods are created or deleted in one sync (upstream's `BurstReplicas`).
const BURST_REPLICAS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("creating pods for replica set {replica_set}")]
    CreatePods {
        replica_set: String,
        #[source]
        source: ApiError,
    },
    #[error("deleting pods of replica set {replica_set}")]
    DeletePods {
        replica_set: String,
        #[source]
        source: ApiError,
    },
    #[error("adopting or releasing pod {pod}")]
    ClaimPod {
        pod: String,
        #[source]
        source: ApiError,
    },
    #[error("replica set {replica_set} is gone or being deleted; not adopting")]
    CannotAdopt { replica_set: String },
    #[error("updating the status of replica set {replica_set}")]
    UpdateStatus {
        replica_set: String,
        #[source]
        source: ApiError,
    },
}

impl Error {
    /// The API server's message, for the `ReplicaFailure` condition (as upstream writes it).
    fn api_message(&self) -> String {
        match self {
            Error::CreatePods { source, .. } | Error::DeletePods { source, .. } => crate::client::message(source),
            other => other.to_string(),
        }
    }
}

/// The ReplicaSet controller. Share it behind an `Arc`: its expectations must be the same
/// for `sync_replica_set` and `pod_event`.
pub struct ReplicaSetController {
    replica_sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    client: Arc<dyn ReplicaSetClient>,
    recorder: Arc<dyn EventRecorder>,
    clock: Arc<dyn Clock>,
    /// What each ReplicaSet waits to see in the cache before it counts pods again.
    expectations: PodExpectations,
}

impl ReplicaSetController {
    pub fn new(
        replica_sets: Store<ReplicaSet>,
        pods: Store<Pod>,
        client: Arc<dyn ReplicaSetClient>,
        recorder: Arc<dyn EventRecorder>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ReplicaSetController { replica_sets, pods, client, recorder, clock, expectations: PodExpectations::default() }
    }

    /// `syncReplicaSet` (see the module doc).
    #[instrument(skip(self), fields(key = %key))]
    pub async fn sync_replica_set(&self, key: &ObjectKey) -> Result<Action, Error> {
        let Some(rs) = self.replica_sets.get(key) else {
            debug!("replica set has been deleted");
            self.expectations.forget(key);
            return Ok(Action::Done);
        };
        let rs_needs_sync = self.expectations.satisfied(key);
        let spec_selector = rs.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        let selector = match label_selector_as_selector(&spec_selector) {
            Ok(selector) => selector,
            Err(err) => {
                // Validation refuses it; nothing to retry.
                warn!(cause = %err, "invalid selector");
                return Ok(Action::Done);
            }
        };

        let active_pods = filter_active_pods(self.pods.in_namespace(fields::namespace(&rs.metadata)));
        let filtered_pods = self.claim_pods(&rs, &selector, active_pods).await?;

        let manage_replicas_err = match rs_needs_sync && rs.metadata.deletion_timestamp.is_none() {
            true => self.manage_replicas(&filtered_pods, &rs).await.err(),
            false => None,
        };
        let now = self.clock.now();
        let new_status = status::calculate_status(&rs, &filtered_pods, manage_replicas_err.as_ref(), &now);
        let updated = self.update_replica_set_status(&rs, new_status).await?;
        if let Some(err) = manage_replicas_err {
            return Err(err);
        }
        // A last line of defence upstream, exact here: look again when the next ready pod
        // becomes available.
        Ok(match status::next_availability(&updated, &filtered_pods, &now) {
            Some(after) => Action::RequeueAfter(after),
            None => Action::Done,
        })
    }

    /// `claimPods`: the pods this ReplicaSet controls, after adopting and releasing.
    async fn claim_pods(
        &self,
        rs: &ReplicaSet,
        selector: &Selector,
        pods: Vec<Arc<Pod>>,
    ) -> Result<Vec<Arc<Pod>>, Error> {
        let meta = &rs.metadata;
        let current = || async {
            let fresh = self.client.get_replica_set(fields::namespace(meta), fields::name(meta)).await;
            claim_pods::still_current(meta, fresh.as_ref().map(|o| &o.metadata))
        };
        let control: &dyn PodControl = self.client.as_ref();
        claim_pods::claim_pods(control, meta, owner::new_controller_ref(meta, CONTROLLER_KIND), selector, pods, current)
            .await
            .map_err(|err| match err {
                ClaimError::CannotAdopt => Error::CannotAdopt { replica_set: fields::name(meta).into() },
                ClaimError::Patch { pod, source } => Error::ClaimPod { pod, source },
            })
    }

    fn event(&self, rs: &ReplicaSet, type_: EventType, reason: &str, message: String) {
        events::record(self.recorder.as_ref(), CONTROLLER_KIND, &rs.metadata, type_, reason, message);
    }
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectKey {
    ObjectKey { namespace: meta.namespace.clone(), name: fields::name(meta).into() }
}
