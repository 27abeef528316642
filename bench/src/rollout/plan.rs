//! How much work `bench-rollout` does.
//!
//! The full plan is the issue's: a 10-replica rolling update and a 1 → 50 scale-up, plus 10
//! pods of the new template started on their own and 10 steps of a rollout by hand, to
//! measure in the same run what the rollout's steps cannot go below. About two minutes on two
//! cores. `--quick`
//! runs every step with fewer pods; its figures are not to quote.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RolloutPlan {
    /// The Deployment rolled from v1 to v2.
    pub replicas: u32,
    /// Pods of the new template started on their own, and steps of the rollout by hand, for
    /// the minimum.
    pub single_pods: usize,
    /// The scale-up goes from 1 to this.
    pub scale_to: u32,
    /// The floor's concurrencies for the scale-up's `scale_to - 1` new pods; the first is the
    /// kubelet's (one worker per pod).
    pub floor_in_flight: Vec<usize>,
    pub pod_timeout: Duration,
    /// How long the rollout or the scale-up may take.
    pub rollout_timeout: Duration,
}

impl RolloutPlan {
    pub fn full() -> RolloutPlan {
        RolloutPlan::of(10, 10, 50, &[16, 8])
    }

    pub fn quick() -> RolloutPlan {
        RolloutPlan::of(3, 3, 10, &[4])
    }

    fn of(replicas: u32, single_pods: usize, scale_to: u32, lower: &[usize]) -> RolloutPlan {
        let new_pods = scale_to as usize - 1;
        let mut floor_in_flight = vec![new_pods];
        floor_in_flight.extend(lower.iter().copied().filter(|n| *n < new_pods));
        RolloutPlan {
            replicas,
            single_pods,
            scale_to,
            floor_in_flight,
            pod_timeout: Duration::from_secs(60),
            rollout_timeout: Duration::from_secs(300),
        }
    }

    /// The pods the scale-up adds, and the floor starts.
    pub fn new_pods(&self) -> usize {
        self.scale_to as usize - 1
    }
}

impl std::fmt::Display for RolloutPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let in_flight: Vec<String> = self.floor_in_flight.iter().map(|n| n.to_string()).collect();
        write!(
            f,
            "{} pods on their own and {} steps by hand; rolling update of {} replicas v1 → v2 (maxSurge 1, maxUnavailable 0); \
             scale-up 1 → {} (the floor: {} pods with {} in flight); every pod behind a Service, \
             readiness probe httpGet /ready every 1 s, grace period 5 s",
            self.single_pods,
            self.single_pods,
            self.replicas,
            self.scale_to,
            self.new_pods(),
            in_flight.join(", ")
        )
    }
}
