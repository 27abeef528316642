//! Where a unary round trip goes: times one request at a time against a running store, next to
//! a bare loopback TCP ping-pong of the same size, so the two can be told apart.
//!
//! ```sh
//! target/release/examples/rtt 127.0.0.1:2379 [count]
//! ```
//!
//! Prints p50 and p99 of: a plain TCP ping-pong (blocking threads, then Tokio tasks on a
//! current-thread runtime, 1 KiB each way), a gRPC Range of one missing key, and a gRPC Put of a
//! 1 KiB value (this one writes `rtt/probe` to the store).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use skiff_store::client::StoreClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAYLOAD: usize = 1024;

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    format!("p50 {:>7.1} µs  p99 {:>7.1} µs", at(0.5).as_secs_f64() * 1e6, at(0.99).as_secs_f64() * 1e6)
}

/// Blocking threads on both sides: the kernel's loopback path and one wake-up per side.
fn tcp_threads(count: usize) -> Vec<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let echo = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_nodelay(true).expect("nodelay");
        let mut buf = [0u8; PAYLOAD];
        while conn.read_exact(&mut buf).is_ok() {
            if conn.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut conn = TcpStream::connect(address).expect("connect");
    conn.set_nodelay(true).expect("nodelay");
    let mut buf = [7u8; PAYLOAD];
    let samples = (0..count)
        .map(|_| {
            let start = Instant::now();
            conn.write_all(&buf).expect("write");
            conn.read_exact(&mut buf).expect("read");
            start.elapsed()
        })
        .collect();
    drop(conn);
    echo.join().expect("echo thread");
    samples
}

/// The same through Tokio: adds epoll and the runtime's scheduling, not h2.
async fn tcp_tokio(count: usize) -> Vec<Duration> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("accept");
        conn.set_nodelay(true).expect("nodelay");
        let mut buf = [0u8; PAYLOAD];
        while conn.read_exact(&mut buf).await.is_ok() {
            if conn.write_all(&buf).await.is_err() {
                break;
            }
        }
    });
    let mut conn = tokio::net::TcpStream::connect(address).await.expect("connect");
    conn.set_nodelay(true).expect("nodelay");
    let mut buf = [7u8; PAYLOAD];
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        conn.write_all(&buf).await.expect("write");
        conn.read_exact(&mut buf).await.expect("read");
        samples.push(start.elapsed());
    }
    samples
}

async fn grpc(endpoint: &str, count: usize) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let mut client = StoreClient::connect(&[endpoint.to_string()]).await?;
    let value = vec![b'v'; PAYLOAD];
    for _ in 0..200 {
        client.get("rtt/missing").await?;
    }
    let mut gets = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        client.get("rtt/missing").await?;
        gets.push(start.elapsed());
    }
    let mut puts = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        client.put("rtt/probe", value.clone()).await?;
        puts.push(start.elapsed());
    }
    Ok((gets, puts))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:2379".into());
    let count: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(2000);
    println!("tcp ping-pong, threads     {}", percentiles(tcp_threads(count)));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    println!("tcp ping-pong, tokio       {}", percentiles(runtime.block_on(tcp_tokio(count))));
    // The benchmark's client runs on a multi-thread runtime; so does this one.
    let runtime = tokio::runtime::Runtime::new()?;
    let (gets, puts) = runtime.block_on(grpc(&endpoint, count))?;
    println!("grpc range (missing key)   {}", percentiles(gets));
    println!("grpc put (1 KiB)           {}", percentiles(puts));
    Ok(())
}
