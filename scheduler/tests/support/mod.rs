//! What the scheduler's integration tests share: the API server on skiff-store (the shared
//! in-process control plane of `skiff-tests`), nodes written as a kubelet would write them (the
//! object, then its status through the status subresource), and the scheduler in process.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

pub use skiff_tests::control_plane::ControlPlane as Cluster;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use serde_json::json;
use skiff_client::{Api, Client, ListParams, Patch};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a test waits for the scheduler to do something.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A cluster with a scheduler, and a client of its API server.
pub struct Harness {
    pub cluster: Cluster,
    pub client: Client,
    scheduler: Option<(CancellationToken, JoinHandle<Result<(), skiff_scheduler::Error>>)>,
    /// Where the running scheduler serves `/metrics`.
    pub metrics: Option<std::net::SocketAddr>,
}

impl Harness {
    /// The API server and a running scheduler.
    pub async fn start() -> Harness {
        let mut harness = Harness::without_scheduler().await;
        harness.start_scheduler().await;
        harness
    }

    pub async fn without_scheduler() -> Harness {
        let cluster = Cluster::start().await;
        let client = Client::connect(&cluster.grpc_address.to_string(), "scheduler-test").await.unwrap();
        Harness { cluster, client, scheduler: None, metrics: None }
    }

    pub async fn start_scheduler(&mut self) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.metrics = Some(listener.local_addr().unwrap());
        let config = skiff_scheduler::Config {
            api: self.cluster.grpc_address.to_string(),
            scheduler_name: skiff_scheduler::DEFAULT_SCHEDULER_NAME.into(),
            metrics_listen: None,
        };
        let stop = CancellationToken::new();
        let running = tokio::spawn(skiff_scheduler::serve(config, Some(listener), stop.clone()));
        self.scheduler = Some((stop, running));
    }

    /// Stops the scheduler and waits for it to finish.
    pub async fn stop_scheduler(&mut self) {
        let (stop, running) = self.scheduler.take().expect("a scheduler runs");
        stop.cancel();
        tokio::time::timeout(PATIENCE, running).await.expect("the scheduler stops in time").unwrap().unwrap();
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Registers a node as a kubelet does: the object, then its status.
    pub async fn node(&self, node: Node) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let name = node.metadata.name.clone().unwrap();
        let status = serde_json::to_value(&node.status).unwrap();
        let mut object = node;
        object.status = None;
        nodes.create(&object).await.unwrap();
        nodes.patch_status(&name, &Patch::Merge(json!({"status": status}))).await.unwrap();
    }

    /// Creates a pod (its fixture uid is the server's to choose).
    pub async fn pod(&self, mut pod: Pod) -> Pod {
        pod.metadata.uid = None;
        self.pods().create(&pod).await.unwrap()
    }

    pub async fn node_of(&self, pod: &str) -> Option<String> {
        let pod = self.pods().get(pod).await.unwrap();
        pod.spec.and_then(|s| s.node_name).filter(|n| !n.is_empty())
    }

    /// Waits for the pod to be bound; its node.
    pub async fn bound(&self, pod: &str) -> String {
        eventually(&format!("{pod} is bound"), || async { self.node_of(pod).await }).await
    }

    /// Every pod's node (`None` for those not bound).
    pub async fn placements(&self) -> BTreeMap<String, Option<String>> {
        let (pods, _) = self.pods().list(&ListParams::default()).await.unwrap();
        pods.into_iter()
            .map(|p| (p.metadata.name.unwrap(), p.spec.and_then(|s| s.node_name).filter(|n| !n.is_empty())))
            .collect()
    }

    /// The events about a pod.
    pub async fn events(&self, pod: &str) -> Vec<Event> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let (events, _) = events.list(&ListParams::fields(&format!("involvedObject.name={pod}"))).await.unwrap();
        events
    }

    /// Waits for an event with this reason about the pod.
    pub async fn event(&self, pod: &str, reason: &str) -> Event {
        eventually(&format!("a {reason} event for {pod}"), || async {
            self.events(pod).await.into_iter().find(|e| e.reason.as_deref() == Some(reason))
        })
        .await
    }

    /// The pod's `PodScheduled` condition, if it has one: (status, reason, message).
    pub async fn scheduled_condition(&self, pod: &str) -> Option<(String, String, String)> {
        let pod = self.pods().get(pod).await.unwrap();
        let conditions = pod.status.and_then(|s| s.conditions).unwrap_or_default();
        let c = conditions.into_iter().find(|c| c.type_ == "PodScheduled")?;
        Some((c.status, c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
    }

    /// `/metrics` of the running scheduler.
    pub async fn metrics(&self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.metrics.unwrap()).await.unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: scheduler\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some((stop, _)) = &self.scheduler {
            stop.cancel();
        }
    }
}

/// Polls `check` until it answers `Some`, for at most [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
