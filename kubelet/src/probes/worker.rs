//! One probe of one container: a task that runs it every period and reports changes.
//!
//! Mirrors `pkg/kubelet/prober/worker.go` (`run`, `doProbe`). The result a probe reports only
//! changes once the same outcome was seen `successThreshold` (or `failureThreshold`) times in a
//! row ([`Thresholds`]); until then the previous result stands. Readiness starts as failure (not
//! ready), liveness as success, startup as unknown (not started). While a startup probe has not
//! succeeded, the container's liveness and readiness probes wait. After a liveness or startup
//! failure the worker stops: the container will be killed, and its successor gets new workers.
//! Every failed attempt is an `Unhealthy` event (`Readiness probe failed: …`).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use skiff_client::events::{Recorder, Reference};
use tokio_util::sync::CancellationToken;

use super::prober::{run_probe, ProbeResult};
use super::{Key, Kind, Outcome, Results};
use crate::runtime::ContainerRuntime;

/// The threshold arithmetic of `doProbe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    success: u32,
    failure: u32,
    /// The outcome of the last attempts, and how many in a row.
    last: Option<Outcome>,
    run: u32,
    /// The outcome reported (what the kubelet acts on).
    pub reported: Option<Outcome>,
}

impl Thresholds {
    pub fn new(probe: &Probe, initial: Option<Outcome>) -> Thresholds {
        Thresholds {
            success: probe.success_threshold.unwrap_or(1).max(1) as u32,
            failure: probe.failure_threshold.unwrap_or(3).max(1) as u32,
            last: None,
            run: 0,
            reported: initial,
        }
    }

    /// Counts an attempt; the new reported outcome if it changed.
    pub fn observe(&mut self, outcome: Outcome) -> Option<Outcome> {
        if self.last == Some(outcome) {
            self.run += 1;
        } else {
            self.last = Some(outcome);
            self.run = 1;
        }
        let needed = match outcome {
            Outcome::Success => self.success,
            Outcome::Failure => self.failure,
        };
        if self.run < needed || self.reported == Some(outcome) {
            return None;
        }
        self.reported = Some(outcome);
        Some(outcome)
    }
}

/// Everything one worker needs.
pub struct Worker {
    pub key: Key,
    pub kind: Kind,
    pub probe: Probe,
    pub pod: Arc<Pod>,
    pub container: Container,
    pub pod_ip: String,
    pub runtime: Arc<dyn ContainerRuntime>,
    pub results: Results,
    pub recorder: Recorder,
    /// Tells the sync loop which pod to sync when a result changes.
    pub changed: tokio::sync::mpsc::UnboundedSender<String>,
    pub initial: Option<Outcome>,
    /// The container has a startup probe, and this liveness or readiness probe waits for it.
    pub gated: bool,
}

impl Worker {
    pub async fn run(self, stop: CancellationToken) {
        let period = Duration::from_secs(self.probe.period_seconds.unwrap_or(10).max(1) as u64);
        let initial_delay = Duration::from_secs(self.probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
        let mut thresholds = Thresholds::new(&self.probe, self.initial);
        if let Some(initial) = self.initial {
            self.results.lock().insert(self.key.clone(), initial);
        }
        let uid = self.pod.metadata.uid.clone().unwrap_or_default();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(initial_delay) => {}
        }
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            // Liveness and readiness wait for the startup probe, if there is one.
            if self.gated && !super::passed_startup(&self.results, &self.key.container_id) {
                continue;
            }
            let result =
                run_probe(&*self.runtime, &self.probe, &self.container, &self.key.container_id, &self.pod_ip).await;
            if stop.is_cancelled() {
                return;
            }
            let outcome = match &result {
                ProbeResult::Success => Outcome::Success,
                ProbeResult::Failure(message) => {
                    let reference =
                        Reference::of(&*self.pod).field(&super::field_path(&self.pod, &self.container.name));
                    let text = format!("{} probe failed: {message}", self.kind.title());
                    self.recorder.warning(&reference, "Unhealthy", &text).await;
                    Outcome::Failure
                }
            };
            if let Some(changed) = thresholds.observe(outcome) {
                tracing::info!(pod_uid = %uid, container = %self.container.name, probe = self.kind.title(), result = ?changed, "probe result changed");
                self.results.lock().insert(self.key.clone(), changed);
                let _ = self.changed.send(uid.clone());
                if changed == Outcome::Failure && self.kind != Kind::Readiness {
                    // The container will be restarted; its successor gets new workers.
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(success: i32, failure: i32) -> Probe {
        Probe { success_threshold: Some(success), failure_threshold: Some(failure), ..Default::default() }
    }

    #[test]
    fn a_result_changes_only_after_its_threshold_in_a_row() {
        use Outcome::{Failure as F, Success as S};
        type Case = (&'static str, Probe, Option<Outcome>, Vec<Outcome>, Vec<Option<Outcome>>);
        let cases: Vec<Case> = vec![
            (
                "readiness with defaults: the first success makes it ready",
                probe(1, 3),
                Some(F),
                vec![S, S],
                vec![Some(S), None],
            ),
            (
                "three failures in a row to fail",
                probe(1, 3),
                Some(S),
                vec![F, F, F, F],
                vec![None, None, Some(F), None],
            ),
            (
                "a success in between starts the count over",
                probe(1, 3),
                Some(S),
                vec![F, F, S, F, F, F],
                vec![None, None, None, None, None, Some(F)],
            ),
            (
                "successThreshold 2 after a failure",
                probe(2, 1),
                Some(F),
                vec![S, F, S, S],
                vec![None, None, None, Some(S)],
            ),
            (
                "an unknown startup probe reports its first verdict at its threshold",
                probe(1, 2),
                None,
                vec![F, F, S],
                vec![None, Some(F), Some(S)],
            ),
        ];
        for (name, probe, initial, seen, want) in cases {
            let mut thresholds = Thresholds::new(&probe, initial);
            let got: Vec<Option<Outcome>> = seen.into_iter().map(|o| thresholds.observe(o)).collect();
            assert_eq!(got, want, "{name}");
        }
    }
}
