//! `bench-api`: the API server measured through REST, with skiff-store behind it.
//!
//! Start `skiff-store` and `skiff-apiserver` as processes (`server.rs`), talk to the API server
//! the way kubectl and controllers do — HTTP/1.1 and JSON — and hold what comes out to the API
//! server issue's targets (`report.rs`). See `bench/README.md` for what each row means.
//!
//! In the order a run uses them:
//!
//! - `http.rs`: the client, a small hand-written HTTP/1.1 one, cheap because it shares the
//!   cores with the server it measures; `pod.rs`: the pod every workload writes.
//! - `plan.rs`: how much of each workload (full and `--quick`).
//! - The workloads, one per file: `fill.rs` (10,000 pods stored, and the memory they take),
//!   `requests.rs` (create, get, list, update at one client and at many), `fan_out.rs` (a
//!   thousand watchers and how late each hears of a create).
//! - `measure.rs`: the workloads in order; `report.rs`: the rows and their targets.

pub mod fan_out;
pub mod fill;
pub mod http;
pub mod measure;
pub mod plan;
pub mod pod;
pub mod report;
pub mod requests;

pub use measure::{measure, ApiMeasurements};
pub use plan::ApiPlan;
