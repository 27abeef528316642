//! Prometheus metrics at `/metrics`: requests by verb, resource and code, their latency, and the
//! watches open.
//!
//! Named as kube-apiserver names them (`staging/src/k8s.io/apiserver/pkg/endpoints/metrics`), so
//! that dashboards and tutorials about them apply.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, TextEncoder};

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    prometheus::default_registry().register(Box::new(metric.clone())).expect("metric names are unique");
    metric
}

static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("apiserver_request_total", "requests, by verb, resource and HTTP code"),
            &["verb", "resource", "code"],
        )
        .unwrap(),
    )
});

static DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register(
        HistogramVec::new(
            HistogramOpts::new("apiserver_request_duration_seconds", "request latency, by verb and resource")
                .buckets(prometheus::exponential_buckets(0.0005, 2.0, 14).unwrap()),
            &["verb", "resource"],
        )
        .unwrap(),
    )
});

/// Watches being served.
pub static WATCHES: LazyLock<IntGauge> =
    LazyLock::new(|| register(IntGauge::new("apiserver_registered_watchers", "watches being served").unwrap()));

/// Objects each kind's watch cache holds, and its watchers.
static CACHE_OBJECTS: LazyLock<prometheus::IntGaugeVec> = LazyLock::new(|| {
    register(
        prometheus::IntGaugeVec::new(Opts::new("apiserver_watch_cache_size", "objects held by the watch cache, by resource"), &["resource"])
            .unwrap(),
    )
});
static CACHE_WATCHERS: LazyLock<prometheus::IntGaugeVec> = LazyLock::new(|| {
    register(
        prometheus::IntGaugeVec::new(
            Opts::new("apiserver_watch_cache_watchers", "watchers the watch cache feeds, by resource"),
            &["resource"],
        )
        .unwrap(),
    )
});

static CACHES: std::sync::OnceLock<crate::watch_cache::WatchCaches> = std::sync::OnceLock::new();

/// Makes `/metrics` report these caches' sizes (the first server of the process wins).
pub fn watch_cache_sizes(caches: crate::watch_cache::WatchCaches) {
    let _ = CACHES.set(caches);
}

/// Kubernetes' verb for a request: `list` and `watch` are GETs without a name.
fn verb(method: &Method, path: &str, query: &str) -> &'static str {
    let named = crate::path::parse(path).is_ok_and(|t| t.name.is_some());
    match *method {
        Method::GET if query.contains("watch=true") || query.contains("watch=1") => "WATCH",
        Method::GET if named => "GET",
        Method::GET => "LIST",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// A tower middleware that counts and times every request.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let verb = verb(request.method(), &path, &query);
    let resource = match crate::path::parse(&path) {
        Ok(target) => target.resource.plural.to_string(),
        Err(_) => request.extensions().get::<MatchedPath>().map_or("other".to_string(), |p| p.as_str().to_string()),
    };
    let response = next.run(request).await;
    DURATION.with_label_values(&[verb, &resource]).observe(started.elapsed().as_secs_f64());
    REQUESTS.with_label_values(&[verb, &resource, response.status().as_str()]).inc();
    response
}

pub async fn render() -> String {
    LazyLock::force(&WATCHES);
    if let Some(caches) = CACHES.get() {
        for (resource, objects, watchers) in caches.sizes() {
            CACHE_OBJECTS.with_label_values(&[resource]).set(objects as i64);
            CACHE_WATCHERS.with_label_values(&[resource]).set(watchers as i64);
        }
    }
    let mut out = Vec::new();
    TextEncoder::new().encode(&prometheus::gather(), &mut out).expect("text encoding cannot fail");
    String::from_utf8(out).expect("the text format is UTF-8")
}
