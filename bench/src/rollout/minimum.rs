//! The fastest a rolling update of `replicas` pods with maxSurge 1 and maxUnavailable 0 can be.
//!
//! With one pod of surge and none unavailable, the controller may run at most `replicas + 1`
//! pods and must keep `replicas` available, so the rollout is `replicas` steps, one after the
//! other: a new pod is created and becomes Ready (available: `minReadySeconds` is 0), then one
//! old pod is scaled away, which makes room for the next new pod.
//!
//! What each step cannot go below is the time a pod of the new template takes from its create
//! request to Ready, *T_ready*, measured in the same run on single pods of the same template.
//! Scaling an old pod away does not make the next step wait for that pod to be gone: the
//! Deployment controller counts the ReplicaSets' `spec.replicas` (`new_rs_new_replicas`, as
//! upstream's `NewRSNewReplicas`), and a pod being deleted no longer counts for its ReplicaSet,
//! so the next new pod is created while the old one is still stopping. Only the last old pod's
//! deletion is on the critical path: the rollout is over when it is gone, *T_gone* after its
//! delete, measured on the same single pods. In Skiff that time includes the kubelet's
//! zero-downtime wait (`client/src/rotation.rs`): before it stops a pod it waits until no
//! EndpointSlice lists the pod as ready and every live proxy has applied that, at most half the
//! grace period. The benchmark's pods sit behind a Service, so the wait happens as in a real
//! rollout; the grace period is 5 s, so it lasts at most 2.5 s.
//!
//! So: minimum = replicas × T_ready + T_gone, with the mean of each (the expected time of a
//! sum of steps is the sum of their means). Worked example: 10 replicas, pods Ready 0.6 s after
//! their create on average, gone 0.5 s after their delete: 10 × 0.6 + 0.5 = 6.5 s. `kubectl
//! rollout status` already says "successfully rolled out" when the last old pod is being
//! deleted, so its minimum is 10 × 0.6 = 6.0 s.
//!
//! What the minimum leaves out, and the rollout therefore pays on top, is the control plane's
//! hops between steps: a pod's Ready status reaching the ReplicaSet controller, its status
//! write reaching the Deployment controller, two scale writes, the ReplicaSet controllers'
//! create and delete, the scheduler's bind. That overhead is what the 1.2× target bounds.

use std::time::Duration;

/// The minimum and what it is made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minimum {
    pub steps: u32,
    /// Mean create → Ready of a single pod.
    pub per_step: Duration,
    /// Mean delete → gone of a single pod.
    pub last_deletion: Duration,
}

impl Minimum {
    /// From single pods' create → Ready and delete → gone times.
    pub fn of(replicas: u32, ready: &[Duration], gone: &[Duration]) -> Minimum {
        Minimum { steps: replicas, per_step: mean(ready), last_deletion: mean(gone) }
    }

    /// Until the last old pod is gone.
    pub fn total(&self) -> Duration {
        self.until_status() + self.last_deletion
    }

    /// Until the Deployment's status says it rolled out (its last old pod being deleted).
    pub fn until_status(&self) -> Duration {
        self.per_step * self.steps
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
    fn the_minimum_is_every_step_s_pod_start_plus_the_last_deletion() {
        let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect::<Vec<_>>();
        // The module doc's example: pods Ready after 0.6 s on average, gone after 0.5 s.
        let minimum = Minimum::of(10, &ms(&[500, 700, 600]), &ms(&[400, 600]));
        assert_eq!(minimum.until_status(), Duration::from_millis(6000));
        assert_eq!(minimum.total(), Duration::from_millis(6500));
        assert_eq!(Minimum::of(3, &[], &[]).total(), Duration::ZERO);
    }
}
