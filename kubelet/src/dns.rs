//! A pod's name on the network and its resolver: hostname, domain, `/etc/resolv.conf`.
//!
//! Mirrors `pkg/kubelet/network/dns/dns.go` (`GetPodDNS`, `generateSearchesForDNSClusterFirst`)
//! and `GeneratePodHostNameAndDomain` in `kubelet_pods.go`. With `dnsPolicy: ClusterFirst` (the
//! default) and a cluster DNS server, the pod's resolv.conf names that server, searches
//! `<ns>.svc.<domain> svc.<domain> <domain>` and sets `ndots:5`, so `web` and `web.prod` resolve
//! as Services. The kubelet writes the file into the pod's directory and bind-mounts it into
//! every container. Without a cluster DNS server (or with `dnsPolicy: Default`), the containers
//! keep the resolver Docker gives them.
//!
//! The hostname is the pod's name, or `spec.hostname`; with `spec.subdomain` the domain becomes
//! `<subdomain>.<ns>.svc.<domain>` (StatefulSet pods: `web-0.web.default.svc.cluster.local`).
//! Docker puts both in the pause container's `/etc/hosts` next to the pod IP, and the pod's
//! containers share that file.
//!
//! Left out: `dnsPolicy: ClusterFirstWithHostNet` and `None` with `dnsConfig` beyond its
//! nameservers, searches and options (which are appended), the host's search path merging.

use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Pod;

/// The longest hostname Linux takes.
const MAX_HOSTNAME: usize = 63;

/// `(hostname, domain)` as the pause container gets them.
pub fn hostname_and_domain(pod: &Pod, cluster_domain: &str) -> (String, Option<String>) {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut hostname = spec.hostname.clone().unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default());
    if hostname.len() > MAX_HOSTNAME {
        hostname.truncate(MAX_HOSTNAME);
        hostname = hostname.trim_end_matches(['-', '.']).to_string();
    }
    let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let domain = spec.subdomain.filter(|s| !s.is_empty()).map(|sub| format!("{sub}.{namespace}.svc.{cluster_domain}"));
    (hostname, domain)
}

/// The pod's resolv.conf, or `None` to keep Docker's.
pub fn resolv_conf(pod: &Pod, cluster_dns: Option<Ipv4Addr>, cluster_domain: &str) -> Option<String> {
    let spec = pod.spec.clone().unwrap_or_default();
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let extra = spec.dns_config.unwrap_or_default();
    let (mut servers, mut searches, mut options) = match (policy, cluster_dns) {
        ("ClusterFirst" | "ClusterFirstWithHostNet", Some(server)) => (
            vec![server.to_string()],
            vec![
                format!("{namespace}.svc.{cluster_domain}"),
                format!("svc.{cluster_domain}"),
                cluster_domain.to_string(),
            ],
            vec!["ndots:5".to_string()],
        ),
        ("None", _) => (vec![], vec![], vec![]),
        _ => return None,
    };
    servers.extend(extra.nameservers.unwrap_or_default());
    searches.extend(extra.searches.unwrap_or_default());
    for option in extra.options.unwrap_or_default() {
        let name = option.name.unwrap_or_default();
        options.retain(|o| o.split(':').next() != Some(name.as_str()));
        options.push(match option.value {
            Some(value) => format!("{name}:{value}"),
            None => name,
        });
    }
    let mut text = String::new();
    for server in servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    if !searches.is_empty() {
        text.push_str(&format!("search {}\n", searches.join(" ")));
    }
    if !options.is_empty() {
        text.push_str(&format!("options {}\n", options.join(" ")));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        let mut spec = spec;
        spec["containers"] = json!([{"name": "web"}]);
        serde_json::from_value(json!({"metadata": {"name": "web-0", "namespace": "prod"}, "spec": spec})).unwrap()
    }

    #[test]
    fn cluster_first_names_the_cluster_dns_and_searches_the_namespace_first() {
        let dns = Some("10.96.0.10".parse().unwrap());
        assert_eq!(
            resolv_conf(&pod(json!({})), dns, "cluster.local").unwrap(),
            "nameserver 10.96.0.10\nsearch prod.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
        );
        assert_eq!(resolv_conf(&pod(json!({})), None, "cluster.local"), None, "no cluster DNS: Docker's resolver");
        assert_eq!(resolv_conf(&pod(json!({"dnsPolicy": "Default"})), dns, "cluster.local"), None);
        let custom = pod(
            json!({"dnsConfig": {"searches": ["corp"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}),
        );
        assert_eq!(
            resolv_conf(&custom, dns, "cluster.local").unwrap(),
            "nameserver 10.96.0.10\nsearch prod.svc.cluster.local svc.cluster.local cluster.local corp\noptions ndots:2 edns0\n"
        );
        let none = pod(json!({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"]}}));
        assert_eq!(resolv_conf(&none, dns, "cluster.local").unwrap(), "nameserver 1.1.1.1\n");
    }

    #[test]
    fn hostnames_come_from_the_pod_with_the_subdomain_as_domain() {
        assert_eq!(hostname_and_domain(&pod(json!({})), "cluster.local"), ("web-0".into(), None));
        assert_eq!(
            hostname_and_domain(&pod(json!({"hostname": "db", "subdomain": "web"})), "cluster.local"),
            ("db".into(), Some("web.prod.svc.cluster.local".into()))
        );
    }
}
