//! Which conntrack entries a change of the rules left pointing the wrong way.
//!
//! Mirrors `pkg/proxy/conntrack/cleanup.go` (`CleanStaleEntries`, Kubernetes 1.32). Rules are
//! consulted only for the first packet of a flow; conntrack remembers the DNAT of every later
//! packet. For TCP that is exactly what a rollout wants: a connection to an endpoint that is
//! terminating but still serving finishes there, while new connections go elsewhere. So TCP
//! entries are **never** deleted, and conntrack is never flushed as a whole.
//!
//! UDP has no connections, only flows that conntrack keeps while packets keep coming (a DNS
//! client reusing its socket, a metrics agent): they would stick to a gone endpoint for ever.
//! Two cases are cleaned, for UDP only:
//!
//! 1. A UDP endpoint that was used and is not any more (removed, or no longer ready): delete
//!    the flows DNATed to it, from the ClusterIP and from the NodePort.
//! 2. A UDP Service port that had no ready endpoint and has one now: delete the flows to its
//!    ClusterIP (and NodePort), which were made before any rule could DNAT them.
//!
//! Left out: SCTP (connection-oriented, as TCP), the source-port and zone filters upstream
//! builds with netlink instead of the `conntrack` program.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use super::service_ports::{Protocol, ServicePort};
use super::ProxyState;

/// A set of conntrack entries to delete.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum StaleEntry {
    /// Every flow to a ClusterIP port.
    ServiceIp { ip: Ipv4Addr, port: u16, protocol: Protocol },
    /// Every flow to a NodePort.
    NodePort { port: u16, protocol: Protocol },
    /// The flows from a ClusterIP port DNATed to one endpoint.
    ServiceEndpoint { ip: Ipv4Addr, port: u16, endpoint: Ipv4Addr, protocol: Protocol },
    /// The flows from a NodePort DNATed to one endpoint.
    NodePortEndpoint { port: u16, endpoint: Ipv4Addr, protocol: Protocol },
}

impl StaleEntry {
    /// The arguments of `conntrack` that delete these entries.
    pub fn conntrack_args(&self) -> Vec<String> {
        let (protocol, filters) = match self {
            StaleEntry::ServiceIp { ip, port, protocol } => {
                (protocol, vec!["--orig-dst".into(), ip.to_string(), "--orig-port-dst".into(), port.to_string()])
            }
            StaleEntry::NodePort { port, protocol } => (protocol, vec!["--orig-port-dst".into(), port.to_string()]),
            StaleEntry::ServiceEndpoint { ip, port, endpoint, protocol } => (
                protocol,
                vec![
                    "--orig-dst".into(),
                    ip.to_string(),
                    "--orig-port-dst".into(),
                    port.to_string(),
                    "--dst-nat".into(),
                    endpoint.to_string(),
                ],
            ),
            StaleEntry::NodePortEndpoint { port, endpoint, protocol } => {
                (protocol, vec!["--orig-port-dst".into(), port.to_string(), "--dst-nat".into(), endpoint.to_string()])
            }
        };
        let mut args = vec!["-D".to_string(), "-p".into(), protocol.iptables().into()];
        args.extend(filters);
        args
    }
}

/// The ready endpoints of a port, as the rules use them.
fn used(state: &ProxyState, port: &ServicePort) -> BTreeSet<Ipv4Addr> {
    state.ready_endpoints(&port.name).into_iter().map(|e| e.ip).collect()
}

/// The entries to delete after going from the rules of `old` to those of `new`.
pub fn stale(old: &ProxyState, new: &ProxyState) -> Vec<StaleEntry> {
    let mut entries = BTreeSet::new();
    // 1. Endpoints that were used and are not now.
    for port in old.services.values().filter(|p| p.name.protocol == Protocol::Udp) {
        let still = new.services.get(&port.name).map(|p| used(new, p)).unwrap_or_default();
        for endpoint in used(old, port).difference(&still) {
            let (ip, protocol, endpoint) = (port.cluster_ip, port.name.protocol, *endpoint);
            entries.insert(StaleEntry::ServiceEndpoint { ip, port: port.port, endpoint, protocol });
            if let Some(node_port) = port.node_port {
                entries.insert(StaleEntry::NodePortEndpoint { port: node_port, endpoint, protocol });
            }
        }
    }
    // 2. Ports that gained their first endpoint.
    for port in new.services.values().filter(|p| p.name.protocol == Protocol::Udp) {
        let before = old.services.get(&port.name).map(|p| used(old, p)).unwrap_or_default();
        if before.is_empty() && !used(new, port).is_empty() {
            let (ip, protocol) = (port.cluster_ip, port.name.protocol);
            entries.insert(StaleEntry::ServiceIp { ip, port: port.port, protocol });
            if let Some(node_port) = port.node_port {
                entries.insert(StaleEntry::NodePort { port: node_port, protocol });
            }
        }
    }
    entries.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::super::endpoints::Endpoint;
    use super::super::service_ports::ServicePortName;
    use super::*;

    fn state(protocol: Protocol, endpoints: &[(u8, bool)]) -> ProxyState {
        let name = ServicePortName::new("kube-system", "dns", "dns", protocol);
        let port = ServicePort {
            name: name.clone(),
            cluster_ip: Ipv4Addr::new(10, 96, 0, 10),
            port: 53,
            node_port: None,
            affinity_seconds: None,
        };
        let endpoints = endpoints
            .iter()
            .map(|&(last, ready)| Endpoint {
                ip: Ipv4Addr::new(10, 244, 0, last),
                port: 53,
                ready,
                serving: ready,
                terminating: !ready,
            })
            .collect();
        ProxyState {
            services: [(name.clone(), port)].into(),
            endpoints: [(name, endpoints)].into(),
            ..Default::default()
        }
    }

    #[test]
    fn stale_entries_per_change() {
        let dns = |ip: Ipv4Addr| StaleEntry::ServiceEndpoint {
            ip: Ipv4Addr::new(10, 96, 0, 10),
            port: 53,
            endpoint: ip,
            protocol: Protocol::Udp,
        };
        let service_ip = StaleEntry::ServiceIp { ip: Ipv4Addr::new(10, 96, 0, 10), port: 53, protocol: Protocol::Udp };
        let cases: Vec<(&str, ProxyState, ProxyState, Vec<StaleEntry>)> = vec![
            ("nothing changed", state(Protocol::Udp, &[(5, true)]), state(Protocol::Udp, &[(5, true)]), vec![]),
            (
                "a UDP endpoint removed",
                state(Protocol::Udp, &[(5, true), (6, true)]),
                state(Protocol::Udp, &[(6, true)]),
                vec![dns(Ipv4Addr::new(10, 244, 0, 5))],
            ),
            (
                "a UDP endpoint no longer ready",
                state(Protocol::Udp, &[(5, true), (6, true)]),
                state(Protocol::Udp, &[(5, false), (6, true)]),
                vec![dns(Ipv4Addr::new(10, 244, 0, 5))],
            ),
            (
                "the Service deleted",
                state(Protocol::Udp, &[(5, true)]),
                ProxyState::default(),
                vec![dns(Ipv4Addr::new(10, 244, 0, 5))],
            ),
            (
                "the first endpoint of a UDP port",
                state(Protocol::Udp, &[]),
                state(Protocol::Udp, &[(5, true)]),
                vec![service_ip.clone()],
            ),
            (
                "the first sync after a start",
                ProxyState::default(),
                state(Protocol::Udp, &[(5, true)]),
                vec![service_ip],
            ),
            ("TCP endpoints are never cleaned", state(Protocol::Tcp, &[(5, true)]), state(Protocol::Tcp, &[]), vec![]),
        ];
        for (name, old, new, expected) in cases {
            assert_eq!(stale(&old, &new), expected, "{name}");
        }
    }

    #[test]
    fn conntrack_is_asked_for_exactly_the_flows_of_one_endpoint() {
        let entry = StaleEntry::ServiceEndpoint {
            ip: Ipv4Addr::new(10, 96, 0, 10),
            port: 53,
            endpoint: Ipv4Addr::new(10, 244, 0, 5),
            protocol: Protocol::Udp,
        };
        assert_eq!(
            entry.conntrack_args().join(" "),
            "-D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53 --dst-nat 10.244.0.5"
        );
        let node_port = StaleEntry::NodePort { port: 30053, protocol: Protocol::Udp };
        assert_eq!(node_port.conntrack_args().join(" "), "-D -p udp --orig-port-dst 30053");
    }
}
