//! NodeResourcesFit (Filter): the pod's requests must fit in what the node can allocate minus
//! what its pods already request, and the node must have a pod slot left.
//!
//! Mirrors `pkg/scheduler/framework/plugins/noderesources/fit.go` (`fitsRequest`, Kubernetes
//! 1.31). Every shortage is a reason of its own, in this order: `Too many pods`,
//! `Insufficient cpu`, `Insufficient memory`, `Insufficient ephemeral-storage`, then
//! `Insufficient <name>` for extended resources; so a node short of cpu and memory counts twice
//! in the message (`2 Insufficient cpu, 2 Insufficient memory`). A resource the pod does not
//! request is never short, even on an over-committed node.
//!
//! Worked example: a node with 4 cpu whose pods request 3.5 cpu takes a pod of 500m (3.5 + 0.5
//! ≤ 4) but not one of 600m (`Insufficient cpu`).
//!
//! Making room is what preemption does, so the rejection is the resolvable kind (Kubernetes
//! 1.31; 1.34 calls a pod larger than the whole node unresolvable).
//!
//! Left out: `ignoredResources` and resource groups, pod-level resources.

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{FilterPlugin, Status};
use crate::node_info::{pod_requests, NodeInfo, Resource};

pub const NAME: &str = "NodeResourcesFit";
pub const ERR_REASON_TOO_MANY_PODS: &str = "Too many pods";

/// One resource the node is short of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsufficientResource {
    /// `cpu`, `memory`, `pods`, `nvidia.com/gpu`.
    pub resource: String,
    /// The reason the message counts: `Insufficient cpu`.
    pub reason: String,
    pub requested: i64,
    pub used: i64,
    pub capacity: i64,
}

fn short(resource: &str, requested: i64, used: i64, capacity: i64) -> Option<InsufficientResource> {
    (requested > 0 && requested > capacity - used).then(|| InsufficientResource {
        resource: resource.into(),
        reason: format!("Insufficient {resource}"),
        requested,
        used,
        capacity,
    })
}

/// What the node is short of to take a pod requesting `request` (empty: it fits).
pub fn fits(request: &Resource, node: &NodeInfo) -> Vec<InsufficientResource> {
    let mut shortages = Vec::new();
    let pods = node.pods.len() as i64;
    if pods + 1 > node.allocatable.allowed_pod_number {
        shortages.push(InsufficientResource {
            resource: "pods".into(),
            reason: ERR_REASON_TOO_MANY_PODS.into(),
            requested: 1,
            used: pods,
            capacity: node.allocatable.allowed_pod_number,
        });
    }
    if request.is_zero() {
        return shortages;
    }
    let (have, used) = (&node.allocatable, &node.requested);
    shortages.extend(short("cpu", request.milli_cpu, used.milli_cpu, have.milli_cpu));
    shortages.extend(short("memory", request.memory, used.memory, have.memory));
    shortages.extend(short(
        "ephemeral-storage",
        request.ephemeral_storage,
        used.ephemeral_storage,
        have.ephemeral_storage,
    ));
    for (name, amount) in &request.scalar {
        let used = used.scalar.get(name).copied().unwrap_or(0);
        shortages.extend(short(name, *amount, used, have.scalar.get(name).copied().unwrap_or(0)));
    }
    shortages
}

pub struct NodeResourcesFit;

impl FilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo) -> Status {
        let shortages = fits(&pod_requests(pod, false), node);
        if shortages.is_empty() {
            Status::Success
        } else {
            Status::Unschedulable(shortages.into_iter().map(|s| s.reason).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestNode, TestPod};
    use k8s_openapi::api::core::v1::Node;

    fn reasons(pod: Pod, node: NodeInfo) -> Vec<String> {
        NodeResourcesFit.filter(&pod, &node).reasons().to_vec()
    }

    #[test]
    fn a_pod_fits_what_the_node_has_left() {
        let busy =
            || NodeInfo::with_pods(Node::test("n").capacity("4", "8Gi", 3), [Pod::test("a").requests("3500m", "6Gi")]);
        let cases: [(&str, Pod, NodeInfo, &[&str]); 8] = [
            ("the module doc's 500m fits exactly", Pod::test("p").requests("500m", "1Gi"), busy(), &[]),
            ("600m does not", Pod::test("p").requests("600m", "1Gi"), busy(), &["Insufficient cpu"]),
            (
                "every shortage is its own reason",
                Pod::test("p").requests("1", "4Gi"),
                busy(),
                &["Insufficient cpu", "Insufficient memory"],
            ),
            ("a request-less pod needs only a slot", Pod::test("p"), busy(), &[]),
            (
                "a full node has no slot, whatever the requests",
                Pod::test("p").requests("100m", "0"),
                NodeInfo::with_pods(Node::test("n").capacity("4", "8Gi", 1), [Pod::test("a")]),
                &["Too many pods"],
            ),
            (
                "what the pod does not request is never short",
                Pod::test("p").requests("0", "1Gi"),
                NodeInfo::with_pods(Node::test("n"), [Pod::test("a").requests("6", "0")]),
                &[],
            ),
            (
                "extended resources count by name",
                Pod::test("p").extended("nvidia.com/gpu", "1"),
                NodeInfo::new(Node::test("n").into()),
                &["Insufficient nvidia.com/gpu"],
            ),
            (
                "the pods slot comes first",
                Pod::test("p").requests("8", "0"),
                NodeInfo::with_pods(Node::test("n").capacity("4", "8Gi", 1), [Pod::test("a")]),
                &["Too many pods", "Insufficient cpu"],
            ),
        ];
        for (name, pod, node, want) in cases {
            assert_eq!(reasons(pod, node), want, "{name}");
        }
    }

    #[test]
    fn a_shortage_says_how_much_was_asked_used_and_had() {
        let node = NodeInfo::with_pods(Node::test("n"), [Pod::test("a").requests("3", "0")]);
        let got = fits(&pod_requests(&Pod::test("p").requests("2", "0"), false), &node);
        let want = InsufficientResource {
            resource: "cpu".into(),
            reason: "Insufficient cpu".into(),
            requested: 2000,
            used: 3000,
            capacity: 4000,
        };
        assert_eq!(got, vec![want]);
    }
}
