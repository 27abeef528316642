//! Restart and pull back-off: how long a crashing container (or a failing image pull) waits
//! before the next try.
//!
//! Mirrors client-go's `util/flowcontrol/backoff.go` (`Backoff`, `Next`, `IsInBackOffSince`,
//! `IsInBackOffSinceUpdate`) as the kubelet uses it (`kubelet.go`: 10 s initial, 300 s max,
//! for containers and for images). Each key (a container of a pod, an image of a pod) has a delay
//! that doubles on each [`BackOff::next`] up to the cap, and starts over once the key has not
//! been touched for twice the cap:
//!
//! ```text
//! crash → restart at once (delay 10 s recorded)
//! crash → waits 10 s after the crash, restart (delay 20 s)
//! crash → waits 20 s … 40 s, 80 s, 160 s, 300 s, 300 s …
//! ran 10 min (2 × 300 s) without a restart → the next crash starts over at 10 s
//! ```
//!
//! Times are `tokio::time::Instant`s, so tests pause the clock.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy)]
struct Entry {
    delay: Duration,
    last_update: Instant,
}

/// Per-key exponential back-off.
#[derive(Debug)]
pub struct BackOff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Default for BackOff {
    fn default() -> Self {
        BackOff::new(INITIAL, MAX)
    }
}

impl BackOff {
    pub fn new(initial: Duration, max: Duration) -> BackOff {
        BackOff { initial, max, entries: HashMap::new() }
    }

    fn expired(&self, entry: &Entry, at: Instant) -> bool {
        at.saturating_duration_since(entry.last_update) > self.max * 2
    }

    /// The current delay of `key` (zero if it has none).
    pub fn get(&self, key: &str) -> Duration {
        self.entries.get(key).map(|e| e.delay).unwrap_or_default()
    }

    /// Records a try at `at`: the first try (or the first after a long quiet) gets the initial
    /// delay, each following one twice the last, up to the cap.
    pub fn next(&mut self, key: &str, at: Instant) {
        let delay = match self.entries.get(key) {
            Some(entry) if !self.expired(entry, at) => (entry.delay * 2).min(self.max),
            _ => self.initial,
        };
        self.entries.insert(key.to_string(), Entry { delay, last_update: at });
    }

    /// Whether `key` must still wait, counting its delay from `since` (the container's exit).
    pub fn is_in_back_off_since(&self, key: &str, since: Instant, now: Instant) -> bool {
        match self.entries.get(key) {
            Some(entry) if !self.expired(entry, since) => now.saturating_duration_since(since) < entry.delay,
            _ => false,
        }
    }

    /// Whether `key` must still wait, counting its delay from its last try (image pulls).
    pub fn is_in_back_off_since_update(&self, key: &str, now: Instant) -> bool {
        match self.entries.get(key) {
            Some(entry) if !self.expired(entry, now) => now.saturating_duration_since(entry.last_update) < entry.delay,
            _ => false,
        }
    }

    /// When `key`'s wait counted from `since` ends.
    pub fn ends_at(&self, key: &str, since: Instant) -> Instant {
        since + self.get(key)
    }

    /// Forgets keys untouched for twice the cap (housekeeping).
    pub fn gc(&mut self, now: Instant) {
        let max = self.max;
        self.entries.retain(|_, e| now.saturating_duration_since(e.last_update) <= max * 2);
    }

    /// Forgets every key starting with `prefix` (a deleted pod's).
    pub fn forget_prefix(&mut self, prefix: &str) {
        self.entries.retain(|k, _| !k.starts_with(prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[tokio::test(start_paused = true)]
    async fn delays_double_from_10_seconds_to_5_minutes() {
        let mut backoff = BackOff::default();
        let t0 = Instant::now();
        let mut delays = Vec::new();
        for i in 0..8 {
            backoff.next("web", t0 + secs(i));
            delays.push(backoff.get("web").as_secs());
        }
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_crash_waits_its_delay_counted_from_the_exit() {
        let mut backoff = BackOff::default();
        let t0 = Instant::now();
        assert!(!backoff.is_in_back_off_since("web", t0, t0), "the first restart is immediate");
        backoff.next("web", t0);
        let crashed = t0 + secs(2);
        let cases = [("1 s after the crash", 1, true), ("9 s after", 9, true), ("10 s after", 10, false)];
        for (name, after, waiting) in cases {
            assert_eq!(backoff.is_in_back_off_since("web", crashed, crashed + secs(after)), waiting, "{name}");
        }
        assert_eq!(backoff.ends_at("web", crashed), crashed + secs(10));
        assert!(!backoff.is_in_back_off_since("other", crashed, crashed), "keys are independent");
    }

    #[tokio::test(start_paused = true)]
    async fn ten_quiet_minutes_start_the_back_off_over() {
        let mut backoff = BackOff::default();
        let t0 = Instant::now();
        for i in 0..6 {
            backoff.next("web", t0 + secs(i));
        }
        assert_eq!(backoff.get("web"), secs(300));
        let later = t0 + secs(5) + secs(601);
        assert!(!backoff.is_in_back_off_since("web", later, later));
        backoff.next("web", later);
        assert_eq!(backoff.get("web"), secs(10), "reset after 2 × 300 s");
        backoff.gc(later + secs(601));
        assert_eq!(backoff.get("web"), Duration::ZERO, "forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn pulls_wait_from_their_last_try() {
        let mut backoff = BackOff::default();
        let t0 = Instant::now();
        backoff.next("uid_img", t0);
        assert!(backoff.is_in_back_off_since_update("uid_img", t0 + secs(9)));
        assert!(!backoff.is_in_back_off_since_update("uid_img", t0 + secs(10)));
        backoff.forget_prefix("uid_");
        assert_eq!(backoff.get("uid_img"), Duration::ZERO);
    }
}
