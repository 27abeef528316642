//! EndpointSlices → the endpoints of each Service port.
//!
//! Mirrors `pkg/proxy/endpointslicecache.go` (Kubernetes 1.32): the slices of one Service (tied
//! to it by the `kubernetes.io/service-name` label) are merged, an address that appears in two
//! slices counts once, and each slice port (matched to the Service port by name and protocol)
//! gives the endpoints of that slice the port number they listen on. That is how a named
//! `targetPort` arrives resolved: each pod's slice says which number `http` is for it.
//!
//! **Why EndpointSlices, not Endpoints**: they are what kube-proxy reads, and only they carry
//! the three conditions a zero-downtime rollout needs — `ready` (send new connections),
//! `serving` (still answers, even while terminating), `terminating` (on its way out). Endpoints
//! only know ready and not ready.
//!
//! Conditions follow the API's documented defaults: an absent `ready` or `serving` is true, an
//! absent `terminating` false. Left out: topology hints and zones, FQDN and IPv6 slices.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::discovery::v1::{Endpoint as SliceEndpoint, EndpointSlice};

use super::service_ports::{Protocol, ServicePortName};

/// The label that ties a slice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One address serving one Service port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// New connections may go here.
    pub ready: bool,
    /// It still answers (a terminating pod finishing its connections).
    pub serving: bool,
    pub terminating: bool,
}

impl Endpoint {
    /// `10.244.1.5:8080`, as DNAT wants it.
    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// The endpoints of every Service port, sorted by address.
pub type EndpointsMap = BTreeMap<ServicePortName, Vec<Endpoint>>;

/// `(ready, serving, terminating)` of a slice endpoint, with the API's defaults.
pub fn conditions(endpoint: &SliceEndpoint) -> (bool, bool, bool) {
    let conditions = endpoint.conditions.clone().unwrap_or_default();
    let ready = conditions.ready.unwrap_or(true);
    let serving = conditions.serving.unwrap_or(ready);
    (ready, serving, conditions.terminating.unwrap_or(false))
}

/// The Service a slice belongs to: `(namespace, name)`.
pub fn owning_service(slice: &EndpointSlice) -> Option<(&str, &str)> {
    let name = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    Some((slice.metadata.namespace.as_deref().unwrap_or("default"), name.as_str()))
}

/// Every slice's endpoints, merged per Service port.
pub fn endpoints_map<'a>(slices: impl IntoIterator<Item = &'a EndpointSlice>) -> EndpointsMap {
    // Slices in name order, so that "the first slice wins" is the same on every host.
    let mut slices: Vec<&EndpointSlice> = slices.into_iter().filter(|s| s.address_type == "IPv4").collect();
    slices.sort_by(|a, b| (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name)));
    let mut map = EndpointsMap::new();
    let mut seen: BTreeSet<(ServicePortName, Ipv4Addr)> = BTreeSet::new();
    for slice in slices {
        let Some((namespace, service)) = owning_service(slice) else { continue };
        for port in slice.ports.iter().flatten() {
            let (Some(protocol), Some(number)) =
                (Protocol::parse(port.protocol.as_deref()), port.port.and_then(|p| u16::try_from(p).ok()))
            else {
                continue;
            };
            let name = ServicePortName::new(namespace, service, port.name.as_deref().unwrap_or_default(), protocol);
            for endpoint in &slice.endpoints {
                let (ready, serving, terminating) = conditions(endpoint);
                // One address per endpoint in an IPv4 slice (the API allows more, and uses one).
                let Some(ip) = endpoint.addresses.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) else {
                    continue;
                };
                if seen.insert((name.clone(), ip)) {
                    let endpoint = Endpoint { ip, port: number, ready, serving, terminating };
                    map.entry(name.clone()).or_default().push(endpoint);
                }
            }
        }
    }
    for endpoints in map.values_mut() {
        endpoints.sort();
    }
    map
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    pub fn slice(name: &str, service: &str, ports: serde_json::Value, endpoints: serde_json::Value) -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop", "labels": {SERVICE_NAME_LABEL: service}},
            "addressType": "IPv4", "ports": ports, "endpoints": endpoints,
        }))
        .unwrap()
    }

    fn http() -> ServicePortName {
        ServicePortName::new("shop", "web", "http", Protocol::Tcp)
    }

    #[test]
    fn slices_of_a_service_merge_and_named_ports_resolve_per_slice() {
        // Two versions of the pod listen on different numbers for the port named `http`.
        let old = slice(
            "web-a",
            "web",
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}]),
            json!([{"addresses": ["10.244.0.5"]}, {"addresses": ["10.244.0.6"], "conditions": {"ready": false}}]),
        );
        let new = slice(
            "web-b",
            "web",
            json!([{"name": "http", "port": 9090}]),
            json!([{"addresses": ["10.244.0.7"], "conditions": {"ready": true}}, {"addresses": ["10.244.0.5"]}]),
        );
        let map = endpoints_map([&new, &old]);
        let endpoints = &map[&http()];
        let summary: Vec<(String, bool)> = endpoints.iter().map(|e| (e.address(), e.ready)).collect();
        assert_eq!(
            summary,
            vec![
                ("10.244.0.5:8080".into(), true), // in both slices: the first slice (by name) wins
                ("10.244.0.6:8080".into(), false),
                ("10.244.0.7:9090".into(), true),
            ]
        );
    }

    #[test]
    fn conditions_follow_the_api_defaults() {
        let cases = [
            ("absent: ready and serving", json!(null), (true, true, false)),
            ("ready false: not serving either", json!({"ready": false}), (false, false, false)),
            (
                "terminating but serving",
                json!({"ready": false, "serving": true, "terminating": true}),
                (false, true, true),
            ),
        ];
        for (name, conditions, expected) in cases {
            let endpoint: SliceEndpoint =
                serde_json::from_value(json!({"addresses": ["10.244.0.5"], "conditions": conditions})).unwrap();
            assert_eq!(super::conditions(&endpoint), expected, "{name}");
        }
    }

    #[test]
    fn slices_without_a_service_label_or_of_another_family_are_ignored() {
        let mut orphan =
            slice("x", "web", json!([{"name": "http", "port": 80}]), json!([{"addresses": ["10.244.0.5"]}]));
        orphan.metadata.labels = None;
        let mut fqdn = slice("y", "web", json!([{"name": "http", "port": 80}]), json!([{"addresses": ["a.example"]}]));
        fqdn.address_type = "FQDN".into();
        assert!(endpoints_map([&orphan, &fqdn]).is_empty());
    }
}
