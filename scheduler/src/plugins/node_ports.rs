//! NodePorts: two pods cannot hold the same host port on one node.
//!
//! Mirrors `pkg/scheduler/framework/plugins/nodeports/node_ports.go` and `HostPortInfo` of
//! `framework/types.go` (Kubernetes 1.31). A port is `(host IP, protocol, port)`; `0.0.0.0`
//! (also what an empty host IP means) takes the port on every address, so it clashes with the
//! same protocol and port on any IP, and any IP clashes with `0.0.0.0`:
//!
//! ```text
//! held 0.0.0.0/TCP/80    wanted 10.0.0.1/TCP/80 → clash    wanted 0.0.0.0/UDP/80 → free
//! held 10.0.0.1/TCP/80   wanted 10.0.0.2/TCP/80 → free     wanted 0.0.0.0/TCP/80 → clash
//! ```
//!
//! Freeing a port means moving a pod, which preemption could do, so the rejection is the
//! resolvable kind.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{FilterPlugin, Status};
use crate::node_info::{host_ports, HostPort, NodeInfo};

pub const NAME: &str = "NodePorts";
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

const ANY_IP: &str = "0.0.0.0";

fn clashes(held: &HostPort, wanted: &HostPort) -> bool {
    let (held_ip, held_protocol, held_port) = held;
    let (wanted_ip, wanted_protocol, wanted_port) = wanted;
    held_protocol == wanted_protocol
        && held_port == wanted_port
        && (held_ip == wanted_ip || held_ip == ANY_IP || wanted_ip == ANY_IP)
}

/// Whether every wanted port is free among the node's used ones.
pub fn fits(wanted: &[HostPort], used: &BTreeSet<HostPort>) -> bool {
    wanted.iter().all(|w| !used.iter().any(|held| clashes(held, w)))
}

pub struct NodePorts;

impl FilterPlugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo) -> Status {
        if fits(&host_ports(pod), &node.used_ports) {
            Status::Success
        } else {
            Status::unschedulable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestNode, TestPod};
    use k8s_openapi::api::core::v1::Node;

    fn port(ip: &str, protocol: &str, port: i32) -> HostPort {
        (ip.into(), protocol.into(), port)
    }

    #[test]
    fn a_host_port_is_free_unless_held_on_the_same_or_every_address() {
        let cases = [
            ("nothing held", vec![], port(ANY_IP, "TCP", 80), true),
            ("the same port on every address", vec![port(ANY_IP, "TCP", 80)], port(ANY_IP, "TCP", 80), false),
            ("held on every address, wanted on one", vec![port(ANY_IP, "TCP", 80)], port("10.0.0.1", "TCP", 80), false),
            ("held on one, wanted on every address", vec![port("10.0.0.1", "TCP", 80)], port(ANY_IP, "TCP", 80), false),
            ("two different addresses", vec![port("10.0.0.1", "TCP", 80)], port("10.0.0.2", "TCP", 80), true),
            ("another protocol", vec![port(ANY_IP, "TCP", 80)], port(ANY_IP, "UDP", 80), true),
            ("another port", vec![port(ANY_IP, "TCP", 80)], port(ANY_IP, "TCP", 81), true),
        ];
        for (name, held, wanted, want) in cases {
            assert_eq!(fits(&[wanted], &held.into_iter().collect()), want, "{name}");
        }
    }

    #[test]
    fn a_pod_holding_the_port_keeps_the_next_one_off() {
        let node = NodeInfo::with_pods(Node::test("n"), [Pod::test("a").host_port(8080)]);
        assert_eq!(NodePorts.filter(&Pod::test("b").host_port(8081), &node), Status::Success);
        assert_eq!(
            NodePorts.filter(&Pod::test("c").host_port_on("10.0.0.1", "TCP", 8080), &node),
            Status::unschedulable("node(s) didn't have free ports for the requested pod ports")
        );
    }
}
