//! The Deployment and ReplicaSet controllers as a daemon, against the real API server, driven
//! by the real kubectl. No kubelet runs here: a stand-in marks every pod Running and Ready a
//! moment after it appears (as Kubernetes' own deployment integration tests do), so rollouts
//! progress.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use skiff_client::watcher::{watcher, Event, Retry};
use skiff_client::{Api, Client, ListParams};
use skiff_tests::control_plane::ControlPlane;
use tokio_util::sync::CancellationToken;

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {kubernetes.io/change-cause: first}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: 'skiff/demo-web:v1'}]
";

/// Marks every pod Running and Ready: the kubelet's part, faked.
fn ready_every_pod(client: Client, stop: CancellationToken) {
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::all(client.clone());
        let mut events = Box::pin(watcher(pods.lister(ListParams::default()), Retry::default()).take_until(stop.cancelled_owned()));
        while let Some(event) = events.next().await {
            let fresh = match event {
                Event::Restarted(all) => all,
                Event::Applied(pod) => vec![pod],
                Event::Deleted(_) => continue,
            };
            for pod in fresh {
                let ready = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                if ready || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let namespace = pod.metadata.namespace.clone().unwrap_or_default();
                let name = pod.metadata.name.clone().unwrap_or_default();
                let status = json!({"status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T00:00:00Z"}]}});
                let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
                let _ = api.patch_status(&name, &skiff_client::Patch::Merge(status)).await;
            }
        }
    });
}

async fn start() -> (ControlPlane, CancellationToken) {
    let plane = ControlPlane::start().await;
    let stop = CancellationToken::new();
    let config = skiff_controller_manager::Config { api: plane.grpc_address.to_string(), workers: 2, metrics_listen: None };
    tokio::spawn(skiff_controller_manager::run(config, stop.clone()));
    ready_every_pod(plane.client("fake-kubelet").await, stop.clone());
    (plane, stop)
}

async fn pods_of(plane: &ControlPlane, selector: &str) -> Vec<String> {
    let out = plane.ok(&["get", "pods", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}"]).await;
    out.split_whitespace().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_rolls_out_records_history_and_rolls_back() {
    let (plane, stop) = start().await;
    assert_eq!(plane.ok_with_input(&["apply", "-f", "-"], WEB).await.trim(), "deployment.apps/web created");
    let status = plane.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(status.contains("deployment \"web\" successfully rolled out"), "{status}");
    assert_eq!(pods_of(&plane, "app=web").await.len(), 3);
    let rs = plane.ok(&["get", "rs", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"]).await;
    assert!(rs.starts_with("web-") && !rs.contains(' '), "one ReplicaSet named after the template hash: {rs}");

    // A new image: a second ReplicaSet, rolled to, the first scaled to zero.
    let v2 = WEB.replace("demo-web:v1", "demo-web:v2").replace("change-cause: first", "change-cause: second");
    assert_eq!(plane.ok_with_input(&["apply", "-f", "-"], &v2).await.trim(), "deployment.apps/web configured");
    let status = plane.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(status.contains("successfully rolled out"), "{status}");
    let history = plane.ok(&["rollout", "history", "deployment/web"]).await;
    assert!(history.contains("1         first") && history.contains("2         second"), "{history}");

    assert_eq!(plane.ok(&["rollout", "undo", "deployment/web"]).await.trim(), "deployment.apps/web rolled back");
    plane.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let image = plane.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"]).await;
    assert_eq!(image, "skiff/demo-web:v1");
    let history = plane.ok(&["rollout", "history", "deployment/web"]).await;
    assert!(history.contains("2         second") && history.contains("3         first"), "revision 1 renumbered to 3: {history}");
    let replica_sets = plane.ok(&["get", "rs", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"]).await;
    assert_eq!(replica_sets.split_whitespace().count(), 2, "the old ReplicaSet is re-adopted, not duplicated");

    // Scaling, and the events kubectl describe shows.
    plane.ok(&["scale", "deploy", "web", "--replicas=5"]).await;
    let plane = &plane;
    plane.eventually("5 pods", Duration::from_secs(30), || async move { pods_of(plane, "app=web").await.len() == 5 }).await;
    let describe = plane.ok(&["describe", "deploy", "web"]).await;
    assert!(describe.contains("ScalingReplicaSet"), "{describe}");
    assert!(describe.contains("Replicas:               5 desired | 5 updated | 5 total"), "{describe}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_is_replaced_and_pausing_holds_the_rollout() {
    let (plane, stop) = start().await;
    plane.ok_with_input(&["apply", "-f", "-"], WEB).await;
    plane.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let before = pods_of(&plane, "app=web").await;
    plane.ok(&["delete", "pod", &before[0], "--wait=false"]).await;
    let plane = &plane;
    let gone = before[0].clone();
    plane
        .eventually("a replacement pod", Duration::from_secs(30), || {
            let gone = gone.clone();
            async move {
                let now = pods_of(plane, "app=web").await;
                now.len() == 3 && !now.contains(&gone)
            }
        })
        .await;

    plane.ok(&["rollout", "pause", "deployment/web"]).await;
    plane.ok(&["set", "image", "deployment/web", "web=skiff/demo-web:v3"]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let replica_sets = plane.ok(&["get", "rs", "-o", "jsonpath={.items[*].metadata.name}"]).await;
    assert_eq!(replica_sets.split_whitespace().count(), 1, "paused: no new ReplicaSet");
    let progressing = plane
        .ok(&["get", "deploy", "web", "-o", "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}"])
        .await;
    assert_eq!(progressing, "DeploymentPaused");
    plane.ok(&["rollout", "resume", "deployment/web"]).await;
    let status = plane.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    assert!(status.contains("successfully rolled out"), "{status}");
    let images = plane.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.containers[0].image}"]).await;
    assert!(images.split_whitespace().all(|i| i == "skiff/demo-web:v3"), "{images}");
    stop.cancel();
}
