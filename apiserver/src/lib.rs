//! # skiff-apiserver
//!
//! The only component that touches the store: the Kubernetes REST API that the real `kubectl`
//! drives (axum), and the small internal gRPC API the other daemons use (tonic), both over one
//! set of verbs. It reaches the store through `skiff_store::client`, so it runs against
//! `skiff-store` or a real etcd alike.
//!
//! # Layout
//!
//! - [`verbs`]: get, list, create, update, patch (and server-side apply), delete, scale and bind,
//!   with every rule Kubernetes applies around the storage; one verb per file.
//! - [`handlers`] (REST) and [`grpc`] (the internal API): the two faces of the verbs; [`path`]:
//!   which object a URL names; [`respond`]: JSON, Table and `Status` responses.
//! - [`storage`]: objects as JSON in the store, guarded writes, what an update keeps;
//!   [`services`]: ClusterIP and NodePort allocation; [`kubernetes_service`]: the `kubernetes`
//!   Service in `default` and its endpoints, kept by the API server itself.
//! - [`watch_cache`]: one store watch per kind, fanned out to every watcher; [`watch`]: the REST
//!   watch stream over it.
//! - [`streaming`]: `pods/log`, `exec` and `attach`, relayed to the pod's kubelet.
//! - [`meta`]: `/version`, health, discovery; [`openapi`]: the OpenAPI v3 documents.
//! - [`metrics`]: Prometheus at `/metrics`.
//!
//! Left out: authentication and authorization (one more layer in [`app`] when they come),
//! serving lists from the watch cache, `limit`/`continue` paging (lists return everything).

pub mod grpc;
pub mod handlers;
pub mod health;
pub mod kubernetes_service;
pub mod meta;
pub mod metrics;
pub mod openapi;
pub mod path;
pub mod respond;
pub mod scan;
pub mod services;
pub mod sparse;
pub mod stamp;
pub mod storage;
pub mod streaming;
pub mod verbs;
pub mod watch;
pub mod watch_cache;

use std::net::SocketAddr;

use axum::routing::{any, get};
use axum::Router;
use futures::StreamExt;
use serde_json::json;
use skiff_api::registry::by_plural;
use skiff_store::client::StoreClient;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;

use crate::storage::ObjectStore;
use crate::verbs::Verbs;
use crate::watch_cache::WatchCaches;

/// The largest request body accepted, as in Kubernetes (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The namespaces that exist from the first start (`kube-node-lease` holds the kubelets'
/// heartbeat Leases).
const INITIAL_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

#[derive(Debug, Clone)]
pub struct Config {
    /// The REST API (kubectl, curl).
    pub listen: SocketAddr,
    /// The internal gRPC API (the other daemons); none to serve only REST.
    pub grpc_listen: Option<SocketAddr>,
    /// etcd v3 endpoints: skiff-store or a real etcd cluster.
    pub store_endpoints: Vec<String>,
    /// The address published as the `kubernetes` Service's endpoint
    /// ([`kubernetes_service::advertised`]).
    pub advertise_address: Option<std::net::IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot reach the store")]
    Store(#[from] skiff_store::client::ClientError),
    #[error("cannot create the initial namespaces: {0}")]
    Bootstrap(String),
    #[error("cannot listen on {address}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
    #[error("the gRPC server failed")]
    Grpc(#[source] tonic::transport::Error),
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The verbs, shared with the gRPC API. Behind an `Arc` because axum clones the state for
    /// every request, and the verbs hold the store's gRPC channels, whose clones are not free.
    pub verbs: std::sync::Arc<Verbs>,
    /// `host:port` clients reach this server at (the legacy `/api` document names it).
    pub address: String,
    /// The kubelets' logs, exec and attach.
    pub streams: streaming::Streams,
}

/// The router, callable in memory by tests.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/version", get(meta::version))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/livez", get(health::livez))
        .route("/healthz/{check}", get(health::healthz_one))
        .route("/readyz/{check}", get(health::readyz_one))
        .route("/livez/{check}", get(health::livez_one))
        .route("/metrics", get(metrics::render))
        .route("/api", get(meta::api_root))
        .route("/apis", get(meta::apis_root))
        .route("/api/{version}", get(meta::core_version))
        .route("/apis/{group}", get(meta::group))
        .route("/apis/{group}/{version}", get(meta::group_version))
        .route("/api/v1/namespaces/{namespace}/pods/{name}/exec", any(streaming::websocket::exec))
        .route("/api/v1/namespaces/{namespace}/pods/{name}/attach", any(streaming::websocket::attach))
        .route("/openapi/v3", get(openapi::index))
        .route("/openapi/v3/api/{version}", get(openapi::core))
        .route("/openapi/v3/apis/{group}/{version}", get(openapi::group))
        .fallback(handlers::resource_request)
        // Authentication and authorization will be one more layer here, around every route
        // (kube-apiserver's filter chain: `WithAuthentication`, `WithAuthorization`).
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

/// Creates `default`, `kube-system` and `kube-public` if they are missing.
async fn bootstrap(objects: &ObjectStore) -> Result<(), RunError> {
    let namespaces = by_plural("", "v1", "namespaces").expect("namespaces are registered");
    for name in INITIAL_NAMESPACES {
        let namespace =
            json!({"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        match objects.create(namespaces, None, namespace).await {
            Ok(_) => tracing::info!(namespace = name, "created"),
            Err(status) if status.reason == "AlreadyExists" => {}
            Err(status) => return Err(RunError::Bootstrap(status.message)),
        }
    }
    Ok(())
}

/// Serves REST on `rest` and gRPC on `grpc` until `shutdown`.
pub async fn serve(
    config: Config,
    rest: TcpListener,
    grpc: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    serve_with_streams(config, rest, grpc, std::sync::Arc::new(streaming::kubelet::KubeletStreams), shutdown).await
}

/// [`serve`], with `streams` as the way to the kubelets' logs, exec and attach (tests give a
/// fake node).
pub async fn serve_with_streams(
    config: Config,
    rest: TcpListener,
    grpc: Option<TcpListener>,
    streams: streaming::Streams,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let client = StoreClient::connect(&config.store_endpoints).await?;
    let objects = ObjectStore::new(client.clone());
    bootstrap(&objects).await?;
    let caches = WatchCaches::start(client.clone(), shutdown.clone());
    metrics::watch_cache_sizes(caches.clone());
    let verbs = Verbs::new(client, caches);
    let listen = rest.local_addr().map_err(|source| RunError::Listen { address: config.listen, source })?;
    let address = listen.to_string();
    let advertised = kubernetes_service::advertised(config.advertise_address, listen);
    tokio::spawn(kubernetes_service::run(verbs.clone(), listen.port(), advertised, shutdown.clone()));
    let grpc_address = grpc.as_ref().and_then(|l| l.local_addr().ok());
    tracing::info!(%address, grpc = ?grpc_address, store = ?config.store_endpoints, "skiff-apiserver serving");
    let (grpc_verbs, grpc_shutdown) = (verbs.clone(), shutdown.clone());
    let grpc_server = async move {
        let Some(listener) = grpc else { return Ok(()) };
        // Small request/response pairs: Nagle's algorithm would hold each answer back for the
        // client's delayed ACK. (The builder's `tcp_nodelay` applies only to listeners it binds.)
        let incoming = TcpListenerStream::new(listener).map(|connection| {
            if let Ok(stream) = &connection {
                let _ = stream.set_nodelay(true);
            }
            connection
        });
        tonic::transport::Server::builder()
            .add_service(grpc::Service::new(grpc_verbs))
            .serve_with_incoming_shutdown(incoming, grpc_shutdown.cancelled_owned())
            .await
            .map_err(RunError::Grpc)
    };
    let state = AppState { verbs: std::sync::Arc::new(verbs), address, streams };
    let rest_server = async {
        // No Nagle on REST either: a watch event or a small answer goes out at once.
        let rest = axum::serve::ListenerExt::tap_io(rest, |stream| {
            let _ = stream.set_nodelay(true);
        });
        axum::serve(rest, app(state))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await
            .map_err(RunError::Serve)
    };
    let (rest_result, grpc_result) = tokio::join!(rest_server, grpc_server);
    rest_result.and(grpc_result)
}

async fn bind(address: SocketAddr) -> Result<TcpListener, RunError> {
    TcpListener::bind(address).await.map_err(|source| RunError::Listen { address, source })
}

/// Binds `config.listen` (and `config.grpc_listen`) and serves until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    let rest = bind(config.listen).await?;
    let grpc = match config.grpc_listen {
        Some(address) => Some(bind(address).await?),
        None => None,
    };
    serve(config, rest, grpc, shutdown).await
}
