//! The cluster DNS: the `cluster.local` zone from the Services and EndpointSlices, other names
//! forwarded to the host's resolvers. In Kubernetes this is CoreDNS (`plugin/kubernetes`,
//! `plugin/forward`) running as pods behind the `kube-dns` Service; in Skiff it runs in each
//! host's proxy, behind the same Service.
//!
//! **Where it listens**: on the pod bridge's gateway address, `10.244.0.1:53` by default — an
//! address of the host that every container on the bridge reaches directly, which is not on
//! the outside network (no one outside can use the server as a resolver), and which is a
//! valid endpoint (endpoints may not be loopback). Pods do not use it directly: the kubelet
//! gives them `nameserver 10.96.0.10`, the `kube-dns` ClusterIP, and the data path DNATs
//! 10.96.0.10:53 to the published endpoint like any Service ([`kube_dns`]). If the bridge does
//! not exist yet (the proxy started before the kubelet), binding is retried every second.
//!
//! Parts: [`view`] (the zone's contents), [`answer`] (the pure answer), [`forward`] (the
//! upstreams), [`server`] (hickory-server's handler), [`kube_dns`] (the Service).

pub mod answer;
pub mod forward;
pub mod kube_dns;
pub mod server;
pub mod view;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{FutureExt, StreamExt};
use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use forward::{upstreams_from_resolv_conf, Forwarder};
use server::Handler;
use view::DnsView;

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server listens (UDP and TCP).
    pub listen: SocketAddr,
    /// The `kube-dns` Service's ClusterIP: what the kubelet's `--cluster-dns` says.
    pub service_ip: Ipv4Addr,
    /// The cluster domain.
    pub domain: String,
    /// Where forwarded questions go; `None`: the `nameserver`s of `resolv_conf`.
    pub upstreams: Option<Vec<SocketAddr>>,
    pub resolv_conf: PathBuf,
    /// Create the `kube-dns` Service if missing, and publish this server as its endpoint.
    pub publish: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([10, 244, 0, 1], 53)),
            service_ip: Ipv4Addr::new(10, 96, 0, 10),
            domain: "cluster.local".into(),
            upstreams: None,
            resolv_conf: "/etc/resolv.conf".into(),
            publish: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {address}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// How long a burst of changes may last before the view is rebuilt.
const VIEW_COALESCE: Duration = Duration::from_millis(10);

fn now_serial() -> u32 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as u32
}

/// Serves DNS until `shutdown`.
pub async fn run(config: Config, node_name: &str, cluster: Cluster, shutdown: CancellationToken) -> Result<(), Error> {
    let mut changes = Box::pin(cluster.changes());
    let (udp, tcp) = tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        bound = bind(config.listen) => bound?,
    };
    tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        _ = cluster.synced() => {}
    }
    let (services, slices) = (cluster.service_store(), cluster.slice_store());
    let domain = config.domain.clone();
    let build = move || DnsView::build(&domain, now_serial(), &services.list(), &slices.list());
    let (views, view) = watch::channel(Arc::new(build()));

    let upstreams = config.upstreams.clone().unwrap_or_else(|| {
        let text = std::fs::read_to_string(&config.resolv_conf).unwrap_or_default();
        upstreams_from_resolv_conf(&text, &[IpAddr::V4(config.service_ip), config.listen.ip()])
    });
    tracing::info!(listen = %config.listen, upstreams = ?upstreams, "cluster DNS serving");
    let forwarder = Arc::new(Forwarder::new(upstreams));
    let mut server = Server::new(Handler { view, forwarder });
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 64);

    if config.publish {
        let (client, node, stop) = (cluster.client.clone(), node_name.to_string(), shutdown.clone());
        let (ip, listen) = (config.service_ip, config.listen);
        tokio::spawn(async move { kube_dns::publish_until_done(&client, ip, &node, listen, &stop).await });
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            change = changes.next() => {
                if change.is_none() {
                    shutdown.cancelled().await;
                    break;
                }
                tokio::time::sleep(VIEW_COALESCE).await;
                while let Some(Some(())) = changes.next().now_or_never() {}
                views.send_replace(Arc::new(build()));
            }
        }
    }
    if config.publish {
        let withdraw = kube_dns::withdraw(&cluster.client, node_name, config.listen);
        match tokio::time::timeout(Duration::from_secs(2), withdraw).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(cause = %err, "cannot withdraw the kube-dns endpoints"),
            Err(_) => tracing::warn!("withdrawing the kube-dns endpoints timed out"),
        }
    }
    let _ = server.shutdown_gracefully().await;
    Ok(())
}

/// Binds UDP and TCP on `address`, waiting for the address to exist (the bridge the kubelet
/// creates). Any other failure (the port is taken) is an error.
async fn bind(address: SocketAddr) -> Result<(UdpSocket, TcpListener), Error> {
    let mut warned = false;
    loop {
        let udp = UdpSocket::bind(address).await;
        let tcp = match &udp {
            Ok(_) => TcpListener::bind(address).await,
            Err(_) => Err(std::io::Error::other("not tried")),
        };
        match (udp, tcp) {
            (Ok(udp), Ok(tcp)) => return Ok((udp, tcp)),
            (Err(err), _) | (_, Err(err)) if err.kind() == std::io::ErrorKind::AddrNotAvailable => {
                if !warned {
                    tracing::warn!(%address, "the DNS address does not exist yet (no pod bridge?); waiting for it");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            (Err(source), _) | (_, Err(source)) => return Err(Error::Listen { address, source }),
        }
    }
}
