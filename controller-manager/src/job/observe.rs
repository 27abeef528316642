//! Pod events: which Jobs they concern.
//!
//! Mirrors the pod handlers of `pkg/controller/job/job_controller.go` (`addPod`, `updatePod`,
//! `deletePod`, `getPodJobs`); what an event means for the expectations is the shared
//! `crate::pod_expectations`'s, as for ReplicaSets.

use k8s_openapi::api::core::v1::Pod;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::Event;

use super::{key_of, JobController, CONTROLLER_KIND};
use crate::fields;
use crate::owner;
use crate::selector::{self, label_selector_as_selector};

impl JobController {
    /// Records what a pod event means for the expectations, and returns the Jobs to sync.
    pub fn pod_event(&self, event: &Event<Pod>) -> Vec<ObjectKey> {
        self.expectations.observe(event, &|pod| self.resolve_controller_ref(pod), &|pod| self.get_pod_jobs(pod))
    }

    /// The Job a pod's controller reference names, if it exists with that uid.
    fn resolve_controller_ref(&self, pod: &Pod) -> Option<ObjectKey> {
        let reference = owner::controller_of(&pod.metadata).filter(|r| r.kind == CONTROLLER_KIND)?;
        let key = ObjectKey { namespace: pod.metadata.namespace.clone(), name: reference.name.clone() };
        let job = self.jobs.get(&key)?;
        (fields::uid(&job.metadata) == reference.uid).then_some(key)
    }

    /// `getPodJobs`: the Jobs whose selector matches an orphan pod.
    fn get_pod_jobs(&self, pod: &Pod) -> Vec<ObjectKey> {
        self.jobs
            .in_namespace(fields::namespace(&pod.metadata))
            .into_iter()
            .filter(|job| {
                let spec_selector = fields::job_selector(job);
                !selector::selects_everything(&spec_selector)
                    && label_selector_as_selector(&spec_selector)
                        .is_ok_and(|s| selector::matches(&s, &pod.metadata.labels))
            })
            .map(|job| key_of(&job.metadata))
            .collect()
    }
}
