//! Put latency: one client, one put at a time.
//!
//! This is what a single writer waits for on each write, the cost of one durable commit with
//! nothing to share it with: for etcd a raft round through its own log plus a WAL fsync, for
//! skiff-store a group of one plus an fsync. The keys cycle through a fixed set, so the puts
//! are overwrites, as most writes of a Kubernetes control plane are (status updates).

use std::time::Instant;

use skiff_store::client::StoreClient;

use crate::error::BenchError;
use crate::plan::Plan;
use crate::stats::Percentiles;

/// Distinct keys the puts cycle through.
const KEYS: usize = 1000;

pub async fn run(endpoint: &str, plan: &Plan) -> Result<Percentiles, BenchError> {
    let mut client = StoreClient::connect(&[endpoint.to_string()]).await?;
    let value = crate::value();
    let mut samples = Vec::with_capacity(plan.sequential_puts);
    for i in 0..plan.warmup + plan.sequential_puts {
        let key = format!("bench/seq/{:04}", i % KEYS);
        let start = Instant::now();
        client.put(key, value.clone()).await?;
        if i >= plan.warmup {
            samples.push(start.elapsed());
        }
    }
    Ok(Percentiles::of(samples))
}
