//! What a controller needs to know about a pod: active, ready, available, and which to delete
//! first.
//!
//! Mirrors `pkg/api/v1/pod/util.go` (`IsPodReady`, `IsPodAvailable`) and
//! `pkg/controller/controller_utils.go` (`IsPodActive`, `FilterActivePods`, `ActivePodsWithRanks`).
//!
//! - **Active**: not `Succeeded`, not `Failed`, not being deleted. Only active pods count.
//! - **Ready**: its `Ready` condition is `True` (the kubelet's readiness probes say so).
//! - **Available**: ready for at least `minReadySeconds`, measured from the condition's
//!   `lastTransitionTime` (with `minReadySeconds: 10`, a pod ready at 12:00:00 is available
//!   after 12:00:10).
//!
//! Left out: `LogarithmicScaleDown` (upstream buckets ready and creation times by powers of two
//! of their age before comparing them, so that scale-down spreads over ages; Skiff compares the
//! times themselves, which was the rule before 1.22).

use std::cmp::Ordering;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::chrono::{DateTime, Duration, Utc};

use crate::fields;

/// The annotation users set to say which pods of a ReplicaSet to remove first (lower first).
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

pub fn is_pod_active(pod: &Pod) -> bool {
    !matches!(fields::pod_phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

pub fn filter_active_pods(pods: Vec<Arc<Pod>>) -> Vec<Arc<Pod>> {
    pods.into_iter().filter(|p| is_pod_active(p)).collect()
}

pub fn pod_ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status.as_ref()?.conditions.iter().flatten().find(|c| c.type_ == "Ready")
}

pub fn is_pod_ready(pod: &Pod) -> bool {
    pod_ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// Since when a ready pod has been ready.
pub fn pod_ready_time(pod: &Pod) -> Option<DateTime<Utc>> {
    if !is_pod_ready(pod) {
        return None;
    }
    pod_ready_condition(pod)?.last_transition_time.as_ref().map(|t| t.0)
}

/// When a ready pod becomes available: `None` if it is not ready, or has no ready time.
pub fn available_at(pod: &Pod, min_ready_seconds: i32) -> Option<DateTime<Utc>> {
    pod_ready_time(pod).map(|ready| ready + Duration::seconds(min_ready_seconds.into()))
}

pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: &Time) -> bool {
    if !is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds == 0 {
        return true;
    }
    // Strictly later: a pod ready at 12:00:00 with minReadySeconds 10 is available at 12:00:11.
    available_at(pod, min_ready_seconds).is_some_and(|at| at < now.0)
}

fn max_container_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata.annotations.as_ref().and_then(|a| a.get(POD_DELETION_COST)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Pending before Unknown before Running (the other phases are not active).
fn phase_ordinal(pod: &Pod) -> u8 {
    match fields::pod_phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

/// "Empty or later first": no time sorts before any time; a later time before an earlier one.
fn later_or_none_first(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => b.cmp(&a),
    }
}

/// The order in which a ReplicaSet deletes pods: `Less` means `a` goes first. `rank` is how many
/// active pods of the same owner share the pod's node (doubled-up pods go first, to spread).
///
/// 1. not yet scheduled < scheduled
/// 2. Pending < Unknown < Running
/// 3. not ready < ready
/// 4. lower `pod-deletion-cost` < higher
/// 5. more pods of the same owner on its node < fewer
/// 6. ready for less time < for more time
/// 7. more container restarts < fewer
/// 8. newer < older
pub fn compare_for_deletion(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize) -> Ordering {
    let unscheduled = |p: &Pod| fields::node_name(p).is_empty();
    if fields::node_name(a) != fields::node_name(b) && (unscheduled(a) || unscheduled(b)) {
        return unscheduled(b).cmp(&unscheduled(a));
    }
    let creation = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    phase_ordinal(a)
        .cmp(&phase_ordinal(b))
        .then(is_pod_ready(a).cmp(&is_pod_ready(b)))
        .then(deletion_cost(a).cmp(&deletion_cost(b)))
        .then(rank_b.cmp(&rank_a))
        .then_with(|| match is_pod_ready(a) && is_pod_ready(b) {
            true => later_or_none_first(pod_ready_time(a), pod_ready_time(b)),
            false => Ordering::Equal,
        })
        .then(max_container_restarts(b).cmp(&max_container_restarts(a)))
        .then_with(|| later_or_none_first(creation(a), creation(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, PodBuilder};

    #[test]
    fn availability_waits_min_ready_seconds_after_readiness() {
        let pod = Pod::test("web-1").running().ready_since(at(100));
        let cases = [
            ("no minReadySeconds: ready is available", 0, 100, true),
            ("ready 5s of 10s", 10, 105, false),
            ("exactly 10s is not yet more than 10s", 10, 110, false),
            ("11s of 10s", 10, 111, true),
        ];
        for (name, min_ready, now, want) in cases {
            assert_eq!(is_pod_available(&pod, min_ready, &at(now)), want, "{name}");
        }
        assert!(!is_pod_available(&Pod::test("web-2").running(), 0, &at(100)), "not ready: never available");
    }

    #[test]
    fn only_pods_not_finished_and_not_being_deleted_are_active() {
        assert!(is_pod_active(&Pod::test("a").running()));
        assert!(is_pod_active(&Pod::test("a")), "pending");
        assert!(!is_pod_active(&Pod::test("a").phase("Succeeded")));
        assert!(!is_pod_active(&Pod::test("a").phase("Failed")));
        assert!(!is_pod_active(&Pod::test("a").running().deleting()));
    }

    #[test]
    fn deletion_prefers_pods_that_are_least_far_along() {
        let old = Pod::test("old").created(at(0)).on_node("n1").running().ready_since(at(10));
        let cases = [
            ("unscheduled before scheduled", Pod::test("x").created(at(0))),
            ("pending before running", Pod::test("x").created(at(0)).on_node("n1")),
            ("not ready before ready", Pod::test("x").created(at(0)).on_node("n1").running()),
            (
                "ready for less time before ready for more",
                Pod::test("x").created(at(0)).on_node("n1").running().ready_since(at(20)),
            ),
            (
                "more restarts before fewer",
                Pod::test("x").created(at(0)).on_node("n1").running().ready_since(at(10)).restarts(3),
            ),
            ("newer before older", Pod::test("x").created(at(5)).on_node("n1").running().ready_since(at(10))),
            (
                "a lower deletion cost before a higher one, even when more advanced",
                Pod::test("x")
                    .created(at(0))
                    .on_node("n1")
                    .running()
                    .ready_since(at(10))
                    .annotation(POD_DELETION_COST, "-5"),
            ),
        ];
        for (name, first) in cases {
            assert_eq!(compare_for_deletion(&first, 0, &old, 0), Ordering::Less, "{name}");
            assert_eq!(compare_for_deletion(&old, 0, &first, 0), Ordering::Greater, "{name} (reversed)");
        }
        let twin = old.clone();
        assert_eq!(compare_for_deletion(&twin, 2, &old, 1), Ordering::Less, "doubled up on its node goes first");
        assert_eq!(compare_for_deletion(&twin, 1, &old, 1), Ordering::Equal);
    }
}
