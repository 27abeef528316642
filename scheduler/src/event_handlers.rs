//! What the scheduler watches, and what each change means for the queue and the cache.
//!
//! Mirrors `pkg/scheduler/eventhandlers.go` (`addAllEventHandlers`, Kubernetes 1.31). Four
//! watchers, each feeding a reflector cache:
//!
//! | watch | field selector | on a change |
//! |---|---|---|
//! | pods to schedule | `spec.nodeName=,spec.schedulerName=<name>` | queue add / update / delete |
//! | bound pods | `spec.nodeName!=` | confirm assumed pods; one gone or finished frees room: move unschedulable pods |
//! | nodes | | a node added, or changed in what filters read: move unschedulable pods |
//! | services | | (read by SelectorSpread) |
//!
//! Pods naming another scheduler never reach this one: the API server filters them out. A
//! status-only change to a waiting pod (this scheduler's own `PodScheduled=False`, say) is not an
//! update: it could not make the pod fit (upstream's `isPodUpdated`).
//!
//! Scheduling waits until every cache has its first list (`WaitForCacheSync`): a scheduler that
//! started placing pods before it knew the bound ones would overfill nodes.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use skiff_client::api::ApiObject;
use skiff_client::reflector::{Object, ObjectKey, Store, Writer};
use skiff_client::watcher::{watcher, Event, Retry};
use skiff_client::{Api, Client, ListParams};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cache::Cache;
use crate::node_info::is_terminal;
use crate::queue::SchedulingQueue;

/// The caches the scheduler reads.
pub struct Informers {
    pub unscheduled: Store<Pod>,
    pub cache: Arc<Cache>,
    pub services: Store<Service>,
    synced: Vec<oneshot::Receiver<()>>,
}

impl Informers {
    /// Waits for every cache's first list; `false` if shut down first.
    pub async fn wait_for_cache_sync(&mut self, shutdown: &CancellationToken) -> bool {
        let all = futures::future::join_all(self.synced.drain(..));
        tokio::select! {
            results = all => results.iter().all(Result::is_ok),
            _ = shutdown.cancelled() => false,
        }
    }
}

fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// Whether a pod waiting to be scheduled changed in a way that could change where it fits:
/// anything but its status, resourceVersion, managedFields and finalizers.
pub fn is_pod_updated(old: &Pod, new: &Pod) -> bool {
    let strip = |pod: &Pod| {
        let mut pod = pod.clone();
        pod.metadata.resource_version = None;
        pod.metadata.generation = None;
        pod.metadata.managed_fields = None;
        pod.metadata.finalizers = None;
        pod.status = None;
        pod
    };
    strip(old) != strip(new)
}

/// Whether a node changed in anything a filter reads: allocatable, labels, taints, cordon, or
/// the status of a condition. A kubelet's heartbeat (new timestamps only) is not such a change.
pub fn node_scheduling_changed(old: &Node, new: &Node) -> bool {
    let view = |node: &Node| {
        let spec = node.spec.clone().unwrap_or_default();
        let status = node.status.clone().unwrap_or_default();
        let conditions: Vec<(String, String)> =
            status.conditions.unwrap_or_default().into_iter().map(|c| (c.type_, c.status)).collect();
        (node.metadata.labels.clone(), status.allocatable, spec.taints, spec.unschedulable, conditions)
    };
    view(old) != view(new)
}

/// Runs one watcher into its cache; after each change, `on_event(old, event)` with the object as
/// it was before. Signals `synced` after the first list.
async fn feed<K, F>(
    events: impl Stream<Item = Event<K>> + Send + 'static,
    mut writer: Writer<K>,
    synced: oneshot::Sender<()>,
    shutdown: CancellationToken,
    mut on_event: F,
) where
    K: Object + Clone + Send + Sync,
    F: FnMut(Option<Arc<K>>, &Event<K>) + Send + 'static,
{
    let store = writer.store();
    let mut events = Box::pin(events.take_until(shutdown.cancelled_owned()));
    let mut synced = Some(synced);
    while let Some(event) = events.next().await {
        let old = match &event {
            Event::Applied(object) | Event::Deleted(object) => store.get(&ObjectKey::of(object)),
            Event::Restarted(_) => None,
        };
        writer.apply(&event);
        on_event(old, &event);
        if matches!(event, Event::Restarted(_)) {
            if let Some(synced) = synced.take() {
                let _ = synced.send(());
            }
        }
    }
}

fn watch<K: ApiObject>(client: &Client, fields: &str) -> impl Stream<Item = Event<K>> + Send + 'static {
    watcher(Api::<K>::all(client.clone()).lister(ListParams::fields(fields)), Retry::default())
}

/// What a pod to schedule means for the queue.
fn on_unscheduled(queue: &SchedulingQueue, old: Option<Arc<Pod>>, event: &Event<Pod>) {
    let waiting = |pod: &Pod| pod.metadata.deletion_timestamp.is_none() && !is_terminal(pod);
    match event {
        Event::Restarted(pods) => {
            let listed = pods.iter().filter(|p| waiting(p)).map(|p| (ObjectKey::of(p), priority(p))).collect();
            queue.sync(listed);
        }
        Event::Applied(pod) if !waiting(pod) => queue.delete(&ObjectKey::of(pod)),
        Event::Applied(pod) => {
            if old.is_none_or(|old| is_pod_updated(&old, pod)) {
                queue.add(ObjectKey::of(pod), priority(pod));
            }
        }
        Event::Deleted(pod) => queue.delete(&ObjectKey::of(pod)),
    }
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

/// What a bound pod means for the cache and the queue.
fn on_bound(queue: &SchedulingQueue, cache: &Cache, old: Option<Arc<Pod>>, event: &Event<Pod>) {
    match event {
        Event::Restarted(pods) => {
            for pod in pods {
                cache.confirm(uid(pod));
            }
            queue.move_all_to_active_or_backoff("AssignedPodRelist");
        }
        Event::Applied(pod) => {
            cache.confirm(uid(pod));
            let finished_now = is_terminal(pod) && !old.is_some_and(|old| is_terminal(&old));
            if finished_now {
                queue.move_all_to_active_or_backoff("AssignedPodUpdate");
            }
        }
        Event::Deleted(pod) => {
            cache.confirm(uid(pod));
            queue.move_all_to_active_or_backoff("AssignedPodDelete");
        }
    }
}

/// What a node change means for the queue.
fn on_node(queue: &SchedulingQueue, old: Option<Arc<Node>>, event: &Event<Node>) {
    match (event, old) {
        (Event::Restarted(_), _) => queue.move_all_to_active_or_backoff("NodeRelist"),
        (Event::Applied(_), None) => queue.move_all_to_active_or_backoff("NodeAdd"),
        (Event::Applied(new), Some(old)) if node_scheduling_changed(&old, new) => {
            queue.move_all_to_active_or_backoff("NodeUpdate")
        }
        _ => {}
    }
}

/// Starts the four watchers (as tasks of `tasks`, stopped by `shutdown`).
pub fn start(
    client: &Client,
    scheduler_name: &str,
    queue: Arc<SchedulingQueue>,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Informers {
    let (unscheduled, bound, nodes, services) =
        (Writer::<Pod>::default(), Writer::<Pod>::default(), Writer::<Node>::default(), Writer::<Service>::default());
    let cache = Arc::new(Cache::new(nodes.store(), bound.store()));
    let stores = (unscheduled.store(), services.store());
    let mut synced = Vec::new();
    let mut signal = || {
        let (tx, rx) = oneshot::channel();
        synced.push(rx);
        tx
    };

    let waiting = format!("spec.nodeName=,spec.schedulerName={scheduler_name}");
    let q = queue.clone();
    tasks.spawn(feed(watch(client, &waiting), unscheduled, signal(), shutdown.clone(), move |old, event| {
        on_unscheduled(&q, old, event)
    }));
    let (q, c) = (queue.clone(), cache.clone());
    tasks.spawn(feed(watch(client, "spec.nodeName!="), bound, signal(), shutdown.clone(), move |old, event| {
        on_bound(&q, &c, old, event)
    }));
    tasks.spawn(feed(watch(client, ""), nodes, signal(), shutdown.clone(), move |old, event| {
        on_node(&queue, old, event)
    }));
    tasks.spawn(feed(watch(client, ""), services, signal(), shutdown.clone(), |_, _| {}));

    Informers { unscheduled: stores.0, cache, services: stores.1, synced }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Place;
    use crate::testing::{TestNode, TestPod};

    fn key(name: &str) -> ObjectKey {
        ObjectKey { namespace: Some("default".into()), name: name.into() }
    }

    #[test]
    fn only_changes_outside_the_status_count_as_pod_updates() {
        let pod = Pod::test("p");
        let mut status_only = pod.clone().phase("Pending");
        status_only.metadata.resource_version = Some("42".into());
        let cases = [
            ("the scheduler's own condition", status_only, false),
            ("a new label", pod.clone().label("app", "web"), true),
            ("new requests", pod.clone().requests("1", "1Gi"), true),
            ("a toleration", pod.clone().tolerate("k", "Exists", "", ""), true),
        ];
        for (name, new, want) in cases {
            assert_eq!(is_pod_updated(&pod, &new), want, "{name}");
        }
    }

    #[test]
    fn only_node_changes_a_filter_reads_move_pods() {
        let node = Node::test("n");
        let mut heartbeat = node.clone();
        heartbeat.metadata.resource_version = Some("7".into());
        let cases = [
            ("a heartbeat", heartbeat, false),
            ("a label", node.clone().label("disk", "ssd"), true),
            ("a taint", node.clone().taint("k", "v", "NoSchedule"), true),
            ("a cordon", node.clone().unschedulable(), true),
            ("more room", node.clone().capacity("8", "8Gi", 110), true),
            ("not ready any more", node.clone().ready("False"), true),
        ];
        for (name, new, want) in cases {
            assert_eq!(node_scheduling_changed(&node, &new), want, "{name}");
        }
    }

    #[test]
    fn waiting_pods_enter_the_queue_and_leave_it_when_bound_deleted_or_terminating() {
        let queue = SchedulingQueue::default();
        on_unscheduled(&queue, None, &Event::Restarted(vec![Pod::test("a"), Pod::test("b").phase("Failed")]));
        assert_eq!(queue.place(&key("a")), Some(Place::Active));
        assert_eq!(queue.place(&key("b")), None, "a finished pod is not scheduled");
        on_unscheduled(&queue, None, &Event::Applied(Pod::test("c")));
        assert_eq!(queue.pending().active, 2);
        on_unscheduled(&queue, None, &Event::Deleted(Pod::test("c")));
        let mut deleting = Pod::test("a");
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()));
        on_unscheduled(&queue, Some(Arc::new(Pod::test("a"))), &Event::Applied(deleting));
        assert_eq!(queue.pending().active, 0);
    }

    #[tokio::test]
    async fn a_bound_pod_gone_or_finished_moves_unschedulable_pods_and_confirms_assumptions() {
        let queue = SchedulingQueue::default();
        let (nodes, bound) = (Writer::<Node>::default(), Writer::<Pod>::default());
        let cache = Cache::new(nodes.store(), bound.store());
        queue.add(key("big"), 0);
        assert_eq!(queue.pop().await.unwrap().name, "big");
        queue.add_unschedulable(&key("big"));
        cache.assume(&Pod::test("small"), "n");

        let small = Pod::test("small").on_node("n");
        on_bound(&queue, &cache, None, &Event::Applied(small.clone()));
        assert!(!cache.is_assumed("uid-small"), "seen bound: confirmed");
        assert_eq!(queue.place(&key("big")), Some(Place::Unschedulable), "a new bound pod frees nothing");

        on_bound(&queue, &cache, Some(Arc::new(small.clone())), &Event::Applied(small.clone().phase("Succeeded")));
        assert_ne!(queue.place(&key("big")), Some(Place::Unschedulable), "a finished pod frees room");
    }
}
