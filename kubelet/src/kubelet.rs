//! The kubelet's shared state: what every pod worker, the sync loop and housekeeping use.
//!
//! Upstream keeps all of it in one `Kubelet` struct (`pkg/kubelet/kubelet.go`, ~137k
//! characters); Skiff keeps only the handles here and the logic in one file per step
//! ([`crate::pod_sync`], [`crate::sandbox`], [`crate::container_start`],
//! [`crate::termination`]).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use parking_lot::Mutex;
use skiff_client::informer::Informer;
use skiff_client::Client;

use crate::backoff::BackOff;
use crate::config::Config;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::network::PodIps;
use crate::probes::ProbeManager;
use crate::runtime::{ContainerRuntime, Network};
use crate::status::manager::StatusManager;
use crate::status::Waiting;
use crate::volumes::VolumeManager;

/// What the kubelet remembers of a pod between syncs. Everything else is read back from Docker
/// on each sync.
#[derive(Debug, Default)]
pub struct PodMemory {
    /// Why containers are not running (upstream's `reasonCache`).
    pub waiting: HashMap<String, Waiting>,
    /// When this kubelet first saw the pod (for the start-duration metric).
    pub first_seen: Option<tokio::time::Instant>,
    /// The start-duration metric was observed.
    pub start_observed: bool,
    /// The pod reached `Succeeded` or `Failed`: nothing starts again.
    pub finished: bool,
}

pub struct Kubelet {
    pub config: Config,
    /// The containers this kubelet may touch: its node's, in its cluster.
    pub scope: crate::naming::Scope,
    pub client: Client,
    pub runtime: Arc<dyn ContainerRuntime>,
    pub events: Events,
    pub volumes: VolumeManager,
    pub status: StatusManager,
    pub probes: ProbeManager,
    /// This node's pod addresses; none: Docker picks them.
    pub pod_ips: Option<PodIps>,
    pub network: Network,
    /// The node's InternalIP (`status.hostIP`).
    pub host_ip: Ipv4Addr,
    /// The node's allocatable CPU (millicores) and memory (bytes), for `resourceFieldRef`s of
    /// containers without limits.
    pub node_cpu_milli: i64,
    pub node_memory: i64,
    /// Container restart back-off (std Mutexes below: nothing awaits while they are held).
    pub restart_backoff: Mutex<BackOff>,
    pub pull_backoff: Mutex<BackOff>,
    /// Image id → how the pod status reports it.
    pub image_refs: Mutex<HashMap<String, String>>,
    pub memory: Mutex<HashMap<String, PodMemory>>,
    pub metrics: Arc<Metrics>,
    /// Every Service of the cluster, for the containers' link variables (upstream's
    /// `serviceLister`); `None`: no Services are known, and no link variables are set.
    pub services: Option<Arc<Informer<Service>>>,
}

impl Kubelet {
    pub fn node(&self) -> &str {
        &self.config.node_name
    }

    /// Runs `f` on the pod's memory (created on first use).
    pub fn remember<T>(&self, uid: &str, f: impl FnOnce(&mut PodMemory) -> T) -> T {
        let mut memory = self.memory.lock();
        f(memory.entry(uid.to_string()).or_default())
    }

    pub fn forget(&self, uid: &str) {
        self.memory.lock().remove(uid);
        self.restart_backoff.lock().forget_prefix(&format!("{uid}_"));
        self.pull_backoff.lock().forget_prefix(&format!("{uid}_"));
        self.status.forget(uid);
        self.probes.remove_pod(uid);
    }
}

#[cfg(test)]
impl Kubelet {
    /// A kubelet over `runtime` whose API server is nowhere (events and status writes fail and
    /// are logged), for unit tests of the steps that talk to the runtime.
    pub fn for_tests(runtime: Arc<dyn ContainerRuntime>, pod_cidr: Option<&str>) -> Kubelet {
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        let client = Client::from_channel(channel, "test");
        let config = Config::new("127.0.0.1:9", "node-1");
        let recorder = skiff_client::events::Recorder::new(client.clone(), "kubelet", Some("node-1"));
        let (changes, _) = tokio::sync::mpsc::unbounded_channel();
        let gateway = config.network.gateway;
        Kubelet {
            scope: crate::naming::Scope::new("node-1", "c1"),
            volumes: VolumeManager::new(&std::env::temp_dir().join("skiff-kubelet-unit"), client.clone()),
            status: StatusManager::new(client.clone()),
            probes: ProbeManager::new(
                runtime.clone(),
                recorder.clone(),
                changes,
                tokio_util::sync::CancellationToken::new(),
            ),
            events: Events::new(recorder),
            pod_ips: pod_cidr.map(|c| PodIps::new(crate::network::Cidr::parse(c).unwrap(), gateway)),
            network: Network {
                id: "net0".into(),
                name: "skiff".into(),
                subnet: config.network.subnet.clone(),
                gateway,
            },
            host_ip: gateway,
            node_cpu_milli: 2000,
            node_memory: 1 << 30,
            restart_backoff: Default::default(),
            pull_backoff: Default::default(),
            image_refs: Default::default(),
            memory: Default::default(),
            metrics: Arc::new(Metrics::new()),
            services: None,
            runtime,
            client,
            config,
        }
    }
}

/// Go's `Duration.String()` for whole seconds, as Kubernetes' messages print back-offs:
/// `10s`, `1m20s`, `5m0s`.
pub fn go_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{}h{}m{}s", secs / 3600, secs % 3600 / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_print_as_go_prints_them() {
        for (secs, want) in [(10, "10s"), (40, "40s"), (80, "1m20s"), (300, "5m0s"), (3725, "1h2m5s")] {
            assert_eq!(super::go_duration(Duration::from_secs(secs)), want);
        }
    }
}
