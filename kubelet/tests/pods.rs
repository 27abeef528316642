//! Pods end to end: skiff-store, skiff-apiserver and skiff-kubelet in process, real Docker.

mod common;

use common::{container_id, docker_exec, phase, state, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_containers_share_localhost_and_an_empty_dir() {
    let node = Node::start("pair", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: pair, labels: {app: pair}}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  volumes: [{name: shared, emptyDir: {}}]
  containers:
  - name: web
    image: skiff/demo-web:v1
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: client
    image: skiff/toolbox:1
    command: [sh, -c]
    args: ["until wget -qO /shared/version http://localhost:8080/version; do sleep 0.2; done; echo $(hostname) > /shared/who; exec sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /shared}]
"#,
    )
    .await;
    let pod = node
        .wait_for("pair", 60, "Running and Ready", |p| {
            phase(p) == "Running" && common::condition(p, "Ready").as_deref() == Some("True")
        })
        .await;
    let status = pod.status.clone().unwrap();
    let ip = status.pod_ip.clone().unwrap();
    assert!(ip.starts_with("10.244."), "{ip}");
    assert_eq!(state(&pod, "web"), "running");
    let client = container_id(&pod, "client");
    let who = common::eventually(20, "the client's files", || async {
        let (ok, out) = docker_exec(&client, &["cat", "/shared/version", "/shared/who"]);
        (ok && out.ends_with('\n')).then_some(out)
    })
    .await;
    assert_eq!(who, "v1pair\n", "localhost reached the web container; the hostname is the pod's");
    // The web container serves the file the client wrote into the shared emptyDir.
    let (ok, served) = docker_exec(&client, &["wget", "-qO-", &format!("http://{ip}:8080/file/shared/who")]);
    assert!(ok, "the pod IP answers");
    assert_eq!(served, "pair\n");
    let shown = node.cluster.ok(&["get", "pod", "pair", "--no-headers"]).await;
    assert!(shown.contains("2/2") && shown.contains("Running"), "{shown}");
}
