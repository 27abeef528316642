//! The Deployment controller: a Deployment's pod template becomes ReplicaSets, one per
//! template, scaled against each other to roll from the old template to the new.
//!
//! Mirrors `pkg/controller/deployment/deployment_controller.go` (Kubernetes 1.31). One file per
//! concern, as upstream:
//!
//! | file                 | upstream                                  | what                                   |
//! |----------------------|-------------------------------------------|----------------------------------------|
//! | `mod.rs`             | `deployment_controller.go`                | `sync_deployment`, claiming ReplicaSets, event mapping |
//! | `sync.rs`            | `sync.go`                                 | scaling, paused Deployments, clean-up, status |
//! | `new_replica_set.rs` | `sync.go` (`getNewReplicaSet`)            | finding or creating the new ReplicaSet, revisions |
//! | `rolling.rs`         | `rolling.go`                              | RollingUpdate                          |
//! | `recreate.rs`        | `recreate.go`                             | Recreate                               |
//! | `progress.rs`        | `progress.go`                             | Progressing condition, deadline, requeue |
//! | `util.rs`, `annotations.rs`, `conditions.rs` | `util/deployment_util.go` | pure helpers                 |
//! | `hash.rs`            | `controller_utils.go` (`ComputeHash`)     | the pod-template hash                  |
//!
//! Driving it: reconcile keys of the Deployment cache with [`DeploymentController::sync_deployment`];
//! also feed it [`DeploymentController::replica_set_event`] and [`DeploymentController::pod_event`]
//! (a ReplicaSet's status changed → its Deployment's status may change). It asks for a requeue
//! only to check the progress deadline; everything else arrives as events.
//!
//! Why no expectations here (unlike the ReplicaSet controller): the new ReplicaSet's name is
//! deterministic (`<deployment>-<hash>`), so a second create after a stale read fails with
//! AlreadyExists; every update carries the `resourceVersion` it read, so one based on a stale
//! cache fails with Conflict. Either way the key is retried once the cache has caught up.
//!
//! Left out: server-side rollback (`rollback.go`, the `deprecated.deployment.rollback.to`
//! annotation of extensions/v1beta1; apps/v1's `kubectl rollout undo` is client-side and needs
//! nothing here), the `SelectorOverlap` handling of pre-1.6 clusters, metrics.

pub mod annotations;
pub mod conditions;
pub mod hash;
mod new_replica_set;
mod progress;
mod recreate;
mod rolling;
mod sync;
pub mod util;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use skiff_client::controller::Action;
use skiff_client::reflector::{ObjectKey, Store};
use skiff_client::watcher::Event;
use tracing::{debug, instrument};

use crate::client::{ApiError, DeploymentClient};
use crate::clock::Clock;
use crate::events::{self, EventRecorder, EventType};
use crate::fields;
use crate::owner::{self, Claim};
use crate::selector::{self, label_selector_as_selector, InvalidOperator};

/// The kind in the controller references it sets.
const CONTROLLER_KIND: &str = "Deployment";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("deployment {deployment} has an invalid label selector")]
    InvalidSelector {
        deployment: String,
        #[source]
        source: InvalidOperator,
    },
    #[error("deployment {deployment}: {source}")]
    InvalidRollingUpdate {
        deployment: String,
        #[source]
        source: util::InvalidIntOrPercent,
    },
    #[error("deployment {deployment}: unexpected strategy type {strategy:?}")]
    UnexpectedStrategy { deployment: String, strategy: String },
    #[error("creating replica set {name}")]
    CreateReplicaSet {
        name: String,
        #[source]
        source: ApiError,
    },
    #[error("replica set {name} exists but is not in the cache yet")]
    NewReplicaSetNotCached { name: String },
    #[error("replica set {name} exists with another template: collisionCount raised to {collision_count}")]
    HashCollision { name: String, collision_count: i32 },
    #[error("updating replica set {name}")]
    UpdateReplicaSet {
        name: String,
        #[source]
        source: ApiError,
    },
    #[error("deleting replica set {name}")]
    DeleteReplicaSet {
        name: String,
        #[source]
        source: ApiError,
    },
    #[error("adopting or releasing replica set {name}")]
    ClaimReplicaSet {
        name: String,
        #[source]
        source: ApiError,
    },
    #[error("refusing to scale replica set {name} down from {from} to {to}")]
    InvalidScaleDown { name: String, from: i32, to: i32 },
    #[error("deployment {deployment} is gone or being deleted; not adopting")]
    CannotAdopt { deployment: String },
    #[error("updating the status of deployment {deployment}")]
    UpdateStatus {
        deployment: String,
        #[source]
        source: ApiError,
    },
}

/// The Deployment controller. Cheap to share behind an `Arc`; keeps no state of its own
/// between syncs (everything is read back from the caches).
pub struct DeploymentController {
    deployments: Store<Deployment>,
    replica_sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    client: Arc<dyn DeploymentClient>,
    recorder: Arc<dyn EventRecorder>,
    clock: Arc<dyn Clock>,
}

/// The pods of each ReplicaSet of a Deployment, by ReplicaSet uid.
type PodMap = BTreeMap<String, Vec<Arc<Pod>>>;

impl DeploymentController {
    pub fn new(
        deployments: Store<Deployment>,
        replica_sets: Store<ReplicaSet>,
        pods: Store<Pod>,
        client: Arc<dyn DeploymentClient>,
        recorder: Arc<dyn EventRecorder>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        DeploymentController { deployments, replica_sets, pods, client, recorder, clock }
    }

    /// `syncDeployment`: brings one Deployment's ReplicaSets, and its status, up to date.
    ///
    /// 1. Not in the cache: deleted; nothing to do (the garbage collector removes its ReplicaSets).
    /// 2. A selector that selects everything is refused (an event, and the generation observed).
    /// 3. Claim its ReplicaSets (adopt matching orphans, release the ones that stopped matching)
    ///    and group their pods.
    /// 4. Being deleted: only the status is updated.
    /// 5. Paused or resumed: record it in the Progressing condition.
    /// 6. Paused, or only `replicas` changed: scale, proportionally (`sync`).
    /// 7. Otherwise roll out, by the strategy.
    #[instrument(skip(self), fields(key = %key))]
    pub async fn sync_deployment(&self, key: &ObjectKey) -> Result<Action, Error> {
        let Some(cached) = self.deployments.get(key) else {
            debug!("deployment has been deleted");
            return Ok(Action::Done);
        };
        // The cache's copy is shared: work on our own.
        let mut d = (*cached).clone();

        let everything = d.spec.as_ref().is_none_or(|s| selector::selects_everything(&s.selector));
        if everything {
            self.event(
                &d,
                EventType::Warning,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            );
            let generation = fields::generation(&d.metadata);
            if fields::status(&d).observed_generation.unwrap_or(0) < generation {
                fields::status_mut(&mut d).observed_generation = Some(generation);
                // As upstream, a failure here does not matter: the next sync tries again.
                let _ = self.client.update_deployment_status(&d).await;
            }
            return Ok(Action::Done);
        }

        let mut rs_list = self.get_replica_sets_for_deployment(&d).await?;
        let pod_map = self.get_pod_map_for_deployment(&d, &rs_list)?;

        if d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(&mut d, &mut rs_list).await;
        }

        self.check_paused_conditions(&mut d).await?;

        if fields::paused(&d) {
            return self.sync(&mut d, &mut rs_list).await;
        }

        if self.is_scaling_event(&mut d, &mut rs_list).await? {
            return self.sync(&mut d, &mut rs_list).await;
        }

        match fields::strategy_type(&d) {
            "Recreate" => self.rollout_recreate(&mut d, &mut rs_list, &pod_map).await,
            "RollingUpdate" => self.rollout_rolling(&mut d, &mut rs_list).await,
            other => Err(Error::UnexpectedStrategy { deployment: key.to_string(), strategy: other.into() }),
        }
    }

    /// `getReplicaSetsForDeployment`: the ReplicaSets this Deployment controls, after adopting
    /// the orphans its selector matches and releasing its own that it no longer matches.
    async fn get_replica_sets_for_deployment(&self, d: &Deployment) -> Result<Vec<ReplicaSet>, Error> {
        let name = fields::name(&d.metadata);
        let spec_selector = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        let selector = label_selector_as_selector(&spec_selector)
            .map_err(|source| Error::InvalidSelector { deployment: name.into(), source })?;
        // Checked once, before the first adoption.
        let mut rechecked = false;
        let mut claimed = Vec::new();
        for rs in self.replica_sets.in_namespace(fields::namespace(&d.metadata)) {
            let matches = selector::matches(&selector, &rs.metadata.labels);
            let references = match owner::claim(&d.metadata, &rs.metadata, matches) {
                Claim::Owned => {
                    claimed.push((*rs).clone());
                    continue;
                }
                Claim::Ignore => continue,
                Claim::Adopt => {
                    if !rechecked {
                        self.recheck_deletion(d).await?;
                        rechecked = true;
                    }
                    owner::adopted(&rs.metadata, owner::new_controller_ref(&d.metadata, CONTROLLER_KIND))
                }
                Claim::Release => owner::released(&rs.metadata, fields::uid(&d.metadata)),
            };
            let adopting = owner::controller_of(&rs.metadata).is_none();
            match self.client.patch_replica_set_owner_references(&rs, references).await {
                Ok(patched) if adopting => claimed.push(patched),
                Ok(_) => {}
                // Gone meanwhile: nothing to claim.
                Err(err) if err.is_not_found() => {}
                Err(source) => return Err(Error::ClaimReplicaSet { name: fields::name(&rs.metadata).into(), source }),
            }
        }
        Ok(claimed)
    }

    /// `RecheckDeletionTimestamp`: before adopting, an uncached read that the Deployment still
    /// exists (with the same uid) and is not being deleted.
    async fn recheck_deletion(&self, d: &Deployment) -> Result<(), Error> {
        let cannot = || Error::CannotAdopt { deployment: fields::name(&d.metadata).into() };
        let fresh = self
            .client
            .get_deployment(fields::namespace(&d.metadata), fields::name(&d.metadata))
            .await
            .map_err(|_| cannot())?;
        if fresh.metadata.uid != d.metadata.uid || fresh.metadata.deletion_timestamp.is_some() {
            return Err(cannot());
        }
        Ok(())
    }

    /// `getPodMapForDeployment`: the Deployment's pods grouped by the ReplicaSet controlling
    /// them (a ReplicaSet without pods maps to an empty list).
    fn get_pod_map_for_deployment(&self, d: &Deployment, rs_list: &[ReplicaSet]) -> Result<PodMap, Error> {
        let spec_selector = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        let selector = label_selector_as_selector(&spec_selector)
            .map_err(|source| Error::InvalidSelector { deployment: fields::name(&d.metadata).into(), source })?;
        let mut pod_map: PodMap =
            rs_list.iter().map(|rs| (fields::uid(&rs.metadata).to_string(), Vec::new())).collect();
        for pod in self.pods.in_namespace(fields::namespace(&d.metadata)) {
            if !selector::matches(&selector, &pod.metadata.labels) {
                continue;
            }
            if let Some(pods) = owner::controller_of(&pod.metadata).and_then(|r| pod_map.get_mut(&r.uid)) {
                pods.push(pod.clone());
            }
        }
        Ok(pod_map)
    }

    fn event(&self, d: &Deployment, type_: EventType, reason: &str, message: String) {
        events::record(self.recorder.as_ref(), CONTROLLER_KIND, &d.metadata, type_, reason, message);
    }

    // ---- mapping other kinds' events to Deployment keys ----

    /// The Deployments to sync when a ReplicaSet changes: its controller, or, for an orphan,
    /// every Deployment whose selector matches it (one of them may adopt it).
    pub fn replica_set_event(&self, event: &Event<ReplicaSet>) -> Vec<ObjectKey> {
        match event {
            Event::Applied(rs) | Event::Deleted(rs) => self.deployments_for_replica_set(rs),
            Event::Restarted(all) => {
                let mut keys: Vec<ObjectKey> = all.iter().flat_map(|rs| self.deployments_for_replica_set(rs)).collect();
                keys.sort();
                keys.dedup();
                keys
            }
        }
    }

    /// The Deployment to sync when a pod is deleted: a Recreate Deployment waits for its old
    /// pods to be gone before it creates new ones.
    pub fn pod_event(&self, event: &Event<Pod>) -> Vec<ObjectKey> {
        let Event::Deleted(pod) = event else { return Vec::new() };
        let Some(reference) = owner::controller_of(&pod.metadata).filter(|r| r.kind == "ReplicaSet") else {
            return Vec::new();
        };
        let rs_key = ObjectKey { namespace: pod.metadata.namespace.clone(), name: reference.name.clone() };
        let Some(rs) = self.replica_sets.get(&rs_key).filter(|rs| fields::uid(&rs.metadata) == reference.uid) else {
            return Vec::new();
        };
        self.deployments_for_replica_set(&rs)
            .into_iter()
            .filter(|key| self.deployments.get(key).is_some_and(|d| fields::strategy_type(&d) == "Recreate"))
            .collect()
    }

    fn deployments_for_replica_set(&self, rs: &ReplicaSet) -> Vec<ObjectKey> {
        let namespace = rs.metadata.namespace.clone();
        if let Some(reference) = owner::controller_of(&rs.metadata) {
            if reference.kind != CONTROLLER_KIND {
                return Vec::new();
            }
            let key = ObjectKey { namespace, name: reference.name.clone() };
            return match self.deployments.get(&key) {
                Some(d) if fields::uid(&d.metadata) == reference.uid => vec![key],
                _ => Vec::new(),
            };
        }
        self.deployments
            .in_namespace(namespace.as_deref().unwrap_or_default())
            .into_iter()
            .filter(|d| {
                let spec_selector = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
                !selector::selects_everything(&spec_selector)
                    && label_selector_as_selector(&spec_selector)
                        .is_ok_and(|s| selector::matches(&s, &rs.metadata.labels))
            })
            .map(|d| ObjectKey { namespace: namespace.clone(), name: fields::name(&d.metadata).into() })
            .collect()
    }
}
