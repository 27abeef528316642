//! One scheduling attempt, top-down as `scheduleOne` reads (`pkg/scheduler/schedule_one.go`,
//! Kubernetes 1.31):
//!
//! 1. Take the next pod from the queue; skip it if it is gone, being deleted, or already ours.
//! 2. [`schedule_pod`], pure: find the nodes that fit → score them → select one.
//! 3. Assume the pod on that node (it counts there from now on), then bind it in a task of its
//!    own, so the next pod is scheduled while the bind travels (the binding cycle). The bind
//!    succeeds: a `Scheduled` event. Someone bound the pod first (`409`): nothing to do. Another
//!    failure: forget the assumption, back to the queue.
//! 4. Nothing fits: the pod goes back to the queue to wait for a cluster event, with a `Warning
//!    FailedScheduling` event and `PodScheduled=False` (reason `Unschedulable`) saying why.
//!
//! Left out: the Reserve, Permit, PreBind and PostBind steps, nominated nodes, and
//! `percentageOfNodesToScore` (every node is filtered and scored).

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;
use rand::Rng;
use serde_json::{json, Value};
use skiff_client::events::{Recorder, Reference};
use skiff_client::reflector::{ObjectKey, Store};
use skiff_client::{Api, Client, Patch};
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::cache::Cache;
use crate::fit_error::{preemption_message, Diagnosis, FitError, NO_NODES_AVAILABLE};
use crate::framework::{Framework, Status, Verdict};
use crate::metrics;
use crate::node_info::NodeInfo;
use crate::plugins::node_affinity::{self, PreFilterResult};
use crate::queue::SchedulingQueue;

/// Events longer than this are cut (`validation.NoteLengthLimit`).
const EVENT_MESSAGE_LIMIT: usize = 1024;

/// Where the pod goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    pub suggested_host: String,
    pub evaluated_nodes: usize,
    pub feasible_nodes: usize,
}

/// Why a pod was not placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// The cluster has no node.
    NoNodes,
    /// No node fits: the message says why, node by node.
    Unfit(FitError),
    /// A plugin could not decide.
    Plugin { plugin: &'static str, message: String },
}

impl ScheduleError {
    /// The `PodScheduled=False` reason: `Unschedulable` when the pod fits nowhere,
    /// `SchedulerError` when the scheduler could not tell.
    pub fn reason(&self) -> &'static str {
        match self {
            ScheduleError::NoNodes | ScheduleError::Unfit(_) => "Unschedulable",
            ScheduleError::Plugin { .. } => "SchedulerError",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ScheduleError::NoNodes => NO_NODES_AVAILABLE.to_string(),
            ScheduleError::Unfit(fit) => fit.to_string(),
            ScheduleError::Plugin { plugin, message } => format!("running {plugin:?} filter plugin: {message}"),
        }
    }
}

/// Step 2a: the nodes that pass every filter, and why the others did not.
pub fn find_nodes_that_fit<'a>(
    framework: &Framework,
    pod: &Pod,
    nodes: &'a [NodeInfo],
) -> Result<(Vec<&'a NodeInfo>, Diagnosis), ScheduleError> {
    let mut diagnosis = Diagnosis::default();
    let mut reject = |node: &NodeInfo, status: Status| {
        diagnosis.node_to_status.insert(node.name().to_string(), status);
    };
    let candidates: Vec<&NodeInfo> = match node_affinity::pre_filter(pod) {
        PreFilterResult::AllNodes => nodes.iter().collect(),
        PreFilterResult::Only(names) => nodes
            .iter()
            .filter(|node| {
                let named = names.contains(node.name());
                if !named {
                    reject(node, Status::unresolvable(node_affinity::err_reason_pre_filter()));
                }
                named
            })
            .collect(),
        PreFilterResult::Conflict => {
            for node in nodes {
                reject(node, Status::unresolvable(node_affinity::ERR_REASON_CONFLICT));
            }
            diagnosis.pre_filter_msg = Some(node_affinity::ERR_REASON_CONFLICT.to_string());
            return Ok((Vec::new(), diagnosis));
        }
    };
    let mut feasible = Vec::new();
    for node in candidates {
        match framework.run_filter_plugins(pod, node) {
            None => feasible.push(node),
            Some(Verdict { plugin, status: Status::Error(message) }) => {
                return Err(ScheduleError::Plugin { plugin, message })
            }
            Some(Verdict { status, .. }) => reject(node, status),
        }
    }
    Ok((feasible, diagnosis))
}

/// Step 2b: every feasible node's total score.
pub fn prioritize_nodes(framework: &Framework, pod: &Pod, feasible: &[&NodeInfo]) -> Vec<(String, i64)> {
    let totals = framework.run_score_plugins(pod, feasible);
    feasible.iter().map(|node| node.name().to_string()).zip(totals).collect()
}

/// Step 2c: the best-scoring node; among equals, each is equally likely (reservoir sampling: the
/// n-th tie seen replaces the choice with probability 1/n), so equal nodes share the load.
pub fn select_host(scores: &[(String, i64)], rng: &mut impl Rng) -> String {
    let mut best = &scores[0];
    let mut ties = 1;
    for candidate in &scores[1..] {
        if candidate.1 > best.1 {
            best = candidate;
            ties = 1;
        } else if candidate.1 == best.1 {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = candidate;
            }
        }
    }
    best.0.clone()
}

/// Step 2: where the pod should go, from a snapshot of the nodes.
pub fn schedule_pod(
    framework: &Framework,
    pod: &Pod,
    nodes: &[NodeInfo],
    rng: &mut impl Rng,
) -> Result<ScheduleResult, ScheduleError> {
    if nodes.is_empty() {
        return Err(ScheduleError::NoNodes);
    }
    let (feasible, diagnosis) = find_nodes_that_fit(framework, pod, nodes)?;
    if feasible.is_empty() {
        let mut fit = FitError { num_all_nodes: nodes.len(), diagnosis };
        fit.diagnosis.post_filter_msg = Some(preemption_message(pod, &fit));
        return Err(ScheduleError::Unfit(fit));
    }
    let suggested_host = if feasible.len() == 1 {
        feasible[0].name().to_string()
    } else {
        select_host(&prioritize_nodes(framework, pod, &feasible), rng)
    };
    Ok(ScheduleResult { suggested_host, evaluated_nodes: nodes.len(), feasible_nodes: feasible.len() })
}

/// The status patch that records a failed attempt, or `None` if the pod already says so.
/// The transition time moves only when the condition's status does.
pub fn unschedulable_condition_patch(pod: &Pod, reason: &str, message: &str, now: &str) -> Option<Value> {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    let current = conditions.iter().find(|c| c.type_ == "PodScheduled");
    if let Some(c) = current {
        if c.status == "False" && c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(message) {
            return None;
        }
    }
    let since = match current {
        Some(c) if c.status == "False" => c.last_transition_time.as_ref().map(|t| json!(t)),
        _ => None,
    };
    let condition = json!({"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                           "lastTransitionTime": since.unwrap_or_else(|| json!(now))});
    Some(json!({"status": {"conditions": [condition]}}))
}

fn truncate(message: &str) -> String {
    if message.len() <= EVENT_MESSAGE_LIMIT {
        return message.to_string();
    }
    let mut cut = EVENT_MESSAGE_LIMIT - 4;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} ...", &message[..cut])
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// The scheduler of one profile; cheap to clone (binding tasks hold a clone).
#[derive(Clone)]
pub struct Scheduler {
    /// The profile: the `schedulerName` this scheduler serves.
    pub name: String,
    pub client: Client,
    pub recorder: Recorder,
    pub framework: Arc<Framework>,
    pub queue: Arc<SchedulingQueue>,
    pub cache: Arc<Cache>,
    /// The pods waiting to be scheduled, as the watch last saw them.
    pub unscheduled: Store<Pod>,
    /// The binding cycles in flight.
    pub binds: TaskTracker,
}

impl Scheduler {
    /// One attempt for the next pod; `false` once the queue is closed.
    pub async fn schedule_one(&self) -> bool {
        let Some(key) = self.queue.pop().await else { return false };
        let started = Instant::now();
        let Some(pod) = self.unscheduled.get(&key) else {
            // Bound or deleted since it was queued.
            self.queue.delete(&key);
            return true;
        };
        if pod.metadata.deletion_timestamp.is_some() || self.cache.is_assumed(&uid(&pod)) {
            self.queue.done(&key);
            return true;
        }
        let snapshot = self.cache.snapshot();
        let result = schedule_pod(&self.framework, &pod, &snapshot, &mut rand::rng());
        match result {
            Ok(result) => {
                debug!(pod = %key, node = result.suggested_host, feasible = result.feasible_nodes,
                       evaluated = result.evaluated_nodes, "node chosen");
                self.cache.assume(&pod, &result.suggested_host);
                self.queue.done(&key);
                let this = self.clone();
                self.binds.spawn(async move { this.binding_cycle(pod, key, result.suggested_host, started).await });
            }
            Err(error) => self.handle_scheduling_failure(&pod, &key, &error, started).await,
        }
        metrics::pending(self.queue.pending());
        true
    }

    /// Step 3, in a task of its own: bind, then tell.
    #[tracing::instrument(name = "bind", skip_all, fields(pod = %key, node = %node))]
    async fn binding_cycle(&self, pod: Arc<Pod>, key: ObjectKey, node: String, started: Instant) {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        match self.client.bind(&namespace, &key.name, &node).await {
            Ok(()) => {
                self.cache.finish_binding(&uid(&pod));
                metrics::attempt("scheduled", &self.name, started.elapsed());
                info!("bound");
                let message = format!("Successfully assigned {namespace}/{} to {node}", key.name);
                self.recorder.normal(&Reference::of(pod.as_ref()), "Scheduled", &message).await;
            }
            Err(err) if err.is_conflict() || err.is_not_found() => {
                // Bound by someone else first, or deleted: nothing left to do for this pod.
                self.cache.forget(&uid(&pod));
                metrics::attempt("error", &self.name, started.elapsed());
                info!(cause = %err, "not bound: the pod is bound already or gone");
            }
            Err(err) => {
                self.cache.forget(&uid(&pod));
                let error = ScheduleError::Plugin { plugin: "DefaultBinder", message: err.to_string() };
                warn!(cause = %err, "bind failed; retrying after a back-off");
                self.queue.add_backoff(&key);
                metrics::attempt("error", &self.name, started.elapsed());
                self.report_failure(&pod, &key, &error, &format!("binding rejected: {err}")).await;
            }
        }
    }

    /// Step 4: back to the queue, then an event and the pod's condition say why.
    async fn handle_scheduling_failure(&self, pod: &Pod, key: &ObjectKey, error: &ScheduleError, started: Instant) {
        match error {
            ScheduleError::Plugin { .. } => {
                self.queue.add_backoff(key);
                metrics::attempt("error", &self.name, started.elapsed());
            }
            ScheduleError::NoNodes | ScheduleError::Unfit(_) => {
                self.queue.add_unschedulable(key);
                metrics::attempt("unschedulable", &self.name, started.elapsed());
            }
        }
        let message = error.message();
        info!(pod = %key, reason = error.reason(), why = message, "unable to schedule pod; waiting");
        self.report_failure(pod, key, error, &message).await;
    }

    async fn report_failure(&self, pod: &Pod, key: &ObjectKey, error: &ScheduleError, message: &str) {
        self.recorder.warning(&Reference::of(pod), "FailedScheduling", &truncate(message)).await;
        let now = skiff_api::age::format_timestamp(skiff_api::age::now());
        let Some(patch) = unschedulable_condition_patch(pod, error.reason(), message, &now) else { return };
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), key.namespace.as_deref().unwrap_or_default());
        match pods.patch_status(&key.name, &Patch::Strategic(patch)).await {
            Ok(_) => {}
            Err(err) if err.is_not_found() => {}
            Err(err) => warn!(pod = %key, cause = %err, "could not record the PodScheduled condition"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::Node;
    use rand::SeedableRng;
    use skiff_client::reflector::Writer;

    use super::*;
    use crate::plugins::default_framework;
    use crate::testing::{TestNode, TestPod};

    fn framework() -> Framework {
        default_framework(Writer::default().store())
    }

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    fn message(pod: &Pod, nodes: &[NodeInfo]) -> String {
        schedule_pod(&framework(), pod, nodes, &mut rng()).unwrap_err().message()
    }

    fn nodes(nodes: impl IntoIterator<Item = Node>) -> Vec<NodeInfo> {
        nodes.into_iter().map(|n| NodeInfo::new(Arc::new(n))).collect()
    }

    #[test]
    fn the_only_fitting_node_is_chosen_without_scoring() {
        let cluster =
            nodes([Node::test("node-1"), Node::test("node-2").ready("False"), Node::test("node-3").unschedulable()]);
        let result = schedule_pod(&framework(), &Pod::test("web-0"), &cluster, &mut rng()).unwrap();
        assert_eq!(result, ScheduleResult { suggested_host: "node-1".into(), evaluated_nodes: 3, feasible_nodes: 1 });
    }

    #[test]
    fn a_pod_that_fits_nowhere_gets_kubernetes_message() {
        let big = Pod::test("big").requests("8", "1Gi").node_selector("disk", "ssd");
        let cluster = nodes([
            Node::test("node-1"),
            Node::test("node-2").label("disk", "ssd"),
            Node::test("node-3").label("disk", "ssd"),
        ]);
        assert_eq!(
            message(&big, &cluster),
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
             2 No preemption victims found for incoming pod."
        );
        let mixed = nodes([
            Node::test("a").unschedulable(),
            Node::test("b").taint("dedicated", "gpu", "NoSchedule"),
            Node::test("c").ready("False"),
            Node::test("d"),
        ]);
        assert_eq!(
            message(&Pod::test("p").node_selector("disk", "ssd"), &mixed),
            "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
             1 node(s) had untolerated taint {dedicated: gpu}, \
             1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable. \
             preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
        );
        assert_eq!(message(&Pod::test("p"), &[]), "no nodes available to schedule pods");
    }

    #[test]
    fn a_daemon_pod_pinned_by_name_rejects_the_other_nodes_before_filtering() {
        let pinned = Pod::test("ds").required_node_affinity(json!({"nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}]}));
        let full = NodeInfo::with_pods(Node::test("node-2").capacity("4", "8Gi", 1), [Pod::test("x")]);
        let cluster =
            vec![NodeInfo::new(Node::test("node-1").into()), full, NodeInfo::new(Node::test("node-3").into())];
        assert_eq!(
            message(&pinned, &cluster),
            "0/3 nodes are available: 1 Too many pods, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. \
             preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
             2 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn the_emptiest_node_wins() {
        let cluster = vec![
            NodeInfo::with_pods(Node::test("busy"), [Pod::test("a").requests("3", "6Gi")]),
            NodeInfo::new(Node::test("idle").into()),
            NodeInfo::with_pods(Node::test("some"), [Pod::test("b").requests("1", "1Gi")]),
        ];
        let result = schedule_pod(&framework(), &Pod::test("p").requests("500m", "512Mi"), &cluster, &mut rng());
        assert_eq!(result.unwrap().suggested_host, "idle");
    }

    #[test]
    fn pods_of_one_owner_avoid_the_nodes_that_have_them() {
        // Two equally empty nodes by resources; node-a already runs two pods of rs-1.
        let cluster = [
            NodeInfo::with_pods(
                Node::test("node-a"),
                [Pod::test("w1").owned_by("rs-1"), Pod::test("w2").owned_by("rs-1")],
            ),
            NodeInfo::with_pods(Node::test("node-b"), [Pod::test("x1"), Pod::test("x2")]),
        ];
        let pod = Pod::test("w3").owned_by("rs-1");
        let feasible: Vec<&NodeInfo> = cluster.iter().collect();
        let scores: BTreeMap<String, i64> = prioritize_nodes(&framework(), &pod, &feasible).into_iter().collect();
        // LeastAllocated: three pods' worth of defaults (300m, 600Mi) on 4 cpu and 8Gi → 92 on
        // both. SelectorSpread: counts 2 and 0 → 0 and 100, weight 2.
        assert_eq!(scores, BTreeMap::from([("node-a".into(), 92), ("node-b".into(), 92 + 200)]));
    }

    #[test]
    fn ties_are_broken_evenly_and_never_for_a_lower_score() {
        let scores = vec![("a".to_string(), 50), ("b".to_string(), 90), ("c".to_string(), 90), ("d".to_string(), 90)];
        let mut rng = rng();
        let mut picked: BTreeMap<String, u32> = BTreeMap::new();
        for _ in 0..3000 {
            *picked.entry(select_host(&scores, &mut rng)).or_default() += 1;
        }
        assert!(!picked.contains_key("a"));
        for node in ["b", "c", "d"] {
            let n = picked[node];
            assert!((850..=1150).contains(&n), "{node} picked {n} times of 3000: {picked:?}");
        }
    }

    #[test]
    fn the_condition_is_written_only_when_it_changes() {
        let now = "2024-01-01T00:00:00Z";
        let pod = Pod::test("p");
        let patch = unschedulable_condition_patch(&pod, "Unschedulable", "0/1 nodes are available", now).unwrap();
        assert_eq!(
            patch,
            json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                              "message": "0/1 nodes are available", "lastTransitionTime": now}]}})
        );
        let mut written: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "status": patch["status"]})).unwrap();
        assert_eq!(unschedulable_condition_patch(&written, "Unschedulable", "0/1 nodes are available", now), None);
        // A new message keeps the time the pod first became unschedulable.
        let later =
            unschedulable_condition_patch(&written, "Unschedulable", "0/2 nodes are available", "2024-01-02T00:00:00Z");
        assert_eq!(later.unwrap()["status"]["conditions"][0]["lastTransitionTime"], now);
        written.status = None;
        assert!(unschedulable_condition_patch(&written, "Unschedulable", "m", now).is_some());
    }

    #[test]
    fn long_event_messages_are_cut_as_kubernetes_cuts_them() {
        let long = "x".repeat(2000);
        let cut = truncate(&long);
        assert_eq!(cut.len(), 1024);
        assert!(cut.ends_with("x ..."));
        assert_eq!(truncate("short"), "short");
    }
}
