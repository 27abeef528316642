//! `skiff-controller-manager`: the binary. Flags, logging and signals; everything else is in the
//! library.

use std::net::SocketAddr;

use clap::Parser;
use tokio_util::sync::CancellationToken;

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
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "skiff_controller_manager=info,skiff_client=info".into()),
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
    let config =
        skiff_controller_manager::Config { api: args.api, workers: args.workers, metrics_listen: args.metrics_listen };
    skiff_controller_manager::run(config, shutdown).await?;
    Ok(())
}
