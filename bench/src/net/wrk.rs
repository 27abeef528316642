//! One `wrk` run, and what its report says.
//!
//! wrk (Debian's 4.1) keeps every connection alive and sends the next request as soon as the
//! previous response is in, so with `-c 50` there are 50 requests in flight at all times and
//! the figure is the most the path sustains at that concurrency. `--latency` adds the
//! distribution of response times, from which p50 and p99 are taken. wrk measures a request
//! from its send, so a response that waited behind a slow one is counted as slow: the
//! latencies of a saturated path are its queueing, which is what the p99 target is about.

use std::time::Duration;

use tokio::process::Command;

use super::plan::Load;
use super::NetError;

/// What one run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WrkRun {
    /// `Requests/sec`: completed responses over the run's duration.
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// `N requests in`.
    pub requests: u64,
    /// Socket errors (connect, read, write, timeout) and non-2xx/3xx responses together: a
    /// run with any is reported, because a path that fails fast could look fast.
    pub errors: u64,
}

/// Runs wrk against `url` with `load`, and parses its report.
pub async fn run(url: &str, load: &Load) -> Result<WrkRun, NetError> {
    let output = Command::new("wrk")
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs()))
        .arg("--latency")
        .arg(url)
        // An interrupted benchmark leaves no wrk running.
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| NetError::Tool { tool: "wrk", source })?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(NetError::Wrk {
            url: url.to_string(),
            report: format!("{text}{}", String::from_utf8_lossy(&output.stderr)),
        });
    }
    parse(&text).ok_or_else(|| NetError::Wrk { url: url.to_string(), report: text.into_owned() })
}

/// The figures of a wrk report; none if a line is missing.
pub fn parse(report: &str) -> Option<WrkRun> {
    let mut per_second = None;
    let (mut p50, mut p99, mut requests, mut errors) = (None, None, None, 0);
    for line in report.lines().map(str::trim) {
        if let Some(rate) = line.strip_prefix("Requests/sec:") {
            per_second = rate.trim().parse().ok();
        } else if let Some(value) = line.strip_prefix("50%") {
            p50 = duration(value.trim());
        } else if let Some(value) = line.strip_prefix("99%") {
            p99 = duration(value.trim());
        } else if let Some((count, _)) = line.split_once(" requests in ") {
            requests = count.trim().parse().ok();
        } else if let Some(counts) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            errors += counts.split(',').filter_map(|c| c.split_whitespace().nth(1)?.parse::<u64>().ok()).sum::<u64>();
        } else if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += count.trim().parse::<u64>().ok()?;
        }
    }
    Some(WrkRun { per_second: per_second?, p50: p50?, p99: p99?, requests: requests?, errors })
}

/// wrk's times: `412.00us`, `1.21ms`, `2.00s`, `1.50m`.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://10.244.200.2:8080/version
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   843.21us  612.05us  21.37ms   91.02%
    Req/Sec    30.12k     2.01k   35.10k    71.50%
  Latency Distribution
     50%  702.00us
     75%    0.93ms
     90%    1.31ms
     99%    3.05ms
  599414 requests in 10.00s, 52.60MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  59934.71
Transfer/sec:      5.26MB
";

    #[test]
    fn a_report_gives_rate_percentiles_requests_and_every_error() {
        let run = parse(REPORT).unwrap();
        assert_eq!(run.per_second, 59934.71);
        assert_eq!(run.p50, Duration::from_micros(702));
        assert_eq!(run.p99, Duration::from_micros(3050));
        assert_eq!(run.requests, 599414);
        assert_eq!(run.errors, 7, "2 reads, 1 timeout, 4 non-2xx");
    }

    #[test]
    fn a_clean_report_has_no_errors_and_a_truncated_one_is_not_a_run() {
        let clean: String = REPORT
            .lines()
            .filter(|l| !l.contains("errors") && !l.contains("Non-2xx"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse(&clean).unwrap().errors, 0);
        let truncated: String = REPORT.lines().take(9).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse(&truncated), None);
    }

    #[test]
    fn times_are_read_in_their_units() {
        let cases = [("412.00us", 412e-6), ("1.21ms", 1.21e-3), ("2.00s", 2.0), ("1.50m", 90.0)];
        for (text, seconds) in cases {
            let got = duration(text).unwrap().as_secs_f64();
            assert!((got - seconds).abs() < 1e-9, "{text}: {got}");
        }
        assert_eq!(duration("12.0xs"), None);
    }
}
