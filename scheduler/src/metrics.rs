//! Prometheus metrics at `/metrics` (and `/healthz`) on `--metrics-listen`.
//!
//! Named as kube-scheduler names them (`pkg/scheduler/metrics/metrics.go`), so that dashboards
//! and tutorials about them apply:
//!
//! - `scheduler_schedule_attempts_total{result, profile}`: attempts by outcome, `scheduled`,
//!   `unschedulable` or `error`;
//! - `scheduler_scheduling_attempt_duration_seconds{result, profile}`: from pop to bind;
//! - `scheduler_pending_pods{queue}`: pods waiting in `active`, `backoff` and `unschedulable`.

use std::sync::LazyLock;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, TextEncoder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::queue::Pending;

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    prometheus::default_registry().register(Box::new(metric.clone())).expect("metric names are unique");
    metric
}

static ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let opts = Opts::new("scheduler_schedule_attempts_total", "scheduling attempts, by result and profile");
    register(IntCounterVec::new(opts, &["result", "profile"]).unwrap())
});

static ATTEMPT_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    let opts = HistogramOpts::new("scheduler_scheduling_attempt_duration_seconds", "scheduling attempt latency")
        .buckets(prometheus::exponential_buckets(0.001, 2.0, 15).unwrap());
    register(HistogramVec::new(opts, &["result", "profile"]).unwrap())
});

static PENDING: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let opts = Opts::new("scheduler_pending_pods", "pods waiting to be scheduled, by queue");
    register(IntGaugeVec::new(opts, &["queue"]).unwrap())
});

/// Counts one attempt and how long it took.
pub fn attempt(result: &str, profile: &str, took: Duration) {
    ATTEMPTS.with_label_values(&[result, profile]).inc();
    ATTEMPT_DURATION.with_label_values(&[result, profile]).observe(took.as_secs_f64());
}

pub fn pending(pending: Pending) {
    PENDING.with_label_values(&["active"]).set(pending.active as i64);
    PENDING.with_label_values(&["backoff"]).set(pending.backoff as i64);
    PENDING.with_label_values(&["unschedulable"]).set(pending.unschedulable as i64);
}

pub async fn render() -> String {
    LazyLock::force(&ATTEMPTS);
    LazyLock::force(&PENDING);
    let mut out = Vec::new();
    TextEncoder::new().encode(&prometheus::gather(), &mut out).expect("text encoding cannot fail");
    String::from_utf8(out).expect("the text format is UTF-8")
}

pub fn app() -> Router {
    Router::new().route("/metrics", get(render)).route("/healthz", get(|| async { "ok" }))
}

/// Serves [`app`] until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, app()).with_graceful_shutdown(shutdown.cancelled_owned()).await
}
