//! Automatic compaction: keep a bounded history.
//!
//! Mirrors etcd `server/etcdserver/api/v3compactor` (`periodic.go`, `revision.go`), simplified.
//! Two policies, as etcd's `--auto-compaction-mode`:
//!
//! - **revision**: keep the last N revisions. Every check, compact to `current - N`.
//!   Example: keep 1000, current 5400 → compact to 4400.
//! - **periodic**: keep what was written in the last T. Every T/10 (at least a second) the
//!   compactor notes the current revision; it compacts to the newest noted revision that is at
//!   least T old. Example: T = 1 h, notes every 6 min: at 10:00 it compacts to the revision it
//!   noted at 9:00.
//!
//! The decisions are pure functions below; the loop only samples, decides and calls `compact`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::StoreError;
use crate::store::Store;

/// How much history to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Never compact automatically (clients may still call `Compact`).
    Off,
    /// Keep the last N revisions.
    Revisions(i64),
    /// Keep the history of the last period.
    Period(Duration),
}

impl Retention {
    /// Reads etcd's flags: mode `periodic` with `"1h"`, `"30m"`, `"90s"` or a plain number of
    /// hours; mode `revision` with a number of revisions. A retention of 0 turns it off.
    pub fn parse(mode: &str, retention: &str) -> Result<Retention, String> {
        let retention = retention.trim();
        match mode {
            "revision" => {
                let n: i64 = retention.parse().map_err(|_| format!("not a revision count: {retention:?}"))?;
                Ok(if n <= 0 { Retention::Off } else { Retention::Revisions(n) })
            }
            "periodic" => {
                let (number, unit) = match retention.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
                    Some((i, _)) => retention.split_at(i),
                    None => (retention, "h"),
                };
                let n: f64 = number.parse().map_err(|_| format!("not a duration: {retention:?}"))?;
                let seconds = match unit {
                    "s" => n,
                    "m" => n * 60.0,
                    "h" => n * 3600.0,
                    _ => return Err(format!("unknown unit in {retention:?} (use s, m or h)")),
                };
                Ok(if seconds <= 0.0 { Retention::Off } else { Retention::Period(Duration::from_secs_f64(seconds)) })
            }
            other => Err(format!("unknown auto-compaction mode {other:?} (use periodic or revision)")),
        }
    }

    /// How often the compactor looks.
    pub fn check_interval(&self) -> Duration {
        match self {
            Retention::Off => Duration::MAX,
            Retention::Revisions(_) => Duration::from_secs(60),
            Retention::Period(period) => (*period / 10).max(Duration::from_secs(1)),
        }
    }
}

/// Revision mode: the revision to compact to, if it moves the mark forward.
pub fn revision_target(current: i64, keep: i64, compacted: i64) -> Option<i64> {
    let target = current - keep;
    (target > compacted).then_some(target)
}

/// Periodic mode: the newest sampled revision at least `period` old, if it moves the mark
/// forward. Samples older than that one are dropped; they will never be needed again.
pub fn periodic_target(
    samples: &mut VecDeque<(Instant, i64)>,
    now: Instant,
    period: Duration,
    compacted: i64,
) -> Option<i64> {
    let old_enough = |t: &Instant| now.saturating_duration_since(*t) >= period;
    while samples.len() > 1 && old_enough(&samples[1].0) {
        samples.pop_front();
    }
    let (taken, revision) = *samples.front()?;
    (old_enough(&taken) && revision > compacted).then_some(revision)
}

pub async fn compactor_loop(store: Store, retention: Retention, shutdown: CancellationToken) {
    if retention == Retention::Off {
        return;
    }
    let mut samples = VecDeque::new();
    let mut ticker = tokio::time::interval(retention.check_interval());
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let now = Instant::now();
        let current = store.current_revision();
        let compacted = store.compacted_revision();
        let target = match retention {
            Retention::Off => None,
            Retention::Revisions(keep) => revision_target(current, keep, compacted),
            Retention::Period(period) => {
                samples.push_back((now, current));
                periodic_target(&mut samples, now, period, compacted)
            }
        };
        if let Some(target) = target {
            match store.compact(target).await {
                Ok(_) => tracing::info!(revision = target, "automatic compaction"),
                // A client compacted further meanwhile.
                Err(StoreError::Compacted) => {}
                Err(err) => tracing::warn!(cause = %err, revision = target, "automatic compaction failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_etcds_flags() {
        let cases = [
            ("periodic", "1h", Ok(Retention::Period(Duration::from_secs(3600)))),
            ("periodic", "30m", Ok(Retention::Period(Duration::from_secs(1800)))),
            ("periodic", "90s", Ok(Retention::Period(Duration::from_secs(90)))),
            ("periodic", "2", Ok(Retention::Period(Duration::from_secs(7200)))),
            ("periodic", "0", Ok(Retention::Off)),
            ("revision", "1000", Ok(Retention::Revisions(1000))),
            ("revision", "0", Ok(Retention::Off)),
        ];
        for (mode, value, want) in cases {
            assert_eq!(Retention::parse(mode, value), want, "{mode} {value}");
        }
        assert!(Retention::parse("revision", "1h").is_err());
        assert!(Retention::parse("weekly", "1").is_err());
        assert!(Retention::parse("periodic", "5d").is_err());
    }

    #[test]
    fn revision_mode_keeps_the_last_n() {
        let cases = [
            ("keeps 1000 of 5400", 5400, 1000, 0, Some(4400)),
            ("nothing to do below the retention", 900, 1000, 0, None),
            ("never moves the mark back", 5400, 1000, 4500, None),
        ];
        for (name, current, keep, compacted, want) in cases {
            assert_eq!(revision_target(current, keep, compacted), want, "{name}");
        }
    }

    #[test]
    fn periodic_mode_compacts_to_what_was_current_a_period_ago() {
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        let period = minute * 60;
        let mut samples = VecDeque::new();
        // One sample every 6 minutes for two hours; the revision grows by 100 each time.
        let mut targets = Vec::new();
        for i in 0..=20u32 {
            let now = start + minute * 6 * i;
            samples.push_back((now, 100 * i as i64 + 1));
            targets.push(periodic_target(&mut samples, now, period, 0));
        }
        assert!(targets[..10].iter().all(Option::is_none), "nothing is an hour old yet");
        assert_eq!(targets[10], Some(1), "at 1:00, what was current at 0:00");
        assert_eq!(targets[20], Some(1001), "at 2:00, what was current at 1:00");
        assert!(samples.len() <= 11, "old samples are dropped");
    }
}
