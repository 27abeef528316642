//! A small HTTP/1.1 client: one keep-alive connection, one request at a time, and watch streams.
//!
//! Written by hand over a tokio `TcpStream` (with `httparse` reading the response head), not
//! taken from hyper, because the client shares two cores with the server it measures: every
//! microsecond it spends is one the API server does not get. A request is one `write` of a
//! buffer that is reused; a response is read into one growing buffer and its body handed out as
//! a `Bytes` slice of it, with no copy and no JSON parsing. What this costs per request is
//! measured on every run and printed under the table (`client CPU per request`).
//!
//! It speaks just the HTTP the benchmark needs from the API server: `Content-Length` bodies,
//! chunked bodies (a watch is one long chunked response, one event per line), and no
//! `Connection: close`, redirects, compression or TLS.

use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::BenchError;

/// Headers a response may carry before this client gives up on it; axum sends three or four.
const MAX_HEADERS: usize = 32;

/// Free space kept in the read buffer before each read. Small, because a fan-out run holds a
/// thousand watch connections; a large body reserves what its `Content-Length` says at once.
const READ_RESERVE: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
}

/// One keep-alive connection to the API server.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read but not consumed yet: the unread rest of a response.
    buffer: BytesMut,
    /// The request being written, kept to reuse its allocation.
    out: Vec<u8>,
    host: String,
}

impl Connection {
    /// Connects to `address` (`127.0.0.1:PORT`) with Nagle's algorithm off: a request goes out
    /// in one segment, at once.
    pub async fn open(address: &str) -> Result<Connection, BenchError> {
        let connect = |source| BenchError::Connect { address: address.to_string(), source };
        let stream = TcpStream::connect(address).await.map_err(connect)?;
        stream.set_nodelay(true).map_err(connect)?;
        Ok(Connection { stream, buffer: BytesMut::new(), out: Vec::with_capacity(4096), host: address.to_string() })
    }

    /// Sends one request and reads its whole response. `body` goes out as JSON if not empty.
    pub async fn send(&mut self, method: Method, path: &str, body: &[u8]) -> Result<Response, BenchError> {
        self.write_request(method, path, body).await?;
        let (status, framing) = self.read_head().await?;
        let body = match framing {
            Framing::Length(length) => self.read_exact(length).await?,
            Framing::Chunked => self.read_chunked().await?,
        };
        Ok(Response { status, body })
    }

    /// Like [`send`](Self::send), and fails unless the status is `want`.
    pub async fn expect(&mut self, method: Method, path: &str, body: &[u8], want: u16) -> Result<Bytes, BenchError> {
        let response = self.send(method, path, body).await?;
        if response.status != want {
            return Err(BenchError::Unexpected {
                request: format!("{} {path}", method.as_str()),
                status: response.status,
                body: String::from_utf8_lossy(&response.body).chars().take(400).collect(),
            });
        }
        Ok(response.body)
    }

    /// Starts a watch (`path` has `?watch=true`): returns once the response head is in, which
    /// the API server sends only after the watch is registered in its cache.
    pub async fn watch(mut self, path: &str) -> Result<WatchStream, BenchError> {
        self.write_request(Method::Get, path, b"").await?;
        let (status, framing) = self.read_head().await?;
        if status != 200 || framing != Framing::Chunked {
            return Err(BenchError::BadResponse(format!("watch {path}: status {status}, {framing:?} body")));
        }
        Ok(WatchStream { connection: self, lines: BytesMut::new() })
    }

    async fn write_request(&mut self, method: Method, path: &str, body: &[u8]) -> Result<(), BenchError> {
        use std::io::Write;
        self.out.clear();
        // Writes into a Vec cannot fail.
        let _ = write!(
            self.out,
            "{} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: skiff-bench/{}\r\nAccept: application/json\r\n",
            method.as_str(),
            self.host,
            env!("CARGO_PKG_VERSION"),
        );
        if !body.is_empty() {
            let _ = write!(self.out, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);
        self.stream.write_all(&self.out).await.map_err(BenchError::Io)
    }

    /// Reads more bytes into the buffer; a closed connection is an error, since every read
    /// here expects more of a response.
    async fn fill(&mut self) -> Result<(), BenchError> {
        if self.buffer.capacity() - self.buffer.len() < READ_RESERVE / 2 {
            self.buffer.reserve(READ_RESERVE);
        }
        match self.stream.read_buf(&mut self.buffer).await {
            Ok(0) => Err(BenchError::BadResponse("the API server closed the connection".into())),
            Ok(_) => Ok(()),
            Err(err) => Err(BenchError::Io(err)),
        }
    }

    async fn read_head(&mut self) -> Result<(u16, Framing), BenchError> {
        loop {
            if let Some((length, status, framing)) = parse_head(&self.buffer)? {
                self.buffer.advance(length);
                return Ok((status, framing));
            }
            self.fill().await?;
        }
    }

    async fn read_exact(&mut self, length: usize) -> Result<Bytes, BenchError> {
        if self.buffer.len() < length {
            self.buffer.reserve(length - self.buffer.len());
        }
        while self.buffer.len() < length {
            self.fill().await?;
        }
        Ok(self.buffer.split_to(length).freeze())
    }

    /// A whole chunked body (error responses may come chunked too).
    async fn read_chunked(&mut self) -> Result<Bytes, BenchError> {
        let mut body = BytesMut::new();
        loop {
            let chunk = self.next_chunk().await?;
            if chunk.is_empty() {
                return Ok(body.freeze());
            }
            body.extend_from_slice(&chunk);
        }
    }

    /// The next chunk of a chunked body; empty for the last one.
    async fn next_chunk(&mut self) -> Result<Bytes, BenchError> {
        loop {
            if let Some(chunk) = take_chunk(&mut self.buffer)? {
                return Ok(chunk);
            }
            self.fill().await?;
        }
    }
}

/// A watch's event lines, each with when it arrived.
pub struct WatchStream {
    connection: Connection,
    /// Decoded body bytes not yet ending in a newline.
    lines: BytesMut,
}

impl WatchStream {
    /// The next event line (without its newline) and when it arrived. Fails when the stream
    /// ends.
    ///
    /// The time is taken when the line is found, which is right after the read that completed
    /// it: the complete lines of earlier reads were handed out before this one was made. So it
    /// is the arrival as this client sees it, its own scheduling delay included.
    pub async fn next_line(&mut self) -> Result<(Bytes, Instant), BenchError> {
        loop {
            if let Some(end) = memchr::memchr(b'\n', &self.lines) {
                let arrived = Instant::now();
                let line = self.lines.split_to(end + 1).freeze();
                return Ok((line.slice(..end), arrived));
            }
            let chunk = self.connection.next_chunk().await?;
            if chunk.is_empty() {
                return Err(BenchError::BadResponse("the watch stream ended".into()));
            }
            self.lines.extend_from_slice(&chunk);
        }
    }
}

/// A complete response head at the start of `buffer`: its length, status and body framing.
fn parse_head(buffer: &[u8]) -> Result<Option<(usize, u16, Framing)>, BenchError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => return Err(BenchError::BadResponse(format!("unreadable response head: {err}"))),
    };
    let status = response.code.unwrap_or_default();
    let mut framing = Framing::Length(0);
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value).ok().and_then(|v| v.trim().parse().ok());
            framing = Framing::Length(value.ok_or_else(|| BenchError::BadResponse("bad Content-Length".into()))?);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") && header.value.ends_with(b"chunked") {
            framing = Framing::Chunked;
        }
    }
    Ok(Some((length, status, framing)))
}

/// Takes one complete chunk (`SIZE\r\nDATA\r\n`) off the front of `buffer`, if it is all there.
/// The last chunk (size 0) comes back empty, its closing `\r\n` consumed (no trailers are sent).
fn take_chunk(buffer: &mut BytesMut) -> Result<Option<Bytes>, BenchError> {
    let (header, size) = match httparse::parse_chunk_size(buffer) {
        Ok(httparse::Status::Complete((header, size))) => (header, size as usize),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(BenchError::BadResponse("bad chunk size".into())),
    };
    if buffer.len() < header + size + 2 {
        return Ok(None);
    }
    buffer.advance(header);
    let chunk = buffer.split_to(size).freeze();
    buffer.advance(2);
    Ok(Some(chunk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_give_their_length_status_and_framing() {
        type Head = Option<(usize, u16, Framing)>;
        let cases: [(&str, &[u8], Head); 4] = [
            (
                "a created object with a length",
                b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 1234\r\n\r\n{",
                Some((78, 201, Framing::Length(1234))),
            ),
            (
                "a watch, chunked",
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                Some((47, 200, Framing::Chunked)),
            ),
            ("a head not all read yet", b"HTTP/1.1 200 OK\r\ncontent-le", None),
            ("no body at all", b"HTTP/1.1 200 OK\r\n\r\n", Some((19, 200, Framing::Length(0)))),
        ];
        for (name, head, want) in cases {
            assert_eq!(parse_head(head).unwrap(), want, "{name}");
        }
    }

    #[test]
    fn chunks_come_whole_or_not_at_all() {
        let mut buffer = BytesMut::from(&b"5\r\nhello\r\n3\r\nwor"[..]);
        assert_eq!(take_chunk(&mut buffer).unwrap(), Some(Bytes::from_static(b"hello")));
        assert_eq!(take_chunk(&mut buffer).unwrap(), None, "the second chunk is not all there");
        buffer.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(take_chunk(&mut buffer).unwrap(), Some(Bytes::from_static(b"wor")));
        assert_eq!(take_chunk(&mut buffer).unwrap(), Some(Bytes::new()), "the last chunk is empty");
        assert!(buffer.is_empty());
    }
}
