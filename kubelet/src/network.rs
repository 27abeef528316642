//! The pod network on this host, and the pod IPs of this node.
//!
//! Every kubelet on a host shares one Docker bridge network (`skiff`, 10.244.0.0/16 by default):
//! the first one to start creates it. Each node then hands out its pods' addresses from its own
//! `--pod-cidr` (node-1 10.244.1.0/24, node-2 10.244.2.0/24…), by giving each pause container
//! its address explicitly, so pods of different nodes on one host reach each other by pod IP,
//! through the bridge, as pods of different hosts would through routes. Without a pod CIDR,
//! Docker picks the address.
//!
//! This takes the place of a CNI plugin (`host-local` IPAM with the bridge plugin): Kubernetes
//! has no pod network of its own. Left out: IPv6, several hosts (routes between their bridges).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use parking_lot::Mutex;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetworkError {
    #[error("invalid CIDR {0:?}: want a.b.c.d/n")]
    Cidr(String),
    #[error("no free address left in {0}")]
    Exhausted(String),
}

/// An IPv4 CIDR: `10.244.1.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, NetworkError> {
        let bad = || NetworkError::Cidr(text.to_string());
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 30 {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Cidr { base: Ipv4Addr::from(u32::from(address) & mask), prefix })
    }

    fn size(&self) -> u32 {
        1 << (32 - self.prefix)
    }

    /// The addresses pods may have: not the network's own, not its broadcast address.
    /// 10.244.1.0/24 → 10.244.1.1 … 10.244.1.254.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let base = u32::from(self.base);
        (1..self.size() - 1).map(move |offset| Ipv4Addr::from(base + offset))
    }

    pub fn contains(&self, address: Ipv4Addr) -> bool {
        let mask = u32::MAX << (32 - self.prefix);
        u32::from(address) & mask == u32::from(self.base)
    }

    /// The first host address: the bridge's gateway for the network's CIDR.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + 1)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// The addresses of one node's pod CIDR: which are taken.
///
/// A std `Mutex` because nothing awaits while it is held. The taken set is rebuilt at start
/// from the pause containers' `io.skiff.pod-ip` labels, so a restarted kubelet never hands out
/// an address a running pod has.
pub struct PodIps {
    cidr: Cidr,
    /// Never handed out: the bridge's gateway (the host).
    gateway: Ipv4Addr,
    taken: Mutex<HashSet<Ipv4Addr>>,
}

impl PodIps {
    pub fn new(cidr: Cidr, gateway: Ipv4Addr) -> PodIps {
        PodIps { cidr, gateway, taken: Mutex::new(HashSet::new()) }
    }

    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// Marks an address as taken (by a pod found running).
    pub fn reserve(&self, address: Ipv4Addr) {
        if self.cidr.contains(address) {
            self.taken.lock().insert(address);
        }
    }

    /// The lowest free address, now taken. The CIDR's first address is never handed out: it is
    /// the node's own on its pod range (the bridge's, once hosts route pod CIDRs to each other),
    /// as host-local IPAM reserves it. `skip` lists addresses Docker refused (taken by something
    /// this kubelet does not know of).
    pub fn allocate(&self, skip: &HashSet<Ipv4Addr>) -> Result<Ipv4Addr, NetworkError> {
        let mut taken = self.taken.lock();
        let free = self
            .cidr
            .hosts()
            .skip(1)
            .find(|a| *a != self.gateway && !taken.contains(a) && !skip.contains(a))
            .ok_or_else(|| NetworkError::Exhausted(self.cidr.to_string()))?;
        taken.insert(free);
        Ok(free)
    }

    pub fn release(&self, address: Ipv4Addr) {
        self.taken.lock().remove(&address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_list_their_hosts() {
        let cidr = Cidr::parse("10.244.1.7/24").unwrap();
        assert_eq!(cidr.to_string(), "10.244.1.0/24");
        assert_eq!(cidr.hosts().count(), 254);
        assert_eq!(cidr.hosts().next(), Some("10.244.1.1".parse().unwrap()));
        assert_eq!(cidr.hosts().last(), Some("10.244.1.254".parse().unwrap()));
        assert!(cidr.contains("10.244.1.200".parse().unwrap()));
        assert!(!cidr.contains("10.244.2.1".parse().unwrap()));
        for bad in ["10.244.1.0", "10.244.1.0/33", "x/24", "10.244.1.0/31"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_are_handed_out_lowest_first_never_twice_and_never_the_gateway() {
        let ips = PodIps::new(Cidr::parse("10.244.0.0/28").unwrap(), "10.244.0.2".parse().unwrap());
        ips.reserve("10.244.0.4".parse().unwrap());
        let none = HashSet::new();
        assert_eq!(ips.allocate(&none).unwrap().to_string(), "10.244.0.3", "not .1 (the node's), not .2 (the gateway)");
        assert_eq!(ips.allocate(&none).unwrap().to_string(), "10.244.0.5", ".4 was found running");
        let refused = HashSet::from(["10.244.0.6".parse().unwrap()]);
        assert_eq!(ips.allocate(&refused).unwrap().to_string(), "10.244.0.7");
        ips.release("10.244.0.3".parse().unwrap());
        assert_eq!(ips.allocate(&none).unwrap().to_string(), "10.244.0.3", "released, handed out again");
        let tiny = PodIps::new(Cidr::parse("10.0.0.0/30").unwrap(), "10.9.9.9".parse().unwrap());
        assert_eq!(tiny.allocate(&none).unwrap().to_string(), "10.0.0.2");
        assert_eq!(tiny.allocate(&none), Err(NetworkError::Exhausted("10.0.0.0/30".into())));
    }
}

/// The Linux bridge Docker made for the pod network: `br-` and the network id's first 12
/// characters (Docker's name for a user-defined bridge network).
pub fn bridge_name(network_id: &str) -> String {
    format!("br-{}", &network_id[..network_id.len().min(12)])
}

/// Turns on hairpin mode on every port of the pod bridge, so that a pod reaching itself
/// through its Service's ClusterIP (DNAT back to its own address) gets its packets back:
/// without it the bridge never sends a frame out of the port it came in, and the connection
/// times out. Kubernetes' kubelet does the same (`hairpin-veth` mode). Best effort: on a host
/// without the bridge (a fake runtime, another engine) there is nothing to do.
pub fn enable_hairpin(network_id: &str) {
    let ports = std::path::Path::new("/sys/class/net").join(bridge_name(network_id)).join("brif");
    let Ok(entries) = std::fs::read_dir(&ports) else { return };
    for port in entries.flatten() {
        let setting = port.path().join("hairpin_mode");
        if std::fs::read_to_string(&setting).is_ok_and(|v| v.trim() == "1") {
            continue;
        }
        if let Err(err) = std::fs::write(&setting, "1") {
            tracing::debug!(port = ?port.file_name(), cause = %err, "cannot turn on hairpin mode");
        }
    }
}
