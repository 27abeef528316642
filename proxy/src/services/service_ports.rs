//! A Service as the data path sees it: one [`ServicePort`] per port of a Service with a
//! ClusterIP.
//!
//! Mirrors `pkg/proxy/service.go` (`BaseServicePortInfo`, `newBaseServiceInfo`) and the
//! conversion half of `pkg/proxy/servicechangetracker.go` (Kubernetes 1.32). Upstream keeps a
//! change tracker that applies Service events one by one; Skiff rebuilds the whole map from the
//! informer's cache at each sync, which is simpler and, at teaching scale, as fast.
//!
//! Skipped, as upstream does: headless Services (`clusterIP: None`) and `ExternalName`
//! Services, which only DNS serves. Left out: `externalIPs`, LoadBalancer ingress IPs,
//! `externalTrafficPolicy: Local` and `internalTrafficPolicy` (every endpoint is used from
//! everywhere), topology hints, IPv6.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;

/// Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds`: three hours.
pub const DEFAULT_AFFINITY_SECONDS: u32 = 10_800;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// `TCP` (the default when absent), `UDP`, `SCTP`.
    pub fn parse(text: Option<&str>) -> Option<Protocol> {
        match text.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// As iptables spells it (`-p tcp -m tcp`).
    pub fn iptables(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// `namespace/name:port-name`, with the protocol: the key that ties a Service's port to the
/// endpoints serving it (upstream's `ServicePortName`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServicePortName {
    pub namespace: String,
    pub name: String,
    /// The port's name; `""` for the one port of a single-port Service.
    pub port: String,
    pub protocol: Protocol,
}

impl ServicePortName {
    pub fn new(namespace: &str, name: &str, port: &str, protocol: Protocol) -> ServicePortName {
        ServicePortName { namespace: namespace.into(), name: name.into(), port: port.into(), protocol }
    }
}

impl fmt::Display for ServicePortName {
    /// `default/web:http`, or `default/web` for an unnamed port (kube-proxy's comments).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        if !self.port.is_empty() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// What the rules need of one Service port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub name: ServicePortName,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    /// Set for `NodePort` and `LoadBalancer` Services.
    pub node_port: Option<u16>,
    /// `sessionAffinity: ClientIP`: how long a client stays with its endpoint, in seconds.
    pub affinity_seconds: Option<u32>,
}

/// The ports the data path serves, keyed by name.
pub type ServicePorts = BTreeMap<ServicePortName, ServicePort>;

/// The ports of one Service; none for a headless or ExternalName Service, or one whose
/// ClusterIP is not IPv4.
pub fn service_ports(service: &Service) -> Vec<ServicePort> {
    let Some(spec) = &service.spec else { return Vec::new() };
    if spec.type_.as_deref() == Some("ExternalName") {
        return Vec::new();
    }
    let Some(cluster_ip) = spec.cluster_ip.as_deref().and_then(|ip| ip.parse::<Ipv4Addr>().ok()) else {
        return Vec::new();
    };
    let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let affinity_seconds = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        let config = spec.session_affinity_config.as_ref().and_then(|c| c.client_ip.as_ref());
        config.and_then(|c| c.timeout_seconds).map_or(DEFAULT_AFFINITY_SECONDS, |s| s.max(1) as u32)
    });
    spec.ports
        .iter()
        .flatten()
        .filter_map(|port| {
            let protocol = Protocol::parse(port.protocol.as_deref())?;
            Some(ServicePort {
                name: ServicePortName::new(namespace, name, port.name.as_deref().unwrap_or_default(), protocol),
                cluster_ip,
                port: u16::try_from(port.port).ok()?,
                node_port: port.node_port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p != 0),
                affinity_seconds,
            })
        })
        .collect()
}

/// Every served port of every Service.
pub fn all_service_ports<'a>(services: impl IntoIterator<Item = &'a Service>) -> ServicePorts {
    services.into_iter().flat_map(service_ports).map(|port| (port.name.clone(), port)).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service(spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": spec})).unwrap()
    }

    #[test]
    fn a_cluster_ip_service_has_one_port_per_spec_port() {
        let ports = service_ports(&service(json!({
            "clusterIP": "10.96.4.4",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}],
        })));
        assert_eq!(ports.len(), 2);
        assert_eq!(ports[0].name.to_string(), "shop/web:http");
        assert_eq!((ports[0].cluster_ip, ports[0].port, ports[0].node_port), (Ipv4Addr::new(10, 96, 4, 4), 80, None));
        assert_eq!(ports[1].name.protocol, Protocol::Udp);
        assert_eq!(ports[0].affinity_seconds, None);
    }

    #[test]
    fn node_ports_and_client_ip_affinity_are_carried() {
        let ports = service_ports(&service(json!({
            "type": "NodePort", "clusterIP": "10.96.4.4", "sessionAffinity": "ClientIP",
            "ports": [{"port": 80, "nodePort": 30080}],
        })));
        assert_eq!(ports[0].name.to_string(), "shop/web");
        assert_eq!(ports[0].node_port, Some(30080));
        assert_eq!(ports[0].affinity_seconds, Some(DEFAULT_AFFINITY_SECONDS));
        let timed = service_ports(&service(json!({
            "clusterIP": "10.96.4.4", "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}, "ports": [{"port": 80}],
        })));
        assert_eq!(timed[0].affinity_seconds, Some(60));
    }

    #[test]
    fn headless_and_external_name_services_have_no_data_path() {
        for spec in [
            json!({"clusterIP": "None", "ports": [{"port": 80}]}),
            json!({"type": "ExternalName", "externalName": "example.com"}),
            json!({"ports": [{"port": 80}]}),
        ] {
            assert_eq!(service_ports(&service(spec.clone())), vec![], "{spec}");
        }
    }
}
