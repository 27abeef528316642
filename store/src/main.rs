//! `skiff-store`: the binary. Flags, logging and signals; everything else is in the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use tokio_util::sync::CancellationToken;

/// mimalloc rather than glibc's malloc: a put's buffers are allocated on a Tokio worker and
/// freed on the committer thread (and the other way round), and glibc's slow paths for that
/// (`_int_malloc`, `unlink_chunk`, `malloc_consolidate`) took ~14% of the server's CPU under a
/// 16-client put load (perf, `bench/README.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An etcd-v3-compatible key-value store on sled.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address for etcd v3 gRPC clients.
    #[arg(long, default_value = "127.0.0.1:2379")]
    listen: SocketAddr,
    /// Where the database lives.
    #[arg(long, default_value = ".skiff/store")]
    data_dir: PathBuf,
    /// Address for Prometheus metrics (`/metrics`).
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Member name, as `etcdctl member list` shows it.
    #[arg(long, default_value = "skiff-store")]
    name: String,
    /// `periodic` (keep a time span of history) or `revision` (keep N revisions).
    #[arg(long, default_value = "periodic")]
    auto_compaction_mode: String,
    /// `1h`, `30m`, `90s` (periodic) or a revision count (revision); 0 turns it off.
    #[arg(long, default_value = "1h")]
    auto_compaction_retention: String,
    /// Seconds between progress notifications to watchers that ask for them.
    #[arg(long, default_value_t = 600)]
    progress_notify_interval: u64,
    /// Page cache size in MiB.
    #[arg(long, default_value_t = 64)]
    cache_mb: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "skiff_store=info".into()),
        )
        .init();
    let args = Args::parse();
    let retention = skiff_store::Retention::parse(&args.auto_compaction_mode, &args.auto_compaction_retention)
        .map_err(anyhow::Error::msg)?;
    let config = skiff_store::Config {
        listen: args.listen,
        data_dir: args.data_dir,
        metrics_listen: args.metrics_listen,
        name: args.name,
        retention,
        progress_interval: std::time::Duration::from_secs(args.progress_notify_interval.max(1)),
        cache_bytes: args.cache_mb << 20,
    };
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
    skiff_store::run(config, shutdown).await?;
    Ok(())
}
