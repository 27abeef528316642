//! The scheduler's picture of the cluster: the nodes and the bound pods from the reflector
//! caches, plus the pods it has *assumed* (bound by itself, not yet seen bound in the cache).
//!
//! Mirrors `pkg/scheduler/internal/cache/cache.go` (`AssumePod`, `FinishBinding`, `ForgetPod`,
//! the confirmation in `AddPod`, `cleanupAssumedPods`, `UpdateSnapshot`), Kubernetes 1.31.
//!
//! Why assume: the watch of bound pods lags behind the scheduler's own binds. Without it, a
//! burst of twenty pods would all be placed against the same stale picture and could all land
//! on the one node that had room for five. So a pod counts against its node from the moment it
//! is chosen:
//!
//! 1. `assume` when the node is chosen, before the bind is sent;
//! 2. `forget` if the bind fails (the pod goes back to the queue);
//! 3. `confirm` when the watch shows the pod bound (or deleted): the cache has it now;
//! 4. an assumed pod never confirmed expires [`ASSUMED_TTL`] after its bind finished (it was
//!    deleted before the watch saw it bound).
//!
//! A snapshot is built for each scheduling cycle from the caches (Kubernetes keeps `NodeInfo`s
//! incrementally and copies only the changed ones; rebuilding is simpler and fast enough for a
//! teaching cluster's hundreds of pods).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use parking_lot::Mutex;
use skiff_client::reflector::{ObjectKey, Store};
use tokio::time::Instant;

use crate::node_info::{is_terminal, NodeInfo};

/// How long after its bind an assumed pod that never showed up bound is dropped (Kubernetes'
/// former `durationToExpireAssumedPod`).
pub const ASSUMED_TTL: Duration = Duration::from_secs(30);

struct Assumed {
    /// The pod as bound: a copy with `spec.nodeName` set.
    pod: Arc<Pod>,
    key: ObjectKey,
    /// When the bind finished; until then the assumption does not expire.
    bound_at: Option<Instant>,
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

pub struct Cache {
    nodes: Store<Node>,
    /// Bound pods (`spec.nodeName!=`), of every scheduler.
    pods: Store<Pod>,
    /// Assumed pods by uid. A std mutex: no await happens while it is held.
    assumed: Mutex<HashMap<String, Assumed>>,
}

impl Cache {
    pub fn new(nodes: Store<Node>, pods: Store<Pod>) -> Cache {
        Cache { nodes, pods, assumed: Mutex::new(HashMap::new()) }
    }

    /// Counts `pod` against `node` from now on.
    pub fn assume(&self, pod: &Pod, node: &str) {
        let mut bound = pod.clone();
        bound.spec.get_or_insert_with(Default::default).node_name = Some(node.to_string());
        let key = ObjectKey::of(pod);
        let assumed = Assumed { pod: Arc::new(bound), key, bound_at: None };
        self.assumed.lock().insert(uid(pod).to_string(), assumed);
    }

    /// The bind went through: the assumption may expire from now on.
    pub fn finish_binding(&self, pod_uid: &str) {
        if let Some(assumed) = self.assumed.lock().get_mut(pod_uid) {
            assumed.bound_at = Some(Instant::now());
        }
    }

    /// The bind failed: the pod holds nothing on the node.
    pub fn forget(&self, pod_uid: &str) {
        self.assumed.lock().remove(pod_uid);
    }

    /// The watch showed the pod bound (or gone): the caches speak for it now.
    pub fn confirm(&self, pod_uid: &str) {
        self.assumed.lock().remove(pod_uid);
    }

    pub fn is_assumed(&self, pod_uid: &str) -> bool {
        self.assumed.lock().contains_key(pod_uid)
    }

    /// How many pods are assumed (for tests and logs).
    pub fn assumed_len(&self) -> usize {
        self.assumed.lock().len()
    }

    /// How many nodes there are.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Every node with what is bound or assumed on it, sorted by name.
    pub fn snapshot(&self) -> Vec<NodeInfo> {
        let mut infos: BTreeMap<String, NodeInfo> = self
            .nodes
            .list()
            .into_iter()
            .map(|node| (node.metadata.name.clone().unwrap_or_default(), NodeInfo::new(node)))
            .collect();
        let mut place = |pod: Arc<Pod>| {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
            if let Some(info) = infos.get_mut(&node) {
                info.add_pod(pod);
            }
        };
        for pod in self.pods.list() {
            if !is_terminal(&pod) {
                place(pod);
            }
        }
        let now = Instant::now();
        let mut assumed = self.assumed.lock();
        assumed.retain(|_, a| a.bound_at.is_none_or(|at| now.duration_since(at) < ASSUMED_TTL));
        for (pod_uid, a) in assumed.iter() {
            // Already in the cache (the watch got there before `confirm`): counted once, where
            // the cache says it is.
            let cached = self.pods.get(&a.key).is_some_and(|p| uid(&p) == pod_uid);
            if !cached {
                place(a.pod.clone());
            }
        }
        infos.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use skiff_client::reflector::Writer;
    use skiff_client::watcher::Event;

    use super::*;
    use crate::testing::{TestNode, TestPod};

    fn pods_on(snapshot: &[NodeInfo]) -> Vec<(String, usize)> {
        snapshot.iter().map(|n| (n.name().to_string(), n.pods.len())).collect()
    }

    fn cache_with(nodes: Vec<Node>, pods: Vec<Pod>) -> (Cache, Writer<Pod>) {
        let mut node_writer = Writer::default();
        node_writer.apply(&Event::Restarted(nodes));
        let mut pod_writer = Writer::default();
        pod_writer.apply(&Event::Restarted(pods));
        (Cache::new(node_writer.store(), pod_writer.store()), pod_writer)
    }

    #[test]
    fn bound_pods_count_on_their_nodes_and_terminal_ones_do_not() {
        let (cache, _) = cache_with(
            vec![Node::test("a"), Node::test("b")],
            vec![
                Pod::test("1").on_node("a").requests("1", "0"),
                Pod::test("2").on_node("a").phase("Succeeded"),
                Pod::test("3").on_node("gone"),
            ],
        );
        let snapshot = cache.snapshot();
        assert_eq!(pods_on(&snapshot), vec![("a".into(), 1), ("b".into(), 0)]);
        assert_eq!(snapshot[0].requested.milli_cpu, 1000);
    }

    #[test]
    fn an_assumed_pod_counts_at_once_and_only_once_when_the_cache_catches_up() {
        let (cache, mut pods) = cache_with(vec![Node::test("a")], vec![]);
        let pod = Pod::test("web-0").requests("500m", "0");
        cache.assume(&pod, "a");
        assert_eq!(cache.snapshot()[0].requested.milli_cpu, 500, "counted before any watch event");

        // The watch delivers the bound pod before anyone calls `confirm`.
        pods.apply(&Event::Applied(pod.clone().on_node("a")));
        assert_eq!(cache.snapshot()[0].requested.milli_cpu, 500, "not twice");
        cache.confirm("uid-web-0");
        assert!(!cache.is_assumed("uid-web-0"));
        assert_eq!(cache.snapshot()[0].requested.milli_cpu, 500);
    }

    #[test]
    fn a_forgotten_pod_frees_its_node() {
        let (cache, _) = cache_with(vec![Node::test("a")], vec![]);
        cache.assume(&Pod::test("p"), "a");
        cache.forget("uid-p");
        assert_eq!(pods_on(&cache.snapshot()), vec![("a".into(), 0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_assumption_never_confirmed_expires_after_its_bind() {
        let (cache, _) = cache_with(vec![Node::test("a")], vec![]);
        cache.assume(&Pod::test("p"), "a");
        tokio::time::sleep(ASSUMED_TTL * 2).await;
        assert_eq!(cache.snapshot()[0].pods.len(), 1, "no expiry while the bind is in flight");
        cache.finish_binding("uid-p");
        tokio::time::sleep(ASSUMED_TTL - Duration::from_secs(1)).await;
        assert_eq!(cache.snapshot()[0].pods.len(), 1);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(cache.snapshot()[0].pods.len(), 0);
        assert_eq!(cache.assumed_len(), 0);
    }
}
