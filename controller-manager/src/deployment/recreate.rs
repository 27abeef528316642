//! The Recreate strategy: all old pods go, then the new ones come.
//!
//! Mirrors `pkg/controller/deployment/recreate.go`:
//!
//! 1. scale every old ReplicaSet to 0 (and record the status, if any was scaled);
//! 2. wait until no old pod is left: not only the ReplicaSets' counts, but the pods themselves,
//!    until each is gone or has finished (`Succeeded`/`Failed`). A pod being deleted still runs
//!    its containers through its grace period, and Recreate promises they never overlap;
//! 3. only then create the new ReplicaSet (it is not created earlier, so that nothing scales up
//!    before everything has scaled down) and scale it to `replicas`;
//! 4. once complete, trim the history.
//!
//! The controller learns that the last old pod went from the pod's deletion
//! (`DeploymentController::pod_event`).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use skiff_client::controller::Action;

use super::conditions::deployment_complete;
use super::util::*;
use super::{DeploymentController, Error, PodMap};
use crate::fields::{self, rs_replicas};

impl DeploymentController {
    pub(super) async fn rollout_recreate(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
        pod_map: &PodMap,
    ) -> Result<Action, Error> {
        // Not created yet if missing: nothing scales up before everything scaled down.
        let (mut new_rs, mut old_rss) = self.get_all_replica_sets_and_sync_revision(d, rs_list, false).await?;
        let mut all_rss = all_replica_sets(&old_rss, new_rs.as_ref());

        if self.scale_down_old_replica_sets_for_recreate(&filter_active_replica_sets(&old_rss), d).await? {
            return self.sync_rollout_status(&all_rss, new_rs.as_ref(), d).await;
        }
        if old_pods_running(new_rs.as_ref(), &old_rss, pod_map) {
            return self.sync_rollout_status(&all_rss, new_rs.as_ref(), d).await;
        }
        if new_rs.is_none() {
            (new_rs, old_rss) = self.get_all_replica_sets_and_sync_revision(d, rs_list, true).await?;
            all_rss = all_replica_sets(&old_rss, new_rs.as_ref());
        }
        if let Some(new_rs) = &new_rs {
            // scaleUpNewReplicaSetForRecreate
            self.scale_replica_set_and_record_event(new_rs, fields::replicas(d), d).await?;
        }
        if deployment_complete(d, &fields::status(d)) {
            self.cleanup_deployment(&old_rss, d).await?;
        }
        self.sync_rollout_status(&all_rss, new_rs.as_ref(), d).await
    }

    /// `scaleDownOldReplicaSetsForRecreate`: every active old ReplicaSet to 0. Whether any was.
    async fn scale_down_old_replica_sets_for_recreate(
        &self,
        old_rss: &[ReplicaSet],
        d: &Deployment,
    ) -> Result<bool, Error> {
        let mut scaled = false;
        for rs in old_rss.iter().filter(|rs| rs_replicas(rs) != 0) {
            scaled |= self.scale_replica_set_and_record_event(rs, 0, d).await?.0;
        }
        Ok(scaled)
    }
}

/// `oldPodsRunning`: an old ReplicaSet still counts pods, or one of its pods has not finished.
fn old_pods_running(new_rs: Option<&ReplicaSet>, old_rss: &[ReplicaSet], pod_map: &PodMap) -> bool {
    if get_actual_replica_count_for_replica_sets(old_rss) > 0 {
        return true;
    }
    let new_uid = new_rs.map(|rs| fields::uid(&rs.metadata));
    pod_map
        .iter()
        .filter(|(rs_uid, _)| Some(rs_uid.as_str()) != new_uid)
        .flat_map(|(_, pods)| pods)
        // Unknown (a node out of touch) may still be running: it counts.
        .any(|pod| !matches!(fields::pod_phase(pod), "Succeeded" | "Failed"))
}
