//! The scheduling framework: what a plugin answers, the two kinds of plugins, and the profile
//! that runs them in order.
//!
//! Mirrors `pkg/scheduler/framework/interface.go` (`Status`, its codes, `FilterPlugin`,
//! `ScorePlugin` with `NormalizeScore`) and the filter and score loops of
//! `pkg/scheduler/framework/runtime/framework.go` (Kubernetes 1.31).
//!
//! A plugin's answer is data, not an exception: [`Status::Success`], or one of two kinds of "no"
//! that differ only in what preemption could do about them, or an internal [`Status::Error`].
//! Filters run in the profile's order and stop at the first that says no, so every node fails
//! for the reasons of exactly one plugin (as `RunFilterPlugins` does).
//!
//! Left out: the other extension points (PreEnqueue, PreFilter as a trait, PostFilter, PreScore,
//! Reserve, Permit, PreBind, PostBind), `CycleState`, and plugin configuration. The one PreFilter
//! Skiff needs (node affinity to named nodes) is a plain function,
//! [`crate::plugins::node_affinity::pre_filter`], and the one PostFilter (preemption's message) is
//! [`crate::fit_error::preemption_message`].

use k8s_openapi::api::core::v1::Pod;

use crate::node_info::NodeInfo;

/// The best score a node can get from one plugin (`framework.MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// What a plugin says about one pod on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Success,
    /// The pod does not fit, but evicting pods from the node might make room (the node is full).
    Unschedulable(Vec<String>),
    /// The pod does not fit and nothing done to the node's pods would change that (a label, a
    /// taint, a cordon).
    UnschedulableAndUnresolvable(Vec<String>),
    /// The plugin could not decide: the scheduling attempt fails and is retried after a back-off.
    Error(String),
}

impl Status {
    pub fn unschedulable(reason: impl Into<String>) -> Status {
        Status::Unschedulable(vec![reason.into()])
    }

    pub fn unresolvable(reason: impl Into<String>) -> Status {
        Status::UnschedulableAndUnresolvable(vec![reason.into()])
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Status::Success)
    }

    /// The reasons a node was rejected, as the message counts them.
    pub fn reasons(&self) -> &[String] {
        match self {
            Status::Unschedulable(reasons) | Status::UnschedulableAndUnresolvable(reasons) => reasons,
            Status::Success | Status::Error(_) => &[],
        }
    }
}

/// Decides whether a pod may run on a node.
pub trait FilterPlugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn filter(&self, pod: &Pod, node: &NodeInfo) -> Status;
}

/// Ranks the nodes that passed every filter.
pub trait ScorePlugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// The node's score for this pod: in `0..=MAX_NODE_SCORE`, unless [`ScorePlugin::normalize`]
    /// brings the scores into that range afterwards.
    fn score(&self, pod: &Pod, node: &NodeInfo) -> i64;
    /// Rewrites the scores of all feasible nodes at once, for plugins whose score depends on the
    /// other nodes' (a count turned into "fewer is better").
    fn normalize(&self, _scores: &mut [i64]) {}
}

/// The plugins of one scheduler profile, in the order they run, with the score weights.
pub struct Framework {
    pub filters: Vec<Box<dyn FilterPlugin>>,
    /// Each score plugin with its weight: a node's total is the weighted sum.
    pub scorers: Vec<(Box<dyn ScorePlugin>, i64)>,
}

/// The outcome of the filters on one node: its status and the plugin that gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub plugin: &'static str,
    pub status: Status,
}

impl Framework {
    /// Runs the filters in order; the first that does not say `Success` decides.
    pub fn run_filter_plugins(&self, pod: &Pod, node: &NodeInfo) -> Option<Verdict> {
        self.filters.iter().find_map(|plugin| {
            let status = plugin.filter(pod, node);
            (!status.is_success()).then(|| Verdict { plugin: plugin.name(), status })
        })
    }

    /// Every feasible node's weighted total score, in the order of `nodes`.
    ///
    /// Each plugin scores every node, normalizes if it wants to, and its scores are clamped to
    /// `0..=100` and multiplied by its weight: with LeastAllocated (weight 1) giving 62 and
    /// SelectorSpread (weight 2) giving 50, a node totals 62 + 100 = 162.
    pub fn run_score_plugins(&self, pod: &Pod, nodes: &[&NodeInfo]) -> Vec<i64> {
        let mut totals = vec![0; nodes.len()];
        for (plugin, weight) in &self.scorers {
            let mut scores: Vec<i64> = nodes.iter().map(|node| plugin.score(pod, node)).collect();
            plugin.normalize(&mut scores);
            for (total, score) in totals.iter_mut().zip(scores) {
                *total += score.clamp(0, MAX_NODE_SCORE) * weight;
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestNode, TestPod};
    use k8s_openapi::api::core::v1::Node;

    struct Says(&'static str, Status);
    impl FilterPlugin for Says {
        fn name(&self) -> &'static str {
            self.0
        }
        fn filter(&self, _: &Pod, _: &NodeInfo) -> Status {
            self.1.clone()
        }
    }

    struct Fixed(&'static str, i64);
    impl ScorePlugin for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn score(&self, _: &Pod, node: &NodeInfo) -> i64 {
            if node.name() == "a" {
                self.1
            } else {
                0
            }
        }
    }

    #[test]
    fn the_first_filter_that_says_no_decides_and_later_ones_do_not_run() {
        let framework = Framework {
            filters: vec![
                Box::new(Says("First", Status::Success)),
                Box::new(Says("Second", Status::unresolvable("node(s) were unschedulable"))),
                Box::new(Says("Third", Status::Error("never asked".into()))),
            ],
            scorers: vec![],
        };
        let node = NodeInfo::new(Node::test("a").into());
        let verdict = framework.run_filter_plugins(&Pod::test("p"), &node).unwrap();
        assert_eq!(verdict.plugin, "Second");
        assert_eq!(verdict.status.reasons(), ["node(s) were unschedulable"]);
    }

    #[test]
    fn scores_are_clamped_then_weighted_and_summed() {
        let framework = Framework {
            filters: vec![],
            scorers: vec![(Box::new(Fixed("Small", 62)), 1), (Box::new(Fixed("Big", 250)), 2)],
        };
        let (a, b) = (NodeInfo::new(Node::test("a").into()), NodeInfo::new(Node::test("b").into()));
        assert_eq!(framework.run_score_plugins(&Pod::test("p"), &[&a, &b]), vec![62 + 200, 0]);
    }
}
