//! One sync of one pod: look at everything, do what is missing, report the status.
//!
//! Mirrors `SyncPod`, `SyncTerminatingPod` and `SyncTerminatedPod` in `pkg/kubelet/kubelet.go`
//! with `kuberuntime_manager.go`'s `SyncPod`. A sync of a pod that is **syncing**:
//!
//! 1. read what runs for the pod from Docker ([`PodRuntime::load`]);
//! 2. set up its volumes (a failure: `FailedMount`, try again in 2 s);
//! 3. compute the actions ([`compute_pod_actions`]) and do them in order: kill the pod if its
//!    pause container is gone, create a new pause container, kill containers that failed their
//!    liveness probe, start the next init container or the app containers, each after its
//!    back-off (`CrashLoopBackOff`);
//! 4. start probe workers for running containers, remove old dead instances;
//! 5. generate the status and hand it to the status manager (written only if it changed);
//! 6. say when to sync again: when a back-off ends, or after the resync period.
//!
//! A **terminating** pod (deletion timestamp, or gone from the API) has all its containers
//! stopped gracefully ([`crate::termination`]), then its pause container; its containers are
//! removed, its volumes torn down, and the pod object is deleted with grace 0 and a uid
//! precondition, so that it disappears only once its containers are gone. A **finished** pod
//! (Succeeded/Failed) starts nothing again; its status is kept up to date.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::json;
use skiff_client::events::EventType;
use skiff_client::Api;

use crate::container_start::{self, Target};
use crate::dns;
use crate::events;
use crate::kubelet::{go_duration, Kubelet};
use crate::pod_actions::compute_pod_actions;
use crate::pod_runtime::PodRuntime;
use crate::pod_workers::{PodLifecycle, PodSyncer, SyncOutcome};
use crate::sandbox;
use crate::status::{self, Waiting};
use crate::termination;
use crate::volumes::Prepared;

/// How soon a sync that could not do everything tries again.
const RETRY: Duration = Duration::from_secs(2);

#[async_trait]
impl PodSyncer for Kubelet {
    async fn sync(&self, pod: Arc<Pod>, removed: bool) -> SyncOutcome {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let finished = self.remember(&uid, |m| m.finished);
        let lifecycle = PodLifecycle::of(&pod, removed, finished);
        let started = std::time::Instant::now();
        let outcome = if lifecycle.must_stop_containers() {
            self.sync_terminating_pod(&pod, removed).await
        } else {
            self.sync_pod(&pod, lifecycle).await
        };
        let operation = if lifecycle.must_stop_containers() { "terminate" } else { "sync" };
        self.metrics.pod_worker_duration.with_label_values(&[operation]).observe(started.elapsed().as_secs_f64());
        outcome
    }
}

/// A container's exit time as a tokio instant (back-off is counted from it).
fn exited_at(finished: Option<chrono::DateTime<chrono::Utc>>) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let Some(finished) = finished else { return now };
    let ago = (chrono::Utc::now() - finished).to_std().unwrap_or_default();
    now.checked_sub(ago).unwrap_or(now)
}

impl Kubelet {
    async fn sync_pod(&self, pod: &Arc<Pod>, lifecycle: PodLifecycle) -> SyncOutcome {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let pod_name = events::pod_name(pod);
        self.remember(&uid, |m| {
            m.first_seen.get_or_insert_with(tokio::time::Instant::now);
        });
        let mut view = match PodRuntime::load(&*self.runtime, &self.scope, &uid).await {
            Ok(view) => view,
            Err(err) => {
                tracing::warn!(pod = %pod_name, cause = %err, "cannot read the pod's containers");
                return SyncOutcome::Again(RETRY);
            }
        };
        let mut again = self.config.intervals.resync;

        if lifecycle.can_start_containers() {
            match self.volumes.set_up(pod).await {
                Ok(volumes) => {
                    if let Some(next) = self.run_actions(pod, &mut view, &volumes).await {
                        again = again.min(next);
                    }
                }
                Err(err) => {
                    self.events.pod(pod, EventType::Warning, events::FAILED_MOUNT, &err.to_string()).await;
                    again = RETRY;
                }
            }
        } else if view.running().next().is_some() {
            // Finished: whatever still runs (the pause container) is stopped.
            termination::kill_pod(self, pod, &view, termination::MIN_GRACE).await;
            view = PodRuntime::load(&*self.runtime, &self.scope, &uid).await.unwrap_or(view);
        }

        self.clean_up_instances(&view).await;
        let running: HashSet<String> = view.running().map(|i| i.id().to_string()).collect();
        self.probes.retain(&uid, &running);
        let status = self.write_status(pod, &view).await;
        let phase = status.phase.clone().unwrap_or_default();
        if matches!(phase.as_str(), "Succeeded" | "Failed") {
            self.remember(&uid, |m| m.finished = true);
            if view.running().next().is_some() {
                again = Duration::ZERO;
            }
        }
        self.observe_start(pod, &status);
        SyncOutcome::Again(again)
    }

    /// Step 3 of a sync; when the next sync is due, if sooner than the resync.
    async fn run_actions(
        &self,
        pod: &Arc<Pod>,
        view: &mut PodRuntime,
        volumes: &std::collections::HashMap<String, Prepared>,
    ) -> Option<Duration> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let actions = compute_pod_actions(pod, view, &self.probes);
        let grace = termination::grace_period(pod);
        let mut next: Option<Duration> = None;
        if actions.kill_pod {
            if actions.create_sandbox.is_some() && view.sandbox().is_some() {
                let message = "Pod sandbox changed, it will be killed and re-created.";
                self.events.pod(pod, EventType::Normal, events::SANDBOX_CHANGED, message).await;
            }
            termination::kill_pod(self, pod, view, grace).await;
        }
        if let Some(attempt) = actions.create_sandbox {
            if let Some(old) = view.sandbox().and_then(|s| s.container.labels.get(crate::naming::POD_IP)) {
                if let (Some(ips), Ok(old)) = (&self.pod_ips, old.parse()) {
                    ips.release(old);
                }
            }
            if let Err(err) = sandbox::create_sandbox(self, pod, attempt).await {
                let message = format!("Failed to create pod sandbox: {err}");
                self.events.pod(pod, EventType::Warning, events::FAILED_CREATE_POD_SANDBOX, &message).await;
                return Some(RETRY);
            }
            *view = match PodRuntime::load(&*self.runtime, &self.scope, &uid).await {
                Ok(view) => view,
                Err(_) => return Some(RETRY),
            };
        }
        let Some(sandbox) = view.running_sandbox().cloned() else { return Some(RETRY) };
        let pod_ip = view.pod_ip().map(|ip| ip.to_string()).unwrap_or_default();
        let pod_ip_addr = pod_ip.clone();
        for kill in &actions.kill {
            if let Some(instance) = view.all().find(|i| i.id() == kill.id).cloned() {
                termination::kill_container(self, pod, &instance, &pod_ip_addr, grace, &kill.message).await;
            }
        }
        if !actions.kill.is_empty() {
            *view = PodRuntime::load(&*self.runtime, &self.scope, &uid).await.unwrap_or(view.clone());
        }
        let resolv = self.write_resolv_conf(pod);
        let spec = pod.spec.clone().unwrap_or_default();
        let mut to_start: Vec<(Container, bool)> = Vec::new();
        let init = spec.init_containers.iter().flatten();
        let restarted =
            |c: &&Container| actions.next_init.as_ref() == Some(&c.name) || actions.restart_sidecars.contains(&c.name);
        to_start.extend(init.filter(restarted).map(|c| (c.clone(), true)));
        to_start.extend(spec.containers.iter().filter(|c| actions.start.contains(&c.name)).map(|c| (c.clone(), false)));
        for (container, init) in to_start {
            let target = Target {
                sandbox_id: sandbox.id(),
                pod_ip: &pod_ip,
                attempt: 0,
                init,
                volumes,
                resolv_conf: resolv.as_deref(),
            };
            if let Some(due) = self.start_with_back_off(pod, view, &container, target).await {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        *view = PodRuntime::load(&*self.runtime, &self.scope, &uid).await.unwrap_or(view.clone());
        self.ensure_probes(pod, view);
        next
    }

    /// Starts a container unless its back-off says to wait; when to look again, if it waits
    /// or failed.
    async fn start_with_back_off(
        &self,
        pod: &Arc<Pod>,
        view: &PodRuntime,
        container: &Container,
        mut target: Target<'_>,
    ) -> Option<Duration> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let name = &container.name;
        let latest = view.latest(name);
        target.attempt = match latest {
            Some(latest) => latest.identity.attempt + 1,
            None => self.restart_count_from_status(pod, name).map(|c| c + 1).unwrap_or(0),
        };
        if let Some(latest) = latest.filter(|l| !l.is_running()) {
            let key = format!("{uid}_{name}");
            let since = exited_at(latest.container.finished_at);
            let now = tokio::time::Instant::now();
            let waiting = {
                let mut backoff = self.restart_backoff.lock();
                if backoff.is_in_back_off_since(&key, since, now) {
                    Some((backoff.get(&key), backoff.ends_at(&key, since)))
                } else {
                    backoff.next(&key, since);
                    None
                }
            };
            if let Some((delay, ends)) = waiting {
                let pod_name = events::pod_name(pod);
                let message =
                    format!("back-off {} restarting failed container={name} pod={pod_name}", go_duration(delay));
                self.remember(&uid, |m| {
                    m.waiting.insert(name.clone(), Waiting { reason: events::CRASH_LOOP_BACK_OFF.into(), message })
                });
                let text = format!("Back-off restarting failed container {name} in pod {pod_name}");
                self.events.container(pod, name, EventType::Warning, events::BACK_OFF, &text).await;
                return Some(ends.saturating_duration_since(now) + Duration::from_millis(100));
            }
        }
        match container_start::start_container(self, pod, container, &target).await {
            Ok(_) => {
                self.remember(&uid, |m| m.waiting.remove(name));
                None
            }
            Err(waiting) => {
                tracing::info!(pod = %events::pod_name(pod), container = %name, reason = %waiting.reason, message = %waiting.message, "container cannot start yet");
                self.remember(&uid, |m| m.waiting.insert(name.clone(), waiting));
                Some(RETRY)
            }
        }
    }

    /// The restart count the pod's status showed, for a container whose instances are gone.
    fn restart_count_from_status(&self, pod: &Pod, name: &str) -> Option<u32> {
        let status = pod.status.as_ref()?;
        let all = status.container_statuses.iter().flatten().chain(status.init_container_statuses.iter().flatten());
        all.filter(|s| s.name == name && s.container_id.is_some()).map(|s| s.restart_count as u32).next()
    }

    fn write_resolv_conf(&self, pod: &Pod) -> Option<std::path::PathBuf> {
        let text = dns::resolv_conf(pod, self.config.cluster_dns, &self.config.cluster_domain)?;
        let path = self.volumes.pod_dir(pod.metadata.uid.as_deref().unwrap_or_default()).join("resolv.conf");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if let Err(err) = std::fs::write(&path, text) {
                tracing::warn!(cause = %err, "cannot write the pod's resolv.conf");
                return None;
            }
        }
        Some(path)
    }

    fn ensure_probes(&self, pod: &Arc<Pod>, view: &PodRuntime) {
        let Some(pod_ip) = view.pod_ip().map(|ip| ip.to_string()) else { return };
        let spec = pod.spec.clone().unwrap_or_default();
        let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
        let sidecars = spec.init_containers.iter().flatten().filter(|c| crate::pod_actions::is_sidecar(c));
        let statuses: Vec<_> = statuses
            .into_iter()
            .chain(pod.status.as_ref().and_then(|s| s.init_container_statuses.clone()).unwrap_or_default())
            .collect();
        for container in spec.containers.iter().chain(sidecars) {
            let Some(latest) = view.latest(&container.name).filter(|l| l.is_running()) else { continue };
            let docker_id = format!("docker://{}", latest.id());
            let was_ready = statuses.iter().any(|s| s.ready && s.container_id.as_deref() == Some(docker_id.as_str()));
            self.probes.ensure(pod, container, latest.id(), &pod_ip, was_ready);
        }
    }

    /// Removes old dead instances (one dead instance per container is kept, for `lastState`
    /// and `kubectl logs --previous`).
    async fn clean_up_instances(&self, view: &PodRuntime) {
        for instance in view.garbage() {
            if let Err(err) = self.runtime.remove_container(instance.id()).await {
                if !err.is_not_found() {
                    tracing::debug!(container = %instance.container.name, cause = %err, "cannot remove an old instance");
                }
            }
        }
    }

    async fn write_status(&self, pod: &Pod, view: &PodRuntime) -> k8s_openapi::api::core::v1::PodStatus {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let old = self.status.last(&uid).or_else(|| pod.status.clone()).unwrap_or_default();
        let waiting = self.remember(&uid, |m| m.waiting.clone());
        let image_refs = self.image_refs.lock().clone();
        let host_ip = self.host_ip.to_string();
        let computed = status::generate(&status::Inputs {
            pod,
            old: &old,
            runtime: view,
            waiting: &waiting,
            probes: &self.probes,
            image_refs: &image_refs,
            host_ip: &host_ip,
            now: chrono::Utc::now(),
        });
        if let Err(err) = self.status.set(pod, computed.clone()).await {
            tracing::warn!(pod = %events::pod_name(pod), cause = %err, "cannot write the pod status; the next sync retries");
        }
        computed
    }

    fn observe_start(&self, pod: &Pod, status: &k8s_openapi::api::core::v1::PodStatus) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let all_running =
            status.container_statuses.iter().flatten().all(|s| s.state.as_ref().is_some_and(|st| st.running.is_some()));
        if status.phase.as_deref() == Some("Running") && all_running {
            let elapsed = self.remember(&uid, |m| {
                if m.start_observed {
                    return None;
                }
                m.start_observed = true;
                m.first_seen.map(|at| at.elapsed())
            });
            if let Some(elapsed) = elapsed {
                self.metrics.pod_start_duration.observe(elapsed.as_secs_f64());
            }
        }
    }

    /// Stops and removes everything of a pod being deleted, then deletes the pod object.
    async fn sync_terminating_pod(&self, pod: &Arc<Pod>, removed: bool) -> SyncOutcome {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let pod_name = events::pod_name(pod);
        let view = match PodRuntime::load(&*self.runtime, &self.scope, &uid).await {
            Ok(view) => view,
            Err(err) => {
                tracing::warn!(pod = %pod_name, cause = %err, "cannot read the containers of a terminating pod");
                return SyncOutcome::Again(RETRY);
            }
        };
        let grace = termination::grace_period(pod);
        tracing::info!(pod = %pod_name, grace = ?grace, "stopping the pod");
        termination::kill_pod(self, pod, &view, grace).await;
        self.probes.remove_pod(&uid);
        for instance in view.all() {
            if let Err(err) = self.runtime.remove_container(instance.id()).await {
                if !err.is_not_found() {
                    tracing::warn!(pod = %pod_name, cause = %err, "cannot remove a container; retrying");
                    return SyncOutcome::Again(RETRY);
                }
            }
        }
        if let (Some(ips), Some(ip)) =
            (&self.pod_ips, view.sandbox().and_then(|s| s.container.labels.get(crate::naming::POD_IP)))
        {
            if let Ok(ip) = ip.parse() {
                ips.release(ip);
            }
        }
        self.volumes.tear_down(&uid);
        if !removed {
            let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
            let name = pod.metadata.name.clone().unwrap_or_default();
            let options = json!({"gracePeriodSeconds": 0, "preconditions": {"uid": uid}});
            match pods.delete(&name, &options).await {
                Ok(_) => tracing::info!(pod = %pod_name, "pod stopped and deleted"),
                Err(err) if err.is_not_found() || err.is_conflict() => {}
                Err(err) => {
                    tracing::warn!(pod = %pod_name, cause = %err, "cannot delete the pod object; retrying");
                    return SyncOutcome::Again(RETRY);
                }
            }
        }
        self.forget(&uid);
        SyncOutcome::Done
    }
}
