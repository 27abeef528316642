//! The whole path in one process: the Deployment controller, the ReplicaSet controller and a
//! fake kubelet (which starts every pod it is given, ready at once unless its image crashes),
//! over the fake API server. What `kubectl rollout status` would watch, checked at every step
//! against the promise of a rolling update: 10 replicas, maxSurge 3, maxUnavailable 2 → never
//! more than 13 pods, never fewer than 8 ready.

use k8s_openapi::api::apps::v1::Deployment;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::Event;

use crate::deployment::conditions::{get_deployment_condition, NEW_RS_AVAILABLE_REASON, PROGRESSING, TIMED_OUT_REASON};
use crate::deployment::DeploymentController;
use crate::fields;
use crate::pods::is_pod_ready;
use crate::replicaset::ReplicaSetController;
use crate::testing::*;

fn key(name: &str) -> ObjectKey {
    ObjectKey { namespace: Some(NAMESPACE.into()), name: name.into() }
}

struct Cluster {
    fake: std::sync::Arc<FakeCluster>,
    deployments: DeploymentController,
    replica_sets: ReplicaSetController,
}

impl Cluster {
    fn new() -> Cluster {
        let fake = FakeCluster::new();
        let deployments = fake.deployment_controller();
        let replica_sets = fake.replica_set_controller();
        Cluster { fake, deployments, replica_sets }
    }

    /// The kubelet: schedules and starts new pods; ready now, unless the image crashes.
    fn kubelet(&self) {
        let now = self.fake.clock.now_time();
        for pod in self.fake.pods() {
            if !fields::node_name(&pod).is_empty() {
                continue;
            }
            let crashes = pod.spec.as_ref().unwrap().containers[0].image.as_deref().unwrap_or("").contains("crash");
            self.fake.edit_pod(fields::name(&pod.metadata), |p| {
                let started = p.clone().on_node("node-1").running();
                *p = if crashes { started.restarts(3) } else { started.ready_since(now.clone()) };
            });
        }
    }

    /// The ReplicaSet controller syncs every ReplicaSet (after seeing every pod).
    async fn replica_set_round(&self) {
        self.replica_sets.pod_event(&Event::Restarted(self.fake.pods()));
        for rs in self.fake.replica_sets() {
            // Conflicts with the Deployment controller's writes are retried next round.
            let _ = self.replica_sets.sync_replica_set(&key(fields::name(&rs.metadata))).await;
            self.replica_sets.pod_event(&Event::Restarted(self.fake.pods()));
        }
    }

    /// One round of everything; then the promise is checked.
    async fn round(&self) {
        let _ = self.deployments.sync_deployment(&key("web")).await;
        self.replica_set_round().await;
        self.check_budget();
        self.kubelet();
        self.replica_set_round().await;
        self.check_budget();
        self.fake.clock.advance(1);
    }

    fn check_budget(&self) {
        let pods = self.fake.pods();
        let ready = pods.iter().filter(|p| is_pod_ready(p)).count();
        assert!(pods.len() <= 13, "{} pods, more than 10 + 3", pods.len());
        assert!(ready >= 8, "{ready} ready pods, fewer than 10 − 2");
    }

    fn deployment(&self) -> Deployment {
        self.fake.deployment("web")
    }

    fn progressing_reason(&self) -> Option<String> {
        let status = fields::status(&self.deployment());
        get_deployment_condition(&status, PROGRESSING).and_then(|c| c.reason.clone())
    }

    fn complete(&self) -> bool {
        let d = self.deployment();
        let status = fields::status(&d);
        self.progressing_reason().as_deref() == Some(NEW_RS_AVAILABLE_REASON)
            && status.updated_replicas == Some(10)
            && status.replicas == Some(10)
            && status.observed_generation == d.metadata.generation
    }

    async fn run_until(&self, done: impl Fn(&Cluster) -> bool, rounds: usize) -> usize {
        for round in 0..rounds {
            if done(self) {
                return round;
            }
            self.round().await;
        }
        panic!("not done after {rounds} rounds: {:?}", fields::status(&self.deployment()));
    }

    fn images_of_ready_pods(&self) -> Vec<String> {
        let mut images: Vec<String> = self
            .fake
            .pods()
            .iter()
            .filter(|p| is_pod_ready(p))
            .map(|p| p.spec.as_ref().unwrap().containers[0].image.clone().unwrap())
            .collect();
        images.dedup();
        images
    }
}

#[tokio::test]
async fn a_rollout_from_v1_to_v2_keeps_its_promise_at_every_step() {
    let cluster = Cluster::new();
    cluster.fake.add_deployment(Deployment::test("web").replicas(10).max_surge(3).max_unavailable(2));
    // The first rollout has nothing to keep available: run it before checking the budget.
    for _ in 0..5 {
        let _ = cluster.deployments.sync_deployment(&key("web")).await;
        cluster.replica_set_round().await;
        cluster.kubelet();
        cluster.replica_set_round().await;
    }
    let _ = cluster.deployments.sync_deployment(&key("web")).await;
    assert!(cluster.complete(), "{:?}", fields::status(&cluster.deployment()));
    cluster.fake.take_events();
    cluster.fake.clock.advance(10);

    cluster.fake.edit_deployment("web", |d| *d = d.clone().image("skiff/demo-web:v2"));
    let rounds = cluster.run_until(Cluster::complete, 40).await;
    assert!(rounds > 3, "in steps, not at once");
    assert_eq!(cluster.images_of_ready_pods(), vec!["skiff/demo-web:v2"]);
    assert_eq!(cluster.fake.pods().len(), 10);
    let sizes: Vec<i32> = cluster.fake.replica_sets().iter().map(fields::rs_replicas).collect();
    assert_eq!(sizes, vec![0, 10], "the old ReplicaSet is kept, empty, for `rollout undo`");
    let events = cluster.fake.take_events();
    let v1 = fields::name(&cluster.fake.replica_sets()[0].metadata).to_string();
    let last_step = format!("Normal ScalingReplicaSet Scaled down replica set {v1} to 0 from");
    assert!(events.iter().any(|e| e.starts_with(&last_step)), "{events:#?}");
}

#[tokio::test]
async fn a_crash_looping_rollout_stalls_within_budget_times_out_and_is_undone() {
    let cluster = Cluster::new();
    cluster.fake.add_deployment(Deployment::test("web").replicas(10).max_surge(3).max_unavailable(2));
    for _ in 0..5 {
        let _ = cluster.deployments.sync_deployment(&key("web")).await;
        cluster.replica_set_round().await;
        cluster.kubelet();
        cluster.replica_set_round().await;
    }
    let v1_template = fields::template(&cluster.deployment());
    cluster.fake.clock.advance(10);

    cluster.fake.edit_deployment("web", |d| *d = d.clone().image("skiff/demo-web:crash"));
    for _ in 0..10 {
        cluster.round().await;
    }
    // Stalled: 8 old pods serve, 5 new ones crash, and nothing more moves.
    let sizes: Vec<i32> = cluster.fake.replica_sets().iter().map(fields::rs_replicas).collect();
    assert_eq!(sizes, vec![8, 5]);

    // Ten minutes without progress.
    cluster.fake.clock.advance(600);
    cluster.round().await;
    assert_eq!(cluster.progressing_reason().as_deref(), Some(TIMED_OUT_REASON));

    // `kubectl rollout undo`: the v1 template back; its ReplicaSet scales up again.
    cluster.fake.edit_deployment("web", |d| d.spec.as_mut().unwrap().template = v1_template.clone());
    cluster.run_until(Cluster::complete, 40).await;
    assert_eq!(cluster.images_of_ready_pods(), vec!["skiff/demo-web:v1"]);
    assert_eq!(cluster.fake.replica_sets().len(), 2, "the old ReplicaSet was reused");
    let sizes: Vec<i32> = cluster.fake.replica_sets().iter().map(fields::rs_replicas).collect();
    assert_eq!(sizes, vec![10, 0]);
}

/// The runner (`skiff_client::controller::Controller::run`) spawns each reconcile: the syncs'
/// futures must be `Send`, and the controllers shareable across its workers.
#[test]
fn the_syncs_can_run_on_the_controller_runner() {
    fn runnable<T: Send>(_: &T) {}
    fn shareable<T: Send + Sync>(_: &T) {}
    let cluster = Cluster::new();
    let key = key("web");
    runnable(&cluster.deployments.sync_deployment(&key));
    runnable(&cluster.replica_sets.sync_replica_set(&key));
    shareable(&cluster.deployments);
    shareable(&cluster.replica_sets);
}
