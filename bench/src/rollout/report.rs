//! `bench-rollout`'s table, and the targets from the rollout issue:
//!
//! - a 10-replica rolling update (maxSurge 1, maxUnavailable 0, readiness probe every 1 s),
//!   from the image update to rolled out with every old pod gone: ≤ 1.2 × its theoretical
//!   minimum (`minimum.rs`), computed from single pods measured in the same run;
//! - a scale-up from 1 to 50 replicas, from the scale request to the Deployment's status
//!   counting 50 available: ≤ 1.3 × the Docker floor's burst of the 49 new pods, at the best of
//!   the concurrencies measured (the ratio to the floor at the kubelet's own concurrency is shown
//!   under it).

use std::fmt::Write;
use std::time::Duration;

use super::measure::RolloutMeasurements;
use super::minimum::{mean, Minimum};
use crate::cluster::breakdown;
use crate::pods::report::ratio;
use crate::report::{Better, Figure};
use crate::stats::Percentiles;

pub const ROLLOUT_RATIO: f64 = 1.2;
pub const SCALE_UP_RATIO: f64 = 1.3;

pub fn minimum(m: &RolloutMeasurements) -> Minimum {
    Minimum::of(m.rollout.replicas, &to_ready(&m.single.alone), &to_ready(&m.single.steps), &m.single.gone)
}

fn to_ready(started: &[crate::cluster::steps::Started]) -> Vec<Duration> {
    started.iter().map(|s| s.to_ready()).collect()
}

pub fn figures(m: &RolloutMeasurements) -> Vec<Figure> {
    let mut figures = Vec::new();
    let (alone, steps) = (m.single.alone.len(), m.single.steps.len());
    figures.push(Figure::info(format!("{alone} pods on their own: create → Ready"), pair(&to_ready(&m.single.alone))));
    figures.push(Figure::info("  kubelet's pod start histogram", m.single.kubelet.describe()));
    figures.push(Figure::info(format!("{steps} by hand, beside a delete: → Ready"), pair(&to_ready(&m.single.steps))));
    figures.push(Figure::info(format!("{} deleted by hand: delete → gone", m.single.gone.len()), pair(&m.single.gone)));

    let r = &m.rollout;
    let min = minimum(m);
    figures.push(secs(format!("rolling update of {}: → rolled out, old gone", r.replicas), r.took()));
    let formula = format!(
        "  minimum {:.0} + {} × {:.0} + {:.0} ms",
        ms(min.first),
        min.steps.saturating_sub(1),
        ms(min.per_step),
        ms(min.last_deletion)
    );
    figures.push(secs(formula, min.total()));
    figures.push(ratio("  ÷ minimum", r.took(), min.total(), Some(ROLLOUT_RATIO)));
    let status = r.rolled_out - r.sent;
    figures.push(secs("  → status rolled out (kubectl's view)".into(), status));
    figures.push(ratio("  ÷ its minimum (no last deletion)", status, min.until_status(), None));
    let every = min.every_deletion();
    figures.push(ratio(&format!("  ÷ every step + a deletion ({:.2} s)", every.as_secs_f64()), r.took(), every, None));

    let best = m.floor_bursts.iter().min_by_key(|b| b.took);
    for burst in &m.floor_bursts {
        let note = if burst.in_flight == burst.pods { " (as the kubelet)" } else { "" };
        figures.push(secs(format!("floor, {} pods, {} in flight{note}", burst.pods, burst.in_flight), burst.took));
    }
    let s = &m.scale_up;
    figures.push(secs(format!("scale-up {} → {}: → {} available", s.from, s.to, s.to), s.available));
    if let Some(best) = best {
        let name = format!("  ÷ best floor ({} in flight)", best.in_flight);
        figures.push(ratio(&name, s.available, best.took, Some(SCALE_UP_RATIO)));
    }
    if let Some(same) = m.floor_bursts.iter().find(|f| f.in_flight == f.pods) {
        figures.push(ratio(&format!("  ÷ floor at {} in flight", same.in_flight), s.available, same.took, None));
    }
    figures.push(secs("  → last new pod Ready seen".into(), s.all_ready));
    figures.push(Figure::info("  kubelet's pod start histogram", s.kubelet.describe()));
    figures
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn secs(metric: String, d: Duration) -> Figure {
    Figure { metric, shown: format!("{:.2} s", d.as_secs_f64()), value: 0.0, better: Better::Lower, target: None }
}

fn pair(samples: &[Duration]) -> String {
    if samples.is_empty() {
        return "-".into();
    }
    let p50 = Percentiles::of(samples.to_vec()).p50;
    format!("{:.0} / {:.0} ms", ms(p50), ms(mean(samples)))
}

/// The rollout step by step: what the controllers spend between the pods' own starts.
pub fn steps(m: &RolloutMeasurements) -> String {
    let r = &m.rollout;
    let mut out = String::new();
    let _ = writeln!(out, "where the rollout's time goes (from the watch)");
    let line = |out: &mut String, what: &str, value: String| {
        let _ = writeln!(out, "  {what:<62} {value:>18}");
    };
    let created: Vec<_> = r.new_pods.iter().filter_map(|p| p.added).collect();
    let starts: Vec<Duration> = r.new_pods.iter().filter_map(|p| Some(p.ready? - p.added?)).collect();
    let gaps: Vec<Duration> =
        r.new_pods.windows(2).filter_map(|w| Some(w[1].added?.saturating_duration_since(w[0].ready?))).collect();
    if let Some(first) = created.first() {
        line(&mut out, "update → first new pod created", format!("{:.0} ms", ms(*first - r.sent)));
    }
    line(&mut out, &format!("new pod created → Ready, p50 / mean of {}", starts.len()), pair(&starts));
    line(&mut out, "  by hand, beside a delete: create → Ready, p50 / mean", pair(&to_ready(&m.single.steps)));
    line(&mut out, &format!("new pod Ready → next new pod created, p50 / mean of {}", gaps.len()), pair(&gaps));
    let last_ready = r.new_pods.iter().filter_map(|p| p.ready).max();
    let last_deleting = r.old_pods.iter().filter_map(|p| p.deleting).max();
    if let (Some(ready), Some(deleting)) = (last_ready, last_deleting) {
        line(
            &mut out,
            "last new pod Ready → last old pod being deleted",
            format!("{:.0} ms", ms(deleting.saturating_duration_since(ready))),
        );
        line(
            &mut out,
            "last new pod Ready → status rolled out",
            format!("{:.0} ms", ms(r.rolled_out.saturating_duration_since(ready))),
        );
        line(
            &mut out,
            "last old pod being deleted → gone",
            format!("{:.0} ms", ms(r.old_gone.saturating_duration_since(deleting))),
        );
    }
    let old_gone: Vec<Duration> = r.old_pods.iter().filter_map(|p| Some(p.gone? - p.deleting?)).collect();
    line(&mut out, &format!("old pod being deleted → gone, p50 / mean of {}", old_gone.len()), pair(&old_gone));
    let own: Duration = starts.iter().sum();
    let between: Duration = gaps.iter().sum();
    line(
        &mut out,
        "total: pods' own starts + the hops between them",
        format!("{:.2} + {:.2} s", own.as_secs_f64(), between.as_secs_f64()),
    );
    out
}

/// The "where the time goes" tables.
pub fn breakdowns(m: &RolloutMeasurements) -> Vec<String> {
    let mut tables = vec![steps(m)];
    tables.push(breakdown::render_stages(
        "one pod's start, p50 per stage",
        [("by hand", &m.single.step_timelines), ("rollout's new", &m.rollout.timelines)],
        true,
    ));
    if let Some(floor) = m.floor_bursts.first() {
        let title = format!("scale-up to {}, from the first request", m.scale_up.to);
        tables.push(breakdown::render_spread(
            &title,
            (&m.floor_burst_timelines, floor.started),
            (&m.scale_up.timelines, m.scale_up.sent),
        ));
    }
    tables
}
