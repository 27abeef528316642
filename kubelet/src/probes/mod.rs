//! Liveness, readiness and startup probes: one worker task per probe of each running
//! container, results shared with the pod sync.
//!
//! Mirrors `pkg/kubelet/prober/prober_manager.go` (`AddPod`, `RemovePod`, `UpdatePodStatus`)
//! and `pkg/kubelet/prober/results` (the results cache, with an update channel into the sync
//! loop). Results are keyed by container id, so a restarted container starts from the initial
//! results again (not ready; alive; not started) with workers of its own. A result that changes
//! wakes the pod's worker through the channel: a failed liveness probe becomes a kill in
//! [`crate::pod_actions`], a readiness change a new `Ready` condition.
//!
//! After a kubelet restart, a container the pod's status showed ready starts ready (the pod does
//! not leave its Service's endpoints because the kubelet restarted).

pub mod prober;
pub mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Pod};
use parking_lot::Mutex;
use skiff_client::events::Recorder;
use tokio_util::sync::CancellationToken;

use crate::pod_actions::ProbeVerdicts;
use crate::runtime::ContainerRuntime;
use crate::status::ProbeResults;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Liveness,
    Readiness,
    Startup,
}

impl Kind {
    pub fn title(self) -> &'static str {
        match self {
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
            Kind::Startup => "Startup",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pod_uid: String,
    pub container_id: String,
    pub kind: Kind,
}

/// The results cache; a std Mutex: nothing awaits while it is held.
pub type Results = Arc<Mutex<HashMap<Key, Outcome>>>;

/// `spec.containers{web}` or `spec.initContainers{init}`, for events.
pub fn field_path(pod: &Pod, container: &str) -> String {
    let init = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .is_some_and(|list| list.iter().any(|c| c.name == container));
    if init {
        format!("spec.initContainers{{{container}}}")
    } else {
        format!("spec.containers{{{container}}}")
    }
}

fn outcome(results: &Results, container_id: &str, kind: Kind) -> Option<Outcome> {
    results.lock().iter().find(|(k, _)| k.container_id == container_id && k.kind == kind).map(|(_, o)| *o)
}

/// Whether a container with a startup probe passed it.
fn passed_startup(results: &Results, container_id: &str) -> bool {
    outcome(results, container_id, Kind::Startup) == Some(Outcome::Success)
}

pub struct ProbeManager {
    runtime: Arc<dyn ContainerRuntime>,
    recorder: Recorder,
    results: Results,
    /// Running workers, with the token that stops each; a std Mutex (no await under it).
    workers: Mutex<HashMap<Key, CancellationToken>>,
    /// Probe kinds each container has, by container id (to tell "no probe" from "no result").
    probed: Mutex<HashMap<String, HashSet<Kind>>>,
    changed: tokio::sync::mpsc::UnboundedSender<String>,
    stop: CancellationToken,
}

impl ProbeManager {
    pub fn new(
        runtime: Arc<dyn ContainerRuntime>,
        recorder: Recorder,
        changed: tokio::sync::mpsc::UnboundedSender<String>,
        stop: CancellationToken,
    ) -> ProbeManager {
        ProbeManager {
            runtime,
            recorder,
            results: Arc::default(),
            workers: Mutex::new(HashMap::new()),
            probed: Mutex::new(HashMap::new()),
            changed,
            stop,
        }
    }

    /// Starts the workers of a running container, if it has probes and they do not run yet.
    /// `was_ready`: the pod's status showed this very container ready.
    pub fn ensure(&self, pod: &Arc<Pod>, container: &Container, container_id: &str, pod_ip: &str, was_ready: bool) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let probes = [
            (Kind::Startup, container.startup_probe.clone(), None),
            (Kind::Liveness, container.liveness_probe.clone(), Some(Outcome::Success)),
            (
                Kind::Readiness,
                container.readiness_probe.clone(),
                Some(if was_ready { Outcome::Success } else { Outcome::Failure }),
            ),
        ];
        for (kind, probe, initial) in probes {
            let Some(probe) = probe else { continue };
            let key = Key { pod_uid: uid.clone(), container_id: container_id.to_string(), kind };
            let mut workers = self.workers.lock();
            if workers.contains_key(&key) {
                continue;
            }
            self.probed.lock().entry(container_id.to_string()).or_default().insert(kind);
            let stop = self.stop.child_token();
            workers.insert(key.clone(), stop.clone());
            let worker = worker::Worker {
                key,
                kind,
                probe,
                pod: pod.clone(),
                container: container.clone(),
                pod_ip: pod_ip.to_string(),
                runtime: self.runtime.clone(),
                results: self.results.clone(),
                recorder: self.recorder.clone(),
                changed: self.changed.clone(),
                initial,
                gated: container.startup_probe.is_some() && kind != Kind::Startup,
            };
            tokio::spawn(worker.run(stop));
        }
    }

    /// Stops the workers of the pod's containers that are not in `running`.
    pub fn retain(&self, pod_uid: &str, running: &HashSet<String>) {
        let mut workers = self.workers.lock();
        let gone: Vec<Key> =
            workers.keys().filter(|k| k.pod_uid == pod_uid && !running.contains(&k.container_id)).cloned().collect();
        for key in gone {
            if let Some(stop) = workers.remove(&key) {
                stop.cancel();
            }
            self.results.lock().remove(&key);
            self.probed.lock().remove(&key.container_id);
        }
    }

    /// Stops every worker of a pod.
    pub fn remove_pod(&self, pod_uid: &str) {
        self.retain(pod_uid, &HashSet::new());
    }

    fn has(&self, container_id: &str, kind: Kind) -> bool {
        self.probed.lock().get(container_id).is_some_and(|kinds| kinds.contains(&kind))
    }
}

impl ProbeResults for ProbeManager {
    fn ready(&self, container_id: &str) -> bool {
        !self.has(container_id, Kind::Readiness)
            || outcome(&self.results, container_id, Kind::Readiness) == Some(Outcome::Success)
    }

    fn started(&self, container_id: &str) -> bool {
        !self.has(container_id, Kind::Startup) || passed_startup(&self.results, container_id)
    }
}

impl ProbeVerdicts for ProbeManager {
    fn liveness_failed(&self, container_id: &str) -> bool {
        outcome(&self.results, container_id, Kind::Liveness) == Some(Outcome::Failure)
    }

    /// Only a worker that reached its failure threshold writes a startup failure; "not started
    /// yet" is no entry at all.
    fn startup_failed(&self, container_id: &str) -> bool {
        outcome(&self.results, container_id, Kind::Startup) == Some(Outcome::Failure)
    }

    fn startup_pending(&self, container_id: &str) -> bool {
        self.has(container_id, Kind::Startup) && !passed_startup(&self.results, container_id)
    }
}
