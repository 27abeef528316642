//! `skiff-proxy`: the binary. Flags, logging and signals; everything else is in the library.

use std::net::{Ipv4Addr, SocketAddr};

use clap::Parser;
use skiff_proxy::net::Cidr;

/// mimalloc rather than the system allocator: the Ingress router allocates and frees per
/// request (header maps, the backend's head), and glibc's malloc and free took 9% of its CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Each host's Service data path (iptables), cluster DNS and Ingress router.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The API server's internal gRPC address.
    #[arg(long, default_value = "127.0.0.1:6444")]
    api: String,
    /// This host's Node name.
    #[arg(long)]
    node_name: String,
    /// The pods' addresses (traffic from elsewhere to a ClusterIP is masqueraded).
    #[arg(long, default_value = "10.244.0.0/16")]
    cluster_cidr: Cidr,
    /// Where the DNS server listens: the pod bridge's gateway.
    #[arg(long, default_value = "10.244.0.1:53")]
    dns_listen: SocketAddr,
    /// The kube-dns Service's ClusterIP (the kubelet's --cluster-dns).
    #[arg(long, default_value = "10.96.0.10")]
    cluster_dns: Ipv4Addr,
    /// Where the Ingress router listens ("off": no router).
    #[arg(long, default_value = "0.0.0.0:80")]
    ingress_listen: String,
    /// This node's address, written into the status of the Ingresses it serves.
    #[arg(long, default_value = "10.244.0.1")]
    node_ip: std::net::IpAddr,
    /// Where to serve Prometheus metrics.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// The first word of this proxy's iptables chains (`SKIFF-SERVICES`, …): another word lets
    /// a second proxy run beside the host's own (the benchmarks' does).
    #[arg(long, default_value = "SKIFF")]
    chain_prefix: String,
    /// Leave the service range's route alone (it is one per host, and the host's proxy owns it).
    #[arg(long)]
    no_service_route: bool,
    /// Leave every ClusterIP connection to iptables' DNAT, as kube-proxy does, instead of
    /// choosing TCP connections' endpoints at connect() with an eBPF program.
    #[arg(long)]
    no_connect_balancing: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    skiff_client::process::init_logging("skiff_proxy=info");
    let args = Args::parse();
    let shutdown = skiff_client::process::shutdown_on_signals()?;
    let mut config = skiff_proxy::Config::new(&args.api, &args.node_name);
    config.metrics_listen = args.metrics_listen;
    config.services.cluster_cidr = Some(args.cluster_cidr);
    (config.services.chain_prefix, config.services.service_route) = (args.chain_prefix, !args.no_service_route);
    config.services.balance_connects = !args.no_connect_balancing;
    (config.dns.listen, config.dns.service_ip) = (args.dns_listen, args.cluster_dns);
    if args.ingress_listen != "off" {
        let listen: SocketAddr = args.ingress_listen.parse()?;
        config.ingress = Some(skiff_proxy::ingress::Config::new(listen, args.node_ip));
    }
    skiff_proxy::run(config, shutdown).await?;
    Ok(())
}
