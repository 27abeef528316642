//! Keeping the routing table current: four informers in, one immutable snapshot out, swapped
//! whole.
//!
//! The part of ingress-nginx's controller loop (`internal/ingress/controller/nginx.go`
//! `syncIngress`, fed by the store's informers through a rate-limited queue) that matters
//! here, without nginx reloads: every change of an Ingress, IngressClass, Service or
//! EndpointSlice wakes the loop; it drains what else has arrived meanwhile (a burst of slice
//! updates during a rollout becomes one rebuild), builds a new [`Table`] from the caches with
//! the pure [`table::build`], gives it the pools of its endpoints, and swaps the snapshot in.
//!
//! The swap is the only thing readers and the writer share: a request takes the current
//! `Arc<Routing>` at its start (a read of one pointer under a lock no one holds across an
//! await) and keeps that snapshot to its end, so it sees one consistent table, and a request
//! that starts after the swap never sees an endpoint the new table dropped.

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use parking_lot::RwLock;
use skiff_client::api::ApiObject;
use skiff_client::informer::Informer;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::{watcher, Retry};
use skiff_client::{Api, Client, ListParams};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ingress::class::ClassFilter;
use crate::ingress::forward::{Pools, Settings};
use crate::ingress::metrics;
use crate::ingress::table::{self, Objects, Table};

/// One consistent view: the table and a pool for each of its endpoints.
#[derive(Default)]
pub struct Routing {
    pub table: Table,
    pub pools: Pools,
}

/// The current snapshot, swapped whole.
pub struct Routes {
    /// A parking_lot lock, not a Tokio one: it is held only to clone or replace the `Arc`,
    /// never across an await.
    current: RwLock<Arc<Routing>>,
    /// True once the first table built from synced caches is in.
    ready: watch::Sender<bool>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes { current: RwLock::new(Arc::new(Routing::default())), ready: watch::channel(false).0 }
    }
}

impl Routes {
    pub fn current(&self) -> Arc<Routing> {
        self.current.read().clone()
    }

    fn replace(&self, routing: Routing) {
        *self.current.write() = Arc::new(routing);
        self.ready.send_replace(true);
    }

    /// Waits for the first real table.
    pub async fn ready(&self) {
        let _ = self.ready.subscribe().wait_for(|ready| *ready).await;
    }
}

/// The caches the table is built from.
#[derive(Clone)]
pub struct Informers {
    pub ingresses: Arc<Informer<Ingress>>,
    pub classes: Arc<Informer<IngressClass>>,
    pub services: Arc<Informer<Service>>,
    pub slices: Arc<Informer<EndpointSlice>>,
}

/// A kind's informer over every namespace, fed until `shutdown`.
pub fn informer<K: ApiObject>(client: &Client, shutdown: &CancellationToken) -> Arc<Informer<K>> {
    let informer = Informer::new();
    let events = watcher(Api::<K>::all(client.clone()).lister(ListParams::default()), Retry::default());
    let (feeding, shutdown) = (informer.clone(), shutdown.clone());
    tokio::spawn(async move { feeding.run(events, shutdown).await });
    informer
}

impl Informers {
    /// The router's own watches of Ingresses and IngressClasses, beside the Service and
    /// EndpointSlice informers it shares with the rest of the proxy.
    pub fn start(
        client: &Client,
        services: Arc<Informer<Service>>,
        slices: Arc<Informer<EndpointSlice>>,
        shutdown: &CancellationToken,
    ) -> Informers {
        Informers { ingresses: informer(client, shutdown), classes: informer(client, shutdown), services, slices }
    }

    async fn synced(&self) {
        self.ingresses.synced().await;
        self.classes.synced().await;
        self.services.synced().await;
        self.slices.synced().await;
    }

    /// The highest EndpointSlice resourceVersion in the cache: a table built now includes
    /// every slice change up to it (what the router reports to `crate::progress`).
    fn slice_revision(&self) -> i64 {
        let revision = |s: &EndpointSlice| s.metadata.resource_version.as_deref().and_then(|r| r.parse::<i64>().ok());
        self.slices.store().list().iter().filter_map(|s| revision(s)).max().unwrap_or(0)
    }

    fn build(&self, filter: &ClassFilter) -> Table {
        let (ingresses, classes) = (self.ingresses.store().list(), self.classes.store().list());
        let (services, slices) = (self.services.store().list(), self.slices.store().list());
        let objects = Objects { ingresses: &ingresses, classes: &classes, services: &services, slices: &slices };
        table::build(&objects, filter)
    }
}

/// Rebuilds and swaps the routing snapshot on every change until `shutdown`; tells `served`
/// which Ingresses each table serves (for their status).
pub async fn keep_routes(
    informers: Informers,
    routes: Arc<Routes>,
    filter: ClassFilter,
    settings: Settings,
    served: watch::Sender<Arc<Vec<ObjectKey>>>,
    progress: Option<crate::progress::Reporter>,
    shutdown: CancellationToken,
) {
    // Subscribe before waiting for the caches, so that no change after the first build is lost.
    let changes = futures::stream::select_all([
        informers.ingresses.subscribe().map(|_| ()).boxed(),
        informers.classes.subscribe().map(|_| ()).boxed(),
        informers.services.subscribe().map(|_| ()).boxed(),
        informers.slices.subscribe().map(|_| ()).boxed(),
    ]);
    let mut changes = Box::pin(changes.take_until(shutdown.clone().cancelled_owned()));
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = informers.synced() => {}
    }
    loop {
        let revision = informers.slice_revision();
        let table = informers.build(&filter);
        let endpoints = table.endpoints();
        metrics::table_built(endpoints.len());
        let pools = routes.current().pools.refresh(&endpoints, &settings);
        let keys = Arc::new(table.served.clone());
        tracing::debug!(ingresses = keys.len(), endpoints = endpoints.len(), "routing table built");
        routes.replace(Routing { table, pools });
        // From here on no new request goes to an endpoint this table dropped.
        if let Some(progress) = &progress {
            progress.applied(revision);
        }
        served.send_replace(keys);
        if changes.next().await.is_none() {
            return;
        }
        // Collapse whatever else is already waiting into this rebuild.
        while let Some(Some(())) = changes.next().now_or_never() {}
    }
}
