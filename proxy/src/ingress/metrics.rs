//! The router's Prometheus metrics, in the process' default registry (served at `/metrics` by
//! the proxy's `--metrics-listen`).
//!
//! Named after ingress-nginx's (`internal/ingress/metric/collectors/socket.go`), with Skiff's
//! prefix, so that its dashboards' queries translate word for word:
//!
//! - `skiff_ingress_requests_total{namespace, ingress, service, canary, method, status}`:
//!   `nginx_ingress_controller_requests`; `canary` is `true` when the canary took the request
//!   (no `host` label: a client can send any host, and each would be a new series);
//! - `skiff_ingress_request_duration_seconds{namespace, ingress, service}`:
//!   `nginx_ingress_controller_request_duration_seconds`;
//! - `skiff_ingress_upstream_retries_total{namespace, service}`: requests sent again to another
//!   endpoint (ingress-nginx logs these as `upstream_addr` lists);
//! - `skiff_ingress_table_builds_total` and `skiff_ingress_endpoints`: how often the table was
//!   rebuilt and how many endpoints it sends to.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts};

use crate::ingress::table::Backend;

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    prometheus::default_registry().register(Box::new(metric.clone())).expect("metric names are unique");
    metric
}

static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts = Opts::new("skiff_ingress_requests_total", "requests through the Ingress router");
    register(IntCounterVec::new(opts, &["namespace", "ingress", "service", "canary", "method", "status"]).unwrap())
});

static DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    let opts = HistogramOpts::new("skiff_ingress_request_duration_seconds", "time to the response head")
        .buckets(prometheus::exponential_buckets(0.0005, 2.0, 16).unwrap());
    register(HistogramVec::new(opts, &["namespace", "ingress", "service"]).unwrap())
});

static RETRIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts = Opts::new("skiff_ingress_upstream_retries_total", "requests retried on another endpoint");
    register(IntCounterVec::new(opts, &["namespace", "service"]).unwrap())
});

static BUILDS: LazyLock<IntCounter> =
    LazyLock::new(|| register(IntCounter::new("skiff_ingress_table_builds_total", "routing tables built").unwrap()));

static ENDPOINTS: LazyLock<IntGauge> =
    LazyLock::new(|| register(IntGauge::new("skiff_ingress_endpoints", "endpoints in the routing table").unwrap()));

/// What one request's metrics are labelled with.
pub struct Labels<'a> {
    pub namespace: &'a str,
    pub ingress: &'a str,
    pub service: &'a str,
    pub canary: bool,
    pub method: &'a str,
}

/// Counts one answered request.
pub fn request(labels: &Labels<'_>, status: u16, took: Duration) {
    let canary = if labels.canary { "true" } else { "false" };
    let status = status.to_string();
    let values = [labels.namespace, labels.ingress, labels.service, canary, labels.method, &status];
    REQUESTS.with_label_values(&values).inc();
    DURATION.with_label_values(&[labels.namespace, labels.ingress, labels.service]).observe(took.as_secs_f64());
}

pub fn retried(backend: &Backend) {
    RETRIES.with_label_values(&[&backend.namespace, &backend.service]).inc();
}

pub fn table_built(endpoints: usize) {
    BUILDS.inc();
    ENDPOINTS.set(endpoints as i64);
}
