//! The kubelet's Prometheus metrics, with kubelet's names, on `--metrics-listen` at `/metrics`.
//!
//! Mirrors a few of `pkg/kubelet/metrics/metrics.go`: `kubelet_running_pods`,
//! `kubelet_running_containers{container_state}`, `kubelet_pod_start_duration_seconds` (from
//! the pod first seen to all its containers running), `kubelet_pod_worker_duration_seconds
//! {operation}`, `kubelet_started_containers_total{container_type}`,
//! `kubelet_pleg_relist_duration_seconds`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio_util::sync::CancellationToken;

pub struct Metrics {
    pub registry: Registry,
    pub running_pods: IntGauge,
    pub running_containers: IntGaugeVec,
    pub pod_start_duration: Histogram,
    pub pod_worker_duration: HistogramVec,
    pub started_containers: IntCounterVec,
    pub relist_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let running_pods =
            IntGauge::new("kubelet_running_pods", "Number of pods that have a running pod sandbox").unwrap();
        let running_containers = IntGaugeVec::new(
            Opts::new("kubelet_running_containers", "Number of containers currently running"),
            &["container_state"],
        )
        .unwrap();
        let pod_start_duration = Histogram::with_opts(
            HistogramOpts::new(
                "kubelet_pod_start_duration_seconds",
                "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
            )
            .buckets(vec![0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 300.0]),
        )
        .unwrap();
        let pod_worker_duration = HistogramVec::new(
            HistogramOpts::new("kubelet_pod_worker_duration_seconds", "Duration in seconds to sync a single pod"),
            &["operation"],
        )
        .unwrap();
        let started_containers = IntCounterVec::new(
            Opts::new("kubelet_started_containers_total", "Cumulative number of containers started"),
            &["container_type"],
        )
        .unwrap();
        let relist_duration = Histogram::with_opts(HistogramOpts::new(
            "kubelet_pleg_relist_duration_seconds",
            "Duration in seconds for relisting pods in PLEG",
        ))
        .unwrap();
        registry.register(Box::new(running_pods.clone())).unwrap();
        registry.register(Box::new(running_containers.clone())).unwrap();
        registry.register(Box::new(pod_start_duration.clone())).unwrap();
        registry.register(Box::new(pod_worker_duration.clone())).unwrap();
        registry.register(Box::new(started_containers.clone())).unwrap();
        registry.register(Box::new(relist_duration.clone())).unwrap();
        Metrics {
            registry,
            running_pods,
            running_containers,
            pod_start_duration,
            pod_worker_duration,
            started_containers,
            relist_duration,
        }
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// The metrics router, callable in memory.
pub fn app(metrics: Arc<Metrics>) -> Router {
    Router::new().route("/metrics", get(move || async move { metrics.render() }))
}

/// Serves `/metrics` until `stop`.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>, stop: CancellationToken) {
    let address: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(address = ?address, "serving metrics");
    if let Err(err) = axum::serve(listener, app(metrics)).with_graceful_shutdown(stop.cancelled_owned()).await {
        tracing::warn!(cause = %err, "the metrics server failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_kubelets_names() {
        let metrics = Metrics::new();
        metrics.running_pods.set(3);
        metrics.started_containers.with_label_values(&["container"]).inc();
        metrics.pod_start_duration.observe(1.5);
        let text = metrics.render();
        assert!(text.contains("kubelet_running_pods 3"), "{text}");
        assert!(text.contains("kubelet_started_containers_total{container_type=\"container\"} 1"));
        assert!(text.contains("kubelet_pod_start_duration_seconds_count 1"));
    }
}
