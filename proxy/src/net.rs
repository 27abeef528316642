//! IPv4 CIDRs: the pod network (`10.244.0.0/16`) and the service range (`10.96.0.0/12`).
//!
//! Left out: IPv6 (Skiff's pod network and Services are IPv4 only).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid IPv4 CIDR {0:?}: want a.b.c.d/n")]
pub struct BadCidr(pub String);

impl Cidr {
    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    pub fn contains(self, address: Ipv4Addr) -> bool {
        u32::from(address) & self.mask() == u32::from(self.base)
    }

    /// The first address after the network's own: 10.96.0.0/12 → 10.96.0.1.
    pub fn first_host(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + 1)
    }
}

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(text: &str) -> Result<Cidr, BadCidr> {
        let bad = || BadCidr(text.to_string());
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        let cidr = Cidr { base: address, prefix };
        Ok(Cidr { base: Ipv4Addr::from(u32::from(address) & cidr.mask()), prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cidr_is_normalized_and_knows_its_addresses() {
        let pods: Cidr = "10.244.3.7/16".parse().unwrap();
        assert_eq!(pods.to_string(), "10.244.0.0/16");
        assert!(pods.contains("10.244.200.1".parse().unwrap()));
        assert!(!pods.contains("10.245.0.1".parse().unwrap()));
        let services: Cidr = "10.96.0.0/12".parse().unwrap();
        assert!(services.contains("10.111.255.255".parse().unwrap()));
        assert!(!services.contains("10.112.0.0".parse().unwrap()));
        assert_eq!(services.first_host(), Ipv4Addr::new(10, 96, 0, 1));
        assert!("10.0.0.0".parse::<Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    }
}
