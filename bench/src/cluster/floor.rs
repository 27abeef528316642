//! The Docker floor: what a pod start costs Docker alone, asked directly through the Engine API.
//!
//! A pod here is what the kubelet makes of one (`kubelet/src/sandbox.rs`,
//! `kubelet/src/container_start.rs`): a `skiff/pause:1` container on the `skiff` bridge network
//! with a fixed address and a hostname, then a `skiff/demo-web:v1` container joined to its
//! network namespace (`container:<id>`), each created and then started. Nothing else: no API
//! server, no watch, no status. No orchestrator can start a pod faster on this machine, so
//! Skiff's pod start is held to a multiple of this.
//!
//! The floor's addresses come from 10.244.204.0/24, which no kubelet of this machine uses, and
//! its containers carry `io.skiff.bench-floor=<run>` (no `io.skiff.node` label, so every
//! kubelet leaves them alone); a [`Labelled`] guard removes them on exit.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, NetworkingConfig};
use futures::stream::{self, StreamExt};

use super::docker::{Docker, Labelled};
use super::objects::WEB_V1;
use crate::error::BenchError;

pub const PAUSE_IMAGE: &str = "skiff/pause:1";
/// The network every kubelet of this machine puts its pods on.
pub const NETWORK: &str = "skiff";
/// The label key of the floor's containers.
pub const LABEL: &str = "io.skiff.bench-floor";
/// Which of a floor pod's two containers one is, under this label key.
pub const ROLE: &str = "io.skiff.bench-role";

/// Addresses 10.244.204.2 and up: a /24 inside the `skiff` network that no kubelet is given.
fn address(index: usize) -> Ipv4Addr {
    assert!(index < 250, "the floor's /24 holds 250 pods");
    Ipv4Addr::new(10, 244, 204, 2 + index as u8)
}

/// How long each of the four Engine API calls of one pod took, as this client saw them.
#[derive(Debug, Clone, Copy)]
pub struct PairTimes {
    /// Which pod of its workload (its containers are `<run>-<index>-pause` and `-app`).
    pub index: usize,
    /// Just before the pause container's create request was sent.
    pub sent: Instant,
    pub pause_create: Duration,
    pub pause_start: Duration,
    pub app_create: Duration,
    pub app_start: Duration,
}

impl PairTimes {
    /// From the first request sent to the app container's start answered: the pod runs.
    pub fn total(&self) -> Duration {
        self.pause_create + self.pause_start + self.app_create + self.app_start
    }
}

/// Many pods started at once.
#[derive(Debug, Clone)]
pub struct Burst {
    pub pods: usize,
    pub in_flight: usize,
    /// Just before the first request.
    pub started: Instant,
    /// From the first request sent to the last pod's app container started.
    pub took: Duration,
    pub pairs: Vec<PairTimes>,
}

/// The floor's containers for one benchmark run.
pub struct Floor {
    docker: Docker,
    run: String,
    /// Removes whatever is left when the benchmark ends, however it ends.
    _guard: Labelled,
}

impl Floor {
    pub fn new(docker: Docker) -> Floor {
        let run = format!("skiff-bench-{}", std::process::id());
        let guard = Labelled::new(format!("{LABEL}={run}"));
        Floor { docker, run, _guard: guard }
    }

    /// `key=value` of every container of this floor.
    pub fn label(&self) -> String {
        format!("{LABEL}={}", self.run)
    }

    /// Starts pod `index`: pause container, then the app container in its network namespace.
    pub async fn start_pod(&self, index: usize) -> Result<PairTimes, BenchError> {
        let name = format!("{}-{index}", self.run);
        let labels =
            |role: &str| HashMap::from([(LABEL.to_string(), self.run.clone()), (ROLE.to_string(), role.into())]);
        let endpoint = EndpointSettings {
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: Some(address(index).to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pause = ContainerCreateBody {
            image: Some(PAUSE_IMAGE.into()),
            hostname: Some(name.clone()),
            labels: Some(labels("pause")),
            host_config: Some(HostConfig { network_mode: Some(NETWORK.into()), ..Default::default() }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(NETWORK.to_string(), endpoint)])),
            }),
            ..Default::default()
        };
        let sent = Instant::now();
        let pause_id = self.docker.create(&format!("{name}-pause"), pause).await?;
        let pause_create = sent.elapsed();
        self.docker.start(&pause_id).await?;
        let pause_start = sent.elapsed() - pause_create;

        let app = ContainerCreateBody {
            image: Some(WEB_V1.into()),
            labels: Some(labels("app")),
            host_config: Some(HostConfig { network_mode: Some(format!("container:{pause_id}")), ..Default::default() }),
            ..Default::default()
        };
        let app_id = self.docker.create(&format!("{name}-app"), app).await?;
        let app_create = sent.elapsed() - pause_create - pause_start;
        self.docker.start(&app_id).await?;
        let app_start = sent.elapsed() - pause_create - pause_start - app_create;
        Ok(PairTimes { index, sent, pause_create, pause_start, app_create, app_start })
    }

    /// `count` pods, one at a time; they keep running until [`Floor::clear`].
    pub async fn sequential(&self, count: usize) -> Result<Vec<PairTimes>, BenchError> {
        let mut pairs = Vec::with_capacity(count);
        for index in 0..count {
            pairs.push(self.start_pod(index).await?);
        }
        Ok(pairs)
    }

    /// `count` pods with `in_flight` being started at any moment (the kubelet: one worker per
    /// pod, so as many in flight as there are pods).
    pub async fn burst(&self, count: usize, in_flight: usize) -> Result<Burst, BenchError> {
        let started = Instant::now();
        let results: Vec<Result<PairTimes, BenchError>> =
            stream::iter(0..count).map(|index| self.start_pod(index)).buffer_unordered(in_flight).collect().await;
        let took = started.elapsed();
        let pairs = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(Burst { pods: count, in_flight, started, took, pairs })
    }

    /// Removes every container of the floor, so that the next workload starts on an empty
    /// machine.
    pub async fn clear(&self) -> Result<usize, BenchError> {
        self.docker.remove_labelled(&self.label()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_addresses_stay_in_their_own_slash_24() {
        assert_eq!(address(0), Ipv4Addr::new(10, 244, 204, 2));
        assert_eq!(address(49), Ipv4Addr::new(10, 244, 204, 51));
    }
}

/// The floor's bursts of `count` pods at each concurrency of `in_flight` (the first is the
/// kubelet's), with the first one's timelines, and Skiff's own burst (`skiff`) run right after
/// that first floor burst, so that the two meet nearly the same background load; the other
/// concurrencies come after. Both cluster benchmarks measure their bursts this way.
pub async fn bursts_around<T, F>(
    floor: &Floor,
    docker: &Docker,
    clock: &super::breakdown::Clock,
    count: usize,
    in_flight: &[usize],
    skiff: F,
) -> Result<(Vec<Burst>, Vec<super::breakdown::Timeline>, T), BenchError>
where
    F: std::future::Future<Output = Result<T, BenchError>>,
{
    let mut skiff = Some(skiff);
    let mut bursts = Vec::new();
    let mut timelines = Vec::new();
    let mut skiff_result = None;
    for (i, in_flight) in in_flight.iter().enumerate() {
        eprintln!("floor: {count} pods, {in_flight} in flight");
        let burst = floor.burst(count, *in_flight).await?;
        if i == 0 {
            let containers = docker.timestamps(&floor.label()).await?;
            timelines = super::breakdown::floor_timelines(&burst.pairs, &containers, clock);
        }
        bursts.push(burst);
        floor.clear().await?;
        if let Some(skiff) = skiff.take() {
            skiff_result = Some(skiff.await?);
        }
    }
    let skiff = skiff_result.expect("the plan has at least one concurrency");
    Ok((bursts, timelines, skiff))
}
