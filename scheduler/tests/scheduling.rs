//! The scheduler against the real API server on skiff-store, both in process: nodes are written
//! by the test as a kubelet would write them (no kubelet runs), pods through the gRPC API, and
//! every assertion reads back what the API server holds.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use skiff_scheduler::testing::{TestNode, TestPod};
use support::{eventually, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_is_bound_to_the_only_ready_node_and_told_so() {
    let harness = Harness::start().await;
    harness.node(Node::test("node-1")).await;
    harness.node(Node::test("node-2").ready("False")).await;
    harness.node(Node::test("node-3").without_conditions()).await;
    harness.pod(Pod::test("web-0")).await;

    assert_eq!(harness.bound("web-0").await, "node-1");
    let event = harness.event("web-0", "Scheduled").await;
    assert_eq!(event.message.as_deref(), Some("Successfully assigned default/web-0 to node-1"));
    assert_eq!(event.type_.as_deref(), Some("Normal"));
    assert_eq!(event.source.and_then(|s| s.component).as_deref(), Some("default-scheduler"));
    let condition = harness.scheduled_condition("web-0").await.unwrap();
    assert_eq!(condition.0, "True", "the API server's binding sets PodScheduled=True");

    // The tests of this file share one process, hence one registry: the names, not the counts.
    let metrics = harness.metrics().await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for series in [
        "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"}",
        "scheduler_scheduling_attempt_duration_seconds_count{profile=\"default-scheduler\",result=\"scheduled\"}",
        "scheduler_pending_pods{queue=\"unschedulable\"}",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_selector_picks_the_labelled_node_of_three() {
    let harness = Harness::start().await;
    harness.node(Node::test("node-1")).await;
    harness.node(Node::test("node-2").label("disktype", "ssd")).await;
    harness.node(Node::test("node-3")).await;
    for i in 0..3 {
        harness.pod(Pod::test(&format!("db-{i}")).node_selector("disktype", "ssd")).await;
    }
    for i in 0..3 {
        assert_eq!(harness.bound(&format!("db-{i}")).await, "node-2");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_too_big_for_every_node_waits_with_kubernetes_reasons_until_a_bigger_node_joins() {
    let harness = Harness::start().await;
    harness.node(Node::test("node-1").capacity("2", "4Gi", 110)).await;
    harness.node(Node::test("node-2").capacity("2", "4Gi", 110).label("disk", "ssd")).await;
    harness.node(Node::test("node-3").capacity("2", "4Gi", 110).label("disk", "ssd")).await;
    harness.pod(Pod::test("big").requests("8", "1Gi").node_selector("disk", "ssd")).await;

    let want = "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. \
                preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
                2 No preemption victims found for incoming pod.";
    let condition =
        eventually("big is marked unschedulable", || async { harness.scheduled_condition("big").await }).await;
    assert_eq!(condition, ("False".into(), "Unschedulable".into(), want.into()));
    let event = harness.event("big", "FailedScheduling").await;
    assert_eq!(event.message.as_deref(), Some(want));
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(harness.node_of("big").await, None);

    // A node that changes nothing for the pod (no ssd) leaves it waiting; one with room takes it.
    harness.node(Node::test("node-4").capacity("16", "64Gi", 110)).await;
    harness.node(Node::test("node-5").capacity("16", "64Gi", 110).label("disk", "ssd")).await;
    assert_eq!(harness.bound("big").await, "node-5");
    assert_eq!(harness.scheduled_condition("big").await.unwrap().0, "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_pods_of_one_owner_spread_across_three_equal_nodes() {
    let harness = Harness::start().await;
    for node in ["node-1", "node-2", "node-3"] {
        harness.node(Node::test(node)).await;
    }
    for i in 0..20 {
        let pod = Pod::test(&format!("web-{i}")).label("app", "web").owned_by("rs-web").requests("100m", "128Mi");
        harness.pod(pod).await;
    }
    let placements = eventually("all twenty are bound", || async {
        let placements = harness.placements().await;
        placements.values().all(Option::is_some).then_some(placements)
    })
    .await;
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for node in placements.into_values().flatten() {
        *per_node.entry(node).or_default() += 1;
    }
    assert_eq!(per_node.len(), 3, "{per_node:?}");
    // ceil(20 / 3) = 7: no node more than one above it.
    assert!(per_node.values().all(|n| *n <= 8), "{per_node:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordoned_and_tainted_nodes_get_nothing_but_a_tolerating_pod() {
    let harness = Harness::start().await;
    harness.node(Node::test("open")).await;
    harness.node(Node::test("cordoned").unschedulable()).await;
    harness.node(Node::test("gpu").taint("dedicated", "gpu", "NoSchedule")).await;
    for i in 0..6 {
        harness.pod(Pod::test(&format!("web-{i}"))).await;
    }
    for i in 0..6 {
        assert_eq!(harness.bound(&format!("web-{i}")).await, "open");
    }
    let trainer = Pod::test("trainer")
        .tolerate("dedicated", "Equal", "gpu", "NoSchedule")
        .node_selector("kubernetes.io/hostname", "gpu");
    harness.pod(trainer).await;
    assert_eq!(harness.bound("trainer").await, "gpu");

    harness.pod(Pod::test("stuck").node_selector("kubernetes.io/hostname", "cordoned")).await;
    let condition =
        eventually("stuck is marked unschedulable", || async { harness.scheduled_condition("stuck").await }).await;
    assert_eq!(
        condition.2,
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
         1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_for_another_scheduler_is_left_alone() {
    let harness = Harness::start().await;
    harness.node(Node::test("node-1")).await;
    harness.pod(Pod::test("theirs").scheduler("other")).await;
    harness.pod(Pod::test("ours")).await;
    assert_eq!(harness.bound("ours").await, "node-1");
    // `ours` came after `theirs`: had the scheduler looked at `theirs`, it would be done by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(harness.node_of("theirs").await, None);
    assert_eq!(harness.scheduled_condition("theirs").await, None);
    assert!(harness.events("theirs").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_scheduler_binds_nothing_twice_and_overfills_no_node() {
    let mut harness = Harness::start().await;
    for node in ["node-1", "node-2", "node-3"] {
        harness.node(Node::test(node).capacity("4", "8Gi", 10)).await;
    }
    for i in 0..15 {
        harness.pod(Pod::test(&format!("web-{i}")).owned_by("rs-web")).await;
    }
    // Stop as soon as a few are bound: some may still be on their way.
    eventually("a few are bound", || async {
        (harness.placements().await.values().flatten().count() >= 5).then_some(())
    })
    .await;
    harness.stop_scheduler().await;
    for i in 15..30 {
        harness.pod(Pod::test(&format!("web-{i}")).owned_by("rs-web")).await;
    }
    harness.start_scheduler().await;

    let placements = eventually("all thirty are bound", || async {
        let placements = harness.placements().await;
        placements.values().all(Option::is_some).then_some(placements)
    })
    .await;
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for node in placements.values().flatten() {
        *per_node.entry(node.clone()).or_default() += 1;
    }
    // Thirty pods, three nodes of ten: the second scheduler counted what the first had bound.
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), vec![10, 10, 10], "{per_node:?}");
    for pod in placements.keys() {
        let scheduled: i32 = harness
            .events(pod)
            .await
            .iter()
            .filter(|e| e.reason.as_deref() == Some("Scheduled"))
            .map(|e| e.count.unwrap_or(1))
            .sum();
        assert_eq!(scheduled, 1, "{pod} was bound once");
    }
    // A 31st pod finds every node full.
    harness.pod(Pod::test("extra")).await;
    let condition =
        eventually("extra is marked unschedulable", || async { harness.scheduled_condition("extra").await }).await;
    assert_eq!(
        condition.2,
        "0/3 nodes are available: 3 Too many pods. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_pods_never_overfills_a_node() {
    // Six pods wait before the scheduler starts, so it places them back to back, far faster than
    // the watch reports its binds: only the assumed pods tell it the node is filling up.
    let mut harness = Harness::without_scheduler().await;
    harness.node(Node::test("small").capacity("4", "8Gi", 110)).await;
    for i in 0..6 {
        harness.pod(Pod::test(&format!("job-{i}")).requests("1", "1Gi")).await;
    }
    harness.start_scheduler().await;
    let (bound, waiting) = eventually("four bound and two refused", || async {
        let placements = harness.placements().await;
        let bound = placements.values().flatten().count();
        let mut waiting = Vec::new();
        for (pod, node) in &placements {
            if node.is_none() {
                // The list above may be older than the bind that follows it: a pod read as
                // unbound there can show `PodScheduled=True` here; only `False` means refused.
                let (status, _, message) = harness.scheduled_condition(pod).await?;
                if status == "False" {
                    waiting.push(message);
                }
            }
        }
        (bound + waiting.len() == 6).then_some((bound, waiting))
    })
    .await;
    assert_eq!(bound, 4);
    let full = "0/1 nodes are available: 1 Insufficient cpu. \
                preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";
    assert_eq!(waiting, vec![full, full]);
}
