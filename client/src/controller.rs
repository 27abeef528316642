//! The controller runner: events in, keys queued, workers reconcile.
//!
//! Mirrors kube-runtime's `Controller` and the loop every client-go controller writes by hand
//! (`processNextWorkItem`): a watched kind feeds a reflector cache and a work queue of object
//! keys; N workers take keys and call `reconcile(key)`, which reads the *current* state from the
//! cache (level-triggered: the event only says "look at this key"), acts, and says what next:
//!
//! - `Ok(Action::Done)`: forget the key's back-off; wait for the next event.
//! - `Ok(Action::RequeueAfter(d))`: look again after `d` (a progress deadline, minReadySeconds).
//! - `Err(_)`: requeue with the key's exponential back-off, and log the error.
//!
//! Other kinds can feed the same queue through a mapper (a pod event → its ReplicaSet's key):
//! [`Controller::watches`]. On a re-list, every key of the new list *and* of the old contents is
//! queued, so an object deleted while the watch was down is reconciled too (client-go does this
//! with "DeletedFinalStateUnknown" tombstones).
//!
//! Shutdown: cancel the token; the feeds stop, the queue drains, and `run` returns once the
//! workers have finished their keys.

use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::reflector::{Object, ObjectKey, Store, Writer};
use crate::watcher::Event;
use crate::workqueue::WorkQueue;

/// What a reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Done,
    RequeueAfter(Duration),
}

/// A controller of objects of kind `K`.
pub struct Controller<K: Object + Clone> {
    queue: WorkQueue<ObjectKey>,
    store: Store<K>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// The keys an event is about; for a re-list, the old contents' keys too.
fn keys_of<K: Object>(event: &Event<K>, before: Vec<ObjectKey>) -> Vec<ObjectKey> {
    match event {
        Event::Restarted(objects) => {
            let mut keys: Vec<ObjectKey> = objects.iter().map(ObjectKey::of).chain(before).collect();
            keys.sort();
            keys.dedup();
            keys
        }
        Event::Applied(object) | Event::Deleted(object) => vec![ObjectKey::of(object)],
    }
}

impl<K: Object + Clone> Controller<K> {
    /// A controller fed by `events` (a watcher of its primary kind).
    pub fn new(events: impl Stream<Item = Event<K>> + Send + 'static, shutdown: CancellationToken) -> Self {
        let queue = WorkQueue::default();
        let mut writer: Writer<K> = Writer::default();
        let store = writer.store();
        let tasks = TaskTracker::new();
        let feed_queue = queue.clone();
        let feed_store = store.clone();
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let mut events = Box::pin(events.take_until(stop.cancelled_owned()));
            while let Some(event) = events.next().await {
                let before = match &event {
                    Event::Restarted(_) => feed_store.list().iter().map(|o| ObjectKey::of(o.as_ref())).collect(),
                    _ => Vec::new(),
                };
                writer.apply(&event);
                for key in keys_of(&event, before) {
                    feed_queue.add(key);
                }
            }
        });
        Controller { queue, store, tasks, shutdown }
    }

    /// The cache of the primary kind, for `reconcile` to read.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Feeds the queue from another kind: `map` turns each of its events into primary keys.
    pub fn watches<O: Send + 'static>(
        self,
        events: impl Stream<Item = Event<O>> + Send + 'static,
        map: impl Fn(&Event<O>) -> Vec<ObjectKey> + Send + 'static,
    ) -> Self {
        let queue = self.queue.clone();
        let stop = self.shutdown.clone();
        self.tasks.spawn(async move {
            let mut events = Box::pin(events.take_until(stop.cancelled_owned()));
            while let Some(event) = events.next().await {
                for key in map(&event) {
                    queue.add(key);
                }
            }
        });
        self
    }

    /// Runs `workers` workers until the shutdown token is canceled and the queue is drained.
    pub async fn run<F, Fut, E>(self, workers: usize, reconcile: F)
    where
        F: Fn(ObjectKey) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<Action, E>> + Send,
        E: std::fmt::Display,
    {
        for _ in 0..workers.max(1) {
            let queue = self.queue.clone();
            let reconcile = reconcile.clone();
            self.tasks.spawn(async move {
                while let Some(key) = queue.get().await {
                    match reconcile(key.clone()).await {
                        Ok(Action::Done) => queue.forget(&key),
                        Ok(Action::RequeueAfter(delay)) => {
                            queue.forget(&key);
                            queue.add_after(key.clone(), delay);
                        }
                        Err(err) => {
                            tracing::warn!(key = %key, retries = queue.requeues(&key), cause = %err, "reconcile failed; retrying");
                            queue.add_rate_limited(key.clone());
                        }
                    }
                    queue.done(&key);
                }
            });
        }
        self.shutdown.cancelled().await;
        self.queue.shutdown();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use parking_lot::Mutex;
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::UnboundedReceiverStream;

    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Obj {
        name: &'static str,
        owner: Option<&'static str>,
    }

    impl Object for Obj {
        fn namespace(&self) -> Option<&str> {
            Some("ns")
        }
        fn name(&self) -> &str {
            self.name
        }
        fn controller_uid(&self) -> Option<&str> {
            self.owner
        }
    }

    fn obj(name: &'static str) -> Obj {
        Obj { name, owner: None }
    }

    fn key(name: &str) -> ObjectKey {
        ObjectKey { namespace: Some("ns".into()), name: name.into() }
    }

    /// Reconciles by recording every call; fails the first `fail` calls for a key.
    #[derive(Clone, Default)]
    struct Recorder {
        calls: Arc<Mutex<Vec<String>>>,
        failures_left: Arc<Mutex<HashMap<String, u32>>>,
    }

    impl Recorder {
        async fn reconcile(self, key: ObjectKey) -> Result<Action, String> {
            self.calls.lock().push(key.name.clone());
            let mut failures = self.failures_left.lock();
            match failures.get_mut(&key.name) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    Err("not yet".into())
                }
                _ => Ok(Action::Done),
            }
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().clone()
        }
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn events_become_reconciles_of_the_current_state() {
        let (tx, rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let controller = Controller::new(UnboundedReceiverStream::new(rx), shutdown.clone());
        let store = controller.store();
        let recorder = Recorder::default();
        let reconciler = recorder.clone();
        let running = tokio::spawn(controller.run(2, move |k| reconciler.clone().reconcile(k)));

        tx.send(Event::Restarted(vec![obj("a"), obj("b")])).unwrap();
        settle().await;
        let mut calls = recorder.calls();
        calls.sort();
        assert_eq!(calls, vec!["a", "b"]);
        assert_eq!(store.len(), 2, "reconcile reads the cache, which has both");

        tx.send(Event::Deleted(obj("a"))).unwrap();
        settle().await;
        assert_eq!(recorder.calls().last().map(String::as_str), Some("a"), "a deletion is reconciled too");
        assert!(store.get(&key("a")).is_none());

        shutdown.cancel();
        running.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_relist_reconciles_objects_that_vanished_while_away() {
        let (tx, rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let controller = Controller::new(UnboundedReceiverStream::new(rx), shutdown.clone());
        let recorder = Recorder::default();
        let reconciler = recorder.clone();
        let running = tokio::spawn(controller.run(1, move |k| reconciler.clone().reconcile(k)));
        tx.send(Event::Restarted(vec![obj("gone"), obj("kept")])).unwrap();
        settle().await;
        recorder.calls.lock().clear();
        tx.send(Event::Restarted(vec![obj("kept"), obj("new")])).unwrap();
        settle().await;
        let mut calls = recorder.calls();
        calls.sort();
        assert_eq!(calls, vec!["gone", "kept", "new"]);
        shutdown.cancel();
        running.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn failures_retry_with_back_off_and_other_kinds_map_to_owners() {
        let (tx, rx) = mpsc::unbounded_channel();
        let (owned_tx, owned_rx) = mpsc::unbounded_channel::<Event<Obj>>();
        let shutdown = CancellationToken::new();
        let controller = Controller::new(UnboundedReceiverStream::new(rx), shutdown.clone()).watches(
            UnboundedReceiverStream::new(owned_rx),
            |event| match event {
                Event::Applied(o) | Event::Deleted(o) => o.owner.map(key).into_iter().collect(),
                Event::Restarted(_) => vec![],
            },
        );
        let recorder = Recorder::default();
        recorder.failures_left.lock().insert("rs".into(), 2);
        let reconciler = recorder.clone();
        let running = tokio::spawn(controller.run(1, move |k| reconciler.clone().reconcile(k)));

        tx.send(Event::Restarted(vec![obj("rs")])).unwrap();
        settle().await;
        assert_eq!(recorder.calls(), vec!["rs"]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(recorder.calls(), vec!["rs", "rs", "rs"], "two failures, two retries after back-off, then done");

        owned_tx.send(Event::Applied(Obj { name: "rs-pod-1", owner: Some("rs") })).unwrap();
        settle().await;
        assert_eq!(recorder.calls().len(), 4, "a pod event reconciles its owner");
        assert_eq!(recorder.calls()[3], "rs");

        shutdown.cancel();
        running.await.unwrap();
    }
}
