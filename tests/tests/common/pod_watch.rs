//! A watch of a Deployment's pods that keeps every moment it saw: after each event, how many
//! pods count, how many are available, which images run. Tests of rollouts assert on the
//! whole timeline afterwards (at most `replicas + maxSurge` pods at every moment, never fewer
//! than `replicas − maxUnavailable` available, never two versions at once under Recreate).
//!
//! The counts follow Kubernetes' own rules, so that a moment here means what it means to the
//! controllers:
//!
//! - **Active** (`IsPodActive` in `pkg/controller/controller_utils.go`): the pod exists, has no
//!   `deletionTimestamp` and is not `Succeeded` or `Failed`. This is what a ReplicaSet's
//!   `status.replicas` counts and what maxSurge bounds: a pod the ReplicaSet controller has
//!   deleted but whose container is still stopping (Terminating) no longer counts, as in
//!   Kubernetes 1.31 (`status.terminatingReplicas` came later, and only counts them apart).
//! - **Available** (`IsPodAvailable` in `pkg/api/v1/pod/util.go`): active, its `Ready` condition
//!   `True`, and `lastTransitionTime + minReadySeconds` before now, now in whole seconds as the
//!   controller-manager reads it (`controller-manager/src/clock.rs`). Availability only grows
//!   while no event comes (time passes), so its minimum over the rollout is at an event: it is
//!   evaluated at each one.
//! - **Not terminated** (`oldPodsRunning` in `recreate.go`): the pod exists and is not `Succeeded`
//!   or `Failed`, Terminating or not. Recreate waits for the old pods to be gone in that sense
//!   before it creates new ones.
//!
//! Moments are stamped when the test sees the event, which is a little after it happened: the
//! watch's order is the API server's order, so the counts at each moment are exact for that
//! point of the history; only the times lag.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::chrono::{DateTime, Utc};
use skiff_client::watcher::{watcher, Event, Retry};
use skiff_client::{Api, Client, ListParams};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The pods as they were after one event.
#[derive(Debug, Clone)]
pub struct Moment {
    /// Since the watch started.
    pub at: Duration,
    /// What the event was: `web-7d4-x2 deleting`.
    pub change: String,
    pub active: usize,
    pub available: usize,
    /// Pods with a `deletionTimestamp`, still there.
    pub terminating: usize,
    /// The image of each pod not terminated (Terminating ones included), counted.
    pub images: BTreeMap<String, usize>,
}

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>6.2}s {:<44} active {:>2}, available {:>2}, terminating {:>2}, images {:?}",
            self.at.as_secs_f64(),
            self.change,
            self.active,
            self.available,
            self.terminating,
            self.images
        )
    }
}

/// A pod the watch saw appear after its first list: one the controllers created meanwhile.
#[derive(Debug, Clone)]
pub struct Created {
    pub name: String,
    pub image: String,
}

/// Everything a watch saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub moments: Vec<Moment>,
    /// By uid.
    pub created: BTreeMap<String, Created>,
}

impl Seen {
    /// The moment with the most active pods (the first such).
    pub fn most_active(&self) -> Option<&Moment> {
        self.moments.iter().rev().max_by_key(|m| m.active)
    }

    /// The moment with the fewest available pods (the first such).
    pub fn least_available(&self) -> Option<&Moment> {
        self.moments.iter().min_by_key(|m| m.available)
    }

    /// How many created pods run `image`.
    pub fn created_with(&self, image: &str) -> usize {
        self.created.values().filter(|c| c.image == image).count()
    }

    /// Every moment, one a line: what an assertion message shows.
    pub fn timeline(&self) -> String {
        self.moments.iter().map(|m| format!("\n  {m}")).collect()
    }
}

/// The watch, running until [`PodWatch::stop`].
pub struct PodWatch {
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl PodWatch {
    /// Watches the pods of `namespace` labelled `selector`, whose Deployment has
    /// `min_ready_seconds`. Returns once the first list is in: every later change is seen.
    pub async fn start(client: Client, namespace: &str, selector: &str, min_ready_seconds: i64) -> PodWatch {
        let pods = Api::<Pod>::namespaced(client, namespace).lister(ListParams::labels(selector));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = CancellationToken::new();
        let (listed, first_list) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(follow(pods, seen.clone(), stop.clone(), min_ready_seconds, listed));
        tokio::time::timeout(Duration::from_secs(30), first_list)
            .await
            .expect("the pod watch lists within 30 s")
            .expect("the pod watch runs");
        PodWatch { seen, stop, task }
    }

    /// What it saw so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    /// Stops watching; everything it saw.
    pub async fn stop(self) -> Seen {
        self.stop.cancel();
        let _ = self.task.await;
        Arc::try_unwrap(self.seen).map(|m| m.into_inner().unwrap()).unwrap_or_else(|seen| seen.lock().unwrap().clone())
    }
}

async fn follow(
    pods: skiff_client::api::Lister<Pod>,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
    min_ready_seconds: i64,
    listed: tokio::sync::oneshot::Sender<()>,
) {
    let started = Instant::now();
    let mut events = Box::pin(watcher(pods, Retry::default()).take_until(stop.cancelled_owned()));
    let mut listed = Some(listed);
    // By uid: what exists now, and every uid the first list had.
    let mut current: BTreeMap<String, Pod> = BTreeMap::new();
    let mut at_first_list: BTreeSet<String> = BTreeSet::new();
    while let Some(event) = events.next().await {
        let change = match event {
            Event::Restarted(all) => {
                current = all.into_iter().map(|p| (uid(&p), p)).collect();
                if at_first_list.is_empty() && listed.is_some() {
                    at_first_list = current.keys().cloned().collect();
                }
                format!("listed {}", current.len())
            }
            Event::Applied(pod) => {
                let verb = if pod.metadata.deletion_timestamp.is_some() {
                    "deleting"
                } else if current.contains_key(&uid(&pod)) {
                    "updated"
                } else {
                    "created"
                };
                let ready = if is_ready(&pod) { ", Ready" } else { "" };
                let change = format!("{} {verb} ({}{ready})", name(&pod), phase(&pod));
                current.insert(uid(&pod), pod);
                change
            }
            Event::Deleted(pod) => {
                current.remove(&uid(&pod));
                format!("{} gone", name(&pod))
            }
        };
        let moment = moment(started.elapsed(), change, &current, min_ready_seconds);
        let mut seen = seen.lock().unwrap();
        for (uid, pod) in &current {
            if !at_first_list.contains(uid) && !seen.created.contains_key(uid) {
                seen.created.insert(uid.clone(), Created { name: name(pod), image: image(pod) });
            }
        }
        seen.moments.push(moment);
        drop(seen);
        if let Some(listed) = listed.take() {
            let _ = listed.send(());
        }
    }
}

fn moment(at: Duration, change: String, pods: &BTreeMap<String, Pod>, min_ready_seconds: i64) -> Moment {
    let now = now_in_whole_seconds();
    let not_terminated: Vec<&Pod> = pods.values().filter(|p| !matches!(phase(p), "Succeeded" | "Failed")).collect();
    let active: Vec<&&Pod> = not_terminated.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
    let mut images = BTreeMap::new();
    for pod in &not_terminated {
        *images.entry(image(pod)).or_insert(0) += 1;
    }
    Moment {
        at,
        change,
        active: active.len(),
        available: active.iter().filter(|p| available(p, min_ready_seconds, now)).count(),
        terminating: pods.values().filter(|p| p.metadata.deletion_timestamp.is_some()).count(),
        images,
    }
}

/// Ready since `lastTransitionTime`, and `min_ready_seconds` have passed since, strictly (a pod
/// ready at 12:00:00 with minReadySeconds 1 is available from 12:00:02 on, as the controllers
/// see it).
fn available(pod: &Pod, min_ready_seconds: i64, now: DateTime<Utc>) -> bool {
    let Some(ready) = ready_condition(pod) else { return false };
    if min_ready_seconds == 0 {
        return true;
    }
    ready
        .last_transition_time
        .as_ref()
        .is_some_and(|t| t.0 + k8s_openapi::chrono::Duration::seconds(min_ready_seconds) < now)
}

/// The `Ready` condition, if it is `True`.
fn ready_condition(pod: &Pod) -> Option<&PodCondition> {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().find(|c| c.type_ == "Ready" && c.status == "True")
}

pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some()
}

fn now_in_whole_seconds() -> DateTime<Utc> {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    DateTime::<Utc>::from_timestamp(since_epoch.as_secs() as i64, 0).unwrap_or_default()
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

/// The first container's image: the version of a demo-web pod.
pub fn image(pod: &Pod) -> String {
    pod.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default()
}
