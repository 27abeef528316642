//! Named cases of `rules()`: a Service with 0, 1 and 3 endpoints, NodePorts, affinity, hairpin
//! and off-cluster masquerading, stale chains. The expected text is written out in full where
//! it is short enough to read; the rest asserts on the lines that matter.

use std::net::Ipv4Addr;

use super::*;
use crate::services::endpoints::Endpoint;
use crate::services::service_ports::{Protocol, ServicePort, ServicePortName};

fn web() -> ServicePortName {
    ServicePortName::new("default", "web", "http", Protocol::Tcp)
}

/// `default/web:http` at 10.96.0.20:80.
fn port() -> ServicePort {
    ServicePort {
        name: web(),
        cluster_ip: Ipv4Addr::new(10, 96, 0, 20),
        port: 80,
        node_port: None,
        affinity_seconds: None,
    }
}

fn endpoint(last: u8) -> Endpoint {
    Endpoint { ip: Ipv4Addr::new(10, 244, 0, last), port: 8080, ready: true, serving: true, terminating: false }
}

fn terminating(last: u8) -> Endpoint {
    Endpoint { ready: false, serving: true, terminating: true, ..endpoint(last) }
}

fn state(port: ServicePort, endpoints: Vec<Endpoint>) -> ProxyState {
    ProxyState {
        services: [(port.name.clone(), port.clone())].into(),
        endpoints: [(port.name, endpoints)].into(),
        ..Default::default()
    }
}

fn config() -> RuleConfig {
    RuleConfig { chains: Chains::new("SKIFF"), cluster_cidr: Some("10.244.0.0/16".parse().unwrap()) }
}

fn text(state: &ProxyState) -> String {
    rules(state, &config(), &ChainSet::new(), &[]).text
}

/// The lines of `text` that append to `chain`, without the `-A chain ` part.
fn chain_rules(text: &str, chain: &str) -> Vec<String> {
    let head = format!("-A {chain} ");
    text.lines().filter_map(|l| l.strip_prefix(&head)).map(String::from).collect()
}

const FIXED_FILTER: &str = "\
-A SKIFF-FORWARD -m comment --comment \"skiff forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A SKIFF-FORWARD -m comment --comment \"skiff forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A SKIFF-EXTERNAL-SERVICES ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
";
const FIXED_NAT: &str = "\
-A SKIFF-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A SKIFF-POSTROUTING -j MARK --xor-mark 0x4000
-A SKIFF-POSTROUTING -m comment --comment \"skiff service traffic requiring SNAT\" -j MASQUERADE --random-fully
-A SKIFF-MARK-MASQ -j MARK --or-mark 0x4000
";

#[test]
fn a_service_with_no_endpoints_is_rejected_in_the_filter_table_and_has_no_nat_chain() {
    let expected = format!(
        "*filter\n:SKIFF-SERVICES - [0:0]\n:SKIFF-EXTERNAL-SERVICES - [0:0]\n:SKIFF-FORWARD - [0:0]\n{FIXED_FILTER}\
         -A SKIFF-SERVICES -m comment --comment \"default/web:http cluster IP not translated\" -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable\n\
         COMMIT\n\
         *nat\n:SKIFF-SERVICES - [0:0]\n:SKIFF-NODEPORTS - [0:0]\n:SKIFF-POSTROUTING - [0:0]\n:SKIFF-MARK-MASQ - [0:0]\n{FIXED_NAT}\
         -A SKIFF-SERVICES -m comment --comment \"skiff service nodeports\" -m addrtype --dst-type LOCAL -j SKIFF-NODEPORTS\n\
         COMMIT\n"
    );
    assert_eq!(text(&state(port(), vec![])), expected);
    // Endpoints that are not ready count as none.
    assert_eq!(text(&state(port(), vec![terminating(5)])), expected);
}

/// The `*filter` part of a restore text, up to its COMMIT.
fn filter_table(text: &str) -> &str {
    let end = text.find("COMMIT\n").expect("a COMMIT") + "COMMIT\n".len();
    assert!(text.starts_with("*filter\n"), "{text}");
    &text[..end]
}

/// The `*nat` part of a restore text.
fn nat_table(text: &str) -> &str {
    &text[filter_table(text).len()..]
}

#[test]
fn the_filter_table_stays_the_same_while_a_services_endpoints_come_and_go() {
    // The filter table is committed before the nat table: if it changed when the first
    // endpoint became ready, a connection between the two commits would meet neither a REJECT
    // nor a DNAT.
    let empty = text(&state(port(), vec![]));
    for endpoints in [vec![endpoint(5)], vec![endpoint(5), endpoint(6)], vec![terminating(5)]] {
        assert_eq!(filter_table(&text(&state(port(), endpoints.clone()))), filter_table(&empty), "{endpoints:?}");
    }
}

#[test]
fn one_endpoint_gets_every_connection_with_no_random_match() {
    let text = text(&state(port(), vec![endpoint(5)]));
    let svc = config().chains.service(&web());
    let sep = config().chains.endpoint(&web(), &endpoint(5));
    assert_eq!(
        chain_rules(nat_table(&text), "SKIFF-SERVICES")[0],
        format!(
            "-m comment --comment \"default/web:http cluster IP\" -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j {svc}"
        )
    );
    assert_eq!(
        chain_rules(&text, &svc),
        vec![
            "-m comment --comment \"default/web:http cluster IP\" ! -s 10.244.0.0/16 -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j SKIFF-MARK-MASQ".to_string(),
            format!("-m comment --comment \"default/web:http -> 10.244.0.5:8080\" -j {sep}"),
        ]
    );
    assert_eq!(
        chain_rules(&text, &sep),
        vec![
            "-m comment --comment \"default/web:http\" -s 10.244.0.5/32 -j SKIFF-MARK-MASQ".to_string(),
            "-m comment --comment \"default/web:http\" -p tcp -m tcp -j DNAT --to-destination 10.244.0.5:8080"
                .to_string(),
        ]
    );
    // The ClusterIP's REJECT stays: the filter table sees the DNATed destination, not the
    // ClusterIP, so it meets only connections the nat table did not translate.
    assert_eq!(
        chain_rules(filter_table(&text), "SKIFF-SERVICES"),
        vec!["-m comment --comment \"default/web:http cluster IP not translated\" -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable".to_string()]
    );
    assert_eq!(chain_rules(&text, "SKIFF-EXTERNAL-SERVICES").len(), 1, "the localnet guard alone");
}

#[test]
fn three_endpoints_get_a_third_each_through_falling_probabilities() {
    let text = text(&state(port(), vec![endpoint(7), endpoint(5), endpoint(6), terminating(8)]));
    let svc = config().chains.service(&web());
    let choices: Vec<String> = chain_rules(&text, &svc).into_iter().skip(1).collect();
    let expected: Vec<String> = [
        (5, " -m statistic --mode random --probability 0.3333333333"),
        (6, " -m statistic --mode random --probability 0.5000000000"),
        (7, ""),
    ]
    .iter()
    .map(|(last, chance)| {
        let sep = config().chains.endpoint(&web(), &endpoint(*last));
        format!("-m comment --comment \"default/web:http -> 10.244.0.{last}:8080\"{chance} -j {sep}")
    })
    .collect();
    assert_eq!(choices, expected);
    assert!(!text.contains("10.244.0.8"), "the terminating endpoint gets no rule");
}

#[test]
fn a_node_port_marks_for_masquerade_then_enters_the_service_chain() {
    let node_port = ServicePort { node_port: Some(30080), ..port() };
    let text = text(&state(node_port.clone(), vec![endpoint(5)]));
    let (svc, ext) = (config().chains.service(&web()), config().chains.external(&web()));
    assert_eq!(
        chain_rules(&text, "SKIFF-NODEPORTS"),
        vec![format!("-m comment --comment \"default/web:http\" -p tcp -m tcp --dport 30080 -j {ext}")]
    );
    assert_eq!(
        chain_rules(&text, &ext),
        vec![
            "-m comment --comment \"masquerade traffic for the service from outside\" -j SKIFF-MARK-MASQ".to_string(),
            format!("-j {svc}"),
        ]
    );
    // The NodePort jump comes after every ClusterIP rule.
    assert!(chain_rules(&text, "SKIFF-SERVICES").last().unwrap().ends_with("-j SKIFF-NODEPORTS"));

    let rejected = self::text(&state(node_port, vec![]));
    assert_eq!(
        chain_rules(&rejected, "SKIFF-EXTERNAL-SERVICES")[1..],
        ["-m comment --comment \"default/web:http has no endpoints\" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable".to_string()],
        "after the localnet guard"
    );
}

#[test]
fn client_ip_affinity_checks_each_endpoints_list_before_the_random_choice() {
    let sticky = ServicePort { affinity_seconds: Some(60), ..port() };
    let text = text(&state(sticky, vec![endpoint(5), endpoint(6)]));
    let svc = config().chains.service(&web());
    let (a, b) = (config().chains.endpoint(&web(), &endpoint(5)), config().chains.endpoint(&web(), &endpoint(6)));
    let rules = chain_rules(&text, &svc);
    assert_eq!(rules[1], format!("-m comment --comment \"default/web:http -> 10.244.0.5:8080\" -m recent --name {a} --rcheck --seconds 60 --reap -j {a}"));
    assert_eq!(rules[2], format!("-m comment --comment \"default/web:http -> 10.244.0.6:8080\" -m recent --name {b} --rcheck --seconds 60 --reap -j {b}"));
    assert!(rules[3].contains("--probability 0.5000000000"), "then the random choice: {}", rules[3]);
    assert_eq!(
        chain_rules(&text, &a)[1],
        format!("-m comment --comment \"default/web:http\" -p tcp -m recent --name {a} --set -m tcp -j DNAT --to-destination 10.244.0.5:8080")
    );
}

#[test]
fn hairpin_and_off_cluster_traffic_is_masqueraded_and_nothing_else() {
    let text = text(&state(port(), vec![endpoint(5)]));
    let sep = config().chains.endpoint(&web(), &endpoint(5));
    // A pod reaching itself through its Service: its own address as the source.
    assert!(chain_rules(&text, &sep)[0].contains("-s 10.244.0.5/32 -j SKIFF-MARK-MASQ"));
    // The host (not in the cluster CIDR) reaching the ClusterIP.
    assert!(chain_rules(&text, &config().chains.service(&web()))[0].contains("! -s 10.244.0.0/16"));

    let no_cidr = RuleConfig { cluster_cidr: None, ..config() };
    let text = rules(&state(port(), vec![endpoint(5)]), &no_cidr, &ChainSet::new(), &[]).text;
    assert_eq!(chain_rules(&text, &no_cidr.chains.service(&web())).len(), 1, "only the endpoint's jump");
}

#[test]
fn chains_no_longer_needed_are_flushed_and_deleted_and_other_chains_are_never_named() {
    let before = rules(&state(port(), vec![endpoint(5), endpoint(6)]), &config(), &ChainSet::new(), &[]);
    let gone = config().chains.endpoint(&web(), &endpoint(6));
    let mut previous = before.chains.clone();
    previous.insert((Table::Nat, "DOCKER".into()));
    let after = rules(&state(port(), vec![endpoint(5)]), &config(), &previous, &[]);
    assert!(after.text.contains(&format!(":{gone} - [0:0]\n")));
    assert!(after.text.contains(&format!("-X {gone}\n")));
    assert!(!after.chains.contains(&(Table::Nat, gone)));
    for line in after.text.lines().filter(|l| l.starts_with(':') || l.starts_with("-A") || l.starts_with("-X")) {
        let chain = line.trim_start_matches(':').split(' ').nth(if line.starts_with(':') { 0 } else { 1 }).unwrap();
        assert!(chain.starts_with("SKIFF-"), "{line}");
    }
}

#[test]
fn udp_services_get_udp_matches() {
    let dns = ServicePortName::new("kube-system", "kube-dns", "dns", Protocol::Udp);
    let port = ServicePort {
        name: dns.clone(),
        cluster_ip: Ipv4Addr::new(10, 96, 0, 10),
        port: 53,
        node_port: None,
        affinity_seconds: None,
    };
    let server =
        Endpoint { ip: Ipv4Addr::new(10, 244, 0, 1), port: 53, ready: true, serving: true, terminating: false };
    let text = text(&state(port, vec![server.clone()]));
    assert!(chain_rules(nat_table(&text), "SKIFF-SERVICES")[0].contains("-d 10.96.0.10/32 -p udp -m udp --dport 53"));
    assert!(chain_rules(&text, &config().chains.endpoint(&dns, &server))[1]
        .contains("-p udp -m udp -j DNAT --to-destination 10.244.0.1:53"));
}

#[test]
fn missing_jumps_go_in_with_the_chains_they_jump_to() {
    let all = crate::services::chains::jumps(&config().chains);
    let text = rules(&state(port(), vec![endpoint(5)]), &config(), &ChainSet::new(), &all).text;
    let nat = text.split("*nat\n").nth(1).unwrap();
    assert!(nat.contains("-I PREROUTING 1 -m comment --comment \"skiff service portals\" -j SKIFF-SERVICES\n"));
    assert!(nat.contains("-I OUTPUT 1 -m comment --comment \"skiff service portals\" -j SKIFF-SERVICES\n"));
    let filter = text.split("*nat\n").next().unwrap();
    assert!(filter.contains("-I FORWARD 1 -m comment --comment \"skiff forwarding rules\" -j SKIFF-FORWARD\n"));
    assert_eq!(text.matches("-I ").count(), 7);
}

#[test]
fn cleanup_deletes_the_jumps_and_flushes_every_chain_before_deleting_any() {
    let chains = rules(&state(port(), vec![endpoint(5)]), &config(), &ChainSet::new(), &[]).chains;
    let jumps = vec![(
        Table::Nat,
        "-A PREROUTING -m comment --comment \"skiff service portals\" -j SKIFF-SERVICES".to_string(),
    )];
    let text = cleanup(&chains, &jumps);
    let nat: Vec<&str> = text.split("*nat\n").nth(1).unwrap().lines().collect();
    assert_eq!(nat[0], "-D PREROUTING -m comment --comment \"skiff service portals\" -j SKIFF-SERVICES");
    let first_delete = nat.iter().position(|l| l.starts_with("-X")).unwrap();
    assert!(nat[1..first_delete].iter().all(|l| l.starts_with(':')));
    assert_eq!(
        nat.iter().filter(|l| l.starts_with("-X")).count(),
        chains.iter().filter(|(t, _)| *t == Table::Nat).count()
    );
    assert!(text.starts_with("*filter\n") && text.ends_with("COMMIT\n"));
}
