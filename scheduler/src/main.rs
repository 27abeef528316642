//! `skiff-scheduler`: the binary. Flags, logging and signals; everything else is in the library.

use std::net::SocketAddr;

use clap::Parser;

/// The scheduler of Skiff: binds unscheduled pods to nodes.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The API server's internal gRPC address.
    #[arg(long, default_value = "127.0.0.1:6444")]
    api: String,
    /// The `spec.schedulerName` of the pods this scheduler places.
    #[arg(long, default_value = skiff_scheduler::DEFAULT_SCHEDULER_NAME)]
    scheduler_name: String,
    /// Address for Prometheus metrics (`/metrics`); none if unset.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    skiff_client::process::init_logging("skiff_scheduler=info");
    let args = Args::parse();
    let shutdown = skiff_client::process::shutdown_on_signals()?;
    let config = skiff_scheduler::Config {
        api: args.api,
        scheduler_name: args.scheduler_name,
        metrics_listen: args.metrics_listen,
    };
    skiff_scheduler::run(config, shutdown).await?;
    Ok(())
}
