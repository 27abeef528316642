//! The Deployment controller against the recording fake: each test arranges ReplicaSets and
//! statuses, runs syncs, and asserts on the writes and events, as upstream's
//! `deployment_controller_test.go` does with its fake clientset. The ReplicaSet controller and
//! the kubelet are played by hand, by setting ReplicaSet statuses between syncs.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use skiff_client::controller::Action;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::Event;

use super::annotations::*;
use super::conditions::*;
use super::hash::compute_hash;
use super::{DeploymentController, Error};
use crate::fields;
use crate::testing::*;

fn key(name: &str) -> ObjectKey {
    ObjectKey { namespace: Some(NAMESPACE.into()), name: name.into() }
}

/// The name the controller gives the ReplicaSet of `d`'s template.
fn rs_name(d: &Deployment) -> String {
    format!("{}-{}", fields::name(&d.metadata), compute_hash(&fields::template(d), None))
}

async fn sync(dc: &DeploymentController) -> Action {
    dc.sync_deployment(&key("web")).await.expect("sync")
}

/// The ReplicaSet controller and the kubelet, played by hand: `name` has `replicas` pods, of
/// which `available` are available (and ready).
fn pods_of(cluster: &FakeCluster, name: &str, replicas: i32, available: i32) {
    cluster.edit_replica_set(name, |rs| *rs = rs.clone().counts(replicas, available, available));
}

fn progressing(d: &Deployment) -> (String, String, String) {
    let status = fields::status(d);
    let c = get_deployment_condition(&status, PROGRESSING).expect("a Progressing condition");
    (c.status.clone(), c.reason.clone().unwrap_or_default(), c.message.clone().unwrap_or_default())
}

fn available(d: &Deployment) -> (String, String) {
    let status = fields::status(d);
    let c = get_deployment_condition(&status, AVAILABLE).expect("an Available condition");
    (c.status.clone(), c.message.clone().unwrap_or_default())
}

fn replicas_of(cluster: &FakeCluster, name: &str) -> i32 {
    fields::rs_replicas(&cluster.replica_set(name))
}

/// A Deployment of 10 replicas, maxSurge 3, maxUnavailable 2, fully rolled out at `v1`.
async fn rolled_out(cluster: &Arc<FakeCluster>, dc: &DeploymentController) -> String {
    let d = Deployment::test("web").replicas(10).max_surge(3).max_unavailable(2);
    let v1 = rs_name(&d);
    cluster.add_deployment(d);
    sync(dc).await;
    pods_of(cluster, &v1, 10, 10);
    sync(dc).await;
    cluster.take_writes();
    cluster.take_events();
    v1
}

#[tokio::test]
async fn a_new_deployment_gets_one_replica_set_at_full_size_and_revision_1() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let d = Deployment::test("web")
        .replicas(3)
        .annotation("kubernetes.io/change-cause", "kubectl create deployment web --image=skiff/demo-web:v1");
    let name = rs_name(&d);
    cluster.add_deployment(d);

    assert_eq!(sync(&dc).await, Action::Done);
    assert_eq!(
        cluster.take_writes(),
        vec![
            format!("create replicaset {name} replicas=3"),
            "update deployment web status".into(),
            "update deployment web status".into()
        ]
    );
    assert_eq!(cluster.take_events(), vec![format!("Normal ScalingReplicaSet Scaled up replica set {name} to 3")]);

    let rs = cluster.replica_set(&name);
    let annotations = rs.metadata.annotations.clone().unwrap();
    assert_eq!(annotations[REVISION_ANNOTATION], "1");
    assert_eq!(annotations[DESIRED_REPLICAS_ANNOTATION], "3");
    assert_eq!(annotations[MAX_REPLICAS_ANNOTATION], "4", "3 + 25% of 3 rounded up");
    assert_eq!(annotations["kubernetes.io/change-cause"], "kubectl create deployment web --image=skiff/demo-web:v1");
    let hash = name.trim_start_matches("web-");
    let spec = rs.spec.clone().unwrap();
    assert_eq!(spec.selector.match_labels.unwrap()["pod-template-hash"], hash, "the selector has the hash");
    assert_eq!(spec.template.unwrap().metadata.unwrap().labels.unwrap()["pod-template-hash"], hash);
    assert_eq!(rs.metadata.labels.clone().unwrap()["pod-template-hash"], hash);
    assert!(crate::owner::is_controlled_by(&rs.metadata, "uid-web"));

    let d = cluster.deployment("web");
    assert_eq!(d.metadata.annotations.clone().unwrap()[REVISION_ANNOTATION], "1");
    assert_eq!(
        progressing(&d),
        ("True".into(), NEW_REPLICA_SET_REASON.into(), format!("Created new replica set {name:?}"))
    );
    assert_eq!(available(&d), ("False".into(), "Deployment does not have minimum availability.".into()));

    // The pods come up: the rollout is complete.
    pods_of(&cluster, &name, 3, 3);
    sync(&dc).await;
    let d = cluster.deployment("web");
    assert_eq!(
        progressing(&d),
        ("True".into(), NEW_RS_AVAILABLE_REASON.into(), format!("ReplicaSet {name:?} has successfully progressed."))
    );
    assert_eq!(available(&d), ("True".into(), "Deployment has minimum availability.".into()));
    let status = fields::status(&d);
    assert_eq!(
        (
            status.observed_generation,
            status.replicas,
            status.updated_replicas,
            status.ready_replicas,
            status.available_replicas,
            status.unavailable_replicas
        ),
        (Some(1), Some(3), Some(3), Some(3), Some(3), None)
    );
    cluster.take_writes();
    assert_eq!(sync(&dc).await, Action::Done, "complete: no deadline to watch");
    assert!(cluster.take_writes().is_empty(), "nothing changed, nothing written");
}

/// Kubernetes' worked example: 10 replicas, maxSurge 3, maxUnavailable 2: never more than 13
/// pods, never fewer than 8 available.
#[tokio::test]
async fn a_rolling_update_moves_within_the_surge_and_the_unavailability_budget() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let v1 = rolled_out(&cluster, &dc).await;
    cluster.edit_deployment("web", |d| *d = d.clone().image("skiff/demo-web:v2"));
    let v2 = rs_name(&cluster.deployment("web"));

    // Step 1: the new ReplicaSet starts at 3 (13 pods); 13 − 8 − 3 new unavailable = 2 old go.
    sync(&dc).await;
    assert_eq!(
        cluster.take_writes(),
        vec![
            format!("create replicaset {v2} replicas=3"),
            "update deployment web status".into(),
            format!("update replicaset {v1} replicas=8"),
            "update deployment web status".into(),
        ]
    );
    assert_eq!(
        cluster.take_events(),
        vec![
            format!("Normal ScalingReplicaSet Scaled up replica set {v2} to 3"),
            format!("Normal ScalingReplicaSet Scaled down replica set {v1} to 8 from 10"),
        ]
    );
    assert_eq!(revision(&cluster.replica_set(&v2).metadata), Ok(2));

    // Each step: (old pods, old available, new pods, new available) as the ReplicaSet controller
    // reports them → the sizes the Deployment controller then sets.
    let steps = [
        ("2 old pods went; room for 2 more new", (8, 8, 3, 0), (8, 5)),
        ("13 pods, none new available: 13 − 8 − 5 = 0, nothing moves", (8, 8, 5, 0), (8, 5)),
        ("3 new available: 3 old may go", (8, 8, 5, 3), (5, 5)),
        ("then 3 more new", (5, 5, 5, 3), (5, 8)),
        ("all 8 new available: 5 old may go", (5, 5, 8, 8), (0, 8)),
        ("the last 2 new", (0, 0, 8, 8), (0, 10)),
        ("done", (0, 0, 10, 10), (0, 10)),
    ];
    for (name, (old, old_available, new, new_available), want) in steps {
        pods_of(&cluster, &v1, old, old_available);
        pods_of(&cluster, &v2, new, new_available);
        sync(&dc).await;
        assert_eq!((replicas_of(&cluster, &v1), replicas_of(&cluster, &v2)), want, "{name}");
        let all = replicas_of(&cluster, &v1) + replicas_of(&cluster, &v2);
        assert!(all <= 13, "{name}: {all} pods");
    }
    let d = cluster.deployment("web");
    assert_eq!(progressing(&d).1, NEW_RS_AVAILABLE_REASON);
    assert_eq!(d.metadata.annotations.clone().unwrap()[REVISION_ANNOTATION], "2");
    assert_eq!(fields::status(&d).observed_generation, Some(2));
}

#[tokio::test]
async fn a_crash_looping_rollout_keeps_the_old_pods_and_an_undo_readopts_the_old_replica_set() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let v1 = rolled_out(&cluster, &dc).await;
    cluster.edit_deployment("web", |d| *d = d.clone().image("skiff/demo-web:crash"));
    let v2 = rs_name(&cluster.deployment("web"));
    sync(&dc).await;
    pods_of(&cluster, &v1, 8, 8);
    pods_of(&cluster, &v2, 3, 0);
    sync(&dc).await;
    assert_eq!((replicas_of(&cluster, &v1), replicas_of(&cluster, &v2)), (8, 5));

    // The new pods crash-loop, and a node failure takes one old pod: 13 − 8 − 5 = 0.
    pods_of(&cluster, &v1, 8, 7);
    pods_of(&cluster, &v2, 5, 0);
    cluster.take_writes();
    sync(&dc).await;
    assert!(cluster.take_writes().iter().all(|w| !w.starts_with("update replicaset")), "no old pod is removed");

    // `kubectl rollout undo`: kubectl patches the old template back.
    let v1_template = fields::rs_template(&cluster.replica_set(&v1));
    cluster.edit_deployment("web", |d| {
        let mut template = v1_template.clone();
        template.metadata.as_mut().unwrap().labels.as_mut().unwrap().remove("pod-template-hash");
        d.spec.as_mut().unwrap().template = template;
    });
    sync(&dc).await;
    // The old ReplicaSet is the new one again, renumbered: revisions 1, 2, then 1 becomes 3.
    let rs = cluster.replica_set(&v1);
    assert_eq!(revision(&rs.metadata), Ok(3));
    assert_eq!(rs.metadata.annotations.clone().unwrap()[REVISION_HISTORY_ANNOTATION], "1");
    // 13 − 8 − 1 unavailable = 4 of the 5 crash-looping pods go.
    assert_eq!((replicas_of(&cluster, &v1), replicas_of(&cluster, &v2)), (8, 1));
    // Until its controller has deleted them, the crash-looping ReplicaSet still has 5 pods
    // (8 + 5 = 13): nothing grows yet.
    sync(&dc).await;
    assert_eq!((replicas_of(&cluster, &v1), replicas_of(&cluster, &v2)), (8, 1));
    // Deleted, 9 pods: the (old) new ReplicaSet can grow back to 10.
    pods_of(&cluster, &v2, 1, 0);
    sync(&dc).await;
    assert_eq!((replicas_of(&cluster, &v1), replicas_of(&cluster, &v2)), (10, 1));
    let writes = cluster.take_writes();
    assert!(!writes.iter().any(|w| w.starts_with("create replicaset")), "no duplicate ReplicaSet: {writes:?}");
    assert_eq!(cluster.replica_sets().len(), 2);
    assert_eq!(cluster.deployment("web").metadata.annotations.unwrap()[REVISION_ANNOTATION], "3");
    assert!(cluster
        .take_events()
        .contains(&format!("Normal ScalingReplicaSet Scaled down replica set {v2} to 1 from 5")));
}

#[tokio::test]
async fn unhealthy_old_pods_are_removed_first_without_costing_availability() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let v1 = rolled_out(&cluster, &dc).await;
    // Of the 10 old pods, 4 are not available (a bad node): they go first.
    pods_of(&cluster, &v1, 10, 6);
    cluster.edit_deployment("web", |d| *d = d.clone().image("skiff/demo-web:v2"));
    let v2 = rs_name(&cluster.deployment("web"));
    sync(&dc).await;
    // 13 pods − 8 − 3 new unavailable = 2 may go: both from the unhealthy ones.
    assert_eq!((replicas_of(&cluster, &v1), replicas_of(&cluster, &v2)), (8, 3));
    pods_of(&cluster, &v1, 8, 6);
    pods_of(&cluster, &v2, 3, 3);
    sync(&dc).await;
    // 11 pods → new may grow to 5.
    assert_eq!(replicas_of(&cluster, &v2), 5);
    pods_of(&cluster, &v2, 5, 3);
    sync(&dc).await;
    // 13 − 8 − 2 = 3: the 2 unhealthy old pods, then 1 healthy (6 + 3 available − 8 = 1).
    assert_eq!(replicas_of(&cluster, &v1), 5);
}

#[tokio::test]
async fn recreate_scales_the_old_to_zero_and_waits_for_their_pods_to_be_gone() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let d = Deployment::test("web").replicas(3).recreate();
    let v1 = rs_name(&d);
    cluster.add_deployment(d);
    sync(&dc).await;
    assert_eq!(cluster.take_writes()[0], format!("create replicaset {v1} replicas=3"));
    pods_of(&cluster, &v1, 3, 3);
    let rs = cluster.replica_set(&v1);
    for i in 0..3 {
        cluster.add_pod(Pod::of(&rs, &format!("{v1}-{i}")).on_node("n1").running().ready_since(at(0)));
    }
    sync(&dc).await;
    cluster.take_events();

    cluster.edit_deployment("web", |d| *d = d.clone().image("skiff/demo-web:v2"));
    let v2 = rs_name(&cluster.deployment("web"));
    cluster.take_writes();
    sync(&dc).await;
    assert_eq!(
        cluster.take_writes(),
        vec![format!("update replicaset {v1} replicas=0"), "update deployment web status".into()]
    );
    assert_eq!(
        cluster.take_events(),
        vec![format!("Normal ScalingReplicaSet Scaled down replica set {v1} to 0 from 3")]
    );

    // The ReplicaSet reports no pods, but they are still terminating: wait.
    pods_of(&cluster, &v1, 0, 0);
    for i in 0..3 {
        cluster.edit_pod(&format!("{v1}-{i}"), |p| p.metadata.deletion_timestamp = Some(at(5)));
    }
    sync(&dc).await;
    assert!(!cluster.take_writes().iter().any(|w| w.starts_with("create")), "no new pods while old ones run");

    // The last pod goes: its deletion wakes the Deployment (Recreate only).
    for i in 0..2 {
        cluster.remove_pod(&format!("{v1}-{i}"));
    }
    let last = cluster.pods().pop().unwrap();
    cluster.remove_pod(fields::name(&last.metadata));
    assert_eq!(dc.pod_event(&Event::Deleted(last)), vec![key("web")]);
    sync(&dc).await;
    assert_eq!(cluster.take_writes()[0], format!("create replicaset {v2} replicas=3"), "all at once");
    assert_eq!(cluster.take_events(), vec![format!("Normal ScalingReplicaSet Scaled up replica set {v2} to 3")]);
}

#[tokio::test]
async fn scaling_a_paused_deployment_shares_the_new_replicas_in_proportion() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    // Paused in the middle of a rollout: 8 old and 5 new for 10 replicas (max 13).
    let d = Deployment::test("web").replicas(10).image("skiff/demo-web:v2").paused(true);
    let old =
        ReplicaSet::for_deployment(&Deployment::test("web")).replicas(8).revision(1).created(at(0)).counts(8, 8, 8);
    let new = ReplicaSet::for_deployment(&d).replicas(5).revision(2).created(at(10)).counts(5, 5, 5);
    let (old_name, new_name) = (fields::name(&old.metadata).to_string(), fields::name(&new.metadata).to_string());
    for rs in [old, new] {
        cluster.add_replica_set(
            rs.annotation(DESIRED_REPLICAS_ANNOTATION, "10").annotation(MAX_REPLICAS_ANNOTATION, "13"),
        );
    }
    cluster.add_deployment(d);
    sync(&dc).await;
    assert_eq!(
        progressing(&cluster.deployment("web")),
        ("Unknown".into(), PAUSED_DEPLOY_REASON.into(), "Deployment is paused".into())
    );
    cluster.take_writes();

    // `kubectl scale --replicas=20` (max 25) and a new image, still paused.
    cluster.edit_deployment("web", |d| *d = d.clone().replicas(20).image("skiff/demo-web:v3"));
    sync(&dc).await;
    // 12 to add: 8 × 25 / 13 = 15.4 → 15 (+7); 5 × 25 / 13 = 9.6 → 10 (+5).
    assert_eq!((replicas_of(&cluster, &old_name), replicas_of(&cluster, &new_name)), (15, 10));
    assert_eq!(cluster.replica_sets().len(), 2, "no ReplicaSet for v3 while paused");
    assert_eq!(
        cluster.take_events(),
        vec![
            format!("Normal ScalingReplicaSet Scaled up replica set {old_name} to 15 from 8"),
            format!("Normal ScalingReplicaSet Scaled up replica set {new_name} to 10 from 5"),
        ]
    );
    let annotations = cluster.replica_set(&old_name).metadata.annotations.unwrap();
    assert_eq!(
        (annotations[DESIRED_REPLICAS_ANNOTATION].as_str(), annotations[MAX_REPLICAS_ANNOTATION].as_str()),
        ("20", "25")
    );

    // Resumed: the rollout to v3 starts, and the deadline counts from now.
    cluster.edit_deployment("web", |d| *d = d.clone().paused(false));
    sync(&dc).await;
    assert!(cluster.take_writes().iter().any(|w| w.starts_with("create replicaset web-")));
    assert_eq!(cluster.replica_sets().len(), 3);
}

#[tokio::test]
async fn scaling_a_settled_deployment_resizes_its_one_replica_set() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let v1 = rolled_out(&cluster, &dc).await;
    cluster.edit_deployment("web", |d| *d = d.clone().replicas(4));
    sync(&dc).await;
    assert_eq!(
        cluster.take_writes(),
        vec![format!("update replicaset {v1} replicas=4"), "update deployment web status".into()]
    );
    assert_eq!(
        cluster.take_events(),
        vec![format!("Normal ScalingReplicaSet Scaled down replica set {v1} to 4 from 10")]
    );
    let annotations = cluster.replica_set(&v1).metadata.annotations.unwrap();
    assert_eq!(annotations[DESIRED_REPLICAS_ANNOTATION], "4");
}

#[tokio::test]
async fn min_ready_seconds_travels_to_the_new_replica_set_without_a_new_template() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let v1 = rolled_out(&cluster, &dc).await;
    cluster.edit_deployment("web", |d| *d = d.clone().min_ready_seconds(30));
    sync(&dc).await;
    let writes = cluster.take_writes();
    assert_eq!(writes[0], format!("update replicaset {v1} replicas=10"), "{writes:?}");
    assert!(!writes.iter().any(|w| w.starts_with("create")), "the same template: the same ReplicaSet");
    assert_eq!(fields::rs_min_ready_seconds(&cluster.replica_set(&v1)), 30);
}

#[tokio::test]
async fn old_replica_sets_beyond_the_history_limit_are_deleted_once_empty() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let d = Deployment::test("web").replicas(2).revision_history_limit(2).image("skiff/demo-web:v5");
    for revision in 1..=4 {
        let old = Deployment::test("web").image(&format!("skiff/demo-web:v{revision}"));
        let pods = if revision == 1 { 1 } else { 0 };
        let rs = ReplicaSet::for_deployment(&old).revision(revision).created(at(revision)).counts(pods, pods, pods);
        cluster.add_replica_set(rs);
    }
    let new = ReplicaSet::for_deployment(&d).replicas(2).revision(5).created(at(5)).counts(2, 2, 2);
    cluster.add_replica_set(new.annotation(DESIRED_REPLICAS_ANNOTATION, "2").annotation(MAX_REPLICAS_ANNOTATION, "3"));
    cluster.add_deployment(d.status(|s| {
        s.observed_generation = Some(1);
        (s.replicas, s.updated_replicas, s.available_replicas) = (Some(2), Some(2), Some(2));
    }));
    sync(&dc).await;
    let deleted: Vec<String> = cluster.take_writes().into_iter().filter(|w| w.starts_with("delete")).collect();
    let name = |v: i64| rs_name(&Deployment::test("web").image(&format!("skiff/demo-web:v{v}")));
    // Four old, two kept: revisions 1 and 2 are the oldest, but 1 still has a pod.
    assert_eq!(deleted, vec![format!("delete replicaset {}", name(2))]);
}

#[tokio::test]
async fn a_rollout_without_progress_times_out_after_its_deadline() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let v1 = rolled_out(&cluster, &dc).await;
    cluster.clock.set(at(1000));
    cluster.edit_deployment("web", |d| *d = d.clone().image("skiff/demo-web:stuck"));
    let v2 = rs_name(&cluster.deployment("web"));
    sync(&dc).await;
    pods_of(&cluster, &v1, 8, 8);
    pods_of(&cluster, &v2, 3, 0);
    sync(&dc).await;
    pods_of(&cluster, &v2, 5, 0);
    sync(&dc).await;
    // The new pods never become ready; the last progress was at 1000.
    cluster.clock.set(at(1300));
    sync(&dc).await;
    let (_, reason, message) = progressing(&cluster.deployment("web"));
    assert_eq!((reason.as_str(), message), (REPLICA_SET_UPDATED_REASON, format!("ReplicaSet {v2:?} is progressing.")));
    assert_eq!(sync(&dc).await, Action::RequeueAfter(Duration::from_secs(301)), "1300 → 1600, and a second");

    cluster.clock.set(at(1601));
    sync(&dc).await;
    let d = cluster.deployment("web");
    assert_eq!(
        progressing(&d),
        ("False".into(), TIMED_OUT_REASON.into(), format!("ReplicaSet {v2:?} has timed out progressing."))
    );
    assert_eq!(sync(&dc).await, Action::Done, "timed out: no more deadline to watch");

    // Progress after all: the condition says so, with a fresh transition.
    pods_of(&cluster, &v2, 5, 5);
    cluster.clock.set(at(1700));
    sync(&dc).await;
    let status = fields::status(&cluster.deployment("web"));
    let condition = get_deployment_condition(&status, PROGRESSING).unwrap();
    assert_eq!(
        (condition.reason.as_deref(), condition.last_transition_time.clone()),
        (Some(REPLICA_SET_UPDATED_REASON), Some(at(1700)))
    );
}

#[tokio::test]
async fn pausing_does_not_count_against_the_deadline() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let v1 = rolled_out(&cluster, &dc).await;
    cluster.edit_deployment("web", |d| *d = d.clone().image("skiff/demo-web:v2"));
    sync(&dc).await;
    cluster.edit_deployment("web", |d| *d = d.clone().paused(true));
    sync(&dc).await;
    cluster.clock.set(at(5000));
    cluster.edit_deployment("web", |d| *d = d.clone().paused(false));
    sync(&dc).await;
    let d = cluster.deployment("web");
    let status = fields::status(&d);
    let condition = get_deployment_condition(&status, PROGRESSING).unwrap();
    assert_ne!(condition.reason.as_deref(), Some(TIMED_OUT_REASON), "paused for 5000 s, not stuck");
    pods_of(&cluster, &v1, 8, 8);
    assert!(matches!(sync(&dc).await, Action::Done | Action::RequeueAfter(_)));
    let status = fields::status(&cluster.deployment("web"));
    assert_ne!(get_deployment_condition(&status, PROGRESSING).unwrap().reason.as_deref(), Some(TIMED_OUT_REASON));
}

#[tokio::test]
async fn matching_orphans_are_adopted_and_replica_sets_that_stop_matching_are_released() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let d = Deployment::test("web").replicas(2);
    let mut orphan = ReplicaSet::for_deployment(&d).replicas(2).counts(2, 2, 2);
    orphan.metadata.owner_references = None;
    let orphan_name = fields::name(&orphan.metadata).to_string();
    let mut strayed =
        ReplicaSet::for_deployment(&Deployment::test("web").image("skiff/demo-web:v0")).name("web-strayed");
    strayed.metadata.labels = Some([("app".to_string(), "something-else".to_string())].into());
    let someone_elses = ReplicaSet::test("web-other").owned_by(&Deployment::test("other"));
    cluster.add_replica_set(orphan.clone());
    cluster.add_replica_set(strayed);
    cluster.add_replica_set(someone_elses);
    cluster.add_deployment(d);

    assert_eq!(
        dc.replica_set_event(&Event::Applied(orphan)),
        vec![key("web")],
        "an orphan wakes the Deployments it matches"
    );
    sync(&dc).await;
    let writes = cluster.take_writes();
    assert!(writes.contains(&format!("adopt replicaset {orphan_name}")), "{writes:?}");
    assert!(writes.contains(&"release replicaset web-strayed".to_string()), "{writes:?}");
    assert!(!writes.iter().any(|w| w.contains("web-other")), "another controller's is left alone");
    assert!(!writes.iter().any(|w| w.starts_with("create")), "the adopted one is the new one: {writes:?}");
    assert!(crate::owner::is_controlled_by(&cluster.replica_set(&orphan_name).metadata, "uid-web"));
}

#[tokio::test]
async fn a_hash_collision_bumps_the_collision_count_and_the_next_name_is_free() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let d = Deployment::test("web").replicas(1);
    let taken = rs_name(&d);
    // Another template under the name this template hashes to.
    let squatter =
        ReplicaSet::for_deployment(&Deployment::test("web").image("skiff/demo-web:other")).name(&taken).replicas(0);
    cluster.add_replica_set(squatter.labels_of("unrelated"));
    cluster.add_deployment(d.clone());

    let err = dc.sync_deployment(&key("web")).await.unwrap_err();
    assert!(matches!(err, Error::HashCollision { collision_count: 1, .. }), "{err}");
    assert_eq!(fields::status(&cluster.deployment("web")).collision_count, Some(1));
    sync(&dc).await;
    let second = format!("web-{}", compute_hash(&fields::template(&d), Some(1)));
    assert!(cluster.take_writes().contains(&format!("create replicaset {second} replicas=1")));
}

#[tokio::test]
async fn a_cache_that_lags_behind_a_create_fails_safely_and_recovers() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let d = Deployment::test("web").replicas(2);
    let name = rs_name(&d);
    cluster.add_deployment(d);
    cluster.set_lagging(true);
    sync(&dc).await;
    cluster.take_writes();
    // The cache has neither the ReplicaSet nor the Deployment's new status.
    let err = dc.sync_deployment(&key("web")).await.unwrap_err();
    assert!(matches!(err, Error::NewReplicaSetNotCached { .. }), "{err}");
    assert_eq!(cluster.take_writes(), vec![format!("create replicaset {name} replicas=2")], "refused: AlreadyExists");
    assert_eq!(cluster.replica_sets().len(), 1, "not created twice");
    cluster.set_lagging(false);
    cluster.sync_cache();
    sync(&dc).await;
    assert!(!cluster.take_writes().iter().any(|w| w.starts_with("create")));
    assert_eq!(replicas_of(&cluster, &name), 2);
}

#[tokio::test]
async fn a_failed_create_is_reported_in_an_event_and_the_progressing_condition() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let d = Deployment::test("web");
    let name = rs_name(&d);
    cluster.add_deployment(d);
    cluster.fail_next(
        "create replicaset",
        status_error(403, "Forbidden", "replicasets.apps is forbidden: exceeded quota"),
    );
    assert!(dc.sync_deployment(&key("web")).await.is_err());
    let message = format!("Failed to create new replica set {name:?}: replicasets.apps is forbidden: exceeded quota");
    assert_eq!(cluster.take_events(), vec![format!("Warning ReplicaSetCreateError {message}")]);
    assert_eq!(progressing(&cluster.deployment("web")), ("False".into(), FAILED_RS_CREATE_REASON.into(), message));
}

#[tokio::test]
async fn a_selector_that_selects_everything_is_refused() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    let mut d = Deployment::test("web").generation(3);
    d.spec.as_mut().unwrap().selector = Default::default();
    cluster.add_deployment(d);
    sync(&dc).await;
    assert_eq!(
        cluster.take_events(),
        vec![
            "Warning SelectingAll This deployment is selecting all pods. A non-empty selector is required.".to_string()
        ]
    );
    assert_eq!(cluster.take_writes(), vec!["update deployment web status".to_string()]);
    assert_eq!(fields::status(&cluster.deployment("web")).observed_generation, Some(3));
}

#[tokio::test]
async fn a_deleted_deployment_is_done_and_one_being_deleted_only_gets_its_status() {
    let cluster = FakeCluster::new();
    let dc = cluster.deployment_controller();
    assert_eq!(dc.sync_deployment(&key("gone")).await.unwrap(), Action::Done);
    let mut d = Deployment::test("web").replicas(3);
    d.metadata.deletion_timestamp = Some(at(0));
    cluster.add_deployment(d);
    sync(&dc).await;
    assert_eq!(cluster.take_writes(), vec!["update deployment web status".to_string()], "no ReplicaSet created");
}

trait Relabel {
    fn labels_of(self, app: &str) -> Self;
}

impl Relabel for ReplicaSet {
    /// Labels, selector and template for `app`, and no owner.
    fn labels_of(mut self, app: &str) -> Self {
        let labels: std::collections::BTreeMap<String, String> = [("app".to_string(), app.to_string())].into();
        self.metadata.labels = Some(labels.clone());
        self.metadata.owner_references = None;
        let spec = self.spec.as_mut().unwrap();
        spec.selector.match_labels = Some(labels.clone());
        spec.template.as_mut().unwrap().metadata.as_mut().unwrap().labels = Some(labels);
        self
    }
}
