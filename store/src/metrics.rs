//! Prometheus metrics, served as text on `--metrics-listen` at `/metrics`.
//!
//! Request counts and latencies per gRPC method, the size of commit groups and the time their
//! fsync takes (the two numbers that explain write throughput), and gauges read from the store
//! at scrape time: revision, compaction mark, database size, keys, leases, watchers.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Instant;

use axum::{extract::State, routing::get, Router};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    TextEncoder,
};

use crate::store::Store;

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration fails only for a duplicate name, which would be a bug in this file.
    prometheus::default_registry().register(Box::new(metric.clone())).expect("metric names are unique");
    metric
}

pub static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("skiff_store_requests_total", "gRPC requests handled, by method and status code"),
            &["method", "code"],
        )
        .unwrap(),
    )
});

pub static REQUEST_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register(
        HistogramVec::new(
            HistogramOpts::new("skiff_store_request_duration_seconds", "gRPC request latency, by method")
                .buckets(prometheus::exponential_buckets(0.000_05, 2.0, 16).unwrap()),
            &["method"],
        )
        .unwrap(),
    )
});

pub static COMMIT_GROUP_SIZE: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            HistogramOpts::new("skiff_store_commit_group_size", "proposals written by one fsync")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0]),
        )
        .unwrap(),
    )
});

pub static SYNC_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            HistogramOpts::new("skiff_store_sync_duration_seconds", "time to write and fsync one commit group")
                .buckets(prometheus::exponential_buckets(0.000_05, 2.0, 16).unwrap()),
        )
        .unwrap(),
    )
});

pub static REVISION: LazyLock<IntGauge> =
    LazyLock::new(|| register(IntGauge::new("skiff_store_revision", "the published revision").unwrap()));

static COMPACTED: LazyLock<IntGauge> = LazyLock::new(|| {
    register(IntGauge::new("skiff_store_compact_revision", "the revision of the last compaction").unwrap())
});

static DB_SIZE: LazyLock<IntGauge> =
    LazyLock::new(|| register(IntGauge::new("skiff_store_db_size_bytes", "size of the database on disk").unwrap()));

static KEYS: LazyLock<IntGauge> =
    LazyLock::new(|| register(IntGauge::new("skiff_store_index_keys", "keys with history in the index").unwrap()));

static LEASES: LazyLock<IntGauge> =
    LazyLock::new(|| register(IntGauge::new("skiff_store_leases", "live leases").unwrap()));

static WATCHERS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(IntGaugeVec::new(Opts::new("skiff_store_watchers", "watchers, by state"), &["state"]).unwrap())
});

/// The gRPC methods served, so that their metric series can be looked up once.
const METHODS: [&str; 13] = [
    "Range",
    "Put",
    "DeleteRange",
    "Txn",
    "Compact",
    "LeaseGrant",
    "LeaseRevoke",
    "LeaseTimeToLive",
    "LeaseLeases",
    "Alarm",
    "Status",
    "MemberList",
    "Watch",
];

/// Per method, its latency histogram and its count of successes: a request would otherwise
/// hash its labels and take the registry's lock twice, a few percent of a Range's cost.
static BY_METHOD: LazyLock<HashMap<&'static str, (Histogram, IntCounter)>> = LazyLock::new(|| {
    METHODS
        .iter()
        .map(|m| (*m, (REQUEST_SECONDS.with_label_values(&[m]), REQUESTS.with_label_values(&[m, "OK"]))))
        .collect()
});

/// Records one request: its latency and its outcome.
pub fn observe<T>(method: &'static str, started: Instant, result: &Result<T, tonic::Status>) {
    let seconds = started.elapsed().as_secs_f64();
    match (BY_METHOD.get(method), result) {
        (Some((histogram, ok)), Ok(_)) => {
            histogram.observe(seconds);
            ok.inc();
        }
        (_, result) => {
            REQUEST_SECONDS.with_label_values(&[method]).observe(seconds);
            let code = match result {
                Ok(_) => "OK".to_string(),
                Err(status) => format!("{:?}", status.code()),
            };
            REQUESTS.with_label_values(&[method, &code]).inc();
        }
    }
}

/// Reads the gauges from the store, then renders every metric.
fn render(store: &Store) -> String {
    REVISION.set(store.current_revision());
    COMPACTED.set(store.compacted_revision());
    DB_SIZE.set(store.db_size() as i64);
    let shared = store.shared();
    KEYS.set(shared.index.read().key_count() as i64);
    LEASES.set(shared.lessor.lock().len() as i64);
    let watchers = shared.hub.counts();
    WATCHERS.with_label_values(&["synced"]).set(watchers.synced as i64);
    WATCHERS.with_label_values(&["catching_up"]).set(watchers.catching_up as i64);
    let mut out = Vec::new();
    TextEncoder::new().encode(&prometheus::gather(), &mut out).expect("text encoding cannot fail");
    String::from_utf8(out).expect("the text format is UTF-8")
}

/// The `/metrics` endpoint.
pub fn app(store: Store) -> Router {
    Router::new().route("/metrics", get(|State(store): State<Store>| async move { render(&store) })).with_state(store)
}
