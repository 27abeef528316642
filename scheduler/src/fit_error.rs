//! Why a pod fits nowhere, in Kubernetes' words: the message of the `PodScheduled=False`
//! condition and of the `FailedScheduling` event.
//!
//! Mirrors `FitError.Error()` of `pkg/scheduler/framework/types.go` and the message preemption
//! adds (`pkg/scheduler/framework/preemption/preemption.go`, `defaultpreemption`), Kubernetes
//! 1.31:
//!
//! ```text
//! 0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu.
//!    preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.
//! ```
//!
//! 1. Count every reason of every node (a node short of cpu and memory counts for both).
//! 2. Print each as `<count> <reason>` and sort those strings as strings (so `10 …` sorts
//!    before `2 …`, as Go's `sort.Strings` does), join them with `, `, end with `.`.
//! 3. If a PreFilter rejected the pod outright, its message replaces the counts.
//! 4. Append what preemption says, itself a message of the same form: a node rejected for a
//!    reason no eviction can change is `Preemption is not helpful for scheduling`; a node that
//!    was full would need victims, and Skiff evicts nobody, so it is `No preemption victims found
//!    for incoming pod` (what Kubernetes says too when no pod of lower priority runs there). A
//!    pod with `preemptionPolicy: Never` is `not eligible due to preemptionPolicy=Never.`
//!
//! Left out: preemption itself (choosing victims, `nominatedNodeName`); Skiff never evicts.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::Status;

/// The message when the cluster has no node at all (`ErrNoNodesAvailable`).
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";
pub const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_PREEMPTION_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_ELIGIBLE_NEVER: &str = "not eligible due to preemptionPolicy=Never.";

/// What the filters said about each node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// Every rejected node's status, by node name.
    pub node_to_status: BTreeMap<String, Status>,
    /// The message of a PreFilter that rejected the pod before any node was looked at.
    pub pre_filter_msg: Option<String>,
    /// What preemption (the PostFilter) said.
    pub post_filter_msg: Option<String>,
}

/// The pod fits on none of `num_all_nodes` nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    pub num_all_nodes: usize,
    pub diagnosis: Diagnosis,
}

/// Steps 1 and 2: `1 node(s) were unschedulable, 2 Insufficient cpu`.
pub fn reason_histogram<'a>(statuses: impl IntoIterator<Item = &'a Status>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for status in statuses {
        for reason in status.reasons() {
            *counts.entry(reason.as_str()).or_default() += 1;
        }
    }
    let mut lines: Vec<String> = counts.into_iter().map(|(reason, n)| format!("{n} {reason}")).collect();
    lines.sort();
    lines.join(", ")
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        match &self.diagnosis.pre_filter_msg {
            Some(message) => write!(f, " {message}.")?,
            None => {
                let histogram = reason_histogram(self.diagnosis.node_to_status.values());
                if !histogram.is_empty() {
                    write!(f, " {histogram}.")?;
                }
            }
        }
        if let Some(message) = &self.diagnosis.post_filter_msg {
            write!(f, " {message}")?;
        }
        Ok(())
    }
}

/// Step 4: what preemption says about a pod that fits nowhere, `preemption: …`.
pub fn preemption_message(pod: &Pod, fit: &FitError) -> String {
    let policy = pod.spec.as_ref().and_then(|s| s.preemption_policy.as_deref());
    if policy == Some("Never") {
        return format!("preemption: {NOT_ELIGIBLE_NEVER}");
    }
    let node_to_status = fit
        .diagnosis
        .node_to_status
        .iter()
        .map(|(node, status)| {
            let status = match status {
                Status::Unschedulable(_) => Status::unschedulable(NO_PREEMPTION_VICTIMS),
                _ => Status::unresolvable(PREEMPTION_NOT_HELPFUL),
            };
            (node.clone(), status)
        })
        .collect();
    let preemption =
        FitError { num_all_nodes: fit.num_all_nodes, diagnosis: Diagnosis { node_to_status, ..Default::default() } };
    format!("preemption: {preemption}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestPod;

    fn fit_error(statuses: &[(&str, Status)]) -> FitError {
        let node_to_status = statuses.iter().map(|(n, s)| (n.to_string(), s.clone())).collect();
        FitError { num_all_nodes: statuses.len(), diagnosis: Diagnosis { node_to_status, ..Default::default() } }
    }

    fn with_preemption(pod: &Pod, mut fit: FitError) -> String {
        fit.diagnosis.post_filter_msg = Some(preemption_message(pod, &fit));
        fit.to_string()
    }

    #[test]
    fn the_message_counts_reasons_sorted_as_strings_then_adds_preemption() {
        let affinity = || Status::unresolvable("node(s) didn't match Pod's node affinity/selector");
        let cpu = || Status::unschedulable("Insufficient cpu");
        let cases = [
            (
                "the issue's example, with 1.31's preemption suffix",
                fit_error(&[("a", affinity()), ("b", cpu()), ("c", cpu())]),
                "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. \
                 preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
                 2 No preemption victims found for incoming pod.",
            ),
            (
                "every node too small",
                fit_error(&[("a", cpu()), ("b", cpu()), ("c", cpu())]),
                "0/3 nodes are available: 3 Insufficient cpu. \
                 preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
            ),
            (
                "one node short of two things counts for both",
                fit_error(&[("a", Status::Unschedulable(vec!["Insufficient cpu".into(), "Insufficient memory".into()]))]),
                "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. \
                 preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
            ),
            (
                "counts sort as strings: 10 before 2",
                fit_error(
                    &(0..12)
                        .map(|i| {
                            let status = if i < 10 { affinity() } else { Status::unresolvable("node(s) were unschedulable") };
                            (["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "na", "nb"][i], status)
                        })
                        .collect::<Vec<_>>(),
                ),
                "0/12 nodes are available: 10 node(s) didn't match Pod's node affinity/selector, 2 node(s) were unschedulable. \
                 preemption: 0/12 nodes are available: 12 Preemption is not helpful for scheduling.",
            ),
            (
                "same counts sort by reason",
                fit_error(&[
                    ("a", Status::unresolvable("node(s) were unschedulable")),
                    ("b", Status::unresolvable("node(s) had untolerated taint {dedicated: gpu}")),
                    ("c", affinity()),
                ]),
                "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
                 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. \
                 preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
            ),
        ];
        for (name, fit, want) in cases {
            assert_eq!(with_preemption(&Pod::test("p"), fit), want, "{name}");
        }
    }

    #[test]
    fn a_pod_that_never_preempts_says_so() {
        let fit = fit_error(&[("a", Status::unschedulable("Too many pods"))]);
        assert_eq!(
            with_preemption(&Pod::test("p").never_preempts(), fit),
            "0/1 nodes are available: 1 Too many pods. preemption: not eligible due to preemptionPolicy=Never."
        );
    }

    #[test]
    fn a_pre_filter_rejection_replaces_the_counts() {
        let mut fit = fit_error(&[
            ("a", Status::unresolvable("pod affinity terms conflict")),
            ("b", Status::unresolvable("pod affinity terms conflict")),
        ]);
        fit.diagnosis.pre_filter_msg = Some("pod affinity terms conflict".into());
        assert_eq!(
            with_preemption(&Pod::test("p"), fit),
            "0/2 nodes are available: pod affinity terms conflict. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        );
    }
}
