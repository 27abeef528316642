//! Watchers: history replay, then live events, with an honest slow-consumer policy.
//!
//! Mirrors etcd `server/storage/mvcc/watchable_store.go` and `watcher_group.go`. A watcher is in
//! one of two groups:
//!
//! - **synced**: it has seen everything up to the published revision; the committer hands it the
//!   events of each new revision as they are published ([`WatchHub::notify`], one response per
//!   revision, never blocking: `try_send`).
//! - **catching up** (etcd's "unsynced"): it wants revisions that are already history. A task of
//!   its own reads them from disk in chunks, sends them (waiting for the client as long as it
//!   takes), and moves the watcher to the synced group once nothing is left to read.
//!
//! A synced watcher whose client is too slow (its stream's channel is full) does not block the
//! store and is not cut off: it goes back to catching up from the first revision it missed,
//! reading from disk at its own pace. If compaction removes that history before it gets there,
//! it is canceled with `compact_revision` set, exactly as a watch that starts too far back, and
//! the client (the API server) re-lists. etcd does the same through its "victims" list.
//!
//! No gap, no duplicate: the hub's lock covers both the published revision and the synced
//! group. A catching-up watcher joins the synced group only under that lock, and only if the
//! published revision is below the next revision it wants; otherwise it reads again.
//!
//! Left out: etcd's interval tree over watched ranges (a scan of the synced watchers per
//! revision is cheap at the scale of one API server's watches).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prost::Message;
use skiff_proto::etcdserverpb::WatchResponse;
use skiff_proto::mvccpb::{event::EventType, Event, KeyValue};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::apply::RevisionEvents;
use crate::backend::Record;
use crate::error::StoreError;
use crate::key_range::KeyRange;
use crate::store::Shared;
use crate::validate::MAX_GRPC_MESSAGE_BYTES;

/// The most revisions one catch-up response carries (etcd's `watchBatchMaxRevs`).
const MAX_REVISIONS_PER_CATCH_UP: i64 = 1000;

/// Where a watcher's responses go: the response stream of its gRPC call, shared by every watch
/// of that stream.
pub type WatchSender = mpsc::Sender<Result<WatchResponse, Status>>;

/// What a client asked to watch.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    pub watch_id: i64,
    pub keys: KeyRange,
    pub no_put: bool,
    pub no_delete: bool,
    pub prev_kv: bool,
    pub progress_notify: bool,
    pub fragment: bool,
}

impl WatchSpec {
    /// The events of `events` this watcher wants.
    fn select(&self, events: &[Event]) -> Vec<Event> {
        events
            .iter()
            .filter(|e| e.kv.as_ref().is_some_and(|kv| self.keys.contains(&kv.key)))
            .filter(|e| {
                let put = e.r#type == EventType::Put as i32;
                !(put && self.no_put || !put && self.no_delete)
            })
            .map(|e| {
                let mut e = e.clone();
                if !self.prev_kv {
                    e.prev_kv = None;
                }
                e
            })
            .collect()
    }
}

/// A registered watcher.
pub struct Watcher {
    pub spec: Arc<WatchSpec>,
    /// The next revision it wants.
    pub next_rev: i64,
    pub tx: WatchSender,
    /// Canceled when the client cancels the watch or goes away.
    pub cancel: CancellationToken,
    /// Whether a response went out since the last progress tick.
    sent_since_tick: bool,
}

impl Watcher {
    pub fn new(spec: WatchSpec, next_rev: i64, tx: WatchSender, cancel: CancellationToken) -> Self {
        Watcher { spec: Arc::new(spec), next_rev, tx, cancel, sent_since_tick: false }
    }
}

/// Identifies a watcher in the hub (watch ids are only unique per stream).
pub type WatcherKey = u64;

struct HubState {
    /// The last revision published to the synced group.
    published: i64,
    synced: HashMap<WatcherKey, Watcher>,
    catching_up: usize,
    next_key: WatcherKey,
}

/// Every watcher of the store.
pub struct WatchHub {
    state: Mutex<HubState>,
    /// To start catch-up tasks from the committer thread, which has no runtime of its own.
    runtime: tokio::runtime::Handle,
}

/// Counts of watchers, for metrics.
pub struct WatcherCounts {
    pub synced: usize,
    pub catching_up: usize,
}

impl WatchHub {
    pub fn new(published: i64, runtime: tokio::runtime::Handle) -> Self {
        WatchHub {
            state: Mutex::new(HubState { published, synced: HashMap::new(), catching_up: 0, next_key: 0 }),
            runtime,
        }
    }

    pub fn counts(&self) -> WatcherCounts {
        let state = self.state.lock();
        WatcherCounts { synced: state.synced.len(), catching_up: state.catching_up }
    }

    /// Adds a watcher: straight to the synced group if it wants only future revisions,
    /// otherwise to a catch-up task. Returns its key, for [`WatchHub::remove`].
    pub fn add(&self, shared: &Arc<Shared>, watcher: Watcher) -> WatcherKey {
        let mut state = self.state.lock();
        let key = state.next_key;
        state.next_key += 1;
        if watcher.next_rev > state.published {
            state.synced.insert(key, watcher);
        } else {
            state.catching_up += 1;
            self.runtime.spawn(catch_up(shared.clone(), key, watcher));
        }
        key
    }

    /// Removes a synced watcher. (A catching-up one stops by its cancel token.)
    pub fn remove(&self, key: WatcherKey) {
        self.state.lock().synced.remove(&key);
    }

    /// Publishes the events of newly durable revisions to the synced watchers. Called by the
    /// committer, in revision order, after `Shared::current` has moved to `published`.
    pub fn notify(&self, shared: &Arc<Shared>, batch: &mut [RevisionEvents], published: i64) {
        let mut state = self.state.lock();
        state.published = published;
        let mut demoted = Vec::new();
        for rev_events in batch {
            let revision = rev_events.revision;
            let wants_prev = move |w: &Watcher| w.spec.prev_kv && revision >= w.next_rev;
            if !rev_events.unread_prev.is_empty() && state.synced.values().any(wants_prev) {
                if let Err(err) = read_prev_kvs(shared, rev_events) {
                    // They would get events without prev_kv: they catch up from disk instead,
                    // where a lasting read error ends them.
                    tracing::error!(cause = %err, revision, "cannot read prev_kv for watchers");
                    for (key, w) in state.synced.iter() {
                        if wants_prev(w) && !demoted.contains(key) {
                            demoted.push(*key);
                        }
                    }
                }
            }
            for (key, w) in state.synced.iter_mut() {
                // A demoted watcher gets nothing more here, or it would see a later revision
                // before the one it missed; its catch-up resends from `next_rev`.
                if rev_events.revision < w.next_rev || demoted.contains(key) {
                    continue;
                }
                let events = w.spec.select(&rev_events.events);
                if events.is_empty() {
                    w.next_rev = rev_events.revision + 1;
                    continue;
                }
                let response = WatchResponse {
                    header: shared.ids.header(rev_events.revision),
                    watch_id: w.spec.watch_id,
                    events,
                    ..Default::default()
                };
                if w.spec.fragment && response.encoded_len() >= MAX_GRPC_MESSAGE_BYTES {
                    // Fragments are sent by the catch-up path, which may wait for the client.
                    demoted.push(*key);
                    continue;
                }
                match w.tx.try_send(Ok(response)) {
                    Ok(()) => {
                        w.next_rev = rev_events.revision + 1;
                        w.sent_since_tick = true;
                    }
                    Err(TrySendError::Full(_)) => demoted.push(*key),
                    Err(TrySendError::Closed(_)) => w.cancel.cancel(),
                }
            }
        }
        state.synced.retain(|_, w| !w.cancel.is_cancelled());
        for key in demoted {
            if let Some(w) = state.synced.remove(&key) {
                tracing::debug!(
                    watch_id = w.spec.watch_id,
                    from = w.next_rev,
                    "slow watcher falls back to catching up"
                );
                state.catching_up += 1;
                self.runtime.spawn(catch_up(shared.clone(), key, w));
            }
        }
    }

    /// Sends an empty response (the current revision in its header) to each synced watcher that
    /// asked for progress notifications and got nothing since the last tick.
    pub fn progress_tick(&self, shared: &Shared) {
        let mut state = self.state.lock();
        let published = state.published;
        for w in state.synced.values_mut() {
            if w.spec.progress_notify && !w.sent_since_tick {
                let response = WatchResponse {
                    header: shared.ids.header(published),
                    watch_id: w.spec.watch_id,
                    ..Default::default()
                };
                let _ = w.tx.try_send(Ok(response));
            }
            w.sent_since_tick = false;
        }
    }

    /// Moves a caught-up watcher into the synced group, unless more was published meanwhile
    /// (then it is handed back) or it was canceled (then it is dropped).
    fn try_join_synced(&self, key: WatcherKey, w: Watcher) -> Option<Watcher> {
        let mut state = self.state.lock();
        if w.cancel.is_cancelled() {
            state.catching_up -= 1;
            return None;
        }
        if state.published < w.next_rev {
            state.catching_up -= 1;
            state.synced.insert(key, w);
            return None;
        }
        Some(w)
    }

    fn catch_up_ended(&self) {
        self.state.lock().catching_up -= 1;
    }
}

/// Fills in the `prev_kv` of the puts of one revision that left it unread (`apply.rs`). Called
/// only when a synced watcher wants it, once per revision however many watchers do.
fn read_prev_kvs(shared: &Shared, rev_events: &mut RevisionEvents) -> Result<(), StoreError> {
    for (at, rev) in std::mem::take(&mut rev_events.unread_prev) {
        rev_events.events[at].prev_kv = Some(shared.backend.get_put(rev)?);
    }
    Ok(())
}

/// What one read of history found.
enum Chunk {
    /// Events of revisions up to `last`, and the revision published when they were read.
    Events { events: Vec<Event>, last: i64, published: i64 },
    /// Nothing left to read.
    CaughtUp,
    /// The history the watcher wants is gone.
    Compacted(i64),
}

/// Reads the next chunk of history for a watcher, under the index lock so that compaction
/// cannot remove records while they are read.
fn read_history(shared: &Shared, spec: &WatchSpec, next_rev: i64) -> Result<Chunk, StoreError> {
    let index = shared.index.read();
    if next_rev < index.compacted() {
        return Ok(Chunk::Compacted(index.compacted()));
    }
    let published = shared.current_revision();
    if next_rev > published {
        return Ok(Chunk::CaughtUp);
    }
    let last = published.min(next_rev + MAX_REVISIONS_PER_CATCH_UP - 1);
    let mut events = Vec::new();
    for item in shared.backend.history(next_rev, last) {
        let (rev, record) = item?;
        if !spec.keys.contains(record.key()) {
            continue;
        }
        let event = match record {
            Record::Put(kv) if !spec.no_put => Event { r#type: EventType::Put as i32, kv: Some(kv), prev_kv: None },
            Record::Delete { key } if !spec.no_delete => Event {
                r#type: EventType::Delete as i32,
                kv: Some(KeyValue { key, mod_revision: rev.main, ..Default::default() }),
                prev_kv: None,
            },
            _ => continue,
        };
        events.push(event);
    }
    if spec.prev_kv {
        for event in &mut events {
            let kv = event.kv.as_ref().expect("history events carry their key");
            if let Some(live) = index.get(&kv.key, kv.mod_revision - 1) {
                if let Some(Record::Put(prev)) = shared.backend.get(live.rev)? {
                    event.prev_kv = Some(prev);
                }
            }
        }
    }
    Ok(Chunk::Events { events, last, published })
}

/// Splits a response whose events would exceed the message limit into fragments, each marked
/// `fragment` but the last, for clients that asked for it.
fn fragments(response: WatchResponse, limit: usize) -> Vec<WatchResponse> {
    if response.events.len() < 2 || response.encoded_len() < limit {
        return vec![response];
    }
    let mut pieces = Vec::new();
    let mut current = WatchResponse { events: vec![], ..response.clone() };
    for event in response.events {
        if !current.events.is_empty() && current.encoded_len() + event.encoded_len() + 8 > limit {
            let next = WatchResponse { events: vec![], ..current.clone() };
            pieces.push(std::mem::replace(&mut current, next));
        }
        current.events.push(event);
    }
    pieces.push(current);
    let count = pieces.len();
    for (i, piece) in pieces.iter_mut().enumerate() {
        piece.fragment = i + 1 < count;
    }
    pieces
}

/// The catch-up task of one watcher: replay history, then join the synced group.
async fn catch_up(shared: Arc<Shared>, key: WatcherKey, mut w: Watcher) {
    loop {
        if w.cancel.is_cancelled() {
            shared.hub.catch_up_ended();
            return;
        }
        let chunk = match read_history(&shared, &w.spec, w.next_rev) {
            Ok(chunk) => chunk,
            Err(err) => {
                tracing::error!(cause = %err, watch_id = w.spec.watch_id, "watch history read failed");
                let response = WatchResponse {
                    header: shared.ids.header(shared.current_revision()),
                    watch_id: w.spec.watch_id,
                    canceled: true,
                    cancel_reason: err.to_string(),
                    ..Default::default()
                };
                let _ = w.tx.send(Ok(response)).await;
                shared.hub.catch_up_ended();
                return;
            }
        };
        match chunk {
            Chunk::Compacted(compacted) => {
                // etcd sends this one with revision 0 in its header.
                let response = WatchResponse {
                    header: shared.ids.header(0),
                    watch_id: w.spec.watch_id,
                    canceled: true,
                    compact_revision: compacted,
                    ..Default::default()
                };
                let _ = w.tx.send(Ok(response)).await;
                shared.hub.catch_up_ended();
                return;
            }
            Chunk::Events { events, last, published } => {
                if !events.is_empty() {
                    let response = WatchResponse {
                        header: shared.ids.header(published),
                        watch_id: w.spec.watch_id,
                        events,
                        ..Default::default()
                    };
                    let limit = if w.spec.fragment { MAX_GRPC_MESSAGE_BYTES } else { usize::MAX };
                    for piece in fragments(response, limit) {
                        tokio::select! {
                            sent = w.tx.send(Ok(piece)) => if sent.is_err() {
                                shared.hub.catch_up_ended();
                                return;
                            },
                            _ = w.cancel.cancelled() => {
                                shared.hub.catch_up_ended();
                                return;
                            }
                        }
                    }
                    w.sent_since_tick = true;
                }
                w.next_rev = last + 1;
            }
            Chunk::CaughtUp => match shared.hub.try_join_synced(key, w) {
                None => return,
                Some(back) => w = back,
            },
        }
    }
}

/// Ticks progress notifications every `interval` until `shutdown`.
pub async fn progress_loop(shared: Arc<Shared>, interval: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => shared.hub.progress_tick(&shared),
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &'static str, put: bool) -> Event {
        Event {
            r#type: if put { EventType::Put as i32 } else { EventType::Delete as i32 },
            kv: Some(KeyValue { key: key.into(), value: vec![0u8; 100].into(), ..Default::default() }),
            prev_kv: Some(KeyValue { key: key.into(), ..Default::default() }),
        }
    }

    fn spec(keys: KeyRange) -> WatchSpec {
        WatchSpec {
            watch_id: 1,
            keys,
            no_put: false,
            no_delete: false,
            prev_kv: false,
            progress_notify: false,
            fragment: false,
        }
    }

    #[test]
    fn watchers_select_their_keys_and_kinds() {
        let events = vec![event("a", true), event("b", false), event("c", true)];
        let keys = |evs: Vec<Event>| -> Vec<String> {
            evs.iter().map(|e| String::from_utf8_lossy(&e.kv.as_ref().unwrap().key).into_owned()).collect()
        };
        let all = spec(KeyRange::From("a".into()));
        assert_eq!(keys(all.select(&events)), vec!["a", "b", "c"]);
        assert!(all.select(&events).iter().all(|e| e.prev_kv.is_none()), "prev_kv only when asked");
        let one = spec(KeyRange::Single("b".into()));
        assert_eq!(keys(one.select(&events)), vec!["b"]);
        let no_put = WatchSpec { no_put: true, ..all.clone() };
        assert_eq!(keys(no_put.select(&events)), vec!["b"]);
        let no_delete = WatchSpec { no_delete: true, prev_kv: true, ..all.clone() };
        let selected = no_delete.select(&events);
        assert_eq!(keys(selected.clone()), vec!["a", "c"]);
        assert!(selected[0].prev_kv.is_some());
    }

    #[test]
    fn large_responses_split_into_fragments() {
        let response =
            WatchResponse { watch_id: 3, events: (0..10).map(|_| event("k", true)).collect(), ..Default::default() };
        let one_event = response.events[0].encoded_len();
        let pieces = fragments(response.clone(), one_event * 3 + 20);
        assert!(pieces.len() > 1);
        assert_eq!(pieces.iter().map(|p| p.events.len()).sum::<usize>(), 10);
        assert!(pieces[..pieces.len() - 1].iter().all(|p| p.fragment));
        assert!(!pieces.last().unwrap().fragment);
        assert!(pieces.iter().all(|p| p.watch_id == 3));
        assert_eq!(fragments(response, usize::MAX).len(), 1, "small enough: one piece");
    }
}
