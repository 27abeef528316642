//! The proxying itself: one request to one backend endpoint, over a keep-alive pool, with the
//! headers ingress-nginx sets, `Upgrade` pass-through, and one retry elsewhere when nothing can
//! have reached the backend.
//!
//! Mirrors what ingress-nginx's template configures in each location: `proxy_set_header` of
//! `Host` (kept as the client sent it), `X-Request-ID`, `X-Real-IP`, `X-Forwarded-For`
//! (the client's address: `use-forwarded-headers` is off by default), `-Host`, `-Port`,
//! `-Proto`, `-Scheme`; `Upgrade` and `Connection: upgrade` passed on for WebSockets;
//! `proxy_connect_timeout 5s`, `proxy_read_timeout 60s`; `proxy_next_upstream error timeout`
//! with `proxy_next_upstream_tries 3` (here: one retry, on errors only).
//!
//! **Pools.** One hyper-util client, hence one pool of idle keep-alive connections, per
//! endpoint, held by the routing snapshot ([`Pools`]), beside the plain path's own idle
//! connections to the same endpoint ([`crate::ingress::upstream`]). An endpoint that leaves the table leaves
//! the next snapshot's pools: no new request can be handed one of its idle connections, and
//! once the last request holding the old snapshot ends, its pool and idle connections are
//! dropped (closed). Endpoints that stay keep their pool across rebuilds.
//!
//! **Retry.** A request fails over to another endpoint of the same backend, once, when the
//! failure happened before any response arrived and the request can be sent again. The other
//! endpoint comes from the newest table: a connect to a pod whose IP has just gone (its
//! container stopped before it left the endpoints) hangs until the connect timeout, and by then
//! the table has usually moved on. The cases:
//! - a connect error (refused, unreachable, connect timeout): nothing was sent, any method;
//! - any other error before the response head (the connection reset or closed under the
//!   request): only for idempotent methods, as nginx does (it never retries POST, LOCK or
//!   PATCH once sent).
//!
//! Only requests without a body are retried: the body is streamed, not kept (nginx keeps it in
//! a buffer; Skiff's tutorials retry GETs). hyper-util itself already retries, on a fresh
//! connection to the same endpoint, a request that a pooled connection closed before sending.
//!
//! Failures answer 502 (no connection, reset, bad response) or 504 (connect or response
//! timeout), as nginx does. Left out: `proxy-body-size`, buffering, response timeouts between
//! body chunks, HTTP/2 to backends.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body as _, Incoming};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::error_chain;
use crate::ingress::sync::{Routes, Routing};
use crate::ingress::table::Backend;
use crate::ingress::upstream::Idle;
use crate::ingress::wire::{tokens, HOP_BY_HOP};

/// Bodies both ways: the client's or backend's stream, or one the router makes.
pub type Body = BoxBody<Bytes, hyper::Error>;

pub fn full(text: impl Into<Bytes>) -> Body {
    Full::new(text.into()).map_err(|never| match never {}).boxed()
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Timeouts and pool sizes.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub connect_timeout: Duration,
    /// For the response head; nginx's `proxy_read_timeout`.
    pub response_timeout: Duration,
    /// How long an idle connection is kept (nginx's upstream `keepalive_timeout`).
    pub idle_timeout: Duration,
    /// Idle connections kept per endpoint (nginx's upstream `keepalive`). Each concurrent
    /// request needs a connection of its own, and a connection that comes back to a full pool
    /// is closed, so below the clients' concurrency the requests beyond it pay a new connection
    /// each: with 32, one `bench-net --quick` (50 clients) left 3,093 connections to the pod in
    /// TIME_WAIT, and connect() was 4% of the router's profile. 320 is ingress-nginx's
    /// `upstream-keepalive-connections`.
    pub max_idle_per_endpoint: usize,
    /// The router's worker threads ([`crate::ingress::workers`]): one per core, as nginx's
    /// `worker_processes auto`.
    pub workers: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_idle_per_endpoint: 320,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

type Pool = Client<HttpConnector, Body>;

/// An endpoint's kept-alive connections: hyper-util's for the requests hyper serves, and the
/// plain path's.
#[derive(Clone)]
struct EndpointPools {
    client: Pool,
    /// One per worker thread.
    idle: Arc<[Idle]>,
}

/// One keep-alive pool per endpoint of the table.
#[derive(Clone, Default)]
pub struct Pools {
    by_endpoint: HashMap<SocketAddr, EndpointPools>,
}

impl Pools {
    /// The pools for `endpoints`: this snapshot's pool where an endpoint had one, a new pool
    /// for a new endpoint, none for an endpoint that left.
    pub fn refresh(&self, endpoints: &HashSet<SocketAddr>, settings: &Settings) -> Pools {
        let by_endpoint = endpoints
            .iter()
            .map(|endpoint| {
                let kept = self.by_endpoint.get(endpoint).cloned();
                let new = || EndpointPools {
                    client: pool(settings),
                    idle: (0..settings.workers.max(1)).map(|_| Idle::new(*endpoint, settings)).collect(),
                };
                (*endpoint, kept.unwrap_or_else(new))
            })
            .collect();
        Pools { by_endpoint }
    }

    /// Worker `worker`'s idle plain-path connections to `endpoint`, if it is in this
    /// snapshot's table.
    pub fn idle(&self, endpoint: SocketAddr, worker: usize) -> Option<&Idle> {
        let idle = &self.by_endpoint.get(&endpoint)?.idle;
        idle.get(worker % idle.len())
    }

    pub fn len(&self) -> usize {
        self.by_endpoint.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_endpoint.is_empty()
    }
}

fn pool(settings: &Settings) -> Pool {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(settings.connect_timeout));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(settings.idle_timeout)
        .pool_max_idle_per_host(settings.max_idle_per_endpoint)
        .build(connector)
}

/// Who sent the request, for the forwarded headers.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub client: SocketAddr,
    /// The router's own port (`X-Forwarded-Port`).
    pub local_port: u16,
}

/// How a forwarded request ended.
pub struct Forwarded {
    pub response: Response<Body>,
    /// The endpoint that answered (or failed last).
    pub endpoint: Option<SocketAddr>,
    pub retried: bool,
    /// What went wrong, for the log, when the router answered 502/503/504 itself.
    pub failure: Option<String>,
}

/// Sends `request` to an endpoint of `backend` (of the snapshot `routing`) as `uri` (path and
/// query), retrying once elsewhere as the module doc says. The retry takes its endpoint from
/// the newest snapshot in `routes`: the first attempt may have waited seconds on an endpoint
/// that has left the table since.
pub async fn forward(
    mut request: Request<Incoming>,
    routing: Arc<Routing>,
    backend: &Backend,
    uri: &str,
    routes: &Routes,
    settings: &Settings,
    peer: Peer,
) -> Forwarded {
    let Some(mut endpoint) = backend.pick() else {
        return failed(StatusCode::SERVICE_UNAVAILABLE, None, false, "no ready endpoint".into());
    };
    let client_upgrade = is_upgrade(request.headers()).then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    let headers = upstream_headers(&parts.headers, peer, client_upgrade.is_some());
    let bodiless = body.is_end_stream();
    let idempotent = crate::ingress::wire::idempotent(&parts.method);
    let mut body = Some(if bodiless { empty() } else { body.boxed() });
    let (mut snapshot, mut retried) = (routing, false);
    loop {
        let Some(pool) = snapshot.pools.by_endpoint.get(&endpoint).map(|pools| &pools.client) else {
            return failed(StatusCode::BAD_GATEWAY, Some(endpoint), retried, "no pool for the endpoint".into());
        };
        let mut upstream = Request::new(body.take().unwrap_or_else(empty));
        *upstream.method_mut() = parts.method.clone();
        *upstream.version_mut() = Version::HTTP_11;
        *upstream.headers_mut() = headers.clone();
        match format!("http://{endpoint}{uri}").parse() {
            Ok(target) => *upstream.uri_mut() = target,
            Err(_) => return failed(StatusCode::BAD_REQUEST, None, retried, format!("bad URI {uri:?}")),
        }
        let failure = match tokio::time::timeout(settings.response_timeout, pool.request(upstream)).await {
            Ok(Ok(response)) => {
                let response = downstream(response, client_upgrade);
                return Forwarded { response, endpoint: Some(endpoint), retried, failure: None };
            }
            Err(_) => {
                return failed(StatusCode::GATEWAY_TIMEOUT, Some(endpoint), retried, "no response in time".into())
            }
            Ok(Err(err)) => err,
        };
        let unsent = failure.is_connect();
        if bodiless && !retried && (unsent || idempotent) {
            let newest = routes.current();
            let other = newest.table.backend(&backend.key()).and_then(|fresh| fresh.pick_other(endpoint));
            if let Some(other) = other {
                tracing::debug!(%endpoint, next = %other, cause = %error_chain(&failure), "retrying on another endpoint");
                crate::ingress::metrics::retried(backend);
                (snapshot, endpoint, retried) = (newest, other, true);
                continue;
            }
        }
        return failed(failure_status(&failure), Some(endpoint), retried, error_chain(&failure));
    }
}

fn failed(status: StatusCode, endpoint: Option<SocketAddr>, retried: bool, failure: String) -> Forwarded {
    Forwarded { response: error_page(status), endpoint, retried, failure: Some(failure) }
}

/// The router's own answer for `status`, an nginx-like page naming Skiff's router.
pub fn error_page(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(full(error_text(status)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// The page of [`error_page`] (`text/html`).
pub fn error_text(status: StatusCode) -> String {
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or_default());
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n\
         <hr><center>skiff-proxy</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// The router's answer to a backend that failed with `err`: 504 for a timeout, as nginx
/// answers, else 502.
pub fn failure_status(err: &(dyn std::error::Error + 'static)) -> StatusCode {
    if timed_out(err) {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_GATEWAY
    }
}

fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(cause) = source {
        if cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::TimedOut) {
            return true;
        }
        source = cause.source();
    }
    false
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && tokens(headers, header::CONNECTION).any(|token| token.eq_ignore_ascii_case("upgrade"))
}

/// `headers` without the hop-by-hop ones ([`HOP_BY_HOP`]), nor those the `Connection` header
/// names.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<HeaderName> =
        tokens(headers, header::CONNECTION).filter_map(|t| HeaderName::try_from(t).ok()).collect();
    let mut kept = headers.clone();
    for hop in HOP_BY_HOP {
        kept.remove(hop);
    }
    for name in &named {
        kept.remove(name);
    }
    kept
}

/// The request headers the backend gets.
pub fn upstream_headers(headers: &HeaderMap, peer: Peer, upgrade: bool) -> HeaderMap {
    let mut out = end_to_end(headers);
    if upgrade {
        out.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(protocol) = headers.get(header::UPGRADE) {
            out.insert(header::UPGRADE, protocol.clone());
        }
    }
    forwarded_headers(headers, peer, |name, value| {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            out.insert(HeaderName::from_static(name), value);
        }
    });
    out
}

/// The headers the router sets on every request it sends on, in place of any the client sent
/// (`use-forwarded-headers` is off, so a client's claims are not trusted). `x-request-id` is
/// kept when the client sent one.
pub const SET_BY_ROUTER: [&str; 7] = [
    "x-real-ip",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-forwarded-scheme",
    "x-scheme",
];

/// Calls `set(name, value)` for each header the router adds to a request with `headers` from
/// `peer`: ingress-nginx's `proxy_set_header` lines. The values are formatted on the stack, so
/// that the plain path writes them without allocating.
pub fn forwarded_headers(headers: &HeaderMap, peer: Peer, mut set: impl FnMut(&'static str, &[u8])) {
    use std::io::Write;
    if !headers.contains_key("x-request-id") {
        let id = rand::random::<u128>().to_be_bytes();
        let mut hex = [0u8; 32];
        for (i, byte) in id.iter().enumerate() {
            hex[2 * i] = HEX[usize::from(byte >> 4)];
            hex[2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
        set("x-request-id", &hex);
    }
    let mut ip = [0u8; 45];
    let mut cursor = std::io::Cursor::new(&mut ip[..]);
    let _ = write!(cursor, "{}", peer.client.ip());
    let written = cursor.position() as usize;
    set("x-real-ip", &ip[..written]);
    set("x-forwarded-for", &ip[..written]);
    if let Some(host) = headers.get(header::HOST) {
        set("x-forwarded-host", host.as_bytes());
    }
    let mut port = [0u8; 5];
    let mut cursor = std::io::Cursor::new(&mut port[..]);
    let _ = write!(cursor, "{}", peer.local_port);
    let written = cursor.position() as usize;
    set("x-forwarded-port", &port[..written]);
    set("x-forwarded-proto", b"http");
    set("x-forwarded-scheme", b"http");
    set("x-scheme", b"http");
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether a client's request header `name` goes on to the backend as it is: not a hop-by-hop
/// one, not one `Connection` names (`named`), not one the router sets itself.
pub fn passed_on(name: &str, named: &[&str]) -> bool {
    !HOP_BY_HOP.contains(&name) && !named.iter().any(|n| n.eq_ignore_ascii_case(name)) && !SET_BY_ROUTER.contains(&name)
}

/// The backend's response as the client gets it; a `101 Switching Protocols` joins both
/// upgraded connections in a tunnel.
fn downstream(mut response: Response<Incoming>, client_upgrade: Option<hyper::upgrade::OnUpgrade>) -> Response<Body> {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let backend_upgrade = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                let (client, backend) = match tokio::try_join!(client_upgrade, backend_upgrade) {
                    Ok(both) => both,
                    Err(err) => return tracing::debug!(cause = %err, "upgrade failed"),
                };
                let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
                if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
                    tracing::debug!(cause = %err, "upgraded connection ended");
                }
            });
            return response.map(|_| empty());
        }
    }
    let headers = end_to_end(response.headers());
    *response.headers_mut() = headers;
    response.map(BodyExt::boxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Peer {
        Peer { client: "192.0.2.7:51000".parse().unwrap(), local_port: 8080 }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn the_backend_gets_the_forwarded_headers_and_no_hop_by_hop_ones() {
        let incoming = headers(&[
            ("host", "shop.example.test"),
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "hop"),
            ("x-forwarded-for", "203.0.113.1"),
            ("accept", "*/*"),
        ]);
        let out = upstream_headers(&incoming, peer(), false);
        assert_eq!(out["host"], "shop.example.test");
        assert_eq!(out["x-forwarded-host"], "shop.example.test");
        assert_eq!(out["x-forwarded-for"], "192.0.2.7", "the client's address, not a claimed one");
        assert_eq!(out["x-real-ip"], "192.0.2.7");
        assert_eq!(out["x-forwarded-port"], "8080");
        assert_eq!(out["x-forwarded-proto"], "http");
        assert_eq!(out["x-request-id"].len(), 32);
        assert_eq!(out["accept"], "*/*");
        for gone in ["connection", "keep-alive", "x-secret"] {
            assert!(!out.contains_key(gone), "{gone} was passed on");
        }
        let with_id = upstream_headers(&headers(&[("x-request-id", "abc")]), peer(), false);
        assert_eq!(with_id["x-request-id"], "abc");
    }

    #[test]
    fn an_upgrade_keeps_its_upgrade_and_connection_headers() {
        let incoming = headers(&[("connection", "Upgrade"), ("upgrade", "websocket"), ("sec-websocket-key", "k")]);
        assert!(is_upgrade(&incoming));
        let out = upstream_headers(&incoming, peer(), true);
        assert_eq!(out["connection"], "upgrade");
        assert_eq!(out["upgrade"], "websocket");
        assert_eq!(out["sec-websocket-key"], "k");
        assert!(!is_upgrade(&headers(&[("upgrade", "websocket")])), "an Upgrade without Connection: upgrade");
    }

    #[test]
    fn pools_follow_the_endpoints_of_the_table() {
        let settings = Settings::default();
        let (a, b): (SocketAddr, SocketAddr) = ("10.0.0.1:80".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
        let first = Pools::default().refresh(&[a, b].into(), &settings);
        assert_eq!(first.len(), 2);
        let second = first.refresh(&[b].into(), &settings);
        assert_eq!(second.len(), 1);
        assert!(second.by_endpoint.contains_key(&b) && !second.by_endpoint.contains_key(&a));
    }

    #[test]
    fn error_pages_name_the_status() {
        let page = error_page(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(page.status(), 503);
        assert_eq!(page.headers()["content-type"], "text/html");
    }
}
