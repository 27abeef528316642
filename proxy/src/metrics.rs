//! The proxy's Prometheus metrics, in the process' default registry (served on
//! `--metrics-listen` by `skiff_client::metrics`).
//!
//! The data path's names are kube-proxy's (`pkg/proxy/metrics/metrics.go`), so dashboards
//! written for it read Skiff's too. `kubeproxy_network_programming_duration_seconds` is
//! measured here from the moment the proxy *received* the first change of a sync, not from the
//! `endpoints.kubernetes.io/last-change-trigger-time` annotation upstream reads (Skiff's
//! controllers do not write it yet). The DNS names follow CoreDNS' `coredns_dns_*`.

use std::sync::LazyLock;

use prometheus::{
    exponential_buckets, register_gauge, register_histogram, register_histogram_vec, register_int_counter,
    register_int_counter_vec, Gauge, Histogram, HistogramVec, IntCounter, IntCounterVec,
};

pub static SYNC_DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "kubeproxy_sync_proxy_rules_duration_seconds",
        "How long one sync of the rules took (generating and restoring them).",
        exponential_buckets(0.0005, 2.0, 16).expect("valid buckets")
    )
    .expect("registered once")
});

pub static LAST_SYNC: LazyLock<Gauge> = LazyLock::new(|| {
    register_gauge!("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "When the rules were last synced (Unix time).")
        .expect("registered once")
});

pub static PROGRAMMING_DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "kubeproxy_network_programming_duration_seconds",
        "From a change of a Service or EndpointSlice reaching the proxy to the rules for it being in place.",
        exponential_buckets(0.001, 2.0, 16).expect("valid buckets")
    )
    .expect("registered once")
});

pub static SYNC_FAILURES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!("skiff_proxy_sync_proxy_rules_failures_total", "Syncs whose iptables-restore failed.")
        .expect("registered once")
});

pub static DNS_RESPONSES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "skiff_proxy_dns_responses_total",
        "DNS responses, by response code and by who answered (cluster: the cluster zone; forward: the host's resolvers).",
        &["rcode", "source"]
    )
    .expect("registered once")
});

pub static DNS_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "skiff_proxy_dns_request_duration_seconds",
        "How long a DNS request took to answer, by who answered.",
        &["source"],
        exponential_buckets(0.00005, 4.0, 10).expect("valid buckets")
    )
    .expect("registered once")
});
