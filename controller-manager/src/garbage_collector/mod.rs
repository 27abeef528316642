//! The garbage collector: what an owner's deletion means for its dependents.
//!
//! Mirrors `pkg/controller/garbagecollector/` (Kubernetes 1.32). Objects name their owners in
//! `metadata.ownerReferences` (a ReplicaSet names its Deployment, a pod its ReplicaSet); the
//! API server turns a delete's `propagationPolicy` into finalizers (`apiserver/src/verbs/
//! delete.rs`), and this controller does the rest:
//!
//! - **Background** (kubectl's default): the owner goes at once. An object whose owners are
//!   all gone is deleted; one that keeps some owner only loses the references that dangle.
//! - **Foreground** (`--cascade=foreground`): the owner stays, marked, with the
//!   `foregroundDeletion` finalizer. Its dependents are deleted (in the foreground too when they
//!   have dependents of their own); once none with `blockOwnerDeletion: true` is left, the
//!   finalizer is removed and the API server deletes the owner.
//! - **Orphan** (`--cascade=orphan`): the owner stays, marked, with the `orphan` finalizer
//!   until every dependent has lost its reference to it; then the finalizer goes, and the owner.
//!
//! # How it works
//!
//! ```text
//!  informers (every kind) ─┐
//!                          ├─▶ graph builder ──▶ attempt_to_delete ──▶ workers ──▶ API server
//!  virtual deletes ────────┘   (uid graph)    └▶ attempt_to_orphan ──▶ workers ──▶ API server
//!        ▲                                                              │
//!        └───────────── "GET says this object does not exist" ──────────┘
//! ```
//!
//! 1. One task, the **graph builder** (`graph_builder.rs`), applies every informer event to the
//!    uid graph (`graph.rs`) and says which uids to look at: the dependents of a deleted owner,
//!    an owner that starts a foreground or orphan deletion, a virtual owner to look up.
//! 2. Workers take uids from the two queues (`attempt_to_delete.rs`, `attempt_to_orphan.rs`),
//!    read the graph, make live GETs (the graph lags: it decides whom to ask, never what to
//!    do), and write: deletes with uid and resourceVersion preconditions, compare-and-swap JSON
//!    patches of `ownerReferences` and `finalizers` (`patch.rs`).
//! 3. A worker that finds an object absent tells the graph builder (a *virtual delete*), which
//!    is the graph's only writer.
//!
//! The workers start once the graph has every kind's first list: orphaning an owner whose
//! dependents are not in the graph yet would leave them with a dangling reference, and the next
//! look would delete them. As upstream, they start anyway after [`INITIAL_SYNC_TIMEOUT`] (a
//! kind that cannot be listed should not stop the collection of all the others), with a warning.
//!
//! | file | what | upstream |
//! |---|---|---|
//! | `graph.rs` | nodes, identities, blocking dependents | `graph.go` |
//! | `graph_builder.rs` | events → graph → queues, as one pure function | `graph_builder.go` |
//! | `monitors.rs` | which kinds are watched; their events as graph changes | `graph_builder.go` (monitors) |
//! | `classify.rs` | the pure decisions: `classify_references`, what to do with an object | `garbagecollector.go` |
//! | `attempt_to_delete.rs` | `attempt_to_delete_item`, `process_deleting_dependents_item` | `garbagecollector.go` |
//! | `attempt_to_orphan.rs` | `attempt_to_orphan_worker`, `orphan_dependents` | `garbagecollector.go` |
//! | `operations.rs` | GET, DELETE, PATCH, finalizer removal | `operations.go` |
//! | `patch.rs` | the JSON patches | `patch.go` |
//! | `absent_owner_cache.rs` | owners known to be gone | `uid_cache.go` |
//! | `metrics.rs` | Prometheus counters | `metrics/metrics.go` |
//!
//! Left out: discovery of new kinds at run time (Skiff's are fixed), the `/debug/controllers/
//! garbagecollector/graph` dump, the metadata-only informers (the typed informers are shared
//! instead), strategic merge patches (compare-and-swap JSON patches do the job for every
//! kind), and leader election.

mod absent_owner_cache;
mod attempt_to_delete;
mod attempt_to_orphan;
pub mod classify;
pub mod graph;
pub mod graph_builder;
mod metrics;
pub mod monitors;
mod operations;
pub mod patch;

#[cfg(test)]
mod graph_builder_tests;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::client::{ApiError, GarbageCollectorClient};
use crate::events::{Event, EventRecorder, EventType, Reference};
use absent_owner_cache::ReferenceCache;
use graph::{Graph, ObjectReference};
use graph_builder::{process_graph_changes, GraphChange};
use skiff_client::WorkQueue;

pub use monitors::{changes_of, dynamic_changes, monitored_resources};

/// How long the workers wait for every kind's first list before they start anyway (upstream's
/// `syncPeriod`, given to `GarbageCollector.Run` as its initial sync timeout).
pub const INITIAL_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// The finalizer of an orphaning deletion (`metav1.FinalizerOrphanDependents`).
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer of a foreground deletion (`metav1.FinalizerDeleteDependents`).
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An identity whose kind `skiff_api::registry` does not serve. Skiff's kinds are fixed, so
    /// retrying cannot help (upstream retries: a new CRD may appear).
    #[error("{kind} ({api_version}) is not a kind Skiff serves")]
    UnknownKind { api_version: String, kind: String },
    #[error("{item} is cluster-scoped, but its owner {owner} is of a namespaced kind")]
    NamespacedOwnerOfClusterScopedObject { item: String, owner: String },
    #[error("getting {item}")]
    Get {
        item: String,
        #[source]
        source: ApiError,
    },
    #[error("looking up {owner}, an owner of {item}")]
    GetOwner {
        item: String,
        owner: String,
        #[source]
        source: ApiError,
    },
    #[error("deleting {item}")]
    Delete {
        item: String,
        #[source]
        source: ApiError,
    },
    #[error("patching {item}")]
    Patch {
        item: String,
        #[source]
        source: ApiError,
    },
    #[error("the metadata of {item} does not read as ObjectMeta")]
    Decode {
        item: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{failed} dependents of {owner} could not be orphaned")]
    OrphanDependents {
        owner: String,
        failed: usize,
        #[source]
        first: Box<Error>,
    },
}

impl Error {
    /// The object the call was about does not exist (`404`).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Get { source, .. } | Error::Delete { source, .. } | Error::Patch { source, .. } => {
                source.is_not_found()
            }
            _ => false,
        }
    }

    /// Retrying would fail the same way.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Error::UnknownKind { .. } | Error::NamespacedOwnerOfClusterScopedObject { .. })
    }
}

/// The error and its causes on one line, for logs.
fn causes(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The garbage collector. Share it behind an `Arc`: the graph builder and the workers use the
/// same graph and queues.
pub struct GarbageCollector {
    /// The uid graph. A parking_lot mutex, not a Tokio one: no await happens while it is held
    /// (the workers copy out what they need before calling the API server).
    graph: Mutex<Graph>,
    /// Uids whose objects may have to go (upstream's `attemptToDelete`).
    attempt_to_delete: WorkQueue<String>,
    /// Uids of owners whose dependents must be orphaned (upstream's `attemptToOrphan`).
    attempt_to_orphan: WorkQueue<String>,
    /// Owners known to be gone, so that the dependents of one deleted owner do not each GET it.
    absent_owner_cache: ReferenceCache,
    /// Virtual deletes, from the workers to the graph builder.
    graph_changes: mpsc::UnboundedSender<GraphChange>,
    /// The receiving end, taken by [`GarbageCollector::run`].
    pending_graph_changes: Mutex<Option<mpsc::UnboundedReceiver<GraphChange>>>,
    client: Arc<dyn GarbageCollectorClient>,
    recorder: Arc<dyn EventRecorder>,
}

/// What a worker does with the uid it took (upstream's `workQueueItemAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkQueueItemAction {
    Forget,
    Requeue,
}

impl GarbageCollector {
    pub fn new(client: Arc<dyn GarbageCollectorClient>, recorder: Arc<dyn EventRecorder>) -> Arc<GarbageCollector> {
        metrics::register_all();
        let (graph_changes, pending) = mpsc::unbounded_channel();
        Arc::new(GarbageCollector {
            graph: Mutex::new(Graph::default()),
            attempt_to_delete: WorkQueue::default(),
            attempt_to_orphan: WorkQueue::default(),
            absent_owner_cache: ReferenceCache::default(),
            graph_changes,
            pending_graph_changes: Mutex::new(Some(pending)),
            client,
            recorder,
        })
    }

    /// Builds the graph from `sources` (one stream per watched kind, see [`changes_of`]) and
    /// runs `workers` workers on each queue once every kind has been listed (or
    /// [`INITIAL_SYNC_TIMEOUT`] has passed), until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        sources: Vec<BoxStream<'static, GraphChange>>,
        workers: usize,
        shutdown: CancellationToken,
    ) {
        let tasks = TaskTracker::new();
        let kinds = sources.len();
        let (listed, mut kinds_listed) = watch::channel(0);
        tasks.spawn(self.clone().run_process_graph_changes(sources, listed, shutdown.clone()));
        let all_listed = tokio::time::timeout(INITIAL_SYNC_TIMEOUT, kinds_listed.wait_for(|listed| *listed >= kinds));
        let synced = tokio::select! {
            _ = shutdown.cancelled() => None,
            synced = all_listed => Some(synced.is_ok()),
        };
        match synced {
            Some(true) => info!(nodes = self.graph.lock().len(), "garbage collector: every kind listed"),
            Some(false) => {
                let listed = *kinds_listed.borrow();
                warn!(listed, kinds, "garbage collector: not every kind could be listed; proceeding anyway");
            }
            None => {}
        }
        if synced.is_some() {
            info!("garbage collector: collecting garbage");
            for _ in 0..workers.max(1) {
                tasks.spawn(self.clone().run_attempt_to_delete_worker());
                tasks.spawn(self.clone().run_attempt_to_orphan_worker());
            }
            shutdown.cancelled().await;
        }
        self.attempt_to_delete.shutdown();
        self.attempt_to_orphan.shutdown();
        tasks.close();
        tasks.wait().await;
    }

    /// The graph builder's loop: every change from the informers and the workers, one at a time.
    /// `listed` counts the kinds whose first list is in the graph.
    async fn run_process_graph_changes(
        self: Arc<Self>,
        sources: Vec<BoxStream<'static, GraphChange>>,
        listed: watch::Sender<usize>,
        shutdown: CancellationToken,
    ) {
        let Some(virtual_deletes) = self.pending_graph_changes.lock().take() else {
            tracing::warn!("the garbage collector runs only once");
            return;
        };
        let all = sources.into_iter().chain([UnboundedReceiverStream::new(virtual_deletes).boxed()]);
        let mut changes = Box::pin(stream::select_all(all).take_until(shutdown.cancelled_owned()));
        let mut kinds_listed = HashSet::new();
        while let Some(change) = changes.next().await {
            let first_list = match &change {
                GraphChange::Restarted { api_version, kind, .. } => {
                    kinds_listed.insert((api_version.clone(), kind.clone()))
                }
                _ => false,
            };
            self.process_graph_change(change);
            if first_list {
                listed.send_replace(kinds_listed.len());
            }
        }
    }

    /// Applies one change to the graph and carries out what it asks.
    pub fn process_graph_change(&self, change: GraphChange) {
        tracing::trace!(?change, "graph change");
        let todo = process_graph_changes(&mut self.graph.lock(), change);
        for uid in todo.attempt_to_delete {
            self.attempt_to_delete.add(uid);
        }
        for uid in todo.attempt_to_orphan {
            self.attempt_to_orphan.add(uid);
        }
        for owner in todo.absent_owners {
            self.absent_owner_cache.add(owner.namespace, owner.uid);
        }
        for (dependent, reference) in todo.invalid_namespace {
            self.report_invalid_namespace_owner_ref(
                &dependent,
                &ObjectReference::of_owner(&reference, dependent.namespace.as_deref()),
            );
        }
    }

    /// A warning on `dependent`: it names an owner that does not live in its namespace.
    fn report_invalid_namespace_owner_ref(&self, dependent: &ObjectReference, owner: &ObjectReference) {
        tracing::info!(item = %dependent, owner = %owner, "item references an owner but does not match namespaces");
        let regarding = Reference {
            api_version: dependent.api_version.clone(),
            kind: dependent.kind.clone(),
            namespace: dependent.namespace.clone(),
            name: dependent.name.clone(),
            uid: dependent.uid.clone(),
            field_path: None,
        };
        let namespace = dependent.namespace.as_deref().unwrap_or_default();
        self.recorder.record(Event {
            regarding,
            type_: EventType::Warning,
            reason: "OwnerRefInvalidNamespace".into(),
            message: format!("ownerRef {owner} does not exist in namespace {namespace:?}"),
        });
    }

    /// Tells the graph builder that `identity` does not exist (upstream's
    /// `enqueueVirtualDeleteEvent`).
    fn enqueue_virtual_delete_event(&self, identity: &ObjectReference) {
        // Only fails once the graph builder has stopped, at shutdown.
        let _ = self.graph_changes.send(GraphChange::VirtualDeleted(identity.clone()));
    }
}
