//! What both cluster benchmarks do around their workloads: find the daemons and the images,
//! look at the machine, start the cluster and the floor; at the end, say how much of the
//! machine others took, keep the logs if asked, and remove everything.

use std::path::Path;

use super::breakdown::Clock;
use super::docker::Docker;
use super::floor::{Floor, PAUSE_IMAGE};
use super::objects::{WEB_V1, WEB_V2};
use super::{Binaries, Cluster};
use crate::cpu::{self, OthersMeter};
use crate::error::BenchError;
use crate::locate;
use crate::machine::Machine;

/// A cluster benchmark's run, from the first check to the teardown.
pub struct Run {
    pub binaries: Binaries,
    pub docker: Docker,
    pub machine: Machine,
    /// Places Docker's and the logs' wall-clock times on the watch's clock.
    pub clock: Clock,
    /// Docker's daemons work for the benchmark: what they spend counts as ours, not others'.
    /// Their per-container shims and `runc` come and go and cannot be told apart; they count
    /// as others'.
    others: Option<OthersMeter>,
    // Dropped in this order: the cluster (kubelet, its containers, control plane), then the
    // floor's containers.
    pub cluster: Cluster,
    pub floor: Floor,
}

/// What the report's header needs once the run is over.
pub struct Finished {
    pub machine: Machine,
    pub others: Option<f64>,
    pub versions: String,
}

impl Run {
    pub async fn start(work_dir: &Path) -> Result<Run, BenchError> {
        let binaries = Binaries::locate()?;
        let docker = Docker::connect().await?;
        for image in [PAUSE_IMAGE, WEB_V1, WEB_V2] {
            docker.require_image(image).await?;
        }
        let machine = Machine::probe(work_dir).await;
        let others = OthersMeter::start_with_helpers(&cpu::pids_named(&["dockerd", "containerd"]));
        let clock = Clock::now();
        let floor = Floor::new(docker.clone());
        eprintln!("starting the cluster");
        let cluster = Cluster::start(&binaries, work_dir).await?;
        eprintln!("cluster up and node {} Ready in {:.2} s", cluster.node, cluster.took.as_secs_f64());
        Ok(Run { binaries, docker, machine, clock, others, cluster, floor })
    }

    /// Reads others' share while the daemons still run, copies their logs into `logs` if
    /// given, then removes the cluster and the floor.
    pub async fn finish(self, logs: Option<&Path>) -> Result<Finished, BenchError> {
        let others = self.others.as_ref().and_then(|meter| meter.share(&self.cluster.pids()));
        let saved = logs.map(|dir| self.cluster.save_logs(dir)).transpose();
        let commit = locate::commit().map(|c| format!("; commit {c}")).unwrap_or_default();
        let versions = format!("{}; {}{commit}", self.binaries.version(), self.docker.version().await);
        let Run { machine, cluster, floor, .. } = self;
        drop(cluster);
        drop(floor);
        saved?;
        Ok(Finished { machine, others, versions })
    }
}
