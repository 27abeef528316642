//! The `kube-dns` Service and its endpoints: how pods find the DNS server.
//!
//! The kubelet writes `nameserver 10.96.0.10` into every pod; the API server keeps that IP for
//! this Service (`apiserver/src/services.rs` `DNS_IP`). The proxy creates the Service if it is
//! missing — ports `dns` 53/UDP and `dns-tcp` 53/TCP, as kubeadm's, with no selector because
//! the server is not a pod — and publishes where its own server listens:
//!
//! - an EndpointSlice `kube-dns-<node>` (what every proxy's data path reads), one per host, so
//!   that with several hosts the DNS traffic spreads over their servers;
//! - its address in the `kube-dns` Endpoints (what `kubectl get endpoints` shows), merged with
//!   the other hosts' addresses.
//!
//! Both are withdrawn at shutdown, so no proxy sends DNS traffic to a server that is gone.
//! From there 10.96.0.10:53 is a Service like any other: DNATed by the rules to the server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;
use skiff_client::{Api, ApiError, Client};
use tokio_util::sync::CancellationToken;

use crate::services::endpoints::SERVICE_NAME_LABEL;

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "kube-dns";
/// Marks the slices this proxy writes (EndpointSlice controllers leave them alone).
const MANAGED_BY: &str = "skiff-proxy";

fn typed<K: k8s_openapi::serde::de::DeserializeOwned>(value: serde_json::Value) -> K {
    serde_json::from_value(value).expect("a well-formed object")
}

/// The Service, as created when missing.
pub fn service(service_ip: std::net::Ipv4Addr) -> Service {
    typed(json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
        "spec": {
            "clusterIP": service_ip.to_string(),
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            ],
        },
    }))
}

pub fn slice_name(node: &str) -> String {
    format!("{NAME}-{node}")
}

/// This host's EndpointSlice: the server's address and port.
pub fn endpoint_slice(node: &str, listen: SocketAddr) -> EndpointSlice {
    let port = listen.port();
    typed(json!({
        "metadata": {"name": slice_name(node), "namespace": NAMESPACE,
                     "labels": {SERVICE_NAME_LABEL: NAME, "endpointslice.kubernetes.io/managed-by": MANAGED_BY}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [listen.ip().to_string()], "conditions": {"ready": true, "serving": true, "terminating": false}, "nodeName": node}],
        "ports": [{"name": "dns", "port": port, "protocol": "UDP"}, {"name": "dns-tcp", "port": port, "protocol": "TCP"}],
    }))
}

/// The Endpoints with this host's address added (or, `present: false`, removed).
pub fn merged_endpoints(current: Option<Endpoints>, node: &str, listen: SocketAddr, present: bool) -> Endpoints {
    let mut endpoints = current.unwrap_or_else(|| typed(json!({"metadata": {"name": NAME, "namespace": NAMESPACE}})));
    // One subset per port number: the hosts' servers may listen on different ports.
    let mut by_port: BTreeMap<i32, Vec<EndpointAddress>> = BTreeMap::new();
    for subset in endpoints.subsets.take().unwrap_or_default() {
        let port = subset.ports.as_ref().and_then(|p| p.first()).map_or(53, |p| p.port);
        by_port.entry(port).or_default().extend(subset.addresses.unwrap_or_default());
    }
    for addresses in by_port.values_mut() {
        addresses.retain(|a| a.node_name.as_deref() != Some(node));
    }
    if present {
        let address =
            EndpointAddress { ip: listen.ip().to_string(), node_name: Some(node.into()), ..Default::default() };
        by_port.entry(listen.port().into()).or_default().push(address);
    }
    let subsets: Vec<EndpointSubset> = by_port
        .into_iter()
        .filter(|(_, addresses)| !addresses.is_empty())
        .map(|(port, addresses)| EndpointSubset {
            addresses: Some(addresses),
            ports: Some(vec![
                EndpointPort { name: Some("dns".into()), port, protocol: Some("UDP".into()), ..Default::default() },
                EndpointPort { name: Some("dns-tcp".into()), port, protocol: Some("TCP".into()), ..Default::default() },
            ]),
            ..Default::default()
        })
        .collect();
    endpoints.subsets = (!subsets.is_empty()).then_some(subsets);
    endpoints
}

/// Creates the Service if missing and publishes this host's server.
pub async fn publish(
    client: &Client,
    service_ip: std::net::Ipv4Addr,
    node: &str,
    listen: SocketAddr,
) -> Result<(), ApiError> {
    let services = Api::<Service>::namespaced(client.clone(), NAMESPACE);
    match services.get_opt(NAME).await? {
        None => match services.create(&service(service_ip)).await {
            Ok(_) => tracing::info!(ip = %service_ip, "created the kube-dns Service"),
            Err(err) if err.is_already_exists() => {}
            Err(err) => return Err(err),
        },
        Some(existing) => {
            let ip = existing.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
            if ip != service_ip.to_string() {
                tracing::warn!(%ip, wanted = %service_ip, "the kube-dns Service has another ClusterIP; pods' resolv.conf may not reach it");
            }
        }
    }
    let slices = Api::<EndpointSlice>::namespaced(client.clone(), NAMESPACE);
    let mut wanted = endpoint_slice(node, listen);
    match slices.get_opt(&slice_name(node)).await? {
        None => {
            slices.create(&wanted).await?;
        }
        Some(existing) if existing.endpoints != wanted.endpoints || existing.ports != wanted.ports => {
            wanted.metadata.resource_version = existing.metadata.resource_version;
            slices.replace(&slice_name(node), &wanted).await?;
        }
        Some(_) => {}
    }
    update_endpoints(client, node, listen, true).await
}

/// Removes this host's server from the Service's endpoints.
pub async fn withdraw(client: &Client, node: &str, listen: SocketAddr) -> Result<(), ApiError> {
    let slices = Api::<EndpointSlice>::namespaced(client.clone(), NAMESPACE);
    match slices.delete(&slice_name(node), &serde_json::Value::Null).await {
        Err(err) if !err.is_not_found() => return Err(err),
        _ => {}
    }
    update_endpoints(client, node, listen, false).await
}

/// Read, merge, write; again on a conflict with another host's proxy.
async fn update_endpoints(client: &Client, node: &str, listen: SocketAddr, present: bool) -> Result<(), ApiError> {
    let api = Api::<Endpoints>::namespaced(client.clone(), NAMESPACE);
    for _ in 0..5 {
        let current = api.get_opt(NAME).await?;
        let exists = current.is_some();
        let before = current.as_ref().map(|e| e.subsets.clone());
        let merged = merged_endpoints(current, node, listen, present);
        let result = match (exists, before == Some(merged.subsets.clone())) {
            (_, true) => return Ok(()),
            (false, _) => api.create(&merged).await.map(drop),
            (true, _) => api.replace(NAME, &merged).await.map(drop),
        };
        match result {
            Err(err) if err.is_conflict() || err.is_already_exists() => continue,
            other => return other,
        }
    }
    Ok(())
}

/// [`publish`], retried every second until it works or `shutdown`.
pub async fn publish_until_done(
    client: &Client,
    service_ip: std::net::Ipv4Addr,
    node: &str,
    listen: SocketAddr,
    shutdown: &CancellationToken,
) {
    loop {
        match publish(client, service_ip, node, listen).await {
            Ok(()) => {
                tracing::info!(%listen, node, "kube-dns endpoints published");
                return;
            }
            Err(err) => tracing::warn!(cause = %err, "cannot publish the kube-dns endpoints; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_has_kubeadms_ports_and_the_reserved_ip() {
        let service = service("10.96.0.10".parse().unwrap());
        let spec = service.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.10"));
        let ports: Vec<(String, i32, String)> =
            spec.ports.unwrap().into_iter().map(|p| (p.name.unwrap(), p.port, p.protocol.unwrap())).collect();
        assert_eq!(ports, vec![("dns".into(), 53, "UDP".into()), ("dns-tcp".into(), 53, "TCP".into())]);
        assert_eq!(spec.selector, None, "the server is not a pod");
    }

    #[test]
    fn each_host_adds_and_removes_only_its_own_address() {
        let node_1: SocketAddr = "10.244.1.1:53".parse().unwrap();
        let node_2: SocketAddr = "10.244.2.1:5353".parse().unwrap();
        let both = merged_endpoints(Some(merged_endpoints(None, "node-1", node_1, true)), "node-2", node_2, true);
        let summary = |e: &Endpoints| -> Vec<(i32, Vec<String>)> {
            e.subsets
                .iter()
                .flatten()
                .map(|s| {
                    (s.ports.as_ref().unwrap()[0].port, s.addresses.iter().flatten().map(|a| a.ip.clone()).collect())
                })
                .collect()
        };
        assert_eq!(summary(&both), vec![(53, vec!["10.244.1.1".into()]), (5353, vec!["10.244.2.1".into()])]);
        let again = merged_endpoints(Some(both.clone()), "node-1", node_1, true);
        assert_eq!(summary(&again), summary(&both), "publishing twice changes nothing");
        let one_left = merged_endpoints(Some(both), "node-1", node_1, false);
        assert_eq!(summary(&one_left), vec![(5353, vec!["10.244.2.1".into()])]);
        let none = merged_endpoints(Some(one_left), "node-2", node_2, false);
        assert_eq!(none.subsets, None);
    }

    #[test]
    fn the_slice_points_at_the_server() {
        let slice = endpoint_slice("node-1", "10.244.0.1:53".parse().unwrap());
        assert_eq!(slice.metadata.name.as_deref(), Some("kube-dns-node-1"));
        assert_eq!(slice.endpoints[0].addresses, vec!["10.244.0.1".to_string()]);
        assert_eq!(slice.metadata.labels.unwrap()[SERVICE_NAME_LABEL], "kube-dns");
    }
}
