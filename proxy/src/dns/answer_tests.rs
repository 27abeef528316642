//! Named cases of `answer()`: each record type, NXDOMAIN, the names the search path makes,
//! headless Services, StatefulSet pod names, SRV, PTR, and what is forwarded.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use super::*;

fn service(namespace: &str, name: &str, spec: serde_json::Value) -> Arc<Service> {
    Arc::new(serde_json::from_value(json!({"metadata": {"name": name, "namespace": namespace}, "spec": spec})).unwrap())
}

fn slice(namespace: &str, service: &str, ports: serde_json::Value, endpoints: serde_json::Value) -> Arc<EndpointSlice> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("{service}-x"), "namespace": namespace, "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "ports": ports, "endpoints": endpoints,
        }))
        .unwrap(),
    )
}

/// - `default/web`: ClusterIP 10.96.0.20, port `http` 80/TCP.
/// - `default/db`: headless, the StatefulSet pods `db-0` and `db-1` ready, a third not ready.
/// - `default/peers`: headless, `publishNotReadyAddresses`, one pod not ready, no hostname.
/// - `default/ext`: ExternalName `example.com`.
/// - `kube-system/kube-dns`: 10.96.0.10, `dns` 53/UDP and `dns-tcp` 53/TCP.
fn view() -> DnsView {
    let services = [
        service(
            "default",
            "web",
            json!({"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
        ),
        service("default", "db", json!({"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]})),
        service(
            "default",
            "peers",
            json!({"clusterIP": "None", "publishNotReadyAddresses": true, "ports": [{"port": 7000}]}),
        ),
        service("default", "ext", json!({"type": "ExternalName", "externalName": "example.com"})),
        service(
            "kube-system",
            "kube-dns",
            json!({"clusterIP": "10.96.0.10", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}),
        ),
    ];
    let slices = [
        slice(
            "default",
            "db",
            json!([{"name": "pg", "port": 5432, "protocol": "TCP"}]),
            json!([
                {"addresses": ["10.244.0.5"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.244.0.6"], "hostname": "db-1"},
                {"addresses": ["10.244.0.7"], "hostname": "db-2", "conditions": {"ready": false}},
            ]),
        ),
        slice(
            "default",
            "peers",
            json!([{"port": 7000}]),
            json!([{"addresses": ["10.244.0.8"], "conditions": {"ready": false}}]),
        ),
        slice("default", "web", json!([{"name": "http", "port": 8080}]), json!([{"addresses": ["10.244.0.9"]}])),
    ];
    DnsView::build("cluster.local", 42, &services, &slices)
}

/// An answer as text: the rcode, then `name type data` for each answer and additional record,
/// and `SOA` when the zone's SOA came with it.
fn show(name: &str, asked: RecordType) -> String {
    match answer(&Name::from_ascii(name).unwrap(), asked, &view()) {
        Decision::Forward => "forward".into(),
        Decision::Answer(answer) => {
            let mut parts = vec![answer.rcode.to_string()];
            for record in &answer.answers {
                parts.push(format!("{} {} {}", record.name, record.record_type(), record.data));
            }
            for record in &answer.additionals {
                parts.push(format!("+ {} {} {}", record.name, record.record_type(), record.data));
            }
            if !answer.soa.is_empty() {
                parts.push("SOA".into());
            }
            parts.join("; ")
        }
    }
}

#[test]
fn answers_per_name_and_type() {
    use RecordType::*;
    let cases: &[(&str, &str, RecordType, &str)] = &[
        ("a ClusterIP Service", "web.default.svc.cluster.local.", A, "No Error; web.default.svc.cluster.local. A 10.96.0.20"),
        ("names are case-insensitive", "WEB.Default.SVC.cluster.local.", A, "No Error; WEB.Default.SVC.cluster.local. A 10.96.0.20"),
        ("no AAAA: no data, not NXDOMAIN", "web.default.svc.cluster.local.", AAAA, "No Error; SOA"),
        ("an unknown Service", "nope.default.svc.cluster.local.", A, "Non-Existent Domain; SOA"),
        ("a Service of another namespace", "web.other.svc.cluster.local.", A, "Non-Existent Domain; SOA"),
        // `web.default` tried with the first search domain, `default.svc.cluster.local`.
        ("the search path's first try for web.default", "web.default.default.svc.cluster.local.", A, "Non-Existent Domain; SOA"),
        ("the search path's first try for web", "web.default.svc.cluster.local.default.svc.cluster.local.", A, "Non-Existent Domain; SOA"),
        ("headless: the ready pods", "db.default.svc.cluster.local.", A, "No Error; db.default.svc.cluster.local. A 10.244.0.5; db.default.svc.cluster.local. A 10.244.0.6"),
        ("a StatefulSet pod by hostname", "db-0.db.default.svc.cluster.local.", A, "No Error; db-0.db.default.svc.cluster.local. A 10.244.0.5"),
        ("a pod that is not ready", "db-2.db.default.svc.cluster.local.", A, "Non-Existent Domain; SOA"),
        ("publishNotReadyAddresses", "peers.default.svc.cluster.local.", A, "No Error; peers.default.svc.cluster.local. A 10.244.0.8"),
        ("an endpoint without hostname, by dashed IP", "10-244-0-8.peers.default.svc.cluster.local.", A, "No Error; 10-244-0-8.peers.default.svc.cluster.local. A 10.244.0.8"),
        ("endpoint names exist only for headless Services", "10-244-0-9.web.default.svc.cluster.local.", A, "Non-Existent Domain; SOA"),
        ("SRV of a ClusterIP port", "_http._tcp.web.default.svc.cluster.local.", SRV, "No Error; _http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local.; + web.default.svc.cluster.local. A 10.96.0.20"),
        ("SRV of a headless port: one per pod", "_pg._tcp.db.default.svc.cluster.local.", SRV, "No Error; _pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 db-0.db.default.svc.cluster.local.; _pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 db-1.db.default.svc.cluster.local.; + db-0.db.default.svc.cluster.local. A 10.244.0.5; + db-1.db.default.svc.cluster.local. A 10.244.0.6"),
        ("SRV of a UDP port", "_dns._udp.kube-dns.kube-system.svc.cluster.local.", SRV, "No Error; _dns._udp.kube-dns.kube-system.svc.cluster.local. SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.; + kube-dns.kube-system.svc.cluster.local. A 10.96.0.10"),
        ("SRV with the wrong protocol", "_http._udp.web.default.svc.cluster.local.", SRV, "Non-Existent Domain; SOA"),
        ("A of an SRV name: no data", "_http._tcp.web.default.svc.cluster.local.", A, "No Error; SOA"),
        ("SRV of the Service name: every named port", "web.default.svc.cluster.local.", SRV, "No Error; web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local.; + web.default.svc.cluster.local. A 10.96.0.20"),
        ("ExternalName: an alias", "ext.default.svc.cluster.local.", A, "No Error; ext.default.svc.cluster.local. CNAME example.com."),
        ("a pod by its dashed address", "10-244-0-5.default.pod.cluster.local.", A, "No Error; 10-244-0-5.default.pod.cluster.local. A 10.244.0.5"),
        ("a namespace: exists, no data", "default.svc.cluster.local.", A, "No Error; SOA"),
        ("an unknown namespace", "nowhere.svc.cluster.local.", A, "Non-Existent Domain; SOA"),
        ("the zone's SOA", "cluster.local.", SOA, "No Error; cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 42 7200 1800 86400 5"),
        ("a ClusterIP's PTR", "20.0.96.10.in-addr.arpa.", PTR, "No Error; 20.0.96.10.in-addr.arpa. PTR web.default.svc.cluster.local."),
        ("a StatefulSet pod's PTR", "5.0.244.10.in-addr.arpa.", PTR, "No Error; 5.0.244.10.in-addr.arpa. PTR db-0.db.default.svc.cluster.local."),
        ("an unknown address's PTR", "1.2.0.192.in-addr.arpa.", PTR, "forward"),
        ("a name outside the zone", "example.com.", A, "forward"),
        ("a name that only ends like the zone", "notcluster.local.", A, "forward"),
    ];
    for (case, name, asked, expected) in cases {
        assert_eq!(show(name, *asked), *expected, "{case}: {name} {asked}");
    }
}

#[test]
fn negative_answers_carry_the_zones_soa_with_the_zones_ttl() {
    let Decision::Answer(answer) =
        answer(&Name::from_ascii("nope.default.svc.cluster.local.").unwrap(), RecordType::A, &view())
    else {
        panic!("the zone answers")
    };
    assert_eq!(answer.soa.len(), 1);
    assert_eq!(answer.soa[0].name.to_ascii(), "cluster.local.");
    assert_eq!(answer.soa[0].ttl, TTL);
}
