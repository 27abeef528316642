//! The kubelet's own view of pod start: `kubelet_pod_start_duration_seconds` on its `/metrics`.
//!
//! The kubelet observes it once per pod, from the first sync that saw the pod to its containers
//! all running (`kubelet/src/metrics.rs`): what a pod start costs the node, without the API
//! server, the scheduler, the watch that brought the pod or the status write that reports it.
//! Read before and after a workload, the difference is that workload's pods.
//!
//! The histogram's buckets are Kubernetes' (0.5 s, 1 s, 2 s, …), too coarse for a percentile,
//! so the report gives the mean (`_sum ÷ _count`) and how many pods fell under the first
//! buckets.

use std::fmt::Write;
use std::time::Duration;

use crate::api::http::{Connection, Method};
use crate::error::BenchError;

pub const POD_START: &str = "kubelet_pod_start_duration_seconds";

/// The kubelet observes a pod's start just after writing the status that says so, so a scrape
/// made the moment the last pod was seen Ready can miss it: waited before the second scrape.
const SETTLE: Duration = Duration::from_millis(500);

/// One Prometheus histogram, cumulative as exposed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// `(le, count of observations ≤ le)`, in the order exposed; `+Inf` left out.
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    /// What was observed between `earlier` and `self`.
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let buckets = self
            .buckets
            .iter()
            .map(|(le, n)| {
                let before = earlier.buckets.iter().find(|(l, _)| l == le).map_or(0, |(_, n)| *n);
                (*le, n.saturating_sub(before))
            })
            .collect();
        Histogram { buckets, sum: self.sum - earlier.sum, count: self.count.saturating_sub(earlier.count) }
    }

    /// "mean 0.312 s over 30 pods; ≤ 0.5 s: 29, ≤ 1 s: 30".
    pub fn describe(&self) -> String {
        if self.count == 0 {
            return "no pods observed".into();
        }
        let mut text = format!("mean {:.3} s over {} pods", self.sum / self.count as f64, self.count);
        let shown: Vec<String> = self.buckets.iter().take(3).map(|(le, n)| format!("≤ {le} s: {n}")).collect();
        if !shown.is_empty() {
            let _ = write!(text, "; {}", shown.join(", "));
        }
        text
    }
}

/// The histogram `name` in Prometheus' text format, if it is there.
pub fn parse(text: &str, name: &str) -> Option<Histogram> {
    let mut histogram = Histogram::default();
    let mut found = false;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Some(rest) = series.strip_prefix(name) else { continue };
        if rest == "_sum" {
            histogram.sum = value.parse().ok()?;
            found = true;
        } else if rest == "_count" {
            histogram.count = value.parse().ok()?;
            found = true;
        } else if let Some(labels) = rest.strip_prefix("_bucket{") {
            let le = labels.split(',').find_map(|l| l.trim_end_matches('}').strip_prefix("le=\""))?;
            let le = le.trim_end_matches('"');
            if le != "+Inf" {
                histogram.buckets.push((le.parse().ok()?, value.parse().ok()?));
            }
        }
    }
    found.then_some(histogram)
}

/// Scrapes `endpoint`'s `/metrics` for [`POD_START`].
pub async fn pod_start(endpoint: &str) -> Result<Histogram, BenchError> {
    let mut connection = Connection::open(endpoint).await?;
    let body = connection.expect(Method::Get, "/metrics", b"", 200).await?;
    let text = String::from_utf8_lossy(&body);
    // Before the first pod the histogram has no samples but is still exposed with zeros.
    Ok(parse(&text, POD_START).unwrap_or_default())
}

/// What the kubelet observed since `before` was scraped.
pub async fn pod_start_since(endpoint: &str, before: &Histogram) -> Result<Histogram, BenchError> {
    tokio::time::sleep(SETTLE).await;
    Ok(pod_start(endpoint).await?.since(before))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP kubelet_pod_start_duration_seconds Duration\n\
# TYPE kubelet_pod_start_duration_seconds histogram\n\
kubelet_pod_start_duration_seconds_bucket{le=\"0.5\"} 28\n\
kubelet_pod_start_duration_seconds_bucket{le=\"1\"} 30\n\
kubelet_pod_start_duration_seconds_bucket{le=\"+Inf\"} 31\n\
kubelet_pod_start_duration_seconds_sum 12.5\n\
kubelet_pod_start_duration_seconds_count 31\n\
kubelet_running_pods 31\n";

    #[test]
    fn a_histogram_is_read_from_the_text_format_and_subtracted() {
        let after = parse(TEXT, POD_START).unwrap();
        assert_eq!(after.buckets, vec![(0.5, 28), (1.0, 30)]);
        assert_eq!((after.sum, after.count), (12.5, 31));
        let before = Histogram { buckets: vec![(0.5, 1), (1.0, 1)], sum: 0.5, count: 1 };
        let run = after.since(&before);
        assert_eq!(run, Histogram { buckets: vec![(0.5, 27), (1.0, 29)], sum: 12.0, count: 30 });
        assert_eq!(run.describe(), "mean 0.400 s over 30 pods; ≤ 0.5 s: 27, ≤ 1 s: 29");
        assert_eq!(parse(TEXT, "kubelet_other"), None);
    }
}
