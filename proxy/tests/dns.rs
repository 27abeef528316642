//! The cluster DNS for real: skiff-proxy in process serving on the test network's gateway,
//! the kube-dns Service it creates DNATed to it, and toolbox containers whose resolv.conf is
//! the kubelet's (`nameserver <kube-dns>`, the search path, `ndots:5`) asking with busybox's
//! `nslookup` and Skiff's `wget`.
//!
//! Names outside the cluster go to an upstream the test runs on loopback (the forwarder's
//! address is part of the proxy's configuration), so no query leaves the host.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;
use skiff_client::Api;
use support::*;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

/// An upstream resolver on loopback that knows one name: `example.test` → 192.0.2.77.
/// Cancelling `stop` closes its socket, so that queries to it are refused.
async fn fake_upstream(stop: CancellationToken) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buffer = vec![0; 4096];
        loop {
            let (n, from) = tokio::select! {
                _ = stop.cancelled() => return,
                received = socket.recv_from(&mut buffer) => received.unwrap(),
            };
            let Ok(query) = Message::from_vec(&buffer[..n]) else { continue };
            let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
            answer.metadata.recursion_desired = query.metadata.recursion_desired;
            answer.metadata.recursion_available = true;
            answer.queries = query.queries.clone();
            let question = &query.queries[0];
            if question.name().to_ascii() == "example.test." && question.query_type() == RecordType::A {
                answer.answers.push(Record::from_rdata(
                    question.name().clone(),
                    60,
                    RData::A(A(Ipv4Addr::new(192, 0, 2, 77))),
                ));
            } else {
                answer.metadata.response_code = ResponseCode::NXDomain;
            }
            let _ = socket.send_to(&answer.to_vec().unwrap(), from).await;
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_resolve_services_headless_pods_srv_and_get_nxdomain_for_unknown_names() {
    let plane = ControlPlane::start().await;
    let client = plane.client("dns-test").await;
    let mut net = TestNet::create();
    let mut addresses = Addresses::pick();
    let dns_ip = addresses.cluster_ip();
    let upstream_stop = CancellationToken::new();
    let mut config = proxy_config(&plane, &net, &new_prefix(), dns_ip);
    config.dns.upstreams = Some(vec![fake_upstream(upstream_stop.clone()).await]);
    let proxy = Proxy::start(config);

    // web: a ClusterIP Service; db: headless, with two StatefulSet pods.
    let (web, db_0, db_1) = (net.web("web-a"), net.web("db-0"), net.web("db-1"));
    let web_ip = addresses.cluster_ip();
    create_service(
        &client,
        "default",
        "web",
        json!({"clusterIP": web_ip.to_string(), "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}),
    )
    .await;
    write_slice(
        &client,
        "default",
        "web",
        json!([{"name": "http", "port": 8080}]),
        vec![endpoint(web, true, false, None)],
    )
    .await;
    create_service(&client, "default", "db", json!({"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}))
        .await;
    let pods = vec![endpoint(db_0, true, false, Some("db-0")), endpoint(db_1, true, false, Some("db-1"))];
    write_slice(&client, "default", "db", json!([{"name": "pg", "port": 5432, "protocol": "TCP"}]), pods).await;

    // The kube-dns Service (created by the proxy) is DNATed to the server.
    proxy.wait_for_rule(&format!("--to-destination {}:53", net.gateway)).await;
    let dir = tempfile::tempdir().unwrap();
    let resolv_conf = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv_conf,
        format!(
            "nameserver {dns_ip}\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
        ),
    )
    .unwrap();
    let pod = net.toolbox("client", Some(&resolv_conf));

    // busybox's nslookup asks every name of the search path at once and prints each answer,
    // the NXDOMAINs of the other expansions too (and exits 1 for them): read what it found.
    let found = |out: &str, name: &str, ip: Ipv4Addr| out.contains(&format!("Name:\t{name}\nAddress: {ip}\n"));
    let (_, out) = exec(&pod, "nslookup web").await;
    assert!(found(&out, "web.default.svc.cluster.local", web_ip), "nslookup web: {out}");
    // (busybox's nslookup tries the search path only for names without a dot; glibc, which
    // Skiff's wget uses, follows `ndots:5` as pods' programs do.)
    let (ok, out) = exec(&pod, "wget -qO- -T 5 http://web.default:8080/version").await;
    assert!(ok && out == "v1", "wget web.default: {out}");
    let (ok, out) = exec(&pod, "wget -qO- -T 5 http://web.default.svc.cluster.local:8080/version").await;
    assert!(ok && out == "v1", "wget by the full name: {out}");
    let (ok, out) = exec(&pod, "wget -qO- -T 5 http://web:8080/hostname").await;
    assert!(ok && out == "web-a", "wget by the short name: {out}");

    let (_, out) = exec(&pod, "nslookup db").await;
    let db = "db.default.svc.cluster.local";
    assert!(found(&out, db, db_0) && out.contains(&format!("Address: {db_1}\n")), "headless: {out}");
    let (_, out) = exec(&pod, "nslookup db-1.db.default.svc.cluster.local").await;
    assert!(
        found(&out, "db-1.db.default.svc.cluster.local", db_1) && !out.contains(&db_0.to_string()),
        "a pod by hostname: {out}"
    );
    let (_, out) = exec(&pod, "nslookup -type=srv _http._tcp.web.default.svc.cluster.local").await;
    assert!(out.contains("service = 0 100 8080 web.default.svc.cluster.local"), "SRV: {out}");
    let (_, out) = exec(&pod, "nslookup -type=srv _pg._tcp.db.default.svc.cluster.local").await;
    assert!(
        out.contains("5432 db-0.db.default.svc.cluster.local")
            && out.contains("5432 db-1.db.default.svc.cluster.local"),
        "headless SRV: {out}"
    );

    let (_, out) = exec(&pod, "nslookup nothere.default.svc.cluster.local").await;
    assert!(
        out.contains("can't find nothere.default.svc.cluster.local: NXDOMAIN") && !out.contains("Name:"),
        "unknown in the cluster domain: {out}"
    );
    let (ok, out) = exec(&pod, "wget -qO- -T 5 http://nothere:8080/").await;
    assert!(!ok && out.contains("bad address"), "{out}");

    // Outside the cluster: forwarded to the upstream.
    let (_, out) = exec(&pod, "nslookup example.test").await;
    assert!(found(&out, "example.test", Ipv4Addr::new(192, 0, 2, 77)), "forwarded: {out}");
    let (_, out) = exec(&pod, "nslookup missing.test").await;
    assert!(out.contains("can't find missing.test: NXDOMAIN"), "the upstream's NXDOMAIN: {out}");
    // The upstream gone: a fast SERVFAIL, not a hang.
    upstream_stop.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // glibc (5 s per try, two tries) gets the forwarder's SERVFAIL after its 2 s upstream
    // timeout, and gives up on the name instead of waiting out its own timeouts.
    let started = Instant::now();
    let (ok, out) = exec(&pod, "wget -qO- -T 20 http://other.test/").await;
    let took = started.elapsed();
    assert!(!ok && out.contains("bad address 'other.test'"), "a dead upstream: {out}");
    assert!(took < Duration::from_secs(7), "answered in {took:?}");
    eprintln!("a name with a dead upstream failed in {took:?}");
    let answer = dns_query(SocketAddr::from((dns_ip, 53)), "other.test.", RecordType::A, false).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::ServFail);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kube_dns_service_is_created_answers_the_host_over_udp_and_tcp_and_is_withdrawn_at_shutdown() {
    let plane = ControlPlane::start().await;
    let client = plane.client("dns-test").await;
    let net = TestNet::create();
    let mut addresses = Addresses::pick();
    let dns_ip = addresses.cluster_ip();
    let proxy = Proxy::start(proxy_config(&plane, &net, &new_prefix(), dns_ip));
    proxy.wait_for_rule(&format!("--to-destination {}:53", net.gateway)).await;

    let service = Api::<Service>::namespaced(client.clone(), "kube-system").get("kube-dns").await.unwrap();
    let spec = service.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some(dns_ip.to_string().as_str()));
    let ports: Vec<(String, i32, String)> =
        spec.ports.unwrap().into_iter().map(|p| (p.name.unwrap(), p.port, p.protocol.unwrap())).collect();
    assert_eq!(ports, vec![("dns".into(), 53, "UDP".into()), ("dns-tcp".into(), 53, "TCP".into())]);
    let slice =
        Api::<EndpointSlice>::namespaced(client.clone(), "kube-system").get("kube-dns-node-test").await.unwrap();
    assert_eq!(slice.endpoints[0].addresses, vec![net.gateway.to_string()]);
    let endpoints = Api::<Endpoints>::namespaced(client.clone(), "kube-system").get("kube-dns").await.unwrap();
    assert_eq!(endpoints.subsets.unwrap()[0].addresses.as_ref().unwrap()[0].ip, net.gateway.to_string());

    // From the host, through the ClusterIP, both transports.
    for tcp in [false, true] {
        let answer =
            dns_query(SocketAddr::from((dns_ip, 53)), "kube-dns.kube-system.svc.cluster.local.", RecordType::A, tcp)
                .await;
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError, "tcp: {tcp}");
        assert!(answer.metadata.authoritative);
        assert_eq!(answer.answers[0].data, RData::A(A(dns_ip)), "tcp: {tcp}");
    }
    let metrics = skiff_client::metrics::render();
    assert!(metrics.contains("skiff_proxy_dns_responses_total{rcode=\"NOERROR\",source=\"cluster\"}"), "{metrics}");

    proxy.stop().await;
    let slice =
        Api::<EndpointSlice>::namespaced(client.clone(), "kube-system").get_opt("kube-dns-node-test").await.unwrap();
    assert!(slice.is_none(), "the endpoint is withdrawn with the server");
}
