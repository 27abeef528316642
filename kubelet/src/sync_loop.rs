//! The kubelet's main loop: one `select!` over everything that can make a pod need a sync.
//!
//! Mirrors `syncLoop` / `syncLoopIteration` in `pkg/kubelet/kubelet.go` (in its 2015 shape):
//!
//! - **the pod source**: a watch of the pods bound to this node (`spec.nodeName=<node>`, list
//!   then watch, re-listed on expiry); each change goes to the pod's worker, a deletion makes the
//!   worker stop the pod. As `pkg/kubelet/config/config.go` (`checkAndUpdatePod`,
//!   `podsDifferSemantically`) does, a change of status alone (the kubelet's own status writes,
//!   coming back) is a *reconcile*: the worker gets the newer object without a sync;
//! - **the relist tick** (PLEG, [`crate::pleg`]): containers that changed in Docker wake their
//!   pods' workers;
//! - **probe results** ([`crate::probes`]) that changed wake their pods' workers;
//! - **the housekeeping tick** ([`crate::housekeeping`]): workers that finished are forgotten,
//!   containers of pods that no longer exist are removed.
//!
//! The loop itself never waits on Docker for long: syncs happen in the pod workers, cleanup in
//! a task of its own.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use skiff_client::watcher::{watcher, Event, Retry};
use skiff_client::{Api, ListParams};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use crate::housekeeping;
use crate::kubelet::Kubelet;
use crate::pleg::Pleg;
use crate::pod_workers::PodWorkers;

fn uid_of(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// Whether the new object changes anything the kubelet acts on: its spec, labels, annotations
/// (both reach containers through the downward API) or deletion. Its status, resourceVersion
/// and managedFields do not.
fn differ_semantically(old: &Pod, new: &Pod) -> bool {
    let (o, n) = (&old.metadata, &new.metadata);
    old.spec != new.spec
        || o.labels != n.labels
        || o.annotations != n.annotations
        || o.deletion_timestamp != n.deletion_timestamp
        || o.deletion_grace_period_seconds != n.deletion_grace_period_seconds
}

pub async fn run(kubelet: Arc<Kubelet>, mut probe_changes: UnboundedReceiver<String>, stop: CancellationToken) {
    let node = kubelet.node().to_string();
    let pods: Api<Pod> = Api::all(kubelet.client.clone());
    let mut source =
        watcher(pods.lister(ListParams::fields(&format!("spec.nodeName={node}"))), Retry::default()).boxed();
    let mut workers = PodWorkers::new(kubelet.clone(), stop.child_token());
    let mut known: HashMap<String, Arc<Pod>> = HashMap::new();
    // Housekeeping only once the first full list arrived: before it every pod looks orphaned.
    let mut listed = false;
    let cleaning = Arc::new(AtomicBool::new(false));
    let mut pleg = Pleg::default();
    let mut relist = tokio::time::interval(kubelet.config.intervals.relist);
    let mut housekeeping = tokio::time::interval(kubelet.config.intervals.housekeeping);
    relist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_relist = None;

    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(event) = source.next() => match event {
                Event::Restarted(list) => {
                    let fresh: HashMap<String, Arc<Pod>> = list.into_iter().map(|p| (uid_of(&p), Arc::new(p))).collect();
                    for (uid, pod) in known.drain() {
                        if !fresh.contains_key(&uid) {
                            workers.remove(pod);
                        }
                    }
                    for pod in fresh.values() {
                        workers.update(pod.clone());
                    }
                    known = fresh;
                    listed = true;
                    tracing::info!(pods = known.len(), "pods of this node listed");
                }
                Event::Applied(pod) => {
                    let pod = Arc::new(pod);
                    match known.insert(uid_of(&pod), pod.clone()) {
                        Some(old) if !differ_semantically(&old, &pod) => workers.reconcile(pod),
                        _ => workers.update(pod),
                    }
                }
                Event::Deleted(pod) => {
                    known.remove(&uid_of(&pod));
                    workers.remove(Arc::new(pod));
                }
            },
            _ = relist.tick() => match pleg.relist(&*kubelet.runtime, &kubelet.scope, &kubelet.metrics).await {
                Ok(relisted) => {
                    for uid in &relisted.changed {
                        workers.wake(uid);
                    }
                    last_relist = Some(relisted.pods);
                }
                Err(err) => tracing::warn!(cause = %err, "relisting containers failed"),
            },
            Some(uid) = probe_changes.recv() => workers.wake(&uid),
            _ = housekeeping.tick() => {
                workers.reap();
                let (Some(containers), true) = (last_relist.clone(), listed) else { continue };
                if cleaning.swap(true, Ordering::AcqRel) {
                    continue;
                }
                let known_uids: HashSet<String> = known.keys().cloned().collect();
                let working: HashSet<String> = containers.keys().filter(|uid| workers.has(uid)).cloned().collect();
                let kubelet = kubelet.clone();
                let cleaning = cleaning.clone();
                tokio::spawn(async move {
                    housekeeping::clean_up_orphans(&kubelet, &containers, &known_uids, &working).await;
                    cleaning.store(false, Ordering::Release);
                });
            }
        }
    }
    workers.wait().await;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(extra: serde_json::Value) -> Pod {
        let mut base = json!({
            "metadata": {"name": "web", "uid": "u1", "resourceVersion": "1", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "skiff/demo-web:v1"}]},
            "status": {"phase": "Pending"},
        });
        skiff_api::patch::merge_patch(&mut base, &extra);
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn only_changes_the_kubelet_acts_on_ask_for_a_sync() {
        let cases = [
            ("the same object", json!({}), false),
            ("a newer status", json!({"status": {"phase": "Running"}, "metadata": {"resourceVersion": "2"}}), false),
            ("managedFields", json!({"metadata": {"managedFields": [{"manager": "skiff-kubelet"}]}}), false),
            ("an image", json!({"spec": {"containers": [{"name": "app", "image": "skiff/demo-web:v2"}]}}), true),
            ("a label", json!({"metadata": {"labels": {"app": "web", "tier": "front"}}}), true),
            ("an annotation", json!({"metadata": {"annotations": {"note": "x"}}}), true),
            ("a deletion", json!({"metadata": {"deletionTimestamp": "2026-12-02T00:00:00Z"}}), true),
            ("a grace period", json!({"metadata": {"deletionGracePeriodSeconds": 0}}), true),
        ];
        let old = pod(json!({}));
        for (name, change, want) in cases {
            assert_eq!(differ_semantically(&old, &pod(change)), want, "{name}");
        }
    }
}
