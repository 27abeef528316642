//! Percentiles of a set of latencies.
//!
//! Nearest rank, no interpolation: the p-th percentile is a latency that was actually measured,
//! the smallest one that at least p% of the samples do not exceed. With 2000 puts, p99 is the
//! 1980th fastest: 20 puts were slower than it.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
}

impl Percentiles {
    /// Panics on an empty set: every workload measures at least one operation.
    pub fn of(mut samples: Vec<Duration>) -> Percentiles {
        assert!(!samples.is_empty(), "percentiles of no samples");
        samples.sort_unstable();
        Percentiles { p50: nearest_rank(&samples, 50), p99: nearest_rank(&samples, 99) }
    }
}

/// The element with the median `key`; of an even number, the upper middle one. Panics on none.
/// Runs are reported whole this way: the median throughput run comes with its own latencies
/// and CPU figures, not with a mix of several runs'.
pub fn median_by<T>(mut runs: Vec<T>, key: impl Fn(&T) -> f64) -> T {
    assert!(!runs.is_empty(), "the median of no runs");
    runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
    runs.swap_remove(runs.len() / 2)
}

/// `sorted` must be sorted and not empty; `percent` in 1..=100.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    // The rank is ceil(percent/100 × n), counted from 1.
    let rank = (percent * sorted.len()).div_ceil(100);
    sorted[rank.max(1) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn percentiles_are_measured_values_by_nearest_rank() {
        // (name, samples, p50, p99) in milliseconds.
        let cases: [(&str, Vec<u64>, u64, u64); 4] = [
            ("one sample is every percentile", vec![7], 7, 7),
            ("an even count takes the lower middle", vec![4, 1, 3, 2], 2, 4),
            ("order of arrival does not matter", vec![5, 3, 1, 4, 2], 3, 5),
            ("p99 of 200 leaves the two slowest out", (1..=200).collect(), 100, 198),
        ];
        for (name, samples, p50, p99) in cases {
            let got = Percentiles::of(ms(&samples));
            assert_eq!(got.p50, Duration::from_millis(p50), "{name}: p50");
            assert_eq!(got.p99, Duration::from_millis(p99), "{name}: p99");
        }
    }
}
