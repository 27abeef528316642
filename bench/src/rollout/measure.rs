//! `bench-rollout`'s workloads, in order:
//!
//! 1. One warm-up pod (images in Docker's cache, the kubelet's first sync).
//! 2. **Single pods** of the rollout's new template (v2, readiness probe, behind a Service),
//!    without any controller, for the minimum (`minimum.rs`): first created one at a time on
//!    their own, each after the previous was seen Ready (create → Ready: *T_alone*), then
//!    deleted; then **a rollout by hand**: one pod, then each next pod created at the same
//!    instant as the previous one (in the Service's EndpointSlice by then) is deleted, until
//!    the new one is Ready (*T_step*), and each deleted pod's delete → gone (*T_gone*).
//! 3. **The rollout**: a Deployment of v1 behind a Service, rolled out and in the
//!    EndpointSlice; then its image set to v2 through the API (`kubectl set image`), timed
//!    until its status says rolled out *and* every old pod is gone.
//! 4. **The floor's burst** of the scale-up's new pods at the kubelet's concurrency (one per
//!    pod), then **the scale-up**: a Deployment of one replica, rolled out; then scaled to 50
//!    through the API, timed until its status counts 50 available, and until the watch saw 50
//!    pods Ready; then the floor at the lower concurrencies.
//!
//! Progress goes to stderr.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use skiff_client::{ListParams, Patch};

use super::deployment::{generation, rolled_out};
use super::plan::RolloutPlan;
use crate::cluster::breakdown::{Clock, Timeline};
use crate::cluster::docker::Docker;
use crate::cluster::floor::{self, Burst, Floor};
use crate::cluster::kubelet_metrics::{self, Histogram};
use crate::cluster::objects::{self, app_of, Readiness, WEB_V1, WEB_V2};
use crate::cluster::steps::{self, Started};
use crate::cluster::watch::{Marks, Watch, Watched};
use crate::cluster::{Cluster, NAMESPACE};
use crate::error::BenchError;

const SINGLE: &str = "single";
const WEB: &str = "web";
const SCALED: &str = "scaled";

/// Everything one run measured.
pub struct RolloutMeasurements {
    pub single: Single,
    pub rollout: Rollout,
    /// The first is at the kubelet's concurrency.
    pub floor_bursts: Vec<Burst>,
    pub floor_burst_timelines: Vec<Timeline>,
    pub scale_up: ScaleUp,
}

/// Single pods of the new template, with no controller.
pub struct Single {
    /// On their own, one at a time.
    pub alone: Vec<Started>,
    /// The rollout by hand: each created as the previous one was deleted.
    pub steps: Vec<Started>,
    /// The rollout by hand: each deleted pod's delete request → gone.
    pub gone: Vec<Duration>,
    pub alone_timelines: Vec<Timeline>,
    pub step_timelines: Vec<Timeline>,
    /// The kubelet's histogram over the pods on their own.
    pub kubelet: Histogram,
}

pub struct Rollout {
    pub replicas: u32,
    /// Just before the image update was sent.
    pub sent: Instant,
    /// The Deployment's status said rolled out.
    pub rolled_out: Instant,
    /// The last old pod was gone.
    pub old_gone: Instant,
    /// The new pods' marks, in the order they were created.
    pub new_pods: Vec<Marks>,
    /// The old pods' marks, in the order they went.
    pub old_pods: Vec<Marks>,
    pub timelines: Vec<Timeline>,
}

impl Rollout {
    /// From the update to rolled out and every old pod gone.
    pub fn took(&self) -> Duration {
        self.rolled_out.max(self.old_gone) - self.sent
    }
}

pub struct ScaleUp {
    pub from: u32,
    pub to: u32,
    pub sent: Instant,
    /// To the Deployment's status counting every replica available.
    pub available: Duration,
    /// To the last new pod seen Ready.
    pub all_ready: Duration,
    pub timelines: Vec<Timeline>,
    pub kubelet: Histogram,
}

pub async fn measure(
    cluster: &Cluster,
    docker: &Docker,
    floor: &Floor,
    plan: &RolloutPlan,
    clock: &Clock,
) -> Result<RolloutMeasurements, BenchError> {
    let client = &cluster.client;
    let pods = Watch::start(cluster.apiserver.grpc(), objects::pods(), NAMESPACE).await?;
    let deployments = Watch::start(cluster.apiserver.grpc(), objects::deployments(), NAMESPACE).await?;

    eprintln!("warm-up: one pod");
    let pod = objects::pod("warm-up", "warm-up", WEB_V2, Readiness::Probe);
    steps::create_until_ready(client, &pods, &pod, plan.pod_timeout).await?;
    steps::delete_until_gone(client, &pods, &["warm-up".to_string()], plan.pod_timeout).await?;

    eprintln!("skiff: {} single pods started, then deleted, one at a time", plan.single_pods);
    let single = single(cluster, docker, &pods, plan, clock).await?;

    eprintln!("skiff: a rolling update of {} replicas", plan.replicas);
    let rollout = rollout(cluster, docker, &pods, &deployments, plan, clock).await?;

    let skiff = async {
        eprintln!("skiff: a Deployment scaled from 1 to {}", plan.scale_to);
        scale_up_of(cluster, docker, &pods, &deployments, plan, clock).await
    };
    let (floor_bursts, floor_burst_timelines, scale_up) =
        floor::bursts_around(floor, docker, clock, plan.new_pods(), &plan.floor_in_flight, skiff).await?;
    Ok(RolloutMeasurements { single, rollout, floor_bursts, floor_burst_timelines, scale_up })
}

async fn single(
    cluster: &Cluster,
    docker: &Docker,
    pods: &Watch,
    plan: &RolloutPlan,
    clock: &Clock,
) -> Result<Single, BenchError> {
    let client = &cluster.client;
    client.create(&objects::services(), Some(NAMESPACE), &objects::service(SINGLE)).await?;
    let template = |name: &str| objects::pod(name, SINGLE, WEB_V2, Readiness::Probe);
    let mut sent = HashMap::new();

    let before = kubelet_metrics::pod_start(&cluster.kubelet.endpoint).await?;
    let mut alone = Vec::new();
    let mut names = Vec::new();
    for i in 0..plan.single_pods {
        let name = format!("alone-{i}");
        let one = steps::create_until_ready(client, pods, &template(&name), plan.pod_timeout).await?;
        sent.insert(name.clone(), (one.sent, one.answered));
        alone.push(one);
        names.push(name);
    }
    let kubelet = kubelet_metrics::pod_start_since(&cluster.kubelet.endpoint, &before).await?;
    let pick = |name: &str, _: &Watched| name.starts_with("alone-");
    let alone_timelines = steps::skiff_timelines(cluster, docker, pods, pick, &sent, clock).await?;
    steps::delete_until_gone(client, pods, &names, plan.rollout_timeout).await?;

    // The rollout by hand.
    let mut previous = "step-0".to_string();
    steps::create_until_ready(client, pods, &template(&previous), plan.pod_timeout).await?;
    let mut steps_started = Vec::new();
    let mut gone = Vec::new();
    for i in 1..=plan.single_pods {
        wait_pod_in_rotation(cluster, SINGLE, &previous, plan.pod_timeout).await?;
        let name = format!("step-{i}");
        let deleted_at = Instant::now();
        let (kind, pod) = (objects::pods(), template(&name));
        let delete = client.delete(&kind, Some(NAMESPACE), &previous, &Value::Null);
        let create = steps::create_until_ready(client, pods, &pod, plan.pod_timeout);
        let (deleted, created) = tokio::join!(delete, create);
        deleted?;
        let one = created?;
        sent.insert(name.clone(), (one.sent, one.answered));
        steps_started.push(one);
        let went = steps::wait_gone(pods, std::slice::from_ref(&previous), plan.pod_timeout).await?;
        gone.push(went.map(|at| at - deleted_at).unwrap_or_default());
        previous = name;
    }
    wait_pod_in_rotation(cluster, SINGLE, &previous, plan.pod_timeout).await?;
    let pick = |name: &str, _: &Watched| name.starts_with("step-") && name != "step-0";
    let step_timelines = steps::skiff_timelines(cluster, docker, pods, pick, &sent, clock).await?;
    let deleted_at = Instant::now();
    let went = steps::delete_until_gone(client, pods, std::slice::from_ref(&previous), plan.pod_timeout).await?;
    gone.push(went.map(|at| at - deleted_at).unwrap_or_default());
    Ok(Single { alone, steps: steps_started, gone, alone_timelines, step_timelines, kubelet })
}

async fn rollout(
    cluster: &Cluster,
    docker: &Docker,
    pods: &Watch,
    deployments: &Watch,
    plan: &RolloutPlan,
    clock: &Clock,
) -> Result<Rollout, BenchError> {
    let client = &cluster.client;
    let replicas = plan.replicas;
    client.create(&objects::services(), Some(NAMESPACE), &objects::service(WEB)).await?;
    let created =
        client.create(&objects::deployments(), Some(NAMESPACE), &objects::deployment(WEB, replicas, WEB_V1)).await?;
    wait_rolled_out(deployments, WEB, generation(&created), replicas, plan.rollout_timeout).await?;
    wait_in_rotation(cluster, WEB, replicas as usize, plan.pod_timeout).await?;
    let old: Vec<String> = steps::live_pods(pods, WEB);

    let sent = Instant::now();
    let patch = Patch::Json(objects::set_image(WEB_V2));
    let updated = client.patch(&objects::deployments(), Some(NAMESPACE), WEB, None, &patch).await?;
    let rolled = wait_rolled_out(deployments, WEB, generation(&updated), replicas, plan.rollout_timeout).await?;
    let old_gone = steps::wait_gone(pods, &old, plan.rollout_timeout).await?.unwrap_or(rolled);

    let old_set: HashSet<&String> = old.iter().collect();
    let is_new = |name: &str, w: &Watched| app_of(&w.object) == WEB && !old_set.contains(&name.to_string());
    let (mut new_pods, mut old_pods) = pods.snapshot(|objects| {
        let new: Vec<Marks> = objects.iter().filter(|(n, w)| is_new(n, w)).map(|(_, w)| w.marks).collect();
        let old: Vec<Marks> = old.iter().filter_map(|n| objects.get(n)).map(|w| w.marks).collect();
        (new, old)
    });
    new_pods.sort_by_key(|m| m.added);
    old_pods.sort_by_key(|m| m.gone);
    let timelines = steps::skiff_timelines(cluster, docker, pods, is_new, &HashMap::new(), clock).await?;
    steps::delete_controller(client, pods, &objects::deployments(), WEB, plan.rollout_timeout).await?;
    Ok(Rollout { replicas, sent, rolled_out: rolled, old_gone, new_pods, old_pods, timelines })
}

async fn scale_up_of(
    cluster: &Cluster,
    docker: &Docker,
    pods: &Watch,
    deployments: &Watch,
    plan: &RolloutPlan,
    clock: &Clock,
) -> Result<ScaleUp, BenchError> {
    let client = &cluster.client;
    let to = plan.scale_to;
    let created =
        client.create(&objects::deployments(), Some(NAMESPACE), &objects::deployment(SCALED, 1, WEB_V1)).await?;
    wait_rolled_out(deployments, SCALED, generation(&created), 1, plan.rollout_timeout).await?;
    let before = kubelet_metrics::pod_start(&cluster.kubelet.endpoint).await?;
    let first: HashSet<String> = steps::live_pods(pods, SCALED).into_iter().collect();

    let sent = Instant::now();
    let patch = Patch::Merge(objects::scale(to));
    let scaled = client.patch(&objects::deployments(), Some(NAMESPACE), SCALED, None, &patch).await?;
    let available = wait_rolled_out(deployments, SCALED, generation(&scaled), to, plan.rollout_timeout).await?;
    let what = format!("{to} pods of the Deployment Ready");
    let all_ready = pods
        .wait_for(&what, plan.rollout_timeout, |objects| {
            let ours: Vec<&Watched> = objects.values().filter(|w| app_of(&w.object) == SCALED).collect();
            let ready: Option<Vec<Instant>> = ours.iter().map(|w| w.marks.ready).collect();
            (ours.len() >= to as usize).then_some(())?;
            ready?.into_iter().max()
        })
        .await?;
    let kubelet = kubelet_metrics::pod_start_since(&cluster.kubelet.endpoint, &before).await?;
    let is_new = |name: &str, w: &Watched| app_of(&w.object) == SCALED && !first.contains(name);
    let timelines = steps::skiff_timelines(cluster, docker, pods, is_new, &HashMap::new(), clock).await?;
    steps::delete_controller(client, pods, &objects::deployments(), SCALED, plan.rollout_timeout).await?;
    Ok(ScaleUp { from: 1, to, sent, available: available - sent, all_ready: all_ready - sent, timelines, kubelet })
}

/// Waits until the Deployment `name` has rolled out `generation` to `replicas` pods; when its
/// status event saying so arrived.
async fn wait_rolled_out(
    deployments: &Watch,
    name: &str,
    generation: i64,
    replicas: u32,
    timeout: Duration,
) -> Result<Instant, BenchError> {
    let what = format!("deployment {name} rolled out to {replicas} replicas");
    deployments
        .wait_for(&what, timeout, |objects| {
            let watched = objects.get(name)?;
            rolled_out(&watched.object, generation, replicas as i64).then_some(watched.seen)
        })
        .await
}

/// Waits until the Service's EndpointSlices list `count` ready endpoints: its pods are in
/// rotation, so deleting one goes through the kubelet's wait as in a real rollout.
async fn wait_in_rotation(cluster: &Cluster, service: &str, count: usize, timeout: Duration) -> Result<(), BenchError> {
    let deadline = Instant::now() + timeout;
    let params = ListParams::labels(&format!("kubernetes.io/service-name={service}"));
    loop {
        let (slices, _) = cluster.client.list(&objects::endpoint_slices(), Some(NAMESPACE), &params).await?;
        let ready = ready_endpoints(&slices);
        if ready >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BenchError::Timeout {
                what: format!("{count} endpoints of service {service} ready"),
                seconds: timeout.as_secs(),
                details: format!(" ({ready} are)"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the Service's EndpointSlices list the pod `pod` as ready.
async fn wait_pod_in_rotation(
    cluster: &Cluster,
    service: &str,
    pod: &str,
    timeout: Duration,
) -> Result<(), BenchError> {
    let deadline = Instant::now() + timeout;
    let params = ListParams::labels(&format!("kubernetes.io/service-name={service}"));
    loop {
        let (slices, _) = cluster.client.list(&objects::endpoint_slices(), Some(NAMESPACE), &params).await?;
        let listed = slices
            .iter()
            .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
            .any(|e| e["targetRef"]["name"] == pod && e["conditions"]["ready"].as_bool().unwrap_or(true));
        if listed {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BenchError::Timeout {
                what: format!("pod {pod} ready in service {service}"),
                seconds: timeout.as_secs(),
                details: String::new(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Endpoints whose `conditions.ready` is not false, over all slices.
fn ready_endpoints(slices: &[Value]) -> usize {
    slices
        .iter()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["conditions"]["ready"].as_bool().unwrap_or(true))
        .count()
}
