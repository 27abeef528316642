//! Chain names, and the few rules in the kernel's built-in chains that jump to them.
//!
//! Mirrors the naming in `pkg/proxy/iptables/proxier.go` (`servicePortChainName`,
//! `servicePortEndpointChainName`, `iptablesJumpChains`). Every chain Skiff owns starts with
//! one prefix (`SKIFF` by default: `SKIFF-SERVICES`, `SKIFF-SVC-…`), so a sync can find and
//! replace exactly its own chains and nothing else, and tests give each proxy a prefix of its
//! own so that several run side by side on one host.
//!
//! Per-Service chains are named by a hash, because iptables names are at most 28 characters:
//! `SKIFF-SVC-` + 13 characters of base32 of a 64-bit FNV-1a hash of the port's name. The hash
//! is Skiff's own, written out below, so that a name is the same across restarts and builds
//! (the `recent` lists of session affinity are keyed by chain name and survive a restart).

use super::endpoints::Endpoint;
use super::service_ports::ServicePortName;

/// iptables' limit on a chain name.
const MAX_CHAIN_NAME: usize = 28;
/// The longest prefix: `PREFIX-SVC-` + 13 hash characters must fit in 28.
pub const MAX_PREFIX: usize = MAX_CHAIN_NAME - "-SVC-".len() - 13;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Nat,
    Filter,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Nat => "nat",
            Table::Filter => "filter",
        }
    }
}

/// The names of one proxy's chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chains {
    pub prefix: String,
}

/// 64-bit FNV-1a: small, and stable by definition.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3))
}

/// 64 bits as 13 characters of the RFC 4648 base32 alphabet (5 bits each, the last holds 4).
fn base32(mut value: u64) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(13);
    for _ in 0..13 {
        out.push(ALPHABET[(value & 31) as usize] as char);
        value >>= 5;
    }
    out
}

impl Chains {
    pub fn new(prefix: &str) -> Chains {
        Chains { prefix: prefix.to_string() }
    }

    /// Whether `name` is one of this proxy's chains.
    pub fn owns(&self, name: &str) -> bool {
        name.strip_prefix(&self.prefix).is_some_and(|rest| rest.starts_with('-'))
    }

    fn fixed(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    /// nat: every ClusterIP, then the NodePorts (jumped to from PREROUTING and OUTPUT).
    /// filter: the REJECTs of ClusterIPs (only connections the nat table left untranslated meet them).
    pub fn services(&self) -> String {
        self.fixed("SERVICES")
    }
    pub fn node_ports(&self) -> String {
        self.fixed("NODEPORTS")
    }
    /// nat: marks a packet for masquerading.
    pub fn mark_masq(&self) -> String {
        self.fixed("MARK-MASQ")
    }
    /// nat: masquerades marked packets (jumped to from POSTROUTING).
    pub fn postrouting(&self) -> String {
        self.fixed("POSTROUTING")
    }
    /// filter: the REJECTs of NodePorts without endpoints (jumped to from INPUT).
    pub fn external_services(&self) -> String {
        self.fixed("EXTERNAL-SERVICES")
    }
    /// filter: lets marked (DNATed) traffic through a FORWARD chain whose policy is DROP.
    pub fn forward(&self) -> String {
        self.fixed("FORWARD")
    }

    fn hashed(&self, kind: &str, key: &str) -> String {
        format!("{}-{kind}-{}", self.prefix, base32(fnv1a(key)))
    }

    fn port_key(port: &ServicePortName) -> String {
        format!("{port}/{}", port.protocol.iptables())
    }

    /// The load-balancing chain of one Service port.
    pub fn service(&self, port: &ServicePortName) -> String {
        self.hashed("SVC", &Self::port_key(port))
    }
    /// The chain of one endpoint of one Service port: masquerade hairpins, DNAT.
    pub fn endpoint(&self, port: &ServicePortName, endpoint: &Endpoint) -> String {
        self.hashed("SEP", &format!("{}{}", Self::port_key(port), endpoint.address()))
    }
    /// The entry of NodePort traffic: masquerade, then the Service's chain.
    pub fn external(&self, port: &ServicePortName) -> String {
        self.hashed("EXT", &Self::port_key(port))
    }
}

/// A rule in a built-in chain that jumps to one of ours. The jumps are the only rules Skiff
/// puts outside its own chains. They go in with the same restore as the chains they jump to
/// (`-I CHAIN 1`: first, so that Docker's rules do not decide first), only when missing, and
/// leave with the same restore that deletes the chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jump {
    pub table: Table,
    /// `PREROUTING`, `OUTPUT`, …
    pub chain: &'static str,
    /// Match only new connections (the filter table's REJECTs).
    pub new_only: bool,
    pub comment: &'static str,
    pub target: String,
}

impl Jump {
    /// The restore line that inserts it.
    pub fn insert_line(&self) -> String {
        let state = if self.new_only { "-m conntrack --ctstate NEW " } else { "" };
        format!("-I {} 1 {state}-m comment --comment \"{}\" -j {}", self.chain, self.comment, self.target)
    }

    /// Whether `iptables-save` output of its table holds it.
    pub fn is_in(&self, saved: &str) -> bool {
        let (head, tail) = (format!("-A {} ", self.chain), format!("-j {}", self.target));
        saved.lines().any(|line| line.starts_with(&head) && line.trim_end().ends_with(&tail))
    }
}

fn jump(table: Table, chain: &'static str, new_only: bool, comment: &'static str, target: String) -> Jump {
    Jump { table, chain, new_only, comment, target }
}

/// The jumps.
///
/// The filter jumps match only `NEW` connections: a REJECT must never cut a connection that
/// already exists (a terminating endpoint finishing its requests after the last ready one left).
pub fn jumps(chains: &Chains) -> Vec<Jump> {
    vec![
        jump(Table::Nat, "PREROUTING", false, "skiff service portals", chains.services()),
        jump(Table::Nat, "OUTPUT", false, "skiff service portals", chains.services()),
        jump(Table::Nat, "POSTROUTING", false, "skiff postrouting rules", chains.postrouting()),
        jump(Table::Filter, "INPUT", true, "skiff externally-visible service portals", chains.external_services()),
        jump(Table::Filter, "FORWARD", true, "skiff service portals", chains.services()),
        jump(Table::Filter, "FORWARD", false, "skiff forwarding rules", chains.forward()),
        jump(Table::Filter, "OUTPUT", true, "skiff service portals", chains.services()),
    ]
}

/// What `iptables-save` of one table shows of this proxy: its chains, and the rules of
/// built-in (or anyone else's) chains that jump to them, as saved (`-A PREROUTING … -j X`).
pub fn ours_in(saved: &str, chains: &Chains) -> (Vec<String>, Vec<String>) {
    let owned = saved
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|l| l.split(' ').next())
        .filter(|c| chains.owns(c))
        .map(String::from)
        .collect();
    let jumps = saved
        .lines()
        .filter(|l| l.starts_with("-A "))
        .filter(|l| !chains.owns(l.split(' ').nth(1).unwrap_or_default()))
        .filter(|l| l.split(' ').skip_while(|w| *w != "-j").nth(1).is_some_and(|target| chains.owns(target)))
        .map(String::from)
        .collect();
    (owned, jumps)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::super::service_ports::Protocol;
    use super::*;

    #[test]
    fn names_are_stable_short_and_distinct() {
        let chains = Chains::new("SKIFF");
        let http = ServicePortName::new("default", "web", "http", Protocol::Tcp);
        let dns = ServicePortName::new("default", "web", "http", Protocol::Udp);
        let endpoint =
            Endpoint { ip: Ipv4Addr::new(10, 244, 0, 5), port: 8080, ready: true, serving: true, terminating: false };
        // Written down once: a change here renames every chain on every host at upgrade.
        assert_eq!(chains.service(&http), "SKIFF-SVC-3WLODWH36W7RJ");
        assert_ne!(chains.service(&http), chains.service(&dns));
        assert_ne!(
            chains.service(&http).replace("SVC", "EXT"),
            chains.endpoint(&http, &endpoint).replace("SEP", "EXT")
        );
        let longest = Chains::new(&"X".repeat(MAX_PREFIX));
        assert_eq!(longest.endpoint(&http, &endpoint).len(), MAX_CHAIN_NAME);
        assert!(longest.external_services().len() <= MAX_CHAIN_NAME);
    }

    #[test]
    fn a_proxy_owns_only_chains_with_its_prefix_and_a_dash() {
        let chains = Chains::new("SKIFF");
        assert!(chains.owns("SKIFF-SERVICES"));
        assert!(chains.owns("SKIFF-SEP-AAAA"));
        assert!(!chains.owns("SKIFF2-SERVICES"));
        assert!(!chains.owns("KUBE-SERVICES"));
        assert!(!chains.owns("DOCKER"));
    }

    #[test]
    fn filter_jumps_see_only_new_connections() {
        for jump in jumps(&Chains::new("SKIFF")) {
            let is_reject_chain = jump.target.ends_with("SERVICES") && jump.table == Table::Filter;
            assert_eq!(jump.new_only, is_reject_chain, "{jump:?}");
        }
        let jump = &jumps(&Chains::new("SKIFF"))[3];
        assert_eq!(
            jump.insert_line(),
            "-I INPUT 1 -m conntrack --ctstate NEW -m comment --comment \"skiff externally-visible service portals\" -j SKIFF-EXTERNAL-SERVICES"
        );
    }

    /// `iptables-save -t nat` on a host with Docker, this proxy (one jump gone) and another.
    const SAVED_NAT: &str = "\
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:SKIFF-SERVICES - [0:0]
:SKIFF-SVC-AAAA - [0:0]
:ST1234-SERVICES - [0:0]
-A PREROUTING -m comment --comment \"skiff service portals\" -j SKIFF-SERVICES
-A PREROUTING -m comment --comment \"skiff service portals\" -j ST1234-SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A SKIFF-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j SKIFF-SVC-AAAA
COMMIT
";

    #[test]
    fn the_saved_tables_tell_which_chains_and_jumps_are_ours() {
        let chains = Chains::new("SKIFF");
        let (owned, jump_lines) = ours_in(SAVED_NAT, &chains);
        assert_eq!(owned, vec!["SKIFF-SERVICES", "SKIFF-SVC-AAAA"]);
        assert_eq!(jump_lines, vec!["-A PREROUTING -m comment --comment \"skiff service portals\" -j SKIFF-SERVICES"]);
        let all = jumps(&chains);
        assert!(all[0].is_in(SAVED_NAT), "PREROUTING's jump is there");
        assert!(!all[1].is_in(SAVED_NAT), "OUTPUT's is missing");
    }
}
