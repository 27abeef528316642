//! How long a Job waits before it replaces a failed pod.
//!
//! Mirrors `pkg/controller/job/backoff_utils.go` (`backoffRecord`, `getFinishedTime`,
//! `getRemainingTimeForFailuresCount`): after n failures in a row (since the last success),
//! the next pod is created 10 s × 2ⁿ⁻¹ after the last failure, at most 6 min: 10 s, 20 s,
//! 40 s, 80 s, 160 s, 320 s, then 360 s. A failure 25 s ago, the third in a row: wait 15 s more.
//!
//! Upstream keeps the record in memory per Job, updated as it counts pods; Skiff reads it
//! from the pods present each sync, which comes to the same while they are kept.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::elapsed;
use crate::fields;
use crate::pods::pod_ready_condition;

/// The first delay (upstream's `DefaultJobPodFailureBackOff`).
pub const DEFAULT_JOB_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// The longest (upstream's `MaxJobPodFailureBackOff`).
pub const MAX_JOB_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(360);

/// The failures since the last success, and when the last of them happened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackoffRecord {
    pub failures_after_last_success: u32,
    pub last_failure_time: Option<Time>,
}

impl BackoffRecord {
    /// From the finished pods: those that failed after the latest success.
    pub fn from_pods(pods: &[Arc<Pod>]) -> BackoffRecord {
        let finished = |phase: &'static str| {
            pods.iter().filter(move |p| fields::pod_phase(p) == phase).map(|p| get_finished_time(p))
        };
        let last_success = finished("Succeeded").max();
        let failures: Vec<Time> = finished("Failed").filter(|t| last_success.as_ref().is_none_or(|s| t > s)).collect();
        BackoffRecord {
            failures_after_last_success: failures.len() as u32,
            last_failure_time: failures.into_iter().max(),
        }
    }

    /// How long to wait still, at `now`, before creating a pod (zero: create now).
    pub fn remaining(&self, now: &Time) -> Duration {
        let Some(last_failure) = &self.last_failure_time else { return Duration::ZERO };
        if self.failures_after_last_success == 0 {
            return Duration::ZERO;
        }
        let mut backoff = DEFAULT_JOB_POD_FAILURE_BACKOFF;
        for _ in 1..self.failures_after_last_success {
            backoff = (backoff * 2).min(MAX_JOB_POD_FAILURE_BACKOFF);
        }
        backoff.saturating_sub(elapsed(last_failure, now))
    }
}

/// `getFinishedTime`: when the last container stopped; without container states, when the pod
/// stopped being ready; failing that, when it was created.
fn get_finished_time(pod: &Pod) -> Time {
    let status = pod.status.as_ref();
    let containers = status.and_then(|s| s.container_statuses.as_ref()).into_iter().flatten();
    let finished = containers.filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.clone()).max();
    finished
        .or_else(|| pod_ready_condition(pod).and_then(|c| c.last_transition_time.clone()))
        .or_else(|| pod.metadata.creation_timestamp.clone())
        .unwrap_or_else(|| Time(Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, PodBuilder};

    #[test]
    fn the_delay_doubles_with_each_failure_in_a_row_up_to_six_minutes() {
        let cases = [
            ("no failure", 0, 0, 0),
            ("one failure just now: 10 s", 1, 0, 10),
            ("one failure 4 s ago", 1, 4, 6),
            ("two in a row: 20 s", 2, 0, 20),
            ("three in a row, the last 25 s ago", 3, 25, 15),
            ("six in a row: 320 s", 6, 0, 320),
            ("seven in a row: capped at 360 s", 7, 0, 360),
            ("twenty in a row: still 360 s", 20, 0, 360),
            ("long past", 2, 100, 0),
        ];
        for (name, failures, ago, want) in cases {
            let record = BackoffRecord { failures_after_last_success: failures, last_failure_time: Some(at(1000)) };
            assert_eq!(record.remaining(&at(1000 + ago)), Duration::from_secs(want), "{name}");
        }
    }

    #[test]
    fn a_success_resets_the_count_of_failures() {
        let pods: Vec<Arc<Pod>> = vec![
            Arc::new(Pod::test("f1").phase("Failed").finished_at(at(10))),
            Arc::new(Pod::test("s1").phase("Succeeded").finished_at(at(20))),
            Arc::new(Pod::test("f2").phase("Failed").finished_at(at(30))),
            Arc::new(Pod::test("f3").phase("Failed").finished_at(at(40))),
            Arc::new(Pod::test("running").running()),
        ];
        let record = BackoffRecord::from_pods(&pods);
        assert_eq!(record, BackoffRecord { failures_after_last_success: 2, last_failure_time: Some(at(40)) });
        assert_eq!(BackoffRecord::from_pods(&pods[..2]).failures_after_last_success, 0);
    }
}
