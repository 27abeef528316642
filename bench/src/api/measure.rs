//! The API workloads, in order, against one API server with skiff-store behind it.
//!
//! The order matters:
//!
//! 1. The API server's memory right after start, before any request of the benchmark.
//! 2. The pods are stored (`fill.rs`) and the memory read again: nothing else has run yet, so
//!    the figure is the pods' and what storing them left behind, nothing more.
//! 3. The four verbs at one client (`requests.rs`), then at sixteen, in rounds that take the
//!    verbs in turn: a burst of other work on the machine then hits one round of each verb
//!    rather than all rounds of one. They all run with those pods stored, as in a cluster of
//!    that size, and with no watcher open.
//! 4. The fan-out last (`fan_out.rs`), since its thousand connections leave memory behind in
//!    both processes.
//!
//! Progress goes to stderr, one line per run, so that stdout holds only the report.

use std::sync::Arc;

use super::fan_out::{self, FanOut};
use super::fill::{self, Stored};
use super::plan::ApiPlan;
use super::pod::Pod;
use super::requests::{self, Load, Pids, Run, Stop, Verb};
use crate::error::BenchError;
use crate::server::Server;
use crate::{memory, stats};

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct ApiMeasurements {
    /// The API server's `VmRSS` right after it started.
    pub resident_at_start: Option<u64>,
    pub stored: Stored,
    /// Each verb at one client, in the order of [`Verb::ALL`].
    pub sequential: Vec<Run>,
    /// Each verb at `plan.clients` clients: its median round.
    pub concurrent: Vec<Run>,
    pub fan_out: FanOut,
    /// The most the API server's `VmRSS` was during the whole run.
    pub peak_resident: Option<u64>,
    /// Sizes of what goes over the wire, for the reader to judge the work.
    pub sizes: Sizes,
}

#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// A create's body as sent.
    pub sent: usize,
    /// A get's answer: the pod as stored, with defaults and `managedFields`.
    pub pod: usize,
    /// The list of 100 pods.
    pub list: usize,
}

pub async fn measure(apiserver: &Server, store: &Server, plan: &ApiPlan) -> Result<ApiMeasurements, BenchError> {
    let address = apiserver.endpoint.as_str();
    let pids = Pids { apiserver: apiserver.pid(), store: store.pid() };
    let pod = Arc::new(Pod::new());
    let resident_at_start = memory::resident(pids.apiserver);

    eprintln!("storing {} pods with {} clients", plan.stored_pods, plan.clients);
    let stored = fill::run(address, pids.apiserver, &pod, plan.stored_pods, plan.clients).await?;
    let list = requests::prepare(address, &pod, plan.clients).await?;

    let mut sequential = Vec::with_capacity(Verb::ALL.len());
    for verb in Verb::ALL {
        eprintln!("{}: {} requests, 1 client", verb.name(), plan.sequential);
        let load = Load { clients: 1, warmup: plan.warmup, stop: Stop::After(plan.sequential), label: "one".into() };
        sequential.push(requests::run(address, pids, &pod, verb, &load).await?);
    }

    let mut rounds: Vec<Vec<Run>> = vec![Vec::new(); Verb::ALL.len()];
    for round in 1..=plan.rounds {
        for (verb, runs) in Verb::ALL.into_iter().zip(&mut rounds) {
            eprintln!(
                "{}: {} clients for {} s, round {round} of {}",
                verb.name(),
                plan.clients,
                plan.concurrent_time.as_secs_f64(),
                plan.rounds
            );
            let load = Load {
                clients: plan.clients,
                warmup: (plan.warmup / plan.clients).max(2),
                stop: Stop::For(plan.concurrent_time),
                label: format!("many-{round}"),
            };
            runs.push(requests::run(address, pids, &pod, verb, &load).await?);
        }
    }
    let concurrent: Vec<Run> = rounds.into_iter().map(|runs| stats::median_by(runs, |run| run.per_second)).collect();

    eprintln!("fan-out: {} watchers, {} creates", plan.watchers, plan.watched_creates);
    let fan_out = fan_out::run(address, pids, &pod, plan.watchers, plan.watched_creates).await?;

    let sizes = Sizes { sent: pod.create_bytes(), pod: sequential[Verb::Get as usize].answer_bytes, list };
    Ok(ApiMeasurements {
        resident_at_start,
        stored,
        sequential,
        concurrent,
        fan_out,
        peak_resident: memory::peak_resident(pids.apiserver),
        sizes,
    })
}
