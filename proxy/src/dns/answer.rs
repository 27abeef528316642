//! The pure answer of the cluster zone: a question and a [`DnsView`] in, the records out.
//!
//! Mirrors CoreDNS' `plugin/kubernetes` (`kubernetes.go` `Records`, `parse.go`; the names are
//! Kubernetes' DNS specification for Services and Pods), at teaching scale:
//!
//! | name (under `cluster.local`)              | answers                                         |
//! |-------------------------------------------|-------------------------------------------------|
//! | `web.default.svc`                         | A: the ClusterIP; headless: A per ready pod; ExternalName: CNAME |
//! | `web-0.web.default.svc`                   | A: the endpoint whose hostname (or dashed IP) is `web-0` (headless) |
//! | `_http._tcp.web.default.svc`              | SRV per endpoint (headless) or one to the Service, with A records as additionals |
//! | `10-244-0-5.default.pod`                  | A: the address in the name (CoreDNS' `pods insecure`) |
//! | `default.svc`, `svc`, the apex            | no data (the names exist); the apex answers its SOA |
//! | anything else in the zone                 | NXDOMAIN, with the zone's SOA                   |
//! | `20.0.96.10.in-addr.arpa`                 | PTR for a ClusterIP or a headless endpoint; others are forwarded |
//! | any other name                            | [`Decision::Forward`]: the host's resolvers answer |
//!
//! Short names (`web`, `web.default`) never reach the server as such: the pod's resolver
//! appends the search path the kubelet wrote (`default.svc.cluster.local svc.cluster.local
//! cluster.local`, with `ndots:5`) and asks for each in turn, so the NXDOMAINs for
//! `web.default.default.svc.cluster.local` and the like are part of normal operation.
//!
//! A name that exists but has no record of the asked type (`AAAA` of a ClusterIP) is answered
//! with no records and NOERROR, not NXDOMAIN: glibc asks A and AAAA together and would fail
//! both on an NXDOMAIN. Left out: wildcards, `pods verified`, AAAA (Skiff is IPv4 only), NS
//! records, zone transfers.

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, CNAME, PTR, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::view::{DnsService, DnsView, ServiceKind};

/// The TTL of every record of the zone (CoreDNS' default for the kubernetes plugin): short,
/// because endpoints change as pods come and go.
pub const TTL: u32 = 5;

/// The zone's answer to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    /// The zone's SOA, with a negative answer (NXDOMAIN, or no data).
    pub soa: Vec<Record>,
    pub additionals: Vec<Record>,
}

/// Who answers a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Answer(Answer),
    /// Not the cluster's: ask the host's resolvers.
    Forward,
}

/// A fully qualified name from text that came from the API (already valid labels).
fn fqdn(text: &str) -> Option<Name> {
    Name::from_ascii(format!("{}.", text.trim_end_matches('.'))).ok()
}

fn record(owner: &Name, data: RData) -> Record {
    Record::from_rdata(owner.clone(), TTL, data)
}

fn soa(view: &DnsView) -> Vec<Record> {
    let (Some(zone), Some(mname), Some(rname)) =
        (fqdn(&view.domain), fqdn(&format!("ns.dns.{}", view.domain)), fqdn(&format!("hostmaster.{}", view.domain)))
    else {
        return Vec::new();
    };
    // refresh 2 h, retry 30 min, expire 1 day, negative answers cached for TTL.
    vec![record(&zone, RData::SOA(SOA::new(mname, rname, view.serial, 7200, 1800, 86400, TTL)))]
}

fn found(answers: Vec<Record>, additionals: Vec<Record>) -> Answer {
    Answer { rcode: ResponseCode::NoError, answers, soa: Vec::new(), additionals }
}

/// The name exists, but has nothing of the asked type.
fn no_data(view: &DnsView) -> Answer {
    Answer { rcode: ResponseCode::NoError, answers: Vec::new(), soa: soa(view), additionals: Vec::new() }
}

fn nx_domain(view: &DnsView) -> Answer {
    Answer { rcode: ResponseCode::NXDomain, answers: Vec::new(), soa: soa(view), additionals: Vec::new() }
}

/// Whether a question of `asked` type wants A records.
fn wants_a(asked: RecordType) -> bool {
    matches!(asked, RecordType::A | RecordType::ANY)
}

/// Answers `name`/`asked` from `view`, or says it is not the cluster's to answer.
pub fn answer(name: &Name, asked: RecordType, view: &DnsView) -> Decision {
    let text = name.to_lowercase().to_ascii();
    let text = text.trim_end_matches('.');
    if let Some(reversed) = text.strip_suffix(".in-addr.arpa") {
        return reverse(name, reversed, asked, view);
    }
    let inside = if text == view.domain { Some("") } else { text.strip_suffix(&format!(".{}", view.domain)) };
    let Some(inside) = inside else { return Decision::Forward };
    let labels: Vec<&str> = if inside.is_empty() { Vec::new() } else { inside.split('.').collect() };
    Decision::Answer(match labels.as_slice() {
        [] if asked == RecordType::SOA => found(soa(view), Vec::new()),
        [] | ["svc"] | ["pod"] => no_data(view),
        [namespace, "svc"] if view.namespaces.contains(*namespace) => no_data(view),
        [service, namespace, "svc"] => match view.service(namespace, service) {
            Some(found_service) => service_answer(name, asked, found_service, service, namespace, view),
            None => nx_domain(view),
        },
        [port, protocol, service, namespace, "svc"] if port.starts_with('_') && protocol.starts_with('_') => {
            match view.service(namespace, service) {
                Some(found_service) => {
                    srv_answer(name, asked, found_service, (&port[1..], &protocol[1..]), service, namespace, view)
                }
                None => nx_domain(view),
            }
        }
        [endpoint, service, namespace, "svc"] => endpoint_answer(name, asked, endpoint, service, namespace, view),
        [address, _namespace, "pod"] => match address.replace('-', ".").parse::<Ipv4Addr>() {
            Ok(ip) if wants_a(asked) => found(vec![record(name, RData::A(A(ip)))], Vec::new()),
            Ok(_) => no_data(view),
            Err(_) => nx_domain(view),
        },
        _ => nx_domain(view),
    })
}

/// `web.default.svc.cluster.local`.
fn service_answer(
    name: &Name,
    asked: RecordType,
    service: &DnsService,
    service_name: &str,
    namespace: &str,
    view: &DnsView,
) -> Answer {
    match (&service.kind, asked) {
        (ServiceKind::ExternalName(target), _) => match fqdn(target) {
            Some(target) => found(vec![record(name, RData::CNAME(CNAME(target)))], Vec::new()),
            None => no_data(view),
        },
        (ServiceKind::ClusterIp(ip), asked) if wants_a(asked) => {
            found(vec![record(name, RData::A(A(*ip)))], Vec::new())
        }
        (ServiceKind::Headless, asked) if wants_a(asked) => {
            let answers: Vec<Record> = service.endpoints.iter().map(|e| record(name, RData::A(A(e.ip)))).collect();
            if answers.is_empty() {
                no_data(view)
            } else {
                found(answers, Vec::new())
            }
        }
        // SRV of the Service's own name: every named port.
        (_, RecordType::SRV) => {
            let ports: Vec<(String, String)> =
                service.ports.iter().map(|p| (p.name.clone(), p.protocol.iptables().to_string())).collect();
            let mut all = found(Vec::new(), Vec::new());
            for (port, protocol) in ports.iter().filter(|(port, _)| !port.is_empty()) {
                let one = srv_answer(name, asked, service, (port, protocol), service_name, namespace, view);
                all.answers.extend(one.answers);
                all.additionals.extend(one.additionals);
            }
            all.additionals.dedup();
            if all.answers.is_empty() {
                no_data(view)
            } else {
                all
            }
        }
        _ => no_data(view),
    }
}

/// `_http._tcp.web.default.svc.cluster.local`.
fn srv_answer(
    name: &Name,
    asked: RecordType,
    service: &DnsService,
    (port, protocol): (&str, &str),
    service_name: &str,
    namespace: &str,
    view: &DnsView,
) -> Answer {
    let matches = |p: &super::view::NamedPort| p.name == port && p.protocol.iptables() == protocol;
    let base = format!("{service_name}.{namespace}.svc.{}", view.domain);
    // (target, its address, the port) per SRV record.
    let targets: Vec<(String, Ipv4Addr, u16)> = match &service.kind {
        ServiceKind::ClusterIp(ip) => {
            service.ports.iter().filter(|p| matches(p)).map(|p| (base.clone(), *ip, p.port)).collect()
        }
        ServiceKind::Headless => service
            .endpoints
            .iter()
            .filter_map(|e| {
                e.ports.iter().find(|p| matches(p)).map(|p| (format!("{}.{base}", e.label()), e.ip, p.port))
            })
            .collect(),
        ServiceKind::ExternalName(_) => Vec::new(),
    };
    if targets.is_empty() {
        return nx_domain(view);
    }
    if asked != RecordType::SRV && asked != RecordType::ANY {
        return no_data(view);
    }
    // Equal weights summing to about 100, as CoreDNS gives them.
    let weight = (100 / targets.len()).max(1) as u16;
    let mut answer = found(Vec::new(), Vec::new());
    for (target, ip, port) in targets {
        let Some(target) = fqdn(&target) else { continue };
        answer.answers.push(record(name, RData::SRV(SRV::new(0, weight, port, target.clone()))));
        answer.additionals.push(record(&target, RData::A(A(ip))));
    }
    answer
}

/// `web-0.web.default.svc.cluster.local`: one endpoint of a headless Service.
fn endpoint_answer(
    name: &Name,
    asked: RecordType,
    label: &str,
    service: &str,
    namespace: &str,
    view: &DnsView,
) -> Answer {
    let Some(service) = view.service(namespace, service).filter(|s| s.kind == ServiceKind::Headless) else {
        return nx_domain(view);
    };
    let matching: Vec<Record> =
        service.endpoints.iter().filter(|e| e.label() == label).map(|e| record(name, RData::A(A(e.ip)))).collect();
    match (matching.is_empty(), wants_a(asked)) {
        (true, _) => nx_domain(view),
        (false, true) => found(matching, Vec::new()),
        (false, false) => no_data(view),
    }
}

/// `20.0.96.10.in-addr.arpa`: a ClusterIP or a headless endpoint back to its name.
fn reverse(name: &Name, reversed: &str, asked: RecordType, view: &DnsView) -> Decision {
    let octets: Vec<&str> = reversed.split('.').rev().collect();
    let Ok(ip) = octets.join(".").parse::<Ipv4Addr>() else { return Decision::Forward };
    match (view.reverse.get(&ip).and_then(|n| fqdn(n)), asked) {
        (Some(target), RecordType::PTR | RecordType::ANY) => {
            Decision::Answer(found(vec![record(name, RData::PTR(PTR(target)))], Vec::new()))
        }
        (Some(_), _) => Decision::Answer(no_data(view)),
        (None, _) => Decision::Forward,
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
