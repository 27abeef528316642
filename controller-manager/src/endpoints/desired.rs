//! What a Service's Endpoints and EndpointSlices should say, given its pods: pure functions.
//!
//! Mirrors `pkg/controller/endpoint/endpoints_controller.go` (`syncService`,
//! `addEndpointSubset`, `podToEndpointAddressForService`), `pkg/api/v1/endpoints/util.go`
//! (`RepackSubsets`), `pkg/controller/util/endpoint/controller_utils.go` (`ShouldPodBeInEndpoints`,
//! `FindPort`) and `pkg/controller/endpointslice/reconciler.go` (`podToEndpoint`):
//!
//! 1. A pod counts if it has an IP and has not finished (`Succeeded`/`Failed`).
//! 2. **Endpoints**: a ready pod goes in `addresses`, a not-ready one in `notReadyAddresses`
//!    (`publishNotReadyAddresses` makes every pod ready); a pod being deleted is left out at
//!    once, so no new connection is sent to a pod that is going away.
//! 3. **EndpointSlices** keep a terminating pod, with `ready: false`, `serving` (its readiness)
//!    and `terminating: true`: a proxy may let its connections finish but sends nothing new.
//! 4. Each Service port's `targetPort` is resolved per pod: a number as it is, a name by the pod's
//!    container port of that name and protocol (a pod without it is left out of that port).
//! 5. Addresses with the same resolved ports form one subset; addresses and ports are sorted,
//!    so that an unchanged set of pods gives an identical object (and no write).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort as SlicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::pods::is_pod_ready;

/// Endpoints per EndpointSlice (upstream's `--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

fn protocol(port: &ServicePort) -> &str {
    port.protocol.as_deref().unwrap_or("TCP")
}

/// The pod's port a Service port targets (`FindPort`).
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(number)) => Some(*number),
        Some(IntOrString::String(name)) => {
            let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
            containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(name) && p.protocol.as_deref().unwrap_or("TCP") == protocol(port))
                .map(|p| p.container_port)
        }
    }
}

fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()).filter(|ip| !ip.is_empty())
}

/// `ShouldPodBeInEndpoints`: an address, not finished. (Terminating pods are each view's call.)
fn counts(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod_ip(pod).is_some() && !matches!(phase, Some("Succeeded" | "Failed"))
}

fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// A pod's DNS hostname under a Service: its `hostname` when its `subdomain` is the Service.
fn hostname(pod: &Pod, service: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let subdomain = spec.subdomain.as_deref()?;
    (Some(subdomain) == service.metadata.name.as_deref()).then(|| spec.hostname.clone()).flatten()
}

fn address(pod: &Pod, service: &Service) -> EndpointAddress {
    EndpointAddress {
        ip: pod_ip(pod).unwrap_or_default().to_string(),
        hostname: hostname(pod, service),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        target_ref: Some(target_ref(pod)),
    }
}

fn ports(service: &Service) -> &[ServicePort] {
    service.spec.as_ref().and_then(|s| s.ports.as_deref()).unwrap_or_default()
}

fn publishes_not_ready(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.publish_not_ready_addresses).unwrap_or(false)
}

/// The resolved ports of `pod` for every Service port it has (sorted), or none.
fn resolved(pod: &Pod, service: &Service) -> Vec<EndpointPort> {
    let mut resolved: Vec<EndpointPort> = ports(service)
        .iter()
        .filter_map(|port| {
            find_port(pod, port).map(|number| EndpointPort {
                name: port.name.clone().filter(|n| !n.is_empty()),
                port: number,
                protocol: Some(protocol(port).to_string()),
                app_protocol: port.app_protocol.clone(),
            })
        })
        .collect();
    resolved.sort_by(|a, b| (&a.name, a.port).cmp(&(&b.name, b.port)));
    resolved
}

/// The `subsets` of the Service's Endpoints.
pub fn subsets(service: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    // Port set → (ready, not ready) addresses: the repacking of `RepackSubsets`.
    let mut by_ports: BTreeMap<String, (Vec<EndpointPort>, Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    for pod in pods.iter().filter(|p| counts(p)) {
        let ready = publishes_not_ready(service) || (is_pod_ready(pod) && !terminating(pod));
        if terminating(pod) && !publishes_not_ready(service) {
            continue;
        }
        let pod_ports = resolved(pod, service);
        if pod_ports.is_empty() && !ports(service).is_empty() {
            continue;
        }
        let key = serde_json::to_string(&pod_ports).unwrap_or_default();
        let entry = by_ports.entry(key).or_insert_with(|| (pod_ports, Vec::new(), Vec::new()));
        if ready {
            entry.1.push(address(pod, service));
        } else {
            entry.2.push(address(pod, service));
        }
    }
    by_ports
        .into_values()
        .map(|(ports, mut ready, mut not_ready)| {
            ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

/// One group of endpoints sharing their ports: what one EndpointSlice holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceContent {
    pub ports: Vec<SlicePort>,
    pub endpoints: Vec<Endpoint>,
}

/// The content of the Service's EndpointSlices: per port set, chunks of at most
/// [`MAX_ENDPOINTS_PER_SLICE`] endpoints.
pub fn slices(service: &Service, pods: &[&Pod]) -> Vec<SliceContent> {
    let mut by_ports: BTreeMap<String, (Vec<SlicePort>, Vec<Endpoint>)> = BTreeMap::new();
    for pod in pods.iter().filter(|p| counts(p)) {
        let pod_ports = resolved(pod, service);
        if pod_ports.is_empty() && !ports(service).is_empty() {
            continue;
        }
        let serving = publishes_not_ready(service) || is_pod_ready(pod);
        let endpoint = Endpoint {
            addresses: vec![pod_ip(pod).unwrap_or_default().to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(serving && !terminating(pod)),
                serving: Some(serving),
                terminating: Some(terminating(pod)),
            }),
            hostname: hostname(pod, service),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(target_ref(pod)),
            ..Default::default()
        };
        let slice_ports: Vec<SlicePort> = pod_ports
            .into_iter()
            // A slice's port always has a name, `""` for the Service's one unnamed port, as
            // upstream writes it (kubectl describe dereferences it).
            .map(|p| SlicePort {
                name: Some(p.name.unwrap_or_default()),
                port: Some(p.port),
                protocol: p.protocol,
                app_protocol: p.app_protocol,
            })
            .collect();
        let key = serde_json::to_string(&slice_ports).unwrap_or_default();
        by_ports.entry(key).or_insert_with(|| (slice_ports, Vec::new())).1.push(endpoint);
    }
    let mut contents = Vec::new();
    for (ports, mut endpoints) in by_ports.into_values() {
        endpoints.sort_by(|a, b| a.addresses.cmp(&b.addresses));
        for chunk in endpoints.chunks(MAX_ENDPOINTS_PER_SLICE) {
            contents.push(SliceContent { ports: ports.clone(), endpoints: chunk.to_vec() });
        }
    }
    contents
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service(ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "default"},
                                      "spec": {"selector": {"app": "web"}, "ports": ports}}))
        .unwrap()
    }

    fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"nodeName": "node-1", "containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}}))
        .unwrap()
    }

    fn ips(addresses: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        addresses.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn ready_pods_are_addresses_and_the_others_not_ready_addresses() {
        let svc = service(json!([{"port": 80, "targetPort": 8080}]));
        let (a, b, c) = (pod("a", "10.244.1.3", true), pod("b", "10.244.1.2", true), pod("c", "10.244.1.4", false));
        let subsets = subsets(&svc, &[&a, &b, &c]);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.244.1.2", "10.244.1.3"], "sorted by IP");
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.244.1.4"]);
        assert_eq!(subsets[0].ports.as_ref().unwrap()[0].port, 8080);
        let reference = subsets[0].addresses.as_ref().unwrap()[0].target_ref.clone().unwrap();
        assert_eq!((reference.kind.as_deref(), reference.name.as_deref()), (Some("Pod"), Some("b")));
    }

    #[test]
    fn a_terminating_pod_leaves_the_endpoints_at_once_but_stays_in_the_slice_as_terminating() {
        let svc = service(json!([{"port": 80, "targetPort": 8080}]));
        let mut going = pod("a", "10.244.1.2", true);
        going.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::chrono::DateTime::from_timestamp(0, 0).unwrap(),
        ));
        assert!(subsets(&svc, &[&going]).is_empty());
        let slices = slices(&svc, &[&going]);
        let conditions = slices[0].endpoints[0].conditions.clone().unwrap();
        assert_eq!((conditions.ready, conditions.serving, conditions.terminating), (Some(false), Some(true), Some(true)));
    }

    #[test]
    fn an_unnamed_port_is_named_empty_in_the_slice_and_left_unnamed_in_the_endpoints() {
        let svc = service(json!([{"port": 80, "targetPort": 8080}]));
        let ready = pod("a", "10.244.1.2", true);
        assert_eq!(slices(&svc, &[&ready])[0].ports[0].name.as_deref(), Some(""), "kubectl describe reads it");
        assert_eq!(subsets(&svc, &[&ready])[0].ports.as_ref().unwrap()[0].name, None);
    }

    #[test]
    fn named_target_ports_resolve_per_pod_and_pods_without_them_are_left_out() {
        let svc = service(json!([{"name": "http", "port": 80, "targetPort": "http"}]));
        let with = pod("a", "10.244.1.2", true);
        let mut without = pod("b", "10.244.1.3", true);
        without.spec.as_mut().unwrap().containers[0].ports = None;
        let subsets = subsets(&svc, &[&with, &without]);
        assert_eq!(ips(&subsets[0].addresses), ["10.244.1.2"]);
        assert_eq!(subsets[0].ports.as_ref().unwrap()[0].port, 8080);
        assert_eq!(subsets[0].ports.as_ref().unwrap()[0].name.as_deref(), Some("http"));
    }

    #[test]
    fn pods_without_an_ip_or_finished_do_not_count() {
        let svc = service(json!([{"port": 80}]));
        let mut pending = pod("a", "", false);
        pending.status.as_mut().unwrap().pod_ip = None;
        let mut done = pod("b", "10.244.1.2", false);
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(subsets(&svc, &[&pending, &done]).is_empty());
        assert!(slices(&svc, &[&pending, &done]).is_empty());
    }

    #[test]
    fn publish_not_ready_addresses_makes_every_pod_ready() {
        let mut svc = service(json!([{"port": 80}]));
        svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let subsets = subsets(&svc, &[&pod("a", "10.244.1.2", false)]);
        assert_eq!(ips(&subsets[0].addresses), ["10.244.1.2"]);
    }

    #[test]
    fn a_pod_with_hostname_and_subdomain_is_named_in_its_headless_service() {
        let svc = service(json!([{"port": 80}]));
        let mut db = pod("db-0", "10.244.1.2", true);
        let spec = db.spec.as_mut().unwrap();
        spec.hostname = Some("db-0".into());
        spec.subdomain = Some("web".into());
        assert_eq!(subsets(&svc, &[&db])[0].addresses.as_ref().unwrap()[0].hostname.as_deref(), Some("db-0"));
    }

    #[test]
    fn slices_hold_at_most_a_hundred_endpoints() {
        let svc = service(json!([{"port": 80}]));
        let pods: Vec<Pod> = (0..150).map(|i| pod(&format!("p{i}"), &format!("10.244.{}.{}", i / 200, i % 200 + 1), true)).collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let contents = slices(&svc, &refs);
        assert_eq!(contents.iter().map(|c| c.endpoints.len()).collect::<Vec<_>>(), [100, 50]);
    }
}
