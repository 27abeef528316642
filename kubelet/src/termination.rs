//! Stopping containers and pods, gracefully.
//!
//! Mirrors `killContainer`, `executePreStopHook` and `killPodWithSyncResult` in
//! `pkg/kubelet/kuberuntime/kuberuntime_container.go` / `kuberuntime_manager.go`. Stopping one
//! container, within its grace period:
//!
//! 1. event `Killing` ("Stopping container web", or why: "Container web failed liveness probe,
//!    will be restarted");
//! 2. the `preStop` hook (exec or httpGet), if the container has one, bounded by the grace
//!    period; what it used is taken off the period (but at least 2 s remain, as upstream);
//! 3. SIGTERM, and SIGKILL when the rest of the grace period is over (`docker stop -t`).
//!
//! A pod is stopped by stopping all its containers at once, then its pause container. A pod
//! being **deleted** first waits until it is out of rotation (`skiff_client::rotation`): no
//! EndpointSlice lists it as ready and every proxy has applied that, so no new connection can
//! reach it once its process stops accepting them — at most half its grace period, the rest
//! being the containers'. Kubernetes has no such step (removal from the endpoints races with
//! SIGTERM there, and users add `preStop: sleep` to hide it); it is what makes Skiff's rolling
//! updates lose no request.

use std::time::{Duration, Instant};

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use skiff_client::events::EventType;
use skiff_client::rotation::{self, Rotation};

use crate::events;
use crate::kubelet::Kubelet;
use crate::pod_runtime::{Instance, PodRuntime};

/// The least time a container gets between SIGTERM and SIGKILL (`minimumGracePeriodInSeconds`).
pub const MIN_GRACE: Duration = Duration::from_secs(2);

/// The grace period of a pod: the deletion's (`metadata.deletionGracePeriodSeconds`), else its
/// spec's, else 30 s.
pub fn grace_period(pod: &Pod) -> Duration {
    let seconds = pod
        .metadata
        .deletion_grace_period_seconds
        .or(pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(30);
    Duration::from_secs(seconds.max(0) as u64)
}

/// Stops one container within `grace`, with `message` as the `Killing` event.
pub async fn kill_container(
    kubelet: &Kubelet,
    pod: &Pod,
    instance: &Instance,
    pod_ip: &str,
    grace: Duration,
    message: &str,
) {
    let name = &instance.identity.container;
    kubelet.events.container(pod, name, EventType::Normal, events::KILLING, message).await;
    let started = Instant::now();
    let spec = pod.spec.as_ref();
    let container = spec
        .into_iter()
        .flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()))
        .find(|c| &c.name == name);
    // 2. preStop.
    if let Some(hook) = container.and_then(|c| c.lifecycle.as_ref()).and_then(|l| l.pre_stop.as_ref()) {
        if instance.is_running() {
            let container = container.expect("found above");
            let ran =
                crate::hooks::run_hook(&*kubelet.runtime, pod, hook, container, instance.id(), pod_ip, grace).await;
            if let Err(message) = ran {
                kubelet.events.container(pod, name, EventType::Warning, events::FAILED_PRE_STOP_HOOK, &message).await;
            }
        }
    }
    // 3. SIGTERM, then SIGKILL at the end of what remains of the grace period.
    let remaining = grace.saturating_sub(started.elapsed()).max(MIN_GRACE);
    if let Err(err) = kubelet.runtime.stop_container(instance.id(), remaining).await {
        if !err.is_not_found() {
            tracing::warn!(container = %instance.container.name, cause = %err, "stopping a container failed");
        }
    }
}

/// Stops every running container of the pod at once, then its pause container.
pub async fn kill_pod(kubelet: &Kubelet, pod: &Pod, runtime: &PodRuntime, grace: Duration) {
    let started = Instant::now();
    if pod.metadata.deletion_timestamp.is_some() && runtime.containers.values().flatten().any(|i| i.is_running()) {
        match rotation::wait_out_of_rotation(&kubelet.client, pod, grace / 2).await {
            Rotation::TimedOut { waiting_for } => {
                tracing::warn!(pod = ?pod.metadata.name, ?waiting_for, "still in rotation when its wait ran out; stopping it anyway")
            }
            outcome => tracing::debug!(pod = ?pod.metadata.name, ?outcome, waited = ?started.elapsed(), "out of rotation"),
        }
    }
    let grace = grace.saturating_sub(started.elapsed());
    let pod_ip = runtime.pod_ip().map(|ip| ip.to_string()).unwrap_or_default();
    let containers: Vec<&Instance> = runtime.containers.values().flatten().filter(|i| i.is_running()).collect();
    join_all(containers.into_iter().map(|instance| {
        let message = format!("Stopping container {}", instance.identity.container);
        let pod_ip = pod_ip.clone();
        async move { kill_container(kubelet, pod, instance, &pod_ip, grace, &message).await }
    }))
    .await;
    for sandbox in runtime.sandboxes.iter().filter(|s| s.is_running()) {
        // pause exits at once on SIGTERM.
        if let Err(err) = kubelet.runtime.stop_container(sandbox.id(), MIN_GRACE).await {
            if !err.is_not_found() {
                tracing::warn!(sandbox = %sandbox.container.name, cause = %err, "stopping a pause container failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::naming::ContainerIdentity;
    use crate::runtime::fake::FakeRuntime;
    use crate::runtime::{ContainerConfig, ContainerState};

    #[tokio::test]
    async fn a_pod_stops_its_containers_after_their_pre_stop_hooks_then_its_pause_container() {
        let runtime = FakeRuntime::new();
        let make = |container: &str| {
            let identity = ContainerIdentity {
                pod_name: "web".into(),
                namespace: "default".into(),
                pod_uid: "u1".into(),
                container: container.into(),
                attempt: 0,
            };
            ContainerConfig { name: identity.docker_name(), labels: identity.labels(&crate::naming::Scope::new("node-1", "c1")), ..Default::default() }
        };
        runtime.insert_container(make("POD"), ContainerState::Running);
        runtime.insert_container(make("web"), ContainerState::Running);
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "deletionGracePeriodSeconds": 7},
            "spec": {"containers": [{"name": "web", "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 1"]}}}}]}
        }))
        .unwrap();
        let kubelet = crate::kubelet::Kubelet::for_tests(Arc::new(runtime.clone()), None);
        let view = PodRuntime::load(&runtime, &crate::naming::Scope::new("node-1", "c1"), "u1").await.unwrap();
        runtime.clear_calls();
        kill_pod(&kubelet, &pod, &view, grace_period(&pod)).await;
        let calls: Vec<String> = runtime.calls().into_iter().filter(|c| !c.starts_with("inspect")).collect();
        assert_eq!(
            calls,
            vec![
                "exec k8s_web_web_default_u1_0 sh -c sleep 1",
                "stop_container k8s_web_web_default_u1_0 7s",
                "stop_container k8s_POD_web_default_u1_0 2s",
            ]
        );
    }

    #[test]
    fn the_grace_period_is_the_deletions_then_the_specs_then_30_seconds() {
        let pod = |meta: serde_json::Value, spec: serde_json::Value| -> Pod {
            let mut spec = spec;
            spec["containers"] = json!([]);
            serde_json::from_value(json!({"metadata": meta, "spec": spec})).unwrap()
        };
        assert_eq!(grace_period(&pod(json!({}), json!({}))), Duration::from_secs(30));
        assert_eq!(grace_period(&pod(json!({}), json!({"terminationGracePeriodSeconds": 5}))), Duration::from_secs(5));
        assert_eq!(
            grace_period(&pod(json!({"deletionGracePeriodSeconds": 1}), json!({"terminationGracePeriodSeconds": 5}))),
            Duration::from_secs(1)
        );
    }
}
