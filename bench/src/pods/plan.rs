//! How much work `bench-pods` does.
//!
//! The full plan is the issue's: 30 pods one at a time, 50 at once, and the floor's burst at
//! the kubelet's concurrency (one worker per pod: as many in flight as there are pods) and at
//! lower ones, to find Docker's best. About three minutes on two cores, most of it Docker
//! starting and removing containers. `--quick` runs every step with fewer pods; its figures
//! are not to quote.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PodsPlan {
    /// Pods started one at a time, on Skiff and on the floor.
    pub sequential: usize,
    /// Pods started at once: a ReplicaSet of this many on Skiff, as many pairs on the floor.
    pub burst: usize,
    /// The floor's concurrencies; the first is the kubelet's (one per pod).
    pub floor_in_flight: Vec<usize>,
    /// How long one pod may take to become Ready before the run fails.
    pub pod_timeout: Duration,
    /// How long a burst may take.
    pub burst_timeout: Duration,
}

impl PodsPlan {
    pub fn full() -> PodsPlan {
        PodsPlan::of(30, 50, &[16, 8])
    }

    pub fn quick() -> PodsPlan {
        PodsPlan::of(5, 10, &[4])
    }

    fn of(sequential: usize, burst: usize, lower: &[usize]) -> PodsPlan {
        let mut floor_in_flight = vec![burst];
        floor_in_flight.extend(lower.iter().copied().filter(|n| *n < burst));
        PodsPlan {
            sequential,
            burst,
            floor_in_flight,
            pod_timeout: Duration::from_secs(60),
            burst_timeout: Duration::from_secs(300),
        }
    }
}

impl std::fmt::Display for PodsPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let in_flight: Vec<String> = self.floor_in_flight.iter().map(|n| n.to_string()).collect();
        write!(
            f,
            "{} pods one at a time; {} at once (a ReplicaSet; the floor with {} in flight); \
             pause + demo-web:v1, no readiness probe; one warm-up pod first on each",
            self.sequential,
            self.burst,
            in_flight.join(", ")
        )
    }
}
