//! Registration, status and the Lease against the real API server.

mod common;

use common::docker::{node_name, Guard};
use common::{eventually, Cluster, Kubelet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use skiff_client::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_registers_its_node_ready_and_renews_its_lease() {
    let cluster = Cluster::start().await;
    let node = node_name("node");
    let _guard = Guard::new(&node);
    let mut config = cluster.kubelet_config(&node);
    config.node_labels = [("zone".to_string(), "a".to_string())].into();
    config.pod_cidr = Some("10.244.201.0/24".into());
    let kubelet = Kubelet::start(config);
    let client = cluster.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let registered = eventually(20, "the node", || async { nodes.get_opt(&node).await.unwrap() }).await;
    let labels = registered.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], node);
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert_eq!(labels["zone"], "a");
    assert_eq!(registered.spec.unwrap().pod_cidr.as_deref(), Some("10.244.201.0/24"));

    let status = eventually(20, "a status", || async {
        nodes.get(&node).await.unwrap().status.filter(|s| s.conditions.is_some())
    })
    .await;
    let ready = status.conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_deref()), ("True", Some("KubeletReady")));
    let info = status.node_info.unwrap();
    assert_eq!(info.kubelet_version, "v1.31.0");
    assert!(info.container_runtime_version.starts_with("docker://"));
    let capacity = status.capacity.unwrap();
    assert_eq!(capacity["pods"].0, "110");
    let addresses: Vec<String> = status.addresses.unwrap().into_iter().map(|a| a.type_).collect();
    assert_eq!(addresses, ["InternalIP", "Hostname"]);

    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let first = eventually(20, "the lease", || async { leases.get_opt(&node).await.unwrap() }).await;
    let renewed_at = first.spec.unwrap().renew_time.unwrap();
    eventually(20, "a renewal", || async {
        let lease = leases.get(&node).await.unwrap();
        (lease.spec.unwrap().renew_time.unwrap() > renewed_at).then_some(())
    })
    .await;

    // kubectl shows it Ready, with its version.
    let shown = cluster.ok(&["get", "node", &node, "--no-headers"]).await;
    assert!(shown.contains("Ready") && shown.contains("v1.31.0"), "{shown}");
    kubelet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubelet_waits_for_its_api_server_and_stops_cleanly_meanwhile() {
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = skiff_kubelet::Config::new(&nowhere.to_string(), &node_name("early"));
    config.root_dir = dir.path().to_path_buf();
    let kubelet = Kubelet::start(config);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(!kubelet.done.as_ref().unwrap().is_finished(), "still trying, not failed");
    tokio::time::timeout(std::time::Duration::from_secs(5), kubelet.shutdown()).await.expect("stops at once");
}
