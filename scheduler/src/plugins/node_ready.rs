//! NodeReady: a node whose `Ready` condition is not `True` takes no new pods, unless they
//! tolerate the taint Kubernetes would put on it.
//!
//! Kubernetes has no such filter: its node lifecycle controller taints a node by its condition
//! (`pkg/controller/nodelifecycle`, "TaintNodesByCondition": `Ready=False` →
//! `node.kubernetes.io/not-ready:NoSchedule`, `Ready=Unknown` →
//! `node.kubernetes.io/unreachable:NoSchedule`; the kubelet registers a node with the not-ready
//! taint until it reports `Ready`), and TaintToleration does the rest. Skiff's scheduler reads the
//! condition itself, as if the taint were there, so a cluster without that controller behaves
//! the same, and the message is the one Kubernetes shows:
//! `node(s) had untolerated taint {node.kubernetes.io/not-ready: }`.
//!
//! When the taint *is* on the node, TaintToleration (which runs first) has already decided, and
//! this plugin agrees with it.

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use super::taint_toleration::{err_reason, pod_tolerates};
use crate::framework::{FilterPlugin, Status};
use crate::node_info::NodeInfo;

pub const NAME: &str = "NodeReady";
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// The taint Kubernetes' node lifecycle controller would give the node for its `Ready`
/// condition: none when `True`, unreachable when `Unknown`, not-ready when `False` or absent.
pub fn condition_taint(node: &Node) -> Option<&'static str> {
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    match conditions.iter().find(|c| c.type_ == "Ready").map(|c| c.status.as_str()) {
        Some("True") => None,
        Some("Unknown") => Some(TAINT_UNREACHABLE),
        _ => Some(TAINT_NOT_READY),
    }
}

/// `Ok` if the node is Ready or the pod tolerates its condition's taint; else that taint's key.
pub fn fits(pod: &Pod, node: &Node) -> Result<(), &'static str> {
    match condition_taint(node) {
        None => Ok(()),
        Some(key) => {
            let taint = Taint { key: key.into(), effect: "NoSchedule".into(), ..Default::default() };
            if pod_tolerates(pod, &taint) {
                Ok(())
            } else {
                Err(key)
            }
        }
    }
}

pub struct NodeReady;

impl FilterPlugin for NodeReady {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo) -> Status {
        match fits(pod, &node.node) {
            Ok(()) => Status::Success,
            Err(key) => Status::unresolvable(err_reason(key, "")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestNode, TestPod};

    #[test]
    fn only_ready_nodes_take_pods_that_do_not_tolerate_their_condition() {
        let cases = [
            ("a Ready node", Node::test("n"), Pod::test("p"), Ok(())),
            ("Ready=False is not-ready", Node::test("n").ready("False"), Pod::test("p"), Err(TAINT_NOT_READY)),
            ("Ready=Unknown is unreachable", Node::test("n").ready("Unknown"), Pod::test("p"), Err(TAINT_UNREACHABLE)),
            (
                "no condition yet is not-ready",
                Node::test("n").without_conditions(),
                Pod::test("p"),
                Err(TAINT_NOT_READY),
            ),
            (
                "a pod tolerating not-ready goes anyway",
                Node::test("n").ready("False"),
                Pod::test("p").tolerate(TAINT_NOT_READY, "Exists", "", "NoSchedule"),
                Ok(()),
            ),
            (
                "the default NoExecute toleration does not let a pod in",
                Node::test("n").ready("False"),
                Pod::test("p").tolerate(TAINT_NOT_READY, "Exists", "", "NoExecute"),
                Err(TAINT_NOT_READY),
            ),
        ];
        for (name, node, pod, want) in cases {
            assert_eq!(fits(&pod, &node), want, "{name}");
        }
        let down = NodeInfo::new(Node::test("n").ready("False").into());
        let status = NodeReady.filter(&Pod::test("p"), &down);
        assert_eq!(status, Status::unresolvable("node(s) had untolerated taint {node.kubernetes.io/not-ready: }"));
    }
}
