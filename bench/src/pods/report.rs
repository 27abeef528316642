//! `bench-pods`' table, and the targets from the pod start issue:
//!
//! - one pod at a time, create → Ready: p50 ≤ 1.3 × the floor's p50, p99 ≤ 1 s (Kubernetes'
//!   pod startup SLO is 5 s at p99, for pods whose images are already on the node);
//! - 50 pods at once, a ReplicaSet's create → its last pod Ready: ≤ 1.3 × the floor's burst.
//!   The floor here is the *best* of the concurrencies measured (Docker's fastest way to start
//!   50 pods on this machine); the ratio to the floor at the kubelet's own concurrency (one
//!   worker per pod, all 50 in flight) is shown under it;
//! - resident memory of the whole cluster right after `make up` (store, API server, scheduler,
//!   controller-manager, kubelet): ≤ 60 MiB.

use std::time::Duration;

use super::measure::PodsMeasurements;
use crate::cluster::breakdown;
use crate::cluster::floor::Burst;
use crate::cluster::processes::Resident;
use crate::memory::mib;
use crate::report::{Better, Figure};
use crate::stats::Percentiles;

pub const P50_RATIO: f64 = 1.3;
pub const P99_MS: f64 = 1000.0;
pub const BURST_RATIO: f64 = 1.3;
pub const RESIDENT_MIB: f64 = 60.0;

pub fn figures(m: &PodsMeasurements) -> Vec<Figure> {
    let mut figures = Vec::new();
    let sequential = m.skiff_sequential.started.len();
    let floor = Percentiles::of(m.floor_sequential.totals());
    let start = Percentiles::of(m.skiff_sequential.started.iter().map(|s| s.to_ready()).collect());
    let running = Percentiles::of(m.skiff_sequential.started.iter().map(|s| s.to_running()).collect());
    figures.push(ms(format!("floor, {sequential} pods one at a time, p50"), floor.p50, None));
    figures.push(ms(format!("floor, {sequential} pods one at a time, p99"), floor.p99, None));
    figures.push(ms(format!("skiff, {sequential} pods one at a time, p50"), start.p50, None));
    figures.push(ms(format!("skiff, {sequential} pods one at a time, p99"), start.p99, Some(P99_MS)));
    figures.push(ratio("  skiff p50 ÷ floor p50", start.p50, floor.p50, Some(P50_RATIO)));
    figures.push(Figure::info(
        "  create → Running, p50 / p99",
        format!("{:.0} / {:.0} ms", running.p50.as_secs_f64() * 1e3, running.p99.as_secs_f64() * 1e3),
    ));
    figures.push(Figure::info("  kubelet's pod start histogram", m.skiff_sequential.kubelet.describe()));

    let best = m.floor_bursts.iter().min_by_key(|b| b.took);
    for burst in &m.floor_bursts {
        let note = if burst.in_flight == burst.pods { " (as the kubelet)" } else { "" };
        let rate = 2.0 * burst.pods as f64 / burst.took.as_secs_f64();
        figures.push(Figure::info(
            format!("floor, {} pods, {} in flight{note}", burst.pods, burst.in_flight),
            format!("{:.2} s, {rate:.1} ctr/s", burst.took.as_secs_f64()),
        ));
    }
    let b = &m.skiff_burst;
    figures.push(seconds(format!("skiff, ReplicaSet of {} → all Ready", b.pods), b.all_ready));
    if let Some(best) = best {
        let name = format!("  ÷ best floor ({} in flight)", best.in_flight);
        figures.push(ratio(&name, b.all_ready, best.took, Some(BURST_RATIO)));
    }
    if let Some(same) = m.floor_bursts.iter().find(|f: &&Burst| f.in_flight == f.pods) {
        figures.push(ratio(&format!("  ÷ floor at {} in flight", same.in_flight), b.all_ready, same.took, None));
    }
    figures.push(Figure::info("  create → all Running", format!("{:.2} s", b.all_running.as_secs_f64())));
    figures.push(Figure::info("  kubelet's pod start histogram", b.kubelet.describe()));

    figures.extend(resident("RSS once the node is Ready", &m.resident_at_start, Some(RESIDENT_MIB)));
    figures.extend(resident("RSS at the end of the run", &m.resident_at_end, None));
    figures
}

fn ms(metric: String, d: Duration, target: Option<f64>) -> Figure {
    let value = d.as_secs_f64() * 1e3;
    Figure { metric, shown: format!("{value:.0} ms"), value, better: Better::Lower, target: target.map(|t| (t, "ms")) }
}

fn seconds(metric: String, d: Duration) -> Figure {
    Figure::info(metric, format!("{:.2} s", d.as_secs_f64()))
}

/// `ours ÷ floor`, held to `target` times.
pub fn ratio(metric: &str, ours: Duration, floor: Duration, target: Option<f64>) -> Figure {
    let value = ours.as_secs_f64() / floor.as_secs_f64();
    Figure {
        metric: metric.to_string(),
        shown: format!("{value:.2}×"),
        value,
        better: Better::Lower,
        target: target.map(|t| (t, "×")),
    }
}

/// Their sum held to `target` MiB, then one row per daemon with what its memory is made of.
pub fn resident(title: &str, daemons: &[Resident], target: Option<f64>) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut sum = 0;
    for daemon in daemons {
        let mut shown = daemon.total.map(|b| format!("{:.1} MiB", mib(b))).unwrap_or_else(|| "unknown".into());
        if let Some((anon, file)) = daemon.parts {
            shown = format!("{shown} = {:.1} anon + {:.1} file", mib(anon), mib(file));
        }
        figures.push(Figure::info(format!("  {}", daemon.name), shown));
        sum += daemon.total.unwrap_or_default();
    }
    let value = mib(sum);
    figures.insert(
        0,
        Figure {
            metric: format!("{title}, sum of {}", daemons.len()),
            shown: format!("{value:.1} MiB"),
            value,
            better: Better::Lower,
            target: target.map(|t| (t, "MiB")),
        },
    );
    let shared_once: Option<u64> = daemons.iter().map(|d| d.proportional).sum();
    if let Some(pss) = shared_once {
        figures.insert(1, Figure::info("  PSS sum (shared pages counted once)", format!("{:.1} MiB", mib(pss))));
    }
    figures
}

/// The "where the time goes" tables under the main one.
pub fn breakdowns(m: &PodsMeasurements) -> Vec<String> {
    let mut tables = vec![breakdown::render_stages(
        "where the time goes, one pod at a time (p50 per stage)",
        [("floor", &m.floor_sequential.timelines), ("skiff", &m.skiff_sequential.timelines)],
        false,
    )];
    if let Some(floor) = m.floor_bursts.first() {
        let title = format!("{} at once, from the first request", m.skiff_burst.pods);
        tables.push(breakdown::render_spread(
            &title,
            (&m.floor_burst_timelines, floor.started),
            (&m.skiff_burst.timelines, m.skiff_burst.started),
        ));
    }
    tables
}
