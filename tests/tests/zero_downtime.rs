//! No request fails while traffic moves: a whole cluster in this process (`common`), real
//! clients hammering a Service's ClusterIP, its NodePort and an Ingress while the Deployment
//! behind them is rolled from v1 to v2 to v3 and scaled down.
//!
//! Kubernetes itself drops requests here unless users add `preStop` sleeps (kubernetes#86280):
//! Skiff's kubelet waits until every proxy has applied a pod's removal before it stops it
//! (`client/src/rotation.rs`). Without that wait this test sees failed requests (a 502 from
//! the router, a refused connection through the ClusterIP).

mod common;

use std::time::Duration;

use common::load::Load;
use common::{free_node_port, Cluster};

fn app(node_port: u16) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  strategy: {{rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: skiff/demo-web:v1
        ports: [{{name: http, containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /ready, port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: http, nodePort: {node_port}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: shop}}
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.test
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_through_rolling_updates_and_a_scale_down() {
    let cluster = Cluster::start(1).await;
    let plane = &cluster.plane;
    cluster.apply(&app(free_node_port())).await;
    cluster.rolled_out("web").await;
    let paths = cluster.paths("web", "shop.example.test").await;
    cluster.answering(&paths, "v1").await;

    let load = Load::start(paths, 60);
    for image in ["skiff/demo-web:v2", "skiff/demo-web:v3"] {
        plane.ok(&["set", "image", "deployment/web", &format!("web={image}")]).await;
        cluster.rolled_out("web").await;
    }
    plane.ok(&["scale", "deployment/web", "--replicas=1"]).await;
    plane
        .eventually("one pod left", Duration::from_secs(60), || async move {
            let names = plane.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"]).await;
            names.split_whitespace().count() == 1
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = load.stop().await;
    eprintln!("{}", report.summary());

    report.assert_none_failed();
    for path in &report.paths {
        let versions = report.versions(path, |_| true);
        assert!(versions.contains_key("v1") && versions.contains_key("v3"), "through the {path}: {versions:?}");
        assert!(report.on(path).count() > 200, "through the {path}: {}", report.summary());
    }
    cluster.stop().await;
}
