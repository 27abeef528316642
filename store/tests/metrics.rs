//! `--metrics-listen` serves Prometheus text with request counts, revision, watchers.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{free_port, ok, StoreProcess};

fn scrape(address: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn metrics_count_requests_and_show_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let store = StoreProcess::start(&dir.path().join("data"), &["--metrics-listen", &metrics]);
    ok(&store.endpoint, &["put", "a", "1"]);
    ok(&store.endpoint, &["put", "b", "2"]);
    ok(&store.endpoint, &["get", "a"]);

    let text = scrape(&metrics);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for line in [
        "skiff_store_requests_total{code=\"OK\",method=\"Put\"} 2",
        "skiff_store_requests_total{code=\"OK\",method=\"Range\"} 1",
        "skiff_store_revision 3",
        "skiff_store_index_keys 2",
        "skiff_store_watchers{state=\"synced\"} 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    for name in [
        "skiff_store_request_duration_seconds_bucket",
        "skiff_store_sync_duration_seconds_count",
        "skiff_store_db_size_bytes",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
}
