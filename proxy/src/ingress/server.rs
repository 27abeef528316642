//! The HTTP side facing clients: accept connections, answer each request from the current
//! routing snapshot, count and log it, and shut down gracefully.
//!
//! A connection starts on the plain path ([`crate::ingress::plain`]), the router's own loop
//! for bodiless `GET`s and the like; the first request that is anything else hands it, with the
//! bytes already read, to hyper for good. On hyper's side, one request, top-down ([`handle`]):
//! take the snapshot, [`route`] it (pure), then answer: `302` for app-root, the router's `404`
//! without a rule or default backend, else [`forward`] it, which answers `503` itself when the
//! backend has no ready endpoint and `502`/`504` when the backend fails. Both paths count and
//! log each request with [`record`]. HTTP/1.1 with keep-alive and upgrades; on shutdown no
//! connection is accepted any more, idle connections close and requests in flight finish.
//!
//! Left out: HTTP/2 and TLS to clients (ingress-nginx's 443 side), the PROXY protocol.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::ingress::forward::{error_page, forward, full, Body, Forwarded, Peer, Settings};
use crate::ingress::metrics::{self, Labels};
use crate::ingress::plain;
use crate::ingress::prefixed::Prefixed;
use crate::ingress::route::{route, Route};
use crate::ingress::sync::Routes;
use crate::ingress::table::Backend;
use crate::ingress::workers::Workers;

/// A client that sends no request head in this long is cut off.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(60);

/// What every connection's requests share.
pub struct Shared {
    pub routes: Arc<Routes>,
    pub settings: Settings,
    pub local_port: u16,
    /// Which worker thread serves the connection ([`crate::ingress::workers`]): its own idle
    /// backend connections are the ones it uses.
    pub worker: usize,
}

/// Serves `listener` until `shutdown`, once the first routing table is in (until then
/// connections wait in the listen backlog rather than get 404s from an empty table).
pub async fn serve(listener: TcpListener, routes: Arc<Routes>, settings: Settings, shutdown: CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = routes.ready() => {}
    }
    let local_port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let shared = (0..settings.workers.max(1))
        .map(|worker| Arc::new(Shared { routes: routes.clone(), settings, local_port, worker }))
        .collect();
    let mut workers = match Workers::start(shared, &shutdown) {
        Ok(workers) => workers,
        Err(err) => return tracing::error!(cause = %err, "cannot start the ingress router's workers"),
    };
    tracing::info!(address = ?listener.local_addr().ok(), workers = settings.workers, "ingress router serving");
    loop {
        let (stream, client) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, usually: wait a little instead of spinning.
                    tracing::warn!(cause = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        workers.hand(stream, client);
    }
    workers.wait().await;
}

/// One client connection, on a worker's thread: the plain path, then hyper if need be.
pub async fn connection(mut stream: TcpStream, client: SocketAddr, shared: Arc<Shared>, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let buffered = match plain::serve(&mut stream, client, &shared, &shutdown).await {
        plain::Ended::Closed => return,
        plain::Ended::ToHyper(buffered) => buffered,
    };
    let service = service_fn(move |request| handle(request, client, shared.clone()));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(Prefixed::new(buffered, stream)), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%client, cause = %err, "client connection ended");
    }
}

/// The `Host` a request names: its header, or the authority of an absolute URI.
fn host_of(request: &Request<Incoming>) -> String {
    let header = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    header.map(str::to_string).or_else(|| request.uri().authority().map(|a| a.to_string())).unwrap_or_default()
}

/// An endpoint as the log shows it; empty for none.
fn shown(endpoint: Option<SocketAddr>) -> String {
    endpoint.map(|e| e.to_string()).unwrap_or_default()
}

async fn handle(
    request: Request<Incoming>,
    client: SocketAddr,
    shared: Arc<Shared>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let routing = shared.routes.current();
    let host = host_of(&request);
    // Kept for the metrics and the log after the request has gone on: clones without an
    // allocation (a standard method is a tag, a URI shares its bytes).
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let decided = route(&routing.table, &host, request.uri(), request.headers(), &mut rand::rng());
    let (response, labels, forwarded) = match decided {
        Route::Redirect(location) => {
            let mut response = Response::new(full(""));
            *response.status_mut() = StatusCode::FOUND;
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            (response, None, None)
        }
        Route::NotFound => (error_page(StatusCode::NOT_FOUND), None, None),
        Route::Proxy { ingress, backend, uri, canary } => {
            let labels = (ingress.map(|i| i.name.clone()).unwrap_or_default(), backend.clone(), canary);
            let peer = Peer { client, local_port: shared.local_port };
            let snapshot = routing.clone();
            let forwarded = forward(request, snapshot, backend, &uri, &shared.routes, &shared.settings, peer).await;
            let Forwarded { response, endpoint, retried, failure } = forwarded;
            (response, Some(labels), Some((endpoint, retried, failure)))
        }
    };
    let (endpoint, retried, failure) = forwarded.unwrap_or_default();
    record(Answered {
        client,
        host: &host,
        method: method.as_str(),
        path: uri.path(),
        status: response.status().as_u16(),
        took: started.elapsed(),
        labels: labels.as_ref().map(|(ingress, backend, canary)| (ingress.as_str(), &**backend, *canary)),
        endpoint,
        retried,
        failure,
    });
    Ok(response)
}

/// One answered request, as the metrics and the log see it.
pub struct Answered<'a> {
    pub client: SocketAddr,
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub took: Duration,
    /// The Ingress (empty for a default backend), backend and canary choice, when proxied.
    pub labels: Option<(&'a str, &'a Backend, bool)>,
    pub endpoint: Option<SocketAddr>,
    pub retried: bool,
    /// Why the router answered 502/503/504 itself, or cut the response.
    pub failure: Option<String>,
}

/// Counts and logs one request.
pub fn record(answered: Answered<'_>) {
    let Answered { client, host, method, path, status, took, labels, endpoint, retried, failure } = answered;
    let (ingress, service, namespace, canary) = match labels {
        Some((ingress, backend, canary)) => (ingress, backend.service.as_str(), backend.namespace.as_str(), canary),
        None => ("", "", "", false),
    };
    metrics::request(&Labels { namespace, ingress, service, canary, method }, status, took);
    // Inside the macros, so that a line the filter leaves out (every `debug` one at the
    // default level) formats nothing.
    match failure {
        Some(failure) => {
            tracing::warn!(%client, host, path, status, namespace, service, endpoint = shown(endpoint), retried, cause = failure, "request failed")
        }
        None => {
            tracing::debug!(%client, host, path, status, namespace, ingress, service, canary, endpoint = shown(endpoint), retried, took_ms = took.as_secs_f64() * 1e3, "request")
        }
    }
}
