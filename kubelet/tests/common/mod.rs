//! What the kubelet's test files share: skiff-store and skiff-apiserver in process on free
//! ports, kubelets started against them, the real `kubectl`, and Docker clean-up.

#![allow(dead_code)]

pub mod docker;

use std::sync::Arc;
use std::time::Duration;

use skiff_client::Client;
use skiff_kubelet::config::Intervals;
use skiff_kubelet::Config;
use skiff_tests::control_plane::ControlPlane;
use tokio_util::sync::CancellationToken;

/// The shared in-process control plane (`skiff_tests::control_plane`), with what kubelet tests
/// add: a client, kubelet configurations with short intervals, `apply`.
pub struct Cluster {
    plane: ControlPlane,
}

impl std::ops::Deref for Cluster {
    type Target = ControlPlane;
    fn deref(&self) -> &ControlPlane {
        &self.plane
    }
}

impl Cluster {
    pub async fn start() -> Cluster {
        Cluster { plane: ControlPlane::start().await }
    }

    pub async fn client(&self) -> Client {
        self.plane.client("kubelet-test").await
    }

    /// A kubelet configuration for `node` with short intervals, its root under the test's dir.
    pub fn kubelet_config(&self, node: &str) -> Config {
        let mut config = Config::new(&self.grpc_address.to_string(), node);
        config.root_dir = self.dir.path().join("kubelet").join(node);
        config.intervals = Intervals {
            node_status: Duration::from_secs(2),
            lease: Duration::from_secs(2),
            relist: Duration::from_millis(500),
            resync: Duration::from_secs(2),
            housekeeping: Duration::from_secs(1),
        };
        config
    }

    /// `kubectl apply -f -` with this YAML.
    pub async fn apply(&self, yaml: &str) {
        let out = self.kubectl_with_input(&["apply", "-f", "-"], Some(yaml)).await;
        assert!(out.status.success(), "apply: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A kubelet running in this process; stopped (pods left running) when dropped.
pub struct Kubelet {
    pub stop: CancellationToken,
    pub done: Option<tokio::task::JoinHandle<Result<(), skiff_kubelet::Error>>>,
}

impl Kubelet {
    pub fn start(config: Config) -> Kubelet {
        let stop = CancellationToken::new();
        let done = tokio::spawn(skiff_kubelet::run(config, stop.clone()));
        Kubelet { stop, done: Some(done) }
    }

    /// Stops it and waits until it has.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(done) = self.done.take() {
            done.await.unwrap().unwrap();
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {seconds} s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub type Shared<T> = Arc<T>;

use k8s_openapi::api::core::v1::{ContainerStatus, Event as KubeEvent, Pod};
use skiff_client::{Api, ListParams};

/// A cluster with one kubelet for one test: the cluster, the kubelet, the Docker guard.
pub struct Node {
    pub cluster: Cluster,
    pub name: String,
    pub kubelet: Option<Kubelet>,
    pub client: Client,
    pub guard: docker::Guard,
}

impl Node {
    /// A cluster and a kubelet named after `what`, with `adjust` applied to its configuration.
    pub async fn start(what: &str, adjust: impl FnOnce(&mut Config)) -> Node {
        let cluster = Cluster::start().await;
        let name = docker::node_name(what);
        let guard = docker::Guard::new(&name);
        let mut config = cluster.kubelet_config(&name);
        adjust(&mut config);
        let kubelet = Kubelet::start(config);
        let client = cluster.client().await;
        Node { cluster, name, kubelet: Some(kubelet), client, guard }
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Applies a pod (YAML) bound to this node: `NODE` in the text is replaced by its name.
    pub async fn apply(&self, yaml: &str) {
        self.cluster.apply(&yaml.replace("NODE", &self.name)).await;
    }

    /// Waits until `check` holds for the pod; the pod.
    pub async fn wait_for(&self, name: &str, seconds: u64, what: &str, check: impl Fn(&Pod) -> bool) -> Pod {
        let pods = self.pods();
        eventually(seconds, &format!("{name}: {what}"), || {
            let pods = pods.clone();
            let name = name.to_string();
            let check = &check;
            async move { pods.get_opt(&name).await.unwrap().filter(|p| check(p)) }
        })
        .await
    }

    /// Events about the pod, as `Reason: message` lines.
    pub async fn events(&self, pod: &str) -> Vec<String> {
        let events: Api<KubeEvent> = Api::namespaced(self.client.clone(), "default");
        let (list, _) = events.list(&ListParams::default()).await.unwrap();
        let mut shown: Vec<(String, String)> = list
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(pod))
            .map(|e| {
                let at = e.metadata.name.clone().unwrap_or_default();
                (at, format!("{}: {}", e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            })
            .collect();
        shown.sort();
        shown.into_iter().map(|(_, e)| e).collect()
    }
}

pub fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

pub fn condition(pod: &Pod, kind: &str) -> Option<String> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    conditions.iter().find(|c| c.type_ == kind).map(|c| c.status.clone())
}

pub fn container_status(pod: &Pod, name: &str) -> Option<ContainerStatus> {
    let status = pod.status.as_ref()?;
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .find(|s| s.name == name)
        .cloned()
}

/// `running`, `waiting:Reason`, `terminated:Reason:code`.
pub fn state(pod: &Pod, name: &str) -> String {
    let Some(status) = container_status(pod, name) else { return "none".into() };
    let state = status.state.unwrap_or_default();
    if state.running.is_some() {
        "running".into()
    } else if let Some(w) = state.waiting {
        format!("waiting:{}", w.reason.unwrap_or_default())
    } else if let Some(t) = state.terminated {
        format!("terminated:{}:{}", t.reason.unwrap_or_default(), t.exit_code)
    } else {
        "unknown".into()
    }
}

/// The Docker id of a container of the pod (from its status).
pub fn container_id(pod: &Pod, name: &str) -> String {
    container_status(pod, name)
        .and_then(|s| s.container_id)
        .map(|id| id.trim_start_matches("docker://").to_string())
        .unwrap_or_default()
}

/// `docker exec <id> <cmd…>`: its standard output (and whether it succeeded).
pub fn docker_exec(id: &str, cmd: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("docker").arg("exec").arg(id).args(cmd).output().expect("docker runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}
