//! # skiff-store: an etcd-compatible key-value store on sled
//!
//! Serves the subset of the etcd v3 gRPC API that a Kubernetes API server needs (KV, Watch,
//! Lease, and enough of Maintenance and Cluster for `etcdctl endpoint status|health`), so that
//! the real `etcdctl` and any etcd client library work against it unchanged. The model is
//! etcd's: one global revision per transaction; per key a create revision, a mod revision and a
//! version; history kept until compacted; watches that replay history, then go live.
//!
//! # Layout
//!
//! The path of a write, top to bottom:
//!
//! - `server/`: the gRPC services (`kv.rs`, `watch.rs`, `lease.rs`, `maintenance.rs`), thin
//!   adapters over [`Store`].
//! - `validate.rs`: the checks etcd makes before a request is proposed (empty keys, txn limits,
//!   duplicate keys, request size).
//! - [`store`]: the shared state and the read path; writes become proposals.
//! - `committer.rs`: the single writer thread, with group commit (one fsync per group).
//! - `apply.rs`: what each write does; `compare.rs` (txn compares); `range.rs` (reads with
//!   limit, sort and filters).
//! - `index.rs`: the in-memory key index (which revisions each key has);
//!   `revision.rs`, `key_range.rs`: the two small value types everything uses.
//! - `backend.rs`: the sled database: history by revision, leases, a few facts; `wal.rs`: the
//!   write-ahead log that makes each commit group durable with one write and one sync.
//! - `watch.rs`: watchers (catch up from history, then live); `lease.rs` and `lease_expiry.rs`:
//!   leases and their expiry; `compactor.rs`: automatic compaction.
//! - `metrics.rs`: Prometheus; `client/`: the client the API server uses; `error.rs`: errors
//!   with etcd's codes and messages.
//!
//! `docs/architecture.md` explains the design; `docs/upstream-map.md` maps each file to the etcd
//! code it mirrors.

pub mod apply;
pub mod backend;
pub mod client;
pub mod committer;
pub mod compactor;
pub mod compare;
pub mod error;
pub mod index;
pub mod key_range;
pub mod lease;
pub mod lease_expiry;
pub mod metrics;
pub mod range;
pub mod revision;
pub mod server;
pub mod store;
pub mod validate;
pub mod wal;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use skiff_proto::etcdserverpb::{
    cluster_server::ClusterServer, kv_server::KvServer, lease_server::LeaseServer,
    maintenance_server::MaintenanceServer, watch_server::WatchServer,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use compactor::Retention;
pub use error::StoreError;
pub use store::{Store, StoreOptions};

/// Everything `skiff-store` is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where clients connect (etcd's client URL).
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where Prometheus scrapes `/metrics`; none if unset.
    pub metrics_listen: Option<SocketAddr>,
    /// The member name `etcdctl member list` shows.
    pub name: String,
    pub retention: Retention,
    /// How often watchers that asked for it get a progress notification (etcd: 10 minutes).
    pub progress_interval: Duration,
    /// Bound on sled's page cache.
    pub cache_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot listen on {address}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the gRPC server failed")]
    Serve(#[source] tonic::transport::Error),
    #[error("the store stopped after a disk failure")]
    DiskFailure,
}

/// Opens the store, binds the listeners and serves until `shutdown` is canceled. The store is
/// opened (and its log replayed) before the port is bound, so that a client that can connect
/// finds it ready.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    let store = open_store(&config)?;
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| RunError::Listen { address: config.listen, source })?;
    let metrics = match config.metrics_listen {
        Some(address) => Some(TcpListener::bind(address).await.map_err(|source| RunError::Listen { address, source })?),
        None => None,
    };
    serve_store(store, config, listener, metrics, shutdown).await
}

/// Serves on listeners the caller bound (tests bind port 0 and read the address back).
pub async fn serve(
    config: Config,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let store = open_store(&config)?;
    serve_store(store, config, listener, metrics_listener, shutdown).await
}

fn open_store(config: &Config) -> Result<Store, StoreError> {
    Store::open(&StoreOptions {
        data_dir: config.data_dir.clone(),
        cache_bytes: config.cache_bytes,
        log_bytes: wal::WAL_BYTES,
    })
}

async fn serve_store(
    store: Store,
    config: Config,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let address = listener.local_addr().map_err(|source| RunError::Listen { address: config.listen, source })?;
    let tasks = TaskTracker::new();
    let stop = shutdown.child_token();

    tasks.spawn(lease_expiry::expiry_loop(store.clone(), stop.clone()));
    tasks.spawn(compactor::compactor_loop(store.clone(), config.retention, stop.clone()));
    tasks.spawn(watch::progress_loop(store.shared().clone(), config.progress_interval, stop.clone()));
    if let Some(metrics_listener) = metrics_listener {
        let app = metrics::app(store.clone());
        let stop = stop.clone();
        tasks.spawn(async move {
            let served = axum::serve(metrics_listener, app).with_graceful_shutdown(stop.cancelled_owned()).await;
            if let Err(err) = served {
                tracing::warn!(cause = %err, "the metrics endpoint stopped");
            }
        });
    }
    // A disk failure stops everything.
    let failed = store.shared().failed.clone();
    {
        let stop = stop.clone();
        tasks.spawn(async move {
            tokio::select! {
                _ = failed.cancelled() => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        });
    }

    let limit = validate::MAX_GRPC_MESSAGE_BYTES;
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        // Small request/response pairs: Nagle's algorithm would add up to 40 ms to each.
        if let Ok(stream) = &conn {
            let _ = stream.set_nodelay(true);
        }
        conn
    });
    tracing::info!(%address, data_dir = %config.data_dir.display(), "skiff-store serving");
    let served = tonic::transport::Server::builder()
        // Larger HTTP/2 flow-control windows than the 64 KiB default: fewer WINDOW_UPDATE frames
        // (and writes) per request, and a large put does not stall on the window.
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(8 << 20)
        .add_service(KvServer::new(server::kv::KvService { store: store.clone() }).max_decoding_message_size(limit))
        .add_service(
            WatchServer::new(server::watch::WatchService { store: store.clone() }).max_decoding_message_size(limit),
        )
        .add_service(
            LeaseServer::new(server::lease::LeaseService { store: store.clone() }).max_decoding_message_size(limit),
        )
        .add_service(MaintenanceServer::new(server::maintenance::MaintenanceService { store: store.clone() }))
        .add_service(ClusterServer::new(server::maintenance::ClusterService {
            store: store.clone(),
            name: config.name.clone(),
            client_url: format!("http://{address}"),
        }))
        .serve_with_incoming_shutdown(incoming, stop.cancelled())
        .await;

    stop.cancel();
    tasks.close();
    tasks.wait().await;
    let disk_failed = store.shared().failed.is_cancelled();
    store.close();
    served.map_err(RunError::Serve)?;
    if disk_failed {
        return Err(RunError::DiskFailure);
    }
    tracing::info!("skiff-store stopped");
    Ok(())
}
