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
//! - [`sync_loop`]: the one `select!` over the pod source, the relist tick, probe results and
//!   housekeeping; [`pod_workers`]: one task per pod with a coalescing slot; [`pleg`]: the
//!   relist; [`housekeeping`]: orphans.
//! - [`pod_sync`]: one sync of one pod; [`pod_actions`]: what it must do (pure);
//!   [`pod_runtime`]: what Docker runs for a pod; [`sandbox`]: the pause container;
//!   [`container_start`]: one container; [`hooks`]: postStart and preStop;
//!   [`termination`]: stopping them; [`kubelet`]: the state they share.
//! - [`env`](mod@env): environment and `$(VAR)`; [`service_links`]: the Services' variables;
//!   [`dns`]: hostname and resolv.conf; [`volumes`]: volumes
//!   and mounts; [`images`]: pull policy; [`backoff`]: restart and pull back-off.
//! - [`probes`]: liveness, readiness, startup; [`status`]: the pod status and its manager;
//!   (the QoS class is `skiff_api::qos`'s, shared with the API server); [`events`]: reasons and
//!   messages; [`metrics`]: Prometheus.
//! - [`server`]: the streaming API (logs, exec, attach) the API server calls
//!   (`proto/skiff/kubelet.proto`).
//!
//! [`run`] in order: connect to the API server and Docker, make sure the pod network exists,
//! register the Node, re-reserve the pod IPs of pods already running (adoption), then start the
//! loops — the pod sync loop, the streaming server, the Lease, the status heartbeat, metrics —
//! and wait. On shutdown the kubelet stops its loops and leaves the pods running, as the real
//! one does.

pub mod backoff;
pub mod config;
pub mod container_start;
pub mod dns;
pub mod env;
pub mod events;
pub mod hooks;
pub mod housekeeping;
pub mod images;
pub mod kubelet;
pub mod metrics;
pub mod naming;
pub mod network;
pub mod node;
pub mod pleg;
pub mod pod_actions;
pub mod pod_runtime;
pub mod pod_sync;
pub mod pod_workers;
pub mod probes;
pub mod runtime;
pub mod sandbox;
pub mod server;
pub mod service_links;
pub mod status;
pub mod sync_loop;
pub mod termination;
pub mod volumes;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use skiff_client::Client;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
use runtime::{ContainerRuntime, RuntimeError};

/// Why the kubelet could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot use Docker")]
    Runtime(#[source] RuntimeError),
    #[error("cannot set up the pod network")]
    Network(#[source] RuntimeError),
    #[error("invalid --pod-cidr")]
    PodCidr(#[source] network::NetworkError),
    #[error("the pod CIDR {cidr} is not inside the Docker network {network} ({subnet})")]
    PodCidrOutside { cidr: String, network: String, subnet: String },
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

/// Where the streaming server listens: `--listen`, and, if that is a loopback address, the same
/// port on the node's InternalIP too, because that is where the API server dials it (the Node
/// advertises only a port). `0.0.0.0` already covers both.
fn streaming_addresses(listen: Option<SocketAddr>, internal_ip: Ipv4Addr) -> Vec<SocketAddr> {
    let Some(listen) = listen else { return vec![] };
    let mut addresses = vec![listen];
    if listen.ip().is_loopback() && !internal_ip.is_loopback() {
        addresses.push(SocketAddr::new(internal_ip.into(), listen.port()));
    }
    addresses
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
    let Some(client) =
        until_ok(&shutdown, "connecting to the API server", || Client::connect(&config.api, "kubelet")).await
    else {
        return Ok(());
    };
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
    let Some(registered) = until_ok(&shutdown, "registering the node", || node::register(&client, &wanted)).await
    else {
        return Ok(());
    };
    let node_uid = registered.metadata.uid.clone().unwrap_or_default();
    // The cluster's identity (its kube-system namespace's uid): containers of another cluster's
    // `node-1` on this Docker are none of this kubelet's business.
    let namespaces: skiff_client::Api<k8s_openapi::api::core::v1::Namespace> = skiff_client::Api::all(client.clone());
    let Some(system) = until_ok(&shutdown, "reading the cluster's identity", || namespaces.get("kube-system")).await
    else {
        return Ok(());
    };
    let scope = naming::Scope::new(&config.node_name, system.metadata.uid.as_deref().unwrap_or_default());

    let pod_cidr = config.pod_cidr.clone().or_else(|| registered.spec.as_ref().and_then(|s| s.pod_cidr.clone()));
    let pod_ips = match pod_cidr {
        Some(cidr) => Some(pod_ips(&*runtime, &config.node_name, &cidr, &network).await?),
        None => None,
    };

    let tasks = TaskTracker::new();
    let metrics = Arc::new(metrics::Metrics::new());
    if let Some(address) = config.metrics_listen {
        let listener =
            tokio::net::TcpListener::bind(address).await.map_err(|source| Error::Listen { address, source })?;
        tasks.spawn(metrics::serve(listener, metrics.clone(), shutdown.child_token()));
    }
    let recorder = skiff_client::events::Recorder::new(client.clone(), "kubelet", Some(&config.node_name));
    let (probe_changes, probe_results) = tokio::sync::mpsc::unbounded_channel();
    // One watch of every Service, for the containers' link variables (service_links.rs).
    let services = skiff_client::informer::Informer::new();
    let service_watch = skiff_client::watcher::watcher(
        skiff_client::Api::<k8s_openapi::api::core::v1::Service>::all(client.clone())
            .lister(skiff_client::ListParams::default()),
        skiff_client::watcher::Retry::default(),
    );
    let feeding = services.clone();
    let stop = shutdown.child_token();
    tasks.spawn(async move { feeding.run(service_watch, stop).await });
    let kubelet = Arc::new(kubelet::Kubelet {
        services: Some(services),
        volumes: volumes::VolumeManager::new(&config.root_dir, client.clone()),
        status: status::manager::StatusManager::new(client.clone()),
        probes: probes::ProbeManager::new(runtime.clone(), recorder.clone(), probe_changes, shutdown.child_token()),
        events: events::Events::new(recorder),
        pod_ips,
        host_ip: facts.internal_ip,
        node_cpu_milli: machine.cpus as i64 * 1000,
        node_memory: machine.memory as i64,
        restart_backoff: Default::default(),
        pull_backoff: Default::default(),
        image_refs: Default::default(),
        memory: Default::default(),
        metrics,
        network,
        runtime: runtime.clone(),
        client: client.clone(),
        scope: scope.clone(),
        config: config.clone(),
    });
    tasks.spawn(sync_loop::run(kubelet, probe_results, shutdown.child_token()));
    for address in streaming_addresses(config.listen, facts.internal_ip) {
        let listener =
            tokio::net::TcpListener::bind(address).await.map_err(|source| Error::Listen { address, source })?;
        let streaming = server::StreamingServer::new(runtime.clone(), scope.clone());
        tasks.spawn(server::serve(listener, streaming, shutdown.child_token()));
    }
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

/// Retries `attempt` with a growing pause (0.2 s doubling to 7 s, as upstream retries its
/// registration) until it succeeds; `None` if `shutdown` came first. The API server may start
/// after the kubelet (`make up` starts them together).
async fn until_ok<T, E, F, Fut>(shutdown: &CancellationToken, what: &str, mut attempt: F) -> Option<T>
where
    E: std::error::Error,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut failures = 0;
    loop {
        match attempt().await {
            Ok(done) => return Some(done),
            Err(err) => {
                failures += 1;
                let delay = skiff_client::backoff::delay(
                    failures,
                    std::time::Duration::from_millis(200),
                    std::time::Duration::from_secs(7),
                );
                tracing::warn!(cause = %node::skiff_error_chain(&err), ?delay, "{what} failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// This node's pod addresses: the CIDR checked against the Docker network, and the addresses of
/// the pods already running reserved (adoption after a restart).
async fn pod_ips(
    runtime: &dyn ContainerRuntime,
    node: &str,
    cidr: &str,
    network: &runtime::Network,
) -> Result<network::PodIps, Error> {
    let parsed = network::Cidr::parse(cidr).map_err(Error::PodCidr)?;
    let outside =
        || Error::PodCidrOutside { cidr: cidr.into(), network: network.name.clone(), subnet: network.subnet.clone() };
    let subnet = network::Cidr::parse(&network.subnet).map_err(|_| outside())?;
    if !subnet.contains(parsed.base) || parsed.prefix < subnet.prefix {
        return Err(outside());
    }
    let ips = network::PodIps::new(parsed, network.gateway);
    // Every address a container of this node's name holds, whatever its cluster: the network is
    // shared, and two clusters' `node-1` may hand out from the same range.
    let found = runtime.list_containers(&[(naming::NODE, node)]).await.map_err(Error::Runtime)?;
    for ip in found.iter().filter_map(|c| c.labels.get(naming::POD_IP)).filter_map(|ip| ip.parse().ok()) {
        ips.reserve(ip);
    }
    Ok(ips)
}
