//! A ReplicaSet's status, from its pods.
//!
//! Mirrors `pkg/controller/replicaset/replica_set_utils.go` (`calculateStatus`,
//! `updateReplicaSetStatus`, the condition helpers).
//!
//! - `replicas`: its active pods; `fullyLabeledReplicas`: those with all the template's labels
//!   (a pod can match the selector without them);
//! - `readyReplicas`: ready pods; `availableReplicas`: ready for `minReadySeconds`;
//! - `observedGeneration`: the spec generation this status is about (the Deployment controller
//!   waits for it before deleting an old ReplicaSet);
//! - `ReplicaFailure` (True, `FailedCreate` or `FailedDelete`, the API server's message) while
//!   creating or deleting pods fails; removed once a sync succeeds.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Error, ReplicaSetController};
use crate::fields::{self, omit_zero};
use crate::pods::{available_at, is_pod_available, is_pod_ready};

pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// `calculateStatus`: the status `rs` should have with `filtered_pods`, after
/// `manage_replicas_err`.
pub fn calculate_status(
    rs: &ReplicaSet,
    filtered_pods: &[Arc<Pod>],
    manage_replicas_err: Option<&Error>,
    now: &Time,
) -> ReplicaSetStatus {
    let mut new_status = fields::rs_status(rs);
    let template_labels = fields::rs_template(rs).metadata.and_then(|m| m.labels).unwrap_or_default();
    let min_ready_seconds = fields::rs_min_ready_seconds(rs);
    let (mut fully_labeled, mut ready, mut available) = (0, 0, 0);
    for pod in filtered_pods {
        let labels = pod.metadata.labels.as_ref();
        if template_labels.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v)) {
            fully_labeled += 1;
        }
        if is_pod_ready(pod) {
            ready += 1;
            if is_pod_available(pod, min_ready_seconds, now) {
                available += 1;
            }
        }
    }

    let failure = get_condition(&new_status, REPLICA_FAILURE).is_some();
    match manage_replicas_err {
        Some(err) if !failure => {
            let diff = filtered_pods.len() as i64 - i64::from(fields::rs_replicas(rs));
            let reason = match diff {
                d if d < 0 => "FailedCreate",
                d if d > 0 => "FailedDelete",
                _ => "",
            };
            set_condition(
                &mut new_status,
                new_replica_set_condition(REPLICA_FAILURE, "True", reason, err.api_message(), now),
            );
        }
        None if failure => remove_condition(&mut new_status, REPLICA_FAILURE),
        _ => {}
    }

    new_status.replicas = filtered_pods.len() as i32;
    new_status.fully_labeled_replicas = omit_zero(fully_labeled);
    new_status.ready_replicas = omit_zero(ready);
    new_status.available_replicas = omit_zero(available);
    new_status
}

fn new_replica_set_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: &Time,
) -> ReplicaSetCondition {
    ReplicaSetCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(now.clone()),
    }
}

fn get_condition<'a>(status: &'a ReplicaSetStatus, type_: &str) -> Option<&'a ReplicaSetCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == type_)
}

/// Adds or replaces the condition, unless one with the same status and reason is there.
fn set_condition(status: &mut ReplicaSetStatus, condition: ReplicaSetCondition) {
    if get_condition(status, &condition.type_)
        .is_some_and(|c| c.status == condition.status && c.reason == condition.reason)
    {
        return;
    }
    remove_condition(status, &condition.type_.clone());
    status.conditions.get_or_insert_with(Vec::new).push(condition);
}

fn remove_condition(status: &mut ReplicaSetStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

/// When to look again for a pod that is ready but not yet available: just after the first of
/// them will be (`available_at` is not yet available: it must be passed).
pub fn next_availability(rs: &ReplicaSet, filtered_pods: &[Arc<Pod>], now: &Time) -> Option<Duration> {
    let min_ready_seconds = fields::rs_min_ready_seconds(rs);
    if min_ready_seconds == 0 {
        return None;
    }
    let next = filtered_pods
        .iter()
        .filter(|pod| is_pod_ready(pod) && !is_pod_available(pod, min_ready_seconds, now))
        .filter_map(|pod| available_at(pod, min_ready_seconds))
        .min()?;
    let wait = (next - now.0).to_std().unwrap_or_default();
    Some(wait + Duration::from_secs(1))
}

impl ReplicaSetController {
    /// `updateReplicaSetStatus`: writes `new_status` (with the generation it is about) unless
    /// nothing changed. Returns the ReplicaSet as it now is.
    pub(super) async fn update_replica_set_status(
        &self,
        rs: &ReplicaSet,
        mut new_status: ReplicaSetStatus,
    ) -> Result<ReplicaSet, Error> {
        let current = fields::rs_status(rs);
        let count = |n: Option<i32>| n.unwrap_or(0);
        let generation = fields::generation(&rs.metadata);
        let unchanged = current.replicas == new_status.replicas
            && count(current.fully_labeled_replicas) == count(new_status.fully_labeled_replicas)
            && count(current.ready_replicas) == count(new_status.ready_replicas)
            && count(current.available_replicas) == count(new_status.available_replicas)
            && generation == fields::rs_observed_generation(rs)
            && current.conditions.clone().filter(|c| !c.is_empty()) == new_status.conditions;
        if unchanged {
            return Ok(rs.clone());
        }
        // The generation acted on, so that a retry does not claim a later spec was seen.
        new_status.observed_generation = Some(generation).filter(|g| *g != 0);
        let mut updated = rs.clone();
        updated.status = Some(new_status);
        self.client
            .update_replica_set_status(&updated)
            .await
            .map_err(|source| Error::UpdateStatus { replica_set: fields::name(&rs.metadata).into(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, status_error, PodBuilder, ReplicaSetBuilder};

    fn pods(list: Vec<Pod>) -> Vec<Arc<Pod>> {
        list.into_iter().map(Arc::new).collect()
    }

    #[test]
    fn counts_ready_and_available_pods_with_min_ready_seconds() {
        let rs = ReplicaSet::test("web").replicas(4).min_ready_seconds(10);
        let filtered = pods(vec![
            Pod::test("long-ready").running().ready_since(at(0)),
            Pod::test("just-ready").running().ready_since(at(95)),
            Pod::test("not-ready").running(),
            Pod::test("other-labels").labels(&[("app", "web-canary")]).running().ready_since(at(0)),
        ]);
        let status = calculate_status(&rs, &filtered, None, &at(100));
        assert_eq!(status.replicas, 4);
        assert_eq!(status.fully_labeled_replicas, Some(3), "one pod lacks the template's app=web");
        assert_eq!(status.ready_replicas, Some(3));
        assert_eq!(status.available_replicas, Some(2), "ready 5 s of 10 is not yet available");
        assert_eq!(next_availability(&rs, &filtered, &at(100)), Some(Duration::from_secs(6)), "available after 105");
        assert_eq!(next_availability(&ReplicaSet::test("web"), &filtered, &at(100)), None, "no minReadySeconds");
    }

    #[test]
    fn a_failure_to_create_shows_as_a_replica_failure_until_a_sync_succeeds() {
        let rs = ReplicaSet::test("web").replicas(3);
        let err = Error::CreatePods {
            replica_set: "web".into(),
            source: status_error(403, "Forbidden", "pods \"web-\" is forbidden: exceeded quota: pods"),
        };
        let status = calculate_status(&rs, &[], Some(&err), &at(5));
        let condition = get_condition(&status, REPLICA_FAILURE).unwrap();
        assert_eq!(condition.reason.as_deref(), Some("FailedCreate"));
        assert_eq!(condition.message.as_deref(), Some("pods \"web-\" is forbidden: exceeded quota: pods"));
        assert_eq!(condition.last_transition_time, Some(at(5)));

        let failed = ReplicaSet { status: Some(status), ..rs };
        let again = calculate_status(&failed, &[], Some(&err), &at(9));
        assert_eq!(get_condition(&again, REPLICA_FAILURE).unwrap().last_transition_time, Some(at(5)), "kept as it was");
        assert_eq!(calculate_status(&failed, &[], None, &at(10)).conditions, None, "removed after a success");
    }
}
