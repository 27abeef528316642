//! The fastest a rolling update of `replicas` pods with maxSurge 1 and maxUnavailable 0 can be
//! on this node.
//!
//! With one pod of surge and none unavailable, at most `replicas + 1` pods may run and
//! `replicas` must stay available, so the rollout is `replicas` steps, one after the other:
//!
//! 1. the first new pod is created and becomes Ready (available: `minReadySeconds` is 0), while
//!    every old pod keeps running;
//! 2. each of the next `replicas − 1` steps scales one old pod away and creates the next new
//!    pod at once, and waits for that pod to be Ready;
//! 3. the last old pod is deleted, and the rollout is over when it is gone.
//!
//! A step does not wait for the old pod it scaled away to be gone: the Deployment controller
//! counts the ReplicaSets' `spec.replicas` (`new_rs_new_replicas`, as upstream's
//! `NewRSNewReplicas`) and a pod being deleted no longer counts for its ReplicaSet, so the next
//! new pod is created while the old one is still stopping. But the two share the node: on one
//! Docker, stopping and removing the old pod's containers slows the new pod's start. So what a
//! step cannot go below is measured on this node as it happens in a rollout, without any
//! controller in between ("a rollout by hand", `measure.rs`): the delete of one pod and the
//! create of the next sent at the same instant, until the new one is Ready: *T_step*. The first
//! step has no deletion beside it: *T_alone*, a pod's create → Ready on its own. The last old
//! pod's delete → gone is *T_gone*: in Skiff it includes the kubelet's zero-downtime wait
//! (`client/src/rotation.rs`: before stopping a pod, wait until no EndpointSlice lists it as
//! ready and every live proxy has applied that, at most half the grace period). The
//! benchmark's pods sit behind a Service and are in its EndpointSlice when deleted, so the wait
//! happens as in a real rollout; with no skiff-proxy in this cluster it ends once the endpoints
//! controller has marked the pod not ready, and the 5 s grace period bounds it at 2.5 s.
//!
//! So: minimum = T_alone + (replicas − 1) × T_step + T_gone, each the mean of its samples (the
//! expected time of a sum of steps is the sum of their means). Worked example: 10 replicas, a
//! pod Ready 0.6 s after its create on its own and 0.7 s with a deletion beside it, a deleted
//! pod gone after 0.5 s: 0.6 + 9 × 0.7 + 0.5 = 7.4 s. `kubectl rollout status` already says
//! "successfully rolled out" once the last old pod is being deleted: its minimum is 6.9 s.
//!
//! What the minimum leaves out, and the rollout pays on top, is the control plane's hops
//! between steps: a pod's Ready status reaching the ReplicaSet controller, its status write
//! reaching the Deployment controller, two scale writes, the ReplicaSet controllers' create and
//! delete, the scheduler's bind. That overhead is what the 1.2× target bounds.
//!
//! Reading the "each step at least a pod's start plus an old pod's deletion" as a sum,
//! `replicas × (T_alone + T_gone)`, would count every deletion on the critical path; only the
//! last one is. The report shows that figure too, for comparison.

use std::time::Duration;

/// The minimum and what it is made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minimum {
    pub steps: u32,
    /// Mean create → Ready of a pod on its own.
    pub first: Duration,
    /// Mean create → Ready of a pod created as another is deleted.
    pub per_step: Duration,
    /// Mean delete → gone.
    pub last_deletion: Duration,
}

impl Minimum {
    pub fn of(replicas: u32, alone: &[Duration], step: &[Duration], gone: &[Duration]) -> Minimum {
        Minimum { steps: replicas, first: mean(alone), per_step: mean(step), last_deletion: mean(gone) }
    }

    /// Until the last old pod is gone.
    pub fn total(&self) -> Duration {
        self.until_status() + self.last_deletion
    }

    /// Until the Deployment's status says it rolled out (its last old pod being deleted).
    pub fn until_status(&self) -> Duration {
        self.first + self.per_step * self.steps.saturating_sub(1)
    }

    /// The reading, every step a start plus a deletion (see the module doc).
    pub fn every_deletion(&self) -> Duration {
        (self.first + self.last_deletion) * self.steps
    }
}

pub fn mean(samples: &[Duration]) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.iter().sum::<Duration>() / samples.len() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimum_is_the_first_start_then_each_step_then_the_last_deletion() {
        let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect::<Vec<_>>();
        // The module doc's example.
        let minimum = Minimum::of(10, &ms(&[500, 700]), &ms(&[700, 600, 800]), &ms(&[400, 600]));
        assert_eq!(minimum.until_status(), Duration::from_millis(6900));
        assert_eq!(minimum.total(), Duration::from_millis(7400));
        assert_eq!(minimum.every_deletion(), Duration::from_millis(11000));
        assert_eq!(Minimum::of(3, &[], &[], &[]).total(), Duration::ZERO);
    }
}
