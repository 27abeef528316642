//! # skiff-client: the informer machinery the daemons share
//!
//! In the shape of client-go and kube-runtime. What is here so far:
//!
//! - [`workqueue`]: the queue between event handlers and a controller's workers, with
//!   client-go's contract (duplicates collapse, fair, never two workers on one key, re-added
//!   while processing → processed again, rate-limited requeue, delayed adds, draining shutdown).
//! - [`backoff`]: the per-key exponential back-off it uses.
//!
//! To come with the API server issue: a gRPC client for the API server's resource service, a
//! watcher (list, then watch from the list's resourceVersion, re-list on `410 Gone`), a
//! reflector cache, and a controller runner.

pub mod backoff;
pub mod workqueue;

pub use workqueue::{Backoff, WorkQueue};
