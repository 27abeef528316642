//! SelectorSpread: pods of one group go to different nodes, so that losing a node loses few of
//! them.
//!
//! Mirrors `pkg/scheduler/framework/plugins/selectorspread/selector_spread.go` (Kubernetes
//! 1.26, its last release; since 1.27 PodTopologySpread's default constraints do this job, with
//! the weight, 2, that Skiff gives this plugin). A pod's group is the pods of its namespace that
//! share its controller (the ReplicaSet or StatefulSet in its `ownerReferences`) *and* match the
//! selector of every Service that selects it; a pod with neither has no group and scores 100
//! everywhere.
//!
//! Score counts the group's pods on each node (terminating ones do not count); `normalize` turns
//! counts into "fewer is better":
//!
//! ```text
//! score = 100 × (max − count) / max            (100 everywhere when max = 0)
//! counts 4, 2, 0 → max 4 → scores 0, 50, 100
//! ```
//!
//! Left out: the zone half (2/3 of the score from spreading across `topology.kubernetes.io/zone`),
//! ReplicationControllers, and selecting through the owner's selector instead of its uid.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};
use skiff_client::reflector::{Object, Store};

use crate::framework::{ScorePlugin, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;

pub const NAME: &str = "SelectorSpread";

/// The pods a pod spreads against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub namespace: String,
    /// The controller owner's uid, if any.
    pub controller: Option<String>,
    /// The selectors of the Services that select the pod.
    pub selectors: Vec<BTreeMap<String, String>>,
}

fn labels(pod: &Pod) -> BTreeMap<String, String> {
    pod.metadata.labels.clone().unwrap_or_default()
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(key, value)| labels.get(key) == Some(value))
}

/// The pod's group, from its owner and the Services (of any namespace: others are skipped);
/// `None` if the pod has neither.
pub fn group_of(pod: &Pod, services: &[Arc<Service>]) -> Option<Group> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let own = labels(pod);
    let selectors: Vec<BTreeMap<String, String>> = services
        .iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .filter_map(|s| s.spec.as_ref()?.selector.clone())
        .filter(|selector| !selector.is_empty() && selects(selector, &own))
        .collect();
    let controller = pod.controller_uid().map(str::to_string);
    (controller.is_some() || !selectors.is_empty()).then_some(Group { namespace, controller, selectors })
}

/// How many of the group's pods are on the node.
pub fn count_matching(group: &Group, node: &NodeInfo) -> i64 {
    let member = |pod: &&Arc<Pod>| {
        let same_owner = group.controller.is_none() || pod.controller_uid() == group.controller.as_deref();
        let own = labels(pod);
        pod.metadata.namespace.as_deref() == Some(group.namespace.as_str())
            && pod.metadata.deletion_timestamp.is_none()
            && same_owner
            && group.selectors.iter().all(|selector| selects(selector, &own))
    };
    node.pods.iter().filter(member).count() as i64
}

/// Counts become scores: the fullest node gets 0, an empty one 100.
pub fn normalize(counts: &mut [i64]) {
    let max = counts.iter().copied().max().unwrap_or(0);
    for count in counts.iter_mut() {
        *count = if max == 0 { MAX_NODE_SCORE } else { MAX_NODE_SCORE * (max - *count) / max };
    }
}

pub struct SelectorSpread {
    /// The Services cache, to find the ones that select the pod.
    pub services: Store<Service>,
}

impl ScorePlugin for SelectorSpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn score(&self, pod: &Pod, node: &NodeInfo) -> i64 {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        group_of(pod, &self.services.in_namespace(namespace)).map_or(0, |group| count_matching(&group, node))
    }

    fn normalize(&self, scores: &mut [i64]) {
        normalize(scores)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{TestNode, TestPod};
    use k8s_openapi::api::core::v1::Node;

    fn service(namespace: &str, selector: serde_json::Value) -> Arc<Service> {
        let service = json!({"metadata": {"name": "web", "namespace": namespace}, "spec": {"selector": selector}});
        Arc::new(serde_json::from_value(service).unwrap())
    }

    #[test]
    fn counts_become_fewer_is_better_scores() {
        let cases = [
            ("the module doc's example", vec![4, 2, 0], vec![0, 50, 100]),
            ("nobody anywhere", vec![0, 0], vec![100, 100]),
            ("equal counts", vec![3, 3, 3], vec![0, 0, 0]),
            ("integer division", vec![3, 1], vec![0, 66]),
        ];
        for (name, mut counts, want) in cases {
            normalize(&mut counts);
            assert_eq!(counts, want, "{name}");
        }
    }

    #[test]
    fn a_group_is_the_owner_and_the_services_that_select_the_pod() {
        let pod = Pod::test("web-1").label("app", "web").owned_by("rs-1");
        let services = [
            service("default", json!({"app": "web"})),
            service("default", json!({"app": "db"})),
            service("other", json!({"app": "web"})),
        ];
        let group = group_of(&pod, &services).unwrap();
        assert_eq!(group.controller.as_deref(), Some("rs-1"));
        assert_eq!(group.selectors, vec![BTreeMap::from([("app".to_string(), "web".to_string())])]);
        assert_eq!(group_of(&Pod::test("alone"), &services), None, "no owner, no Service: nothing to spread against");
    }

    #[test]
    fn only_live_pods_of_the_group_count_on_a_node() {
        let group = group_of(&Pod::test("new").owned_by("rs-1"), &[]).unwrap();
        let mut deleting = Pod::test("old").owned_by("rs-1");
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()));
        let mut elsewhere = Pod::test("far").owned_by("rs-1");
        elsewhere.metadata.namespace = Some("other".into());
        let node = NodeInfo::with_pods(
            Node::test("n"),
            [
                Pod::test("a").owned_by("rs-1"),
                Pod::test("b").owned_by("rs-1"),
                Pod::test("c").owned_by("rs-2"),
                deleting,
                elsewhere,
            ],
        );
        assert_eq!(count_matching(&group, &node), 2);
    }
}
