//! Names outside the cluster: asked of the host's resolvers.
//!
//! Mirrors CoreDNS' `forward . /etc/resolv.conf` (the kubeadm Corefile), with hickory-resolver
//! as the client: the upstreams are the `nameserver` lines of the host's resolv.conf, minus the
//! cluster DNS itself (a host whose resolv.conf names the cluster DNS would otherwise forward
//! to itself in a loop). Answers are cached by the resolver for their TTL.
//!
//! A forwarder must fail fast: a pod's resolver waits 5 s per try, so an upstream that does not
//! answer within 2 s is a SERVFAIL, with no retry (hickory's `attempts: 0`; with its default
//! retry a dead upstream took 4 s). That includes an upstream that refuses: hickory's UDP
//! sockets are not connected, so they never see the ICMP port-unreachable and wait out the
//! 2 s (measured). With no upstream at all, every forwarded question is REFUSED at once.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::TokioResolver;

use super::answer::Answer;

/// How long an upstream has to answer.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The `nameserver` addresses of a resolv.conf, port 53, leaving out `exclude`.
pub fn upstreams_from_resolv_conf(text: &str, exclude: &[IpAddr]) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
        .filter(|ip| !exclude.contains(ip))
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The client of the upstreams.
pub struct Forwarder {
    /// `None`: no upstream; every question is refused.
    resolver: Option<TokioResolver>,
    pub upstreams: Vec<SocketAddr>,
}

impl Forwarder {
    pub fn new(upstreams: Vec<SocketAddr>) -> Forwarder {
        if upstreams.is_empty() {
            return Forwarder { resolver: None, upstreams };
        }
        let servers = upstreams
            .iter()
            .map(|upstream| {
                let connection = |mut config: ConnectionConfig| {
                    config.port = upstream.port();
                    config
                };
                NameServerConfig::new(
                    upstream.ip(),
                    true,
                    vec![connection(ConnectionConfig::udp()), connection(ConnectionConfig::tcp())],
                )
            })
            .collect();
        let mut options = ResolverOpts::default();
        options.timeout = UPSTREAM_TIMEOUT;
        options.attempts = 0;
        options.use_hosts_file = ResolveHosts::Never;
        // Questions arrive fully qualified; nothing is appended to them.
        options.ndots = 0;
        let resolver = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
        .with_options(options)
        .build()
        .ok();
        Forwarder { resolver, upstreams }
    }

    /// The upstreams' answer, as the zone's [`Answer`] shape.
    pub async fn forward(&self, name: &Name, asked: RecordType) -> Answer {
        let empty = |rcode| Answer { rcode, answers: Vec::new(), soa: Vec::new(), additionals: Vec::new() };
        let Some(resolver) = &self.resolver else { return empty(ResponseCode::Refused) };
        match resolver.lookup(name.clone(), asked).await {
            Ok(lookup) => Answer {
                rcode: ResponseCode::NoError,
                answers: lookup.answers().to_vec(),
                soa: Vec::new(),
                additionals: Vec::new(),
            },
            Err(NetError::Dns(DnsError::NoRecordsFound(none))) => Answer {
                rcode: none.response_code,
                answers: Vec::new(),
                soa: none.soa.map(|soa| vec![soa.into_record_of_rdata()]).unwrap_or_default(),
                additionals: Vec::new(),
            },
            Err(NetError::Dns(DnsError::ResponseCode(code))) => empty(code),
            Err(err) => {
                tracing::debug!(%name, cause = %err, "the upstream resolvers did not answer");
                empty(ResponseCode::ServFail)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_are_the_hosts_nameservers_without_the_cluster_dns() {
        let resolv_conf = "# generated\nsearch example.internal\nnameserver 10.96.0.10\nnameserver 192.0.2.53\n\
                           nameserver  fd00::53\noptions ndots:1\n";
        let cluster_dns: IpAddr = "10.96.0.10".parse().unwrap();
        assert_eq!(
            upstreams_from_resolv_conf(resolv_conf, &[cluster_dns]),
            vec!["192.0.2.53:53".parse().unwrap(), "[fd00::53]:53".parse().unwrap()]
        );
    }

    #[tokio::test]
    async fn a_dead_upstream_is_a_servfail_within_the_timeout() {
        // A port on loopback that nothing listens on: the kernel answers port-unreachable.
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let forwarder = Forwarder::new(vec![closed]);
        let started = std::time::Instant::now();
        let answer = forwarder.forward(&Name::from_ascii("example.test.").unwrap(), RecordType::A).await;
        assert_eq!(answer.rcode, ResponseCode::ServFail);
        let took = started.elapsed();
        assert!(took <= UPSTREAM_TIMEOUT + std::time::Duration::from_millis(500), "took {took:?}");
    }

    #[tokio::test]
    async fn with_no_upstream_a_question_is_refused_at_once() {
        let forwarder = Forwarder::new(Vec::new());
        let answer = forwarder.forward(&Name::from_ascii("example.com.").unwrap(), RecordType::A).await;
        assert_eq!(answer.rcode, ResponseCode::Refused);
    }
}
