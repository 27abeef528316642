//! `bench-pods`: Skiff's pod start against the Docker floor, and the whole cluster's memory.
//!
//! - `plan.rs`: how many pods (full and `--quick`).
//! - `measure.rs`: the workloads in order, each on the floor and then on Skiff.
//! - `report.rs`: the rows, their targets, and the "where the time goes" tables.
//!
//! The cluster, the floor, the watch and the breakdown are shared with `bench-rollout`
//! (`cluster/`).

pub mod measure;
pub mod plan;
pub mod report;

pub use measure::{measure, PodsMeasurements};
pub use plan::PodsPlan;
