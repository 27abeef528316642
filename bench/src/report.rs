//! The reports: the lines that say what a run was measured on, and the tables.
//!
//! `bench-store` prints a comparison. Every ratio is skiff-store's figure divided by etcd's,
//! whichever way is better, so that one column reads the same way everywhere; the `better`
//! column says which way that is. For example, put p50 of 0.40 ms against etcd's 2.00 ms is a
//! ratio of 0.20×, and the target "put p50 at most half of etcd's" is `≤ 0.50×`: PASS.
//!
//! `bench-api` has nothing to compare with: each [`Figure`] is held to an absolute target
//! ("create p99 ≤ 10 ms"), in the same PASS / MISS terms.

use std::fmt::Write;
use std::time::Duration;

use crate::stats::Percentiles;
use crate::throughput::Throughput;

/// What one store scored.
#[derive(Debug, Clone, Copy)]
pub struct Measurements {
    pub put_latency: Percentiles,
    pub put_throughput: Throughput,
    pub get_throughput: Throughput,
    pub watch_latency: Percentiles,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Better {
    Lower,
    Higher,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub metric: String,
    pub skiff: String,
    pub etcd: String,
    /// skiff-store's figure / etcd's.
    pub ratio: f64,
    pub better: Better,
    /// The ratio skiff-store must reach, if this row has a target.
    pub target: Option<f64>,
}

impl Row {
    /// PASS or MISS against the target; a ratio exactly on the target passes.
    pub fn verdict(&self) -> Option<bool> {
        self.target.map(|target| meets(self.ratio, self.better, target))
    }
}

/// Whether `value` is on the right side of `target`; on it counts as met.
fn meets(value: f64, better: Better, target: f64) -> bool {
    match better {
        Better::Lower => value <= target,
        Better::Higher => value >= target,
    }
}

/// The lines above a table: the machine, others' share of it, the date, the versions, the plan.
/// `others` is what `cpu::OthersMeter::share` said.
pub fn header(machine: &crate::machine::Machine, others: Option<f64>, versions: &str, plan: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "machine:  {machine}");
    if let Some(share) = others {
        let _ = writeln!(
            out,
            "others:   other work took {:.0}% of the cores during the run{}",
            share * 100.0,
            if share > 0.10 { " (a shared machine: expect these figures to be noisy)" } else { "" }
        );
    }
    let _ = writeln!(out, "date:     {}", machine.date);
    let _ = writeln!(out, "versions: {versions}");
    let _ = writeln!(out, "plan:     {plan}");
    out
}

/// One line of an absolute table: a figure, and the target it is held to if any.
#[derive(Debug, Clone)]
pub struct Figure {
    pub metric: String,
    /// The figure as printed, unit included ("3.214 ms").
    pub shown: String,
    /// The same figure in the unit of the target (ms, requests/s, MiB).
    pub value: f64,
    pub better: Better,
    /// The target, in the figure's unit, and that unit as printed after it.
    pub target: Option<(f64, &'static str)>,
}

impl Figure {
    /// A figure held to nothing: there for the reader.
    pub fn info(metric: impl Into<String>, shown: impl Into<String>) -> Figure {
        Figure { metric: metric.into(), shown: shown.into(), value: 0.0, better: Better::Lower, target: None }
    }

    pub fn verdict(&self) -> Option<bool> {
        self.target.map(|(target, _)| meets(self.value, self.better, target))
    }
}

/// The absolute table as text, one figure per line.
pub fn render_figures(figures: &[Figure]) -> String {
    let mut out = String::new();
    let line = |out: &mut String, [metric, shown, target, result]: [&str; 4]| {
        let _ = writeln!(out, "{metric:<44} {shown:>14}  {target:<14} {result}");
    };
    line(&mut out, ["metric", "value", "target", "result"]);
    for figure in figures {
        let target = match figure.target {
            Some((target, unit)) => {
                let sign = if figure.better == Better::Lower { "≤" } else { "≥" };
                format!("{sign} {target} {unit}")
            }
            None => "-".into(),
        };
        let result = match figure.verdict() {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "-",
        };
        line(&mut out, [&figure.metric, &figure.shown, &target, result]);
    }
    out
}

/// The table's rows; `clients` is how many ran the throughput workloads. The CPU rows are
/// left out if `/proc` could not tell.
pub fn rows(skiff: &Measurements, etcd: &Measurements, clients: usize) -> Vec<Row> {
    let (s, e) = (skiff, etcd);
    let mut rows = vec![
        latency("put latency p50, 1 client", s.put_latency.p50, e.put_latency.p50, Some(0.5)),
        latency("put latency p99, 1 client", s.put_latency.p99, e.put_latency.p99, None),
        throughput(format!("put throughput, {clients} clients"), s.put_throughput, e.put_throughput, Some(2.0)),
    ];
    rows.extend(server_cpu("  server CPU per put", s.put_throughput, e.put_throughput));
    rows.push(throughput(format!("get throughput, {clients} clients"), s.get_throughput, e.get_throughput, Some(2.0)));
    rows.extend(server_cpu("  server CPU per get", s.get_throughput, e.get_throughput));
    rows.push(latency("put → watch event p50", s.watch_latency.p50, e.watch_latency.p50, None));
    rows.push(latency("put → watch event p99", s.watch_latency.p99, e.watch_latency.p99, Some(1.0)));
    rows
}

fn latency(metric: &str, skiff: Duration, etcd: Duration, target: Option<f64>) -> Row {
    Row {
        metric: metric.to_string(),
        skiff: format!("{:.3} ms", skiff.as_secs_f64() * 1e3),
        etcd: format!("{:.3} ms", etcd.as_secs_f64() * 1e3),
        ratio: skiff.as_secs_f64() / etcd.as_secs_f64(),
        better: Better::Lower,
        target,
    }
}

fn throughput(metric: String, skiff: Throughput, etcd: Throughput, target: Option<f64>) -> Row {
    let (s, e) = (skiff.per_second, etcd.per_second);
    Row {
        metric,
        skiff: format!("{s:.0} ops/s"),
        etcd: format!("{e:.0} ops/s"),
        ratio: s / e,
        better: Better::Higher,
        target,
    }
}

/// How much CPU the server spent per operation: on two shared cores, this bounds throughput.
fn server_cpu(metric: &str, skiff: Throughput, etcd: Throughput) -> Option<Row> {
    let (s, e) = (skiff.server_cpu_per_op?, etcd.server_cpu_per_op?);
    Some(Row {
        metric: metric.to_string(),
        skiff: micros(s),
        etcd: micros(e),
        ratio: s.as_secs_f64() / e.as_secs_f64(),
        better: Better::Lower,
        target: None,
    })
}

/// The table as text, one row per line, columns aligned.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let line = |out: &mut String, cells: [&str; 7]| {
        let [metric, skiff, etcd, ratio, better, target, result] = cells;
        let _ = writeln!(out, "{metric:<28} {skiff:>12} {etcd:>12} {ratio:>10}  {better:<6}  {target:<8} {result}");
    };
    line(&mut out, ["metric", "skiff-store", "etcd", "skiff/etcd", "better", "target", "result"]);
    for row in rows {
        let (better, sign) = match row.better {
            Better::Lower => ("lower", "≤"),
            Better::Higher => ("higher", "≥"),
        };
        let target = row.target.map(|t| format!("{sign} {t:.2}×")).unwrap_or_else(|| "-".into());
        let result = match row.verdict() {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "-",
        };
        let ratio = format!("{:.3}×", row.ratio);
        line(&mut out, [&row.metric, &row.skiff, &row.etcd, &ratio, better, &target, result]);
    }
    out
}

/// A note for under the table: the client's own CPU per operation in each throughput run.
pub fn client_note(skiff: &Measurements, etcd: &Measurements) -> Option<String> {
    let cpu = |t: Throughput| t.client_cpu_per_op.map(micros);
    Some(format!(
        "client CPU per op (this benchmark, on the same cores): puts {} / {}, gets {} / {} (skiff-store / etcd runs)",
        cpu(skiff.put_throughput)?,
        cpu(etcd.put_throughput)?,
        cpu(skiff.get_throughput)?,
        cpu(etcd.get_throughput)?,
    ))
}

pub fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ratio: f64, better: Better, target: Option<f64>) -> Row {
        let text = String::new();
        Row { metric: text.clone(), skiff: text.clone(), etcd: text, ratio, better, target }
    }

    #[test]
    fn verdicts_compare_the_ratio_with_the_target_in_the_better_direction() {
        let cases = [
            ("latency at a fifth of etcd's meets at most half", 0.2, Better::Lower, Some(0.5), Some(true)),
            ("latency at 0.6 of etcd's misses at most half", 0.6, Better::Lower, Some(0.5), Some(false)),
            ("latency equal to the target passes", 1.0, Better::Lower, Some(1.0), Some(true)),
            ("throughput 2.5 times etcd's meets at least twice", 2.5, Better::Higher, Some(2.0), Some(true)),
            ("throughput 1.9 times etcd's misses at least twice", 1.9, Better::Higher, Some(2.0), Some(false)),
            ("a row without a target has no verdict", 0.1, Better::Lower, None, None),
        ];
        for (name, ratio, better, target, want) in cases {
            assert_eq!(row(ratio, better, target).verdict(), want, "{name}");
        }
    }

    #[test]
    fn figures_meet_absolute_targets_in_the_better_direction() {
        let figure = |value, better, target: Option<f64>| Figure {
            metric: String::new(),
            shown: String::new(),
            value,
            better,
            target: target.map(|t| (t, "ms")),
        };
        let cases = [
            ("a p99 of 8 ms meets at most 10 ms", figure(8.0, Better::Lower, Some(10.0)), Some(true)),
            ("a p99 of 12 ms misses at most 10 ms", figure(12.0, Better::Lower, Some(10.0)), Some(false)),
            ("4,000 creates/s miss at least 5,000", figure(4000.0, Better::Higher, Some(5000.0)), Some(false)),
            ("exactly on the target is met", figure(5000.0, Better::Higher, Some(5000.0)), Some(true)),
            ("a figure for the reader has no verdict", Figure::info("RSS at start", "9 MiB"), None),
        ];
        for (name, figure, want) in cases {
            assert_eq!(figure.verdict(), want, "{name}");
        }
    }

    #[test]
    fn ratios_are_skiff_over_etcd_and_cpu_rows_need_both_figures() {
        let p = |ms| Percentiles { p50: Duration::from_millis(ms), p99: Duration::from_millis(2 * ms) };
        let t = |per_second, cpu_us: Option<u64>| Throughput {
            per_second,
            server_cpu_per_op: cpu_us.map(Duration::from_micros),
            client_cpu_per_op: None,
        };
        let skiff = Measurements {
            put_latency: p(1),
            put_throughput: t(3000.0, Some(50)),
            get_throughput: t(9000.0, None),
            watch_latency: p(1),
        };
        let etcd = Measurements {
            put_latency: p(4),
            put_throughput: t(1000.0, Some(200)),
            get_throughput: t(3000.0, Some(100)),
            watch_latency: p(2),
        };
        let ratios: Vec<f64> = rows(&skiff, &etcd, 16).iter().map(|r| r.ratio).collect();
        // p50, p99, put/s, CPU per put, get/s (no CPU row: skiff's is unknown), watch p50, p99.
        assert_eq!(ratios, [0.25, 0.25, 3.0, 0.25, 3.0, 0.5, 0.5]);
    }
}

/// The header's plan line: the plan as it prints itself, marked when the run was a quick one.
pub fn plan_line(plan: &impl std::fmt::Display, quick: bool) -> String {
    format!("{plan}{}", if quick { " (--quick)" } else { "" })
}
