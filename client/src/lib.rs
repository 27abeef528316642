//! # skiff-client: the informer machinery the daemons share
//!
//! In the shape of client-go and kube-runtime. What is here so far:
//!
//! - [`workqueue`]: the queue between event handlers and a controller's workers, with
//!   client-go's contract (duplicates collapse, fair, never two workers on one key, re-added
//!   while processing → processed again, rate-limited requeue, delayed adds, draining shutdown).
//! - [`backoff`]: the per-key exponential back-off it uses.
//! - [`watcher`]: list, then watch from the list's resourceVersion, re-list on `410 Gone`,
//!   resume after other failures with a back-off; over any API behind its `ListWatch` trait.
//!
//! - [`reflector`]: the watcher's events kept as a shared local cache (one writer, many readers
//!   of `Arc<K>`), indexed by namespace and by controller owner.
//!
//! - [`controller`]: the runner: events feed the cache and a queue of keys, N workers call
//!   `reconcile(key)`, errors requeue with back-off, other kinds map to owner keys.
//!
//! - [`events`]: Kubernetes Events (`Scheduled`, `Pulled`, `ScalingReplicaSet`…), repeated ones
//!   aggregated into a count.
//!
//! - [`informer`]: one watch and one cache of a kind, its events handed to every controller that
//!   needs them (client-go's shared informer).
//!
//! - [`metrics`]: `/metrics` for the daemons without an HTTP server of their own.
//!
//! - [`process`]: what every daemon's `main.rs` sets up: logs, and shutdown on SIGINT/SIGTERM.
//!
//! - [`rotation`]: the handshake that keeps new connections away from a pod before its kubelet
//!   stops it (proxies publish what they applied; the kubelet waits for them).
//!
//! - [`expectations`]: client-go's `ControllerExpectations`, so that a controller never creates
//!   or deletes twice because its cache lags behind its own writes.
//!
//! - [`api`]: the client of the API server's gRPC API: [`Client`] (objects as JSON) and
//!   [`Api<K>`] (typed, over `k8s-openapi`'s Kubernetes types), with the watcher's `ListWatch`
//!   ([`api::Lister`]) and the cache's `Object` for every Kubernetes type.

pub mod api;
pub mod backoff;
pub mod controller;
pub mod events;
pub mod expectations;
pub mod informer;
pub mod metrics;
pub mod process;
pub mod reflector;
pub mod rotation;
pub mod watcher;
pub mod workqueue;

pub use api::{Api, ApiError, Client, ListParams, Patch};
pub use workqueue::{Backoff, WorkQueue};
