//! `/metrics` for the daemons that have no HTTP server of their own: the process' Prometheus
//! registry in the text format, on a small listener.
//!
//! The API server serves `/metrics` on its REST port; the scheduler, controller-manager,
//! kubelet and proxy call [`serve`] on their `--metrics-listen` address. Any path answers the
//! metrics: this is a scrape endpoint, not a web server.

use std::net::SocketAddr;

use prometheus::{Encoder, TextEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The registry as Prometheus' text format.
pub fn render() -> String {
    let mut out = Vec::new();
    TextEncoder::new().encode(&prometheus::gather(), &mut out).expect("text encoding cannot fail");
    String::from_utf8(out).expect("the text format is UTF-8")
}

/// Serves the metrics on `address` until `shutdown`.
pub async fn serve(address: SocketAddr, shutdown: CancellationToken) {
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(%address, cause = %err, "cannot serve metrics");
            return;
        }
    };
    tracing::info!(%address, "metrics at /metrics");
    loop {
        let (mut stream, _) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
        };
        tokio::spawn(async move {
            // The request itself does not matter; read its head and answer.
            let mut head = [0u8; 2048];
            let _ = stream.read(&mut head).await;
            let body = render();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}
