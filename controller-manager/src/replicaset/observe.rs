//! Pod events: which ReplicaSets they concern.
//!
//! Mirrors the pod handlers of `pkg/controller/replicaset/replica_set.go` (`addPod`,
//! `updatePod`, `deletePod`, `getPodReplicaSets`); what an event means for the expectations is
//! the shared `crate::pod_expectations`'s.

use k8s_openapi::api::core::v1::Pod;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::Event;

use super::{key_of, ReplicaSetController, CONTROLLER_KIND};
use crate::fields;
use crate::owner;
use crate::selector::{self, label_selector_as_selector};

impl ReplicaSetController {
    /// Records what a pod event means for the expectations, and returns the ReplicaSets to sync.
    pub fn pod_event(&self, event: &Event<Pod>) -> Vec<ObjectKey> {
        self.expectations.observe(event, &|pod| self.resolve_controller_ref(pod), &|pod| self.get_pod_replica_sets(pod))
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
