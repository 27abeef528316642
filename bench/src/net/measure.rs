//! The runs, interleaved: a warm-up of every path, then rounds in which every path is run once
//! with every body, in the same order (direct, ClusterIP, NodePort, Ingress router, nginx).
//! A burst of other work on the machine then lands on all paths alike instead of on whichever
//! happened to run during it.
//!
//! While each run goes on, the CPU time of the process that carries the path in user space (the
//! proxy for the router, nginx's master and workers for nginx) is read before and after: what
//! a request costs there is what decides the comparison on two cores shared with wrk and the
//! pod.

use std::time::Duration;

use super::plan::{Body, Load, NetPlan};
use super::target::Path;
use super::wrk::{self, WrkRun};
use super::NetError;
use crate::cpu;
use crate::stats::median_by;

/// A path to measure, and the processes in user space it goes through (none for the kernel's
/// paths).
#[derive(Debug, Clone)]
pub struct Measured {
    pub path: Path,
    pub pids: Vec<u32>,
}

/// One run of one path and body.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub wrk: WrkRun,
    /// CPU time of the path's processes during the run, per request.
    pub cpu_per_request: Option<Duration>,
}

/// Every round's run of one path with one body.
#[derive(Debug, Clone)]
pub struct Series {
    pub path: Path,
    pub body: Body,
    pub runs: Vec<Run>,
}

impl Series {
    /// The median round's throughput.
    pub fn per_second(&self) -> f64 {
        median_by(self.runs.iter().map(|r| r.wrk.per_second).collect(), |v| *v)
    }

    /// The median of the rounds' p99s (taken on its own: the round with the median throughput
    /// need not have the median tail).
    pub fn p99(&self) -> Duration {
        median_by(self.runs.iter().map(|r| r.wrk.p99).collect(), |d| d.as_secs_f64())
    }

    pub fn p50(&self) -> Duration {
        median_by(self.runs.iter().map(|r| r.wrk.p50).collect(), |d| d.as_secs_f64())
    }

    pub fn cpu_per_request(&self) -> Option<Duration> {
        let all: Option<Vec<Duration>> = self.runs.iter().map(|r| r.cpu_per_request).collect();
        Some(median_by(all?, |d| d.as_secs_f64()))
    }

    /// Failed requests over every round.
    pub fn errors(&self) -> u64 {
        self.runs.iter().map(|r| r.wrk.errors).sum()
    }

    /// The rounds' throughputs, lowest to highest: how far apart they were.
    pub fn spread(&self) -> (f64, f64) {
        let rates = self.runs.iter().map(|r| r.wrk.per_second);
        (rates.clone().fold(f64::INFINITY, f64::min), rates.fold(0.0, f64::max))
    }
}

pub struct NetMeasurements {
    /// Body by body, path by path, in the plan's order.
    pub series: Vec<Series>,
}

impl NetMeasurements {
    pub fn get(&self, path: &str, body: &Body) -> Option<&Series> {
        self.series.iter().find(|s| s.path.name == path && s.body == *body)
    }
}

/// Runs the plan over `paths`.
pub async fn measure(paths: &[Measured], plan: &NetPlan) -> Result<NetMeasurements, NetError> {
    let warm_up = Load { duration: plan.warm_up, ..plan.load };
    eprintln!("warming up every path for {} s", plan.warm_up.as_secs());
    for body in &plan.bodies {
        for measured in paths {
            wrk::run(&measured.path.url(body), &warm_up).await?;
        }
    }
    let mut series: Vec<Series> = plan
        .bodies
        .iter()
        .flat_map(|body| paths.iter().map(|m| Series { path: m.path, body: *body, runs: Vec::new() }))
        .collect();
    for round in 1..=plan.rounds {
        for (index, body) in plan.bodies.iter().enumerate() {
            for (offset, measured) in paths.iter().enumerate() {
                let run = one_run(measured, body, &plan.load).await?;
                eprintln!(
                    "round {round}/{}: {:<16} {:<9} {:>9.0} req/s, p99 {:.2} ms{}",
                    plan.rounds,
                    measured.path.name,
                    body.name,
                    run.wrk.per_second,
                    run.wrk.p99.as_secs_f64() * 1e3,
                    if run.wrk.errors > 0 { format!(", {} errors", run.wrk.errors) } else { String::new() },
                );
                series[index * paths.len() + offset].runs.push(run);
            }
        }
    }
    Ok(NetMeasurements { series })
}

async fn one_run(measured: &Measured, body: &Body, load: &Load) -> Result<Run, NetError> {
    let cpu_time =
        |pids: &[u32]| -> Option<Duration> { pids.iter().map(|pid| cpu::process_time(*pid)).sum::<Option<Duration>>() };
    let before = cpu_time(&measured.pids);
    let wrk = wrk::run(&measured.path.url(body), load).await?;
    let after = cpu_time(&measured.pids);
    let cpu_per_request = match (before, after, measured.pids.is_empty()) {
        (Some(before), Some(after), false) if wrk.requests > 0 => {
            Some(after.saturating_sub(before).div_f64(wrk.requests as f64))
        }
        _ => None,
    };
    Ok(Run { wrk, cpu_per_request })
}
