//! # skiff-bench: Skiff measured against the real thing
//!
//! Five benchmarks, each a binary that starts real server processes on this machine and prints
//! one table. See `bench/README.md` for how to run them and what each number means.
//!
//! - `bench-store` starts `skiff-store` and a real etcd, drives both with the same client code
//!   (`skiff_store::client::StoreClient`) and compares them.
//! - `bench-api` starts `skiff-store` and `skiff-apiserver` in front of it, drives the API
//!   server through REST and holds it to absolute targets (latency, throughput, watch fan-out,
//!   memory). Its workloads are in [`api`].
//! - `bench-pods` starts a whole cluster (store, API server, scheduler, controller-manager, a
//!   kubelet on Docker) and times pod starts against the Docker floor (the same containers
//!   started straight through the Engine API), and the cluster's memory. Its workloads are in
//!   [`pods`].
//! - `bench-rollout` starts the same cluster and times a rolling update against its
//!   theoretical minimum and a scale-up against the Docker floor. Its workloads are in
//!   [`rollout`]; what the cluster benchmarks share is in [`cluster`].
//! - `bench-net` starts the same cluster and a `skiff-proxy`, and drives one pod with `wrk`
//!   directly, through its ClusterIP, a NodePort and the Ingress router, and through nginx as
//!   a reverse proxy. Its workloads are in [`net`].
//!
//! # Layout
//!
//! Shared by all, in the order a run uses them:
//!
//! - `locate.rs`: finding the server binaries and their versions.
//! - `machine.rs`: what the figures were measured on (cores, kernel, how fast this disk syncs).
//! - `server.rs`: one server process on free loopback ports with its own temporary data
//!   directory, killed when its guard is dropped (also on error and panic).
//! - `cpu.rs`: CPU time from `/proc`, of a server and of the whole machine; `memory.rs`: a
//!   server's resident memory from `/proc`.
//! - `stats.rs`: percentiles and medians; `report.rs`: the header lines and the tables.
//! - `error.rs`: what can go wrong, step by step.
//!
//! The store benchmark's own:
//!
//! - `plan.rs`: how many operations and how long each workload runs (full and `--quick`).
//! - The workloads, one per file: `put_latency.rs` (one client, one put at a time),
//!   `throughput.rs` (many clients, puts or gets, as many as they can), `watch_latency.rs` (from
//!   sending a put to the watcher receiving its event).
//! - `measure.rs`: the workloads in order, each against both servers back to back.
//!
//! The API benchmark's are in `api/`, the cluster benchmarks' in `cluster/` (shared), `pods/`
//! and `rollout/` (each module doc lists its files). The binaries in `src/bin/` are flags plus
//! the order of the steps.

pub mod api;
pub mod cluster;
pub mod cpu;
pub mod error;
pub mod locate;
pub mod machine;
pub mod measure;
pub mod memory;
pub mod net;
pub mod plan;
pub mod pods;
pub mod put_latency;
pub mod report;
pub mod rollout;
pub mod server;
pub mod stats;
pub mod throughput;
pub mod watch_latency;

pub use error::BenchError;
pub use plan::Plan;
pub use report::Measurements;
pub use server::Server;

/// Every value written is this big: about the size of a small Kubernetes object.
pub const VALUE_BYTES: usize = 1024;

/// The value every workload writes. `Bytes` so that each put clones a pointer, not a kilobyte:
/// the client shares two cores with the server under test and must stay cheap.
pub fn value() -> bytes::Bytes {
    bytes::Bytes::from(vec![b'v'; VALUE_BYTES])
}
