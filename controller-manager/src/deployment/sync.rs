//! Scaling a Deployment (a new `replicas`, or any change while paused), cleaning up old
//! ReplicaSets, and the status.
//!
//! Mirrors `pkg/controller/deployment/sync.go`: `sync`, `syncStatusOnly`,
//! `checkPausedConditions`, `isScalingEvent`, `scale`, `scaleReplicaSet`, `cleanupDeployment`,
//! `syncDeploymentStatus`, `calculateStatus`. (`getNewReplicaSet` is in `new_replica_set.rs`.)
//!
//! **Proportional scaling.** Scaling a Deployment in the middle of a rollout (or while it is
//! paused with two ReplicaSets) must not hasten or reverse the rollout: the new replicas are
//! shared among the active ReplicaSets in proportion to their sizes (`get_proportion`), and
//! what rounding leaves over goes to the largest (newest among equals when scaling up, oldest
//! when scaling down). Example: 10 replicas (max 13) as 8 old + 5 new, scaled to 20 (max 25):
//! 12 to add, 8 → 15 and 5 → 10.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use skiff_client::controller::Action;
use tracing::debug;

use super::annotations::{get_desired_replicas_annotation, replicas_annotations_need_update, set_replicas_annotations};
use super::conditions::*;
use super::util::*;
use super::{DeploymentController, Error};
use crate::events::EventType;
use crate::fields::{self, omit_zero, rs_replicas};

impl DeploymentController {
    /// `syncStatusOnly`: a Deployment being deleted gets its status updated, nothing else.
    pub(super) async fn sync_status_only(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
    ) -> Result<Action, Error> {
        let (new_rs, old_rss) = self.get_all_replica_sets_and_sync_revision(d, rs_list, false).await?;
        let all_rss = all_replica_sets(&old_rss, new_rs.as_ref());
        self.sync_deployment_status(&all_rss, new_rs.as_ref(), d).await?;
        Ok(Action::Done)
    }

    /// `sync`: scaling events and paused Deployments. No new ReplicaSet is created here.
    pub(super) async fn sync(&self, d: &mut Deployment, rs_list: &mut Vec<ReplicaSet>) -> Result<Action, Error> {
        let (new_rs, old_rss) = self.get_all_replica_sets_and_sync_revision(d, rs_list, false).await?;
        self.scale(d, new_rs.as_ref(), &old_rss).await?;
        // A paused Deployment does not roll out, so this is where its history is trimmed.
        if fields::paused(d) {
            self.cleanup_deployment(&old_rss, d).await?;
        }
        let all_rss = all_replica_sets(&old_rss, new_rs.as_ref());
        self.sync_deployment_status(&all_rss, new_rs.as_ref(), d).await?;
        Ok(Action::Done)
    }

    /// `checkPausedConditions`: pausing and resuming show in the Progressing condition (status
    /// Unknown), so that the time spent paused never counts against the progress deadline.
    pub(super) async fn check_paused_conditions(&self, d: &mut Deployment) -> Result<(), Error> {
        if !has_progress_deadline(d) {
            return Ok(());
        }
        let status = fields::status(d);
        let condition = get_deployment_condition(&status, PROGRESSING);
        if condition.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT_REASON)) {
            // A reported lack of progress is not overwritten by a pause.
            return Ok(());
        }
        let paused_condition_exists = condition.is_some_and(|c| c.reason.as_deref() == Some(PAUSED_DEPLOY_REASON));
        let now = self.clock.now();
        let condition = match (fields::paused(d), paused_condition_exists) {
            (true, false) => new_deployment_condition(
                PROGRESSING,
                "Unknown",
                PAUSED_DEPLOY_REASON,
                "Deployment is paused".into(),
                &now,
            ),
            (false, true) => new_deployment_condition(
                PROGRESSING,
                "Unknown",
                RESUMED_DEPLOY_REASON,
                "Deployment is resumed".into(),
                &now,
            ),
            _ => return Ok(()),
        };
        set_deployment_condition(fields::status_mut(d), condition);
        self.update_status(d).await
    }

    /// `isScalingEvent`: an active ReplicaSet was last sized for another `replicas` than the
    /// Deployment's (its `desired-replicas` annotation): only the size changed, not the template.
    pub(super) async fn is_scaling_event(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
    ) -> Result<bool, Error> {
        let (new_rs, old_rss) = self.get_all_replica_sets_and_sync_revision(d, rs_list, false).await?;
        let all_rss = all_replica_sets(&old_rss, new_rs.as_ref());
        let replicas = fields::replicas(d);
        Ok(filter_active_replica_sets(&all_rss)
            .iter()
            .filter_map(get_desired_replicas_annotation)
            .any(|desired| desired != replicas))
    }

    /// `scale`: sizes the ReplicaSets for the Deployment's `replicas` (see the module doc).
    pub(super) async fn scale(
        &self,
        d: &Deployment,
        new_rs: Option<&ReplicaSet>,
        old_rss: &[ReplicaSet],
    ) -> Result<(), Error> {
        let replicas = fields::replicas(d);
        // One active ReplicaSet (or none: then the newest) takes all of `replicas`.
        if let Some(active_or_latest) = find_active_or_latest(new_rs, old_rss) {
            if rs_replicas(&active_or_latest) != replicas {
                self.scale_replica_set_and_record_event(&active_or_latest, replicas, d).await?;
            }
            return Ok(());
        }
        // The new ReplicaSet has everything (an adoption can lead here): the old go to zero.
        if is_saturated(d, new_rs) {
            for old in filter_active_replica_sets(old_rss) {
                self.scale_replica_set_and_record_event(&old, 0, d).await?;
            }
            return Ok(());
        }
        if !is_rolling_update(d) {
            return Ok(());
        }
        let mut all_rss = filter_active_replica_sets(&all_replica_sets(old_rss, new_rs));
        let allowed_size = if replicas > 0 { replicas + max_surge(d) } else { 0 };
        // Positive: replicas to hand out; negative: to take back.
        let to_add = allowed_size - get_replica_count_for_replica_sets(&all_rss);
        let operation = match to_add.cmp(&0) {
            Ordering::Greater => {
                sort_by_size_newer(&mut all_rss);
                "up"
            }
            Ordering::Less => {
                sort_by_size_older(&mut all_rss);
                "down"
            }
            Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes: BTreeMap<String, i32> = BTreeMap::new();
        for rs in &all_rss {
            let proportion = if to_add != 0 { get_proportion(rs, d, to_add, added) } else { 0 };
            sizes.insert(fields::name(&rs.metadata).into(), rs_replicas(rs) + proportion);
            added += proportion;
        }
        for (i, rs) in all_rss.iter().enumerate() {
            let mut size = sizes[fields::name(&rs.metadata)];
            if i == 0 && to_add != 0 {
                // What rounding left over goes to the largest.
                size = (size + to_add - added).max(0);
            }
            self.scale_replica_set(rs, size, d, operation).await?;
        }
        Ok(())
    }

    /// `scaleReplicaSetAndRecordEvent`: scales `rs` to `new_scale` if it is not that size.
    /// Returns whether it scaled, and the ReplicaSet as written.
    pub(super) async fn scale_replica_set_and_record_event(
        &self,
        rs: &ReplicaSet,
        new_scale: i32,
        d: &Deployment,
    ) -> Result<(bool, ReplicaSet), Error> {
        if rs_replicas(rs) == new_scale {
            return Ok((false, rs.clone()));
        }
        let operation = if rs_replicas(rs) < new_scale { "up" } else { "down" };
        self.scale_replica_set(rs, new_scale, d, operation).await
    }

    /// `scaleReplicaSet`: writes the new size and the Deployment's sizes (`desired-replicas`,
    /// `max-replicas`), and records "Scaled up replica set web-… to 3 from 1".
    pub(super) async fn scale_replica_set(
        &self,
        rs: &ReplicaSet,
        new_scale: i32,
        d: &Deployment,
        operation: &str,
    ) -> Result<(bool, ReplicaSet), Error> {
        let old_scale = rs_replicas(rs);
        let size_needs_update = old_scale != new_scale;
        let (desired, max) = (fields::replicas(d), fields::replicas(d) + max_surge(d));
        if !size_needs_update && !replicas_annotations_need_update(rs, desired, max) {
            return Ok((false, rs.clone()));
        }
        let mut copy = rs.clone();
        fields::set_rs_replicas(&mut copy, new_scale);
        set_replicas_annotations(&mut copy, desired, max);
        let name = fields::name(&rs.metadata).to_string();
        let updated = self
            .client
            .update_replica_set(&copy)
            .await
            .map_err(|source| Error::UpdateReplicaSet { name: name.clone(), source })?;
        if size_needs_update {
            let message = format!("Scaled {operation} replica set {name} to {new_scale} from {old_scale}");
            self.event(d, EventType::Normal, "ScalingReplicaSet", message);
        }
        Ok((size_needs_update, updated))
    }

    /// `cleanupDeployment`: deletes the oldest old ReplicaSets beyond `revisionHistoryLimit`,
    /// but only those that are empty, settled (their controller has seen their spec) and not
    /// already being deleted. History 2 with revisions 1 to 5 (5 new): 1 and 2 go.
    pub(super) async fn cleanup_deployment(&self, old_rss: &[ReplicaSet], d: &Deployment) -> Result<(), Error> {
        if !has_revision_history_limit(d) {
            return Ok(());
        }
        let limit = d.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(0);
        let mut cleanable: Vec<ReplicaSet> =
            old_rss.iter().filter(|rs| rs.metadata.deletion_timestamp.is_none()).cloned().collect();
        let diff = cleanable.len() as i32 - limit;
        if diff <= 0 {
            return Ok(());
        }
        sort_by_revision(&mut cleanable);
        debug!(deployment = fields::name(&d.metadata), "looking to clean up old replica sets");
        for rs in cleanable.iter().take(diff as usize) {
            let busy = fields::rs_actual_replicas(rs) != 0
                || rs_replicas(rs) != 0
                || fields::generation(&rs.metadata) > fields::rs_observed_generation(rs)
                || rs.metadata.deletion_timestamp.is_some();
            if busy {
                continue;
            }
            let name = fields::name(&rs.metadata);
            match self.client.delete_replica_set(fields::namespace(&rs.metadata), name).await {
                Ok(()) => {}
                Err(err) if err.is_not_found() => {}
                // Stop at the first failure rather than press on an API server in trouble.
                Err(source) => return Err(Error::DeleteReplicaSet { name: name.into(), source }),
            }
        }
        Ok(())
    }

    /// `syncDeploymentStatus`: writes the status if it changed.
    pub(super) async fn sync_deployment_status(
        &self,
        all_rss: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
        d: &mut Deployment,
    ) -> Result<(), Error> {
        let new_status = calculate_status(all_rss, new_rs, d, &self.clock.now());
        if normalized(&fields::status(d)) == new_status {
            return Ok(());
        }
        d.status = Some(new_status);
        self.update_status(d).await
    }

    /// Writes `d`'s status (and annotations), and keeps the new `resourceVersion` so that a
    /// second write in the same sync is not refused as a conflict.
    pub(super) async fn update_status(&self, d: &mut Deployment) -> Result<(), Error> {
        let updated = self
            .client
            .update_deployment_status(d)
            .await
            .map_err(|source| Error::UpdateStatus { deployment: fields::name(&d.metadata).into(), source })?;
        d.metadata.resource_version = updated.metadata.resource_version;
        Ok(())
    }
}

/// A status with Go's `omitempty` applied: zero counts and empty lists absent, so that a status
/// read back from the API server compares equal to the one computed.
pub(super) fn normalized(status: &DeploymentStatus) -> DeploymentStatus {
    let count = |n: Option<i32>| omit_zero(n.unwrap_or(0));
    DeploymentStatus {
        observed_generation: status.observed_generation.filter(|g| *g != 0),
        replicas: count(status.replicas),
        updated_replicas: count(status.updated_replicas),
        ready_replicas: count(status.ready_replicas),
        available_replicas: count(status.available_replicas),
        unavailable_replicas: count(status.unavailable_replicas),
        collision_count: status.collision_count,
        conditions: status.conditions.clone().filter(|c| !c.is_empty()),
    }
}

/// `calculateStatus`: the counts, summed over the ReplicaSets' statuses, and the Available
/// condition: available once `replicas − maxUnavailable` pods are (10 replicas, 25%: 8).
pub fn calculate_status(
    all_rss: &[ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
    now: &Time,
) -> DeploymentStatus {
    let available = get_available_replica_count_for_replica_sets(all_rss);
    let total = get_replica_count_for_replica_sets(all_rss);
    // More available than wanted happens while scaling down; that is not negative unavailability.
    let unavailable = (total - available).max(0);
    let current = fields::status(d);
    let mut status = DeploymentStatus {
        observed_generation: Some(fields::generation(&d.metadata)).filter(|g| *g != 0),
        replicas: omit_zero(get_actual_replica_count_for_replica_sets(all_rss)),
        updated_replicas: omit_zero(new_rs.map_or(0, fields::rs_actual_replicas)),
        ready_replicas: omit_zero(get_ready_replica_count_for_replica_sets(all_rss)),
        available_replicas: omit_zero(available),
        unavailable_replicas: omit_zero(unavailable),
        collision_count: current.collision_count,
        conditions: current.conditions.filter(|c| !c.is_empty()),
    };
    let condition = if available >= fields::replicas(d) - max_unavailable(d) {
        new_deployment_condition(
            AVAILABLE,
            "True",
            MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        new_deployment_condition(
            AVAILABLE,
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    set_deployment_condition(&mut status, condition);
    status
}
