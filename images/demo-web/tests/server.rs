//! The real server on a loopback port, in process: keep-alive and graceful shutdown, which the
//! route tests cannot see. Requests are written by hand so that the test controls exactly when
//! each byte goes over which connection.

use skiff_demo_web::{app::App, config::Config, server};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

struct Running {
    addr: std::net::SocketAddr,
    stop: Arc<Notify>,
    server: tokio::task::JoinHandle<()>,
}

async fn start() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Arc::new(App::new(&Config::default(), "web-test".into()));
    let stop = Arc::new(Notify::new());
    let stopped = stop.clone();
    let server = tokio::spawn(server::serve(listener, app, async move { stopped.notified().await }));
    Running { addr, stop, server }
}

/// Reads one response with a `Content-Length` body; returns its head and body.
async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut bytes = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a full response: {:?}", String::from_utf8_lossy(&bytes));
        bytes.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_string();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                })
                .expect("a content-length");
            if text.len() >= end + 4 + length {
                return (head, text[end + 4..end + 4 + length].to_string());
            }
        }
    }
}

#[tokio::test]
async fn one_connection_carries_several_requests() {
    let running = start().await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    for path in ["/version", "/hostname", "/healthz"] {
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).await.unwrap();
        let (head, body) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{path}: {head}");
        assert!(!head.to_ascii_lowercase().contains("connection: close"), "{path}: {head}");
        let expected = match path {
            "/version" => skiff_demo_web::VERSION,
            "/hostname" => "web-test",
            _ => "ok",
        };
        assert_eq!(body, expected);
    }
    running.stop.notify_one();
    running.server.await.unwrap();
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_and_refuses_new_connections() {
    let running = start().await;
    let mut idle = TcpStream::connect(running.addr).await.unwrap();
    idle.write_all(b"GET /version HTTP/1.1\r\nHost: test\r\n\r\n").await.unwrap();
    read_response(&mut idle).await;

    let mut slow = TcpStream::connect(running.addr).await.unwrap();
    slow.write_all(b"GET /sleep/0.5 HTTP/1.1\r\nHost: test\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.stop.notify_one();

    let (head, body) = read_response(&mut slow).await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.to_ascii_lowercase().contains("connection: close"), "{head}");
    assert_eq!(body, "slept 0.5s\n");

    // The idle keep-alive connection was closed rather than waited for.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(2), idle.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "the idle connection stayed open: {closed:?}");

    tokio::time::timeout(Duration::from_secs(2), running.server).await.expect("serve returned").unwrap();
    assert!(TcpStream::connect(running.addr).await.is_err(), "still accepting after shutdown");
}

/// Connections a client opened just before the SIGTERM, which the kernel had accepted but the
/// server had not got to (a process not scheduled for a moment): what a proxy sent here in the
/// instant before it took the pod out of rotation. Closing the listener would reset them.
#[tokio::test]
async fn connections_queued_when_the_shutdown_comes_are_answered_not_reset() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..5 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /version HTTP/1.1\r\nHost: test\r\n\r\n").await.unwrap();
        queued.push(stream);
    }
    let app = Arc::new(App::new(&Config::default(), "web-test".into()));
    // The shutdown has come before the server runs at all.
    let server = tokio::spawn(server::serve(listener, app, std::future::ready(())));
    for stream in &mut queued {
        let (head, body) = read_response(stream).await;
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(head.to_ascii_lowercase().contains("connection: close"), "{head}");
        assert_eq!(body, skiff_demo_web::VERSION);
    }
    tokio::time::timeout(Duration::from_secs(2), server).await.expect("serve returned").unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
}

/// A connection accepted before the shutdown whose first request arrives after it began (it
/// was on its way): it is answered; hyper alone would close it as idle, having read nothing.
#[tokio::test]
async fn a_connection_whose_first_request_comes_after_the_shutdown_began_is_answered() {
    let running = start().await;
    let mut late = TcpStream::connect(running.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.stop.notify_one();
    tokio::time::sleep(Duration::from_millis(100)).await;
    late.write_all(b"GET /hostname HTTP/1.1\r\nHost: test\r\n\r\n").await.unwrap();
    let (head, body) = read_response(&mut late).await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.to_ascii_lowercase().contains("connection: close"), "{head}");
    assert_eq!(body, "web-test");
    tokio::time::timeout(Duration::from_secs(2), running.server).await.expect("serve returned").unwrap();
}

/// `printf 'GET / HTTP/1.0\r\n\r\n' | nc web 8080` sends the request, then shuts its sending
/// side down while it waits: the answer must still come, as from any web server. The handler
/// here takes 200 ms, so the end of the request is seen long before the answer is ready.
#[tokio::test]
async fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
    let running = start().await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream.write_all(b"GET /sleep/0.2 HTTP/1.0\r\n\r\n").await.unwrap();
    stream.shutdown().await.unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.0 200 OK"), "{head}");
    assert_eq!(body, "slept 0.2s\n");
    running.stop.notify_one();
    running.server.await.unwrap();
}
