//! # The Ingress router
//!
//! An HTTP router on the host's port 80 that implements networking.k8s.io/v1 Ingress the way
//! ingress-nginx does, so that tutorials' manifests (their `ingressClassName: nginx` and
//! `nginx.ingress.kubernetes.io/*` annotations included) work unchanged: host and path rules,
//! regex paths with `rewrite-target` capture groups, `app-root`, default backends, canary
//! Ingresses by header, cookie and weight, and the node's address in each served Ingress's
//! status. Requests go straight to the Services' ready endpoints (from EndpointSlices), not
//! through the ClusterIP, as ingress-nginx's balancer does.
//!
//! The promise it keeps while traffic moves (rolling updates, scale-down, blue/green, canary
//! weights): **no failed request**, provided a pod leaves its Service's endpoints before it
//! stops accepting connections. An endpoint that leaves the table gets no new request from the
//! moment the new table is swapped in; requests in flight to it finish; its idle pooled
//! connections are never reused; a request that fails before reaching a backend is retried on
//! another endpoint.
//!
//! # Layout
//!
//! - [`class`]: which Ingresses are ours (IngressClass, the old annotation, the default class).
//! - [`table`]: the routing table, built from the caches by a pure function.
//! - [`matching`]: host and path matching, regex paths, precedence.
//! - [`rewrite`]: `rewrite-target` with capture groups, `use-regex`, `app-root`.
//! - [`canary`]: canary policies and the per-request choice (header → cookie → weight).
//! - [`route`]: the decision for one request (redirect, backend and URI, or 404), pure.
//! - [`server`]: the listener, graceful shutdown, per-request metrics and logs; each
//!   connection starts on the plain path and may go on with hyper.
//! - [`workers`]: one single-threaded runtime per core, each serving its connections.
//! - [`plain`]: the router's own loop for bodiless requests, both sides in one task.
//! - [`wire`]: HTTP/1.1 heads and body framing for the plain path, pure.
//! - [`upstream`]: the plain path's kept-alive connections to each endpoint.
//! - [`prefixed`]: a connection with bytes already read, as hyper takes it over.
//! - [`forward`]: proxying through hyper: headers, `Upgrade`, keep-alive pools, retry before
//!   send, 502/504.
//! - [`sync`]: informers → table → snapshot swapped whole.
//! - [`status`]: the node's address in `status.loadBalancer.ingress`.
//! - [`metrics`]: Prometheus counters in ingress-nginx's names.
//!
//! The proxy's `run()` starts it with [`run`] (or [`serve`], on a listener of its own).

pub mod canary;
pub mod class;
pub mod forward;
pub mod matching;
pub mod metrics;
pub mod plain;
pub mod prefixed;
pub mod rewrite;
pub mod route;
pub mod server;
pub mod status;
pub mod sync;
pub mod table;
pub mod upstream;
pub mod wire;
pub mod workers;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use skiff_client::informer::Informer;
use skiff_client::Client;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use class::ClassFilter;
pub use forward::Settings;

/// The annotations' prefix, ingress-nginx's default `--annotations-prefix`.
pub const ANNOTATION_PREFIX: &str = "nginx.ingress.kubernetes.io/";

/// The value of the annotation `nginx.ingress.kubernetes.io/<name>`.
pub fn annotation<'a>(annotations: Option<&'a BTreeMap<String, String>>, name: &str) -> Option<&'a str> {
    let value = annotations?.iter().find(|(key, _)| key.strip_prefix(ANNOTATION_PREFIX) == Some(name));
    value.map(|(_, value)| value.as_str())
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Where clients connect (`--ingress-listen`, `0.0.0.0:80`).
    pub listen: SocketAddr,
    /// The node's address, written into the served Ingresses' status.
    pub node_address: IpAddr,
    pub classes: ClassFilter,
    pub settings: Settings,
}

impl Config {
    /// ingress-nginx's defaults: classes `skiff` and `nginx`, 5 s to connect, 60 s to answer.
    pub fn new(listen: SocketAddr, node_address: IpAddr) -> Config {
        Config { listen, node_address, classes: ClassFilter::default(), settings: Settings::default() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {address} for the Ingress router")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The Service and EndpointSlice informers the router reads, shared with the rest of the proxy
/// (one watch of each per process); [`sync::informer`] makes them for a router on its own.
pub struct Caches {
    pub services: Arc<Informer<Service>>,
    pub slices: Arc<Informer<EndpointSlice>>,
    /// Where the router reports the EndpointSlice revision its routes include (the proxy's
    /// `crate::progress`); none in tests of the router alone.
    pub progress: Option<crate::progress::Reporter>,
}

/// Binds `config.listen` and serves until `shutdown`.
pub async fn run(config: Config, client: Client, caches: Caches, shutdown: CancellationToken) -> Result<(), Error> {
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| Error::Listen { address: config.listen, source })?;
    serve(config, listener, client, caches, shutdown).await;
    Ok(())
}

/// Serves on `listener` (tests bind port 0) until `shutdown`: the Ingress and IngressClass
/// informers, the table's upkeep, the status writer and the HTTP server, all stopped by the
/// one token.
pub async fn serve(config: Config, listener: TcpListener, client: Client, caches: Caches, shutdown: CancellationToken) {
    let tasks = TaskTracker::new();
    let informers = sync::Informers::start(&client, caches.services, caches.slices, &shutdown);
    let routes = Arc::new(sync::Routes::default());
    let (served, served_keys) = watch::channel(Arc::new(Vec::new()));
    let store = informers.ingresses.store();
    tasks.spawn(sync::keep_routes(
        informers,
        routes.clone(),
        config.classes,
        config.settings,
        served,
        caches.progress,
        shutdown.clone(),
    ));
    tasks.spawn(status::keep_status(client, store, served_keys, config.node_address, shutdown.clone()));
    server::serve(listener, routes, config.settings, shutdown).await;
    tasks.close();
    tasks.wait().await;
}
