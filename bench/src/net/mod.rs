//! `bench-net`: one demo-web pod reached five ways, all driven by the same `wrk` from the host:
//! directly by its IP, through its ClusterIP and a NodePort (the proxy's iptables rules),
//! through the Ingress router, and through nginx as a reverse proxy (the router's yardstick).
//!
//! - `plan.rs`: the wrk parameters every path shares, the rounds, the bodies (full, `--quick`).
//! - `process.rs`: the tools it needs, free ports, stopping a child so that it cleans up.
//! - `proxy.rs`: `skiff-proxy` as a process with chains of its own, removed on every exit.
//! - `nginx.rs`: nginx's configuration (as ingress-nginx writes one upstream) and process.
//! - `target.rs`: the pod, Service and Ingress; the paths, and waiting until each answers.
//! - `wrk.rs`: one wrk run and the parsing of its report.
//! - `measure.rs`: the warm-up and the interleaved rounds, with the proxies' CPU per request.
//! - `report.rs`: the medians, the ratios and their targets.
//!
//! The cluster itself (store, API server, scheduler, controller-manager, kubelet on Docker) is
//! the one `bench-pods` and `bench-rollout` start (`cluster/`).

pub mod measure;
pub mod nginx;
pub mod plan;
pub mod process;
pub mod proxy;
pub mod report;
pub mod target;
pub mod wrk;

pub use measure::{measure, Measured, NetMeasurements};
pub use plan::NetPlan;

use crate::error::BenchError;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{tool} is not installed; bench-net needs it: `apt-get install -y {package}`")]
    Missing { tool: &'static str, package: &'static str },
    #[error("cannot run {tool}")]
    Tool {
        tool: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("wrk against {url} failed or printed no figures:\n{report}")]
    Wrk { url: String, report: String },
    #[error("cannot prepare {what}")]
    Prepare {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} stopped or did not start: {details}")]
    Exited { what: &'static str, details: String },
    #[error("{path} did not answer within 60 s: {details}")]
    NotServing { path: &'static str, details: String },
    #[error(transparent)]
    Bench(#[from] BenchError),
    #[error("an API request failed")]
    Api(#[from] skiff_client::ApiError),
}
