//! A whole cluster in this process — store, API server, scheduler, controller-manager and a
//! kubelet on real Docker — driven by the real kubectl: what a user of `make up` does first.
//!
//! Every container the test's kubelet makes carries `io.skiff.node=<this test's node>`, and a
//! guard removes them all when the test ends, also on failure.

use std::process::Command;
use std::time::Duration;

use skiff_tests::control_plane::ControlPlane;
use tokio_util::sync::CancellationToken;

/// Removes the node's containers when dropped.
struct Containers(String);

impl Drop for Containers {
    fn drop(&mut self) {
        let out = Command::new("docker").args(["ps", "-aq", "--filter", &format!("label=io.skiff.node={}", self.0)]).output();
        let ids: Vec<String> = out.map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()).unwrap_or_default();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
        }
    }
}

struct Cluster {
    plane: ControlPlane,
    stop: CancellationToken,
    node: String,
    _containers: Containers,
}

impl Cluster {
    async fn start() -> Cluster {
        let plane = ControlPlane::start().await;
        let stop = CancellationToken::new();
        let api = plane.grpc_address.to_string();
        let scheduler = skiff_scheduler::Config {
            api: api.clone(),
            scheduler_name: skiff_scheduler::DEFAULT_SCHEDULER_NAME.into(),
            metrics_listen: None,
        };
        tokio::spawn(skiff_scheduler::run(scheduler, stop.clone()));
        let controllers = skiff_controller_manager::Config { api: api.clone(), workers: 2, metrics_listen: None };
        tokio::spawn(skiff_controller_manager::run(controllers, stop.clone()));
        let node = format!("e2e-{}", std::process::id());
        let containers = Containers(node.clone());
        let mut kubelet = skiff_kubelet::Config::new(&api, &node);
        kubelet.root_dir = plane.dir.path().join("kubelet");
        let streams = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        kubelet.listen = Some(streams);
        tokio::spawn(skiff_kubelet::run(kubelet, stop.clone()));
        let cluster = Cluster { plane, stop, node, _containers: containers };
        let plane = &cluster.plane;
        let name = cluster.node.clone();
        plane
            .eventually("the node is Ready", Duration::from_secs(60), || {
                let name = name.clone();
                async move {
                    let jsonpath = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";
                    plane.kubectl(&["get", "node", &name, "-o", jsonpath]).await.stdout == b"True"
                }
            })
            .await;
        cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

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
    let cluster = Cluster::start().await;
    let plane = &cluster.plane;
    plane.ok_with_input(&["apply", "-f", "-"], WEB).await;
    let status = plane.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]).await;
    assert!(status.contains("successfully rolled out"), "{status}");
    let pods = plane.ok(&["get", "pods", "-l", "app=web", "-o", "wide"]).await;
    assert_eq!(pods.lines().filter(|l| l.contains("1/1") && l.contains("Running") && l.contains(&cluster.node)).count(), 2, "{pods}");

    // Logs through the API server from the pod's kubelet.
    let pod = plane.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"]).await;
    let ip = plane.ok(&["get", "pod", &pod, "-o", "jsonpath={.status.podIP}"]).await;
    assert!(ip.starts_with("10.244."), "{ip}");

    // A toolbox pod: exec with an exit code, and the pod network from inside.
    plane
        .ok(&["run", "box", "--image=skiff/toolbox:1", "--restart=Never", "--", "sleep", "3600"])
        .await;
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
            &["run", "once", "-i", "--rm", "--restart=Never", "--image=skiff/toolbox:1", "--", "sh", "-c", "read line; echo got $line"],
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
        .args(["ps", "-q", "--filter", &format!("label=io.skiff.node={}", cluster.node), "--filter", "label=io.kubernetes.pod.name"])
        .output()
        .unwrap();
    let running = String::from_utf8_lossy(&left.stdout).lines().count();
    // Only the toolbox pod's two containers (pause and box) are left.
    assert_eq!(running, 2, "containers left running");
}
