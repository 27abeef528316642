//! A small HTTP/1.1 client that shows every failure: the tests want to count a reset or a 502,
//! not have a library retry it away. Bodies are framed by `Content-Length` (demo-web and the
//! Ingress router always send one).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one request may take, connect included, before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// One request: what to ask for and how.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// The `Host` header (the Ingress router routes by it).
    pub host: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn get(host: &str, path: &str) -> Request {
        Request { path: path.into(), host: host.into(), headers: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// The server said `Connection: close`: the connection is not to be used again.
    pub closes: bool,
}

/// Sends `request` on `stream` and reads the response; `close` asks the server to close the
/// connection afterwards.
pub async fn exchange(stream: &mut TcpStream, request: &Request, close: bool) -> Result<Response, String> {
    let connection = if close { "close" } else { "keep-alive" };
    let mut head = format!("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: {connection}\r\n", request.path, request.host);
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
        if read == 0 {
            return Err("closed before a response".into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no status: {head}"))?;
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .ok_or_else(|| format!("no content-length: {head}"))?;
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.map_err(|e| format!("read body: {e}"))?;
        if read == 0 {
            return Err("closed inside the body".into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).to_string();
    let closes = head.lines().any(|l| l.to_ascii_lowercase().replace(' ', "") == "connection:close");
    Ok(Response { status, body, closes })
}

/// `request` on a connection of its own, within [`TIMEOUT`].
pub async fn fetch(address: SocketAddr, request: &Request) -> Result<Response, String> {
    let exchanged = async {
        let mut stream = TcpStream::connect(address).await.map_err(|e| format!("connect to {address}: {e}"))?;
        exchange(&mut stream, request, true).await
    };
    tokio::time::timeout(TIMEOUT, exchanged).await.map_err(|_| format!("no response from {address} in {TIMEOUT:?}"))?
}

/// The body of a 200, or why not.
pub fn ok(response: Result<Response, String>) -> Result<String, String> {
    match response? {
        Response { status: 200, body, .. } => Ok(body),
        Response { status, body, .. } => Err(format!("HTTP {status}: {body}")),
    }
}
