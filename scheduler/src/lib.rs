//! # skiff-scheduler
//!
//! Binds unscheduled pods to nodes, in the shape of kube-scheduler's framework (Kubernetes 1.31)
//! at teaching scale: filter plugins decide which nodes may take a pod, score plugins rank those,
//! the best one wins (ties broken at random), and the pod is bound through the API server. A pod
//! that fits nowhere stays `Pending` with Kubernetes' own explanation
//! (`0/3 nodes are available: 3 Insufficient cpu. preemption: …`) and is retried when the cluster
//! changes.
//!
//! # Layout
//!
//! - [`schedule_one`]: one attempt, top-down: pop → filter → score → select → assume → bind, and
//!   the failure path. Start reading here.
//! - [`framework`]: `Status` (data, not exceptions), the `FilterPlugin` and `ScorePlugin` traits,
//!   the profile that runs them.
//! - [`plugins`]: one file per plugin, each with its name, its reasons, a pure `fits()` or
//!   `score()` and a table test: NodeUnschedulable, NodeName, TaintToleration, NodeReady,
//!   NodeAffinity, NodePorts, NodeResourcesFit (Filter and LeastAllocated Score), SelectorSpread.
//! - [`fit_error`]: the `0/N nodes are available: …` message, and preemption's part of it.
//! - [`node_info`]: what a node holds: its pods, their requests (init containers and sidecars
//!   counted as Kubernetes counts them), their host ports.
//! - [`cache`]: nodes and bound pods from the watch caches, plus the pods assumed bound.
//! - [`queue`]: the scheduling queue: active, backoff (1 s doubling to 10 s), unschedulable.
//! - [`event_handlers`]: the four watches and what each change means for queue and cache.
//! - [`metrics`]: Prometheus metrics; [`testing`]: fixtures for tests.
//!
//! Left out, compared with kube-scheduler: preemption (Skiff never evicts; the message still
//! says what preemption found), several profiles in one process, the PreFilter / Reserve /
//! Permit / PreBind / PostBind extension points as traits, inter-pod affinity, topology spread
//! constraints and zones, volume plugins, image locality, balanced allocation, preferred
//! affinity and taint scores, queueing hints, `percentageOfNodesToScore`, extenders, leader
//! election (run one scheduler per name).

pub mod cache;
pub mod event_handlers;
pub mod fit_error;
pub mod framework;
pub mod metrics;
pub mod node_info;
pub mod plugins;
pub mod queue;
pub mod schedule_one;
pub mod testing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use skiff_client::events::Recorder;
use skiff_client::{ApiError, Client};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::queue::SchedulingQueue;
use crate::schedule_one::Scheduler;

/// The name pods get when they name no scheduler.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// How long shutdown waits for binds already sent.
const BIND_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Config {
    /// The API server's gRPC address (`127.0.0.1:6444`).
    pub api: String,
    /// The `spec.schedulerName` this scheduler serves; also the events' source.
    pub scheduler_name: String,
    /// Where Prometheus scrapes `/metrics`; none if unset.
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {address}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("bad API server address")]
    Address(#[source] ApiError),
    #[error("the metrics server failed")]
    Metrics(#[source] std::io::Error),
}

/// Runs the scheduler until `shutdown` is canceled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let metrics = match config.metrics_listen {
        Some(address) => Some(TcpListener::bind(address).await.map_err(|source| Error::Listen { address, source })?),
        None => None,
    };
    serve(config, metrics, shutdown).await
}

/// Connects to the API server, retrying until it answers; `None` if shut down first.
async fn connect(address: &str, manager: &str, shutdown: &CancellationToken) -> Result<Option<Client>, Error> {
    let mut failures = 0;
    loop {
        match Client::connect(address, manager).await {
            Ok(client) => return Ok(Some(client)),
            Err(err @ ApiError::Address(_)) => return Err(Error::Address(err)),
            Err(err) => {
                failures += 1;
                let delay = skiff_client::backoff::delay(failures, Duration::from_millis(200), Duration::from_secs(5));
                tracing::warn!(address, cause = %err, ?delay, "API server not reachable yet");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => return Ok(None),
                }
            }
        }
    }
}

/// Runs the scheduler with a metrics listener the caller bound (tests bind port 0).
pub async fn serve(config: Config, metrics: Option<TcpListener>, shutdown: CancellationToken) -> Result<(), Error> {
    let metrics = metrics.map(|listener| tokio::spawn(metrics::serve(listener, shutdown.clone())));
    let Some(client) = connect(&config.api, &config.scheduler_name, &shutdown).await? else { return Ok(()) };
    let tasks = TaskTracker::new();
    let queue = Arc::new(SchedulingQueue::default());
    let mut informers = event_handlers::start(&client, &config.scheduler_name, queue.clone(), &tasks, &shutdown);
    let flushing = queue.clone();
    let stop = shutdown.clone();
    tasks.spawn(async move { flushing.run_flushes(stop).await });
    let counted = queue.clone();
    let stop = shutdown.clone();
    tasks.spawn(async move {
        // The pending-pods gauge between attempts (pods move without one: back-offs end, pods go).
        let mut every = tokio::time::interval(Duration::from_secs(1));
        while stop.run_until_cancelled(every.tick()).await.is_some() {
            metrics::pending(counted.pending());
        }
    });
    let closing = queue.clone();
    let stop = shutdown.clone();
    tasks.spawn(async move {
        stop.cancelled().await;
        closing.close();
    });

    if informers.wait_for_cache_sync(&shutdown).await {
        tracing::info!(scheduler = config.scheduler_name, "caches synced; scheduling");
        let scheduler = Scheduler {
            name: config.scheduler_name.clone(),
            recorder: Recorder::new(client.clone(), &config.scheduler_name, None),
            client,
            framework: Arc::new(plugins::default_framework(informers.services.clone())),
            queue,
            cache: informers.cache.clone(),
            unscheduled: informers.unscheduled.clone(),
            binds: TaskTracker::new(),
        };
        while scheduler.schedule_one().await {}
        scheduler.binds.close();
        if tokio::time::timeout(BIND_GRACE, scheduler.binds.wait()).await.is_err() {
            tracing::warn!("binds still in flight at shutdown were abandoned");
        }
    }
    tasks.close();
    tasks.wait().await;
    if let Some(metrics) = metrics {
        metrics.await.expect("the metrics server does not panic").map_err(Error::Metrics)?;
    }
    tracing::info!("scheduler stopped");
    Ok(())
}
