//! The gRPC services: thin adapters from etcd's wire API to [`crate::Store`].
//!
//! One file per etcd service. Each handler checks the request (`validate.rs`), calls the store,
//! fills the response header with the ids (etcd's `header.fill`), and records a metric.

pub mod kv;
pub mod lease;
pub mod maintenance;
pub mod watch;

use std::time::Instant;

use tonic::{Response, Status};

use crate::error::StoreError;
use crate::metrics;

/// Runs a handler body, records its metric, and turns store errors into etcd's gRPC statuses.
fn handle<T>(method: &'static str, started: Instant, result: Result<T, StoreError>) -> Result<Response<T>, Status> {
    let result = result.map_err(Status::from);
    metrics::observe(method, started, &result);
    result.map(Response::new)
}
