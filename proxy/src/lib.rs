//! # skiff-proxy: each host's Service data path and the cluster DNS
//!
//! One `skiff-proxy` runs per host. It watches Services and EndpointSlices and turns them into
//! two things:
//!
//! - **Service virtual IPs in the kernel** ([`services`]): iptables rules in the manner of
//!   kube-proxy's iptables mode, so that a connection to `ClusterIP:port` (from a pod or from
//!   the host) or to `NodeIP:nodePort` is DNATed to one ready endpoint, chosen at random, and a
//!   Service without a ready endpoint refuses at once. No byte of the traffic passes through
//!   this process: after the first packet, conntrack carries the connection.
//! - **Cluster DNS** ([`dns`]): `web`, `web.default`, `web.default.svc.cluster.local` answer the
//!   ClusterIP; headless Services answer their ready pods; `web-0.web.default.svc…` answers a
//!   StatefulSet pod; `_http._tcp.web.default.svc…` answers SRV records; other names are
//!   forwarded to the host's resolvers. The `kube-dns` Service at `10.96.0.10` is created here
//!   and DNATed to the server like any other Service.
//!
//! # Layout
//!
//! ```text
//! lib.rs           Config, Error, run(): the parts, side by side, over one set of informers
//! main.rs          the binary: flags, logging, signals
//! cluster.rs       the shared informers (Services, EndpointSlices) every part reads
//! net.rs           IPv4 CIDRs
//! metrics.rs       the Prometheus metrics of the proxy
//! progress.rs      the EndpointSlice revision the data paths applied, published for kubelets
//! services/        the data path
//!   service_ports.rs   Service → the ports the data path serves   (pkg/proxy/service.go)
//!   endpoints.rs       EndpointSlices → endpoints per port        (pkg/proxy/endpointslicecache.go)
//!   chains.rs          chain names and the jumps from the built-in chains
//!   rules.rs           the pure rules(): iptables-restore text    (pkg/proxy/iptables/proxier.go)
//!   conntrack.rs       which conntrack entries went stale         (pkg/proxy/conntrack/cleanup.go)
//!   kernel.rs          the narrow side-effect boundary: iptables-restore, iptables, conntrack, ip
//!   presence.rs        a route for the service CIDR when the host has none
//!   sync.rs            the sync loop: coalesce changes, one restore per sync, clean up on exit
//! dns/             the cluster DNS
//!   view.rs            Services and EndpointSlices → the names the zone holds
//!   answer.rs          the pure answer(query, view)               (CoreDNS plugin/kubernetes)
//!   forward.rs         other names, to the host's resolvers       (CoreDNS plugin/forward)
//!   server.rs          hickory-server's request handler over answer() and the forwarder
//!   kube_dns.rs        the kube-dns Service and its endpoints
//! ingress/         the Ingress router (see its module docs)
//! ```
//!
//! # Composition
//!
//! [`run`] starts the informers once and runs each part with them until the shutdown token is
//! cancelled. The parts do not know of each other: each one subscribes to the informers, waits
//! for their first list, and from then on reads the caches on every change. A part that fails
//! cancels the others (so that every part still runs its own cleanup: the data path removes
//! its rules), and [`run`] returns the first error. A part that sends connections to endpoints
//! also takes a [`progress::Reporter`] (`progress.reporter("name")`) and reports the
//! EndpointSlice revision it has applied, for the kubelets' rotation handshake.

pub mod cluster;
pub mod dns;
pub mod ingress;
pub mod metrics;
pub mod net;
pub mod progress;
pub mod services;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use skiff_client::Client;
use tokio_util::sync::CancellationToken;

pub use cluster::Cluster;
pub use progress::Progress;

#[derive(Debug, Clone)]
pub struct Config {
    /// The API server's gRPC address.
    pub api: String,
    /// This host's Node name: the kube-dns endpoint this proxy serves is written under it.
    pub node_name: String,
    pub metrics_listen: Option<SocketAddr>,
    pub services: services::Config,
    pub dns: dns::Config,
    /// The Ingress router; none to run without one.
    pub ingress: Option<ingress::Config>,
}

impl Config {
    /// The defaults of every part: chains `SKIFF-*`, pods in 10.244.0.0/16, DNS on
    /// 10.244.0.1:53 behind 10.96.0.10, no metrics.
    pub fn new(api: &str, node_name: &str) -> Config {
        Config {
            api: api.to_string(),
            node_name: node_name.to_string(),
            metrics_listen: None,
            services: services::Config::default(),
            dns: dns::Config::default(),
            ingress: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the API server")]
    Connect(#[source] skiff_client::ApiError),
    #[error("the Service data path failed")]
    Services(#[from] services::Error),
    #[error("the cluster DNS failed")]
    Dns(#[from] dns::Error),
    #[error("the Ingress router failed")]
    Ingress(#[from] ingress::Error),
}

/// Runs the proxy until `shutdown`, then removes what it installed.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let client = Client::connect(&config.api, "skiff-proxy").await.map_err(Error::Connect)?;
    // The parts stop on `stop`: the caller's shutdown, or the first part that fails.
    let stop = shutdown.child_token();
    let cluster = Cluster::start(client, &stop);
    if let Some(address) = config.metrics_listen {
        tokio::spawn(skiff_client::metrics::serve(address, stop.clone()));
    }
    // Every part that sends connections to endpoints reports what it applied (`progress`).
    let progress = Progress::new();
    let services_progress = progress.reporter("services");
    let publishing = tokio::spawn(progress.clone().run(cluster.client.clone(), config.node_name.clone(), stop.clone()));
    let kernel = Arc::new(services::SystemKernel::new(config.services.balance_connects));
    let router = async {
        let Some(ingress) = config.ingress else { return Ok(()) };
        let caches = ingress::Caches {
            services: cluster.services.clone(),
            slices: cluster.slices.clone(),
            progress: Some(progress.reporter("ingress")),
        };
        ingress::run(ingress, cluster.client.clone(), caches, stop.clone()).await
    };
    let (services, dns, ingress) = tokio::join!(
        part(&stop, services::run(config.services, cluster.clone(), kernel, services_progress, stop.clone())),
        part(&stop, dns::run(config.dns, &config.node_name, cluster.clone(), stop.clone())),
        part(&stop, router),
    );
    stop.cancel();
    // The Lease goes before run() returns: a proxy that stopped is not waited for.
    let _ = publishing.await;
    services?;
    dns?;
    ingress?;
    Ok(())
}

/// An error and its causes, as one line for a log: `error: cause: cause`.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A part of the proxy that, when it fails, stops the others.
async fn part<E>(stop: &CancellationToken, part: impl Future<Output = Result<(), E>>) -> Result<(), Error>
where
    Error: From<E>,
{
    let result = part.await.map_err(Error::from);
    if let Err(err) = &result {
        tracing::error!(cause = %err, "a part of the proxy failed; stopping the others");
        stop.cancel();
    }
    result
}
