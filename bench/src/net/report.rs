//! `bench-net`'s table, and the targets of the Services and Ingress issue (issue 6):
//!
//! - ClusterIP throughput ≥ 0.95 × the same pod's by its IP: the data path is the kernel's
//!   (iptables DNAT, then conntrack), and should cost next to nothing;
//! - the Ingress router's throughput ≥ 1.0 × nginx's as a reverse proxy to the same pod, and
//!   its p99 no worse than nginx's (router p99 ÷ nginx p99 ≤ 1.0).
//!
//! Both targets are held on every body measured. NodePort is shown beside direct for the
//! reader: it is the same DNAT as ClusterIP, reached by the node's address.
//!
//! The ClusterIP target is judged on the *paired* ratio: round by round, the ClusterIP run over
//! the direct run just before it, and the median of those. On a shared machine one path's
//! throughput moves by up to 30% from round to round (`bench/README.md`, bench-net, 21:36 run),
//! and a burst that slows both runs of a round cancels out of that round's ratio, where the
//! ratio of the two paths' median rounds compares runs of different rounds. The ratio of the
//! medians is still printed, as information.

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
                    "  ÷ direct, median rounds",
                    series.per_second(),
                    other.per_second(),
                    Better::Higher,
                    None,
                ));
                figures.push(ratio(
                    "  ÷ direct, paired rounds' median",
                    paired(series, other),
                    1.0,
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

/// The median over rounds of `series`' throughput over `other`'s in the same round.
fn paired(series: &Series, other: &Series) -> f64 {
    let ratios: Vec<f64> =
        series.runs.iter().zip(&other.runs).map(|(s, o)| s.wrk.per_second / o.wrk.per_second).collect();
    crate::stats::median_by(ratios, |v| *v)
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
                // Round by round 0.96, 0.11, 1.09: the paired median is 0.96.
                series(CLUSTER_IP, &[96.0, 10.0, 120.0], 2),
                series(NODE_PORT, &[90.0, 90.0, 90.0], 2),
                series(INGRESS, &[50.0, 60.0, 55.0], 4),
                series(NGINX, &[50.0, 50.0, 50.0], 5),
            ],
        };
        let got = verdicts(&m);
        let want = [
            ("  ÷ direct, paired rounds' median", true),
            ("  Ingress ÷ nginx, req/s", true),
            ("  Ingress ÷ nginx, p99", true),
        ];
        assert_eq!(got, want.map(|(m, v)| (m.to_string(), Some(v))));
    }

    #[test]
    fn a_burst_that_slows_both_runs_of_a_round_cancels_out_of_the_paired_ratio() {
        let m = NetMeasurements {
            series: vec![
                // The direct run of the middle round was fast, the ClusterIP run of the last:
                // the medians' ratio is 90 / 100 = 0.90, the rounds' ratios 0.98, 0.90, 1.00.
                series(DIRECT, &[92.0, 100.0, 130.0], 2),
                series(CLUSTER_IP, &[90.0, 90.0, 130.0], 2),
            ],
        };
        let paired = figures(&m, &[TINY]).into_iter().find(|f| f.target.is_some()).unwrap();
        assert_eq!((paired.shown.as_str(), paired.verdict()), ("0.978×", Some(true)));
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
