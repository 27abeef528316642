//! Housekeeping: what no pod owns any more is cleaned up.
//!
//! Mirrors `HandlePodCleanups` in `pkg/kubelet/kubelet_pods.go`: every couple of seconds, after
//! the first full list of pods arrived, the kubelet
//!
//! - forgets the pod workers that finished (their pods were terminated);
//! - stops and removes the containers of pods it does not know (deleted while the kubelet was
//!   down: the API no longer has them, so no worker will ever stop them), with the grace period
//!   their labels recorded, and tears down their directories;
//! - forgets back-off entries nobody touched for ten minutes.
//!
//! Only containers labelled with this node are ever looked at, so several kubelets on one
//! Docker never touch each other's pods.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::kubelet::Kubelet;
use crate::naming;
use crate::runtime::{ContainerState, ContainerSummary};

/// Cleans up after pods that are neither `known` (in the API) nor `working` (have a worker).
pub async fn clean_up_orphans(
    kubelet: &Kubelet,
    containers: &BTreeMap<String, Vec<ContainerSummary>>,
    known: &HashSet<String>,
    working: &HashSet<String>,
) {
    for (uid, list) in containers {
        if known.contains(uid) || working.contains(uid) {
            continue;
        }
        tracing::info!(pod_uid = %uid, containers = list.len(), "removing the containers of a pod that no longer exists");
        // App containers first (with their grace period), the pause container last.
        let mut ordered: Vec<&ContainerSummary> = list.iter().collect();
        ordered.sort_by_key(|c| c.labels.get(naming::CONTAINER_TYPE).map(String::as_str) == Some(naming::TYPE_SANDBOX));
        for container in ordered {
            if container.state == ContainerState::Running {
                let grace: u64 = container.labels.get(naming::GRACE_PERIOD).and_then(|g| g.parse().ok()).unwrap_or(30);
                let grace = Duration::from_secs(grace).max(crate::termination::MIN_GRACE);
                let _ = kubelet.runtime.stop_container(&container.id, grace).await;
            }
            if let Err(err) = kubelet.runtime.remove_container(&container.id).await {
                if !err.is_not_found() {
                    tracing::warn!(container = %container.name, cause = %err, "cannot remove an orphaned container");
                }
            }
            if let (Some(ips), Some(ip)) = (&kubelet.pod_ips, container.labels.get(naming::POD_IP)) {
                if let Ok(ip) = ip.parse() {
                    ips.release(ip);
                }
            }
        }
        kubelet.volumes.tear_down(uid);
        kubelet.forget(uid);
    }
    for uid in kubelet.volumes.pods_on_disk() {
        if !known.contains(&uid) && !working.contains(&uid) && !containers.contains_key(&uid) {
            kubelet.volumes.tear_down(&uid);
        }
    }
    let now = tokio::time::Instant::now();
    kubelet.restart_backoff.lock().gc(now);
    kubelet.pull_backoff.lock().gc(now);
}
