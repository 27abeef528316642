//! A shared informer: one watch of a kind, one cache, and its events handed to every controller
//! that cares.
//!
//! Mirrors client-go's `SharedInformer` (`tools/cache/shared_informer.go`): the Deployment and
//! ReplicaSet controllers both need the pods, but the API server should see one pod watch, and
//! the process should hold one copy of the pods. The informer applies each event to its cache
//! *first* and only then hands it to its subscribers, so a controller that wakes on an event
//! always finds the cache at least as new as the event (what every `sync` relies on).
//!
//! Subscribers get unbounded queues: an informer never waits for a slow controller (the
//! controllers' own work queues collapse duplicate keys, so the backlog stays small).

use std::sync::Arc;

use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::reflector::{Object, Store, Writer};
use crate::watcher::Event;

/// One kind's cache and its subscribers.
pub struct Informer<K: Object + Clone> {
    store: Store<K>,
    writer: Mutex<Option<Writer<K>>>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Event<K>>>>,
    /// True once the first list has been applied.
    synced: watch::Sender<bool>,
}

impl<K: Object + Clone> Default for Informer<K> {
    fn default() -> Self {
        let writer = Writer::default();
        let store = writer.store();
        Informer {
            store,
            writer: Mutex::new(Some(writer)),
            subscribers: Mutex::new(Vec::new()),
            synced: watch::channel(false).0,
        }
    }
}

impl<K: Object + Clone> Informer<K> {
    pub fn new() -> Arc<Informer<K>> {
        Arc::new(Informer::default())
    }

    /// The cache, for reading.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Every event from now on, after the cache has it. Subscribe before [`Informer::run`] to
    /// see the first list too.
    pub fn subscribe(&self) -> impl Stream<Item = Event<K>> + Send + 'static {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.subscribers.lock().push(sender);
        UnboundedReceiverStream::new(receiver)
    }

    /// Waits until the first list is in the cache (client-go's `WaitForCacheSync`).
    pub async fn synced(&self) {
        let mut synced = self.synced.subscribe();
        let _ = synced.wait_for(|s| *s).await;
    }

    /// Feeds the cache and the subscribers from `events` (a watcher) until `shutdown`. Runs once.
    pub async fn run(&self, events: impl Stream<Item = Event<K>> + Send, shutdown: CancellationToken) {
        let Some(mut writer) = self.writer.lock().take() else {
            tracing::warn!("an informer runs only once");
            return;
        };
        let mut events = Box::pin(events.take_until(shutdown.cancelled_owned()));
        while let Some(event) = events.next().await {
            writer.apply(&event);
            if matches!(event, Event::Restarted(_)) {
                self.synced.send_replace(true);
            }
            self.subscribers.lock().retain(|subscriber| subscriber.send(event.clone()).is_ok());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Obj(&'static str);

    impl Object for Obj {
        fn namespace(&self) -> Option<&str> {
            Some("default")
        }
        fn name(&self) -> &str {
            self.0
        }
        fn controller_uid(&self) -> Option<&str> {
            None
        }
    }

    #[tokio::test]
    async fn subscribers_see_events_only_after_the_cache_has_them() {
        let informer: Arc<Informer<Obj>> = Informer::new();
        let store = informer.store();
        let mut first = Box::pin(informer.subscribe());
        let mut second = Box::pin(informer.subscribe());
        let events = futures::stream::iter(vec![Event::Restarted(vec![Obj("a")]), Event::Applied(Obj("b"))]);
        informer.run(events, CancellationToken::new()).await;
        informer.synced().await;
        for stream in [&mut first, &mut second] {
            assert_eq!(stream.next().await, Some(Event::Restarted(vec![Obj("a")])));
            assert_eq!(stream.next().await, Some(Event::Applied(Obj("b"))));
        }
        assert_eq!(store.len(), 2);
    }
}
