//! The plain path's kept-alive connections to one endpoint: nginx's upstream `keepalive`
//! cache, a stack of idle sockets.
//!
//! A request takes the most recently returned connection (the one least likely to have been
//! closed by the backend meanwhile) or opens a new one; a connection whose response was read
//! to its end comes back; one idle longer than the idle timeout is closed instead of handed
//! out. There is no reaper task: an idle connection is closed when it is next looked at, when
//! the pool is full, or when its endpoint leaves the table (the pool goes with the snapshot).
//!
//! A kept connection may still have been closed by the backend a moment ago; the plain path
//! notices when the request finds nothing to read and sends it again on a new connection
//! ([`crate::ingress::plain`]), as hyper-util's pool does for its connections.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::net::TcpStream;

use crate::ingress::forward::Settings;

/// Idle connections to one endpoint.
pub struct Idle {
    endpoint: SocketAddr,
    /// Newest at the back. A parking_lot mutex: held only to push or pop, never across an await.
    connections: Mutex<VecDeque<(TcpStream, Instant)>>,
    max: usize,
    timeout: Duration,
    connect_timeout: Duration,
}

/// A connection to the endpoint, and whether it was kept from an earlier request.
pub struct Upstream {
    pub stream: TcpStream,
    pub reused: bool,
}

impl Idle {
    pub fn new(endpoint: SocketAddr, settings: &Settings) -> Idle {
        Idle {
            endpoint,
            connections: Mutex::new(VecDeque::new()),
            max: settings.max_idle_per_endpoint,
            timeout: settings.idle_timeout,
            connect_timeout: settings.connect_timeout,
        }
    }

    /// A kept connection if one is fresh enough, else none.
    pub fn take(&self) -> Option<Upstream> {
        let mut connections = self.connections.lock();
        while let Some((stream, since)) = connections.pop_back() {
            if since.elapsed() < self.timeout {
                return Some(Upstream { stream, reused: true });
            }
            // The newest is too old, so all are.
            connections.clear();
        }
        None
    }

    /// A new connection, within the connect timeout (an `io::ErrorKind::TimedOut` error after it).
    pub async fn connect(&self) -> io::Result<Upstream> {
        let connecting = TcpStream::connect(self.endpoint);
        let stream = match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(connected) => connected?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
        };
        stream.set_nodelay(true)?;
        Ok(Upstream { stream, reused: false })
    }

    /// Keeps `stream` for the next request, unless the pool is full.
    pub fn put(&self, stream: TcpStream) {
        let mut connections = self.connections.lock();
        if connections.front().is_some_and(|(_, since)| since.elapsed() >= self.timeout) {
            connections.retain(|(_, since)| since.elapsed() < self.timeout);
        }
        if connections.len() < self.max {
            connections.push_back((stream, Instant::now()));
        }
    }

    pub fn len(&self) -> usize {
        self.connections.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_come_back_newest_first_and_age_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = listener.local_addr().unwrap();
        let settings =
            Settings { max_idle_per_endpoint: 2, idle_timeout: Duration::from_millis(200), ..Settings::default() };
        let idle = Idle::new(endpoint, &settings);
        assert!(idle.take().is_none());
        let mut opened = Vec::new();
        for _ in 0..3 {
            let upstream = idle.connect().await.unwrap();
            assert!(!upstream.reused);
            opened.push(upstream.stream);
        }
        let ports: Vec<u16> = opened.iter().map(|s| s.local_addr().unwrap().port()).collect();
        for stream in opened {
            idle.put(stream);
        }
        assert_eq!(idle.len(), 2, "the third found the pool full");
        let newest = idle.take().unwrap();
        assert!(newest.reused);
        assert_eq!(newest.stream.local_addr().unwrap().port(), ports[1]);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(idle.take().is_none(), "idle past the timeout");
        assert!(idle.is_empty());
    }
}
