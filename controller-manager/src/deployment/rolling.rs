//! The RollingUpdate strategy: grow the new ReplicaSet into the surge, shrink the old ones
//! within the unavailability budget, step by step, each step waiting for pods to become
//! available.
//!
//! Mirrors `pkg/controller/deployment/rolling.go`. One sync does one step:
//!
//! 1. find (or create) the new ReplicaSet;
//! 2. scale it up if the surge allows (`reconcile_new_replica_set`); if it did, record the
//!    status and stop here;
//! 3. otherwise scale old ReplicaSets down if availability allows (`reconcile_old_replica_sets`);
//!    if it did, record the status and stop here;
//! 4. once complete, trim the history (`cleanup_deployment`); record the status.
//!
//! Worked example, 10 replicas, maxSurge 3, maxUnavailable 2 (at most 13 pods, at least 8
//! available), a new template: new 0 → 3 (13 pods); old 10 → 8 (13 − 8 − 3 unavailable new = 2);
//! new 3 → 5 (13 again); as new pods become available, old shrinks and new grows, until new 10,
//! old 0.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use skiff_client::controller::Action;
use tracing::{debug, warn};

use super::conditions::deployment_complete;
use super::util::*;
use super::{DeploymentController, Error};
use crate::fields::{self, rs_available_replicas, rs_replicas};

impl DeploymentController {
    pub(super) async fn rollout_rolling(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
    ) -> Result<Action, Error> {
        let (new_rs, old_rss) = self.get_all_replica_sets_and_sync_revision(d, rs_list, true).await?;
        // Always there: it was created if missing.
        let Some(new_rs) = new_rs else { return Ok(Action::Done) };
        let all_rss = all_replica_sets(&old_rss, Some(&new_rs));

        // Scale up, if we can.
        if self.reconcile_new_replica_set(&all_rss, &new_rs, d).await? {
            return self.sync_rollout_status(&all_rss, Some(&new_rs), d).await;
        }
        // Scale down, if we can.
        let active_old_rss = filter_active_replica_sets(&old_rss);
        if self.reconcile_old_replica_sets(&all_rss, active_old_rss, &new_rs, d).await? {
            return self.sync_rollout_status(&all_rss, Some(&new_rs), d).await;
        }
        if deployment_complete(d, &fields::status(d)) {
            self.cleanup_deployment(&old_rss, d).await?;
        }
        self.sync_rollout_status(&all_rss, Some(&new_rs), d).await
    }

    /// `reconcileNewReplicaSet`: the new ReplicaSet grows by what the surge allows (or shrinks
    /// to `replicas` if it has more). Whether it was scaled.
    async fn reconcile_new_replica_set(
        &self,
        all_rss: &[ReplicaSet],
        new_rs: &ReplicaSet,
        d: &Deployment,
    ) -> Result<bool, Error> {
        let replicas = fields::replicas(d);
        if rs_replicas(new_rs) == replicas {
            return Ok(false);
        }
        if rs_replicas(new_rs) > replicas {
            return Ok(self.scale_replica_set_and_record_event(new_rs, replicas, d).await?.0);
        }
        let new_replicas_count = new_rs_new_replicas(d, all_rss, new_rs)
            .map_err(|source| Error::InvalidRollingUpdate { deployment: fields::name(&d.metadata).into(), source })?;
        Ok(self.scale_replica_set_and_record_event(new_rs, new_replicas_count, d).await?.0)
    }

    /// `reconcileOldReplicaSets`: how far the old ReplicaSets may shrink.
    ///
    /// `maxScaledDown = allPods − minAvailable − newUnavailable`: the surge already created,
    /// less the new pods that are not yet available (they may never be). The crash-looping new
    /// ReplicaSet of the example (10 replicas, surge 3, unavailable 2): old 8 + new 5 = 13 pods,
    /// none of the 5 available, so 13 − 8 − 5 = 0: nothing more is scaled down, and 8 old pods
    /// keep serving. `kubectl rollout undo` makes the old template new again: 1 unavailable,
    /// 13 − 8 − 1 = 4 of the crash-looping pods go.
    ///
    /// Unhealthy old pods go first (`cleanup_unhealthy_replicas`): removing them costs no
    /// availability. Then available ones, as far as `minAvailable` allows.
    async fn reconcile_old_replica_sets(
        &self,
        all_rss: &[ReplicaSet],
        old_rss: Vec<ReplicaSet>,
        new_rs: &ReplicaSet,
        d: &Deployment,
    ) -> Result<bool, Error> {
        if get_replica_count_for_replica_sets(&old_rss) == 0 {
            // Nothing left to scale down.
            return Ok(false);
        }
        let all_pods_count = get_replica_count_for_replica_sets(all_rss);
        let min_available = fields::replicas(d) - max_unavailable(d);
        let new_rs_unavailable_pod_count = rs_replicas(new_rs) - rs_available_replicas(new_rs);
        let max_scaled_down = all_pods_count - min_available - new_rs_unavailable_pod_count;
        if max_scaled_down <= 0 {
            return Ok(false);
        }

        // Unhealthy replicas first, or they would block the rollout until it times out.
        let (old_rss, cleanup_count) = match self.cleanup_unhealthy_replicas(old_rss, d, max_scaled_down).await {
            Ok(cleaned) => cleaned,
            Err(err) => {
                // As upstream: no scaling this time, and no error (the next sync looks again).
                warn!(cause = %err, "cleaning up unhealthy replicas");
                return Ok(false);
            }
        };
        debug!(count = cleanup_count, "cleaned up unhealthy replicas from old replica sets");

        let all_rss = all_replica_sets(&old_rss, Some(new_rs));
        let scaled_down_count = match self.scale_down_old_replica_sets_for_rolling_update(&all_rss, old_rss, d).await {
            Ok(count) => count,
            Err(err) => {
                warn!(cause = %err, "scaling down old replica sets");
                return Ok(false);
            }
        };
        debug!(count = scaled_down_count, "scaled down old replica sets");
        Ok(cleanup_count + scaled_down_count > 0)
    }

    /// `cleanupUnhealthyReplicas`: oldest ReplicaSet first, removes its not-available pods, up
    /// to `max_cleanup_count` in all. (The ReplicaSet controller deletes not-ready pods first.)
    /// Returns the ReplicaSets as they are now, and how many pods went.
    async fn cleanup_unhealthy_replicas(
        &self,
        mut old_rss: Vec<ReplicaSet>,
        d: &Deployment,
        max_cleanup_count: i32,
    ) -> Result<(Vec<ReplicaSet>, i32), Error> {
        sort_by_creation_timestamp(&mut old_rss);
        let mut total_scaled_down = 0;
        for target in old_rss.iter_mut() {
            if total_scaled_down >= max_cleanup_count {
                break;
            }
            let (replicas, available) = (rs_replicas(target), rs_available_replicas(target));
            if replicas == 0 || replicas == available {
                // Nothing to remove, or nothing unhealthy.
                continue;
            }
            let scaled_down_count = (max_cleanup_count - total_scaled_down).min(replicas - available);
            let new_replicas_count = replicas - scaled_down_count;
            if new_replicas_count > replicas {
                // More available than wanted: its status lags a scale-down. Upstream stops here.
                return Err(Error::InvalidScaleDown {
                    name: fields::name(&target.metadata).into(),
                    from: replicas,
                    to: new_replicas_count,
                });
            }
            let (_, updated) = self.scale_replica_set_and_record_event(target, new_replicas_count, d).await?;
            *target = updated;
            total_scaled_down += scaled_down_count;
        }
        Ok((old_rss, total_scaled_down))
    }

    /// `scaleDownOldReplicaSetsForRollingUpdate`: removes `available − minAvailable` pods,
    /// oldest ReplicaSet first. How many went.
    async fn scale_down_old_replica_sets_for_rolling_update(
        &self,
        all_rss: &[ReplicaSet],
        mut old_rss: Vec<ReplicaSet>,
        d: &Deployment,
    ) -> Result<i32, Error> {
        let min_available = fields::replicas(d) - max_unavailable(d);
        let available_pod_count = get_available_replica_count_for_replica_sets(all_rss);
        if available_pod_count <= min_available {
            return Ok(0);
        }
        sort_by_creation_timestamp(&mut old_rss);
        let total_scale_down_count = available_pod_count - min_available;
        let mut total_scaled_down = 0;
        for target in &old_rss {
            if total_scaled_down >= total_scale_down_count {
                break;
            }
            if rs_replicas(target) == 0 {
                continue;
            }
            let scale_down_count = rs_replicas(target).min(total_scale_down_count - total_scaled_down);
            self.scale_replica_set_and_record_event(target, rs_replicas(target) - scale_down_count, d).await?;
            total_scaled_down += scale_down_count;
        }
        Ok(total_scaled_down)
    }
}
