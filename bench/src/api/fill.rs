//! Storing many pods through REST, and what the API server's memory is with them.
//!
//! The API server keeps every pod in its watch cache (`apiserver/src/watch_cache.rs`), as JSON
//! bytes plus labels and selectable fields, and the last 10,000 changes of each kind as history
//! (which shares those objects). So its memory grows with the pods stored, and a cluster's size
//! is bounded by it. Here 16 clients create the pods in `bench-fill` as fast as they can; once
//! the watch cache holds all of them (its size is on `/metrics`), the API server's `VmRSS` is
//! read (`memory.rs`).
//!
//! The fill's time is a figure too: how long it takes to load a cluster's worth of pods, a burst
//! of creates on a store growing from empty.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::http::{Connection, Method};
use super::pod::Pod;
use super::requests::{create_namespace, pods_path};
use crate::error::BenchError;

pub const FILL_NAMESPACE: &str = "bench-fill";

/// How long the watch cache may take to hold every pod after the last create answered; it
/// usually lags by a millisecond.
const CACHE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub pods: usize,
    /// From the first create sent to the last one answered.
    pub took: Duration,
    /// The API server's `VmRSS` once its cache holds them, in bytes.
    pub resident: Option<u64>,
}

/// Creates `pods` pods with `clients` clients, waits for the cache, reads the memory.
pub async fn run(
    address: &str,
    apiserver_pid: u32,
    pod: &Arc<Pod>,
    pods: usize,
    clients: usize,
) -> Result<Stored, BenchError> {
    let mut connection = Connection::open(address).await?;
    create_namespace(&mut connection, FILL_NAMESPACE).await?;
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(Connection::open(address).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for (id, connection) in connections.into_iter().enumerate() {
        // Client `id` creates pods id, id + clients, id + 2 × clients, …
        let names: Vec<String> = (id..pods).step_by(clients).map(|i| format!("stored-{i:05}")).collect();
        tasks.push(tokio::spawn(create_all(connection, pod.clone(), names)));
    }
    for task in tasks {
        task.await??;
    }
    let took = started.elapsed();
    wait_for_cache(&mut connection, pods).await?;
    Ok(Stored { pods, took, resident: crate::memory::resident(apiserver_pid) })
}

async fn create_all(mut connection: Connection, pod: Arc<Pod>, names: Vec<String>) -> Result<(), BenchError> {
    let path = pods_path(FILL_NAMESPACE);
    for name in names {
        connection.expect(Method::Post, &path, &pod.create(&name), 201).await?;
    }
    Ok(())
}

/// Polls `/metrics` until the pods' watch cache holds at least `pods` objects.
async fn wait_for_cache(connection: &mut Connection, pods: usize) -> Result<(), BenchError> {
    let deadline = Instant::now() + CACHE_TIMEOUT;
    loop {
        let metrics = connection.expect(Method::Get, "/metrics", b"", 200).await?;
        let held = cached_pods(&String::from_utf8_lossy(&metrics));
        if held.is_some_and(|held| held >= pods) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BenchError::BadResponse(format!("the watch cache holds {held:?} pods, not {pods}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of `apiserver_watch_cache_size{resource="pods"}` in Prometheus' text format.
fn cached_pods(metrics: &str) -> Option<usize> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(r#"apiserver_watch_cache_size{resource="pods"} "#)?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pods_cache_size_is_read_from_metrics() {
        let metrics = "# HELP apiserver_watch_cache_size objects\n\
                       apiserver_watch_cache_size{resource=\"nodes\"} 3\n\
                       apiserver_watch_cache_size{resource=\"pods\"} 10116\n";
        assert_eq!(cached_pods(metrics), Some(10116));
        assert_eq!(cached_pods("apiserver_registered_watchers 0\n"), None);
    }
}
