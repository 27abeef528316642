//! A Deployment's conditions, and the three judgements made from its status: complete,
//! progressing, timed out.
//!
//! Mirrors the condition half of `pkg/controller/deployment/util/deployment_util.go`
//! (`NewDeploymentCondition`, `SetDeploymentCondition`, `DeploymentComplete`,
//! `DeploymentProgressing`, `DeploymentTimedOut`, `HasProgressDeadline`). What `kubectl rollout
//! status` waits for is written here.
//!
//! A condition has two times: `lastUpdateTime`, when it was last written with news, and
//! `lastTransitionTime`, when its `status` last changed. Setting a condition with the same status
//! and reason changes nothing; with the same status and a new reason it keeps the transition time.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSetCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::chrono::Duration;

use crate::fields;

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Progressing: one of the Deployment's ReplicaSets was scaled as part of the rollout.
pub const REPLICA_SET_UPDATED_REASON: &str = "ReplicaSetUpdated";
/// Progressing: the new ReplicaSet could not be created.
pub const FAILED_RS_CREATE_REASON: &str = "ReplicaSetCreateError";
/// Progressing: the new ReplicaSet was created.
pub const NEW_REPLICA_SET_REASON: &str = "NewReplicaSetCreated";
/// Progressing: an existing ReplicaSet was found to be the new one.
pub const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
/// Progressing: the rollout completed (every pod updated and available).
pub const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
/// Progressing (False): no progress for `progressDeadlineSeconds`.
pub const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
/// Progressing (Unknown): paused, so progress is not estimated.
pub const PAUSED_DEPLOY_REASON: &str = "DeploymentPaused";
/// Progressing (Unknown): resumed; the deadline counts from here, not from before the pause.
pub const RESUMED_DEPLOY_REASON: &str = "DeploymentResumed";
/// Available: at least `replicas − maxUnavailable` pods are available.
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

pub fn new_deployment_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: &Time,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    }
}

pub fn get_deployment_condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == type_)
}

/// Adds or replaces the condition of its type, unless one with the same status and reason is
/// there already; keeps `lastTransitionTime` if the status does not change. A replaced condition
/// moves to the end of the list, as upstream's.
pub fn set_deployment_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = get_deployment_condition(status, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_deployment_condition(status, &condition.type_.clone());
    status.conditions.get_or_insert_with(Vec::new).push(condition);
}

pub fn remove_deployment_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

/// A ReplicaSet's `ReplicaFailure`, promoted to its Deployment.
pub fn replica_set_to_deployment_condition(condition: &ReplicaSetCondition) -> DeploymentCondition {
    DeploymentCondition {
        type_: condition.type_.clone(),
        status: condition.status.clone(),
        reason: condition.reason.clone(),
        message: condition.message.clone(),
        last_update_time: condition.last_transition_time.clone(),
        last_transition_time: condition.last_transition_time.clone(),
    }
}

/// `progressDeadlineSeconds` is set and is not "forever" (`MaxInt32`).
pub fn has_progress_deadline(deployment: &Deployment) -> bool {
    deployment.spec.as_ref().and_then(|s| s.progress_deadline_seconds).is_some_and(|s| s != i32::MAX)
}

/// `revisionHistoryLimit` is set and is not "keep everything" (`MaxInt32`).
pub fn has_revision_history_limit(deployment: &Deployment) -> bool {
    deployment.spec.as_ref().and_then(|s| s.revision_history_limit).is_some_and(|l| l != i32::MAX)
}

/// `DeploymentComplete`: every desired pod is updated and available, no old pod is left, and
/// the status is about the current spec.
pub fn deployment_complete(deployment: &Deployment, new_status: &DeploymentStatus) -> bool {
    let replicas = fields::replicas(deployment);
    new_status.updated_replicas.unwrap_or(0) == replicas
        && new_status.replicas.unwrap_or(0) == replicas
        && new_status.available_replicas.unwrap_or(0) == replicas
        && new_status.observed_generation.unwrap_or(0) >= fields::generation(&deployment.metadata)
}

/// `DeploymentProgressing`: compared with the status the controller last wrote, more pods are
/// updated, ready or available, or fewer old pods are left.
pub fn deployment_progressing(deployment: &Deployment, new_status: &DeploymentStatus) -> bool {
    let old = fields::status(deployment);
    let count = |n: Option<i32>| n.unwrap_or(0);
    let old_old_replicas = count(old.replicas) - count(old.updated_replicas);
    let new_old_replicas = count(new_status.replicas) - count(new_status.updated_replicas);
    count(new_status.updated_replicas) > count(old.updated_replicas)
        || new_old_replicas < old_old_replicas
        || count(new_status.ready_replicas) > count(old.ready_replicas)
        || count(new_status.available_replicas) > count(old.available_replicas)
}

/// `DeploymentTimedOut`: the Progressing condition says it timed out, or was last updated more
/// than `progressDeadlineSeconds` ago (and does not say the rollout completed).
pub fn deployment_timed_out(deployment: &Deployment, new_status: &DeploymentStatus, now: &Time) -> bool {
    if !has_progress_deadline(deployment) {
        return false;
    }
    let Some(condition) = get_deployment_condition(new_status, PROGRESSING) else {
        return false;
    };
    match condition.reason.as_deref() {
        // A complete rollout does not time out, even if the cache has not yet seen the
        // condition of a rollout that started since.
        Some(NEW_RS_AVAILABLE_REASON) => false,
        Some(TIMED_OUT_REASON) => true,
        _ => {
            let deadline = deployment.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(0);
            let Some(from) = condition.last_update_time.as_ref() else { return false };
            from.0 + Duration::seconds(deadline.into()) < now.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, DeploymentBuilder};

    fn progressing(reason: &str, updated: i64) -> DeploymentStatus {
        DeploymentStatus {
            conditions: Some(vec![new_deployment_condition(PROGRESSING, "True", reason, "m".into(), &at(updated))]),
            ..Default::default()
        }
    }

    #[test]
    fn setting_a_condition_keeps_its_transition_time_while_its_status_holds() {
        let mut status = DeploymentStatus::default();
        set_deployment_condition(
            &mut status,
            new_deployment_condition(PROGRESSING, "True", NEW_REPLICA_SET_REASON, "a".into(), &at(0)),
        );
        set_deployment_condition(
            &mut status,
            new_deployment_condition(AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, "b".into(), &at(1)),
        );
        set_deployment_condition(
            &mut status,
            new_deployment_condition(PROGRESSING, "True", NEW_REPLICA_SET_REASON, "c".into(), &at(5)),
        );
        let p = get_deployment_condition(&status, PROGRESSING).unwrap();
        assert_eq!(
            (p.message.as_deref(), p.last_update_time.clone()),
            (Some("a"), Some(at(0))),
            "same status and reason: unchanged"
        );

        set_deployment_condition(
            &mut status,
            new_deployment_condition(PROGRESSING, "True", NEW_RS_AVAILABLE_REASON, "d".into(), &at(9)),
        );
        let p = get_deployment_condition(&status, PROGRESSING).unwrap();
        assert_eq!((p.last_update_time.clone(), p.last_transition_time.clone()), (Some(at(9)), Some(at(0))));
        let types: Vec<&str> = status.conditions.iter().flatten().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, vec![AVAILABLE, PROGRESSING], "a replaced condition moves to the end");

        set_deployment_condition(
            &mut status,
            new_deployment_condition(PROGRESSING, "False", TIMED_OUT_REASON, "e".into(), &at(20)),
        );
        assert_eq!(get_deployment_condition(&status, PROGRESSING).unwrap().last_transition_time, Some(at(20)));
        remove_deployment_condition(&mut status, PROGRESSING);
        remove_deployment_condition(&mut status, AVAILABLE);
        assert_eq!(status.conditions, None, "no conditions: the field is left out");
    }

    #[test]
    fn a_deployment_times_out_after_its_deadline_without_progress() {
        let d = Deployment::test("web").progress_deadline(600);
        let cases = [
            ("no condition: no base to judge from", DeploymentStatus::default(), 10_000, false),
            ("599s after the last progress", progressing(REPLICA_SET_UPDATED_REASON, 0), 599, false),
            ("600s is not more than 600s", progressing(REPLICA_SET_UPDATED_REASON, 0), 600, false),
            ("601s", progressing(REPLICA_SET_UPDATED_REASON, 0), 601, true),
            ("a complete rollout never times out", progressing(NEW_RS_AVAILABLE_REASON, 0), 10_000, false),
            ("timed out stays timed out", progressing(TIMED_OUT_REASON, 0), 1, true),
        ];
        for (name, status, now, want) in cases {
            assert_eq!(deployment_timed_out(&d, &status, &at(now)), want, "{name}");
        }
        let no_deadline = Deployment::test("web").progress_deadline(i32::MAX);
        assert!(!deployment_timed_out(&no_deadline, &progressing(REPLICA_SET_UPDATED_REASON, 0), &at(10_000)));
    }

    #[test]
    fn progress_is_any_step_towards_the_new_template() {
        let d = Deployment::test("web").status(|s| {
            s.replicas = Some(10);
            s.updated_replicas = Some(3);
            s.ready_replicas = Some(8);
            s.available_replicas = Some(8);
        });
        let status = |replicas, updated, ready, available| DeploymentStatus {
            replicas: Some(replicas),
            updated_replicas: Some(updated),
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            ..Default::default()
        };
        let cases = [
            ("nothing moved", status(10, 3, 8, 8), false),
            ("one more updated pod", status(11, 4, 8, 8), true),
            ("one old pod fewer", status(9, 3, 8, 8), true),
            ("one more ready", status(10, 3, 9, 8), true),
            ("one more available", status(10, 3, 9, 9), true),
            ("fewer ready is no progress", status(10, 3, 7, 7), false),
        ];
        for (name, new_status, want) in cases {
            assert_eq!(deployment_progressing(&d, &new_status), want, "{name}");
        }
    }

    #[test]
    fn complete_means_all_updated_all_available_none_old_and_observed() {
        let d = Deployment::test("web").replicas(3).generation(2);
        let status = |replicas, updated, available, observed| DeploymentStatus {
            replicas: Some(replicas),
            updated_replicas: Some(updated),
            available_replicas: Some(available),
            observed_generation: Some(observed),
            ..Default::default()
        };
        assert!(deployment_complete(&d, &status(3, 3, 3, 2)));
        assert!(!deployment_complete(&d, &status(4, 3, 3, 2)), "an old pod is left");
        assert!(!deployment_complete(&d, &status(3, 3, 2, 2)), "one not available");
        assert!(!deployment_complete(&d, &status(3, 3, 3, 1)), "an older spec");
    }
}
