//! The comparison table, and the targets skiff-store is held to.
//!
//! Every ratio is skiff-store's figure divided by etcd's, whichever way is better, so that one
//! column reads the same way everywhere; the `better` column says which way that is. For
//! example, put p50 of 0.40 ms against etcd's 2.00 ms is a ratio of 0.20×, and the target "put
//! p50 at most half of etcd's" is `≤ 0.50×`: PASS.

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
        self.target.map(|target| match self.better {
            Better::Lower => self.ratio <= target,
            Better::Higher => self.ratio >= target,
        })
    }
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

fn micros(d: Duration) -> String {
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
