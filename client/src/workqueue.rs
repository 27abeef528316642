//! The work queue between a controller's event handlers and its workers.
//!
//! Mirrors client-go's `util/workqueue` (`queue.go`, `delaying_queue.go`,
//! `rate_limiting_queue.go`) and keeps its contract, which is what makes level-triggered
//! controllers correct:
//!
//! - **Duplicates collapse**: a key added ten times before a worker takes it is processed once.
//!   Handlers add keys, not events; the worker reads the current state.
//! - **Fair**: keys come out in the order they first went in.
//! - **Never two workers on one key**: a key is *processing* from `get` to `done`.
//! - **Added while processing → processed again after**: the add is remembered (*dirty*) and the
//!   key goes back in the queue at `done`, so no change is missed and no key runs twice at once.
//! - **Rate-limited requeue**: `add_rate_limited` waits an exponential back-off per key
//!   (`backoff.rs`); `forget` resets it after a success.
//! - **Delayed adds**: `add_after` (a resync, a progress deadline); a key waiting twice keeps the
//!   earlier time.
//! - **Shutdown drains**: after `shutdown`, `get` hands out what is queued, then `None`.
//!
//! Left out: client-go's metrics hooks and its heap of waiting items (one sleeping task per
//! waiting key is plenty at this scale).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::backoff;

/// Back-off of `add_rate_limited`, as client-go's controllers use by default.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(5), max: Duration::from_secs(1000) }
    }
}

struct State<K> {
    /// Keys ready for a worker, in order.
    queue: VecDeque<K>,
    /// Keys that need processing: queued, or added again while processing.
    dirty: HashSet<K>,
    /// Keys a worker holds.
    processing: HashSet<K>,
    /// Keys waiting for `add_after`, with the time they are due.
    waiting: HashMap<K, Instant>,
    /// Consecutive failures per key, for the back-off.
    failures: HashMap<K, u32>,
    shutting_down: bool,
}

/// A cloneable handle on one queue.
pub struct WorkQueue<K> {
    state: Arc<Mutex<State<K>>>,
    ready: Arc<Notify>,
    backoff: Backoff,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue { state: self.state.clone(), ready: self.ready.clone(), backoff: self.backoff }
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<K> {
    fn default() -> Self {
        Self::new(Backoff::default())
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    pub fn new(backoff: Backoff) -> Self {
        let state = State {
            queue: VecDeque::new(),
            dirty: HashSet::new(),
            processing: HashSet::new(),
            waiting: HashMap::new(),
            failures: HashMap::new(),
            shutting_down: false,
        };
        WorkQueue { state: Arc::new(Mutex::new(state)), ready: Arc::new(Notify::new()), backoff }
    }

    /// Marks `key` as needing processing.
    pub fn add(&self, key: K) {
        let mut state = self.state.lock();
        if state.shutting_down || !state.dirty.insert(key.clone()) {
            return;
        }
        if state.processing.contains(&key) {
            // `done` will queue it again.
            return;
        }
        state.queue.push_back(key);
        drop(state);
        self.ready.notify_one();
    }

    /// Waits for a key to process. `None` once the queue is shut down and empty. The caller
    /// must call [`WorkQueue::done`] with the key when it is finished with it.
    pub async fn get(&self) -> Option<K> {
        loop {
            // Register interest before looking, so that an add between the look and the wait
            // is not missed.
            let notified = self.ready.notified();
            {
                let mut state = self.state.lock();
                if let Some(key) = state.queue.pop_front() {
                    state.dirty.remove(&key);
                    state.processing.insert(key.clone());
                    let more = !state.queue.is_empty();
                    drop(state);
                    if more {
                        // Pass the baton: another worker may take the next key.
                        self.ready.notify_one();
                    }
                    return Some(key);
                }
                if state.shutting_down {
                    drop(state);
                    self.ready.notify_one();
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Ends the processing of `key`; if it was added meanwhile, it goes back in the queue.
    pub fn done(&self, key: &K) {
        let mut state = self.state.lock();
        state.processing.remove(key);
        if state.dirty.contains(key) {
            state.queue.push_back(key.clone());
            drop(state);
            self.ready.notify_one();
        }
    }

    /// Adds `key` after `delay`. If it is already waiting for an earlier time, that one stands.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let due = Instant::now() + delay;
        {
            let mut state = self.state.lock();
            if state.shutting_down {
                return;
            }
            match state.waiting.get(&key) {
                Some(existing) if *existing <= due => return,
                _ => {
                    state.waiting.insert(key.clone(), due);
                }
            }
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(due).await;
            let still_due = {
                let mut state = queue.state.lock();
                // An earlier add_after for the same key replaced this one.
                if state.waiting.get(&key) == Some(&due) {
                    state.waiting.remove(&key);
                    true
                } else {
                    false
                }
            };
            if still_due {
                queue.add(key);
            }
        });
    }

    /// Adds `key` after its back-off: each call without a `forget` in between doubles it.
    pub fn add_rate_limited(&self, key: K) {
        let failures = {
            let mut state = self.state.lock();
            let failures = state.failures.entry(key.clone()).or_insert(0);
            *failures += 1;
            *failures
        };
        self.add_after(key, backoff::delay(failures, self.backoff.base, self.backoff.max));
    }

    /// Resets the back-off of `key` (after it was processed successfully).
    pub fn forget(&self, key: &K) {
        self.state.lock().failures.remove(key);
    }

    /// How many times `key` was requeued with back-off since its last `forget`.
    pub fn requeues(&self, key: &K) -> u32 {
        self.state.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Keys waiting for a worker.
    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops taking keys; workers get what is queued, then `None`.
    pub fn shutdown(&self) {
        self.state.lock().shutting_down = true;
        self.ready.notify_waiters();
        self.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(queue: &WorkQueue<&'static str>) -> &'static str {
        tokio::time::timeout(Duration::from_secs(5), queue.get()).await.expect("a key arrives").expect("not shut down")
    }

    #[tokio::test]
    async fn duplicate_adds_collapse_into_one_item() {
        let queue = WorkQueue::default();
        for _ in 0..10 {
            queue.add("default/web");
        }
        assert_eq!(queue.len(), 1);
        assert_eq!(next(&queue).await, "default/web");
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn keys_come_out_in_the_order_they_first_went_in() {
        let queue = WorkQueue::default();
        for key in ["a", "b", "a", "c", "b"] {
            queue.add(key);
        }
        let order = [next(&queue).await, next(&queue).await, next(&queue).await];
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_key_being_processed_is_not_handed_to_a_second_worker() {
        let queue = WorkQueue::default();
        queue.add("k");
        let held = next(&queue).await;
        queue.add("k");
        assert!(queue.is_empty(), "the second add waits for done");
        let second = tokio::time::timeout(Duration::from_millis(50), queue.get()).await;
        assert!(second.is_err(), "no worker gets k while another holds it");
        queue.done(&held);
    }

    #[tokio::test]
    async fn a_key_added_while_processing_is_processed_again_after_done() {
        let queue = WorkQueue::default();
        queue.add("k");
        let held = next(&queue).await;
        queue.add("k");
        queue.add("k");
        queue.done(&held);
        assert_eq!(next(&queue).await, "k", "once more, and only once");
        queue.done(&"k");
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn a_key_not_added_again_is_not_processed_again() {
        let queue = WorkQueue::default();
        queue.add("k");
        let held = next(&queue).await;
        queue.done(&held);
        assert!(queue.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_until_forget() {
        let queue = WorkQueue::new(Backoff { base: Duration::from_millis(100), max: Duration::from_secs(10) });
        let start = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..4 {
            let before = Instant::now();
            queue.add_rate_limited("flaky");
            let key = next(&queue).await;
            waits.push(Instant::now() - before);
            queue.done(&key);
        }
        let ms: Vec<u128> = waits.iter().map(|w| w.as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800]);
        assert_eq!(queue.requeues(&"flaky"), 4);
        queue.forget(&"flaky");
        let before = Instant::now();
        queue.add_rate_limited("flaky");
        next(&queue).await;
        assert_eq!((Instant::now() - before).as_millis(), 100, "forget starts the back-off over");
        assert!(Instant::now() - start < Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_waiting_twice_keeps_the_earlier_time() {
        let queue = WorkQueue::default();
        let start = Instant::now();
        queue.add_after("k", Duration::from_secs(10));
        queue.add_after("k", Duration::from_secs(3));
        queue.add_after("k", Duration::from_secs(7));
        assert_eq!(next(&queue).await, "k");
        assert_eq!((Instant::now() - start).as_secs(), 3);
        queue.done(&"k");
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(queue.is_empty(), "the later waits were dropped, not delivered again");
    }

    #[tokio::test]
    async fn many_workers_share_the_keys_without_overlap() {
        let queue: WorkQueue<u32> = WorkQueue::default();
        let active = Arc::new(Mutex::new(HashSet::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (queue, active, seen) = (queue.clone(), active.clone(), seen.clone());
            workers.push(tokio::spawn(async move {
                while let Some(key) = queue.get().await {
                    assert!(active.lock().insert(key), "key {key} held by two workers");
                    tokio::task::yield_now().await;
                    active.lock().remove(&key);
                    seen.lock().push(key);
                    queue.done(&key);
                }
            }));
        }
        for round in 0..3 {
            for key in 0..50 {
                queue.add(key);
            }
            if round == 1 {
                tokio::task::yield_now().await;
            }
        }
        while !queue.is_empty() || !active.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        queue.shutdown();
        for worker in workers {
            worker.await.unwrap();
        }
        let seen = seen.lock();
        let distinct: HashSet<u32> = seen.iter().copied().collect();
        assert_eq!(distinct.len(), 50, "every key processed");
        assert!(seen.len() <= 150, "duplicates collapsed");
    }

    #[tokio::test]
    async fn shutdown_drains_then_ends() {
        let queue = WorkQueue::default();
        queue.add("a");
        queue.add("b");
        queue.shutdown();
        queue.add("late");
        assert_eq!(queue.get().await, Some("a"));
        assert_eq!(queue.get().await, Some("b"));
        assert_eq!(queue.get().await, None);
        assert_eq!(queue.get().await, None, "and stays ended");
    }
}
