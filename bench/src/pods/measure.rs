//! `bench-pods`' workloads, in order, each on the Docker floor and then on Skiff, so that both
//! meet nearly the same background load:
//!
//! 1. The resident memory of every daemon, right after the cluster is up and its Node Ready
//!    (the moment `make up` returns), before anything else.
//! 2. One warm-up pod on each: Docker's caches of the images, the kubelet's first sync, the
//!    scheduler's first bind.
//! 3. **One at a time**, in turn: a pause + app pair on the floor, then a pod on Skiff, created
//!    once the floor's runs and seen Ready before the next pair; all kept running (a node that
//!    fills up) and removed before the next step. Taking turns exposes both to the same
//!    background load as it drifts (other builds on a shared machine).
//! 4. **All at once**: the floor's pairs at the kubelet's concurrency (one per pod), removed;
//!    then a ReplicaSet of as many pods on Skiff, from its create request to the last pod seen
//!    Ready, deleted; then the floor at the lower concurrencies.
//! 5. Memory again, at the end.
//!
//! Docker's timestamps of each set's containers are read back before they are removed, for
//! the breakdown (`cluster/breakdown.rs`). Progress goes to stderr.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::plan::PodsPlan;
use crate::cluster::breakdown::{self, Clock, Timeline};
use crate::cluster::docker::Docker;
use crate::cluster::floor::{self, Burst, Floor, PairTimes};
use crate::cluster::kubelet_metrics::{self, Histogram};
use crate::cluster::objects::{self, app_of, Readiness, WEB_V1};
use crate::cluster::processes::Resident;
use crate::cluster::steps::{self, Started};
use crate::cluster::watch::Watch;
use crate::cluster::{Cluster, NAMESPACE};
use crate::error::BenchError;

/// Labels (`app`) of each workload's pods.
const WARM_UP: &str = "warm-up";
const SEQUENTIAL: &str = "seq";
const BURST: &str = "burst";

/// Everything one run measured.
pub struct PodsMeasurements {
    /// Each daemon's `VmRSS` once the Node was Ready, and at the end of the run.
    pub resident_at_start: Vec<Resident>,
    pub resident_at_end: Vec<Resident>,
    pub floor_sequential: FloorRun,
    pub skiff_sequential: SkiffSequential,
    /// The first is at the kubelet's concurrency.
    pub floor_bursts: Vec<Burst>,
    /// The breakdown of the first floor burst.
    pub floor_burst_timelines: Vec<Timeline>,
    pub skiff_burst: SkiffBurst,
}

pub struct FloorRun {
    pub pairs: Vec<PairTimes>,
    pub timelines: Vec<Timeline>,
}

pub struct SkiffSequential {
    pub started: Vec<Started>,
    pub timelines: Vec<Timeline>,
    /// The kubelet's histogram over these pods.
    pub kubelet: Histogram,
}

pub struct SkiffBurst {
    pub pods: usize,
    /// Just before the ReplicaSet's create request.
    pub started: Instant,
    /// To the last pod seen Ready, and seen Running.
    pub all_ready: Duration,
    pub all_running: Duration,
    pub timelines: Vec<Timeline>,
    pub kubelet: Histogram,
}

impl FloorRun {
    pub fn totals(&self) -> Vec<Duration> {
        self.pairs.iter().map(PairTimes::total).collect()
    }
}

pub async fn measure(
    cluster: &Cluster,
    docker: &Docker,
    floor: &Floor,
    plan: &PodsPlan,
    clock: &Clock,
) -> Result<PodsMeasurements, BenchError> {
    let resident_at_start = cluster.resident();
    let client = &cluster.client;
    let watch = Watch::start(cluster.apiserver.grpc(), objects::pods(), NAMESPACE).await?;

    eprintln!("warm-up: one pod on the floor, one on Skiff");
    floor.start_pod(0).await?;
    floor.clear().await?;
    let pod = objects::pod("warm-up", WARM_UP, WEB_V1, Readiness::Running);
    steps::create_until_ready(client, &watch, &pod, plan.pod_timeout).await?;
    steps::delete_until_gone(client, &watch, &["warm-up".to_string()], plan.pod_timeout).await?;

    eprintln!("{} pods one at a time, in turn on the floor and on Skiff", plan.sequential);
    let (floor_sequential, skiff_sequential) = sequential(cluster, docker, floor, &watch, plan, clock).await?;

    let skiff = async {
        eprintln!("skiff: a ReplicaSet of {} pods", plan.burst);
        burst_of(cluster, docker, &watch, plan, clock).await
    };
    let (floor_bursts, floor_burst_timelines, skiff_burst) =
        floor::bursts_around(floor, docker, clock, plan.burst, &plan.floor_in_flight, skiff).await?;

    Ok(PodsMeasurements {
        resident_at_start,
        resident_at_end: cluster.resident(),
        floor_sequential,
        skiff_sequential,
        floor_bursts,
        floor_burst_timelines,
        skiff_burst,
    })
}

/// One pod at a time, in turn: a floor pod, then a Skiff pod created once the floor's has
/// started (and each Skiff pod once the previous was seen Ready), so that both meet the same
/// background load as it drifts. Every pod keeps running until the end of the step.
async fn sequential(
    cluster: &Cluster,
    docker: &Docker,
    floor: &Floor,
    watch: &Watch,
    plan: &PodsPlan,
    clock: &Clock,
) -> Result<(FloorRun, SkiffSequential), BenchError> {
    let client = &cluster.client;
    let before = kubelet_metrics::pod_start(&cluster.kubelet.endpoint).await?;
    let mut pairs = Vec::with_capacity(plan.sequential);
    let mut started = Vec::with_capacity(plan.sequential);
    let mut sent = HashMap::new();
    let mut names = Vec::new();
    for i in 0..plan.sequential {
        pairs.push(floor.start_pod(i).await?);
        let name = format!("{SEQUENTIAL}-{i}");
        let pod = objects::pod(&name, SEQUENTIAL, WEB_V1, Readiness::Running);
        let one = steps::create_until_ready(client, watch, &pod, plan.pod_timeout).await?;
        sent.insert(name.clone(), (one.sent, one.answered));
        started.push(one);
        names.push(name);
    }
    let kubelet = kubelet_metrics::pod_start_since(&cluster.kubelet.endpoint, &before).await?;
    let containers = docker.timestamps(&floor.label()).await?;
    let floor_run = FloorRun { timelines: breakdown::floor_timelines(&pairs, &containers, clock), pairs };
    let pick = |_: &str, w: &crate::cluster::watch::Watched| app_of(&w.object) == SEQUENTIAL;
    let timelines = steps::skiff_timelines(cluster, docker, watch, pick, &sent, clock).await?;
    floor.clear().await?;
    steps::delete_until_gone(client, watch, &names, plan.burst_timeout).await?;
    Ok((floor_run, SkiffSequential { started, timelines, kubelet }))
}

async fn burst_of(
    cluster: &Cluster,
    docker: &Docker,
    watch: &Watch,
    plan: &PodsPlan,
    clock: &Clock,
) -> Result<SkiffBurst, BenchError> {
    let client = &cluster.client;
    let before = kubelet_metrics::pod_start(&cluster.kubelet.endpoint).await?;
    let wanted = plan.burst;
    let replica_set = objects::replica_set(BURST, wanted as u32, Readiness::Running);
    let started = Instant::now();
    client.create(&objects::replica_sets(), Some(NAMESPACE), &replica_set).await?;
    let what = format!("{wanted} pods of the ReplicaSet Ready");
    let (last_ready, last_running) = watch
        .wait_for(&what, plan.burst_timeout, |pods| {
            let ours: Vec<_> = pods.values().filter(|w| app_of(&w.object) == BURST && w.marks.gone.is_none()).collect();
            let ready: Option<Vec<Instant>> = ours.iter().map(|w| w.marks.ready).collect();
            let running: Option<Vec<Instant>> = ours.iter().map(|w| w.marks.running).collect();
            match (ours.len() >= wanted, ready, running) {
                (true, Some(ready), Some(running)) => Some((ready.into_iter().max()?, running.into_iter().max()?)),
                _ => None,
            }
        })
        .await?;
    let kubelet = kubelet_metrics::pod_start_since(&cluster.kubelet.endpoint, &before).await?;
    let pick = |_: &str, w: &crate::cluster::watch::Watched| app_of(&w.object) == BURST;
    let timelines = steps::skiff_timelines(cluster, docker, watch, pick, &HashMap::new(), clock).await?;
    steps::delete_controller(client, watch, &objects::replica_sets(), BURST, plan.burst_timeout).await?;
    Ok(SkiffBurst {
        pods: wanted,
        started,
        all_ready: last_ready - started,
        all_running: last_running - started,
        timelines,
        kubelet,
    })
}
