//! `skiff-kubelet`: flags, logging and signals around [`skiff_kubelet::run`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use skiff_kubelet::config::{parse_labels, Config};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "Skiff's node agent: runs the pods bound to this node as Docker containers")]
struct Args {
    /// The API server's gRPC address.
    #[arg(long, default_value = "127.0.0.1:6444")]
    api: String,
    #[arg(long)]
    node_name: String,
    /// Extra node labels: k=v,k2=v2.
    #[arg(long, default_value = "", value_parser = parse_labels)]
    node_labels: std::collections::BTreeMap<String, String>,
    /// This node's pod addresses, e.g. 10.244.1.0/24.
    #[arg(long)]
    pod_cidr: Option<String>,
    /// Pod volumes and state (default /var/lib/skiff-kubelet/<node>).
    #[arg(long)]
    root_dir: Option<PathBuf>,
    #[arg(long)]
    cluster_dns: Option<Ipv4Addr>,
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// The node's InternalIP (default: the pod network's gateway).
    #[arg(long)]
    node_ip: Option<Ipv4Addr>,
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// The streaming server (logs, exec, attach) the API server calls.
    #[arg(long, default_value = "127.0.0.1:10250")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("skiff_kubelet=info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let args = Args::parse();
    let mut config = Config::new(&args.api, &args.node_name);
    config.node_labels = args.node_labels;
    config.pod_cidr = args.pod_cidr;
    config.root_dir = args.root_dir.unwrap_or(config.root_dir);
    config.cluster_dns = args.cluster_dns;
    config.cluster_domain = args.cluster_domain;
    config.node_ip = args.node_ip;
    config.metrics_listen = args.metrics_listen;
    config.listen = Some(args.listen);

    let shutdown = CancellationToken::new();
    let signalled = shutdown.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
        signalled.cancel();
    });
    skiff_kubelet::run(config, shutdown).await?;
    Ok(())
}
