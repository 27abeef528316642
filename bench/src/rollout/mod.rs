//! `bench-rollout`: a rolling update timed against its theoretical minimum, and a scale-up
//! against the Docker floor.
//!
//! - `plan.rs`: how many replicas and pods (full and `--quick`).
//! - `minimum.rs`: the fastest a rolling update can be, from pod start and deletion times
//!   (pure, with a worked example).
//! - `measure.rs`: the workloads in order; `deployment.rs`: what a Deployment's status says.
//! - `report.rs`: the rows, their targets, and where the time goes.
//!
//! The cluster, the floor, the watch and the breakdown are shared with `bench-pods`
//! (`cluster/`).

pub mod deployment;
pub mod measure;
pub mod minimum;
pub mod plan;
pub mod report;

pub use measure::{measure, RolloutMeasurements};
pub use plan::RolloutPlan;
