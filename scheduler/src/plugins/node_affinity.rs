//! NodeAffinity: the pod's `nodeSelector` and its required node affinity pick the nodes it may
//! run on by their labels (and, with `matchFields`, by name).
//!
//! Mirrors `pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go` (PreFilter and
//! Filter) and `k8s.io/component-helpers/scheduling/corev1/nodeaffinity` (Kubernetes 1.31):
//!
//! - `nodeSelector`: every label given must be on the node with that value.
//! - `requiredDuringSchedulingIgnoredDuringExecution`: its terms are ORed; within a term, every
//!   `matchExpressions` and `matchFields` requirement must hold (ANDed); a term with neither
//!   matches nothing. Operators: `In`, `NotIn` (an absent label is "not in"), `Exists`,
//!   `DoesNotExist`, `Gt` and `Lt` (the label and the one value read as integers; an unreadable
//!   one does not match). `matchFields` knows one field, `metadata.name`, with `In` and `NotIn`.
//!
//! Both must hold. [`pre_filter`] narrows the candidates first when every term names nodes
//! (`matchFields metadata.name In [...]`, how a DaemonSet pins its pods): the other nodes are
//! rejected as `node(s) didn't satisfy plugin(s) [NodeAffinity]` without running any filter, and
//! terms whose names cannot all hold at once reject the pod: `pod affinity terms conflict`.
//!
//! Left out: the Score half (preferred affinity), and the scheduler-profile `addedAffinity`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod};

use crate::framework::{FilterPlugin, Status};
use crate::node_info::NodeInfo;

pub const NAME: &str = "NodeAffinity";
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

/// The reason given to the nodes [`pre_filter`] left out.
pub fn err_reason_pre_filter() -> String {
    format!("node(s) didn't satisfy plugin(s) [{NAME}]")
}

fn required(pod: &Pod) -> Option<&NodeSelector> {
    let affinity = pod.spec.as_ref()?.affinity.as_ref()?.node_affinity.as_ref()?;
    affinity.required_during_scheduling_ignored_during_execution.as_ref()
}

/// One `matchExpressions` requirement against the node's labels.
fn label_matches(requirement: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let label = labels.get(&requirement.key);
    let as_int = |text: &str| text.parse::<i64>().ok();
    let compare = |ordering: std::cmp::Ordering| match (label.and_then(|l| as_int(l)), values) {
        (Some(have), [limit]) => as_int(limit).is_some_and(|limit| have.cmp(&limit) == ordering),
        _ => false,
    };
    match requirement.operator.as_str() {
        "In" => label.is_some_and(|l| values.contains(l)),
        "NotIn" => label.is_none_or(|l| !values.contains(l)),
        "Exists" => label.is_some(),
        "DoesNotExist" => label.is_none(),
        "Gt" => compare(std::cmp::Ordering::Greater),
        "Lt" => compare(std::cmp::Ordering::Less),
        _ => false,
    }
}

/// One `matchFields` requirement against the node's name (the only field there is).
fn field_matches(requirement: &NodeSelectorRequirement, node_name: &str) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let named = values.iter().any(|v| v == node_name);
    match (requirement.key.as_str(), requirement.operator.as_str()) {
        ("metadata.name", "In") => named,
        ("metadata.name", "NotIn") => !named,
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let name = node.metadata.name.as_deref().unwrap_or_default();
    expressions.iter().all(|r| label_matches(r, &labels)) && fields.iter().all(|r| field_matches(r, name))
}

/// Whether the node satisfies the pod's `nodeSelector` and required node affinity.
pub fn fits(pod: &Pod, node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    let selector = pod.spec.as_ref().and_then(|s| s.node_selector.as_ref());
    let selected = selector.into_iter().flatten().all(|(key, value)| labels.and_then(|l| l.get(key)) == Some(value));
    let affine =
        required(pod).is_none_or(|required| required.node_selector_terms.iter().any(|t| term_matches(t, node)));
    selected && affine
}

/// Which nodes are worth filtering at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreFilterResult {
    AllNodes,
    /// Only these: every term names its nodes.
    Only(BTreeSet<String>),
    /// The terms name no node that could satisfy them.
    Conflict,
}

/// The nodes the pod's terms name with `matchFields metadata.name In`, when every term names
/// some. Requirements of one term are ANDed, so a term names the intersection of its lists;
/// terms are ORed, so the pod may go to the union. A term that names no node lets in any node.
pub fn pre_filter(pod: &Pod) -> PreFilterResult {
    let Some(required) = required(pod) else { return PreFilterResult::AllNodes };
    let mut union = BTreeSet::new();
    for term in &required.node_selector_terms {
        let mut named: Option<BTreeSet<String>> = None;
        for requirement in term.match_fields.iter().flatten() {
            if requirement.key == "metadata.name" && requirement.operator == "In" {
                let values: BTreeSet<String> = requirement.values.iter().flatten().cloned().collect();
                named = Some(match named {
                    None => values,
                    Some(so_far) => so_far.intersection(&values).cloned().collect(),
                });
            }
        }
        match named {
            None => return PreFilterResult::AllNodes,
            Some(names) => union.extend(names),
        }
    }
    if union.is_empty() {
        PreFilterResult::Conflict
    } else {
        PreFilterResult::Only(union)
    }
}

pub struct NodeAffinity;

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo) -> Status {
        if fits(pod, &node.node) {
            Status::Success
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{TestNode, TestPod};

    fn expression(key: &str, operator: &str, values: &[&str]) -> serde_json::Value {
        json!({"nodeSelectorTerms": [{"matchExpressions": [{"key": key, "operator": operator, "values": values}]}]})
    }

    #[test]
    fn the_node_selector_and_the_required_terms_pick_nodes_by_label() {
        let ssd = || Node::test("node-1").label("disk", "ssd").label("cores", "8");
        let cases = [
            ("no selector, any node", Pod::test("p"), ssd(), true),
            ("a matching nodeSelector", Pod::test("p").node_selector("disk", "ssd"), ssd(), true),
            ("a nodeSelector value differs", Pod::test("p").node_selector("disk", "hdd"), ssd(), false),
            ("a nodeSelector label is missing", Pod::test("p").node_selector("gpu", "yes"), ssd(), false),
            ("In", Pod::test("p").required_node_affinity(expression("disk", "In", &["nvme", "ssd"])), ssd(), true),
            (
                "In, not listed",
                Pod::test("p").required_node_affinity(expression("disk", "In", &["nvme"])),
                ssd(),
                false,
            ),
            ("NotIn", Pod::test("p").required_node_affinity(expression("disk", "NotIn", &["hdd"])), ssd(), true),
            (
                "NotIn an absent label holds",
                Pod::test("p").required_node_affinity(expression("gpu", "NotIn", &["a"])),
                ssd(),
                true,
            ),
            ("Exists", Pod::test("p").required_node_affinity(expression("disk", "Exists", &[])), ssd(), true),
            (
                "DoesNotExist",
                Pod::test("p").required_node_affinity(expression("disk", "DoesNotExist", &[])),
                ssd(),
                false,
            ),
            ("Gt as integers", Pod::test("p").required_node_affinity(expression("cores", "Gt", &["4"])), ssd(), true),
            ("Gt is strict", Pod::test("p").required_node_affinity(expression("cores", "Gt", &["8"])), ssd(), false),
            ("Lt", Pod::test("p").required_node_affinity(expression("cores", "Lt", &["16"])), ssd(), true),
            (
                "Gt of a non-number label",
                Pod::test("p").required_node_affinity(expression("disk", "Gt", &["1"])),
                ssd(),
                false,
            ),
            (
                "terms are ORed",
                Pod::test("p").required_node_affinity(json!({"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]},
                    {"matchExpressions": [{"key": "cores", "operator": "Exists"}]}]})),
                ssd(),
                true,
            ),
            (
                "requirements of a term are ANDed",
                Pod::test("p").required_node_affinity(json!({"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "disk", "operator": "In", "values": ["ssd"]},
                    {"key": "cores", "operator": "Gt", "values": ["10"]}]}]})),
                ssd(),
                false,
            ),
            (
                "an empty term matches nothing",
                Pod::test("p").required_node_affinity(json!({"nodeSelectorTerms": [{}]})),
                ssd(),
                false,
            ),
            (
                "matchFields by name",
                Pod::test("p").required_node_affinity(json!({"nodeSelectorTerms": [{"matchFields": [
                    {"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]})),
                ssd(),
                true,
            ),
            (
                "selector and affinity must both hold",
                Pod::test("p").node_selector("disk", "hdd").required_node_affinity(expression("disk", "Exists", &[])),
                ssd(),
                false,
            ),
        ];
        for (name, pod, node, want) in cases {
            assert_eq!(fits(&pod, &node), want, "{name}");
        }
        let plain = NodeInfo::new(Node::test("n").into());
        let status = NodeAffinity.filter(&Pod::test("p").node_selector("disk", "ssd"), &plain);
        assert_eq!(status, Status::unresolvable("node(s) didn't match Pod's node affinity/selector"));
    }

    #[test]
    fn terms_that_all_name_nodes_narrow_the_candidates_before_filtering() {
        let names = |terms: serde_json::Value| {
            pre_filter(&Pod::test("p").required_node_affinity(json!({"nodeSelectorTerms": terms})))
        };
        let name_in = |values: &[&str]| json!({"key": "metadata.name", "operator": "In", "values": values});
        let only = |names: &[&str]| PreFilterResult::Only(names.iter().map(|n| n.to_string()).collect());
        let cases = [
            ("no affinity: every node", pre_filter(&Pod::test("p")), PreFilterResult::AllNodes),
            ("one term naming a node", names(json!([{"matchFields": [name_in(&["node-2"])]}])), only(&["node-2"])),
            (
                "ORed terms: the union",
                names(json!([{"matchFields": [name_in(&["a"])]}, {"matchFields": [name_in(&["b"])]}])),
                only(&["a", "b"]),
            ),
            (
                "ANDed requirements: the intersection",
                names(json!([{"matchFields": [name_in(&["a", "b"]), name_in(&["b", "c"])]}])),
                only(&["b"]),
            ),
            (
                "a term naming no node lets every node in",
                names(
                    json!([{"matchFields": [name_in(&["a"])]}, {"matchExpressions": [{"key": "x", "operator": "Exists"}]}]),
                ),
                PreFilterResult::AllNodes,
            ),
            (
                "names that cannot all hold",
                names(json!([{"matchFields": [name_in(&["a"]), name_in(&["b"])]}])),
                PreFilterResult::Conflict,
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(err_reason_pre_filter(), "node(s) didn't satisfy plugin(s) [NodeAffinity]");
    }
}
