//! The API benchmark's table, and the targets the API server is held to.
//!
//! From the API server issue: pod create p99 ≤ 10 ms at 16 clients (Kubernetes' own SLO for a
//! single-object write is 1 s at p99), ≥ 5,000 creates/s at 16 clients, watch fan-out p99 ≤ 50
//! ms to 1,000 watchers, and ≤ 100 MiB resident with 10,000 pods stored. Every other row is
//! there to explain those four.

use std::time::Duration;

use super::measure::ApiMeasurements;
use super::plan::{ApiPlan, FAN_OUT_WARMUP, TARGET_PODS};
use super::requests::{Run, Verb};
use crate::memory::mib;
use crate::report::{micros, Better, Figure};

pub const CREATE_P99_MS: f64 = 10.0;
pub const CREATES_PER_SECOND: f64 = 5000.0;
pub const FAN_OUT_P99_MS: f64 = 50.0;
pub const RESIDENT_MIB: f64 = 100.0;

/// The table's rows: per verb at one client and at many, then the fan-out, then memory.
pub fn figures(m: &ApiMeasurements, plan: &ApiPlan) -> Vec<Figure> {
    let mut figures = Vec::new();
    for verb in Verb::ALL {
        let one = &m.sequential[verb as usize];
        let many = &m.concurrent[verb as usize];
        let creates = verb == Verb::Create;
        figures.extend(run_figures(verb, one, 1, None));
        let targets = creates.then_some((CREATE_P99_MS, CREATES_PER_SECOND));
        figures.extend(run_figures(verb, many, plan.clients, targets));
        for (process, cpu) in [("apiserver", many.apiserver_cpu), ("store", many.store_cpu)] {
            if let Some(cpu) = cpu {
                figures.push(Figure::info(
                    format!("  {process} CPU per {}, {} clients", verb.name(), plan.clients),
                    micros(cpu),
                ));
            }
        }
    }

    let f = &m.fan_out;
    let watchers = f.watchers;
    figures.push(latency(format!("watch fan-out p50, {watchers} watchers"), f.latency.p50, None));
    figures.push(latency(format!("watch fan-out p99, {watchers} watchers"), f.latency.p99, Some(FAN_OUT_P99_MS)));
    figures.push(Figure::info("  events before the create's response", format!("{:.1}%", f.before_response * 100.0)));
    let (p50, p99) = (f.from_request.p50.as_secs_f64() * 1e3, f.from_request.p99.as_secs_f64() * 1e3);
    figures.push(Figure::info("  from the create's request, p50 / p99", format!("{p50:.2} / {p99:.2} ms")));
    if let Some(cpu) = f.apiserver_cpu_per_event {
        figures.push(Figure::info("  apiserver CPU per delivered event", format!("{:.1} µs", cpu.as_secs_f64() * 1e6)));
    }

    let s = &m.stored;
    figures.extend(resident("apiserver RSS at start", m.resident_at_start, None));
    let target = (s.pods == TARGET_PODS).then_some(RESIDENT_MIB);
    figures.extend(resident(&format!("apiserver RSS, {} pods stored", s.pods), s.resident, target));
    let rate = s.pods as f64 / s.took.as_secs_f64();
    figures.push(Figure::info(
        format!("  storing them took ({} clients)", plan.clients),
        format!("{:.2} s, {rate:.0}/s", s.took.as_secs_f64()),
    ));
    figures.extend(resident("apiserver RSS before the fan-out", f.resident_before, None));
    figures.extend(resident(&format!("apiserver RSS, {watchers} watchers open"), f.resident, None));
    figures.extend(resident(
        &format!("  after {} creates to them", f.creates + FAN_OUT_WARMUP),
        f.resident_after,
        None,
    ));
    figures.extend(resident("apiserver peak RSS (VmHWM)", m.peak_resident, None));
    figures
}

/// p50, p99 and throughput of one run; `targets` are the p99 (ms) and throughput ones.
fn run_figures(verb: Verb, run: &Run, clients: usize, targets: Option<(f64, f64)>) -> [Figure; 3] {
    let on = if clients == 1 { "1 client".to_string() } else { format!("{clients} clients") };
    let name = verb.name();
    [
        latency(format!("{name} p50, {on}"), run.latency.p50, None),
        latency(format!("{name} p99, {on}"), run.latency.p99, targets.map(|t| t.0)),
        Figure {
            metric: format!("{name} throughput, {on}"),
            shown: format!("{:.0} /s", run.per_second),
            value: run.per_second,
            better: Better::Higher,
            target: targets.map(|t| (t.1, "/s")),
        },
    ]
}

fn latency(metric: String, latency: Duration, target_ms: Option<f64>) -> Figure {
    let ms = latency.as_secs_f64() * 1e3;
    Figure {
        metric,
        shown: format!("{ms:.3} ms"),
        value: ms,
        better: Better::Lower,
        target: target_ms.map(|t| (t, "ms")),
    }
}

fn resident(metric: &str, bytes: Option<u64>, target_mib: Option<f64>) -> Option<Figure> {
    let value = mib(bytes?);
    Some(Figure {
        metric: metric.to_string(),
        shown: format!("{value:.1} MiB"),
        value,
        better: Better::Lower,
        target: target_mib.map(|t| (t, "MiB")),
    })
}

/// Notes for under the table: sizes on the wire and the client's own CPU.
pub fn notes(m: &ApiMeasurements, plan: &ApiPlan) -> Vec<String> {
    let sizes = m.sizes;
    let mut notes = vec![format!(
        "sizes: a create sends {} B of JSON; a pod comes back as {} B (defaults, managedFields); the list of 100 is {} KiB",
        sizes.sent,
        sizes.pod,
        sizes.list / 1024
    )];
    let client: Vec<String> = Verb::ALL
        .into_iter()
        .filter_map(|verb| Some(format!("{} {}", verb.name(), micros(m.concurrent[verb as usize].client_cpu?))))
        .collect();
    if !client.is_empty() {
        notes.push(format!(
            "client CPU per request at {} clients (this benchmark, on the same cores): {}",
            plan.clients,
            client.join(", ")
        ));
    }
    if let Some(cpu) = m.fan_out.client_cpu_per_event {
        notes.push(format!(
            "client CPU per event received in the fan-out: {:.1} µs; opening {} watches took {:.2} s",
            cpu.as_secs_f64() * 1e6,
            m.fan_out.watchers,
            m.fan_out.opening.as_secs_f64()
        ));
    }
    notes
}
