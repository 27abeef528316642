//! The daemon: connect, start one shared informer per kind, run every controller.
//!
//! Mirrors `cmd/kube-controller-manager/app/controllermanager.go` (`Run`, `StartControllers`)
//! at teaching scale: the informers are made and subscribed to, then started and awaited until
//! their first list is in (client-go's `WaitForCacheSync`), so that no controller decides from
//! an empty cache; then each controller gets its work queue and workers. One cancellation token
//! stops it all: the informers stop feeding, the queues drain, the workers finish the keys they
//! hold.
//!
//! The garbage collector watches every kind that can own or be owned. It shares the typed
//! informers the other controllers have (Deployments, ReplicaSets, Jobs, pods, Services,
//! Endpoints, EndpointSlices, ServiceAccounts: pods above all are numerous and busy, one watch and
//! one copy of them is enough) and has an untyped informer of its own for each other kind. The other controllers do
//! not wait for those: the collector waits for its own graph (`garbage_collector/mod.rs`).
//!
//! Left out: leader election (run one controller-manager), the controllers' enable flags.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::Resource as _;
use skiff_api::registry::Resource;
use skiff_client::api::{ApiObject, DynamicObject, Kind};
use skiff_client::controller::Controller;
use skiff_client::events::Recorder;
use skiff_client::informer::Informer;
use skiff_client::watcher::{watcher, Retry};
use skiff_client::{Api, Client, ListParams};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api_client::{ApiClient, SpawnedRecorder};
use crate::clock::SystemClock;
use crate::deployment::DeploymentController;
use crate::endpoints::{ApiEndpointsWrites, EndpointsController};
use crate::garbage_collector::{self, GarbageCollector};
use crate::job::JobController;
use crate::namespace::NamespaceController;
use crate::replicaset::ReplicaSetController;
use crate::serviceaccount::ServiceAccountsController;
use crate::ttl_after_finished::TtlAfterFinishedController;

#[derive(Debug, Clone)]
pub struct Config {
    /// The API server's gRPC address.
    pub api: String,
    /// Workers per controller (kube-controller-manager's `--concurrent-*-syncs`, 5 by default).
    pub workers: usize,
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the API server")]
    Connect(#[source] skiff_client::ApiError),
}

/// Informers' feeds, made before they run: spawned only once every subscription is in, so that
/// every subscriber sees the first list (a feed spawned at once could deliver it first).
type Feeds = Vec<BoxFuture<'static, ()>>;

/// A kind's informer, to be fed by a watcher of every namespace.
fn informer<K: ApiObject>(client: &Client, feeds: &mut Feeds, shutdown: &CancellationToken) -> Arc<Informer<K>> {
    let informer = Informer::new();
    let events = watcher(Api::<K>::all(client.clone()).lister(ListParams::default()), Retry::default());
    let (feeding, shutdown) = (informer.clone(), shutdown.clone());
    feeds.push(async move { feeding.run(events, shutdown).await }.boxed());
    informer
}

/// An untyped informer of `resource`, to be fed like [`informer`]'s.
fn dynamic_informer(
    client: &Client,
    resource: &Resource,
    feeds: &mut Feeds,
    shutdown: &CancellationToken,
) -> Arc<Informer<DynamicObject>> {
    let informer = Informer::new();
    let kind = Kind::new(resource.group, resource.version, resource.plural);
    let events = watcher(client.dynamic_lister(kind, ListParams::default()), Retry::default());
    let (feeding, shutdown) = (informer.clone(), shutdown.clone());
    feeds.push(async move { feeding.run(events, shutdown).await }.boxed());
    informer
}

/// Whether a typed informer above already watches `resource`.
fn watched_typed(resource: &Resource) -> bool {
    let typed = [
        (Deployment::GROUP, Deployment::URL_PATH_SEGMENT),
        (ReplicaSet::GROUP, ReplicaSet::URL_PATH_SEGMENT),
        (Job::GROUP, Job::URL_PATH_SEGMENT),
        (Pod::GROUP, Pod::URL_PATH_SEGMENT),
        (Service::GROUP, Service::URL_PATH_SEGMENT),
        (Endpoints::GROUP, Endpoints::URL_PATH_SEGMENT),
        (EndpointSlice::GROUP, EndpointSlice::URL_PATH_SEGMENT),
        (ServiceAccount::GROUP, ServiceAccount::URL_PATH_SEGMENT),
    ];
    typed.contains(&(resource.group, resource.plural))
}

pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let client = Client::connect(&config.api, "skiff-controller-manager").await.map_err(Error::Connect)?;
    let tasks = TaskTracker::new();
    let mut feeds = Feeds::new();
    let deployments = informer::<Deployment>(&client, &mut feeds, &shutdown);
    let replica_sets = informer::<ReplicaSet>(&client, &mut feeds, &shutdown);
    let jobs = informer::<Job>(&client, &mut feeds, &shutdown);
    let pods = informer::<Pod>(&client, &mut feeds, &shutdown);
    let services = informer::<Service>(&client, &mut feeds, &shutdown);
    let endpoints = informer::<Endpoints>(&client, &mut feeds, &shutdown);
    let slices = informer::<EndpointSlice>(&client, &mut feeds, &shutdown);
    let namespaces = informer::<Namespace>(&client, &mut feeds, &shutdown);
    let service_accounts = informer::<ServiceAccount>(&client, &mut feeds, &shutdown);
    let untyped: Vec<(&Resource, Arc<Informer<DynamicObject>>)> = garbage_collector::monitored_resources()
        .filter(|resource| !watched_typed(resource))
        .map(|resource| (resource, dynamic_informer(&client, resource, &mut feeds, &shutdown)))
        .collect();
    let api = Arc::new(ApiClient::new(client.clone()));
    let clock = Arc::new(SystemClock);

    // Subscriptions come before the informers start, so that no event is missed.
    let deployment_events = deployments.subscribe();
    let (rs_for_deployments, rs_events) = (replica_sets.subscribe(), replica_sets.subscribe());
    let (pods_for_deployments, pods_for_replica_sets) = (pods.subscribe(), pods.subscribe());
    let (job_events, pods_for_jobs) = (jobs.subscribe(), pods.subscribe());
    let jobs_for_ttl = jobs.subscribe();
    let (service_events, pods_for_endpoints) = (services.subscribe(), pods.subscribe());
    let (endpoints_events, slice_events) = (endpoints.subscribe(), slices.subscribe());
    let namespace_events = namespaces.subscribe();
    let (namespaces_for_accounts, account_events) = (namespaces.subscribe(), service_accounts.subscribe());
    let mut graph_changes = vec![
        garbage_collector::changes_of(deployments.subscribe()),
        garbage_collector::changes_of(replica_sets.subscribe()),
        garbage_collector::changes_of(jobs.subscribe()),
        garbage_collector::changes_of(pods.subscribe()),
        garbage_collector::changes_of(services.subscribe()),
        garbage_collector::changes_of(endpoints.subscribe()),
        garbage_collector::changes_of(slices.subscribe()),
        garbage_collector::changes_of(service_accounts.subscribe()),
    ];
    graph_changes
        .extend(untyped.iter().map(|(r, informer)| garbage_collector::dynamic_changes(r, informer.subscribe())));
    for feed in feeds {
        tasks.spawn(feed);
    }
    if let Some(address) = config.metrics_listen {
        tasks.spawn(skiff_client::metrics::serve(address, shutdown.clone()));
    }
    tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        _ = async {
            deployments.synced().await;
            replica_sets.synced().await;
            jobs.synced().await;
            pods.synced().await;
            services.synced().await;
            endpoints.synced().await;
            slices.synced().await;
            namespaces.synced().await;
            service_accounts.synced().await;
        } => {}
    }
    tracing::info!(api = config.api, "caches synced; controllers starting");

    let deployment_controller = Arc::new(DeploymentController::new(
        deployments.store(),
        replica_sets.store(),
        pods.store(),
        api.clone(),
        Arc::new(SpawnedRecorder(Recorder::new(client.clone(), "deployment-controller", None))),
        clock.clone(),
    ));
    let (by_rs, by_pod) = (deployment_controller.clone(), deployment_controller.clone());
    let run_deployments = Controller::new(deployment_events, shutdown.clone())
        .watches(rs_for_deployments, move |event| by_rs.replica_set_event(event))
        .watches(pods_for_deployments, move |event| by_pod.pod_event(event));
    let sync = deployment_controller.clone();
    tasks.spawn(run_deployments.run(config.workers, move |key| {
        let sync = sync.clone();
        async move { sync.sync_deployment(&key).await }
    }));

    let replica_set_controller = Arc::new(ReplicaSetController::new(
        replica_sets.store(),
        pods.store(),
        api.clone(),
        Arc::new(SpawnedRecorder(Recorder::new(client.clone(), "replicaset-controller", None))),
        clock.clone(),
    ));
    let by_pod = replica_set_controller.clone();
    let run_replica_sets = Controller::new(rs_events, shutdown.clone())
        .watches(pods_for_replica_sets, move |event| by_pod.pod_event(event));
    let sync = replica_set_controller.clone();
    tasks.spawn(run_replica_sets.run(config.workers, move |key| {
        let sync = sync.clone();
        async move { sync.sync_replica_set(&key).await }
    }));

    let job_controller = Arc::new(JobController::new(
        jobs.store(),
        pods.store(),
        api.clone(),
        Arc::new(SpawnedRecorder(Recorder::new(client.clone(), "job-controller", None))),
        clock.clone(),
    ));
    let by_pod = job_controller.clone();
    let run_jobs =
        Controller::new(job_events, shutdown.clone()).watches(pods_for_jobs, move |event| by_pod.pod_event(event));
    let sync = job_controller.clone();
    tasks.spawn(run_jobs.run(config.workers, move |key| {
        let sync = sync.clone();
        async move { sync.sync_job(&key).await }
    }));

    let ttl_controller = Arc::new(TtlAfterFinishedController::new(jobs.store(), api.clone(), clock.clone()));
    let run_ttl = Controller::new(jobs_for_ttl, shutdown.clone());
    tasks.spawn(run_ttl.run(config.workers, move |key| {
        let sync = ttl_controller.clone();
        async move { sync.sync_job(&key).await }
    }));

    let endpoints_controller = Arc::new(EndpointsController::new(
        services.store(),
        pods.store(),
        endpoints.store(),
        slices.store(),
        Arc::new(ApiEndpointsWrites(client.clone())),
    ));
    let by_pod = endpoints_controller.clone();
    let run_endpoints = Controller::new(service_events, shutdown.clone())
        .watches(pods_for_endpoints, move |event| by_pod.pod_event(event))
        .watches(endpoints_events, EndpointsController::endpoints_event)
        .watches(slice_events, EndpointsController::slice_event);
    let sync = endpoints_controller.clone();
    tasks.spawn(run_endpoints.run(config.workers, move |key| {
        let sync = sync.clone();
        async move { sync.sync_service(&key).await }
    }));

    let namespace_controller = Arc::new(NamespaceController::new(namespaces.store(), api.clone(), clock.clone()));
    let run_namespaces = Controller::new(namespace_events, shutdown.clone());
    tasks.spawn(run_namespaces.run(config.workers, move |key| {
        let sync = namespace_controller.clone();
        async move { sync.sync_namespace(&key).await }
    }));

    let account_controller =
        Arc::new(ServiceAccountsController::new(namespaces.store(), service_accounts.store(), api.clone()));
    let by_account = account_controller.clone();
    let run_accounts = Controller::new(namespaces_for_accounts, shutdown.clone())
        .watches(account_events, move |event| by_account.service_account_event(event));
    tasks.spawn(run_accounts.run(config.workers, move |key| {
        let sync = account_controller.clone();
        async move { sync.sync_namespace(&key).await }
    }));

    let recorder = Recorder::new(client.clone(), "garbage-collector-controller", None);
    let collector = GarbageCollector::new(api.clone(), Arc::new(SpawnedRecorder(recorder)));
    tasks.spawn(collector.run(graph_changes, config.workers, shutdown.clone()));

    tasks.close();
    tasks.wait().await;
    Ok(())
}
