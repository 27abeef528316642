//! The watch cache: one store watch per kind, fanned out in memory to every client's watch.
//!
//! Mirrors kube-apiserver's cacher (`staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go`,
//! `watch_cache.go`, `cache_watcher.go`), so that a thousand watchers cost the store nothing:
//!
//! 1. **Feed.** At start, each kind's objects are listed at revision `R`, then watched from
//!    `R + 1`. Every change updates the kind's current objects and is appended to a bounded
//!    history of recent events.
//! 2. **Subscribe.** A watch from "now" first gets the current objects (the synthetic `ADDED`
//!    events); a watch from resourceVersion `N` gets the history after `N`. Both then get live
//!    events. Taking the snapshot and registering for live events happen under one lock, so
//!    nothing falls in between and nothing comes twice.
//! 3. **Too old.** A resourceVersion older than the history is refused with `410 Expired` and
//!    the client lists again, exactly as when etcd has compacted it.
//! 4. **Selectors.** Each watcher filters by namespace, labels and fields. An object that
//!    *starts* matching (a pod bound to the watcher's node) arrives as `ADDED`; one that *stops*
//!    matching arrives as `DELETED` — as Kubernetes does, so a cache fed by a filtered watch
//!    stays exact.
//! 5. **Slow consumers are cut off.** Each watcher has a bounded queue; a watcher whose queue is
//!    full is dropped (its stream ends), never waited for, so one stuck client cannot hold up
//!    the others or grow memory. It watches again from its last resourceVersion, or lists
//!    again if that is too old. Kubernetes' cacher does the same after a short grace.
//! 6. **A lost feed** (the store watch failed) ends every watcher of the kind: the cache lists
//!    again and its history restarts there.
//!
//! Objects are kept as their JSON bytes (resourceVersion stamped in) plus their labels and
//! selectable fields, not as parsed JSON trees: a tree costs several times its text, and a
//! watch sends text. Nor is a tree built on the way in: the resourceVersion is spliced into
//! the stored bytes (`stamp.rs`) and only the fields selectors look at are read out of them
//! (`sparse.rs`).
//!
//! A write of this API server's own need not even be read: it has the object's tree and the
//! bytes it is about to store in hand, so before it sends them it *offers* the cache what the
//! entry would hold ([`WatchCaches::offer`]: name, namespace, labels and fields read off the
//! tree, and where the resourceVersion goes in the bytes). When the store's event for that
//! key arrives with exactly those bytes, the feed takes the offer instead of scanning them:
//! equal bytes have equal fields, whoever wrote them, so the shortcut cannot make an entry
//! differ from the one the scan would make. A write that fails, or whose request is given up
//! before the store answers, takes its offer back as it drops it ([`PendingOffer`]); a relist
//! drops them all. This is Skiff's own shortcut (Kubernetes' cacher decodes every event),
//! worth about 8% of a create's instructions (`bench/README.md`).
//!
//! Left out: serving lists from the cache (lists read the store, which is always consistent),
//! and the cacher's dynamic history sizing.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;
use skiff_api::registry::{Resource, RESOURCES};
use skiff_api::selector::{FieldSelector, LabelSelector};
use skiff_api::status::Status;
use skiff_store::client::{StoreClient, WatchEvent, WatchMessage};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::storage::ObjectStore;

/// Events kept per kind for watches that start in the past.
const HISTORY: usize = 10_000;
/// Events queued per watcher before it counts as too slow.
const WATCHER_QUEUE: usize = 1_000;
/// Pause before listing again after the feed failed.
const REFEED_DELAY: Duration = Duration::from_millis(500);
/// Offers held per kind at most (writes whose events the feed has not seen yet): a bound for
/// the case where the feed is stuck, far above what is ever in flight.
const MAX_OFFERED: usize = 4_096;

/// What a write offers the cache for its object (see the module doc).
struct Offer {
    /// Tells this offer from a later one for the same key, so that a failed write withdraws
    /// only its own.
    token: u64,
    /// The bytes the write stores, and where their resourceVersion goes.
    stored: crate::stamp::Encoded,
    namespace: Option<String>,
    name: String,
    labels: BTreeMap<String, String>,
    fields: Vec<(&'static str, String)>,
}

/// A write's offer while the write is in flight. Dropped, it takes the offer back (the write
/// failed, or its request was given up before the store answered); [`PendingOffer::stored`]
/// leaves it for the feed. It takes back only its own offer: a later write to the same key may
/// have offered since.
pub struct PendingOffer {
    cache: Arc<KindCache>,
    key: Bytes,
    token: u64,
    armed: bool,
}

impl PendingOffer {
    /// The store took the write: the feed will take the offer with the write's event.
    pub fn stored(mut self) {
        self.armed = false;
    }
}

impl Drop for PendingOffer {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.cache.state.lock();
        if state.offered.get(&self.key).is_some_and(|offer| offer.token == self.token) {
            state.offered.remove(&self.key);
        }
    }
}

/// One object as the cache keeps it.
#[derive(Debug)]
pub struct Cached {
    pub namespace: Option<String>,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The values of the fields a field selector may name (`skiff_api::fields`).
    pub fields: Vec<(&'static str, String)>,
    /// The object's JSON, with `resourceVersion` set.
    pub json: Bytes,
    pub revision: i64,
}

impl Cached {
    /// Reads a stored object (JSON without resourceVersion) as of `revision`: its bytes with
    /// the resourceVersion spliced in (`stamp.rs`), and only the parts selectors look at
    /// (`wanted`, see [`KindCache::wanted`]) read out of them (`sparse.rs`), never a whole tree.
    fn new(resource: &Resource, wanted: &[Vec<&str>], stored: &[u8], revision: i64) -> Option<Cached> {
        let (json, parts) = crate::stamp::stamp_and_read(stored, revision, wanted).ok()?;
        Some(Cached::from_parts(resource, &parts, Bytes::from(json), revision))
    }

    /// An object of which `parts` holds at least its name, namespace, labels and selectable
    /// fields, and `json` is the whole.
    fn from_parts(resource: &Resource, parts: &Value, json: Bytes, revision: i64) -> Cached {
        let (namespace, name, labels, fields) = read_parts(resource, parts);
        Cached { namespace, name, labels, fields, json, revision }
    }

    /// The entry `offer` describes, for its bytes stored at `revision`.
    fn from_offer(offer: Offer, revision: i64) -> Option<Cached> {
        let json = Bytes::from(offer.stored.stamped(revision).ok()?);
        let Offer { namespace, name, labels, fields, .. } = offer;
        Some(Cached { namespace, name, labels, fields, json, revision })
    }

    /// The same object with another resourceVersion (a deletion's, for `DELETED` events).
    fn restamped(&self, revision: i64) -> Cached {
        Cached {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            labels: self.labels.clone(),
            fields: self.fields.clone(),
            json: Bytes::from(crate::stamp::stamp(&self.json, revision).expect("the cache holds JSON")),
            revision,
        }
    }

    /// The object parsed (for Tables).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).expect("the cache holds JSON")
    }
}

/// Namespace, name, labels and selectable fields of an object of which `parts` holds at least
/// those.
type Parts = (Option<String>, String, BTreeMap<String, String>, Vec<(&'static str, String)>);

fn read_parts(resource: &Resource, parts: &Value) -> Parts {
    let meta = &parts["metadata"];
    let labels = meta["labels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    (
        meta["namespace"].as_str().map(str::to_string),
        meta["name"].as_str().unwrap_or_default().to_string(),
        labels,
        skiff_api::fields::selectable(resource, parts),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// What a watcher receives.
#[derive(Debug, Clone)]
pub enum WatchItem {
    Event(EventType, Arc<Cached>),
    /// Nothing the watcher sees changed up to this revision.
    Bookmark(i64),
}

/// What a watcher selects.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    fn matches(&self, object: &Cached) -> bool {
        if self.namespace.as_ref().is_some_and(|ns| object.namespace.as_ref() != Some(ns)) {
            return false;
        }
        self.labels.matches(&object.labels)
            && self.fields.matches(|f| object.fields.iter().find(|(name, _)| *name == f).map(|(_, v)| v.clone()))
    }
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// With the current objects as `ADDED` events.
    Now,
    /// With every change after this resourceVersion.
    After(i64),
}

/// A watch: what happened before it was registered, then a stream of live items. The stream
/// ends when the watcher is cut off (too slow) or the cache restarts.
pub struct Subscription {
    pub initial: Vec<WatchItem>,
    pub live: mpsc::Receiver<WatchItem>,
    /// The cache's revision when the watch began.
    pub revision: i64,
}

/// One change, as the history keeps it.
#[derive(Debug, Clone)]
struct Change {
    revision: i64,
    /// The object before (none for a creation).
    before: Option<Arc<Cached>>,
    /// The object after (none for a deletion).
    after: Option<Arc<Cached>>,
}

struct Watcher {
    filter: Filter,
    /// Changes at or below this revision were already seen (the watch started after them).
    seen: i64,
    queue: mpsc::Sender<WatchItem>,
}

/// What a watcher makes of one change, given what it selects.
fn view(change: &Change, filter: &Filter) -> Option<WatchItem> {
    let before = change.before.as_ref().filter(|o| filter.matches(o));
    let after = change.after.as_ref().filter(|o| filter.matches(o));
    match (before, after) {
        (None, Some(after)) => Some(WatchItem::Event(EventType::Added, after.clone())),
        (Some(_), Some(after)) => Some(WatchItem::Event(EventType::Modified, after.clone())),
        // Deleted, or no longer selected: its last state, at the change's revision.
        (Some(before), None) => Some(WatchItem::Event(EventType::Deleted, Arc::new(before.restamped(change.revision)))),
        (None, None) => None,
    }
}

/// One kind's cache.
struct KindCache {
    resource: &'static Resource,
    /// The paths of an object the cache reads besides its bytes: name, namespace, labels and
    /// the kind's selectable fields (`skiff_api::fields::paths`).
    wanted: Vec<Vec<&'static str>>,
    state: Mutex<State>,
    /// True once the first list is in.
    ready: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    /// The objects now, by `namespace/name`.
    objects: HashMap<(Option<String>, String), Arc<Cached>>,
    history: VecDeque<Change>,
    /// The history holds every change after this revision.
    oldest: i64,
    /// The cache is current up to this revision.
    revision: i64,
    watchers: Vec<Watcher>,
    /// What this API server's writes in flight offered, by store key (module doc).
    offered: HashMap<Bytes, Offer>,
    /// The last offer's token.
    offers: u64,
}

impl State {
    /// Hands `item` to the watchers that want it; drops those that cannot keep up.
    fn broadcast(&mut self, change: &Change) {
        self.watchers.retain(|watcher| {
            if change.revision <= watcher.seen {
                return true;
            }
            match view(change, &watcher.filter) {
                Some(item) => watcher.queue.try_send(item).is_ok(),
                None => !watcher.queue.is_closed(),
            }
        });
    }

    fn apply(&mut self, change: Change) {
        let key = |o: &Cached| (o.namespace.clone(), o.name.clone());
        match &change.after {
            Some(after) => {
                self.objects.insert(key(after), after.clone());
            }
            None => {
                if let Some(before) = &change.before {
                    self.objects.remove(&key(before));
                }
            }
        }
        self.revision = self.revision.max(change.revision);
        self.broadcast(&change);
        self.history.push_back(change);
        while self.history.len() > HISTORY {
            if let Some(dropped) = self.history.pop_front() {
                self.oldest = dropped.revision;
            }
        }
    }
}

impl KindCache {
    fn new(resource: &'static Resource, ready: watch::Sender<bool>) -> KindCache {
        let mut wanted = skiff_api::fields::paths(resource);
        wanted.push(vec!["metadata", "labels"]);
        KindCache { resource, wanted, state: Mutex::new(State::default()), ready }
    }

    fn subscribe(&self, filter: Filter, start: Start) -> Result<Subscription, Status> {
        let mut state = self.state.lock();
        let (queue, live) = mpsc::channel(WATCHER_QUEUE);
        let (initial, seen) = match start {
            Start::Now => {
                let mut objects: Vec<&Arc<Cached>> = state.objects.values().filter(|o| filter.matches(o)).collect();
                objects.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
                let added = objects.into_iter().map(|o| WatchItem::Event(EventType::Added, o.clone())).collect();
                (added, state.revision)
            }
            Start::After(revision) if revision < state.oldest => {
                return Err(Status::expired(revision, state.oldest + 1));
            }
            Start::After(revision) => {
                let replay =
                    state.history.iter().filter(|c| c.revision > revision).filter_map(|c| view(c, &filter)).collect();
                // A watch may start ahead of the cache (from a list read just now): what the
                // cache has yet to see up to `revision`, the client has seen.
                (replay, revision.max(state.revision))
            }
        };
        let revision = state.revision;
        state.watchers.push(Watcher { filter, seen, queue });
        Ok(Subscription { initial, live, revision })
    }

    /// Lists, then follows the store until the watch fails; returns why it stopped.
    async fn feed(&self, client: &StoreClient) -> Result<(), String> {
        let prefix = ObjectStore::prefix(self.resource, None);
        let listed = client.clone().list(prefix.as_bytes(), 0, 0).await.map_err(|e| e.to_string())?;
        {
            let mut state = self.state.lock();
            // Watchers of the last feed cannot know what they missed: they start over.
            state.watchers.clear();
            state.history.clear();
            state.objects = listed
                .kvs
                .iter()
                .filter_map(|kv| Cached::new(self.resource, &self.wanted, &kv.value, kv.mod_revision))
                .map(|o| ((o.namespace.clone(), o.name.clone()), Arc::new(o)))
                .collect();
            state.oldest = listed.revision;
            state.revision = listed.revision;
            // Writes in flight across a relist are read from their events like any other.
            state.offered.clear();
        }
        self.ready.send_replace(true);
        let mut watch =
            client.clone().watch_prefix(prefix.as_bytes(), listed.revision + 1).await.map_err(|e| e.to_string())?;
        loop {
            match watch.next().await.map_err(|e| e.to_string())? {
                WatchMessage::Events { events, .. } => {
                    let mut state = self.state.lock();
                    for event in events {
                        let change = self.change(&mut state, event);
                        state.apply(change);
                    }
                }
                WatchMessage::Progress { revision } => {
                    let mut state = self.state.lock();
                    state.revision = state.revision.max(revision);
                    state.watchers.retain(|w| w.queue.try_send(WatchItem::Bookmark(revision)).is_ok());
                }
            }
        }
    }

    /// The `(namespace, name)` a store key holds: `<prefix><namespace>/<name>` or `<prefix><name>`.
    fn id_of(&self, key: &[u8]) -> Option<(Option<String>, String)> {
        let prefix = ObjectStore::prefix(self.resource, None);
        let rest = std::str::from_utf8(key).ok()?.strip_prefix(&prefix)?;
        Some(match rest.split_once('/') {
            Some((namespace, name)) if self.resource.namespaced => (Some(namespace.to_string()), name.to_string()),
            _ => (None, rest.to_string()),
        })
    }

    /// A store event as a change of the cache (the object before comes from the cache; the
    /// object after from the write's offer, if it made one).
    fn change(&self, state: &mut State, event: WatchEvent) -> Change {
        match event {
            WatchEvent::Put { kv, .. } => {
                let offered = match state.offered.get(&kv.key) {
                    Some(offer) if offer.stored.json == kv.value => state.offered.remove(&kv.key),
                    _ => None,
                };
                let after = match offered {
                    Some(offer) => Cached::from_offer(offer, kv.mod_revision),
                    None => Cached::new(self.resource, &self.wanted, &kv.value, kv.mod_revision),
                }
                .map(Arc::new);
                let before =
                    after.as_ref().and_then(|a| state.objects.get(&(a.namespace.clone(), a.name.clone()))).cloned();
                Change { revision: kv.mod_revision, before, after }
            }
            WatchEvent::Delete { key, revision, .. } => {
                let before = self.id_of(&key).and_then(|id| state.objects.get(&id).cloned());
                Change { revision, before, after: None }
            }
        }
    }
}

/// The caches of every kind.
#[derive(Clone)]
pub struct WatchCaches {
    kinds: Arc<HashMap<(&'static str, &'static str), Arc<KindCache>>>,
}

impl WatchCaches {
    /// Starts one cache per kind, fed from the store until `shutdown`.
    pub fn start(client: StoreClient, shutdown: CancellationToken) -> WatchCaches {
        let mut kinds = HashMap::new();
        for resource in RESOURCES {
            let (ready, _) = watch::channel(false);
            let cache = Arc::new(KindCache::new(resource, ready));
            kinds.insert((resource.group, resource.plural), cache.clone());
            let (client, shutdown) = (client.clone(), shutdown.clone());
            tokio::spawn(async move {
                loop {
                    let stopped = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        stopped = cache.feed(&client) => stopped,
                    };
                    if let Err(cause) = stopped {
                        tracing::warn!(resource = cache.resource.plural, %cause, "watch cache feed lost; listing again");
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(REFEED_DELAY) => {}
                    }
                }
            });
        }
        WatchCaches { kinds: Arc::new(kinds) }
    }

    /// Watches `resource`'s objects that `filter` selects, from `start`.
    pub async fn watch(&self, resource: &Resource, filter: Filter, start: Start) -> Result<Subscription, Status> {
        let cache = self
            .kinds
            .get(&(resource.group, resource.plural))
            .ok_or_else(|| Status::internal(format!("no watch cache for {}", resource.plural)))?;
        let mut ready = cache.ready.subscribe();
        ready.wait_for(|r| *r).await.map_err(|_| Status::internal("the watch cache stopped"))?;
        cache.subscribe(filter, start)
    }

    /// The cached object `name`, once the kind's first list is in; `None` if the cache does not
    /// hold it (yet). The cache trails the store by the feed's latency: a caller that must see
    /// its own fresh writes asks the store when this says `None`.
    pub fn get(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> Option<Arc<Cached>> {
        let cache = self.kinds.get(&(resource.group, resource.plural))?;
        if !*cache.ready.borrow() {
            return None;
        }
        let key = (namespace.map(str::to_string), name.to_string());
        cache.state.lock().objects.get(&key).cloned()
    }

    /// Offers the cache the entry for `object`, which this API server is about to store under
    /// `key` as `stored`: the feed takes it if the store's next event for `key` carries exactly
    /// those bytes (see the module doc). Call it before the write is sent, and keep what it
    /// returns until the store has answered.
    pub fn offer(
        &self,
        resource: &Resource,
        key: &str,
        object: &Value,
        stored: &crate::stamp::Encoded,
    ) -> Option<PendingOffer> {
        let cache = self.kinds.get(&(resource.group, resource.plural))?;
        let (namespace, name, labels, fields) = read_parts(cache.resource, object);
        let key = Bytes::copy_from_slice(key.as_bytes());
        let mut state = cache.state.lock();
        if state.offered.len() >= MAX_OFFERED {
            return None;
        }
        state.offers += 1;
        let token = state.offers;
        let offer = Offer { token, stored: stored.clone(), namespace, name, labels, fields };
        state.offered.insert(key.clone(), offer);
        Some(PendingOffer { cache: cache.clone(), key, token, armed: true })
    }

    /// Objects and watchers held, per kind (for metrics).
    pub fn sizes(&self) -> Vec<(&'static str, usize, usize)> {
        self.kinds
            .values()
            .map(|c| {
                let state = c.state.lock();
                (c.resource.plural, state.objects.len(), state.watchers.len())
            })
            .collect()
    }
}

/// Caches that hold `objects` of `resource` (stored bytes and their revisions) and follow no
/// store: for tests of what reads them, where the copy must be older than the store on purpose.
#[cfg(test)]
pub(crate) fn holding(resource: &'static Resource, objects: &[(&[u8], i64)]) -> WatchCaches {
    let (ready, _) = watch::channel(true);
    let cache = KindCache::new(resource, ready);
    {
        let mut state = cache.state.lock();
        for (bytes, revision) in objects {
            let object = Cached::new(resource, &cache.wanted, bytes, *revision).expect("stored JSON");
            state.objects.insert((object.namespace.clone(), object.name.clone()), Arc::new(object));
        }
    }
    of_one(Arc::new(cache))
}

/// Caches of the one kind `cache` holds (tests).
#[cfg(test)]
fn of_one(cache: Arc<KindCache>) -> WatchCaches {
    let kinds = HashMap::from([((cache.resource.group, cache.resource.plural), cache)]);
    WatchCaches { kinds: Arc::new(kinds) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use skiff_api::registry::by_plural;

    fn pods() -> &'static Resource {
        by_plural("", "v1", "pods").unwrap()
    }

    fn pod(name: &str, node: &str, revision: i64) -> Arc<Cached> {
        let object = json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": "web"},
                                          "resourceVersion": revision.to_string()},
                            "spec": {"nodeName": node}});
        Arc::new(Cached::from_parts(pods(), &object, Bytes::from(object.to_string()), revision))
    }

    fn on_node(node: &str) -> Filter {
        Filter { fields: FieldSelector::parse(&format!("spec.nodeName={node}")).unwrap(), ..Default::default() }
    }

    fn kind_of(item: Option<WatchItem>) -> Option<(EventType, String, i64)> {
        match item? {
            WatchItem::Event(kind, object) => Some((kind, object.name.clone(), object.revision)),
            WatchItem::Bookmark(_) => None,
        }
    }

    #[test]
    fn a_pod_bound_to_the_node_is_added_and_one_moved_away_is_deleted() {
        let bound = Change { revision: 5, before: Some(pod("web", "", 4)), after: Some(pod("web", "n1", 5)) };
        assert_eq!(kind_of(view(&bound, &on_node("n1"))), Some((EventType::Added, "web".into(), 5)));
        assert_eq!(kind_of(view(&bound, &on_node(""))), Some((EventType::Deleted, "web".into(), 5)));
        assert_eq!(kind_of(view(&bound, &on_node("n2"))), None);
        let updated = Change { revision: 6, before: Some(pod("web", "n1", 5)), after: Some(pod("web", "n1", 6)) };
        assert_eq!(kind_of(view(&updated, &on_node("n1"))), Some((EventType::Modified, "web".into(), 6)));
        let deleted = Change { revision: 7, before: Some(pod("web", "n1", 6)), after: None };
        // The deleted object carries the deletion's revision.
        assert_eq!(kind_of(view(&deleted, &Filter::default())), Some((EventType::Deleted, "web".into(), 7)));
    }

    #[test]
    fn a_stored_object_is_cached_as_its_whole_tree_would_be() {
        let stored = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                         "annotations": {"note": "x"}, "uid": "u"},
            "spec": {"nodeName": "n1", "hostNetwork": true, "containers": [{"name": "web", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.5"}});
        let cache = cache();
        let read = Cached::new(pods(), &cache.wanted, stored.to_string().as_bytes(), 12).unwrap();
        let mut whole = stored.clone();
        whole["metadata"]["resourceVersion"] = json!("12");
        let want = Cached::from_parts(pods(), &whole, Bytes::from(whole.to_string()), 12);
        assert_eq!(
            (&read.namespace, &read.name, &read.labels, &read.fields, &read.json, read.revision),
            (&want.namespace, &want.name, &want.labels, &want.fields, &want.json, want.revision)
        );
        let deleted = read.restamped(13);
        assert_eq!(deleted.value()["metadata"]["resourceVersion"], "13");
        assert_eq!((deleted.labels, deleted.fields), (read.labels, read.fields));
    }

    fn cache() -> KindCache {
        let (ready, _) = watch::channel(true);
        KindCache::new(pods(), ready)
    }

    #[test]
    fn a_watch_replays_history_after_its_revision_then_goes_live() {
        let cache = cache();
        for (revision, name) in [(2, "a"), (3, "b"), (4, "c")] {
            let change = Change { revision, before: None, after: Some(pod(name, "n1", revision)) };
            cache.state.lock().apply(change);
        }
        let mut watch = cache.subscribe(Filter::default(), Start::After(2)).unwrap();
        let replayed: Vec<_> = watch.initial.drain(..).map(|i| kind_of(Some(i)).unwrap().1).collect();
        assert_eq!(replayed, ["b", "c"]);
        cache.state.lock().apply(Change { revision: 5, before: None, after: Some(pod("d", "n1", 5)) });
        assert_eq!(kind_of(watch.live.try_recv().ok()), Some((EventType::Added, "d".into(), 5)));
    }

    #[test]
    fn a_watch_from_now_starts_with_the_objects_and_from_too_long_ago_is_expired() {
        let cache = cache();
        cache.state.lock().oldest = 10;
        cache.state.lock().apply(Change { revision: 11, before: None, after: Some(pod("a", "n1", 11)) });
        let watch = cache.subscribe(Filter::default(), Start::Now).unwrap();
        assert_eq!(watch.initial.len(), 1);
        assert_eq!(watch.revision, 11);
        let err = cache.subscribe(Filter::default(), Start::After(9)).err().unwrap();
        assert_eq!((err.code, err.reason), (410, "Expired"));
        assert!(cache.subscribe(Filter::default(), Start::After(10)).is_ok());
    }

    #[test]
    fn a_watch_ahead_of_the_cache_skips_what_it_has_seen() {
        let cache = cache();
        let mut watch = cache.subscribe(Filter::default(), Start::After(7)).unwrap();
        cache.state.lock().apply(Change { revision: 7, before: None, after: Some(pod("old", "n1", 7)) });
        cache.state.lock().apply(Change { revision: 8, before: None, after: Some(pod("new", "n1", 8)) });
        assert_eq!(kind_of(watch.live.try_recv().ok()), Some((EventType::Added, "new".into(), 8)));
        assert!(watch.live.try_recv().is_err());
    }

    #[test]
    fn a_watcher_that_cannot_keep_up_is_cut_off_and_the_others_go_on() {
        let cache = cache();
        let slow = cache.subscribe(Filter::default(), Start::Now).unwrap();
        let mut fast = cache.subscribe(Filter::default(), Start::Now).unwrap();
        for revision in 1..=(WATCHER_QUEUE as i64 + 1) {
            let change = Change { revision, before: None, after: Some(pod(&format!("p{revision}"), "n1", revision)) };
            cache.state.lock().apply(change);
            while fast.live.try_recv().is_ok() {}
        }
        assert_eq!(cache.state.lock().watchers.len(), 1, "the slow watcher is dropped");
        drop(slow);
        cache.state.lock().apply(Change { revision: 9999, before: None, after: Some(pod("z", "n1", 9999)) });
        assert_eq!(kind_of(fast.live.try_recv().ok()), Some((EventType::Added, "z".into(), 9999)));
    }

    fn caches_of(cache: KindCache) -> (WatchCaches, Arc<KindCache>) {
        let cache = Arc::new(cache);
        (of_one(cache.clone()), cache)
    }

    fn put(key: &str, value: &[u8], revision: i64) -> WatchEvent {
        let kv = skiff_proto::mvccpb::KeyValue {
            key: Bytes::copy_from_slice(key.as_bytes()),
            value: Bytes::copy_from_slice(value),
            mod_revision: revision,
            ..Default::default()
        };
        WatchEvent::Put { kv, prev: None }
    }

    #[test]
    fn a_write_s_offer_is_taken_only_for_its_own_bytes_and_gives_the_entry_a_scan_would() {
        const KEY: &str = "/registry/pods/default/web";
        let object = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "uid": "u"},
            "spec": {"nodeName": "n1"}, "status": {"phase": "Pending"}});
        let mut other = object.clone();
        other["spec"]["nodeName"] = json!("n2");
        let (mine, theirs) = (crate::stamp::encode(&object), crate::stamp::encode(&other));
        // (case, bytes of the store's event, whether the write withdrew its offer, offer taken)
        let cases: [(&str, &Bytes, bool, bool); 3] = [
            ("the event carries the offered bytes", &mine.json, false, true),
            ("someone else's write came first: its bytes are scanned, the offer waits", &theirs.json, false, false),
            ("the write failed and withdrew its offer", &mine.json, true, false),
        ];
        for (case, event_bytes, withdrawn, taken) in cases {
            let (caches, cache) = caches_of(cache());
            let pending = caches.offer(pods(), KEY, &object, &mine).expect("room for an offer");
            if withdrawn {
                drop(pending);
            } else {
                pending.stored();
            }
            let change = cache.change(&mut cache.state.lock(), put(KEY, event_bytes, 12));
            let got = change.after.expect("a pod");
            let want = Cached::new(pods(), &cache.wanted, event_bytes, 12).unwrap();
            assert_eq!(
                (&got.namespace, &got.name, &got.labels, &got.fields, &got.json, got.revision),
                (&want.namespace, &want.name, &want.labels, &want.fields, &want.json, want.revision),
                "{case}"
            );
            let left = cache.state.lock().offered.len();
            assert_eq!(left, usize::from(!taken && !withdrawn), "{case}: offers left");
        }
    }

    #[test]
    fn a_failed_or_abandoned_write_withdraws_only_its_own_offer() {
        const KEY: &str = "/registry/pods/default/web";
        let object = json!({"metadata": {"name": "web", "namespace": "default"}});
        let (caches, cache) = caches_of(cache());
        let first = caches.offer(pods(), KEY, &object, &crate::stamp::encode(&object));
        let second = caches.offer(pods(), KEY, &object, &crate::stamp::encode(&object));
        drop(first);
        assert_eq!(cache.state.lock().offered.len(), 1, "the later write's offer stays");
        drop(second);
        assert!(cache.state.lock().offered.is_empty());
        caches.offer(pods(), KEY, &object, &crate::stamp::encode(&object)).unwrap().stored();
        assert_eq!(cache.state.lock().offered.len(), 1, "a stored write's offer waits for its event");
    }
}
