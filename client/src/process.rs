//! What every daemon's `main.rs` does around its library's `run`: logs on stdout, and a
//! cancellation token for SIGINT and SIGTERM.
//!
//! Kubernetes' components get the same from `k8s.io/component-base/logs` and
//! `k8s.io/apiserver/pkg/server/signal.go` (`SetupSignalContext`): the first signal starts a
//! graceful shutdown. skiff-store keeps a copy of its own in its `main.rs`: it depends on no
//! other Skiff crate, so that it stands alone as an etcd.

use tokio_util::sync::CancellationToken;

/// Logs in tracing's text format on stdout (in colour only on a terminal), filtered by
/// `RUST_LOG` or, without it, by `default` (`"skiff_scheduler=info"`).
pub fn init_logging(default: &str) {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into()))
        .init();
}

/// A token cancelled at the first SIGINT (Ctrl-C) or SIGTERM (`make down`, `kill`). Call it
/// inside the runtime.
pub fn shutdown_on_signals() -> std::io::Result<CancellationToken> {
    let shutdown = CancellationToken::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let signalled = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        signalled.cancel();
    });
    Ok(shutdown)
}
