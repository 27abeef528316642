//! Pod events: what they mean for the expectations, and which ReplicaSets they concern.
//!
//! Mirrors the pod handlers of `pkg/controller/replicaset/replica_set.go` (`addPod`,
//! `updatePod`, `deletePod`, `getPodReplicaSets`) and `UIDTrackingControllerExpectations` of
//! `pkg/controller/controller_utils.go`, on top of `skiff_client::expectations`.
//!
//! Skiff's watcher says `Applied` for both a new pod and a changed one; client-go's informer
//! tells `Add` from `Update`, and only an `Add` is a creation observed. So the [`Tracker`]
//! remembers which pods it has seen (and which ReplicaSet controlled each: a pod moved to
//! another ReplicaSet concerns the old one too). Deletions are tracked by pod, as upstream, so
//! that a pod seen first with a `deletionTimestamp` and then gone counts once.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::Pod;
use parking_lot::Mutex;
use skiff_client::expectations::Expectations;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::Event;

use super::{key_of, ReplicaSetController, CONTROLLER_KIND};
use crate::fields;
use crate::owner;
use crate::selector::{self, label_selector_as_selector};

#[derive(Default)]
pub(super) struct Tracker {
    expectations: Expectations<ObjectKey>,
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    /// Per ReplicaSet, the pods it deleted and has not yet seen go.
    deleting: HashMap<ObjectKey, HashSet<ObjectKey>>,
    /// Every pod seen, with the ReplicaSet controlling it when last seen.
    known: HashMap<ObjectKey, Option<ObjectKey>>,
}

impl Tracker {
    pub(super) fn satisfied(&self, rs: &ObjectKey) -> bool {
        self.expectations.satisfied(rs)
    }

    pub(super) fn expect_creations(&self, rs: &ObjectKey, count: usize) {
        self.expectations.expect(rs.clone(), count as i64, 0);
    }

    pub(super) fn lower_creations(&self, rs: &ObjectKey, count: usize) {
        self.expectations.lower(rs, count as i64, 0);
    }

    pub(super) fn expect_deletions(&self, rs: &ObjectKey, pods: Vec<ObjectKey>) {
        self.expectations.expect(rs.clone(), 0, pods.len() as i64);
        self.state.lock().deleting.insert(rs.clone(), pods.into_iter().collect());
    }

    /// `pod` of `rs` went (or is going): counted once, and only if `rs` deleted it.
    pub(super) fn deletion_observed(&self, rs: &ObjectKey, pod: &ObjectKey) {
        let mut state = self.state.lock();
        if state.deleting.get_mut(rs).is_some_and(|pods| pods.remove(pod)) {
            self.expectations.deletion_observed(rs);
        }
    }

    pub(super) fn forget(&self, rs: &ObjectKey) {
        self.expectations.forget(rs);
        self.state.lock().deleting.remove(rs);
    }
}

impl ReplicaSetController {
    /// Records what a pod event means for the expectations, and returns the ReplicaSets to sync.
    pub fn pod_event(&self, event: &Event<Pod>) -> Vec<ObjectKey> {
        let mut keys = match event {
            Event::Applied(pod) => self.pod_applied(pod),
            Event::Deleted(pod) => self.pod_deleted(pod),
            Event::Restarted(pods) => {
                let listed: HashSet<ObjectKey> = pods.iter().map(|p| key_of(&p.metadata)).collect();
                let mut keys: Vec<ObjectKey> = pods.iter().flat_map(|pod| self.pod_applied(pod)).collect();
                // Pods deleted while the watch was down.
                let vanished: Vec<(ObjectKey, Option<ObjectKey>)> = {
                    let mut state = self.expectations.state.lock();
                    let gone: Vec<ObjectKey> = state.known.keys().filter(|k| !listed.contains(*k)).cloned().collect();
                    gone.into_iter().map(|k| (k.clone(), state.known.remove(&k).flatten())).collect()
                };
                for (pod, rs) in vanished.into_iter().filter_map(|(pod, rs)| rs.map(|rs| (pod, rs))) {
                    self.expectations.deletion_observed(&rs, &pod);
                    keys.push(rs);
                }
                keys
            }
        };
        keys.sort();
        keys.dedup();
        keys
    }

    /// `addPod` and `updatePod`.
    fn pod_applied(&self, pod: &Pod) -> Vec<ObjectKey> {
        let pod_key = key_of(&pod.metadata);
        let controller = self.resolve_controller_ref(pod);
        let previous = self.expectations.state.lock().known.insert(pod_key.clone(), controller.clone());
        let mut keys: Vec<ObjectKey> = match &previous {
            // Moved from another ReplicaSet: that one has a pod fewer.
            Some(Some(old)) if Some(old) != controller.as_ref() => vec![old.clone()],
            _ => Vec::new(),
        };
        match controller {
            Some(rs) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    // Being deleted (or first seen so, after a restart): a deletion, never a creation.
                    self.expectations.deletion_observed(&rs, &pod_key);
                } else if previous.is_none() {
                    self.expectations.expectations.creation_observed(&rs);
                }
                keys.push(rs);
            }
            // An orphan: every ReplicaSet that may adopt it.
            None if pod.metadata.deletion_timestamp.is_none() => keys.extend(self.get_pod_replica_sets(pod)),
            None => {}
        }
        keys
    }

    /// `deletePod`.
    fn pod_deleted(&self, pod: &Pod) -> Vec<ObjectKey> {
        let pod_key = key_of(&pod.metadata);
        let last_known = self.expectations.state.lock().known.remove(&pod_key).flatten();
        let Some(rs) = self.resolve_controller_ref(pod).or(last_known) else { return Vec::new() };
        self.expectations.deletion_observed(&rs, &pod_key);
        vec![rs]
    }

    /// The ReplicaSet a pod's controller reference names, if it exists with that uid.
    fn resolve_controller_ref(&self, pod: &Pod) -> Option<ObjectKey> {
        let reference = owner::controller_of(&pod.metadata).filter(|r| r.kind == CONTROLLER_KIND)?;
        let key = ObjectKey { namespace: pod.metadata.namespace.clone(), name: reference.name.clone() };
        let rs = self.replica_sets.get(&key)?;
        (fields::uid(&rs.metadata) == reference.uid).then_some(key)
    }

    /// `getPodReplicaSets`: the ReplicaSets whose selector matches an orphan pod.
    fn get_pod_replica_sets(&self, pod: &Pod) -> Vec<ObjectKey> {
        self.replica_sets
            .in_namespace(fields::namespace(&pod.metadata))
            .into_iter()
            .filter(|rs| {
                let spec_selector = rs.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
                !selector::selects_everything(&spec_selector)
                    && label_selector_as_selector(&spec_selector)
                        .is_ok_and(|s| selector::matches(&s, &pod.metadata.labels))
            })
            .map(|rs| key_of(&rs.metadata))
            .collect()
    }
}
