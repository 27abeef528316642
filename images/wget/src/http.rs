//! One HTTP/1.1 exchange: connect (with the timeout), write the request, read the response
//! head, and frame the body by `Content-Length`, chunked encoding or the end of the connection.
//!
//! Every request says `Connection: close`: wget makes one request per connection, so the end
//! of the connection is always a valid end of the body and nothing is kept alive.

use crate::chunked::ChunkedReader;
use crate::error::Error;
use crate::url::Url;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

/// What to send.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub user_agent: &'a str,
    /// Extra headers; one named like a default header (`Host`, `User-Agent`) replaces it.
    pub headers: &'a [(String, String)],
    pub body: Option<&'a [u8]>,
}

/// A response's status line and header fields.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// The whole first line, e.g. `HTTP/1.1 404 Not Found`, for error messages.
    pub status_line: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first field named `name` (case-insensitive, as HTTP field names are).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(field, _)| field.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// Resolves `url`'s host and connects to the first address that answers. The lookup runs on a
/// thread of its own only so that `-T` bounds it too (the C resolver has its own, longer,
/// timeouts); connect, read and write are bounded by socket timeouts.
pub fn connect(url: &Url, timeout: Duration) -> Result<(TcpStream, SocketAddr), Error> {
    let mut last_failure = None;
    for addr in resolve(&url.host, url.port, timeout)? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_read_timeout(Some(timeout)).map_err(Error::Read)?;
                stream.set_write_timeout(Some(timeout)).map_err(Error::Read)?;
                return Ok((stream, addr));
            }
            Err(err) => last_failure = Some((addr, err)),
        }
    }
    match last_failure {
        Some((_, err)) if err.kind() == io::ErrorKind::TimedOut => Err(Error::TimedOut),
        Some((addr, err)) => Err(Error::Connect { ip: addr.ip(), source: err }),
        None => Err(Error::BadAddress(url.host.clone())),
    }
}

fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (sender, receiver) = mpsc::channel();
    let name = host.to_string();
    std::thread::spawn(move || {
        let _ = sender.send((name.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>));
    });
    match receiver.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(_) => Err(Error::BadAddress(host.to_string())),
        Err(_) => Err(Error::TimedOut),
    }
}

/// Writes the request head, then the body if there is one.
pub fn write_request(out: &mut impl Write, request: &Request) -> io::Result<()> {
    let overridden = |name: &str| request.headers.iter().any(|(field, _)| field.eq_ignore_ascii_case(name));
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.url.target);
    if !overridden("Host") {
        head += &format!("Host: {}\r\n", request.url.host_header());
    }
    if !overridden("User-Agent") {
        head += &format!("User-Agent: {}\r\n", request.user_agent);
    }
    head += "Accept: */*\r\nConnection: close\r\n";
    for (name, value) in request.headers {
        head += &format!("{name}: {value}\r\n");
    }
    if let Some(body) = request.body {
        if !overridden("Content-Type") {
            head += "Content-Type: application/x-www-form-urlencoded\r\n";
        }
        head += &format!("Content-Length: {}\r\n", body.len());
    }
    head += "\r\n";
    out.write_all(head.as_bytes())?;
    if let Some(body) = request.body {
        out.write_all(body)?;
    }
    out.flush()
}

/// Reads the status line and header fields, skipping interim `1xx` responses.
pub fn read_head(input: &mut impl BufRead) -> Result<Head, Error> {
    loop {
        let status_line = read_line(input)?.ok_or_else(|| Error::BadResponse("connection closed".into()))?;
        let status = parse_status(&status_line).ok_or_else(|| Error::BadResponse(status_line.clone()))?;
        let mut headers = Vec::new();
        loop {
            let line = read_line(input)?.ok_or(Error::Truncated)?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or_else(|| Error::BadResponse(line.clone()))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        if !(100..200).contains(&status) {
            return Ok(Head { status, status_line, headers });
        }
    }
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status(line: &str) -> Option<u16> {
    let mut words = line.split(' ');
    let version = words.next()?;
    let status = words.next()?;
    (version.starts_with("HTTP/1.") && status.len() == 3).then(|| status.parse().ok()).flatten()
}

/// One line without its CRLF; `None` at the end of the stream.
fn read_line(input: &mut impl BufRead) -> Result<Option<String>, Error> {
    let mut line = Vec::new();
    if input.read_until(b'\n', &mut line).map_err(Error::reading)? == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(Error::Truncated);
    }
    while line.last().is_some_and(|byte| *byte == b'\n' || *byte == b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// A response body, framed as its head says.
pub enum Body<R> {
    /// No body: a response to HEAD, or a 204 or 304.
    Empty,
    /// `Content-Length`: exactly this many bytes remain; fewer is an error, not a short file.
    Length(R, u64),
    Chunked(ChunkedReader<R>),
    /// Neither: the body ends with the connection.
    UntilClose(R),
}

impl<R: BufRead> Body<R> {
    pub fn new(input: R, head: &Head, method: &str) -> Result<Body<R>, Error> {
        if method == "HEAD" || head.status == 204 || head.status == 304 {
            return Ok(Body::Empty);
        }
        if head.header("Transfer-Encoding").is_some_and(|coding| coding.to_ascii_lowercase().contains("chunked")) {
            return Ok(Body::Chunked(ChunkedReader::new(input)));
        }
        match head.header("Content-Length") {
            Some(length) => match length.parse() {
                Ok(length) => Ok(Body::Length(input, length)),
                Err(_) => Err(Error::BadResponse(format!("Content-Length: {length}"))),
            },
            None => Ok(Body::UntilClose(input)),
        }
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Empty | Body::Length(_, 0) => Ok(0),
            Body::Length(input, left) => {
                let wanted = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = input.read(&mut buf[..wanted])?;
                if n == 0 && wanted > 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                Ok(n)
            }
            Body::Chunked(chunks) => chunks.read(buf),
            Body::UntilClose(input) => input.read(buf),
        }
    }
}

/// Sends `request` on `stream` and returns the response head and its body.
pub fn exchange<S: Read + Write>(mut stream: S, request: &Request) -> Result<(Head, Body<BufReader<S>>), Error> {
    write_request(&mut stream, request).map_err(Error::reading)?;
    let mut input = BufReader::new(stream);
    let head = read_head(&mut input)?;
    let body = Body::new(input, &head, request.method)?;
    Ok((head, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn written(request: &Request) -> String {
        let mut out = Vec::new();
        write_request(&mut out, request).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_get_names_the_host_and_closes_the_connection() {
        let url = url("http://web:8080/version");
        let request = Request { method: "GET", url: &url, user_agent: "Wget", headers: &[], body: None };
        assert_eq!(
            written(&request),
            "GET /version HTTP/1.1\r\nHost: web:8080\r\nUser-Agent: Wget\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn a_post_carries_its_body_and_extra_headers_replace_defaults() {
        let url = url("http://ingress/fail/ready");
        let headers = [("Host".to_string(), "shop.example".to_string())];
        let request = Request { method: "POST", url: &url, user_agent: "Wget", headers: &headers, body: Some(b"a=1") };
        assert_eq!(
            written(&request),
            "POST /fail/ready HTTP/1.1\r\nUser-Agent: Wget\r\nAccept: */*\r\nConnection: close\r\n\
             Host: shop.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=1"
        );
    }

    fn response(wire: &str, method: &str) -> Result<(Head, String), Error> {
        let mut input = wire.as_bytes();
        let head = read_head(&mut input)?;
        let mut body = String::new();
        Body::new(input, &head, method)?.read_to_string(&mut body).map_err(Error::reading)?;
        Ok((head, body))
    }

    #[test]
    fn bodies_are_framed_by_length_chunks_or_the_end_of_the_connection() {
        let cases = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv1", "GET", "v1"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv1 and more", "GET", "v1"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nv2\r\n0\r\n\r\n", "GET", "v2"),
            ("HTTP/1.0 200 OK\r\n\r\nuntil the end", "GET", "until the end"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "HEAD", ""),
            ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", "GET", ""),
        ];
        for (wire, method, expected) in cases {
            let (_, body) = response(wire, method).unwrap();
            assert_eq!(body, expected, "{wire:?}");
        }
    }

    #[test]
    fn the_head_keeps_the_status_line_and_fields() {
        let (head, _) = response(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n",
            "GET",
        )
        .unwrap();
        assert_eq!(head.status, 503);
        assert_eq!(head.status_line, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(head.header("content-type"), Some("text/plain"));
    }

    #[test]
    fn broken_responses_are_errors() {
        assert!(matches!(response("", "GET"), Err(Error::BadResponse(_))));
        assert!(matches!(response("SSH-2.0-OpenSSH\r\n\r\n", "GET"), Err(Error::BadResponse(_))));
        assert!(matches!(response("HTTP/1.1 200 OK\r\nContent-Len", "GET"), Err(Error::Truncated)));
        assert!(matches!(response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "GET"), Err(Error::Truncated)));
    }
}
