//! NodeName: a pod that names its node (`spec.nodeName`) fits that node only.
//!
//! Mirrors `pkg/scheduler/framework/plugins/nodename/node_name.go` (Kubernetes 1.31). A pod
//! created with `spec.nodeName` never reaches this scheduler (it watches `spec.nodeName=` only,
//! and the kubelet takes such a pod directly), so the plugin is here for the shape and for
//! whoever calls the framework with such a pod.

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::framework::{FilterPlugin, Status};
use crate::node_info::NodeInfo;

pub const NAME: &str = "NodeName";
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

pub fn fits(pod: &Pod, node: &Node) -> bool {
    let wanted = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
    wanted.is_empty() || Some(wanted) == node.metadata.name.as_deref()
}

pub struct NodeName;

impl FilterPlugin for NodeName {
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
    fn a_pod_naming_a_node_fits_that_node_only() {
        let cases = [
            ("no node named: any node", Pod::test("p"), "node-1", true),
            ("the named node", Pod::test("p").on_node("node-1"), "node-1", true),
            ("another node", Pod::test("p").on_node("node-1"), "node-2", false),
        ];
        for (name, pod, node, want) in cases {
            assert_eq!(fits(&pod, &Node::test(node)), want, "{name}");
        }
        let other = NodeInfo::new(Node::test("node-2").into());
        let status = NodeName.filter(&Pod::test("p").on_node("node-1"), &other);
        assert_eq!(status, Status::unresolvable("node(s) didn't match the requested node name"));
    }
}
