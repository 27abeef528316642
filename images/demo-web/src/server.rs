//! The accept loop of demo-web: HTTP/1.1 with keep-alive on Tokio and hyper, and a graceful
//! shutdown.
//!
//! Shutdown, in order (what a kubelet's SIGTERM sets off):
//! 1. stop accepting: the listener is closed, so new connections are refused and a proxy or
//!    load balancer moves on to another endpoint at once instead of queueing here. But first
//!    the connections the kernel has already accepted for us are taken from its queue and
//!    served: a proxy sent them before the pod left its rotation, and closing the listener
//!    with them queued would reset them (a client sees `connection reset by peer`);
//! 2. tell every open connection to finish: a request in flight completes and its response
//!    says `Connection: close`; an idle keep-alive connection is closed right away; a
//!    connection that has not sent its first request yet is answered that one first (hyper
//!    would close it as idle, having read nothing, and its request would be lost);
//! 3. return once the last connection has closed. There is no deadline of our own: the
//!    kubelet's grace period (then SIGKILL) is the deadline, as for any real app.

use crate::app::App;
use crate::routes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

/// Serves `listener` until `shutdown` completes, then drains as described above.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    // `true` once shutting down. Every connection holds a receiver until it ends, so the
    // sender's `closed()` is the moment the last one has.
    let (stopping, connections) = watch::channel(false);
    let spawn = |stream: TcpStream| {
        // Small responses on keep-alive connections: without NODELAY, Nagle's algorithm and
        // delayed ACKs can add ~40 ms to a request that follows a response.
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok().map(|addr| addr.ip());
        let (app, mut stopping) = (app.clone(), connections.clone());
        // Told of every request, so that the shutdown knows a connection has had its first.
        let requested = Arc::new(Notify::new());
        let (seen, stopped) = (requested.clone(), connections.clone());
        let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            seen.notify_one();
            let (app, stopped) = (app.clone(), stopped.clone());
            async move {
                let route = routes::route(request.method(), request.uri().path());
                let mut response = routes::respond(&app, route, local).await;
                // A request read after the shutdown began is the connection's last.
                if *stopped.borrow() {
                    response.headers_mut().insert(hyper::header::CONNECTION, "close".parse().expect("a header value"));
                }
                Ok::<_, Infallible>(response)
            }
        });
        // The timer lets hyper drop clients that open a connection and never finish a request
        // header (30 s by default), which would otherwise also hold up a graceful shutdown.
        // Half-closes are allowed: `printf 'GET / HTTP/1.0\r\n\r\n' | nc web 8080` shuts its
        // sending side once the request is out, and hyper would otherwise drop the connection at
        // that EOF, before the answer is written, whenever the handler is not done yet.
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .half_close(true)
            .serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            tokio::pin!(connection);
            let finish = async {
                let _ = stopping.wait_for(|stopping| *stopping).await;
                requested.notified().await;
            };
            // Errors here are clients going away mid-request (resets, timeouts): theirs, not
            // ours, and too common under a load test to log one by one.
            tokio::select! {
                _ = connection.as_mut() => return,
                () = finish => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    };
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
        spawn(stream);
    }
    // The kernel's queue, read directly (Tokio's readiness may not have seen the last arrivals).
    if let Ok(listener) = listener.into_std() {
        while let Ok((stream, _peer)) = listener.accept() {
            if let Ok(stream) = stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)) {
                spawn(stream);
            }
        }
    }
    stopping.send_replace(true);
    drop(connections);
    stopping.closed().await;
}
