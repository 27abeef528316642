//! `skiff-kubelet`: flags, logging and signals around [`skiff_kubelet::run`].

use std::net::{Ipv4Addr, SocketAddr};

use clap::Parser;
use skiff_kubelet::config::{parse_labels, Config};

#[derive(Parser)]
#[command(about = "Skiff's node agent: runs the pods bound to this node as Docker containers")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:6444", help = "The API server's gRPC address")]
    api: String,
    #[arg(long, help = "This node's name (and its Node object's)")]
    node_name: String,
    #[arg(long, default_value = "", value_parser = parse_labels, help = "Extra node labels: k=v,k2=v2")]
    node_labels: std::collections::BTreeMap<String, String>,
    #[arg(long, help = "This node's pod addresses, e.g. 10.244.1.0/24 (default: the Node's spec.podCIDR)")]
    pod_cidr: Option<String>,
    #[arg(long, help = "Pod volumes and state (default /var/lib/skiff-kubelet/<node>)")]
    root_dir: Option<std::path::PathBuf>,
    #[arg(long, help = "The DNS server of ClusterFirst pods (default: Docker's resolver)")]
    cluster_dns: Option<Ipv4Addr>,
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    #[arg(long, help = "The node's InternalIP (default: the pod network's gateway)")]
    node_ip: Option<Ipv4Addr>,
    #[arg(long, help = "Prometheus metrics at /metrics")]
    metrics_listen: Option<SocketAddr>,
    #[arg(long, default_value = "127.0.0.1:10250", help = "The streaming server (logs, exec, attach)")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    skiff_client::process::init_logging("skiff_kubelet=info");
    let args = Args::parse();
    let defaults = Config::new(&args.api, &args.node_name);
    let config = Config {
        root_dir: args.root_dir.unwrap_or_else(|| defaults.root_dir.clone()),
        node_labels: args.node_labels,
        pod_cidr: args.pod_cidr,
        cluster_dns: args.cluster_dns,
        cluster_domain: args.cluster_domain,
        node_ip: args.node_ip,
        metrics_listen: args.metrics_listen,
        listen: Some(args.listen),
        ..defaults
    };
    let shutdown = skiff_client::process::shutdown_on_signals()?;
    Ok(skiff_kubelet::run(config, shutdown).await?)
}
