//! The expectations of a controller of pods, and what each pod event means for them.
//!
//! Mirrors `UIDTrackingControllerExpectations` of `pkg/controller/controller_utils.go` and the
//! pod handlers every pod-owning controller has upstream (`addPod`, `updatePod`, `deletePod` in
//! `replica_set.go` and `job_controller.go`), on top of `skiff_client::expectations`. The
//! ReplicaSet and Job controllers each hold one [`PodExpectations`].
//!
//! Skiff's watcher says `Applied` for both a new pod and a changed one; client-go's informer
//! tells `Add` from `Update`, and only an `Add` is a creation observed. So the tracker remembers
//! which pods it has seen (and which owner controlled each: a pod moved to another owner
//! concerns the old one too). Deletions are tracked by pod, as upstream, so that a pod seen
//! first with a `deletionTimestamp` and then gone counts once.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::Pod;
use parking_lot::Mutex;
use skiff_client::expectations::Expectations;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::Event;

use crate::fields;

/// One controller's expectations, keyed by its owners (ReplicaSets, Jobs).
#[derive(Default)]
pub struct PodExpectations {
    expectations: Expectations<ObjectKey>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per owner, the pods it deleted and has not yet seen go.
    deleting: HashMap<ObjectKey, HashSet<ObjectKey>>,
    /// Every pod seen, with the owner controlling it when last seen.
    known: HashMap<ObjectKey, Option<ObjectKey>>,
}

/// A pod's `namespace/name`.
fn pod_key(pod: &Pod) -> ObjectKey {
    ObjectKey { namespace: pod.metadata.namespace.clone(), name: fields::name(&pod.metadata).into() }
}

impl PodExpectations {
    /// Whether every pod `owner` created or deleted last time has been seen in the cache.
    pub fn satisfied(&self, owner: &ObjectKey) -> bool {
        self.expectations.satisfied(owner)
    }

    pub fn expect_creations(&self, owner: &ObjectKey, count: usize) {
        self.expectations.expect(owner.clone(), count as i64, 0);
    }

    /// Creations that will not happen after all (a failed batch).
    pub fn lower_creations(&self, owner: &ObjectKey, count: usize) {
        self.expectations.lower(owner, count as i64, 0);
    }

    pub fn expect_deletions(&self, owner: &ObjectKey, pods: Vec<ObjectKey>) {
        self.expectations.expect(owner.clone(), 0, pods.len() as i64);
        self.state.lock().deleting.insert(owner.clone(), pods.into_iter().collect());
    }

    /// `pod` of `owner` went (or is going): counted once, and only if `owner` deleted it.
    pub fn deletion_observed(&self, owner: &ObjectKey, pod: &ObjectKey) {
        let mut state = self.state.lock();
        if state.deleting.get_mut(owner).is_some_and(|pods| pods.remove(pod)) {
            self.expectations.deletion_observed(owner);
        }
    }

    pub fn forget(&self, owner: &ObjectKey) {
        self.expectations.forget(owner);
        self.state.lock().deleting.remove(owner);
    }

    /// Records what a pod event means for the expectations; returns the owners to sync.
    ///
    /// `controller_of` names the owner of the controller's kind that the pod's controller
    /// reference points at, if it exists with that uid; `selecting` the owners whose selector
    /// matches an orphan pod (those that may adopt it).
    pub fn observe(
        &self,
        event: &Event<Pod>,
        controller_of: &dyn Fn(&Pod) -> Option<ObjectKey>,
        selecting: &dyn Fn(&Pod) -> Vec<ObjectKey>,
    ) -> Vec<ObjectKey> {
        let mut keys = match event {
            Event::Applied(pod) => self.pod_applied(pod, controller_of, selecting),
            Event::Deleted(pod) => self.pod_deleted(pod, controller_of),
            Event::Restarted(pods) => {
                let listed: HashSet<ObjectKey> = pods.iter().map(pod_key).collect();
                let mut keys: Vec<ObjectKey> =
                    pods.iter().flat_map(|pod| self.pod_applied(pod, controller_of, selecting)).collect();
                // Pods deleted while the watch was down.
                for (pod, owner) in self.vanished(&listed) {
                    self.deletion_observed(&owner, &pod);
                    keys.push(owner);
                }
                keys
            }
        };
        keys.sort();
        keys.dedup();
        keys
    }

    /// `addPod` and `updatePod`.
    fn pod_applied(
        &self,
        pod: &Pod,
        controller_of: &dyn Fn(&Pod) -> Option<ObjectKey>,
        selecting: &dyn Fn(&Pod) -> Vec<ObjectKey>,
    ) -> Vec<ObjectKey> {
        let key = pod_key(pod);
        let controller = controller_of(pod);
        let previous = self.state.lock().known.insert(key.clone(), controller.clone());
        let mut keys: Vec<ObjectKey> = match &previous {
            // Moved from another owner: that one has a pod fewer.
            Some(Some(old)) if Some(old) != controller.as_ref() => vec![old.clone()],
            _ => Vec::new(),
        };
        match controller {
            Some(owner) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    // Being deleted (or first seen so, after a restart): a deletion, never a creation.
                    self.deletion_observed(&owner, &key);
                } else if previous.is_none() {
                    self.expectations.creation_observed(&owner);
                }
                keys.push(owner);
            }
            // An orphan: every owner that may adopt it.
            None if pod.metadata.deletion_timestamp.is_none() => keys.extend(selecting(pod)),
            None => {}
        }
        keys
    }

    /// `deletePod`.
    fn pod_deleted(&self, pod: &Pod, controller_of: &dyn Fn(&Pod) -> Option<ObjectKey>) -> Vec<ObjectKey> {
        let key = pod_key(pod);
        let last_known = self.state.lock().known.remove(&key).flatten();
        let Some(owner) = controller_of(pod).or(last_known) else { return Vec::new() };
        self.deletion_observed(&owner, &key);
        vec![owner]
    }

    /// Forgets the pods not in `listed`, with the owners they had.
    fn vanished(&self, listed: &HashSet<ObjectKey>) -> Vec<(ObjectKey, ObjectKey)> {
        let mut state = self.state.lock();
        let gone: Vec<ObjectKey> = state.known.keys().filter(|k| !listed.contains(*k)).cloned().collect();
        gone.into_iter().filter_map(|pod| state.known.remove(&pod).flatten().map(|owner| (pod, owner))).collect()
    }
}
