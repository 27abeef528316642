//! What a sync must do to a pod: the pure decision, apart from doing it.
//!
//! Mirrors `computePodActions` in `pkg/kubelet/kuberuntime/kuberuntime_manager.go` (with
//! `findNextInitContainerToRun` and `shouldRestartOnFailure`), for a pod that is not being
//! deleted:
//!
//! 1. **No running pause container** (first sync, or it died): kill whatever still runs, create
//!    a new pause container (attempt + 1), and start from the first init container, or all
//!    containers if there are none. Exception: a `restartPolicy: Never` pod whose containers
//!    already ran gets no new pause container: it is over.
//! 2. **Init containers not done**: one at a time, in order. The next one without an instance
//!    starts; a running one is waited for; a failed one restarts (after its back-off), unless
//!    the policy is `Never`: then the pod fails and is killed.
//! 3. **App containers**: one without an instance starts; an exited one restarts if the policy
//!    says so (`Always`; `OnFailure` for a non-zero exit); a running one whose liveness or
//!    startup probe failed, or whose spec changed, is killed and (unless `Never`) started again.
//! 4. Nothing left running and nothing to start: kill the pod (its pause container): it is done.
//!
//! **Sidecars** (init containers with `restartPolicy: Always`, Kubernetes 1.29+): one counts as
//! done with initialization once it runs and passed its startup probe, so the next init
//! container starts beside it; it is restarted whenever it exits, whatever the pod's policy; and
//! it is stopped with the pod once the app containers are done.
//!
//! Back-off is not decided here: the executor checks it before each start.

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::naming::hash_container;
use crate::pod_runtime::{Instance, PodRuntime};

/// Why a running container is killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    pub id: String,
    pub name: String,
    /// The `Killing` event's message: "Container web failed liveness probe, will be restarted".
    pub message: String,
}

/// What to do, in the order the executor does it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodActions {
    /// Stop every running container of the pod (and its pause container).
    pub kill_pod: bool,
    /// Create a pause container with this attempt number.
    pub create_sandbox: Option<u32>,
    /// An init container failed under `restartPolicy: Never`: the pod has failed.
    pub init_failed: bool,
    /// The init container to start next.
    pub next_init: Option<String>,
    /// Sidecars (restartable init containers) that exited after initialization: start again.
    pub restart_sidecars: Vec<String>,
    /// App containers to start.
    pub start: Vec<String>,
    /// Running containers to kill first.
    pub kill: Vec<Kill>,
}

/// What the probes say about running containers, by container id.
pub trait ProbeVerdicts {
    fn liveness_failed(&self, container_id: &str) -> bool;
    fn startup_failed(&self, container_id: &str) -> bool;
    /// The container has a startup probe that has not succeeded yet.
    fn startup_pending(&self, _container_id: &str) -> bool {
        false
    }
}

/// No probes: nothing ever failed.
pub struct NoProbes;

impl ProbeVerdicts for NoProbes {
    fn liveness_failed(&self, _: &str) -> bool {
        false
    }
    fn startup_failed(&self, _: &str) -> bool {
        false
    }
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always")
}

/// A container that did not start (created only) counts as failed.
fn failed(instance: &Instance) -> bool {
    !instance.is_running() && (instance.container.exit_code != 0 || !instance.has_exited())
}

fn succeeded(instance: &Instance) -> bool {
    instance.has_exited() && instance.container.exit_code == 0
}

/// Whether an exited container starts again under the pod's policy.
pub fn should_restart(policy: &str, instance: &Instance) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => failed(instance),
        _ => true,
    }
}

/// Where the init containers stand.
#[derive(Debug, PartialEq, Eq)]
enum InitProgress {
    Done,
    /// One is running: wait.
    Waiting,
    Start(String),
    Failed(String),
}

/// An init container with `restartPolicy: Always`: a sidecar.
pub fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

fn init_progress(
    init: &[Container],
    runtime: &PodRuntime,
    app: &[Container],
    probes: &dyn ProbeVerdicts,
) -> InitProgress {
    // An app container that ever ran means initialization finished before.
    if app.iter().any(|c| runtime.latest(&c.name).is_some()) {
        return InitProgress::Done;
    }
    for container in init {
        match runtime.latest(&container.name) {
            None => return InitProgress::Start(container.name.clone()),
            Some(instance) if is_sidecar(container) && instance.is_running() => {
                if probes.startup_pending(instance.id()) {
                    return InitProgress::Waiting;
                }
                continue;
            }
            Some(_) if is_sidecar(container) => return InitProgress::Start(container.name.clone()),
            Some(instance) if instance.is_running() => return InitProgress::Waiting,
            Some(instance) if succeeded(instance) => continue,
            Some(_) => return InitProgress::Failed(container.name.clone()),
        }
    }
    InitProgress::Done
}

pub fn compute_pod_actions(pod: &Pod, runtime: &PodRuntime, probes: &dyn ProbeVerdicts) -> PodActions {
    let spec = pod.spec.clone().unwrap_or_default();
    let init = spec.init_containers.clone().unwrap_or_default();
    let policy = restart_policy(pod);
    let mut actions = PodActions::default();

    // 1. The pause container.
    if runtime.running_sandbox().is_none() {
        let attempt = runtime.sandbox().map(|s| s.identity.attempt + 1).unwrap_or(0);
        actions.kill_pod = runtime.running().next().is_some();
        if policy == "Never" && attempt != 0 && !runtime.containers.is_empty() {
            return actions;
        }
        actions.create_sandbox = Some(attempt);
        match init.first() {
            Some(first) => actions.next_init = Some(first.name.clone()),
            None => {
                actions.start = spec
                    .containers
                    .iter()
                    .filter(|c| !(policy == "OnFailure" && runtime.latest(&c.name).is_some_and(succeeded)))
                    .map(|c| c.name.clone())
                    .collect();
            }
        }
        return actions;
    }

    // 2. Init containers, one at a time.
    match init_progress(&init, runtime, &spec.containers, probes) {
        InitProgress::Done => {}
        InitProgress::Waiting => return actions,
        InitProgress::Start(name) => {
            actions.next_init = Some(name);
            return actions;
        }
        InitProgress::Failed(name) => {
            if policy == "Never" {
                actions.init_failed = true;
                actions.kill_pod = true;
            } else {
                actions.next_init = Some(name);
            }
            return actions;
        }
    }

    // Sidecars keep running beside the app containers.
    for sidecar in init.iter().filter(|c| is_sidecar(c)) {
        if runtime.latest(&sidecar.name).is_none_or(|i| !i.is_running()) {
            actions.restart_sidecars.push(sidecar.name.clone());
        }
    }

    // 3. App containers.
    let mut keep = 0;
    for container in &spec.containers {
        let Some(latest) = runtime.latest(&container.name) else {
            actions.start.push(container.name.clone());
            continue;
        };
        if !latest.is_running() {
            if should_restart(policy, latest) {
                actions.start.push(container.name.clone());
            }
            continue;
        }
        let why = if probes.liveness_failed(latest.id()) {
            Some(format!("Container {} failed liveness probe", container.name))
        } else if probes.startup_failed(latest.id()) {
            Some(format!("Container {} failed startup probe", container.name))
        } else if latest.hash().is_some_and(|h| h != hash_container(container)) {
            Some(format!("Container {} definition changed", container.name))
        } else {
            None
        };
        match why {
            None => keep += 1,
            Some(message) => {
                let restart = policy != "Never";
                let message = if restart { format!("{message}, will be restarted") } else { message };
                actions.kill.push(Kill { id: latest.id().to_string(), name: container.name.clone(), message });
                if restart {
                    actions.start.push(container.name.clone());
                }
            }
        }
    }

    // 4. Nothing runs and nothing will: the pod is done (its sidecars are stopped with it).
    if keep == 0 && actions.start.is_empty() {
        actions.kill_pod = true;
        actions.restart_sidecars.clear();
    }
    actions
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;
    use crate::naming::ContainerIdentity;
    use crate::runtime::{Container as Docker, ContainerState};

    fn pod(policy: &str, init: &[&str], app: &[&str]) -> Pod {
        let list =
            |names: &[&str]| names.iter().map(|n| json!({"name": n, "image": "skiff/demo-web:v1"})).collect::<Vec<_>>();
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"restartPolicy": policy, "initContainers": list(init), "containers": list(app)}
        }))
        .unwrap()
    }

    /// `("web", 1, "running")`, `("init", 0, "exited:1")`, `("POD", 0, "exited:0")`.
    fn runtime(instances: &[(&str, u32, &str)]) -> PodRuntime {
        let containers = instances
            .iter()
            .map(|(name, attempt, state)| {
                let identity = ContainerIdentity {
                    pod_name: "web".into(),
                    namespace: "default".into(),
                    pod_uid: "u1".into(),
                    container: name.to_string(),
                    attempt: *attempt,
                };
                let (state, code) = match state.split_once(':') {
                    Some(("exited", code)) => (ContainerState::Exited, code.parse().unwrap()),
                    _ if *state == "created" => (ContainerState::Created, 0),
                    _ => (ContainerState::Running, 0),
                };
                Docker {
                    id: format!("{name}-{attempt}"),
                    name: identity.docker_name(),
                    labels: identity.labels(&crate::naming::Scope::new("node-1", "c1")),
                    state,
                    image: String::new(),
                    image_id: String::new(),
                    created_at: None,
                    started_at: None,
                    finished_at: None,
                    exit_code: code,
                    oom_killed: false,
                    error: String::new(),
                    start_failed: false,
                    ip: None,
                }
            })
            .collect();
        PodRuntime::from_containers(containers)
    }

    struct Failing(HashSet<&'static str>);
    impl ProbeVerdicts for Failing {
        fn liveness_failed(&self, id: &str) -> bool {
            self.0.contains(id)
        }
        fn startup_failed(&self, _: &str) -> bool {
            false
        }
    }

    fn actions(kill_pod: bool, sandbox: Option<u32>, next_init: Option<&str>, start: &[&str]) -> PodActions {
        PodActions {
            kill_pod,
            create_sandbox: sandbox,
            next_init: next_init.map(str::to_string),
            start: start.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn pod_actions_follow_compute_pod_actions() {
        let cases: Vec<(&str, Pod, PodRuntime, PodActions)> = vec![
            (
                "a new pod gets a pause container and all its containers",
                pod("Always", &[], &["web", "side"]),
                runtime(&[]),
                actions(false, Some(0), None, &["web", "side"]),
            ),
            (
                "a new pod with init containers starts the first one only",
                pod("Always", &["a", "b"], &["web"]),
                runtime(&[]),
                actions(false, Some(0), Some("a"), &[]),
            ),
            (
                "everything running: nothing to do",
                pod("Always", &[], &["web"]),
                runtime(&[("POD", 0, "running"), ("web", 0, "running")]),
                actions(false, None, None, &[]),
            ),
            (
                "a dead pause container: kill what runs, new attempt",
                pod("Always", &[], &["web"]),
                runtime(&[("POD", 0, "exited:0"), ("web", 0, "running")]),
                actions(true, Some(1), None, &["web"]),
            ),
            (
                "a Never pod that already ran gets no new pause container",
                pod("Never", &[], &["web"]),
                runtime(&[("POD", 0, "exited:0"), ("web", 0, "exited:0")]),
                actions(false, None, None, &[]),
            ),
            (
                "the first init container succeeded: the second is next",
                pod("Always", &["a", "b"], &["web"]),
                runtime(&[("POD", 0, "running"), ("a", 0, "exited:0")]),
                actions(false, None, Some("b"), &[]),
            ),
            (
                "an init container runs: wait",
                pod("Always", &["a", "b"], &["web"]),
                runtime(&[("POD", 0, "running"), ("a", 0, "running")]),
                actions(false, None, None, &[]),
            ),
            (
                "a failed init container is retried",
                pod("OnFailure", &["a"], &["web"]),
                runtime(&[("POD", 0, "running"), ("a", 0, "exited:1")]),
                actions(false, None, Some("a"), &[]),
            ),
            (
                "init done: the app containers start",
                pod("Always", &["a"], &["web"]),
                runtime(&[("POD", 0, "running"), ("a", 0, "exited:0")]),
                actions(false, None, None, &["web"]),
            ),
            (
                "Always restarts a container that exited 0",
                pod("Always", &[], &["web"]),
                runtime(&[("POD", 0, "running"), ("web", 0, "exited:0")]),
                actions(false, None, None, &["web"]),
            ),
            (
                "OnFailure restarts a failed container",
                pod("OnFailure", &[], &["web"]),
                runtime(&[("POD", 0, "running"), ("web", 0, "exited:2")]),
                actions(false, None, None, &["web"]),
            ),
            (
                "OnFailure leaves a succeeded one: the pod is done",
                pod("OnFailure", &[], &["web"]),
                runtime(&[("POD", 0, "running"), ("web", 0, "exited:0")]),
                actions(true, None, None, &[]),
            ),
            (
                "Never restarts nothing: the pod is done",
                pod("Never", &[], &["web"]),
                runtime(&[("POD", 0, "running"), ("web", 0, "exited:1")]),
                actions(true, None, None, &[]),
            ),
            (
                "one container left running keeps the pod",
                pod("Never", &[], &["web", "side"]),
                runtime(&[("POD", 0, "running"), ("web", 0, "exited:1"), ("side", 0, "running")]),
                actions(false, None, None, &[]),
            ),
            (
                "a container that never started is a failure",
                pod("OnFailure", &[], &["web"]),
                runtime(&[("POD", 0, "running"), ("web", 0, "created")]),
                actions(false, None, None, &["web"]),
            ),
        ];
        for (name, pod, runtime, want) in cases {
            assert_eq!(compute_pod_actions(&pod, &runtime, &NoProbes), want, "{name}");
        }
    }

    fn with_sidecar(mut pod: Pod) -> Pod {
        let spec = pod.spec.as_mut().unwrap();
        let init = spec.init_containers.get_or_insert_with(Vec::new);
        init.insert(
            0,
            serde_json::from_value(json!({"name": "proxy", "image": "i", "restartPolicy": "Always"})).unwrap(),
        );
        pod
    }

    #[test]
    fn sidecars_start_first_stay_running_and_restart_whatever_the_policy() {
        let pod = with_sidecar(pod("Never", &["setup"], &["web"]));
        let cases: Vec<(&str, PodRuntime, PodActions)> = vec![
            (
                "a running sidecar lets the next init container start",
                runtime(&[("POD", 0, "running"), ("proxy", 0, "running")]),
                actions(false, None, Some("setup"), &[]),
            ),
            (
                "a sidecar that exited during init starts again, even under Never",
                runtime(&[("POD", 0, "running"), ("proxy", 0, "exited:1")]),
                actions(false, None, Some("proxy"), &[]),
            ),
            (
                "init done: the app starts, the sidecar keeps running",
                runtime(&[("POD", 0, "running"), ("proxy", 0, "running"), ("setup", 0, "exited:0")]),
                actions(false, None, None, &["web"]),
            ),
        ];
        for (name, runtime, want) in cases {
            assert_eq!(compute_pod_actions(&pod, &runtime, &NoProbes), want, "{name}");
        }
        let exited = runtime(&[
            ("POD", 0, "running"),
            ("proxy", 1, "exited:1"),
            ("setup", 0, "exited:0"),
            ("web", 0, "running"),
        ]);
        let got = compute_pod_actions(&pod, &exited, &NoProbes);
        assert_eq!(got.restart_sidecars, vec!["proxy"], "restarted beside the running app");
        let done = runtime(&[
            ("POD", 0, "running"),
            ("proxy", 0, "running"),
            ("setup", 0, "exited:0"),
            ("web", 0, "exited:0"),
        ]);
        let got = compute_pod_actions(&pod, &done, &NoProbes);
        assert!(got.kill_pod && got.restart_sidecars.is_empty(), "the app is done: the sidecar goes with the pod");
    }

    #[test]
    fn a_failed_init_container_fails_a_never_pod() {
        let got = compute_pod_actions(
            &pod("Never", &["a"], &["web"]),
            &runtime(&[("POD", 0, "running"), ("a", 0, "exited:1")]),
            &NoProbes,
        );
        assert!(got.init_failed && got.kill_pod && got.next_init.is_none());
    }

    #[test]
    fn a_failed_liveness_probe_kills_and_restarts_unless_never() {
        let running = runtime(&[("POD", 0, "running"), ("web", 3, "running")]);
        let probes = Failing(HashSet::from(["web-3"]));
        let got = compute_pod_actions(&pod("Always", &[], &["web"]), &running, &probes);
        assert_eq!(
            got.kill,
            vec![Kill {
                id: "web-3".into(),
                name: "web".into(),
                message: "Container web failed liveness probe, will be restarted".into()
            }]
        );
        assert_eq!(got.start, vec!["web"]);
        let never = compute_pod_actions(&pod("Never", &[], &["web"]), &running, &probes);
        assert_eq!(never.kill[0].message, "Container web failed liveness probe");
        assert!(never.start.is_empty() && never.kill_pod);
    }
}
