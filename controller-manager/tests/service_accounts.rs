//! The ServiceAccount controller against the real API server, with kubectl: every namespace
//! gets its `default` account, a deleted one comes back, and a pod runs as `default` with the
//! default tolerations (the API server's admission).

use std::time::Duration;

use skiff_tests::control_plane::ControlPlane;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_namespace_holds_a_default_service_account_and_pods_run_as_it() {
    let plane = ControlPlane::start().await;
    let stop = CancellationToken::new();
    let config =
        skiff_controller_manager::Config { api: plane.grpc_address.to_string(), workers: 2, metrics_listen: None };
    tokio::spawn(skiff_controller_manager::run(config, stop.clone()));
    let plane = &plane;
    let uid = |namespace: &'static str| async move {
        let out = plane
            .kubectl(&["get", "serviceaccount", "default", "-n", namespace, "-o", "jsonpath={.metadata.uid}"])
            .await;
        String::from_utf8_lossy(&out.stdout).to_string()
    };

    for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        plane
            .eventually(&format!("{namespace}/default"), Duration::from_secs(20), || async move {
                !uid(namespace).await.is_empty()
            })
            .await;
    }
    plane.ok(&["create", "namespace", "dev"]).await;
    plane.eventually("dev/default", Duration::from_secs(20), || async move { !uid("dev").await.is_empty() }).await;
    let table = plane.ok(&["get", "sa", "-n", "dev"]).await;
    assert!(table.lines().any(|l| l.starts_with("default ")), "{table}");

    // Deleted, it comes back: a new object, with a new uid.
    let first = uid("dev").await;
    plane.ok(&["delete", "sa", "default", "-n", "dev"]).await;
    plane
        .eventually("dev/default again", Duration::from_secs(20), || {
            let first = first.clone();
            async move {
                let now = uid("dev").await;
                !now.is_empty() && now != first
            }
        })
        .await;

    // Other accounts are the user's: deleting one brings nothing back.
    plane.ok(&["create", "sa", "builder", "-n", "dev"]).await;
    plane.ok(&["delete", "sa", "builder", "-n", "dev"]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(plane.fails(&["get", "sa", "builder", "-n", "dev"]).await.contains("NotFound"));

    plane.ok(&["run", "box", "-n", "dev", "--image=skiff/toolbox:1", "--restart=Never", "--", "true"]).await;
    let spec = plane
        .ok(&[
            "get",
            "pod",
            "box",
            "-n",
            "dev",
            "-o",
            "jsonpath={.spec.serviceAccountName} {.spec.serviceAccount} {.spec.tolerations[*].key}",
        ])
        .await;
    assert_eq!(spec, "default default node.kubernetes.io/not-ready node.kubernetes.io/unreachable");
    let described = plane.ok(&["describe", "pod", "box", "-n", "dev"]).await;
    assert!(described.contains("node.kubernetes.io/not-ready:NoExecute op=Exists for 300s"), "{described}");
    stop.cancel();
}
