//! Per-item exponential back-off: how long a failing key waits before its next try.
//!
//! Mirrors client-go's `util/workqueue/default_rate_limiters.go`
//! (`ItemExponentialFailureRateLimiter`): the n-th consecutive failure of a key waits
//! `base × 2^(n-1)`, capped at `max`; success (`forget`) resets the count. With client-go's
//! controller defaults (5 ms, 1000 s): 5 ms, 10 ms, 20 ms, … 655 s at the 18th failure, then
//! 1000 s.
//! Left out: the overall token bucket client-go adds on top (10 qps, burst 100), which matters
//! for thousands of failing keys, not for a teaching cluster.

use std::time::Duration;

/// The delay before retry number `failures` (1 for the first failure).
pub fn delay(failures: u32, base: Duration, max: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    // 2^(n-1) overflows nothing below 2^31; past that the cap applies anyway.
    let factor = 1u64.checked_shl(failures - 1).unwrap_or(u64::MAX);
    let nanos = (base.as_nanos() as u64).saturating_mul(factor);
    Duration::from_nanos(nanos).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_until_the_cap() {
        let base = Duration::from_millis(5);
        let max = Duration::from_secs(1000);
        let cases = [
            ("no failure, no wait", 0, Duration::ZERO),
            ("first failure waits the base", 1, Duration::from_millis(5)),
            ("second doubles it", 2, Duration::from_millis(10)),
            ("fifth", 5, Duration::from_millis(80)),
            ("the 18th is just under the cap", 18, Duration::from_millis(5 << 17)),
            ("the 19th is capped", 19, max),
            ("far past the cap", 200, max),
        ];
        for (name, failures, want) in cases {
            assert_eq!(delay(failures, base, max), want, "{name}");
        }
    }
}
