//! The accept loop of demo-web: HTTP/1.1 with keep-alive on Tokio and hyper, and a graceful
//! shutdown.
//!
//! Shutdown, in order (what a kubelet's SIGTERM sets off):
//! 1. stop accepting: the listener is closed, so new connections are refused and a proxy or
//!    load balancer moves on to another endpoint at once instead of queueing here;
//! 2. tell every open connection to finish: a request in flight completes and its response
//!    says `Connection: close`; an idle keep-alive connection is closed right away;
//! 3. return once the last connection has closed. There is no deadline of our own: the
//!    kubelet's grace period (then SIGKILL) is the deadline, as for any real app.

use crate::app::App;
use crate::routes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves `listener` until `shutdown` completes, then drains as described above.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    // Usually out of file descriptors under load: back off a little rather
                    // than spin, and keep serving the connections already open.
                    eprintln!("demo-web: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses on keep-alive connections: without NODELAY, Nagle's algorithm and
        // delayed ACKs can add ~40 ms to a request that follows a response.
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok().map(|addr| addr.ip());
        let app = app.clone();
        let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let app = app.clone();
            async move {
                let route = routes::route(request.method(), request.uri().path());
                Ok::<_, Infallible>(routes::respond(&app, route, local).await)
            }
        });
        // The timer lets hyper drop clients that open a connection and never finish a request
        // header (30 s by default), which would otherwise also hold up a graceful shutdown.
        let connection = http1::Builder::new().timer(TokioTimer::new()).serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are clients going away mid-request (resets, timeouts): theirs, not
            // ours, and too common under a load test to log one by one.
            let _ = connection.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
