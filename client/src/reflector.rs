//! The reflector cache: the watcher's events kept as a local copy of the objects, shared by
//! readers.
//!
//! Mirrors client-go's `tools/cache` (`Store`, `Indexer` with its namespace index) and
//! kube-runtime's `reflector` (one [`Writer`], many cloneable [`Store`] readers of `Arc<K>`).
//! Readers get shared objects: clone one before changing it. A `Restarted` event (a re-list)
//! replaces the whole contents at once, so an object deleted while the watch was down disappears
//! too.
//!
//! Two indexes, because controllers ask two questions: "what is in this namespace?" and "what
//! does this owner control?" (a ReplicaSet's pods, a Deployment's ReplicaSets).
//!
//! Left out: client-go's arbitrary named indexers; two fixed ones serve every controller Skiff
//! has.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use parking_lot::RwLock;

use crate::watcher::Event;

/// What the cache needs to know of an object. The API types implement it.
pub trait Object: Send + Sync + 'static {
    fn namespace(&self) -> Option<&str>;
    fn name(&self) -> &str;
    /// The `uid` of the owner reference marked `controller: true`, if any.
    fn controller_uid(&self) -> Option<&str>;
}

/// `namespace/name`, or `name` for cluster-scoped objects: client-go's `MetaNamespaceKeyFunc`,
/// the key work queues carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn of(object: &impl Object) -> ObjectKey {
        ObjectKey { namespace: object.namespace().map(str::to_string), name: object.name().to_string() }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

struct Contents<K> {
    objects: HashMap<ObjectKey, Arc<K>>,
    by_namespace: HashMap<String, HashSet<ObjectKey>>,
    by_controller: HashMap<String, HashSet<ObjectKey>>,
}

impl<K: Object> Contents<K> {
    fn new() -> Self {
        Contents { objects: HashMap::new(), by_namespace: HashMap::new(), by_controller: HashMap::new() }
    }

    fn insert(&mut self, object: K) {
        let key = ObjectKey::of(&object);
        self.remove(&key);
        if let Some(namespace) = object.namespace() {
            self.by_namespace.entry(namespace.to_string()).or_default().insert(key.clone());
        }
        if let Some(uid) = object.controller_uid() {
            self.by_controller.entry(uid.to_string()).or_default().insert(key.clone());
        }
        self.objects.insert(key, Arc::new(object));
    }

    fn remove(&mut self, key: &ObjectKey) {
        let Some(old) = self.objects.remove(key) else { return };
        let unindex = |index: &mut HashMap<String, HashSet<ObjectKey>>, value: Option<&str>| {
            if let Some(value) = value {
                if let Some(keys) = index.get_mut(value) {
                    keys.remove(key);
                    if keys.is_empty() {
                        index.remove(value);
                    }
                }
            }
        };
        unindex(&mut self.by_namespace, old.namespace());
        unindex(&mut self.by_controller, old.controller_uid());
    }

    fn pick(&self, keys: Option<&HashSet<ObjectKey>>) -> Vec<Arc<K>> {
        let mut picked: Vec<(&ObjectKey, Arc<K>)> = keys
            .into_iter()
            .flatten()
            .filter_map(|key| self.objects.get(key).map(|object| (key, object.clone())))
            .collect();
        picked.sort_by(|a, b| a.0.cmp(b.0));
        picked.into_iter().map(|(_, object)| object).collect()
    }
}

/// A reader of the cache; cheap to clone.
pub struct Store<K> {
    contents: Arc<RwLock<Contents<K>>>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Store { contents: self.contents.clone() }
    }
}

impl<K: Object> Store<K> {
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.contents.read().objects.get(key).cloned()
    }

    /// Every object, sorted by key.
    pub fn list(&self) -> Vec<Arc<K>> {
        let contents = self.contents.read();
        let mut all: Vec<(&ObjectKey, &Arc<K>)> = contents.objects.iter().collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter().map(|(_, object)| object.clone()).collect()
    }

    /// The objects of one namespace, sorted by key.
    pub fn in_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let contents = self.contents.read();
        contents.pick(contents.by_namespace.get(namespace))
    }

    /// The objects whose controller owner has this `uid`, sorted by key.
    pub fn controlled_by(&self, uid: &str) -> Vec<Arc<K>> {
        let contents = self.contents.read();
        contents.pick(contents.by_controller.get(uid))
    }

    pub fn len(&self) -> usize {
        self.contents.read().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The one writer of a cache.
pub struct Writer<K> {
    store: Store<K>,
}

impl<K: Object> Default for Writer<K> {
    fn default() -> Self {
        Writer { store: Store { contents: Arc::new(RwLock::new(Contents::new())) } }
    }
}

impl<K: Object + Clone> Writer<K> {
    /// A reader of this writer's cache.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    pub fn apply(&mut self, event: &Event<K>) {
        match event {
            Event::Restarted(objects) => {
                // Build the new contents aside, then swap: readers never see a half-filled cache.
                let mut fresh = Contents::new();
                for object in objects {
                    fresh.insert(object.clone());
                }
                *self.store.contents.write() = fresh;
            }
            Event::Applied(object) => self.store.contents.write().insert(object.clone()),
            Event::Deleted(object) => self.store.contents.write().remove(&ObjectKey::of(object)),
        }
    }
}

/// Passes the watcher's events through, keeping the cache up to date on the way: what a
/// controller sees in the stream is already in its store.
pub fn reflector<K: Object + Clone>(
    mut writer: Writer<K>,
    events: impl Stream<Item = Event<K>>,
) -> impl Stream<Item = Event<K>> {
    events.map(move |event| {
        writer.apply(&event);
        event
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Pod {
        namespace: &'static str,
        name: &'static str,
        owner: Option<&'static str>,
        version: u32,
    }

    impl Pod {
        fn test(namespace: &'static str, name: &'static str) -> Pod {
            Pod { namespace, name, owner: None, version: 1 }
        }
        fn owned_by(mut self, uid: &'static str) -> Pod {
            self.owner = Some(uid);
            self
        }
        fn version(mut self, version: u32) -> Pod {
            self.version = version;
            self
        }
    }

    impl Object for Pod {
        fn namespace(&self) -> Option<&str> {
            Some(self.namespace)
        }
        fn name(&self) -> &str {
            self.name
        }
        fn controller_uid(&self) -> Option<&str> {
            self.owner
        }
    }

    fn names(pods: Vec<Arc<Pod>>) -> Vec<&'static str> {
        pods.iter().map(|p| p.name).collect()
    }

    #[test]
    fn keys_read_like_client_gos() {
        assert_eq!(ObjectKey::of(&Pod::test("default", "web-0")).to_string(), "default/web-0");
        let node = ObjectKey { namespace: None, name: "node-1".into() };
        assert_eq!(node.to_string(), "node-1");
    }

    #[test]
    fn a_relist_replaces_everything_at_once() {
        let mut writer = Writer::default();
        let store = writer.store();
        writer.apply(&Event::Restarted(vec![Pod::test("a", "p1"), Pod::test("a", "p2")]));
        assert_eq!(names(store.list()), vec!["p1", "p2"]);
        writer.apply(&Event::Restarted(vec![Pod::test("a", "p2"), Pod::test("b", "p3")]));
        assert_eq!(names(store.list()), vec!["p2", "p3"], "p1 was deleted while the watch was down");
        assert_eq!(names(store.in_namespace("a")), vec!["p2"]);
    }

    #[test]
    fn updates_replace_objects_and_move_their_index_entries() {
        let mut writer = Writer::default();
        let store = writer.store();
        writer.apply(&Event::Applied(Pod::test("default", "web-1").owned_by("rs-old")));
        writer.apply(&Event::Applied(Pod::test("default", "web-2").owned_by("rs-old")));
        assert_eq!(names(store.controlled_by("rs-old")), vec!["web-1", "web-2"]);

        // Adopted by another ReplicaSet.
        writer.apply(&Event::Applied(Pod::test("default", "web-1").owned_by("rs-new").version(2)));
        assert_eq!(names(store.controlled_by("rs-old")), vec!["web-2"]);
        assert_eq!(names(store.controlled_by("rs-new")), vec!["web-1"]);
        let key = ObjectKey { namespace: Some("default".into()), name: "web-1".into() };
        assert_eq!(store.get(&key).unwrap().version, 2);
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn deletes_leave_no_index_entries_behind() {
        let mut writer = Writer::default();
        let store = writer.store();
        writer.apply(&Event::Applied(Pod::test("ns", "p").owned_by("rs")));
        writer.apply(&Event::Deleted(Pod::test("ns", "p").owned_by("rs")));
        assert!(store.is_empty());
        assert!(store.in_namespace("ns").is_empty());
        assert!(store.controlled_by("rs").is_empty());
    }

    #[test]
    fn readers_share_objects_and_see_later_writes() {
        let mut writer = Writer::default();
        let first = writer.store();
        let second = first.clone();
        writer.apply(&Event::Applied(Pod::test("ns", "p")));
        let a = first.list().remove(0);
        let b = second.list().remove(0);
        assert!(Arc::ptr_eq(&a, &b), "one copy, shared");
        writer.apply(&Event::Applied(Pod::test("ns", "p").version(7)));
        assert_eq!(second.list()[0].version, 7);
        assert_eq!(a.version, 1, "an object a reader holds does not change under it");
    }

    #[tokio::test]
    async fn the_reflector_updates_the_cache_before_passing_an_event_on() {
        let writer = Writer::default();
        let store = writer.store();
        let events = futures::stream::iter(vec![
            Event::Restarted(vec![Pod::test("ns", "a")]),
            Event::Applied(Pod::test("ns", "b")),
        ]);
        let mut passed = Box::pin(reflector(writer, events));
        assert!(matches!(passed.next().await, Some(Event::Restarted(_))));
        assert_eq!(store.len(), 1);
        assert!(matches!(passed.next().await, Some(Event::Applied(_))));
        assert_eq!(names(store.list()), vec!["a", "b"]);
    }
}
