//! The Service data path: ClusterIPs and NodePorts as iptables rules, in the manner of
//! kube-proxy's iptables mode (`pkg/proxy/iptables/`, Kubernetes 1.32).
//!
//! The split follows "pure decisions, narrow side effects":
//!
//! - [`service_ports`] and [`endpoints`] turn the informers' caches into a [`ProxyState`];
//! - [`rules::rules`] turns a state into the whole `iptables-restore` text;
//! - [`conntrack::stale`] says which conntrack entries a change left pointing nowhere;
//! - [`kernel::Kernel`] is the only thing that touches the kernel (`iptables-restore`,
//!   `iptables` for the jumps, `conntrack -D`, `ip route`), with a recording fake for tests;
//! - [`connect`] balances the host's TCP connections to ClusterIPs at `connect()` (an eBPF
//!   program), beside the rules, so that they are not NATed packet by packet;
//! - [`sync`] runs the loop: a change arrives, changes within `min_sync_period` coalesce, one
//!   restore applies them; on shutdown every rule of ours is removed.
//!
//! **ClusterIPs need no device**: DNAT in nat `OUTPUT` (the host's own connections) and
//! `PREROUTING` (pods') rewrites the destination before the packet leaves, so the kernel never
//! needs a ClusterIP to be an address of its own. It needs a *route* covering the range for the
//! host's `connect()` to get as far as `OUTPUT`; [`presence`] says what was measured, and why
//! the proxy routes the range to a port-less bridge by default anyway (so that a packet no rule
//! DNATed never leaves the host).

pub mod chains;
pub mod connect;
pub mod conntrack;
pub mod endpoints;
pub mod kernel;
pub mod presence;
pub mod rules;
pub mod service_ports;
pub mod sync;

#[cfg(test)]
pub(crate) mod fake;

use std::time::Duration;

pub use endpoints::{Endpoint, EndpointsMap};
pub use kernel::{Kernel, KernelError, SystemKernel};
pub use service_ports::{Protocol, ServicePort, ServicePortName, ServicePorts};
pub use sync::run;

use crate::net::Cidr;

/// What the data path serves: the Service ports, and the endpoints of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyState {
    pub services: ServicePorts,
    pub endpoints: EndpointsMap,
    /// The highest EndpointSlice resourceVersion in the caches this was read from. The cache
    /// applies changes in resourceVersion order, so rules made from this state include every
    /// slice change up to it: what the proxy reports as applied ([`crate::progress`]).
    pub slice_revision: i64,
}

impl ProxyState {
    /// The endpoints new connections to `port` may go to: its ready ones, sorted. The rules,
    /// the connect-time table and the conntrack clean-up all choose by this, so that the two
    /// ways into a ClusterIP always lead to the same pods.
    pub fn ready_endpoints(&self, port: &ServicePortName) -> Vec<&Endpoint> {
        let mut ready: Vec<&Endpoint> = self.endpoints.get(port).into_iter().flatten().filter(|e| e.ready).collect();
        ready.sort();
        ready
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The first word of every chain name (`SKIFF` → `SKIFF-SERVICES`); at most
    /// [`chains::MAX_PREFIX`] characters. One proxy per prefix per host.
    pub chain_prefix: String,
    /// The pods' addresses; traffic to a ClusterIP from elsewhere is masqueraded.
    pub cluster_cidr: Option<Cidr>,
    /// The ClusterIP range, which needs a route for the host's own connections.
    pub service_cidr: Cidr,
    /// Route `service_cidr` to the port-less `skiff-vips` bridge ([`presence`]). Tests that
    /// run beside each other leave it off: the route is one per host.
    pub service_route: bool,
    /// Balance the host's TCP connections to ClusterIPs at `connect()` ([`connect`]), beside
    /// the rules; off, iptables DNATs every connection, as kube-proxy does.
    pub balance_connects: bool,
    /// Changes within this long of the first one are applied by one restore.
    pub min_sync_period: Duration,
    /// A full sync (jumps checked, rules rewritten) at least this often, even with no change.
    pub sync_period: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            chain_prefix: "SKIFF".into(),
            cluster_cidr: Some("10.244.0.0/16".parse().expect("a valid CIDR")),
            service_cidr: "10.96.0.0/12".parse().expect("a valid CIDR"),
            service_route: true,
            balance_connects: true,
            min_sync_period: Duration::from_millis(20),
            sync_period: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("chain prefix {0:?} must be 1 to {max} characters of A-Z, 0-9", max = chains::MAX_PREFIX)]
    Prefix(String),
    #[error("the first sync of the rules failed")]
    FirstSync(#[source] KernelError),
    #[error("removing the rules at shutdown failed")]
    Cleanup(#[source] KernelError),
}
