//! The ReplicaSet controller against the recording fake: pods created in slow-start batches,
//! deleted in rank order, adopted and released, never created twice while the cache lags, and
//! counted available only after `minReadySeconds`.

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use skiff_client::controller::Action;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::Event;

use super::Error;
use crate::fields;
use crate::testing::*;

fn key(name: &str) -> ObjectKey {
    ObjectKey { namespace: Some(NAMESPACE.into()), name: name.into() }
}

fn creates(writes: &[String]) -> usize {
    writes.iter().filter(|w| w.starts_with("create pod") && !w.ends_with("(failed)")).count()
}

/// A ReplicaSet of `replicas`, its status already saying it has no pods (so that a sync
/// that finds none writes no status).
fn replica_set(replicas: i32) -> ReplicaSet {
    ReplicaSet::test("web").replicas(replicas).counts(0, 0, 0)
}

#[tokio::test]
async fn missing_pods_are_created_from_the_template_with_an_event_each() {
    let cluster = FakeCluster::new();
    let rsc = cluster.replica_set_controller();
    cluster.add_replica_set(replica_set(3));
    assert_eq!(rsc.sync_replica_set(&key("web")).await.unwrap(), Action::Done);
    assert_eq!(creates(&cluster.take_writes()), 3);
    let pods = cluster.pods();
    assert!(pods.iter().all(|p| fields::name(&p.metadata).starts_with("web-") && fields::name(&p.metadata).len() == 9));
    assert!(pods.iter().all(|p| crate::owner::is_controlled_by(&p.metadata, "uid-web")));
    let events = cluster.take_events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0], format!("Normal SuccessfulCreate Created pod: {}", fields::name(&pods[0].metadata)));

    // The status counts the pods the cache has seen, so it follows once they arrive.
    assert_eq!(rsc.pod_event(&Event::Restarted(pods)), vec![key("web")]);
    rsc.sync_replica_set(&key("web")).await.unwrap();
    assert_eq!(cluster.take_writes(), vec!["update replicaset web status".to_string()]);
    let status = fields::rs_status(&cluster.replica_set("web"));
    assert_eq!((status.replicas, status.fully_labeled_replicas, status.observed_generation), (3, Some(3), Some(1)));
}

#[tokio::test]
async fn a_failing_create_stops_the_slow_start_and_is_reported() {
    let cluster = FakeCluster::new();
    let rsc = cluster.replica_set_controller();
    cluster.add_replica_set(replica_set(10));
    let quota =
        "pods \"web-gbbbb\" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=6, limited: pods=6";
    // The 4th pod (the first of the third batch) is refused.
    cluster.fail_next("create pod web-gbbbb", status_error(403, "Forbidden", quota));
    let err = rsc.sync_replica_set(&key("web")).await.unwrap_err();
    assert!(matches!(err, Error::CreatePods { .. }), "{err}");
    let writes = cluster.take_writes();
    // Batches of 1 and 2, then 4 with one failing: 7 requests, 6 pods, and no more batches.
    assert_eq!(writes.iter().filter(|w| w.starts_with("create pod")).count(), 7, "{writes:?}");
    assert_eq!(creates(&writes), 6);
    let events = cluster.take_events();
    assert_eq!(events.iter().filter(|e| e.contains("SuccessfulCreate")).count(), 6);
    assert!(events.contains(&format!("Warning FailedCreate Error creating: {quota}")));
    let status = fields::rs_status(&cluster.replica_set("web"));
    let condition = status.conditions.as_ref().unwrap().iter().find(|c| c.type_ == "ReplicaFailure").unwrap();
    assert_eq!((condition.reason.as_deref(), condition.message.as_deref()), (Some("FailedCreate"), Some(quota)));

    // The 4 pods not created will never arrive: only the 6 are waited for.
    rsc.pod_event(&Event::Restarted(cluster.pods()));
    assert!(rsc.expectations.satisfied(&key("web")));
    // Quota freed: the 4 missing in batches of 1, 2, 1, and the condition goes.
    rsc.sync_replica_set(&key("web")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 4);
    assert_eq!(fields::rs_status(&cluster.replica_set("web")).conditions, None);
}

#[tokio::test]
async fn a_lagging_cache_never_makes_it_create_twice() {
    let cluster = FakeCluster::new();
    let rsc = cluster.replica_set_controller();
    cluster.add_replica_set(replica_set(3));
    cluster.set_lagging(true);
    rsc.sync_replica_set(&key("web")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 3);

    // The cache has seen none of the 3 pods: a sync must not create 3 more.
    rsc.sync_replica_set(&key("web")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0, "expectations unmet: the pods are on their way");

    // The watch delivers the pods one by one; with all three seen, the count is right again.
    cluster.set_lagging(false);
    cluster.sync_cache();
    let pods = cluster.pods();
    for (i, pod) in pods.iter().enumerate() {
        assert!(!rsc.expectations.satisfied(&key("web")), "{i} of 3 seen");
        assert_eq!(rsc.pod_event(&Event::Applied(pod.clone())), vec![key("web")]);
    }
    assert!(rsc.expectations.satisfied(&key("web")));
    // A status update of a known pod is not a creation.
    rsc.pod_event(&Event::Applied(pods[0].clone()));
    rsc.sync_replica_set(&key("web")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0);
    assert_eq!(cluster.pods().len(), 3);
}

#[tokio::test]
async fn surplus_pods_go_least_advanced_first_and_each_deletion_counts_once() {
    let cluster = FakeCluster::new();
    let rsc = cluster.replica_set_controller();
    let rs = replica_set(2);
    let pods = [
        Pod::of(&rs, "web-ready-old").created(at(0)).on_node("n1").running().ready_since(at(5)),
        Pod::of(&rs, "web-ready-new").created(at(10)).on_node("n2").running().ready_since(at(15)),
        Pod::of(&rs, "web-not-ready").created(at(20)).on_node("n3").running(),
        Pod::of(&rs, "web-pending").created(at(30)).on_node("n4"),
    ];
    cluster.add_replica_set(rs);
    for pod in &pods {
        cluster.add_pod(pod.clone());
        rsc.pod_event(&Event::Applied(pod.clone()));
    }
    rsc.sync_replica_set(&key("web")).await.unwrap();
    let mut deleted: Vec<String> = cluster.take_writes().into_iter().filter(|w| w.starts_with("delete")).collect();
    deleted.sort();
    assert_eq!(deleted, vec!["delete pod web-not-ready", "delete pod web-pending"]);
    let mut events = cluster.take_events();
    events.sort();
    assert_eq!(
        events,
        vec!["Normal SuccessfulDelete Deleted pod: web-not-ready", "Normal SuccessfulDelete Deleted pod: web-pending"]
    );

    // Seen going (deletionTimestamp), then gone: one deletion, not two.
    assert!(!rsc.expectations.satisfied(&key("web")));
    rsc.pod_event(&Event::Applied(pods[2].clone().deleting()));
    rsc.pod_event(&Event::Deleted(pods[2].clone()));
    assert!(!rsc.expectations.satisfied(&key("web")), "web-pending has not been seen going");
    rsc.pod_event(&Event::Deleted(pods[3].clone()));
    assert!(rsc.expectations.satisfied(&key("web")));
}

#[tokio::test]
async fn matching_orphans_are_adopted_and_pods_that_stop_matching_are_released() {
    let cluster = FakeCluster::new();
    let rsc = cluster.replica_set_controller();
    let rs = replica_set(2);
    cluster.add_replica_set(rs.clone());
    let orphan = Pod::test("orphan").running();
    let relabelled = Pod::of(&rs, "relabelled").labels(&[("app", "debugging")]).running();
    let someone_elses = Pod::test("other").running();
    let mut someone_elses = someone_elses;
    someone_elses.metadata.owner_references =
        Some(vec![crate::owner::new_controller_ref(&ReplicaSet::test("other").metadata, "ReplicaSet")]);
    for pod in [orphan.clone(), relabelled, someone_elses] {
        cluster.add_pod(pod);
    }
    assert_eq!(rsc.pod_event(&Event::Applied(orphan)), vec![key("web")], "an orphan wakes the ReplicaSets it matches");
    rsc.sync_replica_set(&key("web")).await.unwrap();
    let writes = cluster.take_writes();
    assert!(writes.contains(&"adopt pod orphan".to_string()), "{writes:?}");
    assert!(writes.contains(&"release pod relabelled".to_string()), "{writes:?}");
    assert!(!writes.iter().any(|w| w.contains("other")));
    // One pod (the adopted one) of 2: one created.
    assert_eq!(creates(&writes), 1);
}

#[tokio::test]
async fn pods_are_available_only_after_min_ready_seconds_and_the_controller_comes_back_then() {
    let cluster = FakeCluster::new();
    let rsc = cluster.replica_set_controller();
    let rs = replica_set(2).min_ready_seconds(10);
    cluster.add_replica_set(rs.clone());
    for name in ["web-a", "web-b"] {
        cluster.add_pod(Pod::of(&rs, name).on_node("n1").running().ready_since(at(100)));
    }
    cluster.clock.set(at(104));
    assert_eq!(rsc.sync_replica_set(&key("web")).await.unwrap(), Action::RequeueAfter(Duration::from_secs(7)));
    let status = fields::rs_status(&cluster.replica_set("web"));
    assert_eq!((status.ready_replicas, status.available_replicas), (Some(2), None));

    cluster.clock.set(at(111));
    assert_eq!(rsc.sync_replica_set(&key("web")).await.unwrap(), Action::Done);
    let status = fields::rs_status(&cluster.replica_set("web"));
    assert_eq!((status.ready_replicas, status.available_replicas), (Some(2), Some(2)));
}

#[tokio::test]
async fn a_deleted_replica_set_forgets_its_expectations_and_one_being_deleted_creates_nothing() {
    let cluster = FakeCluster::new();
    let rsc = cluster.replica_set_controller();
    rsc.expectations.expect_creations(&key("gone"), 3);
    assert_eq!(rsc.sync_replica_set(&key("gone")).await.unwrap(), Action::Done);
    assert!(rsc.expectations.satisfied(&key("gone")));

    let mut rs = replica_set(3);
    rs.metadata.deletion_timestamp = Some(at(0));
    cluster.add_replica_set(rs);
    rsc.sync_replica_set(&key("web")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0);
}

#[tokio::test]
async fn a_pod_moved_to_another_replica_set_wakes_both() {
    let cluster = FakeCluster::new();
    let rsc = cluster.replica_set_controller();
    let first = replica_set(1);
    let second = ReplicaSet::test("web-2").replicas(1);
    cluster.add_replica_set(first.clone());
    cluster.add_replica_set(second.clone());
    let pod = Pod::of(&first, "p");
    rsc.pod_event(&Event::Applied(pod.clone()));
    let moved = Pod::of(&second, "p");
    assert_eq!(rsc.pod_event(&Event::Applied(moved)), vec![key("web"), key("web-2")]);
}
