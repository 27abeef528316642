//! What the cluster zone holds: Services and their published endpoints, by name.
//!
//! Mirrors the object side of CoreDNS' `plugin/kubernetes` (`kubernetes.go` `findServices`,
//! `object/endpoint.go`): a ClusterIP Service is its ClusterIP and its ports; a headless
//! Service is its endpoints, each with an optional hostname (a StatefulSet pod's
//! `spec.hostname`, which the EndpointSlice controller copies into the endpoint when the pod's
//! `spec.subdomain` names the Service) and the ports of its slice; an `ExternalName` Service is
//! an alias. Only ready endpoints are published, unless the Service says
//! `publishNotReadyAddresses` (a StatefulSet's peers finding each other before they are ready).
//!
//! The view is rebuilt whole from the informers' caches after each burst of changes and handed
//! to the server as an `Arc`, so a query never waits for a lock held by an update.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::services::endpoints::{conditions, owning_service};
use crate::services::Protocol;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceKind {
    ClusterIp(Ipv4Addr),
    /// `clusterIP: None`: the name is its endpoints.
    Headless,
    /// `type: ExternalName`: a CNAME to this name.
    ExternalName(String),
}

/// A named port: what an SRV record is made of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NamedPort {
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsEndpoint {
    pub ip: Ipv4Addr,
    /// The pod's `spec.hostname`, when it is the Service's subdomain.
    pub hostname: Option<String>,
    /// The ports of the endpoint's slice.
    pub ports: Vec<NamedPort>,
}

impl DnsEndpoint {
    /// The endpoint's label in its Service's name: its hostname, or its address with dashes
    /// (`10-244-0-5`), as CoreDNS names endpoints without one.
    pub fn label(&self) -> String {
        self.hostname.clone().unwrap_or_else(|| self.ip.to_string().replace('.', "-"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsService {
    pub kind: ServiceKind,
    pub ports: Vec<NamedPort>,
    /// Published endpoints, by address.
    pub endpoints: Vec<DnsEndpoint>,
}

/// The zone's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsView {
    /// `cluster.local`: lower case, no dots at either end.
    pub domain: String,
    /// The SOA's serial: when the view was built (seconds), so that it grows.
    pub serial: u32,
    /// By `(namespace, name)`.
    pub services: BTreeMap<(String, String), DnsService>,
    pub namespaces: BTreeSet<String>,
    /// ClusterIPs and named endpoints back to their names, for PTR queries.
    pub reverse: BTreeMap<Ipv4Addr, String>,
}

fn named_port(name: Option<&str>, protocol: Option<&str>, port: Option<i32>) -> Option<NamedPort> {
    Some(NamedPort {
        name: name.unwrap_or_default().to_ascii_lowercase(),
        protocol: Protocol::parse(protocol)?,
        port: u16::try_from(port?).ok()?,
    })
}

impl DnsView {
    pub fn empty(domain: &str) -> DnsView {
        DnsView::build(domain, 0, &[], &[])
    }

    pub fn build(domain: &str, serial: u32, services: &[Arc<Service>], slices: &[Arc<EndpointSlice>]) -> DnsView {
        let domain = domain.trim_matches('.').to_ascii_lowercase();
        let mut view = DnsView {
            domain,
            serial,
            services: BTreeMap::new(),
            namespaces: BTreeSet::new(),
            reverse: BTreeMap::new(),
        };
        let mut publish_not_ready = BTreeSet::new();
        for service in services {
            let (Some(namespace), Some(name)) = (&service.metadata.namespace, &service.metadata.name) else { continue };
            let spec = service.spec.clone().unwrap_or_default();
            let kind = match (spec.type_.as_deref(), spec.cluster_ip.as_deref()) {
                (Some("ExternalName"), _) => match spec.external_name {
                    Some(target) => ServiceKind::ExternalName(target.trim_end_matches('.').to_string()),
                    None => continue,
                },
                (_, Some("None")) => ServiceKind::Headless,
                (_, Some(ip)) => match ip.parse() {
                    Ok(ip) => ServiceKind::ClusterIp(ip),
                    Err(_) => continue,
                },
                _ => continue,
            };
            let ports = spec
                .ports
                .iter()
                .flatten()
                .filter_map(|p| named_port(p.name.as_deref(), p.protocol.as_deref(), Some(p.port)))
                .collect();
            let key = (namespace.clone(), name.clone());
            if spec.publish_not_ready_addresses == Some(true) {
                publish_not_ready.insert(key.clone());
            }
            if let ServiceKind::ClusterIp(ip) = kind {
                view.reverse.insert(ip, format!("{name}.{namespace}.svc.{}", view.domain));
            }
            view.namespaces.insert(namespace.clone());
            view.services.insert(key, DnsService { kind, ports, endpoints: Vec::new() });
        }
        let mut slices: Vec<&Arc<EndpointSlice>> = slices.iter().filter(|s| s.address_type == "IPv4").collect();
        slices.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for slice in slices {
            let Some((namespace, name)) = owning_service(slice) else { continue };
            let key = (namespace.to_string(), name.to_string());
            let Some(service) = view.services.get_mut(&key) else { continue };
            let ports: Vec<NamedPort> = slice
                .ports
                .iter()
                .flatten()
                .filter_map(|p| named_port(p.name.as_deref(), p.protocol.as_deref(), p.port))
                .collect();
            for endpoint in &slice.endpoints {
                let (ready, _, _) = conditions(endpoint);
                let Some(ip) = endpoint.addresses.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) else { continue };
                if !ready && !publish_not_ready.contains(&key) {
                    continue;
                }
                let hostname = endpoint.hostname.as_ref().map(|h| h.to_ascii_lowercase());
                match service.endpoints.iter_mut().find(|e| e.ip == ip) {
                    Some(known) => known.ports.extend(ports.iter().cloned()),
                    None => service.endpoints.push(DnsEndpoint { ip, hostname, ports: ports.clone() }),
                }
            }
        }
        for ((namespace, name), service) in &mut view.services {
            service.endpoints.sort_by_key(|e| e.ip);
            for endpoint in &mut service.endpoints {
                endpoint.ports.sort();
                endpoint.ports.dedup();
                if service.kind == ServiceKind::Headless {
                    let name = format!("{}.{name}.{namespace}.svc.{}", endpoint.label(), view.domain);
                    view.reverse.entry(endpoint.ip).or_insert(name);
                }
            }
        }
        view
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&DnsService> {
        self.services.get(&(namespace.to_string(), name.to_string()))
    }
}
