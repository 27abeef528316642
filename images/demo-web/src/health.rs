//! Readiness and liveness of demo-web: what `/ready` and `/healthz` answer.
//!
//! Both start healthy (readiness after `READY_DELAY_SECONDS`) and can be failed once, for good:
//! a kubelet probing them sees a pod that stops being ready (it leaves its Service's endpoints)
//! or stops being live (it is restarted, and the new container is healthy again).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The answer to one probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// 200 `ok`.
    Ok,
    /// 503: not ready *yet*; still inside `READY_DELAY_SECONDS`.
    Starting,
    /// 500: failed on purpose (`POST /fail/…` or `FAIL_READY=1`), and it stays failed.
    Failed,
}

/// The probe state of the server, shared by every connection.
#[derive(Debug)]
pub struct Health {
    /// When the server started; a Tokio instant so that tests can run the clock forward.
    started: Instant,
    ready_delay: Duration,
    /// Atomics rather than a lock: each is one independent flag that only ever goes from false
    /// to true, so no reader needs to see both change together.
    ready_failed: AtomicBool,
    live_failed: AtomicBool,
}

impl Health {
    pub fn new(ready_delay: Duration, fail_ready: bool) -> Health {
        Health {
            started: Instant::now(),
            ready_delay,
            ready_failed: AtomicBool::new(fail_ready),
            live_failed: AtomicBool::new(false),
        }
    }

    /// `/ready`: a failure outranks the warm-up, so `FAIL_READY=1` with a delay still says 500.
    pub fn readiness(&self) -> Probe {
        if self.ready_failed.load(Ordering::Relaxed) {
            Probe::Failed
        } else if self.started.elapsed() < self.ready_delay {
            Probe::Starting
        } else {
            Probe::Ok
        }
    }

    /// `/healthz`.
    pub fn liveness(&self) -> Probe {
        if self.live_failed.load(Ordering::Relaxed) {
            Probe::Failed
        } else {
            Probe::Ok
        }
    }

    pub fn fail_readiness(&self) {
        self.ready_failed.store(true, Ordering::Relaxed);
    }

    pub fn fail_liveness(&self) {
        self.live_failed.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn readiness_answers_starting_until_the_delay_has_passed() {
        let health = Health::new(Duration::from_secs(5), false);
        assert_eq!(health.readiness(), Probe::Starting);
        tokio::time::advance(Duration::from_millis(4999)).await;
        assert_eq!(health.readiness(), Probe::Starting);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(health.readiness(), Probe::Ok);
        assert_eq!(health.liveness(), Probe::Ok, "liveness does not wait for the delay");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_stays_failed_and_outranks_the_delay() {
        let health = Health::new(Duration::from_secs(5), true);
        assert_eq!(health.readiness(), Probe::Failed);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(health.readiness(), Probe::Failed);

        health.fail_liveness();
        assert_eq!(health.liveness(), Probe::Failed);
    }

    #[test]
    fn failing_readiness_leaves_liveness_alone() {
        let health = Health::new(Duration::ZERO, false);
        health.fail_readiness();
        assert_eq!((health.readiness(), health.liveness()), (Probe::Failed, Probe::Ok));
    }
}
