//! The four workloads, in order, each run against both servers back to back.
//!
//! Interleaving is part of the method. On a shared two-core machine the background load drifts
//! over a minute (a build, a test suite); measuring one store entirely before the other would
//! hand that drift to one side of the comparison. Running each workload on skiff-store and then
//! at once on etcd exposes both to nearly the same conditions. The idle server meanwhile costs
//! little (etcd's raft heartbeat every 100 ms).
//!
//! Throughput, the figure most exposed to such drift, is measured in several short rounds that
//! alternate between the stores, and the median round counts.
//!
//! The order of the workloads matters too: put latency runs first, on empty stores, so that a
//! single writer is timed without history behind it; the watch runs last. Each workload writes
//! its own keys, so none reads what another left behind.

use std::future::Future;

use crate::error::BenchError;
use crate::plan::Plan;
use crate::report::Measurements;
use crate::server::Server;
use crate::throughput::{Op, Throughput};
use crate::{put_latency, throughput, watch_latency};

/// Runs every workload on `skiff` and on `etcd`; returns their measurements in that order.
/// Progress goes to stderr, one line per run, so that stdout holds only the report.
pub async fn measure(skiff: &Server, etcd: &Server, plan: &Plan) -> Result<[Measurements; 2], BenchError> {
    let servers = [skiff, etcd];

    let what = format!("put latency, {} sequential puts", plan.sequential_puts);
    let put_latency =
        on_both(servers, &what, |endpoint, _| async move { put_latency::run(&endpoint, plan).await }).await?;

    let put_throughput = throughput_rounds(servers, plan, Op::Put).await?;
    let get_throughput = throughput_rounds(servers, plan, Op::Get).await?;

    let what = format!("put → watch event latency, {} puts", plan.watched_puts);
    let watch_latency =
        on_both(servers, &what, |endpoint, _| async move { watch_latency::run(&endpoint, plan).await }).await?;

    let of = |i: usize| Measurements {
        put_latency: put_latency[i],
        put_throughput: put_throughput[i],
        get_throughput: get_throughput[i],
        watch_latency: watch_latency[i],
    };
    Ok([of(0), of(1)])
}

/// The throughput rounds of `op`, alternating between the servers; the median round of each.
async fn throughput_rounds(servers: [&Server; 2], plan: &Plan, op: Op) -> Result<[Throughput; 2], BenchError> {
    let mut rounds: [Vec<Throughput>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=plan.throughput_rounds {
        let what = format!(
            "{} throughput, {} clients for {} s, round {round} of {}",
            op.name(),
            plan.clients,
            plan.throughput_time.as_secs_f64(),
            plan.throughput_rounds
        );
        let [skiff, etcd] =
            on_both(servers, &what, |endpoint, pid| async move { throughput::run(&endpoint, pid, plan, op).await })
                .await?;
        rounds[0].push(skiff);
        rounds[1].push(etcd);
    }
    let [skiff, etcd] = rounds;
    Ok([throughput::median(skiff), throughput::median(etcd)])
}

/// Runs one workload against each server in turn; `workload` gets the server's endpoint and
/// process id.
async fn on_both<T, F, Fut>(servers: [&Server; 2], what: &str, workload: F) -> Result<[T; 2], BenchError>
where
    F: Fn(String, u32) -> Fut,
    Fut: Future<Output = Result<T, BenchError>>,
{
    eprintln!("{}: {what}", servers[0].name);
    let first = workload(servers[0].endpoint.clone(), servers[0].pid()).await?;
    eprintln!("{}: {what}", servers[1].name);
    let second = workload(servers[1].endpoint.clone(), servers[1].pid()).await?;
    Ok([first, second])
}
