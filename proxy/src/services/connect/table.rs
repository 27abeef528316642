//! Which ClusterIP:ports are balanced at `connect()`, and to what; and the map writes that take
//! the kernel's maps from one table to the next.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::services::{Protocol, ProxyState};

/// A ClusterIP and port, or an endpoint's address and port.
pub type Address = (Ipv4Addr, u16);

/// Each balanced ClusterIP:port and its ready endpoints, sorted.
pub type ConnectTable = BTreeMap<Address, Vec<Address>>;

/// The ports the program takes over: TCP ports with at least one ready endpoint and no session
/// affinity. The rest stays with iptables alone: UDP (the program sees only `connect()`, and
/// UDP is mostly sent unconnected), `sessionAffinity: ClientIP` (the `recent` match remembers
/// clients; the program does not), and ports with no ready endpoint (the filter table REJECTs
/// their connections, so they fail at once as the user expects).
pub fn connect_table(state: &ProxyState) -> ConnectTable {
    let mut table = ConnectTable::new();
    for (name, port) in &state.services {
        if name.protocol != Protocol::Tcp || port.affinity_seconds.is_some() {
            continue;
        }
        // Sorted by address already: an endpoint two slices both list is kept once.
        let mut ready: Vec<Address> = state.ready_endpoints(name).into_iter().map(|e| (e.ip, e.port)).collect();
        if ready.is_empty() {
            continue;
        }
        ready.dedup();
        table.insert((port.cluster_ip, port.port), ready);
    }
    table
}

/// One write to the maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// `backends[{service, index}] = backend`.
    Backend { service: Address, index: u32, backend: Address },
    /// `services[service] = count`.
    Count { service: Address, count: u32 },
    /// Deletes `backends[{service, index}]`.
    RemoveBackend { service: Address, index: u32 },
    /// Deletes `services[service]`.
    RemoveService { service: Address },
}

/// The writes from `from` to `to`, in an order in which a `connect()` running between any two
/// of them never finds an empty slot: a Service's new backends are written before its count
/// grows to include them, its count shrinks before the slots beyond it go, and a Service that
/// goes is removed before its backends. In between, a `connect()` may still pick a backend of
/// `from`; that is safe because an endpoint this proxy drops keeps serving until the proxy has
/// reported the sync done (`crate::progress`: the kubelet waits for it before stopping a pod).
pub fn writes(from: &ConnectTable, to: &ConnectTable) -> Vec<Write> {
    let mut out = Vec::new();
    for (&service, backends) in to {
        let old = from.get(&service).map(Vec::as_slice).unwrap_or_default();
        for (index, &backend) in backends.iter().enumerate() {
            if old.get(index) != Some(&backend) {
                out.push(Write::Backend { service, index: index as u32, backend });
            }
        }
        if old.len() != backends.len() {
            out.push(Write::Count { service, count: backends.len() as u32 });
        }
        for index in backends.len()..old.len() {
            out.push(Write::RemoveBackend { service, index: index as u32 });
        }
    }
    for (&service, old) in from.iter().filter(|(s, _)| !to.contains_key(s)) {
        out.push(Write::RemoveService { service });
        out.extend((0..old.len()).map(|index| Write::RemoveBackend { service, index: index as u32 }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::{Endpoint, ServicePort, ServicePortName};

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 244, 0, last)
    }

    fn state(protocol: Protocol, affinity: Option<u32>, endpoints: &[(u8, bool)]) -> ProxyState {
        let name = ServicePortName::new("default", "web", "", protocol);
        let port = ServicePort {
            name: name.clone(),
            cluster_ip: Ipv4Addr::new(10, 96, 0, 20),
            port: 80,
            node_port: None,
            affinity_seconds: affinity,
        };
        let endpoints = endpoints
            .iter()
            .map(|&(last, ready)| Endpoint { ip: ip(last), port: 8080, ready, serving: true, terminating: !ready })
            .collect();
        ProxyState { services: [(name.clone(), port)].into(), endpoints: [(name, endpoints)].into(), slice_revision: 1 }
    }

    const VIP: Address = (Ipv4Addr::new(10, 96, 0, 20), 80);

    #[test]
    fn only_tcp_ports_with_ready_endpoints_and_no_affinity_are_balanced_at_connect() {
        let cases: [(&str, ProxyState, Option<Vec<Address>>); 5] = [
            (
                "two ready",
                state(Protocol::Tcp, None, &[(6, true), (5, true)]),
                Some(vec![(ip(5), 8080), (ip(6), 8080)]),
            ),
            (
                "a terminating one is left out",
                state(Protocol::Tcp, None, &[(5, true), (6, false)]),
                Some(vec![(ip(5), 8080)]),
            ),
            ("none ready: iptables REJECTs", state(Protocol::Tcp, None, &[(5, false)]), None),
            ("UDP stays with iptables", state(Protocol::Udp, None, &[(5, true)]), None),
            ("ClientIP affinity stays with iptables", state(Protocol::Tcp, Some(10800), &[(5, true)]), None),
        ];
        for (name, state, want) in cases {
            assert_eq!(connect_table(&state).get(&VIP).cloned(), want, "{name}");
        }
    }

    fn table(backends: &[u8]) -> ConnectTable {
        [(VIP, backends.iter().map(|&b| (ip(b), 8080)).collect())].into()
    }

    #[test]
    fn writes_grow_a_service_after_its_backends_and_shrink_it_before() {
        use Write::*;
        let b = |last| (ip(last), 8080);
        let cases: [(&str, ConnectTable, ConnectTable, Vec<Write>); 5] = [
            (
                "a new Service: backends, then the count",
                ConnectTable::new(),
                table(&[5, 6]),
                vec![
                    Backend { service: VIP, index: 0, backend: b(5) },
                    Backend { service: VIP, index: 1, backend: b(6) },
                    Count { service: VIP, count: 2 },
                ],
            ),
            ("no change, no write", table(&[5, 6]), table(&[5, 6]), vec![]),
            (
                "one more: written, then counted",
                table(&[5]),
                table(&[5, 6]),
                vec![Backend { service: VIP, index: 1, backend: b(6) }, Count { service: VIP, count: 2 }],
            ),
            (
                "the first goes: the second moves down, the count shrinks, the last slot goes",
                table(&[5, 6]),
                table(&[6]),
                vec![
                    Backend { service: VIP, index: 0, backend: b(6) },
                    Count { service: VIP, count: 1 },
                    RemoveBackend { service: VIP, index: 1 },
                ],
            ),
            (
                "the Service goes, then its backends",
                table(&[5, 6]),
                ConnectTable::new(),
                vec![
                    RemoveService { service: VIP },
                    RemoveBackend { service: VIP, index: 0 },
                    RemoveBackend { service: VIP, index: 1 },
                ],
            ),
        ];
        for (name, from, to, want) in cases {
            assert_eq!(writes(&from, &to), want, "{name}");
        }
    }
}
