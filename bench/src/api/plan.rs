//! How much work each API workload does.
//!
//! The full plan takes about a minute on a 2-core machine: storing the pods, then the four
//! verbs at one client and at sixteen, then the fan-out. `--quick` checks that everything works
//! (every workload runs, against fewer pods and for less time); its figures are not to quote.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ApiPlan {
    /// Pods stored through REST, as fast as possible, before the memory is read. The memory
    /// target is set at 10,000: the figure has a verdict only when this is that.
    pub stored_pods: usize,
    /// Clients that store them, and that run the concurrent workloads.
    pub clients: usize,
    /// Requests each client sends before timing starts: connections warm, caches filled.
    pub warmup: usize,
    /// Requests of each verb timed one at a time by a single client.
    pub sequential: usize,
    /// How long each concurrent run lasts.
    pub concurrent_time: Duration,
    /// Concurrent runs per verb, taken in turn across the verbs; the run with the median
    /// throughput is reported with its own latencies.
    pub rounds: usize,
    /// Watch connections open during the fan-out.
    pub watchers: usize,
    /// Creates whose events every watcher times, after a few untimed ones.
    pub watched_creates: usize,
}

/// The memory target's pod count.
pub const TARGET_PODS: usize = 10_000;

/// Pods in the namespace the list workload lists.
pub const LISTED_PODS: usize = 100;

/// Untimed creates before the fan-out's timed ones.
pub const FAN_OUT_WARMUP: usize = 5;

impl ApiPlan {
    pub fn full() -> ApiPlan {
        ApiPlan {
            stored_pods: TARGET_PODS,
            clients: 16,
            warmup: 100,
            sequential: 1000,
            concurrent_time: Duration::from_secs(2),
            rounds: 3,
            watchers: 1000,
            watched_creates: 200,
        }
    }

    pub fn quick() -> ApiPlan {
        ApiPlan {
            stored_pods: 1000,
            clients: 16,
            warmup: 20,
            sequential: 100,
            concurrent_time: Duration::from_millis(500),
            rounds: 1,
            watchers: 1000,
            watched_creates: 20,
        }
    }
}

impl std::fmt::Display for ApiPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pods stored first; {} sequential requests per verb; {} clients, median of {} × {} s per verb; \
             {} watchers × {} creates; {} warm-up requests per client before each",
            self.stored_pods,
            self.sequential,
            self.clients,
            self.rounds,
            self.concurrent_time.as_secs_f64(),
            self.watchers,
            self.watched_creates,
            self.warmup,
        )
    }
}
