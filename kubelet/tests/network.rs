//! The pod network: two kubelets on one host, their pods reaching each other by pod IP; the
//! pod's resolver with a cluster DNS server; the metrics endpoint.

mod common;

use common::docker::{node_name, Guard};
use common::{container_id, docker_exec, phase, Cluster, Kubelet};
use k8s_openapi::api::core::v1::Pod;
use skiff_client::Api;

fn pod(name: &str, node: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: web, image: "skiff/demo-web:v1"}}
  - {{name: tools, image: "skiff/toolbox:1", command: [sleep, "3600"]}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_two_kubelets_on_one_host_reach_each_other_by_pod_ip() {
    let cluster = Cluster::start().await;
    let (a, b) = (node_name("net-a"), node_name("net-b"));
    let (_guard_a, _guard_b) = (Guard::new(&a), Guard::new(&b));
    let mut config_a = cluster.kubelet_config(&a);
    config_a.pod_cidr = Some("10.244.241.0/24".into());
    config_a.cluster_dns = Some("10.96.0.10".parse().unwrap());
    let mut config_b = cluster.kubelet_config(&b);
    config_b.pod_cidr = Some("10.244.242.0/24".into());
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    config_b.metrics_listen = Some(metrics);
    let _kubelets = (Kubelet::start(config_a), Kubelet::start(config_b));
    cluster.apply(&(pod("on-a", &a) + "---" + &pod("on-b", &b))).await;
    let pods: Api<Pod> = Api::namespaced(cluster.client().await, "default");
    let running = |name: &'static str| {
        let pods = pods.clone();
        async move {
            common::eventually(60, name, || async { pods.get(name).await.ok().filter(|p| phase(p) == "Running") }).await
        }
    };
    let (on_a, on_b) = (running("on-a").await, running("on-b").await);
    let ip_a = on_a.status.as_ref().unwrap().pod_ip.clone().unwrap();
    let ip_b = on_b.status.as_ref().unwrap().pod_ip.clone().unwrap();
    assert!(ip_a.starts_with("10.244.241.") && ip_b.starts_with("10.244.242."), "{ip_a} {ip_b}");

    let tools_a = container_id(&on_a, "tools");
    let tools_b = container_id(&on_b, "tools");
    let (ok, answer) = docker_exec(&tools_a, &["wget", "-qO-", "-T", "5", &format!("http://{ip_b}:8080/hostname")]);
    assert!(ok && answer == "on-b", "a → b: {answer}");
    let (ok, answer) = docker_exec(&tools_b, &["wget", "-qO-", "-T", "5", &format!("http://{ip_a}:8080/hostname")]);
    assert!(ok && answer == "on-a", "b → a: {answer}");

    // Node a has a cluster DNS server: its pods' resolv.conf names it; node b's keep Docker's.
    let (_, resolv) = docker_exec(&tools_a, &["cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
    );
    let (_, resolv) = docker_exec(&tools_b, &["cat", "/etc/resolv.conf"]);
    assert!(!resolv.contains("10.96.0.10"), "{resolv}");
    let (_, hosts) = docker_exec(&tools_a, &["cat", "/etc/hosts"]);
    assert!(hosts.lines().any(|l| l.starts_with(&ip_a) && l.ends_with("on-a")), "{hosts}");

    // Each kubelet touched only its own containers.
    assert!(std::process::Command::new("docker")
        .args(["inspect", "-f", "{{index .Config.Labels \"io.skiff.node\"}}", &tools_b])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == b)
        .unwrap());

    let text = common::eventually(10, "metrics", || async {
        let out = tokio::process::Command::new("curl")
            .args(["-s", &format!("http://{metrics}/metrics")])
            .output()
            .await
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("kubelet_running_pods 1").then_some(text)
    })
    .await;
    assert!(text.contains("kubelet_pod_start_duration_seconds_count 1"), "{text}");
    assert!(text.contains("kubelet_started_containers_total{container_type=\"container\"} 2"), "{text}");
}
