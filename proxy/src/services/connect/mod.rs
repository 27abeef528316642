//! Connect-time balancing: a host's TCP connections to a ClusterIP go straight to an endpoint,
//! chosen once at `connect()`, instead of being DNATed packet by packet.
//!
//! Why, measured (`bench/README.md`, bench-net): iptables' DNAT costs every packet of a
//! connection two route lookups (netfilter routes a packet again after `OUTPUT` changed its
//! destination, and the pod's replies take the slow input route), 5–8% of a 16 KiB exchange's
//! throughput at 55,000 requests a second on two cores. An eBPF program attached to the
//! `connect()` of every socket (`cgroup/connect4`) rewrites the address the socket connects to:
//! the connection is then an ordinary one to the pod, with no NAT and no conntrack translation,
//! and it costs what reaching the pod by its IP costs.
//!
//! The iptables rules stay, whole, beside it. They serve what the program leaves alone (UDP,
//! NodePorts and traffic from other hosts, Services with session affinity, ClusterIPs with no
//! ready endpoint, which they REJECT), and everything, if the program cannot be loaded: an old
//! kernel, no `CAP_BPF`, a seccomp filter (the proxy then warns once and goes on with iptables
//! alone). If the proxy stops, even by `kill -9`, the program is detached with its last file
//! descriptor, and the rules, which outlive it, take over.
//!
//! - [`program`]: the program, as bytecode;
//! - [`table`]: which ports it balances, to which endpoints, and the map writes between two tables;
//! - [`sys`]: the `bpf()` calls and the cgroup to attach to.
//!
//! This is not kube-proxy's way (its iptables mode DNATs every connection; Cilium's
//! kube-proxy replacement does this, `bpf/bpf_sock.c`). `getpeername()` on such a socket
//! answers the pod's address, not the ClusterIP.

pub mod program;
pub mod sys;
pub mod table;

use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;

pub use table::{connect_table, Address, ConnectTable};
use table::{writes, Write};

/// At most this many ClusterIP:ports, and endpoints over all of them.
const MAX_SERVICES: u32 = 16 * 1024;
const MAX_BACKENDS: u32 = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot create the {map} map")]
    Map {
        map: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the kernel refused the connect4 program: {log}")]
    Load {
        log: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the cgroup v2 root")]
    Cgroup(#[source] std::io::Error),
    #[error("cannot attach the connect4 program")]
    Attach(#[source] std::io::Error),
    #[error("cannot write {write:?}")]
    Write {
        write: Write,
        #[source]
        source: std::io::Error,
    },
}

/// The program attached, its maps, and what they hold. Dropping it detaches the program.
pub struct ConnectBalancer {
    services: OwnedFd,
    backends: OwnedFd,
    /// Held for the attachment's sake: closing it detaches the program.
    _link: OwnedFd,
    current: ConnectTable,
}

impl ConnectBalancer {
    /// Loads and attaches the program, with empty maps: until the first [`apply`], every
    /// `connect()` goes on as if it were not there.
    ///
    /// [`apply`]: ConnectBalancer::apply
    pub fn open() -> Result<ConnectBalancer, ConnectError> {
        let services = sys::hash_map("skiff_services", 8, 8, MAX_SERVICES)
            .map_err(|source| ConnectError::Map { map: "services", source })?;
        let backends = sys::hash_map("skiff_backends", 12, 8, MAX_BACKENDS)
            .map_err(|source| ConnectError::Map { map: "backends", source })?;
        let code = program::encode(&program::connect4(raw(&services), raw(&backends)));
        let program =
            sys::load_connect4("skiff_connect4", &code).map_err(|(source, log)| ConnectError::Load { log, source })?;
        let cgroup = sys::cgroup2_root().map_err(ConnectError::Cgroup)?;
        let link = sys::attach_connect4(&program, &cgroup).map_err(ConnectError::Attach)?;
        Ok(ConnectBalancer { services, backends, _link: link, current: ConnectTable::new() })
    }

    /// Makes the maps hold `table`. On an error the maps are part way; the caller drops the
    /// balancer, which detaches the program.
    pub fn apply(&mut self, table: &ConnectTable) -> Result<(), ConnectError> {
        for write in writes(&self.current, table) {
            let done = match &write {
                Write::Backend { service, index, backend } => {
                    sys::update(&self.backends, &backend_key(*service, *index), &address_bytes(*backend))
                }
                Write::Count { service, count } => {
                    let mut value = [0u8; 8];
                    value[..4].copy_from_slice(&count.to_ne_bytes());
                    sys::update(&self.services, &address_bytes(*service), &value)
                }
                Write::RemoveBackend { service, index } => sys::delete(&self.backends, &backend_key(*service, *index)),
                Write::RemoveService { service } => sys::delete(&self.services, &address_bytes(*service)),
            };
            done.map_err(|source| ConnectError::Write { write: write.clone(), source })?;
        }
        self.current = table.clone();
        Ok(())
    }
}

fn raw(fd: &OwnedFd) -> i32 {
    std::os::fd::AsRawFd::as_raw_fd(fd)
}

/// An address as `struct bpf_sock_addr` holds it: the IPv4 address in network order, then the
/// port in network order in the low half of a 32-bit word (so its bytes are `hi lo 0 0`).
fn address_bytes((ip, port): (Ipv4Addr, u16)) -> [u8; 8] {
    let [a, b, c, d] = ip.octets();
    let [hi, lo] = port.to_be_bytes();
    [a, b, c, d, hi, lo, 0, 0]
}

/// `{ClusterIP, port, index}`: the index as the program stores it, in the machine's order.
fn backend_key(service: Address, index: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&address_bytes(service));
    key[8..].copy_from_slice(&index.to_ne_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_laid_out_as_the_kernel_hands_them_to_the_program() {
        assert_eq!(address_bytes((Ipv4Addr::new(10, 96, 0, 20), 80)), [10, 96, 0, 20, 0, 80, 0, 0]);
        assert_eq!(address_bytes((Ipv4Addr::new(10, 244, 0, 5), 8080)), [10, 244, 0, 5, 0x1f, 0x90, 0, 0]);
        let key = backend_key((Ipv4Addr::new(10, 96, 0, 20), 80), 2);
        assert_eq!(key[..8], [10, 96, 0, 20, 0, 80, 0, 0]);
        assert_eq!(key[8..], 2u32.to_ne_bytes());
    }
}
