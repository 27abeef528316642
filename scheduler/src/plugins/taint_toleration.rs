//! TaintToleration: a node's `NoSchedule` and `NoExecute` taints keep off every pod that does
//! not tolerate them.
//!
//! Mirrors `pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go` (Filter) and
//! `Toleration.ToleratesTaint` of `k8s.io/api/core/v1` (Kubernetes 1.31). The message names the
//! first taint not tolerated, in the node's order: `node(s) had untolerated taint {dedicated: gpu}`.
//!
//! Left out: the Score half (fewer untolerated `PreferNoSchedule` taints is better).

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};

use crate::framework::{FilterPlugin, Status};
use crate::node_info::NodeInfo;

pub const NAME: &str = "TaintToleration";

/// The reason, naming the taint as Kubernetes prints it (an empty value prints as nothing).
pub fn err_reason(key: &str, value: &str) -> String {
    format!("node(s) had untolerated taint {{{key}: {value}}}")
}

/// Whether one toleration tolerates one taint: the effect (if given) and key (if given) must be
/// the taint's; `Exists` then matches any value, `Equal` (or no operator) the same value.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => toleration.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        "Exists" => true,
        _ => false,
    }
}

/// Whether any of the pod's tolerations tolerates `taint`.
pub fn pod_tolerates(pod: &Pod, taint: &Taint) -> bool {
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default();
    tolerations.iter().any(|toleration| tolerates(toleration, taint))
}

/// `Ok` if the pod tolerates every taint that keeps pods off; else the first one it does not.
pub fn fits<'a>(pod: &Pod, node: &'a Node) -> Result<(), &'a Taint> {
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default();
    let keeps_off = |t: &&Taint| matches!(t.effect.as_str(), "NoSchedule" | "NoExecute");
    match taints.iter().filter(keeps_off).find(|taint| !pod_tolerates(pod, taint)) {
        Some(taint) => Err(taint),
        None => Ok(()),
    }
}

pub struct TaintToleration;

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo) -> Status {
        match fits(pod, &node.node) {
            Ok(()) => Status::Success,
            Err(taint) => Status::unresolvable(err_reason(&taint.key, taint.value.as_deref().unwrap_or_default())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestNode, TestPod};

    #[test]
    fn a_pod_passes_a_node_only_if_it_tolerates_every_taint_that_keeps_pods_off() {
        let gpu = || Node::test("n").taint("dedicated", "gpu", "NoSchedule");
        let cases = [
            ("an untainted node takes anyone", Node::test("n"), Pod::test("p"), Ok(())),
            ("an untolerated taint keeps the pod off", gpu(), Pod::test("p"), Err("{dedicated: gpu}")),
            (
                "Equal with the same value tolerates",
                gpu(),
                Pod::test("p").tolerate("dedicated", "Equal", "gpu", "NoSchedule"),
                Ok(()),
            ),
            (
                "Equal with another value does not",
                gpu(),
                Pod::test("p").tolerate("dedicated", "Equal", "db", ""),
                Err("{dedicated: gpu}"),
            ),
            ("Exists ignores the value", gpu(), Pod::test("p").tolerate("dedicated", "Exists", "", ""), Ok(())),
            ("no operator means Equal", gpu(), Pod::test("p").tolerate("dedicated", "", "gpu", ""), Ok(())),
            (
                "an empty key with Exists tolerates everything",
                gpu(),
                Pod::test("p").tolerate("", "Exists", "", ""),
                Ok(()),
            ),
            (
                "another effect does not tolerate",
                gpu(),
                Pod::test("p").tolerate("dedicated", "Exists", "", "NoExecute"),
                Err("{dedicated: gpu}"),
            ),
            (
                "PreferNoSchedule keeps no pod off",
                Node::test("n").taint("soft", "", "PreferNoSchedule"),
                Pod::test("p"),
                Ok(()),
            ),
            (
                "NoExecute keeps pods off too",
                Node::test("n").taint("evict", "", "NoExecute"),
                Pod::test("p"),
                Err("{evict: }"),
            ),
            (
                "the first untolerated taint is named",
                gpu().taint("zone", "b", "NoSchedule"),
                Pod::test("p").tolerate("dedicated", "Exists", "", ""),
                Err("{zone: b}"),
            ),
        ];
        for (name, node, pod, want) in cases {
            let got =
                fits(&pod, &node).map_err(|t| format!("{{{}: {}}}", t.key, t.value.as_deref().unwrap_or_default()));
            assert_eq!(got, want.map_err(str::to_string), "{name}");
        }
    }

    #[test]
    fn the_reason_reads_as_kubernetes_prints_it() {
        let node = NodeInfo::new(Node::test("n").taint("dedicated", "gpu", "NoSchedule").into());
        let status = TaintToleration.filter(&Pod::test("p"), &node);
        assert_eq!(status, Status::unresolvable("node(s) had untolerated taint {dedicated: gpu}"));
    }
}
