//! The plain path: the router's own HTTP/1.1 loop for the requests that make up nearly all of
//! its traffic (`GET`, `HEAD`, `DELETE`, `OPTIONS` without a body), the way nginx serves them.
//!
//! One task serves both sides of a request, in four system calls: read the client's head,
//! write the backend's head, read the backend's response, write it to the client. hyper, which
//! serves everything else ([`crate::ingress::server`]), runs each backend connection on a task
//! of its own and moves every request and response between the two tasks through channels;
//! measured with `bench-net`, that and its per-message bookkeeping cost the router 17 µs of
//! user CPU per tiny request where nginx spends 7 µs, on two cores where CPU is throughput.
//!
//! The loop, per request:
//! 1. Read until the buffer holds a whole head; [`wire::parse_request`] says whether it is a
//!    plain one. The first one that is not (a body, an upgrade, `Expect`, HTTP/1.0, anything
//!    malformed) hands the connection, with the bytes read so far, to hyper for good.
//! 2. Route it ([`route`], the same pure decision hyper's requests get).
//! 3. Send it on a kept-alive connection to the chosen endpoint ([`Idle`]) or a new one, with
//!    the headers [`forward::upstream_headers`] sets; read the response head.
//! 4. Pass the head on without hop-by-hop headers and relay the body as it is framed
//!    ([`wire::Framing`]), chunks included, without decoding it.
//! 5. Keep the backend connection if the response was read to its end and the backend keeps
//!    it open; keep the client's unless it asked to close, or the body ran until close.
//!
//! Failures follow the hyper path's rules ([`crate::ingress::forward`]): a kept connection
//! that turns out closed before any byte of the response arrives is replaced by a new one
//! (every plain method is idempotent); a connect error, or a fresh connection failing before
//! the response, is retried once on another endpoint of the newest table; then `502`, or
//! `504` for a timeout. A body cut short by the backend cuts the client's connection, since
//! the head is already gone.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::ingress::forward::{self, Peer};
use crate::ingress::route::{route, Route};
use crate::ingress::server::{record, Answered, Shared, HEADER_TIMEOUT};
use crate::ingress::sync::Routing;
use crate::ingress::table::Backend;
use crate::ingress::upstream::{Idle, Upstream};
use crate::ingress::wire::{self, Chunked, Framing, Request, RequestHead, Response, MAX_HEAD};

/// How a connection left the plain path.
pub enum Ended {
    /// Closed (by either side, a timeout, or shutdown).
    Closed,
    /// A request the plain path does not serve starts `buffered`: hyper takes the connection.
    ToHyper(BytesMut),
}

/// Buffers kept for the connection's life, so that a request allocates none of its own.
struct Buffers {
    /// The client's bytes.
    client: BytesMut,
    /// The backend's bytes.
    backend: BytesMut,
    /// What goes out next: a head, and as much of the body as is at hand.
    out: Vec<u8>,
}

/// How much one read asks for.
const READ_SIZE: usize = 16 * 1024;

/// Serves `stream`'s plain requests until it closes or a request is not plain.
pub async fn serve(stream: &mut TcpStream, client: SocketAddr, shared: &Shared, shutdown: &CancellationToken) -> Ended {
    let mut buffers =
        Buffers { client: BytesMut::with_capacity(4096), backend: BytesMut::new(), out: Vec::with_capacity(4096) };
    // One timer and one shutdown waiter for the connection's life, re-armed for each request:
    // a new `timeout` per request would add and remove a timer-wheel entry each time, and a
    // new `cancelled()` a waiter (together ~3% of the router's CPU in a profile).
    let mut timer = Box::pin(tokio::time::sleep(HEADER_TIMEOUT));
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    loop {
        timer.as_mut().reset(tokio::time::Instant::now() + HEADER_TIMEOUT);
        let head = match next_head(stream, &mut buffers.client, &mut timer, cancelled.as_mut()).await {
            Next::Head(head) => head,
            Next::Other => return Ended::ToHyper(buffers.client),
            Next::Closed => return Ended::Closed,
        };
        buffers.client.advance(head.len);
        let close = !head.keep_alive || shutdown.is_cancelled();
        let keep = answer(stream, &head, client, shared, close, &mut buffers, &mut timer).await;
        if !keep || close {
            return Ended::Closed;
        }
    }
}

enum Next {
    Head(RequestHead),
    Other,
    Closed,
}

/// Reads until `buf` starts with a whole head, or `timer` (the header timeout) fires.
async fn next_head(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    timer: &mut Pin<Box<Sleep>>,
    mut cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
) -> Next {
    loop {
        match wire::parse_request(buf) {
            Request::Plain(head) => return Next::Head(head),
            Request::Partial if buf.len() < MAX_HEAD => {}
            Request::Partial | Request::Other => return Next::Other,
        }
        buf.reserve(4096);
        let read = tokio::select! {
            // Between requests a shutdown closes the connection; a head begun is finished.
            _ = &mut cancelled, if buf.is_empty() => return Next::Closed,
            _ = &mut *timer => return Next::Closed,
            read = stream.read_buf(buf) => read,
        };
        match read {
            Ok(0) | Err(_) => return Next::Closed,
            Ok(_) => {}
        }
    }
}

/// What became of one request, for the metrics and the log.
struct Outcome {
    status: u16,
    endpoint: Option<SocketAddr>,
    retried: bool,
    failure: Option<String>,
    /// Whether the client's connection can take another request.
    keep: bool,
}

impl Outcome {
    fn own(status: StatusCode, keep: bool) -> Outcome {
        Outcome { status: status.as_u16(), endpoint: None, retried: false, failure: None, keep }
    }

    /// This error page's reason, for the log: `cause`, at `endpoint`.
    fn because(self, endpoint: Option<SocketAddr>, retried: bool, cause: String) -> Outcome {
        Outcome { endpoint, retried, failure: Some(cause), ..self }
    }
}

/// Answers one request; false when the client's connection must close.
async fn answer(
    stream: &mut TcpStream,
    head: &RequestHead,
    client: SocketAddr,
    shared: &Shared,
    close: bool,
    buffers: &mut Buffers,
    timer: &mut Pin<Box<Sleep>>,
) -> bool {
    let started = Instant::now();
    let routing = shared.routes.current();
    let host = head.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let decided = route(&routing.table, host, &head.uri, &head.headers, &mut rand::rng());
    let head_only = head.method == Method::HEAD;
    buffers.out.clear();
    let (outcome, labels) = match decided {
        Route::Redirect(location) => {
            let mut headers = HeaderMap::new();
            if let Ok(location) = HeaderValue::from_str(&location) {
                headers.insert(header::LOCATION, location);
            }
            wire::write_own_response(&mut buffers.out, StatusCode::FOUND, &headers, b"", head_only, close);
            (Outcome::own(StatusCode::FOUND, stream.write_all(&buffers.out).await.is_ok()), None)
        }
        Route::NotFound => (own_error(stream, StatusCode::NOT_FOUND, head_only, close, &mut buffers.out).await, None),
        Route::Proxy { ingress, backend, uri, canary } => {
            let peer = Peer { client, local_port: shared.local_port };
            let outcome =
                proxy(stream, head, routing.clone(), backend, &uri, shared, peer, close, buffers, timer).await;
            (outcome, Some((ingress.map(|i| i.name.as_str()).unwrap_or_default(), &**backend, canary)))
        }
    };
    record(Answered {
        client,
        host,
        method: head.method.as_str(),
        path: head.uri.path(),
        status: outcome.status,
        took: started.elapsed(),
        labels,
        endpoint: outcome.endpoint,
        retried: outcome.retried,
        failure: outcome.failure,
    });
    outcome.keep
}

/// The router's own error page for `status`.
async fn own_error(
    stream: &mut TcpStream,
    status: StatusCode,
    head_only: bool,
    close: bool,
    out: &mut Vec<u8>,
) -> Outcome {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    out.clear();
    wire::write_own_response(out, status, &headers, forward::error_text(status).as_bytes(), head_only, close);
    Outcome::own(status, stream.write_all(out).await.is_ok())
}

/// Why one attempt at a backend got no response head.
enum Failed {
    /// No connection: nothing was sent.
    Connect(io::Error),
    /// The connection failed before any byte of the response: safe to send again.
    BeforeResponse(io::Error),
    /// No response head in time.
    Timeout,
    /// Bytes came, but no usable head.
    BadResponse(String),
}

/// Sends `head` to an endpoint of `backend` as `uri` and relays the answer, retrying as the
/// module doc says.
#[allow(clippy::too_many_arguments)]
async fn proxy(
    client: &mut TcpStream,
    head: &RequestHead,
    routing: Arc<Routing>,
    backend: &Backend,
    uri: &str,
    shared: &Shared,
    peer: Peer,
    close: bool,
    buffers: &mut Buffers,
    timer: &mut Pin<Box<Sleep>>,
) -> Outcome {
    let head_only = head.method == Method::HEAD;
    let Some(mut endpoint) = backend.pick() else {
        let outcome = own_error(client, StatusCode::SERVICE_UNAVAILABLE, head_only, close, &mut buffers.out).await;
        return outcome.because(None, false, "no ready endpoint".into());
    };
    let mut request = Vec::with_capacity(512);
    wire::write_request_head(&mut request, &head.method, uri, &head.headers, peer);
    let (mut snapshot, mut retried) = (routing, false);
    loop {
        let Some(idle) = snapshot.pools.idle(endpoint, shared.worker) else {
            let outcome = own_error(client, StatusCode::BAD_GATEWAY, head_only, close, &mut buffers.out).await;
            return outcome.because(Some(endpoint), retried, "no pool for the endpoint".into());
        };
        let failed = match exchange(client, idle, &request, &head.method, close, shared, buffers, timer).await {
            Ok((upstream, response)) => {
                let (keep, failure) = relay(client, upstream, &response, idle, close, buffers).await;
                return Outcome { status: response.status, endpoint: Some(endpoint), retried, failure, keep };
            }
            Err(failed) => failed,
        };
        let (status, cause) = match failed {
            Failed::Connect(err) | Failed::BeforeResponse(err) if !retried => {
                let newest = shared.routes.current();
                let other = newest.table.backend(&backend.key()).and_then(|fresh| fresh.pick_other(endpoint));
                if let Some(other) = other {
                    tracing::debug!(%endpoint, next = %other, cause = %err, "retrying on another endpoint");
                    crate::ingress::metrics::retried(backend);
                    (snapshot, endpoint, retried) = (newest, other, true);
                    continue;
                }
                (forward::failure_status(&err), err.to_string())
            }
            Failed::Connect(err) | Failed::BeforeResponse(err) => (forward::failure_status(&err), err.to_string()),
            Failed::Timeout => (StatusCode::GATEWAY_TIMEOUT, "no response in time".to_string()),
            Failed::BadResponse(cause) => (StatusCode::BAD_GATEWAY, cause),
        };
        let outcome = own_error(client, status, head_only, close, &mut buffers.out).await;
        return outcome.because(Some(endpoint), retried, cause);
    }
}

/// One request to `idle`'s endpoint: a kept connection (or, if that one turns out closed, a
/// new one), the request sent, the response head read. Leaves the client's head in
/// `buffers.out` and the backend's bytes in `buffers.backend`.
async fn exchange(
    client: &mut TcpStream,
    idle: &Idle,
    request: &[u8],
    method: &Method,
    close: bool,
    shared: &Shared,
    buffers: &mut Buffers,
    timer: &mut Pin<Box<Sleep>>,
) -> Result<(Upstream, wire::ResponseHead), Failed> {
    let mut upstream = match idle.take() {
        Some(kept) => kept,
        None => idle.connect().await.map_err(Failed::Connect)?,
    };
    loop {
        buffers.backend.clear();
        timer.as_mut().reset(tokio::time::Instant::now() + shared.settings.response_timeout);
        let sent = tokio::select! {
            sent = send(client, &mut upstream.stream, request, method, close, buffers) => sent,
            _ = &mut *timer => return Err(Failed::Timeout),
        };
        match sent {
            Ok(response) => return Ok((upstream, response)),
            Err(Failed::BeforeResponse(_)) if upstream.reused => {
                // Closed by the backend while it sat idle: a new connection, same endpoint.
                upstream = idle.connect().await.map_err(Failed::Connect)?;
            }
            Err(failed) => return Err(failed),
        }
    }
}

/// Writes `request` and reads up to the end of the response head, passing `1xx` heads on to
/// `client` (RFC 9110 §15.2: a proxy forwards them).
async fn send(
    client: &mut TcpStream,
    backend: &mut TcpStream,
    request: &[u8],
    method: &Method,
    close: bool,
    buffers: &mut Buffers,
) -> Result<wire::ResponseHead, Failed> {
    backend.write_all(request).await.map_err(Failed::BeforeResponse)?;
    let mut received = false;
    loop {
        buffers.out.clear();
        match wire::parse_response(&buffers.backend, method, close, &mut buffers.out) {
            Response::Complete(head) if head.status == 101 => {
                return Err(Failed::BadResponse("101 Switching Protocols to a request without Upgrade".into()))
            }
            Response::Complete(head) if head.status < 200 => {
                // 103 Early Hints and the like: the client gets them too, then the final head.
                buffers.backend.advance(head.len);
                if client.write_all(&buffers.out).await.is_err() {
                    return Err(Failed::BadResponse("the client left during a 1xx response".into()));
                }
                continue;
            }
            Response::Complete(head) => return Ok(head),
            Response::Invalid(why) => return Err(Failed::BadResponse(why.into())),
            Response::Partial => {}
        }
        buffers.backend.reserve(READ_SIZE);
        match backend.read_buf(&mut buffers.backend).await {
            Ok(0) if !received => {
                return Err(Failed::BeforeResponse(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before a response",
                )))
            }
            Ok(0) => return Err(Failed::BadResponse("closed within the response head".into())),
            Err(err) if !received => return Err(Failed::BeforeResponse(err)),
            Err(err) => return Err(Failed::BadResponse(err.to_string())),
            Ok(_) => received = true,
        }
    }
}

/// Passes the response on: its head (in `buffers.out`) and its body, as framed. Returns
/// whether the client's connection stays open, and what went wrong if the body was cut.
async fn relay(
    client: &mut TcpStream,
    mut upstream: Upstream,
    response: &wire::ResponseHead,
    idle: &Idle,
    close: bool,
    buffers: &mut Buffers,
) -> (bool, Option<String>) {
    buffers.backend.advance(response.len);
    let mut body = Body::new(response.framing);
    // The head and the body's first bytes go out in one write.
    let taken = body.take(&buffers.backend);
    buffers.out.extend_from_slice(&buffers.backend[..taken.unwrap_or(buffers.backend.len())]);
    let mut extra = taken.is_some_and(|n| n < buffers.backend.len());
    if client.write_all(&buffers.out).await.is_err() {
        return (false, None);
    }
    while !body.done() {
        buffers.backend.clear();
        buffers.backend.reserve(READ_SIZE);
        match upstream.stream.read_buf(&mut buffers.backend).await {
            Ok(0) if response.framing == Framing::UntilClose => break,
            Ok(0) => return (false, Some("the backend closed within the body".into())),
            Err(err) => return (false, Some(format!("reading the body: {err}"))),
            Ok(_) => {}
        }
        let taken = body.take(&buffers.backend);
        let end = taken.unwrap_or(buffers.backend.len());
        extra = taken.is_some_and(|n| n < buffers.backend.len());
        if client.write_all(&buffers.backend[..end]).await.is_err() {
            return (false, None);
        }
    }
    if body.broken {
        return (false, Some("bad chunked framing".into()));
    }
    // Bytes past the body would be a response nobody asked for: that connection is not kept.
    if response.reusable && !extra && response.framing != Framing::UntilClose {
        idle.put(upstream.stream);
    }
    (!close && response.framing != Framing::UntilClose, None)
}

/// Where a response body ends, as its bytes go by.
struct Body {
    framing: Framing,
    left: u64,
    chunked: Chunked,
    finished: bool,
    broken: bool,
}

impl Body {
    fn new(framing: Framing) -> Body {
        let left = if let Framing::Length(n) = framing { n } else { 0 };
        let finished = matches!(framing, Framing::Empty | Framing::Length(0));
        Body { framing, left, chunked: Chunked::default(), finished, broken: false }
    }

    fn done(&self) -> bool {
        self.finished || self.broken
    }

    /// How many of `bytes` belong to the body: `Some(n)` when it ends with them, `None` when
    /// all of them do and more is to come.
    fn take(&mut self, bytes: &[u8]) -> Option<usize> {
        if self.done() {
            return Some(0);
        }
        match self.framing {
            Framing::Empty => Some(0),
            Framing::Length(_) => {
                let take = self.left.min(bytes.len() as u64);
                self.left -= take;
                self.finished = self.left == 0;
                self.finished.then_some(take as usize)
            }
            Framing::Chunked => match self.chunked.feed(bytes) {
                Ok(Some(n)) => {
                    self.finished = true;
                    Some(n)
                }
                Ok(None) => None,
                Err(_) => {
                    self.broken = true;
                    Some(bytes.len())
                }
            },
            Framing::UntilClose => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_end_where_their_framing_says() {
        let mut length = Body::new(Framing::Length(5));
        assert_eq!(length.take(b"abc"), None);
        assert_eq!(length.take(b"deHTTP"), Some(2));
        assert!(length.done());
        assert!(Body::new(Framing::Empty).done());
        assert!(Body::new(Framing::Length(0)).done());
        let mut chunked = Body::new(Framing::Chunked);
        assert_eq!(chunked.take(b"2\r\nab\r\n"), None);
        assert_eq!(chunked.take(b"0\r\n\r\n"), Some(5));
        let mut broken = Body::new(Framing::Chunked);
        assert_eq!(broken.take(b"zz"), Some(2));
        assert!(broken.done() && broken.broken);
        let mut until_close = Body::new(Framing::UntilClose);
        assert_eq!(until_close.take(b"anything"), None);
        assert!(!until_close.done());
    }
}
