//! A whole cluster in this process — store, API server, scheduler, controller-manager, a
//! kubelet on real Docker and skiff-proxy — driven by the real kubectl: what a user of
//! `make up` does first.
//!
//! Every container the test's kubelet makes carries `io.skiff.node=<this test's node>`, and the
//! cluster (`common`) removes them all when the test ends, also on failure.

mod common;

use std::process::Command;
use std::time::Duration;

use common::Cluster;

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: skiff/demo-web:v1
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_runs_on_docker_and_kubectl_logs_exec_run_and_delete_work() {
    let cluster = Cluster::start(1).await;
    let node = &cluster.nodes[0];
    let plane = &cluster.plane;
    plane.ok_with_input(&["apply", "-f", "-"], WEB).await;
    let status = plane.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]).await;
    assert!(status.contains("successfully rolled out"), "{status}");
    let pods = plane.ok(&["get", "pods", "-l", "app=web", "-o", "wide"]).await;
    assert_eq!(
        pods.lines().filter(|l| l.contains("1/1") && l.contains("Running") && l.contains(node.as_str())).count(),
        2,
        "{pods}"
    );

    // Logs through the API server from the pod's kubelet.
    let pod = plane.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"]).await;
    let ip = plane.ok(&["get", "pod", &pod, "-o", "jsonpath={.status.podIP}"]).await;
    assert!(ip.starts_with("10.244."), "{ip}");

    // A toolbox pod: exec with an exit code, and the pod network from inside.
    plane.ok(&["run", "box", "--image=skiff/toolbox:1", "--restart=Never", "--", "sleep", "3600"]).await;
    plane.ok(&["wait", "--for=condition=Ready", "pod/box", "--timeout=60s"]).await;
    let fetched = plane.ok(&["exec", "box", "--", "wget", "-qO-", &format!("http://{ip}:8080/version")]).await;
    assert_eq!(fetched, "v1");
    let failed = plane.kubectl(&["exec", "box", "--", "sh", "-c", "exit 3"]).await;
    assert_eq!(failed.status.code(), Some(3), "{}", String::from_utf8_lossy(&failed.stderr));
    let piped = plane.kubectl_with_input(&["exec", "-i", "box", "--", "cat"], Some("through stdin\n")).await;
    assert_eq!(String::from_utf8_lossy(&piped.stdout), "through stdin\n");

    // kubectl run -i --rm: attach, then the pod is gone.
    let out = plane
        .kubectl_with_input(
            &[
                "run",
                "once",
                "-i",
                "--rm",
                "--restart=Never",
                "--image=skiff/toolbox:1",
                "--",
                "sh",
                "-c",
                "read line; echo got $line",
            ],
            Some("hello\n"),
        )
        .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("got hello"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("pod \"once\" deleted"), "{text}");

    let logs = plane.ok(&["logs", "box"]).await;
    assert!(logs.is_empty(), "sleep writes nothing: {logs}");
    let web_logs = plane.kubectl(&["logs", &pod]).await;
    assert!(web_logs.status.success(), "{}", String::from_utf8_lossy(&web_logs.stderr));

    // Deleting the Deployment takes its pods and their containers with it.
    plane.ok(&["delete", "deploy", "web"]).await;
    plane
        .eventually("the web pods are gone", Duration::from_secs(60), || async move {
            plane.ok(&["get", "pods", "-l", "app=web", "-o", "name"]).await.trim().is_empty()
        })
        .await;
    let left = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=io.skiff.node={node}"),
            "--filter",
            "label=io.kubernetes.pod.name",
        ])
        .output()
        .unwrap();
    let running = String::from_utf8_lossy(&left.stdout).lines().count();
    // Only the toolbox pod's two containers (pause and box) are left.
    assert_eq!(running, 2, "containers left running");
    cluster.stop().await;
}
