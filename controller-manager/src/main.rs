//! `skiff-controller-manager`: the binary. Flags, logging and signals; everything else is in the
//! library.

use std::net::SocketAddr;

use clap::Parser;

/// Skiff's control loops: Deployments, ReplicaSets, and what comes after them.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The API server's internal gRPC address.
    #[arg(long, default_value = "127.0.0.1:6444")]
    api: String,
    /// Workers per controller.
    #[arg(long, default_value_t = 5)]
    workers: usize,
    /// Where to serve Prometheus metrics.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    skiff_client::process::init_logging("skiff_controller_manager=info,skiff_client=info");
    let args = Args::parse();
    let shutdown = skiff_client::process::shutdown_on_signals()?;
    let config =
        skiff_controller_manager::Config { api: args.api, workers: args.workers, metrics_listen: args.metrics_listen };
    skiff_controller_manager::run(config, shutdown).await?;
    Ok(())
}
