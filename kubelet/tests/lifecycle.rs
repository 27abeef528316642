//! Deletion, graceful termination, a kubelet restart, image pulls.

mod common;

use std::time::{Duration, Instant};

use common::{container_id, container_status, phase, state, Kubelet, Node};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_runs_pre_stop_then_sigterm_and_removes_containers_before_the_pod() {
    let node = Node::start("term", |_| {}).await;
    let hooks = node.cluster.dir.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {name: polite}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 20
  volumes: [{name: hooks, hostPath: {path: HOOKS}}]
  containers:
  - name: web
    image: skiff/demo-web:v1
  - name: side
    image: skiff/toolbox:1
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    lifecycle:
      postStart: {exec: {command: [sh, -c, "echo hello > /hooks/started"]}}
      preStop: {exec: {command: [sh, -c, "echo bye > /hooks/said"]}}
    volumeMounts: [{name: hooks, mountPath: /hooks}]
---
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 3
  containers:
  - {name: sleeper, image: "skiff/toolbox:1", command: [sleep, "3600"]}
"#
    .replace("HOOKS", &hooks.display().to_string());
    node.apply(&yaml).await;
    node.wait_for("polite", 60, "Running", |p| phase(p) == "Running" && state(p, "side") == "running").await;
    node.wait_for("stubborn", 60, "Running", |p| phase(p) == "Running").await;
    assert_eq!(node.guard.containers().len(), 5, "two pause containers and three others");
    assert_eq!(std::fs::read_to_string(hooks.join("started")).unwrap(), "hello\n", "postStart ran");

    // demo-web and the trap exit on SIGTERM: the pod goes long before its 20 s.
    let started = Instant::now();
    node.cluster.ok(&["delete", "pod", "polite", "--wait=false"]).await;
    common::eventually(15, "polite gone", || async {
        node.pods().get_opt("polite").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(std::fs::read_to_string(hooks.join("said")).unwrap(), "bye\n", "preStop ran");
    assert_eq!(node.guard.containers().len(), 2, "its containers went before the pod object");

    // sleep ignores SIGTERM: it is killed at the end of its 3 s.
    let started = Instant::now();
    node.cluster.ok(&["delete", "pod", "stubborn", "--wait=false"]).await;
    common::eventually(15, "stubborn gone", || async {
        node.pods().get_opt("stubborn").await.unwrap().is_none().then_some(())
    })
    .await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(2900) && took < Duration::from_secs(10), "{took:?}");
    assert!(node.guard.containers().is_empty());
    let events = node.events("stubborn").await;
    assert!(events.iter().any(|e| e == "Killing: Stopping container sleeper"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_kubelet_adopts_running_pods_and_removes_those_deleted_meanwhile() {
    let mut node = Node::start("adopt", |c| c.pod_cidr = Some("10.244.230.0/24".into())).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: keep}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: skiff/demo-web:v1
    readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: gone}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: "skiff/toolbox:1", command: [sleep, "3600"]}
"#,
    )
    .await;
    let before = node.wait_for("keep", 60, "Ready", |p| container_status(p, "web").is_some_and(|s| s.ready)).await;
    node.wait_for("gone", 60, "Running", |p| phase(p) == "Running").await;
    let web = container_id(&before, "web");
    let ip = before.status.as_ref().unwrap().pod_ip.clone().unwrap();
    assert!(ip.starts_with("10.244.230."), "{ip}");

    node.kubelet.take().unwrap().shutdown().await;
    // While the kubelet is down: its pods keep running; one is deleted for good.
    let pods = node.pods();
    pods.delete("gone", &json!({"gracePeriodSeconds": 0})).await.unwrap();
    assert!(pods.get_opt("gone").await.unwrap().is_none());
    assert_eq!(node.guard.containers().len(), 4, "nothing was stopped by the shutdown");

    let mut config = node.cluster.kubelet_config(&node.name);
    config.pod_cidr = Some("10.244.230.0/24".into());
    node.kubelet = Some(Kubelet::start(config));
    common::eventually(20, "the orphans removed", || async { (node.guard.containers().len() == 2).then_some(()) })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = pods.get("keep").await.unwrap();
    assert_eq!(container_id(&after, "web"), web, "the same container, adopted");
    let status = container_status(&after, "web").unwrap();
    assert_eq!(status.restart_count, 0);
    assert!(status.ready, "ready as before: no flap out of the endpoints");
    assert_eq!(after.status.unwrap().pod_ip.unwrap(), ip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_is_err_image_pull_then_image_pull_back_off() {
    let node = Node::start("image", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: absent}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: "skiff/absent:0"}]
---
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: "skiff/absent:0", imagePullPolicy: Never}]
"#,
    )
    .await;
    let pulled = node.wait_for("absent", 60, "ErrImagePull", |p| state(p, "app") == "waiting:ErrImagePull").await;
    let message = container_status(&pulled, "app").unwrap().state.unwrap().waiting.unwrap().message.unwrap_or_default();
    assert!(!message.is_empty(), "Docker's message is shown");
    node.wait_for("absent", 30, "ImagePullBackOff", |p| state(p, "app") == "waiting:ImagePullBackOff").await;
    let events = node.events("absent").await;
    for wanted in [
        "Pulling: Pulling image \"skiff/absent:0\"",
        "Failed: Error: ErrImagePull",
        "BackOff: Back-off pulling image \"skiff/absent:0\"",
        "Failed: Error: ImagePullBackOff",
    ] {
        assert!(events.iter().any(|e| e == wanted), "{wanted} in {events:#?}");
    }
    assert!(events.iter().any(|e| e.starts_with("Failed: Failed to pull image \"skiff/absent:0\": ")), "{events:#?}");

    let never =
        node.wait_for("never", 30, "ErrImageNeverPull", |p| state(p, "app") == "waiting:ErrImageNeverPull").await;
    let message = container_status(&never, "app").unwrap().state.unwrap().waiting.unwrap().message;
    assert_eq!(message.as_deref(), Some("Container image \"skiff/absent:0\" is not present with pull policy of Never"));
    assert_eq!(phase(&never), "Pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_pod_succeeds_keeps_its_containers_for_logs_until_deleted() {
    let node = Node::start("done", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: job}
spec:
  nodeName: NODE
  restartPolicy: OnFailure
  containers: [{name: work, image: "skiff/toolbox:1", command: [sh, -c, "echo done"]}]
"#,
    )
    .await;
    let done = node.wait_for("job", 60, "Succeeded", |p| phase(p) == "Succeeded").await;
    assert_eq!(state(&done, "work"), "terminated:Completed:0");
    assert_eq!(common::condition(&done, "Ready").as_deref(), Some("False"));
    let shown = node.cluster.ok(&["get", "pod", "job", "--no-headers"]).await;
    assert!(shown.contains("Completed"), "{shown}");
    // The pause container is stopped; the containers stay (for `kubectl logs`).
    common::eventually(10, "the pause container stopped", || async {
        let out = std::process::Command::new("docker")
            .args(["ps", "-q", "--filter", &format!("label=io.skiff.node={}", node.name)])
            .output()
            .unwrap();
        out.stdout.is_empty().then_some(())
    })
    .await;
    assert_eq!(node.guard.containers().len(), 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        container_status(&node.pods().get("job").await.unwrap(), "work").unwrap().restart_count,
        0,
        "not restarted"
    );

    // A finished pod is deleted at once by the API server; its kubelet then removes what is left.
    node.cluster.ok(&["delete", "pod", "job"]).await;
    common::eventually(15, "the containers removed", || async { node.guard.containers().is_empty().then_some(()) })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_cannot_start_fails_a_never_pod_with_start_error_and_is_restarted_under_always() {
    let node = Node::start("starterr", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers: [{name: app, image: "skiff/toolbox:1", command: ["/no/such/binary"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: again}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: "skiff/toolbox:1", command: ["/no/such/binary"]}]
"#,
    )
    .await;
    let failed = node.wait_for("once", 60, "Failed", |p| phase(p) == "Failed").await;
    assert_eq!(state(&failed, "app"), "terminated:StartError:128");
    let status = container_status(&failed, "app").unwrap();
    let terminated = status.state.unwrap().terminated.unwrap();
    let message = terminated.message.unwrap_or_default();
    assert!(message.contains("/no/such/binary"), "Docker's error is the message: {message}");
    assert!(terminated.finished_at.is_some() && terminated.container_id.is_some());
    assert_eq!(status.restart_count, 0, "Never: no retry");
    let shown = node.cluster.ok(&["get", "pod", "once", "--no-headers"]).await;
    assert!(shown.contains("StartError"), "{shown}");
    let events = node.events("once").await;
    assert!(events.iter().any(|e| e.starts_with("Failed: Error: ") && e.contains("/no/such/binary")), "{events:#?}");

    let restarted = node
        .wait_for("again", 60, "restarted and backing off", |p| {
            container_status(p, "app").is_some_and(|s| s.restart_count > 0)
                && state(p, "app") == "waiting:CrashLoopBackOff"
        })
        .await;
    let last = container_status(&restarted, "app").unwrap().last_state.unwrap().terminated.unwrap();
    assert_eq!((last.reason.as_deref(), last.exit_code), (Some("StartError"), 128));
    assert_eq!(phase(&restarted), "Running", "being restarted, as a crash-looping pod is");
}
