//! The informers every part of the proxy reads: one watch of the Services and one of the
//! EndpointSlices for the whole process (client-go's shared informers, as in
//! `cmd/kube-proxy/app/server.go`, which builds one informer factory for its config handlers).
//!
//! A part subscribes to the change streams, waits for [`Cluster::synced`], and then reads the
//! caches whenever something changed. Reading the whole cache on each change, rather than
//! applying events one by one, is what makes the parts level-triggered: a part that subscribed
//! late, or missed events, still sees everything at its next read.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use skiff_client::api::ApiObject;
use skiff_client::informer::Informer;
use skiff_client::reflector::Store;
use skiff_client::watcher::{watcher, Retry};
use skiff_client::{Api, Client, ListParams};
use tokio_util::sync::CancellationToken;

/// The proxy's shared informers and its API client; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub services: Arc<Informer<Service>>,
    pub slices: Arc<Informer<EndpointSlice>>,
}

fn informer<K: ApiObject>(client: &Client, shutdown: &CancellationToken) -> Arc<Informer<K>> {
    let informer = Informer::new();
    let events = watcher(Api::<K>::all(client.clone()).lister(ListParams::default()), Retry::default());
    let (feeding, shutdown) = (informer.clone(), shutdown.clone());
    tokio::spawn(async move { feeding.run(events, shutdown).await });
    informer
}

impl Cluster {
    /// Starts watching; the watches end with `shutdown`.
    pub fn start(client: Client, shutdown: &CancellationToken) -> Cluster {
        let services = informer::<Service>(&client, shutdown);
        let slices = informer::<EndpointSlice>(&client, shutdown);
        Cluster { client, services, slices }
    }

    /// Waits until both caches hold their first list.
    pub async fn synced(&self) {
        self.services.synced().await;
        self.slices.synced().await;
    }

    pub fn service_store(&self) -> Store<Service> {
        self.services.store()
    }

    pub fn slice_store(&self) -> Store<EndpointSlice> {
        self.slices.store()
    }

    /// One `()` per change of a Service or an EndpointSlice, after the cache has it.
    pub fn changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        futures::stream::select(self.services.subscribe().map(|_| ()), self.slices.subscribe().map(|_| ()))
    }
}
