//! The Progressing condition and the progress deadline.
//!
//! Mirrors `pkg/controller/deployment/progress.go` (`syncRolloutStatus`, `getReplicaFailures`,
//! `requeueStuckDeployment`). After each rollout step the status is recalculated and the
//! Progressing condition judged, in this order:
//!
//! - **complete** (every pod updated and available): `NewReplicaSetAvailable`, "ReplicaSet
//!   \"web-…\" has successfully progressed." — what `kubectl rollout status` waits for;
//! - **progressing** (more pods updated, ready or available, or fewer old): `ReplicaSetUpdated`,
//!   "ReplicaSet \"web-…\" is progressing.", with a new `lastUpdateTime`: the deadline restarts;
//! - **timed out** (no progress for `progressDeadlineSeconds`, 600 by default):
//!   `ProgressDeadlineExceeded`, status False, "ReplicaSet \"web-…\" has timed out progressing."
//!   The controller goes on rolling out; the condition is for people and tools to act on.
//!
//! A `ReplicaFailure` of a ReplicaSet (pods it cannot create: quota, admission) is copied to the
//! Deployment, the new ReplicaSet's first.
//!
//! Nothing happens at a deadline by itself: when a sync finds nothing to write, it asks to be
//! run again just after the deadline of the last progress (`lastUpdateTime` + deadline + 1 s).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use skiff_client::controller::Action;
use tracing::debug;

use super::conditions::*;
use super::sync::{calculate_status, normalized};
use super::{DeploymentController, Error};
use crate::fields;

impl DeploymentController {
    /// `syncRolloutStatus`: the status with the Progressing condition judged, written if it
    /// changed; otherwise a requeue for the deadline, if one is pending.
    pub(super) async fn sync_rollout_status(
        &self,
        all_rss: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
        d: &mut Deployment,
    ) -> Result<Action, Error> {
        let now = self.clock.now();
        let mut new_status = calculate_status(all_rss, new_rs, d, &now);
        if !has_progress_deadline(d) {
            remove_deployment_condition(&mut new_status, PROGRESSING);
        }

        let old_status = fields::status(d);
        let current = get_deployment_condition(&old_status, PROGRESSING);
        // A finished rollout being resynced: no progress to estimate.
        let is_complete_deployment = new_status.replicas == new_status.updated_replicas
            && current.is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE_REASON));
        if has_progress_deadline(d) && !is_complete_deployment {
            let subject = |what: &str| match new_rs {
                Some(rs) => format!("ReplicaSet {:?} {what}", fields::name(&rs.metadata)),
                None => format!("Deployment {:?} {what}", fields::name(&d.metadata)),
            };
            if deployment_complete(d, &new_status) {
                let message = subject("has successfully progressed.");
                let condition = new_deployment_condition(PROGRESSING, "True", NEW_RS_AVAILABLE_REASON, message, &now);
                set_deployment_condition(&mut new_status, condition);
            } else if deployment_progressing(d, &new_status) {
                let message = subject("is progressing.");
                let mut condition =
                    new_deployment_condition(PROGRESSING, "True", REPLICA_SET_UPDATED_REASON, message, &now);
                // Progress with the same reason must still move lastUpdateTime (which
                // set_deployment_condition would not do), keeping lastTransitionTime if the
                // condition was True already.
                if let Some(current) = current {
                    if current.status == "True" {
                        condition.last_transition_time = current.last_transition_time.clone();
                    }
                    remove_deployment_condition(&mut new_status, PROGRESSING);
                }
                set_deployment_condition(&mut new_status, condition);
            } else if deployment_timed_out(d, &new_status, &now) {
                let message = subject("has timed out progressing.");
                let condition = new_deployment_condition(PROGRESSING, "False", TIMED_OUT_REASON, message, &now);
                set_deployment_condition(&mut new_status, condition);
            }
        }

        match get_replica_failures(all_rss, new_rs).into_iter().next() {
            Some(failure) => set_deployment_condition(&mut new_status, failure),
            None => remove_deployment_condition(&mut new_status, REPLICA_FAILURE),
        }

        if normalized(&old_status) == new_status {
            return Ok(match self.requeue_stuck_deployment(d, &new_status) {
                Some(after) => Action::RequeueAfter(after),
                None => Action::Done,
            });
        }
        d.status = Some(new_status);
        self.update_status(d).await?;
        Ok(Action::Done)
    }

    /// `requeueStuckDeployment`: when to look again for the deadline, if at all: never without
    /// a deadline or a Progressing condition, or once complete or timed out. A condition last
    /// updated 3 minutes ago with a 10-minute deadline: in 7 minutes (and a second, so that the
    /// deadline has surely passed).
    fn requeue_stuck_deployment(&self, d: &Deployment, new_status: &DeploymentStatus) -> Option<Duration> {
        let status = fields::status(d);
        let current = get_deployment_condition(&status, PROGRESSING)?;
        if !has_progress_deadline(d)
            || deployment_complete(d, new_status)
            || current.reason.as_deref() == Some(TIMED_OUT_REASON)
        {
            return None;
        }
        let deadline = d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(0);
        let last_update = current.last_update_time.as_ref()?.0;
        let after = last_update + k8s_openapi::chrono::Duration::seconds(deadline.into()) - self.clock.now().0;
        // Less than a second left: look again (almost) now; upstream requeues rate-limited.
        let after = after.to_std().unwrap_or_default();
        debug!(after_seconds = after.as_secs(), "queueing up deployment for a progress check");
        if after < Duration::from_secs(1) {
            return Some(Duration::from_secs(1));
        }
        Some(after + Duration::from_secs(1))
    }
}

/// `getReplicaFailures`: the `ReplicaFailure` conditions of the new ReplicaSet, or else of any.
fn get_replica_failures(all_rss: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> Vec<DeploymentCondition> {
    let failures = |rs: &ReplicaSet| -> Vec<DeploymentCondition> {
        rs.status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .filter(|c| c.type_ == REPLICA_FAILURE)
            .map(replica_set_to_deployment_condition)
            .collect()
    };
    let of_new = new_rs.map(failures).unwrap_or_default();
    if !of_new.is_empty() {
        return of_new;
    }
    all_rss.iter().flat_map(failures).collect()
}
