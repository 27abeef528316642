//! Service links: the `WEB_SERVICE_HOST`, `WEB_PORT_80_TCP`… variables every container is
//! started with, one set per Service of its namespace.
//!
//! Mirrors `pkg/kubelet/kubelet_pods.go` (`getServiceEnvVarMap`) and
//! `pkg/kubelet/envvars/envvars.go` (`FromServices`). They are older than the cluster DNS and
//! are still what the tutorials show with `kubectl exec … -- env`, and what in-cluster clients
//! read to find the API server (`KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT`).
//!
//! The rules, as Kubernetes has them:
//!
//! - a Service counts only with a cluster IP (headless `None` and ExternalName Services have
//!   none), and only as it is when the container starts: a Service created later shows up in
//!   the containers started after it, never in a running one;
//! - the Services of the pod's namespace count when `enableServiceLinks` is true (the default);
//!   `default/kubernetes` counts always, even with `enableServiceLinks: false`;
//! - per Service `NAME` (upper-cased, `-` → `_`): `NAME_SERVICE_HOST`, `NAME_SERVICE_PORT` (the
//!   first port), `NAME_SERVICE_PORT_PORTNAME` per named port, and Docker's link variables:
//!   `NAME_PORT` (the first port, `tcp://ip:port`) and, per port, `NAME_PORT_80_TCP`, `…_PROTO`,
//!   `…_PORT`, `…_ADDR`;
//! - one Service per name: a Service called `kubernetes` in the pod's namespace takes the API
//!   server's place;
//! - the container's own `env` and `envFrom` win over a link variable of the same name, and
//!   `$(NAME_SERVICE_HOST)` in a value expands to it (see [`crate::env::make_environment`]).
//!
//! As upstream, the Services come from the kubelet's own cache (one watch of every Service,
//! [`crate::kubelet::Kubelet::services`]), and a container is not started before that cache has
//! been filled once.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;

/// The Service that every pod gets variables for, whatever `enableServiceLinks` says.
pub const MASTER_SERVICE: (&str, &str) = ("default", "kubernetes");

/// Whether the pod asks for its namespace's Services (`enableServiceLinks`, true when unset).
pub fn enabled(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.enable_service_links).unwrap_or(true)
}

/// The link variables for a pod of `namespace`, from `services` (any namespaces; those that do
/// not count are left out here). Sorted by name, so the result does not depend on list order.
pub fn variables(namespace: &str, links_enabled: bool, services: &[impl Borrow<Service>]) -> Vec<(String, String)> {
    // One Service per name: the namespace's own, else the master's. A Service named
    // `kubernetes` in the pod's namespace takes the API server's variables' place, as upstream's
    // map by name does whichever comes first.
    let mut chosen: BTreeMap<&str, &Service> = BTreeMap::new();
    for service in services.iter().map(Borrow::borrow).filter(|s| cluster_ip(s).is_some()) {
        let ns = service.metadata.namespace.as_deref().unwrap_or("default");
        let name = service.metadata.name.as_deref().unwrap_or_default();
        if links_enabled && ns == namespace {
            chosen.insert(name, service);
        } else if (ns, name) == MASTER_SERVICE {
            chosen.entry(name).or_insert(service);
        }
    }
    let mut out: Vec<(String, String)> = chosen.values().flat_map(|s| for_service(s)).collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// The Service's cluster IP, unless it has none (`None`, empty or unset).
fn cluster_ip(service: &Service) -> Option<&str> {
    let ip = service.spec.as_ref()?.cluster_ip.as_deref()?;
    (!ip.is_empty() && ip != "None").then_some(ip)
}

/// `my-web` → `MY_WEB`. Service names are DNS labels, so this is all it takes.
fn variable_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// Every variable one Service gives, in Kubernetes' order.
fn for_service(service: &Service) -> Vec<(String, String)> {
    let Some(ip) = cluster_ip(service) else { return Vec::new() };
    let ports = service.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default();
    let Some(first) = ports.first() else { return Vec::new() };
    let prefix = variable_name(service.metadata.name.as_deref().unwrap_or_default());
    // An IPv6 address goes in brackets inside a URL, as `net.JoinHostPort` writes it.
    let host_port = |port: i32| if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") };

    let mut out = vec![
        (format!("{prefix}_SERVICE_HOST"), ip.to_string()),
        (format!("{prefix}_SERVICE_PORT"), first.port.to_string()),
    ];
    for port in &ports {
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            out.push((format!("{prefix}_SERVICE_PORT_{}", variable_name(name)), port.port.to_string()));
        }
    }
    for (i, port) in ports.iter().enumerate() {
        let protocol = port.protocol.as_deref().filter(|p| !p.is_empty()).unwrap_or("TCP");
        let scheme = protocol.to_ascii_lowercase();
        let url = format!("{scheme}://{}", host_port(port.port));
        if i == 0 {
            out.push((format!("{prefix}_PORT"), url.clone()));
        }
        let port_prefix = format!("{prefix}_PORT_{}_{}", port.port, protocol.to_ascii_uppercase());
        out.push((format!("{port_prefix}_PROTO"), scheme));
        out.push((format!("{port_prefix}_PORT"), port.port.to_string()));
        out.push((format!("{port_prefix}_ADDR"), ip.to_string()));
        out.push((port_prefix, url));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service(namespace: &str, name: &str, cluster_ip: &str, ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": cluster_ip, "ports": ports},
        }))
        .unwrap()
    }

    fn kubernetes() -> Service {
        service("default", "kubernetes", "10.96.0.1", json!([{"name": "https", "port": 443, "protocol": "TCP"}]))
    }

    fn names(vars: &[(String, String)]) -> Vec<&str> {
        vars.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn the_api_servers_service_gives_what_in_cluster_clients_read() {
        let vars = variables("default", true, &[kubernetes()]);
        let expected = [
            ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
            ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
            ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
            ("KUBERNETES_PORT_443_TCP_PORT", "443"),
            ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
            ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
        ];
        let expected: Vec<(String, String)> = expected.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        assert_eq!(vars, expected);
    }

    #[test]
    fn which_services_count() {
        let web = service("shop", "web", "10.96.5.5", json!([{"port": 80}]));
        let headless = service("shop", "db", "None", json!([{"port": 5432}]));
        let external = service("shop", "mail", "", json!([{"port": 25}]));
        let elsewhere = service("other", "cache", "10.96.7.7", json!([{"port": 6379}]));
        let all = [kubernetes(), web, headless, external, elsewhere];
        let cases: [(&str, &str, bool, &[&str]); 3] = [
            (
                "links on: the namespace's Services with an IP and the API server's",
                "shop",
                true,
                &["KUBERNETES", "WEB"],
            ),
            ("links off: only the API server's", "shop", false, &["KUBERNETES"]),
            ("another namespace sees none of shop's", "other", true, &["CACHE", "KUBERNETES"]),
        ];
        for (case, namespace, enabled, prefixes) in cases {
            let vars = variables(namespace, enabled, &all);
            let hosts: Vec<&str> = names(&vars).into_iter().filter_map(|n| n.strip_suffix("_SERVICE_HOST")).collect();
            assert_eq!(hosts, prefixes, "{case}");
        }
    }

    #[test]
    fn names_ports_and_protocols() {
        let svc = service(
            "default",
            "my-web",
            "10.96.9.9",
            json!([
                {"name": "http", "port": 80, "protocol": "TCP"},
                {"name": "dns-udp", "port": 53, "protocol": "UDP"},
            ]),
        );
        let vars = variables("default", true, &[svc]);
        let get = |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let cases = [
            ("dashes become underscores", "MY_WEB_SERVICE_HOST", Some("10.96.9.9")),
            ("the first port is the plain port", "MY_WEB_SERVICE_PORT", Some("80")),
            ("named ports", "MY_WEB_SERVICE_PORT_HTTP", Some("80")),
            ("named ports, upper-cased", "MY_WEB_SERVICE_PORT_DNS_UDP", Some("53")),
            ("Docker's first-port link", "MY_WEB_PORT", Some("tcp://10.96.9.9:80")),
            ("a UDP port's link", "MY_WEB_PORT_53_UDP", Some("udp://10.96.9.9:53")),
            ("its protocol", "MY_WEB_PORT_53_UDP_PROTO", Some("udp")),
            ("its address", "MY_WEB_PORT_53_UDP_ADDR", Some("10.96.9.9")),
            ("its port", "MY_WEB_PORT_53_UDP_PORT", Some("53")),
        ];
        for (case, name, value) in cases {
            assert_eq!(get(name), value, "{case}");
        }
        assert_eq!(vars.len(), 2 + 2 + 1 + 4 * 2, "no variable twice");
    }

    #[test]
    fn a_namespaces_own_kubernetes_service_takes_the_api_servers_place() {
        let mine = service("dev", "kubernetes", "10.96.3.3", json!([{"port": 8080}]));
        for services in [[mine.clone(), kubernetes()], [kubernetes(), mine.clone()]] {
            let vars = variables("dev", true, &services);
            assert!(vars.contains(&("KUBERNETES_SERVICE_HOST".into(), "10.96.3.3".into())), "{vars:?}");
            assert!(!vars.iter().any(|(n, _)| n == "KUBERNETES_SERVICE_PORT_HTTPS"), "nothing of the other: {vars:?}");
        }
        let off = variables("dev", false, &[mine, kubernetes()]);
        assert!(off.contains(&("KUBERNETES_SERVICE_HOST".into(), "10.96.0.1".into())), "links off: {off:?}");
    }

    #[test]
    fn a_service_without_ports_gives_nothing() {
        let svc = service("default", "empty", "10.96.1.1", json!([]));
        assert!(variables("default", true, &[svc]).is_empty());
    }
}
