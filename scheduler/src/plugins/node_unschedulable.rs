//! NodeUnschedulable: a cordoned node (`spec.unschedulable`, what `kubectl cordon` sets) takes
//! no new pods, except those that tolerate the `node.kubernetes.io/unschedulable` taint
//! (DaemonSet pods do).
//!
//! Mirrors `pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go`
//! (Kubernetes 1.31).

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use super::taint_toleration::pod_tolerates;
use crate::framework::{FilterPlugin, Status};
use crate::node_info::NodeInfo;

pub const NAME: &str = "NodeUnschedulable";
pub const ERR_REASON: &str = "node(s) were unschedulable";
/// The taint a cordoned node behaves as if it had.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

pub fn fits(pod: &Pod, node: &Node) -> bool {
    let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
    let taint = Taint { key: TAINT_NODE_UNSCHEDULABLE.into(), effect: "NoSchedule".into(), ..Default::default() };
    !cordoned || pod_tolerates(pod, &taint)
}

pub struct NodeUnschedulable;

impl FilterPlugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo) -> Status {
        if fits(pod, &node.node) {
            Status::Success
        } else {
            Status::unresolvable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestNode, TestPod};

    #[test]
    fn a_cordoned_node_takes_only_pods_that_tolerate_the_unschedulable_taint() {
        let cases = [
            ("a schedulable node takes anyone", Node::test("n"), Pod::test("p"), true),
            ("a cordoned node takes no ordinary pod", Node::test("n").unschedulable(), Pod::test("p"), false),
            (
                "a pod tolerating the unschedulable taint is let in",
                Node::test("n").unschedulable(),
                Pod::test("p").tolerate(TAINT_NODE_UNSCHEDULABLE, "Exists", "", "NoSchedule"),
                true,
            ),
            (
                "tolerating another effect does not count",
                Node::test("n").unschedulable(),
                Pod::test("p").tolerate(TAINT_NODE_UNSCHEDULABLE, "Exists", "", "NoExecute"),
                false,
            ),
        ];
        for (name, node, pod, want) in cases {
            assert_eq!(fits(&pod, &node), want, "{name}");
        }
        let cordoned = NodeInfo::new(Node::test("n").unschedulable().into());
        assert_eq!(
            NodeUnschedulable.filter(&Pod::test("p"), &cordoned),
            Status::unresolvable("node(s) were unschedulable")
        );
    }
}
