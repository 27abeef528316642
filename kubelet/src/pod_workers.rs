//! One worker per pod: pod updates are handled in order per pod, in parallel across pods, and
//! updates that arrive while a pod's worker is busy collapse into the last one.
//!
//! Mirrors the 2015 kubelet's `pkg/kubelet/pod_workers.go` (`UpdatePod`, `managePodLoop`,
//! `lastUndeliveredWorkUpdate`), plus the lifecycle of today's `pod_workers.go`
//! (syncing → terminating → terminated) as a plain enum, [`PodLifecycle`].
//!
//! Each worker is a task with a **slot**: [`PodWorkers::update`] puts the newest pod object
//! in it (replacing one not yet taken) and wakes the task; the task takes the slot, syncs, and
//! looks again. Ten updates during one slow sync cause one more sync, with the newest pod, not
//! ten. [`PodWorkers::wake`] asks for a sync of the pod as last seen (a container changed, a
//! probe result changed). [`PodWorkers::reconcile`] hands over a newer object that only
//! differs in status without asking for a sync (Kubernetes' `RECONCILE`): the next sync uses
//! it. A sync also says when it wants to run again (a back-off ends, the periodic resync), so
//! the worker wakes by itself: the loop is level-triggered, each sync looks at everything
//! afresh.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where a pod is in its life on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodLifecycle {
    /// Its containers are started and kept running.
    Syncing,
    /// It reached `Succeeded` or `Failed`: nothing starts again, the containers stay for
    /// their logs until the pod is deleted.
    Finished,
    /// It is being deleted (or is gone from the API): its containers are being stopped.
    Terminating,
    /// Everything is stopped and removed; the worker ends.
    Terminated,
}

impl PodLifecycle {
    /// The lifecycle a pod object (or its absence from the API) asks for.
    pub fn of(pod: &Pod, removed: bool, finished: bool) -> PodLifecycle {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if removed || pod.metadata.deletion_timestamp.is_some() {
            PodLifecycle::Terminating
        } else if finished || matches!(phase, Some("Succeeded" | "Failed")) {
            PodLifecycle::Finished
        } else {
            PodLifecycle::Syncing
        }
    }

    pub fn can_start_containers(self) -> bool {
        self == PodLifecycle::Syncing
    }

    pub fn must_stop_containers(self) -> bool {
        self == PodLifecycle::Terminating
    }

    pub fn can_forget_worker(self) -> bool {
        self == PodLifecycle::Terminated
    }
}

/// What a sync asks of its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Sync again after this long, unless something happens first.
    Again(Duration),
    /// The pod is terminated: the worker ends.
    Done,
}

/// Syncs one pod (the kubelet; a fake in tests).
#[async_trait]
pub trait PodSyncer: Send + Sync + 'static {
    /// `removed`: the pod is gone from the API (deleted while it was not yet being stopped).
    async fn sync(&self, pod: Arc<Pod>, removed: bool) -> SyncOutcome;
}

#[derive(Default)]
struct Pending {
    /// The last undelivered pod object.
    pod: Option<Arc<Pod>>,
    /// That object changed what the kubelet acts on (not only its status): sync it.
    changed: bool,
    removed: bool,
    /// Sync the pod as last seen.
    wake: bool,
}

impl Pending {
    fn asks_for_sync(&self) -> bool {
        self.changed || self.removed || self.wake
    }
}

struct Slot {
    /// A std Mutex: only swapped under it, never held across an await.
    pending: Mutex<Pending>,
    notify: Notify,
    done: AtomicBool,
}

impl Slot {
    /// Everything that came since the worker last looked.
    fn take(&self) -> Pending {
        std::mem::take(&mut *self.pending.lock())
    }
}

pub struct PodWorkers {
    syncer: Arc<dyn PodSyncer>,
    slots: HashMap<String, Arc<Slot>>,
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl PodWorkers {
    pub fn new(syncer: Arc<dyn PodSyncer>, stop: CancellationToken) -> PodWorkers {
        PodWorkers { syncer, slots: HashMap::new(), tracker: TaskTracker::new(), stop }
    }

    fn slot(&mut self, uid: &str) -> Arc<Slot> {
        if let Some(slot) = self.slots.get(uid) {
            return slot.clone();
        }
        let slot = Arc::new(Slot {
            pending: Mutex::new(Pending::default()),
            notify: Notify::new(),
            done: AtomicBool::new(false),
        });
        self.slots.insert(uid.to_string(), slot.clone());
        self.tracker.spawn(manage_pod_loop(self.syncer.clone(), slot.clone(), self.stop.clone()));
        slot
    }

    /// A new version of the pod (from the API).
    pub fn update(&mut self, pod: Arc<Pod>) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let slot = self.slot(&uid);
        let mut pending = slot.pending.lock();
        pending.pod = Some(pod);
        pending.changed = true;
        drop(pending);
        slot.notify.notify_one();
    }

    /// A newer version of the pod that differs only in what the kubelet does not act on (its
    /// status, its resourceVersion): the next sync uses it, but it asks for none. The
    /// kubelet's own status writes come back this way; syncing on each would re-decide at once
    /// what the status just said (an `ErrImagePull` would turn `ImagePullBackOff` within
    /// milliseconds). A pod without a worker gets one, as from [`PodWorkers::update`].
    pub fn reconcile(&mut self, pod: Arc<Pod>) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        match self.slots.get(&uid) {
            Some(slot) => slot.pending.lock().pod = Some(pod),
            None => self.update(pod),
        }
    }

    /// The pod is gone from the API: its worker stops it, then ends.
    pub fn remove(&mut self, pod: Arc<Pod>) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let slot = self.slot(&uid);
        let mut pending = slot.pending.lock();
        pending.pod = Some(pod);
        pending.removed = true;
        drop(pending);
        slot.notify.notify_one();
    }

    /// Sync the pod again as last seen (no-op for pods without a worker).
    pub fn wake(&self, uid: &str) {
        if let Some(slot) = self.slots.get(uid) {
            slot.pending.lock().wake = true;
            slot.notify.notify_one();
        }
    }

    /// Forgets the workers that ended; their uids.
    pub fn reap(&mut self) -> Vec<String> {
        let done: Vec<String> =
            self.slots.iter().filter(|(_, s)| s.done.load(Ordering::Acquire)).map(|(uid, _)| uid.clone()).collect();
        for uid in &done {
            self.slots.remove(uid);
        }
        done
    }

    pub fn has(&self, uid: &str) -> bool {
        self.slots.contains_key(uid)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Waits for every worker to end (after `stop` was cancelled).
    pub async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// One pod's worker: take the slot, sync, repeat; sleep until woken or due.
async fn manage_pod_loop(syncer: Arc<dyn PodSyncer>, slot: Arc<Slot>, stop: CancellationToken) {
    let mut current: Option<Arc<Pod>> = None;
    let mut removed = false;
    let mut due: Option<Instant> = None;
    loop {
        let pending = slot.take();
        let is_due = due.is_some_and(|at| at <= Instant::now());
        let asked = pending.asks_for_sync();
        if pending.pod.is_some() {
            current = pending.pod;
        }
        removed |= pending.removed;
        if !asked && !is_due {
            let sleep = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => futures::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = slot.notify.notified() => {}
                _ = sleep => {}
            }
            continue;
        }
        let Some(pod) = current.clone() else { continue };
        if stop.is_cancelled() {
            return;
        }
        match syncer.sync(pod, removed).await {
            SyncOutcome::Again(after) => due = Some(Instant::now() + after),
            SyncOutcome::Done => {
                slot.done.store(true, Ordering::Release);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Records every sync (pod name, resourceVersion, removed) and takes `busy` per sync.
    struct Recording {
        seen: Mutex<Vec<String>>,
        busy: Duration,
        done_when_removed: bool,
    }

    #[async_trait]
    impl PodSyncer for Recording {
        async fn sync(&self, pod: Arc<Pod>, removed: bool) -> SyncOutcome {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let version = pod.metadata.resource_version.clone().unwrap_or_default();
            self.seen.lock().push(format!("{name}@{version}{}", if removed { " removed" } else { "" }));
            tokio::time::sleep(self.busy).await;
            if removed && self.done_when_removed {
                SyncOutcome::Done
            } else {
                SyncOutcome::Again(Duration::from_secs(10))
            }
        }
    }

    fn pod(name: &str, uid: &str, version: u32) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": name, "uid": uid, "resourceVersion": version.to_string()}}),
            )
            .unwrap(),
        )
    }

    fn workers(busy: Duration) -> (PodWorkers, Arc<Recording>) {
        let syncer = Arc::new(Recording { seen: Mutex::new(vec![]), busy, done_when_removed: true });
        (PodWorkers::new(syncer.clone(), CancellationToken::new()), syncer)
    }

    /// Workers whose pod `web` (uid `u1`, version 1) has synced once.
    async fn synced_once() -> (PodWorkers, Arc<Recording>) {
        let (mut workers, syncer) = workers(Duration::ZERO);
        workers.update(pod("web", "u1", 1));
        settle().await;
        (workers, syncer)
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn updates_during_a_sync_collapse_into_the_last_one() {
        let (mut workers, syncer) = workers(Duration::from_secs(1));
        workers.update(pod("web", "u1", 1));
        settle().await;
        for version in 2..=5 {
            workers.update(pod("web", "u1", version));
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(*syncer.seen.lock(), vec!["web@1", "web@5"], "2, 3 and 4 were never synced");
    }

    #[tokio::test(start_paused = true)]
    async fn pods_sync_in_parallel_and_each_in_order() {
        let (mut workers, syncer) = workers(Duration::from_secs(1));
        workers.update(pod("a", "u1", 1));
        workers.update(pod("b", "u2", 1));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut seen = syncer.seen.lock().clone();
        seen.sort();
        assert_eq!(seen, vec!["a@1", "b@1"], "both within one sync's time");
        assert_eq!(workers.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_sync_runs_again_when_due_or_woken() {
        let (workers, syncer) = synced_once().await;
        workers.wake("u1");
        settle().await;
        assert_eq!(syncer.seen.lock().len(), 2, "woken");
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert_eq!(syncer.seen.lock().len(), 3, "due after the 10 s it asked for");
        workers.wake("unknown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reconciled_pod_is_used_by_the_next_sync_but_asks_for_none() {
        let (mut workers, syncer) = synced_once().await;
        workers.reconcile(pod("web", "u1", 2));
        settle().await;
        assert_eq!(*syncer.seen.lock(), vec!["web@1"], "a status-only change syncs nothing");
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert_eq!(*syncer.seen.lock(), vec!["web@1", "web@2"], "the resync uses the newer object");
        workers.reconcile(pod("new", "u2", 1));
        settle().await;
        assert_eq!(syncer.seen.lock().last().map(String::as_str), Some("new@1"), "a first sight syncs");
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_pod_ends_its_worker_which_is_then_reaped() {
        let (mut workers, syncer) = synced_once().await;
        workers.remove(pod("web", "u1", 2));
        settle().await;
        assert_eq!(*syncer.seen.lock(), vec!["web@1", "web@2 removed"]);
        assert_eq!(workers.reap(), vec!["u1".to_string()]);
        assert!(workers.is_empty());
    }

    #[test]
    fn lifecycles_follow_the_pod_object() {
        let mut p = (*pod("web", "u1", 1)).clone();
        assert_eq!(PodLifecycle::of(&p, false, false), PodLifecycle::Syncing);
        assert!(PodLifecycle::of(&p, false, false).can_start_containers());
        assert_eq!(PodLifecycle::of(&p, false, true), PodLifecycle::Finished);
        p.status = Some(k8s_openapi::api::core::v1::PodStatus { phase: Some("Failed".into()), ..Default::default() });
        assert!(!PodLifecycle::of(&p, false, false).can_start_containers());
        assert!(PodLifecycle::of(&p, true, false).must_stop_containers());
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(chrono::Utc::now()));
        assert_eq!(PodLifecycle::of(&p, false, false), PodLifecycle::Terminating);
        assert!(PodLifecycle::Terminated.can_forget_worker());
    }
}
