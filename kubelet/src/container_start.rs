//! Starting one container of a pod: image, environment, mounts, create, start, events.
//!
//! Mirrors `startContainer` and `generateContainerConfig` in
//! `pkg/kubelet/kuberuntime/kuberuntime_container.go`:
//!
//! 1. make sure the image is there ([`crate::images`]);
//! 2. build the environment ([`crate::env`], ConfigMaps and Secrets read from the API) and the
//!    mounts ([`crate::volumes::mounts`]); a missing ConfigMap is `CreateContainerConfigError`;
//! 3. create the container, joined to the pause container's network namespace, named and
//!    labelled as [`crate::naming`] says, with Docker's CPU and memory limits from the
//!    container's resources; event `Created`;
//! 4. start it; event `Started`;
//! 5. run its `postStart` hook ([`crate::hooks`]); a failure (`FailedPostStartHook`) stops the
//!    container again, and it is restarted as a crashed one would be.
//!
//! A failed step records a `Failed` event (`Error: …`) and returns the waiting reason the pod
//! status shows until the next try. A container the runtime refuses to start (a `command` that
//! is not there) is left in place: the runtime reports it exited with 128, and the status shows
//! it `terminated` with reason `StartError` ([`crate::runtime::Container::start_failed`]), so it
//! fails a `Never` pod and is restarted with back-off otherwise, as a crashed container is.
//!
//! From `securityContext` only `runAsUser` and `runAsGroup` (the container's, else the pod's)
//! are applied.
//!
//! Left out: the rest of `securityContext` (capabilities, privileged, read-only root, SELinux),
//! the termination message file, `ephemeral-storage` limits, `hostPort`.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use skiff_api::quantity::Quantity as Amount;
use skiff_client::events::EventType;
use skiff_client::reflector::ObjectKey;
use skiff_client::Api;

use crate::env::{self, Objects, PodFacts};
use crate::events;
use crate::images;
use crate::kubelet::Kubelet;
use crate::naming::{self, ContainerIdentity};
use crate::runtime::{ContainerConfig, NetworkMode};
use crate::service_links;
use crate::status::Waiting;
use crate::volumes::{self, Prepared};

/// Where the container goes.
pub struct Target<'a> {
    pub sandbox_id: &'a str,
    pub pod_ip: &'a str,
    pub attempt: u32,
    pub init: bool,
    pub volumes: &'a HashMap<String, Prepared>,
    pub resolv_conf: Option<&'a std::path::Path>,
}

fn waiting(reason: &str, message: impl Into<String>) -> Waiting {
    Waiting { reason: reason.into(), message: message.into() }
}

/// Docker's limits from the container's resources: memory in bytes, CPU limit in nano-CPUs, CPU
/// request as shares (1024 per core, at least 2, as the kubelet computes `cpu.shares`).
pub fn docker_resources(container: &Container) -> (Option<i64>, Option<i64>, Option<i64>) {
    let resources = container.resources.clone().unwrap_or_default();
    let get =
        |map: &Option<std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
         key: &str| map.as_ref().and_then(|m| m.get(key)).and_then(|q| Amount::parse(&q.0).ok());
    let memory = get(&resources.limits, "memory").map(|q| q.value()).filter(|m| *m > 0);
    let nano_cpus = get(&resources.limits, "cpu").map(|q| q.milli_value() * 1_000_000).filter(|n| *n > 0);
    let request = get(&resources.requests, "cpu").or_else(|| get(&resources.limits, "cpu"));
    let shares = request.map(|q| (q.milli_value() * 1024 / 1000).max(2));
    (memory, nano_cpus, shares)
}

/// `runAsUser` / `runAsGroup` (the container's, else the pod's) as Docker's `uid[:gid]`.
pub fn run_as(pod: &Pod, container: &Container) -> Option<String> {
    let pod_context = pod.spec.as_ref().and_then(|s| s.security_context.clone()).unwrap_or_default();
    let context = container.security_context.clone().unwrap_or_default();
    let user = context.run_as_user.or(pod_context.run_as_user);
    let group = context.run_as_group.or(pod_context.run_as_group);
    match (user, group) {
        (Some(user), Some(group)) => Some(format!("{user}:{group}")),
        (Some(user), None) => Some(user.to_string()),
        (None, Some(group)) => Some(format!("0:{group}")),
        (None, None) => None,
    }
}

async fn fetch_objects(
    kubelet: &Kubelet,
    pod: &Pod,
    namespace: &str,
    container: &Container,
) -> Result<Objects, Waiting> {
    let (maps, secrets) = env::referenced_objects(container);
    let mut objects = Objects::default();
    let failed = |err: skiff_client::ApiError| waiting(events::CREATE_CONTAINER_CONFIG_ERROR, err.to_string());
    let config_maps: Api<ConfigMap> = Api::namespaced(kubelet.client.clone(), namespace);
    for name in maps {
        let found = config_maps.get_opt(&name).await.map_err(failed)?;
        objects.config_maps.insert(name, found);
    }
    let secret_api: Api<Secret> = Api::namespaced(kubelet.client.clone(), namespace);
    for name in secrets {
        let found = secret_api.get_opt(&name).await.map_err(failed)?;
        objects.secrets.insert(name, found);
    }
    let services = cached_services(kubelet, namespace).await?;
    objects.service_links = service_links::variables(namespace, service_links::enabled(pod), &services);
    Ok(objects)
}

/// How long a container start waits for the kubelet's first list of Services.
const SERVICES_SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The Services whose link variables the container may get, as the kubelet's cache has them
/// now. Upstream refuses to build the environment before its Service cache has been filled
/// once, rather than start a container without its variables; so does Skiff, after a short wait.
async fn cached_services(kubelet: &Kubelet, namespace: &str) -> Result<Vec<Arc<Service>>, Waiting> {
    let Some(informer) = &kubelet.services else { return Ok(Vec::new()) };
    if tokio::time::timeout(SERVICES_SYNC_WAIT, informer.synced()).await.is_err() {
        let message = "services have not yet been read at least once, cannot construct envvars";
        return Err(waiting(events::CREATE_CONTAINER_CONFIG_ERROR, message.to_string()));
    }
    let store = informer.store();
    let (master_namespace, master) = service_links::MASTER_SERVICE;
    let master = ObjectKey { namespace: Some(master_namespace.to_string()), name: master.to_string() };
    let mut services = store.in_namespace(namespace);
    services.extend(store.get(&master).filter(|_| namespace != master_namespace));
    Ok(services)
}

/// Builds everything the container is created with.
async fn container_config(
    kubelet: &Kubelet,
    pod: &Pod,
    container: &Container,
    target: &Target<'_>,
) -> Result<ContainerConfig, Waiting> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let objects = fetch_objects(kubelet, pod, &namespace, container).await?;
    let facts = PodFacts {
        pod_ip: target.pod_ip.to_string(),
        host_ip: kubelet.host_ip.to_string(),
        node_cpu_milli: kubelet.node_cpu_milli,
        node_memory: kubelet.node_memory,
    };
    let environment = env::make_environment(pod, container, &objects, &facts)
        .map_err(|e| waiting(events::CREATE_CONTAINER_CONFIG_ERROR, e.to_string()))?;
    let mounts = volumes::mounts(container, target.volumes, target.resolv_conf)
        .map_err(|e| waiting(events::CREATE_CONTAINER_CONFIG_ERROR, e.to_string()))?;
    let identity = ContainerIdentity {
        container: container.name.clone(),
        attempt: target.attempt,
        ..crate::sandbox::identity(pod, 0)
    };
    let mut labels = identity.labels(&kubelet.scope);
    labels.insert(naming::SANDBOX_ID.into(), target.sandbox_id.to_string());
    labels.insert(naming::CONTAINER_HASH.into(), naming::hash_container(container));
    labels.insert(naming::CONTAINER_KIND.into(), if target.init { "init" } else { "app" }.into());
    let grace = pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30);
    labels.insert(naming::GRACE_PERIOD.into(), grace.to_string());
    let (memory_limit, nano_cpus, cpu_shares) = docker_resources(container);
    let user = run_as(pod, container);
    Ok(ContainerConfig {
        name: identity.docker_name(),
        image: container.image.clone().unwrap_or_default(),
        entrypoint: container.command.as_ref().map(|c| env::expand_command(c, &environment)),
        cmd: container.args.as_ref().map(|a| env::expand_command(a, &environment)),
        env: environment.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        working_dir: container.working_dir.clone().filter(|w| !w.is_empty()),
        labels,
        network: Some(NetworkMode::Container(target.sandbox_id.to_string())),
        mounts,
        memory_limit,
        nano_cpus,
        cpu_shares,
        tty: container.tty == Some(true),
        stdin: container.stdin == Some(true),
        stdin_once: container.stdin_once == Some(true),
        user,
        ..Default::default()
    })
}

/// Starts the container; its id, or why it waits.
pub async fn start_container(
    kubelet: &Kubelet,
    pod: &Pod,
    container: &Container,
    target: &Target<'_>,
) -> Result<String, Waiting> {
    let name = &container.name;
    let events = &kubelet.events;
    let failed = |w: Waiting| async move {
        events
            .container(pod, name, EventType::Warning, events::FAILED, &format!("Error: {}", w.message_or_reason()))
            .await;
        w
    };
    let image = match images::ensure_image(&*kubelet.runtime, events, &kubelet.pull_backoff, pod, container).await {
        Ok(image) => image,
        Err(failure) => {
            let w = waiting(failure.reason, failure.message);
            events.container(pod, name, EventType::Warning, events::FAILED, &format!("Error: {}", w.reason)).await;
            return Err(w);
        }
    };
    kubelet.image_refs.lock().insert(image.id.clone(), images::image_ref(&image));

    let config = match container_config(kubelet, pod, container, target).await {
        Ok(config) => config,
        Err(w) => return Err(failed(w).await),
    };
    let runtime = &*kubelet.runtime;
    let id = match runtime.create_container(&config).await {
        Ok(id) => id,
        Err(crate::runtime::RuntimeError::Refused { status: 409, .. }) => {
            // A half-made attempt holds the name: remove it; the next sync creates it again.
            let _ = runtime.remove_container(&config.name).await;
            return Err(waiting(events::CREATE_CONTAINER_ERROR, format!("container name {} was in use", config.name)));
        }
        Err(err) => return Err(failed(waiting(events::CREATE_CONTAINER_ERROR, err.to_string())).await),
    };
    events.container(pod, name, EventType::Normal, events::CREATED, &format!("Created container {name}")).await;
    if let Err(err) = runtime.start_container(&id).await {
        // The container stays: it is how the status and the next sync know the start failed.
        return Err(failed(waiting(events::RUN_CONTAINER_ERROR, err.to_string())).await);
    }
    events.container(pod, name, EventType::Normal, events::STARTED, &format!("Started container {name}")).await;
    // 5. postStart: a failure kills the container again.
    if let Some(hook) = container.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
        let budget = std::time::Duration::from_secs(30);
        let ran = crate::hooks::run_hook(runtime, pod, hook, container, &id, target.pod_ip, budget).await;
        if let Err(message) = ran {
            events.container(pod, name, EventType::Warning, events::FAILED_POST_START_HOOK, &message).await;
            let _ = runtime.stop_container(&id, crate::termination::MIN_GRACE).await;
            return Err(waiting(events::POST_START_HOOK_ERROR, message));
        }
    }
    kubelet
        .metrics
        .started_containers
        .with_label_values(&[if target.init { "init_container" } else { "container" }])
        .inc();
    tracing::info!(pod = %events::pod_name(pod), container = %name, attempt = target.attempt, "container started");
    Ok(id)
}

impl Waiting {
    fn message_or_reason(&self) -> &str {
        if self.message.is_empty() {
            &self.reason
        } else {
            &self.message
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::runtime::fake::FakeRuntime;

    fn pod(container: serde_json::Value) -> (Pod, Container) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"terminationGracePeriodSeconds": 5, "containers": [container]}
        }))
        .unwrap();
        let container = pod.spec.as_ref().unwrap().containers[0].clone();
        (pod, container)
    }

    fn target(volumes: &HashMap<String, Prepared>) -> Target<'_> {
        Target { sandbox_id: "pause1", pod_ip: "10.244.1.2", attempt: 3, init: false, volumes, resolv_conf: None }
    }

    #[tokio::test]
    async fn a_container_is_created_joined_to_the_pause_container_with_its_spec() {
        let runtime = FakeRuntime::new().with_image("skiff/toolbox:1");
        let kubelet = Kubelet::for_tests(Arc::new(runtime.clone()), None);
        let (pod, container) = pod(json!({
            "name": "app", "image": "skiff/toolbox:1", "command": ["sh", "-c"], "args": ["echo $(WHO) at $(POD_IP)"],
            "workingDir": "/tmp", "env": [{"name": "WHO", "value": "me"},
                                           {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "resources": {"limits": {"memory": "32Mi", "cpu": "1"}}
        }));
        let volumes = HashMap::new();
        start_container(&kubelet, &pod, &container, &target(&volumes)).await.unwrap();
        let (created, config) = runtime.containers().remove(0);
        assert_eq!(created.state, crate::runtime::ContainerState::Running);
        assert_eq!(config.name, "k8s_app_web_default_u1_3");
        assert_eq!(config.entrypoint, Some(vec!["sh".to_string(), "-c".to_string()]));
        assert_eq!(config.cmd, Some(vec!["echo me at 10.244.1.2".to_string()]));
        assert_eq!(config.env, vec!["WHO=me", "POD_IP=10.244.1.2"]);
        assert_eq!(config.working_dir.as_deref(), Some("/tmp"));
        assert_eq!(config.network, Some(NetworkMode::Container("pause1".into())));
        assert_eq!((config.memory_limit, config.nano_cpus), (Some(32 << 20), Some(1_000_000_000)));
        assert_eq!(config.labels[naming::RESTART_COUNT], "3");
        assert_eq!(config.labels[naming::SANDBOX_ID], "pause1");
        assert_eq!(config.labels[naming::CONTAINER_HASH], naming::hash_container(&container));
        assert_eq!(config.labels[naming::GRACE_PERIOD], "5");
    }

    #[tokio::test]
    async fn failures_become_the_waiting_reasons_kubernetes_shows() {
        let runtime = FakeRuntime::new().with_image("skiff/toolbox:1");
        let kubelet = Kubelet::for_tests(Arc::new(runtime.clone()), None);
        let volumes = HashMap::new();
        let (p, never) = pod(json!({"name": "app", "image": "skiff/absent:0", "imagePullPolicy": "Never"}));
        let waiting = start_container(&kubelet, &p, &never, &target(&volumes)).await.unwrap_err();
        assert_eq!(waiting.reason, "ErrImageNeverPull");

        let (p, pulled) = pod(json!({"name": "app", "image": "skiff/absent:0"}));
        let first = start_container(&kubelet, &p, &pulled, &target(&volumes)).await.unwrap_err();
        assert_eq!(first.reason, "ErrImagePull");
        let second = start_container(&kubelet, &p, &pulled, &target(&volumes)).await.unwrap_err();
        assert_eq!(
            (second.reason.as_str(), second.message.as_str()),
            ("ImagePullBackOff", "Back-off pulling image \"skiff/absent:0\"")
        );
        assert_eq!(
            runtime.calls().iter().filter(|c| c.starts_with("pull_image")).count(),
            1,
            "no pull during the back-off"
        );

        let (p, mounting) = pod(
            json!({"name": "app", "image": "skiff/toolbox:1", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}),
        );
        let waiting = start_container(&kubelet, &p, &mounting, &target(&volumes)).await.unwrap_err();
        assert_eq!(waiting.reason, "CreateContainerConfigError");

        runtime.fail_next(
            "start_container",
            crate::runtime::RuntimeError::Refused {
                status: 400,
                message: "exec: \"nope\": executable file not found".into(),
            },
        );
        let (p, broken) = pod(json!({"name": "app", "image": "skiff/toolbox:1", "command": ["nope"]}));
        let waiting = start_container(&kubelet, &p, &broken, &target(&volumes)).await.unwrap_err();
        assert_eq!(
            (waiting.reason.as_str(), waiting.message.as_str()),
            ("RunContainerError", "exec: \"nope\": executable file not found")
        );
        let (left, _) = runtime.containers().into_iter().find(|(c, _)| c.start_failed).expect("the container stays");
        assert_eq!(
            (left.state, left.exit_code, left.error.as_str()),
            (crate::runtime::ContainerState::Exited, 128, "exec: \"nope\": executable file not found"),
            "reported as the runtime reports a failed start"
        );
    }

    #[test]
    fn run_as_user_and_group_come_from_the_container_then_the_pod() {
        let (mut p, container) = pod(json!({"name": "app", "securityContext": {"runAsUser": 1000}}));
        assert_eq!(run_as(&p, &container).as_deref(), Some("1000"));
        p.spec.as_mut().unwrap().security_context =
            serde_json::from_value(json!({"runAsUser": 5, "runAsGroup": 3000})).unwrap();
        assert_eq!(run_as(&p, &container).as_deref(), Some("1000:3000"), "the container's user, the pod's group");
        let (p, plain) = pod(json!({"name": "app"}));
        assert_eq!(run_as(&p, &plain), None);
    }

    #[test]
    fn resources_become_docker_limits() {
        let container: Container = serde_json::from_value(json!({"name": "web", "resources": {
            "requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}}}))
        .unwrap();
        assert_eq!(docker_resources(&container), (Some(64 << 20), Some(500_000_000), Some(256)));
        let none: Container = serde_json::from_value(json!({"name": "web"})).unwrap();
        assert_eq!(docker_resources(&none), (None, None, None));
        let tiny: Container =
            serde_json::from_value(json!({"name": "web", "resources": {"requests": {"cpu": "1m"}}})).unwrap();
        assert_eq!(docker_resources(&tiny).2, Some(2), "at least 2 shares");
    }
}
