//! Pod events: what they mean for the expectations, and which Jobs they concern.
//!
//! Mirrors the pod handlers of `pkg/controller/job/job_controller.go` (`addPod`, `updatePod`,
//! `deletePod`, `getPodJobs`) on top of `skiff_client::expectations`, with the same bookkeeping
//! as `replicaset/observe.rs` (see there why): pods seen are remembered, so that only a pod's
//! first sighting is a creation observed, and deletions are tracked by pod, so that a pod seen
//! going and then gone counts once.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::Pod;
use parking_lot::Mutex;
use skiff_client::expectations::Expectations;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::Event;

use super::{key_of, JobController, CONTROLLER_KIND};
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
    /// Per Job, the pods it deleted and has not yet seen go.
    deleting: HashMap<ObjectKey, HashSet<ObjectKey>>,
    /// Every pod seen, with the Job controlling it when last seen.
    known: HashMap<ObjectKey, Option<ObjectKey>>,
}

impl Tracker {
    pub(super) fn satisfied(&self, job: &ObjectKey) -> bool {
        self.expectations.satisfied(job)
    }

    pub(super) fn expect_creations(&self, job: &ObjectKey, count: usize) {
        self.expectations.expect(job.clone(), count as i64, 0);
    }

    pub(super) fn lower_creations(&self, job: &ObjectKey, count: usize) {
        self.expectations.lower(job, count as i64, 0);
    }

    pub(super) fn expect_deletions(&self, job: &ObjectKey, pods: Vec<ObjectKey>) {
        self.expectations.expect(job.clone(), 0, pods.len() as i64);
        self.state.lock().deleting.insert(job.clone(), pods.into_iter().collect());
    }

    /// `pod` of `job` went (or is going): counted once, and only if `job` deleted it.
    pub(super) fn deletion_observed(&self, job: &ObjectKey, pod: &ObjectKey) {
        let mut state = self.state.lock();
        if state.deleting.get_mut(job).is_some_and(|pods| pods.remove(pod)) {
            self.expectations.deletion_observed(job);
        }
    }

    pub(super) fn forget(&self, job: &ObjectKey) {
        self.expectations.forget(job);
        self.state.lock().deleting.remove(job);
    }

    /// Remembers `pod` as controlled by `job`; returns what was known of it before.
    fn seen(&self, pod: ObjectKey, job: Option<ObjectKey>) -> Option<Option<ObjectKey>> {
        self.state.lock().known.insert(pod, job)
    }

    /// Forgets `pod`; returns the Job that controlled it when last seen.
    fn gone(&self, pod: &ObjectKey) -> Option<ObjectKey> {
        self.state.lock().known.remove(pod).flatten()
    }

    /// Forgets the pods not in `listed` (deleted while the watch was down), with their Jobs.
    fn vanished(&self, listed: &HashSet<ObjectKey>) -> Vec<(ObjectKey, ObjectKey)> {
        let mut state = self.state.lock();
        let gone: Vec<ObjectKey> = state.known.keys().filter(|k| !listed.contains(*k)).cloned().collect();
        gone.into_iter().filter_map(|pod| state.known.remove(&pod).flatten().map(|job| (pod, job))).collect()
    }
}

impl JobController {
    /// Records what a pod event means for the expectations, and returns the Jobs to sync.
    pub fn pod_event(&self, event: &Event<Pod>) -> Vec<ObjectKey> {
        let mut keys = match event {
            Event::Applied(pod) => self.pod_applied(pod),
            Event::Deleted(pod) => self.pod_deleted(pod),
            Event::Restarted(pods) => {
                let listed: HashSet<ObjectKey> = pods.iter().map(|p| key_of(&p.metadata)).collect();
                let mut keys: Vec<ObjectKey> = pods.iter().flat_map(|pod| self.pod_applied(pod)).collect();
                for (pod, job) in self.expectations.vanished(&listed) {
                    self.expectations.deletion_observed(&job, &pod);
                    keys.push(job);
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
        let previous = self.expectations.seen(pod_key.clone(), controller.clone());
        let mut keys: Vec<ObjectKey> = match &previous {
            // Released by another Job: that one has a pod fewer.
            Some(Some(old)) if Some(old) != controller.as_ref() => vec![old.clone()],
            _ => Vec::new(),
        };
        match controller {
            Some(job) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    self.expectations.deletion_observed(&job, &pod_key);
                } else if previous.is_none() {
                    self.expectations.expectations.creation_observed(&job);
                }
                keys.push(job);
            }
            None if pod.metadata.deletion_timestamp.is_none() => keys.extend(self.get_pod_jobs(pod)),
            None => {}
        }
        keys
    }

    /// `deletePod`.
    fn pod_deleted(&self, pod: &Pod) -> Vec<ObjectKey> {
        let pod_key = key_of(&pod.metadata);
        let last_known = self.expectations.gone(&pod_key);
        let Some(job) = self.resolve_controller_ref(pod).or(last_known) else { return Vec::new() };
        self.expectations.deletion_observed(&job, &pod_key);
        vec![job]
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
