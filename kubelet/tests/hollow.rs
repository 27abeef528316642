//! A hollow node: the real kubelet over the FakeRuntime (as kubemark runs it), against the real
//! API server. No Docker: the pod's whole life is visible in the runtime's recorded calls.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{eventually, phase, Cluster};
use k8s_openapi::api::core::v1::Pod;
use skiff_client::Api;
use skiff_kubelet::runtime::fake::FakeRuntime;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hollow_node_runs_and_deletes_a_pod_through_the_fake_runtime() {
    let cluster = Cluster::start().await;
    let mut config = cluster.kubelet_config("hollow-1");
    config.pod_cidr = Some("10.244.250.0/24".into());
    config.network.name = "fake".into();
    let runtime = FakeRuntime::new().with_image("skiff/pause:1").with_image("skiff/demo-web:v1");
    let stop = CancellationToken::new();
    let kubelet = tokio::spawn(skiff_kubelet::run_with_runtime(config, Arc::new(runtime.clone()), stop.clone()));
    cluster
        .apply(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: hollow-1
  terminationGracePeriodSeconds: 5
  containers: [{name: web, image: "skiff/demo-web:v1"}]
"#,
        )
        .await;
    let pods: Api<Pod> = Api::namespaced(cluster.client().await, "default");
    let running =
        eventually(20, "Running", || async { pods.get("web").await.ok().filter(|p| phase(p) == "Running") }).await;
    let status = running.status.unwrap();
    assert_eq!(status.pod_ip.as_deref(), Some("10.244.250.2"), "the first address of the pod CIDR (.1 is a host's)");
    let container = &status.container_statuses.unwrap()[0];
    assert!(container.ready && container.image_id.starts_with("docker://sha256:"));
    let pod_uid = running.metadata.uid.clone().unwrap();

    let calls = runtime.calls();
    let started: Vec<&String> =
        calls.iter().filter(|c| c.starts_with("create_container") || c.starts_with("start_container")).collect();
    assert_eq!(
        started,
        vec![
            &format!("create_container k8s_POD_web_default_{pod_uid}_0"),
            &format!("start_container k8s_POD_web_default_{pod_uid}_0"),
            &format!("create_container k8s_web_web_default_{pod_uid}_0"),
            &format!("start_container k8s_web_web_default_{pod_uid}_0"),
        ]
    );

    pods.delete("web", &serde_json::Value::Null).await.unwrap();
    eventually(20, "the pod gone", || async { pods.get_opt("web").await.unwrap().is_none().then_some(()) }).await;
    let calls = runtime.calls();
    let web = format!("k8s_web_web_default_{pod_uid}_0");
    assert!(calls.contains(&format!("stop_container {web} 5s")), "stopped with its grace period: {calls:#?}");
    assert!(calls.contains(&format!("remove_container {web}")));
    assert!(runtime.containers().is_empty(), "everything removed before the pod object went");

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), kubelet).await.unwrap().unwrap().unwrap();
}
