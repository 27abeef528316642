//! HTTP/1.1 on the wire, for the router's plain path ([`crate::ingress::plain`]): parsing a
//! request or response head (with `httparse`), deciding how the message's body is framed,
//! following a chunked body to its end, and writing the heads the router sends on.
//!
//! Everything here is pure: bytes in, decisions and bytes out, tested without sockets. The
//! rules are RFC 9112's: a response to `HEAD`, a `1xx`, `204` or `304` has no body; then
//! `Transfer-Encoding: chunked` frames it, then `Content-Length`, and without either the body
//! runs until the connection closes (§6.3).
//!
//! The plain path relays a chunked body as it is, byte for byte, so it only has to know where
//! the body ends: [`Chunked`] reads the chunk sizes and skips the data, it decodes nothing.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri};

use crate::ingress::forward::{self, Peer};

/// The largest head the plain path reads; anything longer goes to hyper (which answers `431`).
pub const MAX_HEAD: usize = 16 * 1024;

/// Headers read from one head at most.
const MAX_HEADERS: usize = 64;

/// A request head the plain path can serve: HTTP/1.1, an origin-form target, no body.
#[derive(Debug)]
pub struct RequestHead {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    /// The head's length in bytes: the next request starts after it.
    pub len: usize,
    /// Whether the client lets the connection stay open afterwards.
    pub keep_alive: bool,
}

/// What the first bytes of a connection's buffer hold.
#[derive(Debug)]
pub enum Request {
    /// Not a whole head yet: read more (unless the buffer is already [`MAX_HEAD`] long).
    Partial,
    /// A head the plain path serves.
    Plain(RequestHead),
    /// Anything else (a body, an upgrade, `Expect`, HTTP/1.0, an absolute URI, a malformed
    /// head): hyper serves this connection from here on, and answers errors as it does.
    Other,
}

/// Methods safe to send again on a fresh connection when a kept-alive one turns out closed
/// (RFC 9110 §9.2.2; nginx never repeats a POST, LOCK or PATCH once sent).
pub fn idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE)
}

/// Reads the request head at the start of `buf`.
pub fn parse_request(buf: &[u8]) -> Request {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Request::Partial,
        Err(_) => return Request::Other,
    };
    let (Some(method), Some(target), Some(1)) = (parsed.method, parsed.path, parsed.version) else {
        return Request::Other;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else { return Request::Other };
    // Only idempotent methods: a stale kept-alive connection is then safe to retry on.
    if !target.starts_with('/') || !idempotent(&method) || method == Method::PUT {
        return Request::Other;
    }
    let Ok(uri) = target.parse::<Uri>() else { return Request::Other };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(h.name.as_bytes()), HeaderValue::from_bytes(h.value))
        else {
            return Request::Other;
        };
        headers.append(name, value);
    }
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0");
    if has_body || headers.contains_key(header::UPGRADE) || headers.contains_key(header::EXPECT) {
        return Request::Other;
    }
    let keep_alive = !tokens(&headers, header::CONNECTION).any(|t| t.eq_ignore_ascii_case("close"));
    Request::Plain(RequestHead { method, uri, headers, len, keep_alive })
}

/// The comma-separated tokens of every `name` header.
pub fn tokens(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &str> {
    headers.get_all(name).into_iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim)
}

/// The head a backend gets: the request line with `uri`, the client's headers that
/// [`forward::passed_on`] lets through (names as `HeaderMap` keeps them, lower case), then the
/// router's own ([`forward::forwarded_headers`]).
pub fn write_request_head(out: &mut Vec<u8>, method: &Method, uri: &str, headers: &HeaderMap, peer: Peer) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(uri.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let named: Vec<&str> = tokens(headers, header::CONNECTION).collect();
    for (name, value) in headers {
        if forward::passed_on(name.as_str(), &named) {
            write_header(out, name.as_str().as_bytes(), value.as_bytes());
        }
    }
    forward::forwarded_headers(headers, peer, |name, value| write_header(out, name.as_bytes(), value));
    out.extend_from_slice(b"\r\n");
}

fn write_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// How a message's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunks, up to the last (empty) chunk and the trailers.
    Chunked,
    /// Everything until the backend closes the connection.
    UntilClose,
}

/// A backend's response head, ready to be passed on.
#[derive(Debug)]
pub struct ResponseHead {
    pub status: u16,
    pub framing: Framing,
    /// Whether the backend keeps the connection open afterwards.
    pub reusable: bool,
    /// The head's length in the backend's bytes: the body starts after it.
    pub len: usize,
}

/// What the start of a backend's bytes holds.
#[derive(Debug)]
pub enum Response {
    Partial,
    Complete(ResponseHead),
    Invalid(&'static str),
}

/// Reads the response head at the start of `buf`, for a request whose method was `method`,
/// and writes the head the client gets into `out`: the same status, every end-to-end header
/// (hop-by-hop ones and those `Connection` names are dropped, as RFC 9110 §7.6.1 says), with
/// `Transfer-Encoding: chunked` kept because the chunks are relayed as they are, and
/// `Connection: close` when the client's connection ends with this response (`close`).
pub fn parse_response(buf: &[u8], method: &Method, close: bool, out: &mut Vec<u8>) -> Response {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut slots);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Response::Partial,
        Ok(httparse::Status::Partial) => return Response::Invalid("response head too large"),
        Err(_) => return Response::Invalid("malformed response head"),
    };
    let (Some(status), Some(minor)) = (parsed.code, parsed.version) else {
        return Response::Invalid("malformed response head");
    };
    let all: &[httparse::Header<'_>] = parsed.headers;
    let header = |name: &'static str| named(all, name);
    let listed = |name: &'static str, token: &str| listed_tokens(all, name).any(|t| t.eq_ignore_ascii_case(token));
    let framing = if *method == Method::HEAD || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if header("transfer-encoding").next().is_some() {
        // chunked must be the last coding; anything else can only end with the connection.
        let last = header("transfer-encoding").last().and_then(|h| std::str::from_utf8(h.value).ok());
        let chunked = last.and_then(|v| v.rsplit(',').next()).is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(length) = header("content-length").next() {
        match std::str::from_utf8(length.value).ok().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(n) if header("content-length").all(|h| h.value == length.value) => Framing::Length(n),
            _ => return Response::Invalid("bad Content-Length"),
        }
    } else {
        Framing::UntilClose
    };
    let reusable = framing != Framing::UntilClose
        && !listed("connection", "close")
        && (minor == 1 || listed("connection", "keep-alive"));
    let close = close || framing == Framing::UntilClose;

    let named: Vec<&str> = listed_tokens(all, "connection").collect();
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", parsed.reason.unwrap_or("")).as_bytes());
    for h in all {
        let hop = HOP_BY_HOP.iter().any(|hop| h.name.eq_ignore_ascii_case(hop));
        let chunked_coding = h.name.eq_ignore_ascii_case("transfer-encoding") && framing == Framing::Chunked;
        if (hop && !chunked_coding) || named.iter().any(|n| h.name.eq_ignore_ascii_case(n)) {
            continue;
        }
        write_header(out, h.name.as_bytes(), h.value);
    }
    if close && status >= 200 {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Response::Complete(ResponseHead { status, framing, reusable, len })
}

/// The headers called `name`.
fn named<'h, 'b>(
    headers: &'h [httparse::Header<'b>],
    name: &'static str,
) -> impl Iterator<Item = &'h httparse::Header<'b>> {
    headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name))
}

/// The comma-separated tokens of the headers called `name`.
fn listed_tokens<'h>(headers: &'h [httparse::Header<'_>], name: &'static str) -> impl Iterator<Item = &'h str> {
    named(headers, name).filter_map(|h| std::str::from_utf8(h.value).ok()).flat_map(|v| v.split(',')).map(str::trim)
}

/// Headers of one hop only (RFC 9110 §7.6.1), never passed on as they are (both paths use
/// this list).
pub const HOP_BY_HOP: [&str; 7] =
    ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/// A whole response the router makes itself (a redirect, an error page), into `out`.
pub fn write_own_response(
    out: &mut Vec<u8>,
    status: http::StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    head_only: bool,
    close: bool,
) {
    let reason = status.canonical_reason().unwrap_or("");
    out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", status.as_u16()).as_bytes());
    for (name, value) in headers {
        write_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(body);
    }
}

/// Where a chunked body ends (RFC 9112 §7.1), fed the body's bytes as they arrive.
///
/// Worked example: `4\r\nWiki\r\n0\r\n\r\n` is one chunk of 4 bytes, the last chunk, no
/// trailers; fed in any pieces, [`Chunked::feed`] reports the end at the final `\n`.
#[derive(Debug, Default)]
pub struct Chunked {
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex size; `digits` so far.
    #[default]
    SizeStart,
    Size {
        size: u64,
        digits: u8,
    },
    /// After `;`: a chunk extension, up to the line's end.
    Extension {
        size: u64,
    },
    SizeLf {
        size: u64,
    },
    Data {
        left: u64,
    },
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
}

impl Chunked {
    /// Follows `bytes`; `Ok(Some(n))` when the body ends after the first `n` of them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, &'static str> {
        use ChunkState::*;
        let mut i = 0;
        while i < bytes.len() {
            if let Data { left } = self.state {
                let take = left.min((bytes.len() - i) as u64);
                i += take as usize;
                self.state = if take == left { DataCr } else { Data { left: left - take } };
                continue;
            }
            let b = bytes[i];
            i += 1;
            self.state = match (self.state, b) {
                (SizeStart, _) => match hex(b) {
                    Some(d) => Size { size: d, digits: 1 },
                    None => return Err("bad chunk size"),
                },
                (Size { size, digits }, _) if hex(b).is_some() => {
                    if digits >= 15 {
                        return Err("chunk size too large");
                    }
                    Size { size: size * 16 + hex(b).unwrap_or_default(), digits: digits + 1 }
                }
                (Size { size, .. }, b';' | b' ' | b'\t') => Extension { size },
                (Size { size, .. } | Extension { size }, b'\r') => SizeLf { size },
                (Size { .. }, _) => return Err("bad chunk size"),
                (Extension { size }, _) => Extension { size },
                (SizeLf { size: 0 }, b'\n') => TrailerStart,
                (SizeLf { size }, b'\n') => Data { left: size },
                (DataCr, b'\r') => DataLf,
                (DataLf, b'\n') => SizeStart,
                (TrailerStart, b'\r') => EndLf,
                (Trailer, b'\r') => TrailerLf,
                (TrailerStart | Trailer, _) => Trailer,
                (TrailerLf, b'\n') => TrailerStart,
                (EndLf, b'\n') => {
                    self.state = Done;
                    return Ok(Some(i));
                }
                (Done, _) => return Ok(Some(i - 1)),
                _ => return Err("bad chunk framing"),
            };
        }
        Ok((self.state == Done).then_some(bytes.len()))
    }
}

fn hex(b: u8) -> Option<u64> {
    (b as char).to_digit(16).map(u64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> RequestHead {
        match parse_request(text.as_bytes()) {
            Request::Plain(head) => head,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn which_requests_the_plain_path_takes() {
        let text = "GET /version?x=1 HTTP/1.1\r\nHost: shop.test\r\nAccept: */*\r\n\r\nGET /next";
        let head = plain(text);
        assert_eq!((head.method.as_str(), head.uri.path(), head.uri.query()), ("GET", "/version", Some("x=1")));
        assert_eq!(head.len, text.find("GET /next").unwrap(), "the next request starts after the head");
        assert!(head.keep_alive);
        assert_eq!(head.headers["host"], "shop.test");
        assert!(!plain("HEAD / HTTP/1.1\r\nConnection: Close\r\n\r\n").keep_alive);
        assert!(matches!(parse_request(b"GET / HTTP/1.1\r\nHost: a"), Request::Partial));
        let others = [
            ("a body", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"),
            ("chunked", "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ("an upgrade", "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
            ("expect", "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"),
            ("HTTP/1.0", "GET / HTTP/1.0\r\n\r\n"),
            ("absolute-form", "GET http://a/ HTTP/1.1\r\n\r\n"),
            ("not idempotent", "POST / HTTP/1.1\r\n\r\n"),
            ("malformed", "GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
        ];
        for (case, text) in others {
            assert!(matches!(parse_request(text.as_bytes()), Request::Other), "{case}");
        }
    }

    fn response(text: &str, method: Method, close: bool) -> (ResponseHead, String) {
        let mut out = Vec::new();
        match parse_response(text.as_bytes(), &method, close, &mut out) {
            Response::Complete(head) => (head, String::from_utf8(out).unwrap()),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn response_framing_follows_rfc_9112() {
        let cases = [
            ("length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", Method::GET, Framing::Length(3), true),
            ("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::GET, Framing::Chunked, true),
            (
                "gzip then chunked",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                Method::GET,
                Framing::Chunked,
                true,
            ),
            ("until close", "HTTP/1.1 200 OK\r\n\r\n", Method::GET, Framing::UntilClose, false),
            ("head", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", Method::HEAD, Framing::Empty, true),
            ("204", "HTTP/1.1 204 No Content\r\n\r\n", Method::GET, Framing::Empty, true),
            ("304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", Method::GET, Framing::Empty, true),
            (
                "close",
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                Method::GET,
                Framing::Length(0),
                false,
            ),
            ("1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", Method::GET, Framing::Length(0), false),
            (
                "1.0 keep-alive",
                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
                Method::GET,
                Framing::Length(0),
                true,
            ),
        ];
        for (case, text, method, framing, reusable) in cases {
            let (head, _) = response(text, method, false);
            assert_eq!((head.framing, head.reusable), (framing, reusable), "{case}");
            assert_eq!(head.len, text.len(), "{case}");
        }
        let mut out = Vec::new();
        let bad = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            &Method::GET,
            false,
            &mut out,
        );
        assert!(matches!(bad, Response::Invalid(_)), "two lengths");
        assert!(matches!(parse_response(b"HTTP/1.1 200 OK\r\n", &Method::GET, false, &mut out), Response::Partial));
    }

    #[test]
    fn the_client_gets_the_end_to_end_headers_only() {
        let text = "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\n\
                    Transfer-Encoding: chunked\r\nX-Version: v2\r\n\r\n";
        let (_, out) = response(text, Method::GET, false);
        assert_eq!(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Version: v2\r\n\r\n");
        let (_, closing) = response("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", Method::GET, true);
        assert_eq!(closing, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nconnection: close\r\n\r\n");
        let (_, until_close) = response("HTTP/1.0 200 OK\r\n\r\n", Method::GET, false);
        assert!(
            until_close.ends_with("connection: close\r\n\r\n"),
            "a body that ends with the connection ends the client's too"
        );
    }

    #[test]
    fn chunked_bodies_end_after_the_last_chunk_and_trailers() {
        let cases: [(&str, &[u8]); 4] = [
            ("one chunk", b"4\r\nWiki\r\n0\r\n\r\n"),
            ("extension and upper-case hex", b"A;name=v\r\n0123456789\r\n0\r\n\r\n"),
            ("trailers", b"3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\n"),
            ("several chunks", b"1\r\na\r\n2\r\nbc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"),
        ];
        for (case, body) in cases {
            assert_eq!(Chunked::default().feed(body), Ok(Some(body.len())), "{case} at once");
            // Byte by byte: the end is reported exactly at the last byte.
            let mut chunked = Chunked::default();
            for (i, b) in body.iter().enumerate() {
                let end = chunked.feed(std::slice::from_ref(b)).unwrap();
                assert_eq!(end.is_some(), i == body.len() - 1, "{case} byte {i}");
            }
        }
        let mut chunked = Chunked::default();
        assert_eq!(chunked.feed(b"4\r\nWi"), Ok(None));
        assert_eq!(chunked.feed(b"ki\r\n0\r\n\r\nHTTP/1.1"), Ok(Some(9)), "what follows the body is not part of it");
        assert!(Chunked::default().feed(b"zz\r\n").is_err());
        assert!(Chunked::default().feed(b"4\r\nWikiX").is_err());
    }

    #[test]
    fn the_backends_head_and_the_routers_own_answers() {
        let incoming = plain(
            "GET /v HTTP/1.1\r\nHost: shop.test\r\nConnection: keep-alive, x-secret\r\nX-Secret: hop\r\n\
             X-Forwarded-For: 203.0.113.1\r\nX-Request-ID: r-1\r\nAccept: */*\r\n\r\n",
        );
        let peer = Peer { client: "192.0.2.7:51000".parse().unwrap(), local_port: 8080 };
        let mut out = Vec::new();
        write_request_head(&mut out, &Method::GET, "/v?x=1", &incoming.headers, peer);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "GET /v?x=1 HTTP/1.1\r\nhost: shop.test\r\nx-request-id: r-1\r\naccept: */*\r\n\
             x-real-ip: 192.0.2.7\r\nx-forwarded-for: 192.0.2.7\r\nx-forwarded-host: shop.test\r\n\
             x-forwarded-port: 8080\r\nx-forwarded-proto: http\r\nx-forwarded-scheme: http\r\nx-scheme: http\r\n\r\n",
            "hop-by-hop and claimed forwarding headers dropped, the router's set"
        );
        // The same headers as the hyper path sends (forward::upstream_headers).
        let hyper_side = forward::upstream_headers(&incoming.headers, peer, false);
        for (name, value) in &hyper_side {
            assert!(text.contains(&format!("{name}: {}\r\n", value.to_str().unwrap())), "{name} differs");
        }
        assert_eq!(hyper_side.len(), text.lines().count() - 2, "nothing more on either path");
        let mut fresh = Vec::new();
        write_request_head(&mut fresh, &Method::GET, "/", &HeaderMap::new(), peer);
        let id = String::from_utf8(fresh).unwrap();
        let id = id.lines().find_map(|l| l.strip_prefix("x-request-id: ")).unwrap().to_string();
        assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        let mut page = Vec::new();
        write_own_response(&mut page, http::StatusCode::NOT_FOUND, &HeaderMap::new(), b"gone", false, true);
        assert_eq!(page, b"HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\nconnection: close\r\n\r\ngone");
        let mut head_only = Vec::new();
        write_own_response(&mut head_only, http::StatusCode::NOT_FOUND, &HeaderMap::new(), b"gone", true, false);
        assert!(head_only.ends_with(b"content-length: 4\r\n\r\n"));
    }
}
