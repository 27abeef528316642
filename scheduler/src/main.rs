//! `skiff-scheduler`: the binary. Flags, logging and signals; everything else is in the library.

use std::net::SocketAddr;

use clap::Parser;
use tokio_util::sync::CancellationToken;

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
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "skiff_scheduler=info".into()),
        )
        .init();
    let args = Args::parse();
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM can be handled");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        on_signal.cancel();
    });
    let config = skiff_scheduler::Config {
        api: args.api,
        scheduler_name: args.scheduler_name,
        metrics_listen: args.metrics_listen,
    };
    skiff_scheduler::run(config, shutdown).await?;
    Ok(())
}
