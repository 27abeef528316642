//! The scheduling queue: which pod to try next, and when to try again a pod that fit nowhere.
//!
//! Mirrors `pkg/scheduler/internal/queue/scheduling_queue.go` (`PriorityQueue`), Kubernetes
//! 1.31. A pod waiting to be scheduled is in one of three places:
//!
//! - **active**: ready now, ordered by priority (highest first), then by arrival;
//! - **backoff**: failed recently; it waits 1 s after its first attempt, 2 s after its second,
//!   doubling up to 10 s, then goes back to active (checked every second);
//! - **unschedulable**: fit nowhere; nothing will change that until the cluster changes, so it
//!   waits for a cluster event (a node added or changed, a bound pod gone) that moves every
//!   unschedulable pod to backoff (or straight to active if its back-off is over). A pod left
//!   there for 5 minutes is moved anyway (checked every 30 s), in case an event was missed.
//!
//! While a pod is being scheduled it is *in flight*. A cluster event that arrives meanwhile is
//! remembered, so that if the attempt fails the pod goes to backoff rather than waiting for an
//! event that already happened (upstream's in-flight events and `moveRequestCycle`). After a
//! successful attempt the pod is *scheduled*: out of the queue, but its attempts remembered in
//! case the bind fails, until the watch shows it bound and [`SchedulingQueue::delete`] drops it.
//!
//! Left out: queueing hints (upstream asks each plugin whether an event could help this pod;
//! here every event moves every unschedulable pod), scheduling gates, nominated pods.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use parking_lot::Mutex;
use skiff_client::reflector::ObjectKey;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Back-off after a pod's first failed attempt (`podInitialBackoffDuration`).
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off (`podMaxBackoffDuration`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often pods whose back-off is over go back to active.
pub const FLUSH_BACKOFF_EVERY: Duration = Duration::from_secs(1);
/// How often pods left unschedulable too long are moved anyway.
pub const FLUSH_UNSCHEDULABLE_EVERY: Duration = Duration::from_secs(30);
/// How long a pod stays unschedulable without a cluster event (`podMaxInUnschedulablePodsDuration`).
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// Where a pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
    Scheduled,
}

struct Entry {
    priority: i32,
    /// Arrival order, to keep equal priorities first come, first served.
    seq: u64,
    place: Place,
    attempts: u32,
    last_attempt: Option<Instant>,
    unschedulable_since: Option<Instant>,
    /// A cluster event (or a change to the pod) arrived while it was in flight.
    moved_while_in_flight: bool,
}

impl Entry {
    fn backoff_over_at(&self) -> Instant {
        let last = self.last_attempt.unwrap_or_else(Instant::now);
        last + skiff_client::backoff::delay(self.attempts, INITIAL_BACKOFF, MAX_BACKOFF)
    }
}

struct State {
    entries: HashMap<ObjectKey, Entry>,
    /// The active pods in the order they come out.
    active: BTreeSet<(Reverse<i32>, u64, ObjectKey)>,
    next_seq: u64,
    closed: bool,
}

impl State {
    /// Moves a pod to `place`, keeping the active index in step.
    fn set(&mut self, key: &ObjectKey, place: Place) {
        let Some(entry) = self.entries.get_mut(key) else { return };
        let slot = (Reverse(entry.priority), entry.seq, key.clone());
        if entry.place == Place::Active {
            self.active.remove(&slot);
        }
        entry.place = place;
        if place == Place::Active {
            self.active.insert(slot);
        }
    }

    /// An unschedulable pod moves on: to active if its back-off is over, else to backoff.
    fn release(&mut self, key: &ObjectKey, now: Instant) {
        let over = self.entries.get(key).is_some_and(|e| e.backoff_over_at() <= now);
        self.set(key, if over { Place::Active } else { Place::Backoff });
    }

    fn keys_in(&self, place: Place) -> Vec<ObjectKey> {
        self.entries.iter().filter(|(_, e)| e.place == place).map(|(k, _)| k.clone()).collect()
    }
}

/// How many pods wait where (the `scheduler_pending_pods` gauge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pending {
    pub active: usize,
    pub backoff: usize,
    pub unschedulable: usize,
}

pub struct SchedulingQueue {
    /// A std mutex: no await happens while it is held.
    state: Mutex<State>,
    ready: Notify,
}

impl Default for SchedulingQueue {
    fn default() -> Self {
        let state = State { entries: HashMap::new(), active: BTreeSet::new(), next_seq: 0, closed: false };
        SchedulingQueue { state: Mutex::new(state), ready: Notify::new() }
    }
}

impl SchedulingQueue {
    /// A pod to schedule appeared, or its spec or labels changed.
    pub fn add(&self, key: ObjectKey, priority: i32) {
        let mut state = self.state.lock();
        if state.closed {
            return;
        }
        match state.entries.get_mut(&key).map(|e| e.place) {
            None => {
                let seq = state.next_seq;
                state.next_seq += 1;
                let entry = Entry {
                    priority,
                    seq,
                    place: Place::Backoff,
                    attempts: 0,
                    last_attempt: None,
                    unschedulable_since: None,
                    moved_while_in_flight: false,
                };
                state.entries.insert(key.clone(), entry);
                state.set(&key, Place::Active);
            }
            // A changed pod may fit now: it need not wait for a cluster event.
            Some(Place::Unschedulable) => state.release(&key, Instant::now()),
            Some(Place::InFlight) => {
                if let Some(entry) = state.entries.get_mut(&key) {
                    entry.moved_while_in_flight = true;
                }
            }
            Some(Place::Active | Place::Backoff | Place::Scheduled) => return,
        }
        drop(state);
        self.ready.notify_one();
    }

    /// The pod is no longer waiting: bound (the watch of unscheduled pods lost it) or deleted.
    pub fn delete(&self, key: &ObjectKey) {
        let mut state = self.state.lock();
        state.set(key, Place::Scheduled);
        state.entries.remove(key);
    }

    /// After a re-list: exactly these pods wait (priorities alongside).
    pub fn sync(&self, pods: Vec<(ObjectKey, i32)>) {
        let keep: BTreeSet<&ObjectKey> = pods.iter().map(|(key, _)| key).collect();
        let gone: Vec<ObjectKey> = self.state.lock().entries.keys().filter(|k| !keep.contains(k)).cloned().collect();
        for key in gone {
            self.delete(&key);
        }
        for (key, priority) in pods {
            self.add(key, priority);
        }
    }

    /// Waits for the next active pod; `None` once the queue is closed. The pod is in flight until
    /// [`done`](Self::done), [`add_unschedulable`](Self::add_unschedulable) or
    /// [`add_backoff`](Self::add_backoff).
    pub async fn pop(&self) -> Option<ObjectKey> {
        loop {
            // Register before looking, so that an add between the look and the wait is not lost.
            let notified = self.ready.notified();
            {
                let mut state = self.state.lock();
                if state.closed {
                    return None;
                }
                if let Some((_, _, key)) = state.active.first().cloned() {
                    state.set(&key, Place::InFlight);
                    let entry = state.entries.get_mut(&key).expect("an active pod has an entry");
                    entry.attempts += 1;
                    entry.last_attempt = Some(Instant::now());
                    entry.moved_while_in_flight = false;
                    return Some(key);
                }
            }
            notified.await;
        }
    }

    /// The attempt chose a node: the pod leaves the queue (its attempts are kept until it is
    /// deleted, in case the bind fails).
    pub fn done(&self, key: &ObjectKey) {
        self.state.lock().set(key, Place::Scheduled);
    }

    /// The attempt found no node. The pod waits for a cluster event, unless one came while it was
    /// in flight.
    pub fn add_unschedulable(&self, key: &ObjectKey) {
        let mut state = self.state.lock();
        let Some(entry) = state.entries.get_mut(key) else { return };
        if entry.place != Place::InFlight {
            return;
        }
        if entry.moved_while_in_flight {
            state.set(key, Place::Backoff);
        } else {
            entry.unschedulable_since = Some(Instant::now());
            state.set(key, Place::Unschedulable);
        }
    }

    /// The attempt or its bind failed for another reason: try again after the back-off.
    pub fn add_backoff(&self, key: &ObjectKey) {
        let mut state = self.state.lock();
        if state.entries.get(key).is_some_and(|e| matches!(e.place, Place::InFlight | Place::Scheduled)) {
            state.set(key, Place::Backoff);
        }
    }

    /// A cluster event that may make pods fit: every unschedulable pod moves on.
    pub fn move_all_to_active_or_backoff(&self, event: &str) {
        let now = Instant::now();
        let mut state = self.state.lock();
        let unschedulable = state.keys_in(Place::Unschedulable);
        for key in &unschedulable {
            state.release(key, now);
        }
        for entry in state.entries.values_mut().filter(|e| e.place == Place::InFlight) {
            entry.moved_while_in_flight = true;
        }
        drop(state);
        if !unschedulable.is_empty() {
            tracing::debug!(event, pods = unschedulable.len(), "unschedulable pods moved");
            self.ready.notify_one();
        }
    }

    /// Pods whose back-off is over go back to active.
    pub fn flush_backoff_completed(&self) {
        let now = Instant::now();
        let mut state = self.state.lock();
        let due: Vec<ObjectKey> = state
            .entries
            .iter()
            .filter(|(_, e)| e.place == Place::Backoff && e.backoff_over_at() <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &due {
            state.set(key, Place::Active);
        }
        drop(state);
        if !due.is_empty() {
            self.ready.notify_one();
        }
    }

    /// Pods unschedulable for longer than [`MAX_IN_UNSCHEDULABLE`] move on without an event.
    pub fn flush_unschedulable_leftover(&self) {
        let now = Instant::now();
        let mut state = self.state.lock();
        let stale: Vec<ObjectKey> = state
            .entries
            .iter()
            .filter(|(_, e)| e.place == Place::Unschedulable)
            .filter(|(_, e)| {
                e.unschedulable_since.is_some_and(|since| now.duration_since(since) >= MAX_IN_UNSCHEDULABLE)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in &stale {
            state.release(key, now);
        }
        drop(state);
        if !stale.is_empty() {
            self.ready.notify_one();
        }
    }

    /// Runs both flushes on their timers until `shutdown`.
    pub async fn run_flushes(&self, shutdown: CancellationToken) {
        let mut backoff = tokio::time::interval(FLUSH_BACKOFF_EVERY);
        let mut leftover = tokio::time::interval(FLUSH_UNSCHEDULABLE_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = backoff.tick() => self.flush_backoff_completed(),
                _ = leftover.tick() => self.flush_unschedulable_leftover(),
            }
        }
    }

    pub fn place(&self, key: &ObjectKey) -> Option<Place> {
        self.state.lock().entries.get(key).map(|e| e.place)
    }

    pub fn pending(&self) -> Pending {
        let state = self.state.lock();
        let count = |place| state.entries.values().filter(|e| e.place == place).count();
        Pending {
            active: count(Place::Active),
            backoff: count(Place::Backoff),
            unschedulable: count(Place::Unschedulable),
        }
    }

    /// Stops the queue: `pop` returns `None` from now on.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey { namespace: Some("default".into()), name: name.into() }
    }

    async fn pop(queue: &SchedulingQueue) -> String {
        let popped = tokio::time::timeout(Duration::from_secs(3600), queue.pop()).await.expect("a pod in time");
        popped.expect("not closed").name
    }

    /// A queue with its flush timers running, as the scheduler runs it.
    fn running() -> (Arc<SchedulingQueue>, CancellationToken) {
        let queue = Arc::new(SchedulingQueue::default());
        let stop = CancellationToken::new();
        let flushing = queue.clone();
        let token = stop.clone();
        tokio::spawn(async move { flushing.run_flushes(token).await });
        (queue, stop)
    }

    #[tokio::test]
    async fn higher_priority_pods_come_first_then_first_come_first_served() {
        let queue = SchedulingQueue::default();
        queue.add(key("low-1"), 0);
        queue.add(key("high"), 1000);
        queue.add(key("low-2"), 0);
        queue.add(key("low-1"), 0);
        let order = [pop(&queue).await, pop(&queue).await, pop(&queue).await];
        assert_eq!(order, ["high", "low-1", "low-2"]);
        assert_eq!(queue.pending(), Pending::default(), "all three in flight");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unschedulable_pod_waits_for_a_cluster_event_then_for_its_back_off() {
        let (queue, stop) = running();
        let start = Instant::now();
        queue.add(key("big"), 0);
        assert_eq!(pop(&queue).await, "big");
        queue.add_unschedulable(&key("big"));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(queue.place(&key("big")), Some(Place::Unschedulable), "no event, no retry");

        // Long after its 1 s back-off: a node added moves it straight to active.
        queue.move_all_to_active_or_backoff("NodeAdd");
        assert_eq!(pop(&queue).await, "big");
        assert_eq!(Instant::now() - start, Duration::from_secs(60));

        // Second failure, event at once: it waits out its 2 s back-off first.
        queue.add_unschedulable(&key("big"));
        let failed = Instant::now();
        queue.move_all_to_active_or_backoff("NodeUpdate");
        assert_eq!(queue.place(&key("big")), Some(Place::Backoff));
        assert_eq!(pop(&queue).await, "big");
        assert_eq!(Instant::now() - failed, Duration::from_secs(2));
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn back_off_doubles_from_one_second_to_ten() {
        let (queue, stop) = running();
        queue.add(key("flaky"), 0);
        let mut waits = Vec::new();
        assert_eq!(pop(&queue).await, "flaky");
        for _ in 0..6 {
            let failed = Instant::now();
            queue.add_backoff(&key("flaky"));
            assert_eq!(pop(&queue).await, "flaky");
            waits.push((Instant::now() - failed).as_secs());
        }
        assert_eq!(waits, vec![1, 2, 4, 8, 10, 10]);
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_during_the_attempt_sends_the_pod_to_backoff_not_to_wait() {
        let (queue, stop) = running();
        queue.add(key("p"), 0);
        assert_eq!(pop(&queue).await, "p");
        // A node joins while the attempt runs against the old picture.
        queue.move_all_to_active_or_backoff("NodeAdd");
        queue.add_unschedulable(&key("p"));
        assert_eq!(queue.place(&key("p")), Some(Place::Backoff));
        assert_eq!(pop(&queue).await, "p", "retried after its back-off, with no further event");
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_pod_left_unschedulable_five_minutes_is_retried_anyway() {
        let (queue, stop) = running();
        let start = Instant::now();
        queue.add(key("p"), 0);
        pop(&queue).await;
        queue.add_unschedulable(&key("p"));
        assert_eq!(pop(&queue).await, "p");
        // The leftover flush runs every 30 s: the first run after 5 minutes takes it.
        assert_eq!(Instant::now() - start, MAX_IN_UNSCHEDULABLE);
        stop.cancel();
    }

    #[tokio::test]
    async fn a_changed_pod_leaves_the_unschedulable_pool_and_a_deleted_one_the_queue() {
        let queue = SchedulingQueue::default();
        queue.add(key("p"), 0);
        pop(&queue).await;
        queue.add_unschedulable(&key("p"));
        queue.add(key("p"), 0);
        assert_eq!(queue.place(&key("p")), Some(Place::Backoff), "its back-off still runs");
        queue.delete(&key("p"));
        assert_eq!(queue.place(&key("p")), None);
        assert_eq!(queue.pending(), Pending::default());
    }

    #[tokio::test]
    async fn a_scheduled_pod_stays_out_until_its_bind_fails() {
        let queue = SchedulingQueue::default();
        queue.add(key("p"), 0);
        pop(&queue).await;
        queue.done(&key("p"));
        queue.add(key("p"), 0);
        assert_eq!(queue.place(&key("p")), Some(Place::Scheduled), "an update while binding is ignored");
        queue.add_backoff(&key("p"));
        assert_eq!(queue.place(&key("p")), Some(Place::Backoff));
    }

    #[tokio::test]
    async fn a_relist_keeps_exactly_the_listed_pods() {
        let queue = SchedulingQueue::default();
        queue.add(key("gone"), 0);
        queue.add(key("kept"), 0);
        queue.sync(vec![(key("kept"), 0), (key("new"), 0)]);
        assert_eq!(queue.place(&key("gone")), None);
        assert_eq!(queue.pending().active, 2);
    }

    #[tokio::test]
    async fn closing_ends_pop() {
        let queue = Arc::new(SchedulingQueue::default());
        let waiting = queue.clone();
        let popper = tokio::spawn(async move { waiting.pop().await });
        tokio::task::yield_now().await;
        queue.close();
        assert_eq!(popper.await.unwrap(), None);
    }
}
