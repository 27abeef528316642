//! NodeResourcesFit (Score), LeastAllocated strategy: the emptier the node would be with the pod
//! on it, the better.
//!
//! Mirrors `pkg/scheduler/framework/plugins/noderesources/least_allocated.go` and
//! `resource_allocation.go` (Kubernetes 1.31), with the default resources, cpu and memory,
//! weight 1 each. Per resource, with the pod counted in:
//!
//! ```text
//! score = (allocatable − requested) × 100 / allocatable      (0 if requested > allocatable)
//! node  = the weighted average of the resources' scores        (integer division, as upstream)
//! ```
//!
//! Worked example: a node with 4 cpu and 8Gi whose pods request 1 cpu and 2Gi, for a pod of
//! 500m and 1Gi: cpu (4000 − 1500) × 100 / 4000 = 62, memory (8 − 3) × 100 / 8 = 62, node 62.
//!
//! Requests here are the non-zero ones (`NodeInfo::non_zero_requested`): a container that asks
//! for nothing still weighs 100m and 200Mi, or ten request-less pods would all look free.
//! The plugin's name is NodeResourcesFit, as upstream: the Filter and this Score are one plugin.

use k8s_openapi::api::core::v1::Pod;

use super::node_resources_fit;
use crate::framework::{ScorePlugin, MAX_NODE_SCORE};
use crate::node_info::{pod_requests, NodeInfo};

/// One resource's score: the share left free, 0..=100.
fn least_requested_score(requested: i64, allocatable: i64) -> i64 {
    if allocatable == 0 || requested > allocatable {
        return 0;
    }
    (allocatable - requested) * MAX_NODE_SCORE / allocatable
}

/// The node's score from `(requested with the pod, allocatable, weight)` per resource; a
/// resource the node has none of is skipped.
pub fn score(resources: &[(i64, i64, i64)]) -> i64 {
    let (mut total, mut weights) = (0, 0);
    for &(requested, allocatable, weight) in resources {
        if allocatable == 0 {
            continue;
        }
        total += least_requested_score(requested, allocatable) * weight;
        weights += weight;
    }
    if weights == 0 {
        0
    } else {
        total / weights
    }
}

pub struct LeastAllocated;

impl ScorePlugin for LeastAllocated {
    fn name(&self) -> &'static str {
        node_resources_fit::NAME
    }

    fn score(&self, pod: &Pod, node: &NodeInfo) -> i64 {
        let wants = pod_requests(pod, true);
        let (used, have) = (&node.non_zero_requested, &node.allocatable);
        score(&[(used.milli_cpu + wants.milli_cpu, have.milli_cpu, 1), (used.memory + wants.memory, have.memory, 1)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestNode, TestPod};
    use k8s_openapi::api::core::v1::Node;

    #[test]
    fn emptier_nodes_score_higher() {
        const GI: i64 = 1 << 30;
        let cases = [
            ("the module doc's example", vec![(1500, 4000, 1), (3 * GI, 8 * GI, 1)], 62),
            ("an empty node scores almost 100", vec![(0, 4000, 1), (0, 8 * GI, 1)], 100),
            ("a full node scores 0", vec![(4000, 4000, 1), (8 * GI, 8 * GI, 1)], 0),
            ("over-requested counts as full", vec![(5000, 4000, 1), (0, 8 * GI, 1)], 50),
            ("weights weigh", vec![(0, 4000, 3), (8 * GI, 8 * GI, 1)], 75),
            ("a resource the node lacks is skipped", vec![(1000, 4000, 1), (GI, 0, 1)], 75),
            ("nothing to score", vec![], 0),
        ];
        for (name, resources, want) in cases {
            assert_eq!(score(&resources), want, "{name}");
        }
    }

    #[test]
    fn request_less_pods_still_weigh_on_the_score() {
        let empty = NodeInfo::new(Node::test("a").into());
        let busy = NodeInfo::with_pods(Node::test("b"), (0..10).map(|i| Pod::test(&format!("p{i}"))));
        let pod = Pod::test("new");
        // Empty: cpu (4000 − 100) × 100 / 4000 = 97, memory (8192 − 200) × 100 / 8192 = 97.
        assert_eq!(LeastAllocated.score(&pod, &empty), 97);
        // Ten pods of 100m and 200Mi, plus the new one: cpu 72, memory 73 → 72.
        assert_eq!(LeastAllocated.score(&pod, &busy), 72);
    }
}
