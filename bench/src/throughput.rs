//! Throughput: many clients, each with its own connection and one request in flight, for a
//! fixed time.
//!
//! This is the load of a control plane: several API servers and controllers writing and
//! reading at once. For puts it shows how well a store shares one fsync among concurrent
//! writers (etcd batches raft entries; skiff-store commits in groups). For gets, a linearizable
//! Range of one key, it shows the cost of the read path: etcd confirms its leadership through
//! raft before each batch of reads (ReadIndex); a single store has no one to ask.
//!
//! The clients connect and warm up first, then start together at a barrier, so connection
//! set-up is not timed. The server's CPU time is read around the whole run (`cpu.rs`): with
//! the client on the same two cores, CPU per operation is what bounds the throughput.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use skiff_store::client::StoreClient;
use tokio::sync::Barrier;

use crate::cpu;
use crate::error::BenchError;
use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Overwrites of the client's own keys.
    Put,
    /// Linearizable Range of one key that every client reads.
    Get,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
        }
    }
}

/// Keys each writer cycles through; the readers all read the first key of client 0.
const KEYS_PER_CLIENT: usize = 100;

/// What a throughput run found.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Operations per second, all clients together.
    pub per_second: f64,
    /// The server's CPU time (user + system) per operation, if `/proc` could tell.
    pub server_cpu_per_op: Option<Duration>,
    /// This benchmark's own CPU time per operation: what the client takes from the same cores.
    pub client_cpu_per_op: Option<Duration>,
}

/// What one client did between the barrier and its deadline (also the API benchmark's).
pub(crate) struct ClientRun {
    pub(crate) ops: u64,
    pub(crate) started: Instant,
    pub(crate) finished: Instant,
}

/// Runs `op` against the server at `endpoint`, whose process is `server_pid`.
pub async fn run(endpoint: &str, server_pid: u32, plan: &Plan, op: Op) -> Result<Throughput, BenchError> {
    let mut clients = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        clients.push(StoreClient::connect(&[endpoint.to_string()]).await?);
    }
    let read_key = keys(0).swap_remove(0);
    if op == Op::Get {
        clients[0].put(read_key.clone(), crate::value()).await?;
    }
    let warmup = (plan.warmup / plan.clients).max(10);
    let client_pid = std::process::id();
    let cpu_before = (cpu::process_time(server_pid), cpu::process_time(client_pid));
    let barrier = Arc::new(Barrier::new(plan.clients));
    let mut tasks = Vec::with_capacity(plan.clients);
    for (id, client) in clients.into_iter().enumerate() {
        let keys = match op {
            Op::Put => keys(id),
            Op::Get => vec![read_key.clone()],
        };
        let barrier = barrier.clone();
        let time = plan.throughput_time;
        tasks.push(tokio::spawn(drive(client, op, keys, warmup, barrier, time)));
    }
    let mut runs = Vec::with_capacity(tasks.len());
    for task in tasks {
        runs.push(task.await??);
    }
    // The CPU span includes the warm-up, so its operations count too.
    let all_ops = runs.iter().map(|r| r.ops).sum::<u64>() + (warmup * runs.len()) as u64;
    let per_op = |before: Option<Duration>, after: Option<Duration>| {
        let spent = after?.checked_sub(before?)?;
        (all_ops > 0).then(|| Duration::from_secs_f64(spent.as_secs_f64() / all_ops as f64))
    };
    Ok(Throughput {
        per_second: ops_per_second(&runs),
        server_cpu_per_op: per_op(cpu_before.0, cpu::process_time(server_pid)),
        client_cpu_per_op: per_op(cpu_before.1, cpu::process_time(client_pid)),
    })
}

/// One client: warm up, wait for the others, then go until `time` has passed.
async fn drive(
    mut client: StoreClient,
    op: Op,
    keys: Vec<Bytes>,
    warmup: usize,
    barrier: Arc<Barrier>,
    time: Duration,
) -> Result<ClientRun, BenchError> {
    let value = crate::value();
    for i in 0..warmup {
        once(&mut client, op, &keys[i % keys.len()], &value).await?;
    }
    barrier.wait().await;
    let started = Instant::now();
    let deadline = started + time;
    let mut ops = 0u64;
    let mut finished = started;
    while finished < deadline {
        once(&mut client, op, &keys[ops as usize % keys.len()], &value).await?;
        ops += 1;
        finished = Instant::now();
    }
    Ok(ClientRun { ops, started, finished })
}

async fn once(client: &mut StoreClient, op: Op, key: &Bytes, value: &Bytes) -> Result<(), BenchError> {
    match op {
        Op::Put => {
            client.put(key.clone(), value.clone()).await?;
        }
        Op::Get => {
            // An empty answer would make the read cheaper than the one meant to be measured.
            if client.get(key.clone()).await?.is_none() {
                return Err(BenchError::MissingKey);
            }
        }
    }
    Ok(())
}

/// All operations over the span from the first start to the last finish: the clients start
/// together, but each ends with the request it had in flight at the deadline.
pub(crate) fn ops_per_second(runs: &[ClientRun]) -> f64 {
    let ops: u64 = runs.iter().map(|r| r.ops).sum();
    let start = runs.iter().map(|r| r.started).min();
    let end = runs.iter().map(|r| r.finished).max();
    match (start, end) {
        (Some(start), Some(end)) if end > start => ops as f64 / (end - start).as_secs_f64(),
        _ => 0.0,
    }
}

/// The run with the median throughput, its CPU figures with it; of an even number of runs, the
/// upper middle one. Panics on no runs: a plan has at least one round.
pub fn median(runs: Vec<Throughput>) -> Throughput {
    crate::stats::median_by(runs, |run| run.per_second)
}

fn keys(client: usize) -> Vec<Bytes> {
    (0..KEYS_PER_CLIENT).map(|i| Bytes::from(format!("bench/tput/{client:02}/{i:03}"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(per_second: f64) -> Throughput {
        Throughput {
            per_second,
            server_cpu_per_op: Some(Duration::from_micros(per_second as u64)),
            client_cpu_per_op: None,
        }
    }

    #[test]
    fn the_median_run_is_reported_whole() {
        let cases: [(&str, Vec<f64>, f64); 3] = [
            ("one round is its own median", vec![5.0], 5.0),
            ("one disturbed round of three changes nothing", vec![9000.0, 2000.0, 8800.0], 8800.0),
            ("of two, the upper", vec![1.0, 2.0], 2.0),
        ];
        for (name, rates, want) in cases {
            let got = median(rates.into_iter().map(run).collect());
            assert_eq!(got.per_second, want, "{name}");
            assert_eq!(got.server_cpu_per_op, Some(Duration::from_micros(want as u64)), "{name}: CPU of the same run");
        }
    }
}
