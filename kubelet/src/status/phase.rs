//! A pod's phase and conditions, from its container statuses.
//!
//! Mirrors `getPhase` in `pkg/kubelet/kubelet_pods.go` and `pkg/kubelet/status/generate.go`
//! (`GeneratePodInitializedCondition`, `GenerateContainersReadyCondition`,
//! `GeneratePodReadyCondition`, `GeneratePodReadyToStartContainersCondition`).
//!
//! The phase, counted over the statuses:
//!
//! - an init container failed (exited non-zero, or is waiting after such an exit) and the
//!   policy is `Never` → **Failed**;
//! - an init container has not finished, or an app container waits without ever having run →
//!   **Pending**;
//! - every app container has a status and one runs → **Running**;
//! - none runs and all stopped: all succeeded → **Succeeded**; under `Always` they are being
//!   restarted → **Running**; under `Never` with a failure → **Failed**; under `OnFailure` the
//!   failed ones are being restarted → **Running**;
//! - otherwise → **Pending**.
//!
//! Sidecars (init containers with `restartPolicy: Always`) count as initialized once started,
//! and their readiness counts for `Ready`.
//!
//! Left out: readiness gates, resize conditions.

use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub fn get_phase(spec: &PodSpec, init: &[ContainerStatus], containers: &[ContainerStatus]) -> &'static str {
    let find = |list: &[ContainerStatus], name: &str| list.iter().find(|s| s.name == name).cloned();
    let mut pending_init = 0;
    let mut failed_init = 0;
    for container in spec.init_containers.iter().flatten() {
        let Some(status) = find(init, &container.name) else {
            pending_init += 1;
            continue;
        };
        if crate::pod_actions::is_sidecar(container) {
            // A sidecar is initialized once it started; its later exits are restarts.
            if status.started != Some(true) && !app_started(spec, containers) {
                pending_init += 1;
            }
            continue;
        }
        let state = status.state.clone().unwrap_or_default();
        let last_failed = status.last_state.as_ref().and_then(|l| l.terminated.as_ref()).map(|t| t.exit_code != 0);
        if state.running.is_some() {
            pending_init += 1;
        } else if let Some(terminated) = state.terminated {
            if terminated.exit_code != 0 {
                failed_init += 1;
            }
        } else if state.waiting.is_some() {
            match last_failed {
                Some(true) => failed_init += 1,
                Some(false) => {}
                None => pending_init += 1,
            }
        } else {
            pending_init += 1;
        }
    }

    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for container in &spec.containers {
        let Some(status) = find(containers, &container.name) else {
            unknown += 1;
            continue;
        };
        let state = status.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(terminated) = state.terminated {
            stopped += 1;
            if terminated.exit_code == 0 {
                succeeded += 1;
            }
        } else if state.waiting.is_some() {
            if status.last_state.as_ref().is_some_and(|l| l.terminated.is_some()) {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }

    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    if failed_init > 0 && policy == "Never" {
        return "Failed";
    }
    if pending_init > 0 || waiting > 0 {
        return "Pending";
    }
    if running > 0 && unknown == 0 {
        return "Running";
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        return match policy {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        };
    }
    "Pending"
}

/// Whether an app container ever ran (initialization is then over).
fn app_started(spec: &PodSpec, containers: &[ContainerStatus]) -> bool {
    spec.containers.iter().any(|c| {
        containers.iter().any(|s| {
            s.name == c.name
                && (s.state.as_ref().is_some_and(|st| st.running.is_some() || st.terminated.is_some())
                    || s.last_state.as_ref().is_some_and(|l| l.terminated.is_some()))
        })
    })
}

/// A condition, keeping its transition time from `old` when its status did not change.
pub fn condition(
    old: &[PodCondition],
    kind: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<String>,
    now: &Time,
) -> PodCondition {
    let status = if status { "True" } else { "False" };
    let transition = old
        .iter()
        .find(|c| c.type_ == kind && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    PodCondition {
        type_: kind.into(),
        status: status.into(),
        reason: reason.map(str::to_string),
        message,
        last_transition_time: Some(transition),
        last_probe_time: None,
    }
}

fn listed(kind: &str, names: &[String]) -> String {
    format!("containers with {kind} status: [{}]", names.join(" "))
}

/// `Initialized`, `ContainersReady` and `Ready` (without readiness gates they agree).
pub fn pod_conditions(
    spec: &PodSpec,
    init: &[ContainerStatus],
    containers: &[ContainerStatus],
    phase: &str,
    sandbox_ready: bool,
    old: &[PodCondition],
    now: &Time,
) -> Vec<PodCondition> {
    let mut conditions = vec![condition(old, "PodReadyToStartContainers", sandbox_ready, None, None, now)];

    // Initialized: every init container terminated with 0 (or the app containers already ran).
    let incomplete: Vec<String> = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| {
            let status = init.iter().find(|s| s.name == c.name);
            if crate::pod_actions::is_sidecar(c) {
                return status.is_none_or(|s| s.started != Some(true));
            }
            let done = status.and_then(|s| s.state.clone()).and_then(|s| s.terminated);
            done.is_none_or(|t| t.exit_code != 0)
        })
        .map(|c| c.name.clone())
        .collect();
    let app_ran = containers.iter().any(|s| {
        let state = s.state.clone().unwrap_or_default();
        state.running.is_some()
            || state.terminated.is_some()
            || s.last_state.as_ref().is_some_and(|l| l.terminated.is_some())
    });
    conditions.push(if incomplete.is_empty() || app_ran {
        condition(old, "Initialized", true, None, None, now)
    } else {
        condition(
            old,
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(listed("incomplete", &incomplete)),
            now,
        )
    });

    // ContainersReady and Ready.
    let mut unknown = Vec::new();
    let mut unready = Vec::new();
    let sidecars = spec.init_containers.iter().flatten().filter(|c| crate::pod_actions::is_sidecar(c));
    for sidecar in sidecars {
        if !init.iter().any(|s| s.name == sidecar.name && s.ready) {
            unready.push(sidecar.name.clone());
        }
    }
    for container in &spec.containers {
        match containers.iter().find(|s| s.name == container.name) {
            None => unknown.push(container.name.clone()),
            Some(status) if !status.ready => unready.push(container.name.clone()),
            Some(_) => {}
        }
    }
    let (ready, reason, message) = if phase == "Succeeded" && unknown.is_empty() {
        (false, Some("PodCompleted"), None)
    } else if unknown.is_empty() && unready.is_empty() {
        (true, None, None)
    } else {
        let mut parts = Vec::new();
        if !unknown.is_empty() {
            parts.push(listed("unknown", &unknown));
        }
        if !unready.is_empty() {
            parts.push(listed("unready", &unready));
        }
        (false, Some("ContainersNotReady"), Some(parts.join(", ")))
    };
    conditions.push(condition(old, "Ready", ready, reason, message.clone(), now));
    conditions.push(condition(old, "ContainersReady", ready, reason, message, now));
    conditions.push(condition(old, "PodScheduled", true, None, None, now));
    conditions
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(policy: &str, init: &[&str], app: &[&str]) -> PodSpec {
        let list = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
        serde_json::from_value(json!({"restartPolicy": policy, "initContainers": list(init), "containers": list(app)}))
            .unwrap()
    }

    /// `"running"`, `"exited:1"`, `"waiting"`, `"waiting-after:1"` (waiting, last exit 1).
    fn status(name: &str, state: &str, ready: bool) -> ContainerStatus {
        let (state, last) = match state.split_once(':') {
            Some(("exited", code)) => (json!({"terminated": {"exitCode": code.parse::<i32>().unwrap()}}), json!({})),
            Some(("waiting-after", code)) => (
                json!({"waiting": {"reason": "CrashLoopBackOff"}}),
                json!({"terminated": {"exitCode": code.parse::<i32>().unwrap()}}),
            ),
            _ if state == "running" => (json!({"running": {}}), json!({})),
            _ => (json!({"waiting": {"reason": "ContainerCreating"}}), json!({})),
        };
        serde_json::from_value(json!({"name": name, "state": state, "lastState": last, "ready": ready,
                                      "restartCount": 0, "image": "i", "imageID": ""}))
        .unwrap()
    }

    #[test]
    fn phases_follow_get_phase() {
        type Case = (&'static str, PodSpec, Vec<ContainerStatus>, Vec<ContainerStatus>, &'static str);
        let cases: Vec<Case> = vec![
            ("nothing reported yet", spec("Always", &[], &["web"]), vec![], vec![], "Pending"),
            (
                "a container waits to be created",
                spec("Always", &[], &["web"]),
                vec![],
                vec![status("web", "waiting", false)],
                "Pending",
            ),
            ("running", spec("Always", &[], &["web"]), vec![], vec![status("web", "running", true)], "Running"),
            (
                "an init container runs",
                spec("Always", &["init"], &["web"]),
                vec![status("init", "running", false)],
                vec![status("web", "waiting", false)],
                "Pending",
            ),
            (
                "an init container failed under Never",
                spec("Never", &["init"], &["web"]),
                vec![status("init", "exited:1", false)],
                vec![status("web", "waiting", false)],
                "Failed",
            ),
            (
                "a failed init container waits for its retry under Always",
                spec("Always", &["init"], &["web"]),
                vec![status("init", "waiting-after:1", false)],
                vec![status("web", "waiting", false)],
                "Pending",
            ),
            (
                "all succeeded under Never",
                spec("Never", &[], &["a", "b"]),
                vec![],
                vec![status("a", "exited:0", false), status("b", "exited:0", false)],
                "Succeeded",
            ),
            (
                "one failed under Never",
                spec("Never", &[], &["a", "b"]),
                vec![],
                vec![status("a", "exited:0", false), status("b", "exited:1", false)],
                "Failed",
            ),
            (
                "crash looping under Always is Running",
                spec("Always", &[], &["web"]),
                vec![],
                vec![status("web", "waiting-after:1", false)],
                "Running",
            ),
            (
                "failed and restarting under OnFailure",
                spec("OnFailure", &[], &["web"]),
                vec![],
                vec![status("web", "exited:1", false)],
                "Running",
            ),
            (
                "succeeded under OnFailure",
                spec("OnFailure", &[], &["web"]),
                vec![],
                vec![status("web", "exited:0", false)],
                "Succeeded",
            ),
            (
                "one status missing",
                spec("Always", &[], &["a", "b"]),
                vec![],
                vec![status("a", "running", true)],
                "Pending",
            ),
        ];
        for (name, spec, init, containers, want) in cases {
            assert_eq!(get_phase(&spec, &init, &containers), want, "{name}");
        }
    }

    #[test]
    fn a_started_sidecar_counts_as_initialized() {
        let mut pod = spec("Never", &["proxy"], &["web"]);
        pod.init_containers.as_mut().unwrap()[0].restart_policy = Some("Always".into());
        let mut proxy = status("proxy", "running", true);
        proxy.started = Some(true);
        assert_eq!(get_phase(&pod, std::slice::from_ref(&proxy), &[status("web", "running", true)]), "Running");
        assert_eq!(get_phase(&pod, std::slice::from_ref(&proxy), &[status("web", "exited:0", false)]), "Succeeded");
        proxy.started = Some(false);
        assert_eq!(get_phase(&pod, &[proxy], &[status("web", "waiting", false)]), "Pending", "not started yet");
    }

    fn shown(conditions: &[PodCondition]) -> Vec<String> {
        conditions
            .iter()
            .map(|c| {
                let mut text = format!("{}={}", c.type_, c.status);
                if let Some(reason) = &c.reason {
                    text.push_str(&format!(" {reason}"));
                }
                if let Some(message) = &c.message {
                    text.push_str(&format!(" ({message})"));
                }
                text
            })
            .collect()
    }

    #[test]
    fn conditions_carry_kubernetes_reasons_and_messages() {
        let now = Time(chrono::Utc::now());
        let pod = spec("Always", &["init"], &["web", "side"]);
        let waiting = pod_conditions(
            &pod,
            &[status("init", "running", false)],
            &[status("web", "waiting", false), status("side", "waiting", false)],
            "Pending",
            true,
            &[],
            &now,
        );
        assert_eq!(
            shown(&waiting),
            vec![
                "PodReadyToStartContainers=True",
                "Initialized=False ContainersNotInitialized (containers with incomplete status: [init])",
                "Ready=False ContainersNotReady (containers with unready status: [web side])",
                "ContainersReady=False ContainersNotReady (containers with unready status: [web side])",
                "PodScheduled=True",
            ]
        );
        let ready = pod_conditions(
            &pod,
            &[status("init", "exited:0", false)],
            &[status("web", "running", true), status("side", "running", true)],
            "Running",
            true,
            &waiting,
            &now,
        );
        assert_eq!(shown(&ready)[1..4], ["Initialized=True", "Ready=True", "ContainersReady=True"]);
        let done = pod_conditions(
            &spec("Never", &[], &["web"]),
            &[],
            &[status("web", "exited:0", false)],
            "Succeeded",
            false,
            &[],
            &now,
        );
        assert_eq!(
            shown(&done),
            vec![
                "PodReadyToStartContainers=False",
                "Initialized=True",
                "Ready=False PodCompleted",
                "ContainersReady=False PodCompleted",
                "PodScheduled=True",
            ]
        );
    }

    #[test]
    fn a_condition_keeps_its_transition_time_until_its_status_changes() {
        let t0 = Time(chrono::DateTime::from_timestamp(1_000, 0).unwrap());
        let t1 = Time(chrono::DateTime::from_timestamp(2_000, 0).unwrap());
        let first = condition(&[], "Ready", false, Some("ContainersNotReady"), None, &t0);
        let same = condition(std::slice::from_ref(&first), "Ready", false, Some("ContainersNotReady"), None, &t1);
        assert_eq!(same.last_transition_time, Some(t0));
        let flipped = condition(&[first], "Ready", true, None, None, &t1);
        assert_eq!(flipped.last_transition_time, Some(t1));
    }
}
