//! Everything that can make wget fail, worded as busybox's wget words it, because scripts and
//! people reading a probe's output know those lines (`wget: server returned error: HTTP/1.1 503
//! Service Unavailable`). Every error exits with status 1, as in busybox.

use std::io;
use std::net::IpAddr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not an http url (this wget speaks http:// only): {0}")]
    NotHttp(String),
    #[error("bad URL '{0}'")]
    BadUrl(String),
    #[error("{0} not supported")]
    Unsupported(String),
    /// The name did not resolve (busybox's wording).
    #[error("bad address '{0}'")]
    BadAddress(String),
    #[error("can't connect to remote host ({ip}): {}", strerror(source))]
    Connect { ip: IpAddr, source: io::Error },
    /// A lookup, connect, read or write took longer than `-T`.
    #[error("download timed out")]
    TimedOut,
    /// A status other than 2xx (after redirects): the whole status line is shown.
    #[error("server returned error: {0}")]
    ServerError(String),
    #[error("too many redirections")]
    TooManyRedirects,
    #[error("error getting response: {0}")]
    BadResponse(String),
    /// The connection ended before the body the server announced.
    #[error("connection closed prematurely")]
    Truncated,
    #[error("error reading response: {}", strerror(.0))]
    Read(#[source] io::Error),
    #[error("can't open '{path}': {}", strerror(source))]
    Open { path: String, source: io::Error },
    #[error("error writing output: {}", strerror(.0))]
    Write(#[source] io::Error),
}

impl Error {
    /// Classifies a failure to read from the server: a socket timeout is `-T` expiring.
    pub fn reading(err: io::Error) -> Error {
        match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::TimedOut,
            io::ErrorKind::UnexpectedEof => Error::Truncated,
            _ => Error::Read(err),
        }
    }
}

/// An OS error as C's `strerror` prints it ("Connection refused"), without the " (os error
/// 111)" that Rust appends.
fn strerror(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_busybox() {
        let refused = io::Error::from_raw_os_error(111);
        let cases = [
            (Error::BadAddress("web".into()), "bad address 'web'"),
            (
                Error::Connect { ip: "172.18.0.2".parse().unwrap(), source: refused },
                "can't connect to remote host (172.18.0.2): Connection refused",
            ),
            (Error::ServerError("HTTP/1.1 404 Not Found".into()), "server returned error: HTTP/1.1 404 Not Found"),
            (Error::reading(io::ErrorKind::WouldBlock.into()), "download timed out"),
            (Error::reading(io::ErrorKind::UnexpectedEof.into()), "connection closed prematurely"),
        ];
        for (err, message) in cases {
            assert_eq!(err.to_string(), message);
        }
    }
}
