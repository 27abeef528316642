//! # skiff-kubelet: the node agent
//!
//! Registers its Node, keeps its Lease and status fresh, and runs the pods bound to it as Docker
//! containers: a pause container holding the pod's network namespace on Skiff's pod network,
//! plus the pod's containers joined to it.
//!
//! # Layout
//!
//! - [`config`]: the flags and intervals; [`run`] wires everything and returns on shutdown.
//! - [`runtime`]: the `ContainerRuntime` boundary (Docker through bollard, and a fake);
//!   [`naming`]: the containers' names and labels, from which a restarted kubelet adopts them.
//! - [`network`]: the shared bridge network and this node's pod IPs.
//! - [`node`]: registration, the status heartbeat and the Lease.
//! - more to come with the pod sync.
//!
//! On shutdown the kubelet stops its loops and leaves the pods running, as the real one does.

pub mod config;
pub mod naming;
pub mod network;
pub mod node;
pub mod runtime;

use std::sync::Arc;

use skiff_client::{ApiError, Client};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
use runtime::{ContainerRuntime, RuntimeError};

/// Why the kubelet could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to the API server")]
    Api(#[source] ApiError),
    #[error("cannot use Docker")]
    Runtime(#[source] RuntimeError),
    #[error("cannot set up the pod network")]
    Network(#[source] RuntimeError),
    #[error(transparent)]
    Node(#[from] node::NodeError),
    #[error("invalid --pod-cidr")]
    PodCidr(#[source] network::NetworkError),
    #[error("cannot create the root directory {path}")]
    RootDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {address}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Runs the kubelet with Docker until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let docker = runtime::docker::DockerRuntime::connect().await.map_err(Error::Runtime)?;
    run_with_runtime(config, Arc::new(docker), shutdown).await
}

/// Runs the kubelet over any runtime (the fake one for hollow nodes).
pub async fn run_with_runtime(
    config: Config,
    runtime: Arc<dyn ContainerRuntime>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    std::fs::create_dir_all(&config.root_dir)
        .map_err(|source| Error::RootDir { path: config.root_dir.display().to_string(), source })?;
    let client = Client::connect(&config.api, "kubelet").await.map_err(Error::Api)?;
    let network = runtime
        .ensure_network(&config.network.name, &config.network.subnet, config.network.gateway)
        .await
        .map_err(Error::Network)?;
    let runtime_version = runtime.version().await.map_err(Error::Runtime)?;
    let machine = node::machine::Machine::read(&config.root_dir);
    let facts = node::status::NodeFacts {
        machine: machine.clone(),
        internal_ip: config.node_ip.unwrap_or(network.gateway),
        runtime_version,
        kubelet_port: config.listen.map(|l| l.port() as i32).unwrap_or(10250),
        runtime_ok: true,
    };
    let labels = node::node_labels(&config.node_name, &machine.architecture, &config.node_labels);
    let wanted = node::initial_node(&config.node_name, labels, config.pod_cidr.as_deref(), &facts);
    let registered = node::register(&client, &wanted).await?;
    let node_uid = registered.metadata.uid.clone().unwrap_or_default();

    let tasks = TaskTracker::new();
    tasks.spawn(node::lease::keep_renewing(
        client.clone(),
        config.node_name.clone(),
        node_uid,
        config.intervals.lease,
        shutdown.child_token(),
    ));
    let heartbeat_runtime = runtime.clone();
    let heartbeat_facts = facts.clone();
    tasks.spawn(node::heartbeat(
        client.clone(),
        config.node_name.clone(),
        config.intervals.node_status,
        move || {
            let runtime = heartbeat_runtime.clone();
            let mut facts = heartbeat_facts.clone();
            async move {
                facts.runtime_ok = runtime.version().await.is_ok();
                facts
            }
        },
        shutdown.child_token(),
    ));
    tasks.close();
    shutdown.cancelled().await;
    tasks.wait().await;
    tracing::info!(node = %config.node_name, "kubelet stopped; its pods keep running");
    Ok(())
}
