//! The pod status the kubelet reports, and how it is written.
//!
//! Mirrors `generateAPIPodStatus` and `convertToAPIContainerStatuses` in
//! `pkg/kubelet/kubelet_pods.go`: [`generate`] is a pure function from what the runtime shows
//! (every instance of every container, newest first), what the last sync could not do (a
//! waiting reason per container: `CrashLoopBackOff`, `ErrImagePull`,
//! `CreateContainerConfigError`…) and what the probes said, to a `PodStatus`. [`phase`] computes
//! the phase and the conditions; [`manager`] writes the status through the `status`
//! subresource, only when it changed.
//!
//! Per container: the newest instance gives `state` (`running`, or `terminated` with reason
//! `Completed`, `Error`, `OOMKilled`, or `StartError` with exit code 128 when the runtime could
//! not start it), the one before gives `lastState`; a container that is not running, has a
//! waiting reason and will be started again shows `waiting` with it (and the newest instance as
//! its `lastState`); one that never ran waits with `ContainerCreating` (or `PodInitializing` when
//! the pod has init containers). `restartCount` is the newest instance's attempt.

pub mod manager;
pub mod phase;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    HostIP, Pod, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::pod_runtime::{Instance, PodRuntime};
use crate::runtime::ContainerState as Docker;

/// Why a container is not running, as the last sync found (upstream's `reasonCache`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub reason: String,
    pub message: String,
}

/// What the probes say, by container id.
pub trait ProbeResults {
    /// Readiness: `true` if ready (no readiness probe: ready once started).
    fn ready(&self, container_id: &str) -> bool;
    /// Startup: `true` once started (no startup probe: as soon as it runs).
    fn started(&self, container_id: &str) -> bool;
}

/// Every running container is ready and started: a pod without probes.
pub struct AllReady;

impl ProbeResults for AllReady {
    fn ready(&self, _: &str) -> bool {
        true
    }
    fn started(&self, _: &str) -> bool {
        true
    }
}

/// What [`generate`] reads.
pub struct Inputs<'a> {
    pub pod: &'a Pod,
    /// The status written last (or the pod's), for transition times and the start time.
    pub old: &'a PodStatus,
    pub runtime: &'a PodRuntime,
    pub waiting: &'a HashMap<String, Waiting>,
    pub probes: &'a dyn ProbeResults,
    /// Image id (`sha256:…`) → how Kubernetes reports it (`docker-pullable://repo@sha256:…`).
    pub image_refs: &'a HashMap<String, String>,
    pub host_ip: &'a str,
    pub now: DateTime<Utc>,
}

fn time(at: Option<DateTime<Utc>>) -> Option<Time> {
    at.map(Time)
}

fn terminated(instance: &Instance) -> ContainerStateTerminated {
    let c = &instance.container;
    let reason = if c.start_failed {
        "StartError"
    } else if c.oom_killed {
        "OOMKilled"
    } else if c.exit_code == 0 {
        "Completed"
    } else {
        "Error"
    };
    ContainerStateTerminated {
        container_id: Some(format!("docker://{}", c.id)),
        exit_code: c.exit_code as i32,
        reason: Some(reason.into()),
        message: (!c.error.is_empty()).then(|| c.error.clone()),
        // A container that never started shows the zero time of CRI's nanoseconds, as upstream.
        started_at: if c.start_failed { Some(Time(DateTime::UNIX_EPOCH)) } else { time(c.started_at) },
        finished_at: time(c.finished_at),
        signal: None,
    }
}

fn waiting(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: message.filter(|m| !m.is_empty()).map(str::to_string),
        }),
        ..Default::default()
    }
}

fn container_status(inputs: &Inputs, container: &Container, default_reason: &str) -> ContainerStatus {
    let latest = inputs.runtime.latest(&container.name);
    let previous = inputs.runtime.previous(&container.name);
    let cached = inputs.waiting.get(&container.name);
    let image = container.image.clone().unwrap_or_default();
    let mut status = ContainerStatus {
        name: container.name.clone(),
        image: image.clone(),
        image_id: String::new(),
        ready: false,
        restart_count: 0,
        started: Some(false),
        state: Some(waiting(default_reason, None)),
        ..Default::default()
    };
    let Some(latest) = latest else {
        if let Some(cached) = cached {
            status.state = Some(waiting(&cached.reason, Some(&cached.message)));
        }
        return status;
    };
    let c = &latest.container;
    status.restart_count = latest.identity.attempt as i32;
    status.container_id = Some(format!("docker://{}", c.id));
    status.image_id = inputs.image_refs.get(&c.image_id).cloned().unwrap_or_else(|| format!("docker://{}", c.image_id));
    let last_of_previous = previous
        .filter(|p| p.has_exited())
        .map(|p| ContainerState { terminated: Some(terminated(p)), ..Default::default() });
    match c.state {
        Docker::Running => {
            let started = inputs.probes.started(&c.id);
            status.state = Some(ContainerState {
                running: Some(ContainerStateRunning { started_at: time(c.started_at) }),
                ..Default::default()
            });
            status.started = Some(started);
            status.ready = started && inputs.probes.ready(&c.id);
            status.last_state = last_of_previous;
        }
        // A waiting reason is only for a container that will start again (upstream asks
        // `ShouldContainerBeRestarted`): under `Never` a failed start stays terminated.
        Docker::Exited if cached.is_none() || !restarts(inputs.pod, container, latest) => {
            status.state = Some(ContainerState { terminated: Some(terminated(latest)), ..Default::default() });
            status.last_state = last_of_previous;
        }
        _ => {
            let (reason, message) = match cached {
                Some(w) => (w.reason.as_str(), Some(w.message.as_str())),
                None => (default_reason, None),
            };
            status.state = Some(waiting(reason, message));
            status.last_state = if latest.has_exited() {
                Some(ContainerState { terminated: Some(terminated(latest)), ..Default::default() })
            } else {
                last_of_previous
            };
        }
    }
    status
}

/// Whether the kubelet starts the container again after this instance ended.
fn restarts(pod: &Pod, container: &Container, latest: &Instance) -> bool {
    if crate::pod_actions::is_sidecar(container) {
        return true;
    }
    let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
    crate::pod_actions::should_restart(policy, latest)
}

/// The pod's status.
pub fn generate(inputs: &Inputs) -> PodStatus {
    let spec = inputs.pod.spec.clone().unwrap_or_default();
    let init = spec.init_containers.clone().unwrap_or_default();
    let default_reason = if init.is_empty() { "ContainerCreating" } else { "PodInitializing" };
    let init_statuses: Vec<ContainerStatus> = init
        .iter()
        .map(|c| {
            let mut status = container_status(inputs, c, default_reason);
            // A (non-sidecar) init container is ready once it has succeeded, not while it
            // runs (`prober_manager.go` `UpdatePodStatus`); a sidecar is ready like any
            // container.
            if c.restart_policy.as_deref() != Some("Always") {
                let terminated = status.state.as_ref().and_then(|s| s.terminated.as_ref());
                status.ready = terminated.is_some_and(|t| t.exit_code == 0);
            }
            status
        })
        .collect();
    let mut statuses: Vec<ContainerStatus> =
        spec.containers.iter().map(|c| container_status(inputs, c, default_reason)).collect();
    // Kubernetes sorts app container statuses by name; init containers keep their order.
    statuses.sort_by(|a, b| a.name.cmp(&b.name));

    let old = inputs.old;
    let now = Time(inputs.now);
    let computed = phase::get_phase(&spec, &init_statuses, &statuses);
    // A pod that reached a terminal phase stays in it.
    let phase = match old.phase.as_deref() {
        Some(terminal @ ("Succeeded" | "Failed")) => terminal.to_string(),
        _ => computed.to_string(),
    };
    let pod_ip = inputs.runtime.pod_ip().map(|ip| ip.to_string()).or_else(|| old.pod_ip.clone());
    let sandbox_ready = inputs.runtime.running_sandbox().is_some();
    let old_conditions = old.conditions.clone().unwrap_or_default();
    let conditions =
        phase::pod_conditions(&spec, &init_statuses, &statuses, &phase, sandbox_ready, &old_conditions, &now);
    PodStatus {
        phase: Some(phase),
        conditions: Some(conditions),
        host_ip: Some(inputs.host_ip.to_string()),
        host_ips: Some(vec![HostIP { ip: inputs.host_ip.to_string() }]),
        pod_ips: pod_ip.clone().map(|ip| vec![PodIP { ip }]),
        pod_ip,
        start_time: old.start_time.clone().or(Some(now)),
        qos_class: Some(skiff_api::qos::qos_class(&spec).to_string()),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
