//! A whole Skiff cluster as separate release processes, as `make up` starts one.
//!
//! Store, API server, scheduler, controller-manager and one kubelet, each a [`Server`] guard on
//! free loopback ports with a private temporary directory (the store's data, the kubelet's root
//! directory, every daemon's log). The kubelet gets a node name no other kubelet of this
//! machine has (`bench-<pid>`) and pod addresses from 10.244.200.0/24, a range no other node
//! uses (`make up` gives node N 10.244.N.0/24; the kubelet's tests use 10.244.201 and up).
//!
//! [`Cluster`] drops its parts in an order that leaves nothing behind: first the kubelet
//! (killed, so it makes no new container), then the node's containers (everything labelled
//! `io.skiff.node=<node>`), then the control plane. A failed start drops what was started so
//! far in the same order.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skiff_client::api::Kind;
use skiff_client::Client;

use super::docker::Labelled;
use super::watch::condition_true;
use crate::error::BenchError;
use crate::locate;
use crate::memory;
use crate::server::Server;

/// This node's pod addresses.
pub const POD_CIDR: &str = "10.244.200.0/24";

/// How long the kubelet may take to register its Node and post it Ready.
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The five daemons' binaries, found beside the benchmark's own executable.
pub struct Binaries {
    pub store: PathBuf,
    pub apiserver: PathBuf,
    pub scheduler: PathBuf,
    pub controller_manager: PathBuf,
    pub kubelet: PathBuf,
}

impl Binaries {
    pub fn locate() -> Result<Binaries, BenchError> {
        Ok(Binaries {
            store: locate::beside_me("skiff-store", None)?,
            apiserver: locate::beside_me("skiff-apiserver", None)?,
            scheduler: locate::beside_me("skiff-scheduler", None)?,
            controller_manager: locate::beside_me("skiff-controller-manager", None)?,
            kubelet: locate::beside_me("skiff-kubelet", None)?,
        })
    }

    /// `skiff 0.1.0`: the daemons share the workspace's version, so the store's says it.
    pub fn version(&self) -> String {
        let store = locate::version(&self.store);
        format!("skiff {}", store.strip_prefix("skiff-store ").unwrap_or(&store))
    }
}

pub struct Cluster {
    // Dropped in this order (see the module doc).
    pub kubelet: Server,
    _containers: Labelled,
    pub controller_manager: Server,
    pub scheduler: Server,
    pub apiserver: Server,
    pub store: Server,
    pub node: String,
    /// A gRPC connection to the API server, as the daemons use.
    pub client: Client,
    /// From the first process started to the Node Ready.
    pub took: Duration,
}

impl Cluster {
    /// Starts every daemon under new directories in `parent`, and returns once the Node is
    /// Ready: the moment `make up` returns.
    pub async fn start(binaries: &Binaries, parent: &Path) -> Result<Cluster, BenchError> {
        let started = Instant::now();
        let node = format!("bench-{}", std::process::id());
        // Created first, so that it is dropped last if a later step fails.
        let containers = Labelled::new(format!("io.skiff.node={node}"));
        let store = Server::start_cluster_store(&binaries.store, parent).await?;
        let apiserver = Server::start_apiserver(&binaries.apiserver, parent, &store).await?;
        let scheduler = Server::start_controller("skiff-scheduler", &binaries.scheduler, parent, &apiserver).await?;
        let controller_manager =
            Server::start_controller("skiff-controller-manager", &binaries.controller_manager, parent, &apiserver)
                .await?;
        let kubelet = Server::start_kubelet(&binaries.kubelet, parent, &apiserver, &node, POD_CIDR).await?;
        let client = Client::connect(apiserver.grpc(), "skiff-bench").await?;
        wait_node_ready(&client, &node, &kubelet).await?;
        Ok(Cluster {
            kubelet,
            _containers: containers,
            controller_manager,
            scheduler,
            apiserver,
            store,
            node,
            client,
            took: started.elapsed(),
        })
    }

    /// The daemons by name, in the order `make up` starts them.
    pub fn daemons(&self) -> [&Server; 5] {
        [&self.store, &self.apiserver, &self.scheduler, &self.controller_manager, &self.kubelet]
    }

    pub fn pids(&self) -> Vec<u32> {
        self.daemons().iter().map(|d| d.pid()).collect()
    }

    /// Each daemon's resident memory now.
    pub fn resident(&self) -> Vec<Resident> {
        self.daemons()
            .iter()
            .map(|d| Resident {
                name: d.name,
                total: memory::resident(d.pid()),
                parts: memory::resident_parts(d.pid()),
                proportional: memory::proportional(d.pid()),
            })
            .collect()
    }

    /// Copies every daemon's log into `dir` (`skiff-kubelet.log`, …), before the guards remove
    /// them with their directories.
    pub fn save_logs(&self, dir: &Path) -> Result<(), BenchError> {
        let prepare = |source| BenchError::Prepare { server: "the logs", source };
        std::fs::create_dir_all(dir).map_err(prepare)?;
        for daemon in self.daemons() {
            std::fs::copy(daemon.log_path(), dir.join(format!("{}.log", daemon.name))).map_err(prepare)?;
        }
        Ok(())
    }

    /// `key=value` of every container the kubelet makes.
    pub fn node_label(&self) -> String {
        format!("io.skiff.node={}", self.node)
    }
}

/// One daemon's resident memory.
#[derive(Debug, Clone, Copy)]
pub struct Resident {
    pub name: &'static str,
    /// `VmRSS`, bytes.
    pub total: Option<u64>,
    /// `RssAnon` and `RssFile`, bytes.
    pub parts: Option<(u64, u64)>,
    /// `Pss`, bytes.
    pub proportional: Option<u64>,
}

async fn wait_node_ready(client: &Client, node: &str, kubelet: &Server) -> Result<(), BenchError> {
    let nodes = Kind::new("", "v1", "nodes");
    let deadline = Instant::now() + NODE_READY_TIMEOUT;
    loop {
        if let Ok(found) = client.get(&nodes, None, node, None).await {
            if condition_true(&found, "Ready") {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(BenchError::Timeout {
                what: format!("node {node} Ready"),
                seconds: NODE_READY_TIMEOUT.as_secs(),
                details: format!("; the end of the kubelet's log:\n{}", kubelet.log_tail()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
