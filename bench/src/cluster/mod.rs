//! What the cluster benchmarks (`bench-pods`, `bench-rollout`, `bench-net`) share: a whole Skiff cluster as
//! processes, the Docker floor it is held to, and the clocks that time pods.
//!
//! In the order a run uses them:
//!
//! - `processes.rs`: the five daemons as release processes (`server.rs` guards), one node, and
//!   the guard that removes the node's containers.
//! - `docker.rs`: the Engine API through bollard, Docker's own timestamps, label guards;
//!   `floor.rs`: the Docker floor, pause plus app container straight through the Engine API,
//!   one at a time or many in flight.
//! - `objects.rs`: the pods, ReplicaSets, Deployments and Services created, as JSON.
//! - `watch.rs`: a watch that marks when each object was created, bound, `Running`, `Ready`,
//!   deleted, gone; waiting for a condition returns the event's own arrival time.
//! - `kubelet_metrics.rs`: the kubelet's own pod start histogram.
//! - `steps.rs`: create and wait, delete and wait, read the timelines back.
//! - `run.rs`: the set-up and teardown around the workloads; `cli.rs`: their common flags.
//! - `breakdown.rs`: where the time goes, from the watch, Docker's timestamps and the kubelet's
//!   log, side by side with the floor.

pub mod breakdown;
pub mod cli;
pub mod docker;
pub mod floor;
pub mod kubelet_metrics;
pub mod objects;
pub mod processes;
pub mod run;
pub mod steps;
pub mod watch;

pub use processes::{Binaries, Cluster};

/// The namespace every workload uses: the cluster is the benchmark's own.
pub const NAMESPACE: &str = "default";
