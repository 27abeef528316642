//! The Endpoints and EndpointSlice controller against the real API server, with kubectl. A
//! stand-in for the kubelet gives every pod an IP and marks it Ready.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use skiff_client::watcher::{watcher, Event, Retry};
use skiff_client::{Api, Client, ListParams, Patch};
use skiff_tests::control_plane::ControlPlane;
use tokio_util::sync::CancellationToken;

const APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: 'skiff/demo-web:v1', ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {tier: front}}
spec:
  selector: {app: web}
  ports: [{name: web, port: 80, targetPort: http}]
";

/// Gives every new pod an IP and the Ready condition.
fn run_pods(client: Client, stop: CancellationToken) {
    let next = Arc::new(AtomicU32::new(2));
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::all(client.clone());
        let events = watcher(pods.lister(ListParams::default()), Retry::default());
        let mut events = Box::pin(events.take_until(stop.cancelled_owned()));
        while let Some(event) = events.next().await {
            let fresh = match event {
                Event::Restarted(all) => all,
                Event::Applied(pod) => vec![pod],
                Event::Deleted(_) => continue,
            };
            for pod in fresh.into_iter().filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_none()) {
                let ip = format!("10.244.9.{}", next.fetch_add(1, Ordering::SeqCst));
                let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T00:00:00Z"}]}});
                let api: Api<Pod> = Api::namespaced(client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"));
                let _ = api.patch_status(pod.metadata.name.as_deref().unwrap_or_default(), &Patch::Merge(status)).await;
            }
        }
    });
}

async fn start() -> (ControlPlane, CancellationToken) {
    let plane = ControlPlane::start().await;
    let stop = CancellationToken::new();
    let config = skiff_controller_manager::Config { api: plane.grpc_address.to_string(), workers: 2, metrics_listen: None };
    tokio::spawn(skiff_controller_manager::run(config, stop.clone()));
    run_pods(plane.client("fake-kubelet").await, stop.clone());
    (plane, stop)
}

fn count_ips(text: &str) -> usize {
    text.split_whitespace().filter(|w| w.starts_with("10.244.9.")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_lists_its_ready_pods_by_resolved_port_and_follows_them() {
    let (plane, stop) = start().await;
    let plane = &plane;
    plane.ok_with_input(&["apply", "-f", "-"], APP).await;
    let addresses = ["get", "endpoints", "web", "-o", "jsonpath={.subsets[*].addresses[*].ip}"];
    plane
        .eventually("three addresses", Duration::from_secs(30), || async move {
            count_ips(&plane.ok(&addresses).await) == 3
        })
        .await;
    let port = plane.ok(&["get", "endpoints", "web", "-o", "jsonpath={.subsets[0].ports[0].port} {.subsets[0].ports[0].name}"]).await;
    assert_eq!(port, "8080 web", "the named targetPort resolved to the pod's port");
    assert_eq!(plane.ok(&["get", "endpoints", "web", "-o", "jsonpath={.metadata.labels.tier}"]).await, "front");
    let table = plane.ok(&["get", "ep", "web"]).await;
    assert!(table.contains(":8080"), "{table}");
    let slices = plane
        .ok(&["get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[*].endpoints[*].addresses[*]}"])
        .await;
    assert_eq!(count_ips(&slices), 3, "{slices}");

    // A pod that stops being ready moves to notReadyAddresses.
    let pod = plane.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"]).await;
    plane
        .ok(&["patch", "pod", &pod, "--subresource=status", "--type=merge", "-p",
              r#"{"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#])
        .await;
    let not_ready = ["get", "endpoints", "web", "-o", "jsonpath={.subsets[*].notReadyAddresses[*].ip}"];
    plane
        .eventually("one not ready address", Duration::from_secs(10), || async move {
            count_ips(&plane.ok(&not_ready).await) == 1
        })
        .await;

    // Scaling down shrinks the list; deleting the Service deletes its Endpoints and slices.
    plane.ok(&["scale", "deploy", "web", "--replicas=1"]).await;
    let all = ["get", "endpoints", "web", "-o", "jsonpath={.subsets[*].addresses[*].ip} {.subsets[*].notReadyAddresses[*].ip}"];
    plane.eventually("one pod left", Duration::from_secs(30), || async move { count_ips(&plane.ok(&all).await) == 1 }).await;
    plane.ok(&["delete", "service", "web"]).await;
    plane
        .eventually("endpoints gone", Duration::from_secs(10), || async move {
            !plane.kubectl(&["get", "endpoints", "web"]).await.status.success()
        })
        .await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_selector_keeps_the_endpoints_written_by_hand() {
    let (plane, stop) = start().await;
    let manual = "apiVersion: v1
kind: Service
metadata: {name: external}
spec:
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: external}
subsets:
- addresses: [{ip: 192.0.2.10}]
  ports: [{port: 5432}]
";
    plane.ok_with_input(&["apply", "-f", "-"], manual).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(plane.ok(&["get", "endpoints", "external", "-o", "jsonpath={.subsets[0].addresses[0].ip}"]).await, "192.0.2.10");
    stop.cancel();
}
