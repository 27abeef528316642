//! The pure heart of the data path: the proxy's state in, the `iptables-restore` text out.
//!
//! Mirrors `syncProxyRules` in `pkg/proxy/iptables/proxier.go` (Kubernetes 1.32), at teaching
//! scale. The text names only this proxy's chains and is applied with `iptables-restore
//! --noflush`: declaring a chain (`:SKIFF-SERVICES - [0:0]`) empties it, so one restore
//! replaces every rule of ours at once, atomically, and leaves every other rule (Docker's, a
//! second proxy's) alone.
//!
//! How a packet travels, for a Service `web:http` at 10.96.0.20:80 with three ready endpoints:
//!
//! ```text
//! nat PREROUTING (pods) / OUTPUT (host)
//!  └─ SKIFF-SERVICES    -d 10.96.0.20/32 -p tcp --dport 80        → SKIFF-SVC-…
//!      └─ SKIFF-SVC-…   ! -s <cluster CIDR> (from the host)        → SKIFF-MARK-MASQ
//!                       probability 1/3                            → SKIFF-SEP-a
//!                       probability 1/2 (of the remaining 2/3)     → SKIFF-SEP-b
//!                       always (the remaining 1/3)                 → SKIFF-SEP-c
//!          └─ SKIFF-SEP-a  -s <a> (a pod reaching itself)          → SKIFF-MARK-MASQ
//!                          DNAT --to-destination <a>:8080
//!  └─ SKIFF-SERVICES   (last) dst-type LOCAL                       → SKIFF-NODEPORTS
//!      └─ SKIFF-NODEPORTS  --dport 30080  → SKIFF-EXT-… (mark for masquerade) → SKIFF-SVC-…
//! nat POSTROUTING → SKIFF-POSTROUTING: marked packets are masqueraded
//! filter OUTPUT/FORWARD (NEW only) → SKIFF-SERVICES: REJECT for every ClusterIP (only what nat left untranslated)
//! filter INPUT (NEW only) → SKIFF-EXTERNAL-SERVICES: DROP 127.0.0.0/8 from outside (unless DNATed);
//!                                                   REJECT for NodePorts with no ready endpoint
//! filter FORWARD → SKIFF-FORWARD: accept what was marked (Docker's FORWARD policy is DROP)
//! ```
//!
//! A TCP connection to a ClusterIP opened on this host (by the host or a pod) usually never
//! meets these rules: the connect-time balancer ([`super::connect`]) has already sent it to an
//! endpoint at `connect()`. The rules are for everything else, and for everything when the
//! balancer is off.
//!
//! The probabilities, worked out: with n endpoints the i-th rule (from 0) matches with
//! probability 1/(n−i) of what reached it, so every endpoint gets 1/n: 1/3; (2/3)·(1/2) = 1/3;
//! (2/3)·(1/2)·1 = 1/3.
//!
//! Only **ready** endpoints get rules. A terminating endpoint that still serves keeps the
//! connections it has (conntrack remembers their DNAT; no rule is consulted again), but no new
//! connection reaches it. With no ready endpoint at all, the filter table REJECTs new
//! connections with an ICMP port-unreachable, so a client fails at once instead of waiting for
//! a SYN timeout.
//!
//! That REJECT is written for **every** ClusterIP, with endpoints or not, where kube-proxy
//! writes it only for Services without endpoints. The filter table sees a packet after the nat
//! table, so a connection that nat translated no longer has the ClusterIP as its destination
//! and passes; only one that nat left alone meets the REJECT. Why not only when empty: one
//! restore commits the filter table, then the nat table, two atomic steps. When a Service's
//! first endpoint becomes ready, a conditional REJECT would leave the filter table a moment
//! before the DNAT enters the nat table; a SYN in between would meet neither, leave by the
//! default route, and conntrack would pin its retries to that untranslated path: a connection
//! that hangs until it times out. Written always, the filter table does not change at all when
//! endpoints come and go. NodePorts keep the conditional REJECT: in the same moment a NodePort
//! connection is answered by the host itself (nothing listens: a reset), which fails at once
//! as the REJECT would.
//!
//! A pod reaching itself through its Service (hairpin) needs two things, measured: the
//! masquerade in its endpoint chain (without it, the pod answers itself from its own address
//! and the reply never meets the NAT), and `hairpin_mode` on the pod's bridge port, so that the
//! bridge sends the DNATed frame back out of the port it came in by. The second is the
//! kubelet's to set (its `hairpin-veth` mode); without it the connection times out.
//!
//! Session affinity (`ClientIP`) uses the `recent` match, as upstream: each endpoint's chain
//! records the client's address in a list named after the chain, and the Service's chain first
//! sends a client found in a list (seen within the timeout) back to that endpoint.
//!
//! NodePorts answer on 127.0.0.1 too, as kube-proxy's iptables mode does by default (`curl
//! localhost:30080` on the node): the DNAT turns `127.0.0.1 → 127.0.0.1:30080` into
//! `127.0.0.1 → <pod>:8080`, which the kernel routes out of the loopback device only with
//! `route_localnet` set (the proxy sets it at start, [`super::kernel::Kernel::route_localnet`]),
//! and the masquerade mark then gives the packet the bridge's address as its source. With
//! `route_localnet` on, the host would also accept packets from the network addressed to
//! 127.0.0.0/8; the filter table drops those unless a NodePort's DNAT made them (kube-proxy's
//! "block incoming localnet connections" rule).
//!
//! Left out: `externalTrafficPolicy: Local` (and its health-check node port), externalIPs and
//! load-balancer IPs, the firewall chains for `loadBalancerSourceRanges`, the partial syncs
//! of large clusters (every sync writes every chain; a few hundred Services restore in
//! milliseconds), `--nodeport-addresses`, IPv6.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::chains::{Chains, Jump, Table};
use super::endpoints::Endpoint;
use super::service_ports::ServicePort;
use super::ProxyState;
use crate::net::Cidr;

/// The bit of the packet mark that means "masquerade me": kube-proxy's `0x4000`. Several
/// proxies on a host share it: whichever POSTROUTING chain sees it first masquerades and clears
/// it.
pub const MASQUERADE_MARK: &str = "0x4000";

/// What the rules depend on besides the Services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConfig {
    pub chains: Chains,
    /// The pods' addresses. Traffic to a ClusterIP from anywhere else (the host, another host)
    /// is masqueraded, so that the pod's reply comes back through this host to be un-NATed
    /// (kube-proxy's `--cluster-cidr`). `None`: nothing is masqueraded for that reason.
    pub cluster_cidr: Option<Cidr>,
}

/// A chain of ours, in its table.
pub type ChainSet = BTreeSet<(Table, String)>;

/// The text to restore, and the chains it leaves in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    pub text: String,
    pub chains: ChainSet,
}

/// One table's part of the text: chain declarations, then rules.
#[derive(Default)]
struct TableText {
    chains: Vec<String>,
    rules: Vec<String>,
}

impl TableText {
    fn chain(&mut self, name: String) {
        self.chains.push(name);
    }
    fn rule(&mut self, chain: &str, args: &str) {
        self.rules.push(format!("-A {chain} {args}"));
    }
}

/// `-d 10.96.0.20/32 -p tcp -m tcp --dport 80`.
fn destination(port: &ServicePort) -> String {
    let p = port.name.protocol.iptables();
    format!("-d {}/32 -p {p} -m {p} --dport {}", port.cluster_ip, port.port)
}

fn comment(text: &str) -> String {
    format!("-m comment --comment \"{text}\"")
}

/// The rules for `state`, deleting the chains of `previous` that are no longer needed and
/// inserting the `missing` jumps — chains and jumps in one restore, so that no packet ever
/// meets a jump to a chain that is not filled yet, or chains with no jump to them.
pub fn rules(state: &ProxyState, config: &RuleConfig, previous: &ChainSet, missing: &[Jump]) -> Ruleset {
    let chains = &config.chains;
    let (mut nat, mut filter) = (TableText::default(), TableText::default());
    let (services, node_ports, mark_masq, postrouting) =
        (chains.services(), chains.node_ports(), chains.mark_masq(), chains.postrouting());
    let (external, forward) = (chains.external_services(), chains.forward());
    for chain in [&services, &node_ports, &postrouting, &mark_masq] {
        nat.chain(chain.clone());
    }
    for chain in [&services, &external, &forward] {
        filter.chain(chain.clone());
    }

    // 1. The fixed rules: masquerade what is marked (once), accept marked and established
    //    traffic through FORWARD.
    nat.rule(&postrouting, &format!("-m mark ! --mark {MASQUERADE_MARK}/{MASQUERADE_MARK} -j RETURN"));
    nat.rule(&postrouting, &format!("-j MARK --xor-mark {MASQUERADE_MARK}"));
    nat.rule(
        &postrouting,
        &format!("{} -j MASQUERADE --random-fully", comment("skiff service traffic requiring SNAT")),
    );
    nat.rule(&mark_masq, &format!("-j MARK --or-mark {MASQUERADE_MARK}"));
    filter.rule(
        &forward,
        &format!("{} -m mark --mark {MASQUERADE_MARK}/{MASQUERADE_MARK} -j ACCEPT", comment("skiff forwarding rules")),
    );
    filter.rule(
        &forward,
        &format!("{} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", comment("skiff forwarding conntrack rule")),
    );

    // The martian guard for `route_localnet` (module doc): first, before any REJECT.
    filter.rule(
        &external,
        &format!(
            "! -s 127.0.0.0/8 -d 127.0.0.0/8 {} -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
            comment("block incoming localnet connections")
        ),
    );

    // 2. Each Service port: its ClusterIP's REJECT (always, see the module doc), then the
    //    NodePort's REJECT if nothing is ready, else its chains.
    for (name, port) in &state.services {
        let ready = state.ready_endpoints(name);
        reject_untranslated(&mut filter, &services, port);
        if ready.is_empty() {
            reject_node_port(&mut filter, &external, port);
        } else {
            service_chains(&mut nat, config, port, &ready);
        }
    }

    // 3. NodePorts last, so that a ClusterIP rule always decides first. Every local address,
    //    127.0.0.1 included.
    nat.rule(
        &services,
        &format!("{} -m addrtype --dst-type LOCAL -j {node_ports}", comment("skiff service nodeports")),
    );

    // 4. Chains of the last sync that no Service needs now: flush (declare) and delete.
    let mut current = ChainSet::new();
    current.extend(nat.chains.iter().map(|c| (Table::Nat, c.clone())));
    current.extend(filter.chains.iter().map(|c| (Table::Filter, c.clone())));
    let stale: Vec<&(Table, String)> = previous.difference(&current).filter(|(_, c)| chains.owns(c)).collect();

    let mut text = String::new();
    for (table, body) in [(Table::Filter, &filter), (Table::Nat, &nat)] {
        let stale: Vec<&String> = stale.iter().filter(|(t, _)| *t == table).map(|(_, c)| c).collect();
        let _ = writeln!(text, "*{}", table.name());
        for chain in body.chains.iter().chain(stale.iter().copied()) {
            let _ = writeln!(text, ":{chain} - [0:0]");
        }
        for rule in &body.rules {
            let _ = writeln!(text, "{rule}");
        }
        for jump in missing.iter().filter(|j| j.table == table) {
            let _ = writeln!(text, "{}", jump.insert_line());
        }
        for chain in stale {
            let _ = writeln!(text, "-X {chain}");
        }
        let _ = writeln!(text, "COMMIT");
    }
    Ruleset { text, chains: current }
}

/// The text that removes every chain of ours in `chains`, and the jumps to them (`jumps`: the
/// `-A …` lines of built-in chains, as `iptables-save` printed them), in one restore.
pub fn cleanup(chains: &ChainSet, jumps: &[(Table, String)]) -> String {
    let mut text = String::new();
    for table in [Table::Filter, Table::Nat] {
        let ours: Vec<&String> = chains.iter().filter(|(t, _)| *t == table).map(|(_, c)| c).collect();
        let _ = writeln!(text, "*{}", table.name());
        for (_, line) in jumps.iter().filter(|(t, _)| *t == table) {
            if let Some(rule) = line.strip_prefix("-A ") {
                let _ = writeln!(text, "-D {rule}");
            }
        }
        for chain in &ours {
            let _ = writeln!(text, ":{chain} - [0:0]");
        }
        for chain in &ours {
            let _ = writeln!(text, "-X {chain}");
        }
        let _ = writeln!(text, "COMMIT");
    }
    text
}

const REJECT: &str = "-j REJECT --reject-with icmp-port-unreachable";

/// A new connection to the ClusterIP that the nat table did not translate (the Service has no
/// ready endpoint): refuse it at once.
fn reject_untranslated(filter: &mut TableText, services: &str, port: &ServicePort) {
    let why = comment(&format!("{} cluster IP not translated", port.name));
    filter.rule(services, &format!("{why} {} {REJECT}", destination(port)));
}

/// No ready endpoint behind a NodePort: refuse new connections at once.
fn reject_node_port(filter: &mut TableText, external: &str, port: &ServicePort) {
    if let Some(node_port) = port.node_port {
        let why = comment(&format!("{} has no endpoints", port.name));
        let p = port.name.protocol.iptables();
        filter
            .rule(external, &format!("{why} -m addrtype --dst-type LOCAL -p {p} -m {p} --dport {node_port} {REJECT}"));
    }
}

/// The Service's chain, its NodePort entry, and one chain per ready endpoint.
fn service_chains(nat: &mut TableText, config: &RuleConfig, port: &ServicePort, ready: &[&Endpoint]) {
    let chains = &config.chains;
    let (name, p) = (&port.name, port.name.protocol.iptables());
    let svc = chains.service(name);
    nat.chain(svc.clone());
    nat.rule(&chains.services(), &format!("{} {} -j {svc}", comment(&format!("{name} cluster IP")), destination(port)));
    if let Some(cidr) = config.cluster_cidr {
        let why = comment(&format!("{name} cluster IP"));
        nat.rule(&svc, &format!("{why} ! -s {cidr} {} -j {}", destination(port), chains.mark_masq()));
    }
    if let Some(node_port) = port.node_port {
        let ext = chains.external(name);
        nat.chain(ext.clone());
        nat.rule(
            &chains.node_ports(),
            &format!("{} -p {p} -m {p} --dport {node_port} -j {ext}", comment(&name.to_string())),
        );
        nat.rule(
            &ext,
            &format!("{} -j {}", comment("masquerade traffic for the service from outside"), chains.mark_masq()),
        );
        nat.rule(&ext, &format!("-j {svc}"));
    }

    let endpoint_chains: Vec<String> = ready.iter().map(|e| chains.endpoint(name, e)).collect();
    // Affinity first: a client seen recently goes back where it went.
    if let Some(seconds) = port.affinity_seconds {
        for (endpoint, sep) in ready.iter().zip(&endpoint_chains) {
            let why = comment(&format!("{name} -> {}", endpoint.address()));
            nat.rule(&svc, &format!("{why} -m recent --name {sep} --rcheck --seconds {seconds} --reap -j {sep}"));
        }
    }
    let n = ready.len();
    for (i, (endpoint, sep)) in ready.iter().zip(&endpoint_chains).enumerate() {
        let why = comment(&format!("{name} -> {}", endpoint.address()));
        let chance = if i + 1 < n {
            format!(" -m statistic --mode random --probability {:.10}", 1.0 / (n - i) as f64)
        } else {
            String::new()
        };
        nat.rule(&svc, &format!("{why}{chance} -j {sep}"));
    }

    for (endpoint, sep) in ready.iter().zip(endpoint_chains) {
        nat.chain(sep.clone());
        let why = comment(&name.to_string());
        nat.rule(&sep, &format!("{why} -s {}/32 -j {}", endpoint.ip, chains.mark_masq()));
        let remember =
            if port.affinity_seconds.is_some() { format!(" -m recent --name {sep} --set") } else { String::new() };
        nat.rule(&sep, &format!("{why} -p {p}{remember} -m {p} -j DNAT --to-destination {}", endpoint.address()));
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
