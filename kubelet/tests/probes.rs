//! Probes and restarts end to end: liveness restarts, readiness gates Ready, crash loops back
//! off.

mod common;

use common::{condition, container_id, container_status, docker_exec, phase, state, Node};

const PROBED: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: skiff/demo-web:v1
    ports: [{name: http, containerPort: 8080}]
    livenessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, failureThreshold: 2}
    readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
  - name: poke
    image: skiff/toolbox:1
    command: [sleep, "3600"]
    readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_gates_ready_and_liveness_restarts_the_container() {
    let node = Node::start("probes", |_| {}).await;
    node.apply(PROBED).await;
    let pod = node
        .wait_for("probed", 60, "running, poke not ready", |p| {
            state(p, "web") == "running" && container_status(p, "web").is_some_and(|s| s.ready)
        })
        .await;
    assert_eq!(condition(&pod, "Ready").as_deref(), Some("False"), "poke's exec probe fails");
    let ready = pod.status.clone().unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.message.as_deref(), Some("containers with unready status: [poke]"));
    let poke = container_id(&pod, "poke");
    docker_exec(&poke, &["touch", "/tmp/ready"]);
    node.wait_for("probed", 20, "Ready", |p| condition(p, "Ready").as_deref() == Some("True")).await;

    // Readiness: /ready answers 500 from now on.
    docker_exec(&poke, &["wget", "-qO-", "--post-data=", "http://localhost:8080/fail/ready"]);
    let unready = node.wait_for("probed", 20, "not Ready", |p| condition(p, "Ready").as_deref() == Some("False")).await;
    let message =
        unready.status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "ContainersReady").unwrap().message;
    assert_eq!(message.as_deref(), Some("containers with unready status: [web]"));

    // Liveness: /healthz answers 500; two failures in a row restart the container.
    let first = container_id(&unready_pod(&node).await, "web");
    docker_exec(&poke, &["wget", "-qO-", "--post-data=", "http://localhost:8080/fail/live"]);
    let restarted = node
        .wait_for("probed", 30, "web restarted", |p| {
            container_status(p, "web").is_some_and(|s| s.restart_count == 1 && s.ready)
        })
        .await;
    assert_ne!(container_id(&restarted, "web"), first, "a new container");
    assert_eq!(phase(&restarted), "Running");
    let last = container_status(&restarted, "web").unwrap().last_state.unwrap().terminated.unwrap();
    assert_eq!(last.container_id.as_deref(), Some(format!("docker://{first}").as_str()));
    let events = node.events("probed").await;
    for wanted in [
        "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 500",
        "Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 500",
        "Killing: Container web failed liveness probe, will be restarted",
        "Started: Started container web",
        "Created: Created container web",
        "Pulled: Container image \"skiff/demo-web:v1\" already present on machine",
    ] {
        assert!(events.iter().any(|e| e == wanted), "{wanted} in {events:#?}");
    }
}

async fn unready_pod(node: &Node) -> k8s_openapi::api::core::v1::Pod {
    node.pods().get("probed").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_container_backs_off_in_crash_loop_back_off() {
    let node = Node::start("crash", |_| {}).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - {name: crash, image: "skiff/toolbox:1", command: [sh, -c, "echo dying; exit 1"]}
"#,
    )
    .await;
    let pod = node.wait_for("crash", 40, "CrashLoopBackOff", |p| state(p, "crash") == "waiting:CrashLoopBackOff").await;
    let uid = pod.metadata.uid.clone().unwrap();
    let status = container_status(&pod, "crash").unwrap();
    assert!(status.restart_count >= 1, "restarted once at once: {}", status.restart_count);
    assert_eq!(
        status.state.unwrap().waiting.unwrap().message.unwrap(),
        format!("back-off 10s restarting failed container=crash pod=crash_default({uid})")
    );
    let last = status.last_state.unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert_eq!(phase(&pod), "Running", "Always restarts it");
    let events = node.events("crash").await;
    let back_off = format!("BackOff: Back-off restarting failed container crash in pod crash_default({uid})");
    assert!(events.contains(&back_off), "{events:#?}");
    // After the 10 s back-off it runs (and crashes) again: restart count 2, then 20 s.
    let again = node
        .wait_for("crash", 30, "the second restart", |p| {
            container_status(p, "crash").is_some_and(|s| s.restart_count >= 2)
        })
        .await;
    let shown = node.cluster.ok(&["get", "pod", "crash", "--no-headers"]).await;
    assert!(shown.contains("CrashLoopBackOff") || shown.contains("Error"), "{shown}");
    let _ = again;
}
