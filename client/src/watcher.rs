//! The watcher: list, then watch from the list's resourceVersion, and list again when the watch
//! is too old.
//!
//! Mirrors kube-runtime's `watcher` (and client-go's `tools/cache/reflector.go`
//! `ListAndWatch`): an explicit state machine, so that every transition can be read and tested.
//!
//! ```text
//!  Empty ──list ok──▶ Listed{rv} ──watch ok──▶ Watching{rv} ──change──▶ Watching{rv'}
//!    ▲                   │  ▲                      │    │
//!    │    410 Expired    │  └── stream ended ──────┘    │
//!    └───────────────────┴──────── 410 Expired ─────────┘
//! ```
//!
//! A failure other than `Expired` keeps the state and retries after an exponential back-off
//! (reset by the next success): a lost connection resumes the watch where it stopped, with no
//! re-list. Only `Expired` (the API server's `410 Gone`, the store's compaction) forces a
//! re-list, and a re-list is delivered whole (`Event::Restarted`), so that a cache can swap its
//! contents at once instead of guessing what was deleted while it was away.
//!
//! The API it watches is behind the [`ListWatch`] trait: the API server's gRPC client implements
//! it, tests use a scripted fake.

use std::future::Future;
use std::time::Duration;

use futures::stream::{BoxStream, Stream, StreamExt};

use crate::backoff;

/// One change a watch reports, with the resourceVersion it brings the watcher to.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<K> {
    /// Created or updated.
    Applied(K),
    Deleted(K),
    /// Nothing changed, but the watcher is now at this resourceVersion.
    Bookmark,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Watched<K> {
    pub change: Change<K>,
    pub resource_version: String,
}

/// Why a list or watch failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The resourceVersion is older than the history kept (`410 Gone`): list again.
    Expired,
    /// Anything else (connection lost, server busy): retry after a back-off.
    Failed(String),
}

pub type ChangeStream<K> = BoxStream<'static, Result<Watched<K>, Failure>>;

/// What the watcher needs from an API.
pub trait ListWatch: Send + Sync + 'static {
    type Object: Clone + Send + 'static;
    /// Every object, and the resourceVersion of the list.
    fn list(&self) -> impl Future<Output = Result<(Vec<Self::Object>, String), Failure>> + Send;
    /// Changes after `resource_version`.
    fn watch(&self, resource_version: &str)
        -> impl Future<Output = Result<ChangeStream<Self::Object>, Failure>> + Send;
}

/// What the watcher yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<K> {
    /// A full list: everything that exists now (at the start, and after every re-list).
    Restarted(Vec<K>),
    Applied(K),
    Deleted(K),
}

/// Back-off between retries after failures.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { base: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

enum State<K> {
    Empty,
    Listed { resource_version: String },
    Watching { resource_version: String, changes: ChangeStream<K> },
}

struct Machine<L: ListWatch> {
    api: L,
    state: State<L::Object>,
    retry: Retry,
    failures: u32,
}

impl<L: ListWatch> Machine<L> {
    async fn back_off(&mut self, why: &str) {
        self.failures += 1;
        let delay = backoff::delay(self.failures, self.retry.base, self.retry.max);
        tracing::debug!(failures = self.failures, ?delay, why, "watcher retries after a back-off");
        tokio::time::sleep(delay).await;
    }

    /// Runs transitions until one yields an event.
    async fn next_event(&mut self) -> Event<L::Object> {
        loop {
            match std::mem::replace(&mut self.state, State::Empty) {
                State::Empty => match self.api.list().await {
                    Ok((objects, resource_version)) => {
                        self.failures = 0;
                        self.state = State::Listed { resource_version };
                        return Event::Restarted(objects);
                    }
                    Err(failure) => self.back_off(&format!("list failed: {failure:?}")).await,
                },
                State::Listed { resource_version } => match self.api.watch(&resource_version).await {
                    Ok(changes) => {
                        self.failures = 0;
                        self.state = State::Watching { resource_version, changes };
                    }
                    Err(Failure::Expired) => self.state = State::Empty,
                    Err(Failure::Failed(why)) => {
                        self.state = State::Listed { resource_version };
                        self.back_off(&why).await;
                    }
                },
                State::Watching { resource_version, mut changes } => match changes.next().await {
                    Some(Ok(Watched { change, resource_version: newer })) => {
                        self.state = State::Watching { resource_version: newer, changes };
                        match change {
                            Change::Applied(object) => return Event::Applied(object),
                            Change::Deleted(object) => return Event::Deleted(object),
                            Change::Bookmark => {}
                        }
                    }
                    // A watch ends normally (a server-side timeout): resume where it stopped.
                    None => self.state = State::Listed { resource_version },
                    Some(Err(Failure::Expired)) => self.state = State::Empty,
                    Some(Err(Failure::Failed(why))) => {
                        self.state = State::Listed { resource_version };
                        self.back_off(&why).await;
                    }
                },
            }
        }
    }
}

/// Watches `api` for ever: the first event is a `Restarted` with everything that exists.
pub fn watcher<L: ListWatch>(api: L, retry: Retry) -> impl Stream<Item = Event<L::Object>> + Send
where
    L::Object: Send,
{
    let machine = Machine { api, state: State::Empty, retry, failures: 0 };
    futures::stream::unfold(machine, |mut machine| async move {
        let event = machine.next_event().await;
        Some((event, machine))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;

    use parking_lot::Mutex;
    use tokio::time::Instant;

    use super::*;

    type ListAnswer = Result<(Vec<&'static str>, String), Failure>;
    /// A watch's answer: the changes its stream yields, or a failure to start.
    type WatchAnswer = Result<Vec<Result<Watched<&'static str>, Failure>>, Failure>;

    /// A scripted API: each list and watch call takes the next answer from its script, and every
    /// call is recorded with the time it was made.
    #[derive(Clone, Default)]
    struct Script {
        lists: Arc<Mutex<VecDeque<ListAnswer>>>,
        watches: Arc<Mutex<VecDeque<WatchAnswer>>>,
        calls: Arc<Mutex<Vec<(String, Instant)>>>,
    }

    impl Script {
        fn list(self, answer: Result<(Vec<&'static str>, &str), Failure>) -> Self {
            self.lists.lock().push_back(answer.map(|(objects, rv)| (objects, rv.to_string())));
            self
        }

        fn watch(self, answer: WatchAnswer) -> Self {
            self.watches.lock().push_back(answer);
            self
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().iter().map(|(call, _)| call.clone()).collect()
        }
    }

    impl ListWatch for Script {
        type Object = &'static str;

        async fn list(&self) -> Result<(Vec<&'static str>, String), Failure> {
            self.calls.lock().push(("list".into(), Instant::now()));
            let answer = self.lists.lock().pop_front();
            match answer {
                Some(answer) => answer,
                // Script exhausted: a list that never answers.
                None => futures::future::pending().await,
            }
        }

        async fn watch(&self, resource_version: &str) -> Result<ChangeStream<&'static str>, Failure> {
            self.calls.lock().push((format!("watch {resource_version}"), Instant::now()));
            match self.watches.lock().pop_front() {
                Some(Ok(changes)) => Ok(futures::stream::iter(changes).boxed()),
                Some(Err(failure)) => Err(failure),
                // Script exhausted: a watch that never says anything more.
                None => Ok(futures::stream::pending().boxed()),
            }
        }
    }

    fn change(change: Change<&'static str>, rv: &str) -> Result<Watched<&'static str>, Failure> {
        Ok(Watched { change, resource_version: rv.to_string() })
    }

    /// Runs the watcher in a task of its own (as a controller would) and returns its events.
    fn run(api: Script, retry: Retry) -> tokio::sync::mpsc::UnboundedReceiver<Event<&'static str>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut stream = Box::pin(watcher(api, retry));
            while let Some(event) = stream.next().await {
                if tx.send(event).is_err() {
                    return;
                }
            }
        });
        rx
    }

    async fn take(
        events: &mut tokio::sync::mpsc::UnboundedReceiver<Event<&'static str>>,
        n: usize,
    ) -> Vec<Event<&'static str>> {
        let mut taken = Vec::new();
        for _ in 0..n {
            taken.push(tokio::time::timeout(Duration::from_secs(60), events.recv()).await.unwrap().unwrap());
        }
        taken
    }

    #[tokio::test(start_paused = true)]
    async fn lists_then_watches_from_the_lists_resource_version() {
        let api = Script::default().list(Ok((vec!["a", "b"], "10"))).watch(Ok(vec![
            change(Change::Applied("c"), "11"),
            change(Change::Bookmark, "15"),
            change(Change::Deleted("a"), "16"),
        ]));
        let mut events = run(api.clone(), Retry::default());
        let events = take(&mut events, 3).await;
        assert_eq!(events, vec![Event::Restarted(vec!["a", "b"]), Event::Applied("c"), Event::Deleted("a")]);
        // The first watch ended: the next one resumes after the last change, with no list.
        take_next_call(&api, 3).await;
        assert_eq!(api.calls(), vec!["list", "watch 10", "watch 16"]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_watch_lists_again_and_delivers_the_list_whole() {
        let api = Script::default()
            .list(Ok((vec!["a"], "10")))
            .watch(Ok(vec![change(Change::Applied("b"), "11"), Err(Failure::Expired)]))
            .list(Ok((vec!["b", "c"], "40")));
        let mut events = run(api.clone(), Retry::default());
        let events = take(&mut events, 3).await;
        assert_eq!(events, vec![Event::Restarted(vec!["a"]), Event::Applied("b"), Event::Restarted(vec!["b", "c"])]);
        take_next_call(&api, 4).await;
        assert_eq!(api.calls(), vec!["list", "watch 10", "list", "watch 40"]);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_retry_with_a_growing_back_off_and_keep_the_position() {
        let api = Script::default()
            .list(Err(Failure::Failed("connection refused".into())))
            .list(Err(Failure::Failed("connection refused".into())))
            .list(Ok((vec![], "5")))
            .watch(Err(Failure::Failed("busy".into())))
            .watch(Ok(vec![change(Change::Applied("x"), "6"), Err(Failure::Failed("reset".into()))]));
        let retry = Retry { base: Duration::from_secs(1), max: Duration::from_secs(30) };
        let mut events = run(api.clone(), retry);
        let events = take(&mut events, 2).await;
        assert_eq!(events, vec![Event::Restarted(vec![]), Event::Applied("x")]);
        take_next_call(&api, 6).await;
        assert_eq!(
            api.calls(),
            vec!["list", "list", "list", "watch 5", "watch 5", "watch 6"],
            "no re-list after plain failures"
        );
        let calls = api.calls.lock().clone();
        let gaps: Vec<u64> = calls.windows(2).map(|w| (w[1].1 - w[0].1).as_secs()).collect();
        assert_eq!(gaps, vec![1, 2, 0, 1, 1], "1 s, 2 s, reset by the list, 1 s, reset by the watch");
    }

    /// Lets the watcher's task run until the API has seen `n` calls.
    async fn take_next_call(api: &Script, n: usize) {
        for _ in 0..1000 {
            if api.calls.lock().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
