//! Server-side apply and field ownership with the real kubectl.

mod common;

use common::Cluster;

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: skiff/demo-web:v1
        ports: [{containerPort: 8080}]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_server_side_creates_updates_and_reports_conflicts_like_kubernetes() {
    let cluster = Cluster::start().await;
    let applied = cluster.ok_with_input(&["apply", "--server-side", "-f", "-"], DEPLOYMENT).await;
    assert_eq!(applied.trim(), "deployment.apps/web serverside-applied");
    let again = cluster.ok_with_input(&["apply", "--server-side", "-f", "-"], DEPLOYMENT).await;
    assert_eq!(again.trim(), "deployment.apps/web serverside-applied");
    let rv = ["get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}"];
    let before = cluster.ok(&rv).await;
    cluster.ok_with_input(&["apply", "--server-side", "-f", "-"], DEPLOYMENT).await;
    assert_eq!(cluster.ok(&rv).await, before, "an unchanged re-apply writes nothing");

    let managers = cluster
        .ok(&["get", "deploy", "web", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}"])
        .await;
    assert_eq!(managers, "kubectl");

    // Another manager takes the replicas: the next apply that sets them conflicts.
    cluster.ok(&["scale", "deploy", "web", "--replicas=5"]).await;
    let conflict = cluster.fails_with_input(&["apply", "--server-side", "-f", "-"], DEPLOYMENT).await;
    assert!(conflict.contains("Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\""), "{conflict}");
    assert!(conflict.contains(".spec.replicas"), "{conflict}");
    let forced = cluster.ok_with_input(&["apply", "--server-side", "--force-conflicts", "-f", "-"], DEPLOYMENT).await;
    assert_eq!(forced.trim(), "deployment.apps/web serverside-applied");
    assert_eq!(cluster.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]).await, "2");

    // A field dropped from the manifest is removed.
    let without_ports = DEPLOYMENT.replace("        ports: [{containerPort: 8080}]\n", "");
    cluster.ok_with_input(&["apply", "--server-side", "-f", "-"], &without_ports).await;
    let ports = cluster.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].ports}"]).await;
    let json = cluster.ok(&["get", "deploy", "web", "-o", "json"]).await;
    assert!(ports.is_empty(), "{ports}: {json}");

    // Client-side writes record their ownership too.
    cluster.ok(&["label", "deploy", "web", "tier=front"]).await;
    let managers = cluster
        .ok(&["get", "deploy", "web", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}"])
        .await;
    assert!(managers.contains("kubectl-label"), "{managers}");
}
