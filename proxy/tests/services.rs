//! The Service data path for real: the API server in process, skiff-proxy in process writing
//! real iptables rules, demo-web containers on a Docker network of the test's own as the
//! endpoints, and requests from the host and from containers.
//!
//! Needs root, Docker and Skiff's images (`make images`), as CI has. Each test has its own
//! network, chain prefix, ClusterIPs and NodePorts, so they run side by side and beside a
//! running cluster; see `support/mod.rs`.

mod support;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

/// Everything a test starts from.
struct World {
    _plane: ControlPlane,
    client: skiff_client::Client,
    net: TestNet,
    addresses: Addresses,
    proxy: Proxy,
    config: skiff_proxy::Config,
}

async fn world() -> World {
    let plane = ControlPlane::start().await;
    let client = plane.client("proxy-test").await;
    let net = TestNet::create();
    let mut addresses = Addresses::pick();
    let config = proxy_config(&plane, &net, &new_prefix(), addresses.cluster_ip());
    let proxy = Proxy::start(config.clone());
    World { _plane: plane, client, net, addresses, proxy, config }
}

/// Starts demo-web containers and waits until each answers directly.
async fn webs(net: &mut TestNet, hostnames: &[&str]) -> Vec<Ipv4Addr> {
    let ips: Vec<Ipv4Addr> = hostnames.iter().map(|h| net.web(h)).collect();
    for ip in &ips {
        let deadline = Instant::now() + Duration::from_secs(10);
        while get(SocketAddr::from((*ip, 8080)), "/hostname").await.is_err() {
            assert!(Instant::now() < deadline, "demo-web at {ip} does not answer");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    ips
}

fn http_port() -> Value {
    json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
}

fn ready(ips: &[Ipv4Addr]) -> Vec<Value> {
    ips.iter().map(|ip| endpoint(*ip, true, false, None)).collect()
}

/// How many of `n` new connections to `address` each backend answered.
async fn spread(address: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let hostname = get(address, "/hostname").await.unwrap_or_else(|e| panic!("GET http://{address}/hostname: {e}"));
        *seen.entry(hostname).or_insert(0) += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ip_and_node_port_spread_connections_over_every_ready_endpoint() {
    let mut w = world().await;
    let ips = webs(&mut w.net, &["web-a", "web-b", "web-c"]).await;
    let (cluster_ip, node_port) = (w.addresses.cluster_ip(), w.addresses.node_port_base);
    create_service(
        &w.client,
        "default",
        "web",
        json!({"type": "NodePort", "clusterIP": cluster_ip.to_string(),
               "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": node_port}]}),
    )
    .await;
    // The named targetPort arrives resolved in the slice: `http` is 8080.
    write_slice(&w.client, "default", "web", http_port(), ready(&ips)).await;
    w.proxy.wait_for_rule(&format!("{}:8080", ips[2])).await;

    let by_cluster_ip = spread(SocketAddr::from((cluster_ip, 80)), 60).await;
    assert_eq!(by_cluster_ip.len(), 3, "every endpoint answers: {by_cluster_ip:?}");
    assert!(by_cluster_ip.values().all(|n| *n >= 5), "a third each, roughly: {by_cluster_ip:?}");

    let node = SocketAddr::from((host_address(w.net.gateway), node_port));
    let by_node_port = spread(node, 30).await;
    assert_eq!(by_node_port.len(), 3, "every endpoint answers on {node}: {by_node_port:?}");
    // And on 127.0.0.1, as `curl localhost:30080` on a node expects (route_localnet).
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, node_port));
    let by_localhost = spread(local, 30).await;
    assert_eq!(by_localhost.len(), 3, "every endpoint answers on {local}: {by_localhost:?}");
    w.proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_a_ready_endpoint_refuses_at_once_from_the_host_and_from_pods() {
    let mut w = world().await;
    let ips = webs(&mut w.net, &["web-a"]).await;
    let toolbox = w.net.toolbox("client", None);
    let (cluster_ip, node_port) = (w.addresses.cluster_ip(), w.addresses.node_port_base);
    create_service(
        &w.client,
        "default",
        "empty",
        json!({"type": "NodePort", "clusterIP": cluster_ip.to_string(),
               "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": node_port}]}),
    )
    .await;
    // The only endpoint is alive but not ready: it must get nothing.
    write_slice(&w.client, "default", "empty", http_port(), vec![endpoint(ips[0], false, false, None)]).await;
    w.proxy.wait_for_rule("default/empty:http has no endpoints").await;

    let host = SocketAddr::from((host_address(w.net.gateway), node_port));
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, node_port));
    for address in [SocketAddr::from((cluster_ip, 80)), host, local] {
        let started = Instant::now();
        let result = tokio::net::TcpStream::connect(address).await;
        let took = started.elapsed();
        let err = result.expect_err("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{address}: {err}");
        assert!(took < Duration::from_millis(100), "{address} refused in {took:?}");
    }
    let started = Instant::now();
    let (ok, out) = exec(&toolbox, &format!("wget -qO- -T 5 http://{cluster_ip}/hostname")).await;
    assert!(!ok && out.contains("Connection refused"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(2), "a pod is refused at once too: {:?}", started.elapsed());

    // Ready now: the NodePort's REJECT goes and the DNAT comes, the traffic flows. The ClusterIP's
    // REJECT stays (it meets only untranslated connections), so that between the filter
    // table's commit and the nat table's no connection meets neither (CI once got a 404 from
    // whatever answers by the default route, before the REJECT was written always).
    write_slice(&w.client, "default", "empty", http_port(), ready(&ips)).await;
    w.proxy.wait_for_no_rule("has no endpoints").await;
    w.proxy.wait_for_rule(&format!("{}:8080", ips[0])).await;
    assert_eq!(get(SocketAddr::from((cluster_ip, 80)), "/hostname").await.unwrap(), "web-a");
    let (ok, out) = exec(&toolbox, &format!("wget -qO- -T 5 http://{cluster_ip}/hostname")).await;
    assert!(ok && out == "web-a", "{out}");
    w.proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_stops_being_ready_gets_no_new_connection_but_finishes_its_own() {
    let mut w = world().await;
    let ips = webs(&mut w.net, &["web-a", "web-b"]).await;
    let cluster_ip = w.addresses.cluster_ip();
    let service = SocketAddr::from((cluster_ip, 80));
    create_service(
        &w.client,
        "default",
        "web",
        json!({"clusterIP": cluster_ip.to_string(), "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
    )
    .await;
    write_slice(&w.client, "default", "web", http_port(), ready(&ips)).await;
    w.proxy.wait_for_rule(&format!("{}:8080", ips[1])).await;

    // A keep-alive connection, established through the Service to one of the two.
    let mut kept = Connection::open(service).await.unwrap();
    let first = kept.get("/hostname").await.unwrap();
    let (leaving, leaving_ip, staying) =
        if first == "web-a" { ("web-a", ips[0], ips[1]) } else { ("web-b", ips[1], ips[0]) };

    // It is terminating (still serving): out of rotation for new connections.
    let endpoints = vec![endpoint(leaving_ip, false, true, None), endpoint(staying, true, false, None)];
    write_slice(&w.client, "default", "web", http_port(), endpoints).await;
    w.proxy.wait_for_no_rule(&format!("{leaving_ip}:8080")).await;
    let fresh = spread(service, 30).await;
    assert!(!fresh.contains_key(leaving), "no new connection to the terminating endpoint: {fresh:?}");
    for _ in 0..5 {
        assert_eq!(kept.get("/hostname").await.unwrap(), leaving, "its own connection still works");
    }

    // Removed from the slice altogether: the same.
    write_slice(&w.client, "default", "web", http_port(), ready(&[staying])).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh = spread(service, 20).await;
    assert_eq!(fresh.len(), 1, "only the staying endpoint: {fresh:?}");
    assert_eq!(kept.get("/hostname").await.unwrap(), leaving);
    w.proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ip_affinity_pins_each_client_to_one_endpoint() {
    let mut w = world().await;
    let ips = webs(&mut w.net, &["web-a", "web-b", "web-c"]).await;
    let toolbox = w.net.toolbox("client", None);
    let cluster_ip = w.addresses.cluster_ip();
    create_service(
        &w.client,
        "default",
        "sticky",
        json!({"clusterIP": cluster_ip.to_string(), "sessionAffinity": "ClientIP",
               "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
               "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
    )
    .await;
    write_slice(&w.client, "default", "sticky", http_port(), ready(&ips)).await;
    w.proxy.wait_for_rule(&format!("{}:8080", ips[2])).await;

    let from_host = spread(SocketAddr::from((cluster_ip, 80)), 20).await;
    assert_eq!(from_host.len(), 1, "the host keeps one endpoint: {from_host:?}");
    let script = format!("for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- -T 5 http://{cluster_ip}/hostname; echo; done");
    let (ok, out) = exec(&toolbox, &script).await;
    assert!(ok, "{out}");
    let from_pod: std::collections::BTreeSet<&str> = out.lines().collect();
    assert_eq!(from_pod.len(), 1, "the pod keeps one endpoint: {out}");
    w.proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_reaches_itself_through_its_own_service() {
    let mut w = world().await;
    let ips = webs(&mut w.net, &["web-self"]).await;
    // A second container in the pod's network namespace: requests leave from the pod's IP.
    let sidecar = w.net.sidecar("web-self", "sidecar");
    w.net.hairpin();
    let cluster_ip = w.addresses.cluster_ip();
    create_service(
        &w.client,
        "default",
        "self",
        json!({"clusterIP": cluster_ip.to_string(), "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
    )
    .await;
    write_slice(&w.client, "default", "self", http_port(), ready(&ips)).await;
    w.proxy.wait_for_rule(&format!("{}:8080", ips[0])).await;
    for _ in 0..3 {
        let (ok, out) = exec(&sidecar, &format!("wget -qO- -T 3 http://{cluster_ip}/hostname")).await;
        assert!(ok && out == "web-self", "hairpin: {out}");
    }
    w.proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_restart_keeps_an_established_connection_and_shutdown_removes_every_rule() {
    let mut w = world().await;
    let ips = webs(&mut w.net, &["web-a"]).await;
    let cluster_ip = w.addresses.cluster_ip();
    create_service(
        &w.client,
        "default",
        "web",
        json!({"clusterIP": cluster_ip.to_string(), "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
    )
    .await;
    write_slice(&w.client, "default", "web", http_port(), ready(&ips)).await;
    w.proxy.wait_for_rule(&format!("{}:8080", ips[0])).await;
    let mut kept = Connection::open(SocketAddr::from((cluster_ip, 80))).await.unwrap();
    assert_eq!(kept.get("/hostname").await.unwrap(), "web-a");

    // `stop` asserts that no rule of the prefix is left.
    w.proxy.stop().await;
    assert_eq!(kept.get("/hostname").await.unwrap(), "web-a", "conntrack carries it with no rule at all");

    let proxy = Proxy::start(w.config.clone());
    proxy.wait_for_rule(&format!("{}:8080", ips[0])).await;
    for _ in 0..3 {
        assert_eq!(kept.get("/hostname").await.unwrap(), "web-a", "and through the restart");
    }
    assert_eq!(get(SocketAddr::from((cluster_ip, 80)), "/hostname").await.unwrap(), "web-a");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_change_is_in_the_kernel_within_tens_of_milliseconds() {
    let mut w = world().await;
    let ips = webs(&mut w.net, &["web-a", "web-b"]).await;
    let cluster_ip = w.addresses.cluster_ip();
    create_service(
        &w.client,
        "default",
        "web",
        json!({"clusterIP": cluster_ip.to_string(), "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
    )
    .await;
    write_slice(&w.client, "default", "web", http_port(), ready(&ips[..1])).await;
    w.proxy.wait_for_rule(&format!("{}:8080", ips[0])).await;
    // A watch of our own, to tell the API server's share of the time from the proxy's.
    let kind = skiff_client::api::Kind::new("discovery.k8s.io", "v1", "endpointslices");
    let params = skiff_client::ListParams::default();
    let (_, version) = w.client.list(&kind, Some("default"), &params).await.unwrap();
    let mut events = w.client.watch(&kind, Some("default"), &params, &version).await.unwrap();
    // Alternate the second endpoint in and out; time each write until the rules show it.
    let (mut took, mut delivered, mut written) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..10 {
        let started = Instant::now();
        let needle = format!("{}:8080", ips[1]);
        let endpoints = if round % 2 == 0 { ready(&ips) } else { ready(&ips[..1]) };
        write_slice(&w.client, "default", "web", http_port(), endpoints).await;
        written.push(started.elapsed());
        while futures::StreamExt::next(&mut events).await.unwrap().unwrap().kind == "BOOKMARK" {}
        delivered.push(started.elapsed());
        if round % 2 == 0 {
            w.proxy.wait_for_rule(&needle).await;
        } else {
            w.proxy.wait_for_no_rule(&needle).await;
        }
        took.push(started.elapsed());
    }
    took.sort();
    delivered.sort();
    written.sort();
    eprintln!("the write (get + replace) took: min {:?}, median {:?}, max {:?}", written[0], written[5], written[9]);
    eprintln!("endpoint change → rules in place: min {:?}, median {:?}, max {:?}", took[0], took[5], took[9]);
    eprintln!(
        "endpoint change → a watcher has it: min {:?}, median {:?}, max {:?}",
        delivered[0], delivered[5], delivered[9]
    );
    // The proxy's own view: from the change reaching it to the restore done.
    let metrics = skiff_client::metrics::render();
    for line in metrics.lines().filter(|l| {
        l.starts_with("kubeproxy_network_programming_duration_seconds_")
            || l.starts_with("kubeproxy_sync_proxy_rules_duration_seconds_")
    }) {
        eprintln!("{line}");
    }
    assert!(took[5] < Duration::from_millis(250), "median {:?}", took[5]);
    w.proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_service_range_routed_to_skiff_vips_served_cluster_ips_work_and_unserved_ones_stay_on_the_host() {
    let plane = ControlPlane::start().await;
    let client = plane.client("proxy-test").await;
    let mut net = TestNet::create();
    let mut addresses = Addresses::pick();
    let mut config = proxy_config(&plane, &net, &new_prefix(), addresses.cluster_ip());
    config.services.service_route = true;
    let route = || sh("ip", &["-4", "route", "show", "exact", "10.96.0.0/12"]).1;
    let there_before = route().contains("dev skiff-vips");
    let proxy = Proxy::start(config);
    let ips = webs(&mut net, &["web-a"]).await;
    let cluster_ip = addresses.cluster_ip();
    create_service(
        &client,
        "default",
        "web",
        json!({"clusterIP": cluster_ip.to_string(), "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
    )
    .await;
    write_slice(&client, "default", "web", http_port(), ready(&ips)).await;
    proxy.wait_for_rule(&format!("{}:8080", ips[0])).await;
    assert!(route().contains("dev skiff-vips"), "the range is routed: {}", route());

    assert_eq!(get(SocketAddr::from((cluster_ip, 80)), "/hostname").await.unwrap(), "web-a");
    // A ClusterIP no Service has: no rule DNATs it, and the port-less bridge drops it.
    let unserved = SocketAddr::from((addresses.cluster_ip(), 80));
    let attempt = tokio::time::timeout(Duration::from_millis(500), tokio::net::TcpStream::connect(unserved)).await;
    assert!(attempt.is_err(), "nothing answers an unserved ClusterIP: {attempt:?}");
    proxy.stop().await;
    if !there_before {
        assert!(!route().contains("skiff-vips"), "the route goes with the proxy that made it");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubelet_waiting_for_rotation_sees_the_pod_out_only_once_the_rules_no_longer_send_to_it() {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::api::core::v1::Pod;
    use skiff_client::rotation::{self, Rotation};
    let mut w = world().await;
    let ips = webs(&mut w.net, &["web-a", "web-b"]).await;
    let pods = skiff_client::Api::<Pod>::namespaced(w.client.clone(), "default");
    let mut uids = Vec::new();
    for name in ["web-a", "web-b"] {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v1"}]}}))
        .unwrap();
        uids.push(pods.create(&pod).await.unwrap().metadata.uid.unwrap());
    }
    // The slice as the Endpoints controller writes it: each endpoint names its pod.
    let endpoints = |ready_a: bool| {
        let one = |i: usize, ready: bool| {
            json!({"addresses": [ips[i].to_string()], "targetRef": {"kind": "Pod", "namespace": "default", "uid": uids[i]},
                   "conditions": {"ready": ready, "serving": true, "terminating": !ready}})
        };
        vec![one(0, ready_a), one(1, true)]
    };
    let cluster_ip = w.addresses.cluster_ip();
    create_service(
        &w.client,
        "default",
        "web",
        json!({"clusterIP": cluster_ip.to_string(), "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
    )
    .await;
    write_slice(&w.client, "default", "web", http_port(), endpoints(true)).await;
    w.proxy.wait_for_rule(&format!("{}:8080", ips[0])).await;

    let pod_a = pods.get("web-a").await.unwrap();
    let started = Instant::now();
    write_slice(&w.client, "default", "web", http_port(), endpoints(false)).await;
    let waited = rotation::wait_out_of_rotation(&w.client, &pod_a, Duration::from_secs(10)).await;
    assert_eq!(waited, Rotation::Out);
    let rules = saved_rules(&w.proxy.prefix);
    assert!(!rules.contains(&format!("{}:8080", ips[0])), "out of rotation means out of the rules:\n{rules}");
    assert!(rules.contains(&format!("{}:8080", ips[1])));
    eprintln!("slice write → the kubelet may stop the pod: {:?}", started.elapsed());

    let leases = skiff_client::Api::<Lease>::namespaced(w.client.clone(), rotation::NAMESPACE);
    assert!(leases.get_opt("skiff-proxy-node-test").await.unwrap().is_some());
    w.proxy.stop().await;
    assert!(leases.get_opt("skiff-proxy-node-test").await.unwrap().is_none(), "a stopped proxy is not waited for");
}
