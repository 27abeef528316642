//! `bench-net`'s table, and the targets of the Services and Ingress issue (issue 6):
//!
//! - ClusterIP throughput ≥ 0.95 × the same pod's by its IP: the data path is the kernel's
//!   (iptables DNAT, then conntrack), and should cost next to nothing;
//! - the Ingress router's throughput ≥ 1.0 × nginx's as a reverse proxy to the same pod, and
//!   its p99 no worse than nginx's (router p99 ÷ nginx p99 ≤ 1.0).
//!
//! Both targets are held on every body measured. NodePort is shown beside direct for the
//! reader: it is the same DNAT as ClusterIP, reached by the node's address.

use std::time::Duration;

use super::measure::{NetMeasurements, Series};
use super::plan::Body;
use crate::report::{Better, Figure};

pub const CLUSTER_IP_RATIO: f64 = 0.95;
pub const INGRESS_RATIO: f64 = 1.0;
pub const INGRESS_P99_RATIO: f64 = 1.0;

/// The path names the targets compare, as `target.rs` and the binary name them.
pub const DIRECT: &str = "direct (pod IP)";
pub const CLUSTER_IP: &str = "ClusterIP";
pub const NODE_PORT: &str = "NodePort";
pub const INGRESS: &str = "Ingress router";
pub const NGINX: &str = "nginx";

pub fn figures(m: &NetMeasurements, bodies: &[Body]) -> Vec<Figure> {
    let mut figures = Vec::new();
    for body in bodies {
        for series in m.series.iter().filter(|s| s.body == *body) {
            figures.extend(path_figures(series));
            let (name, target) = match series.path.name {
                CLUSTER_IP => (DIRECT, Some(CLUSTER_IP_RATIO)),
                NODE_PORT => (DIRECT, None),
                NGINX => (INGRESS, None),
                _ => continue,
            };
            let Some(other) = m.get(name, body) else { continue };
            if series.path.name == NGINX {
                // The router's figures over nginx's, under nginx's.
                figures.push(ratio(
                    "  Ingress ÷ nginx, req/s",
                    other.per_second(),
                    series.per_second(),
                    Better::Higher,
                    Some(INGRESS_RATIO),
                ));
                let p99 = |s: &Series| s.p99().as_secs_f64();
                figures.push(ratio(
                    "  Ingress ÷ nginx, p99",
                    p99(other),
                    p99(series),
                    Better::Lower,
                    Some(INGRESS_P99_RATIO),
                ));
            } else {
                figures.push(ratio(
                    "  ÷ direct, req/s",
                    series.per_second(),
                    other.per_second(),
                    Better::Higher,
                    target,
                ));
            }
        }
    }
    figures
}

/// A path's lines: throughput (with the rounds' range), p50 / p99, CPU per request, errors.
fn path_figures(series: &Series) -> Vec<Figure> {
    let (low, high) = series.spread();
    let mut figures = vec![
        Figure::info(
            format!("{}, {}", series.body.name, series.path.name),
            format!("{:.0} req/s", series.per_second()),
        ),
        Figure::info("  rounds' range, req/s", format!("{low:.0}–{high:.0}")),
        Figure::info("  p50 / p99", format!("{} / {}", ms(series.p50()), ms(series.p99()))),
    ];
    if let Some(cpu) = series.cpu_per_request() {
        figures.push(Figure::info("  proxy CPU per request", format!("{:.1} µs", cpu.as_secs_f64() * 1e6)));
    }
    if series.errors() > 0 {
        figures.push(Figure::info("  failed requests (all rounds)", series.errors().to_string()));
    }
    figures
}

fn ratio(metric: &str, value: f64, over: f64, better: Better, target: Option<f64>) -> Figure {
    let value = value / over;
    Figure {
        metric: metric.to_string(),
        shown: format!("{value:.3}×"),
        value,
        better,
        target: target.map(|t| (t, "×")),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::measure::Run;
    use crate::net::plan::TINY;
    use crate::net::target::Path;
    use crate::net::wrk::WrkRun;

    fn series(name: &'static str, rates: &[f64], p99_ms: u64) -> Series {
        let run = |per_second| Run {
            wrk: WrkRun {
                per_second,
                p50: Duration::from_millis(1),
                p99: Duration::from_millis(p99_ms),
                requests: 1000,
                errors: 0,
            },
            cpu_per_request: None,
        };
        let path = Path { name, address: "127.0.0.1:1".parse().unwrap() };
        Series { path, body: TINY, runs: rates.iter().map(|r| run(*r)).collect() }
    }

    fn verdicts(m: &NetMeasurements) -> Vec<(String, Option<bool>)> {
        figures(m, &[TINY])
            .into_iter()
            .filter(|f| f.target.is_some())
            .map(|f| (f.metric.clone(), f.verdict()))
            .collect()
    }

    #[test]
    fn medians_of_the_rounds_are_held_to_the_targets() {
        let m = NetMeasurements {
            series: vec![
                series(DIRECT, &[100.0, 90.0, 110.0], 2),
                // Median 96: 0.96 of direct's median 100.
                series(CLUSTER_IP, &[96.0, 10.0, 120.0], 2),
                series(NODE_PORT, &[90.0, 90.0, 90.0], 2),
                series(INGRESS, &[50.0, 60.0, 55.0], 4),
                series(NGINX, &[50.0, 50.0, 50.0], 5),
            ],
        };
        let got = verdicts(&m);
        let want = [("  ÷ direct, req/s", true), ("  Ingress ÷ nginx, req/s", true), ("  Ingress ÷ nginx, p99", true)];
        assert_eq!(got, want.map(|(m, v)| (m.to_string(), Some(v))));
    }

    #[test]
    fn a_router_slower_or_with_a_longer_tail_than_nginx_misses() {
        let m = NetMeasurements {
            series: vec![
                series(DIRECT, &[100.0], 2),
                series(CLUSTER_IP, &[94.0], 2),
                series(INGRESS, &[49.0], 6),
                series(NGINX, &[50.0], 5),
            ],
        };
        let got: Vec<Option<bool>> = verdicts(&m).into_iter().map(|(_, v)| v).collect();
        assert_eq!(got, [Some(false), Some(false), Some(false)]);
    }
}
