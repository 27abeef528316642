//! Deployments end to end (issue 5): a whole cluster in this process (`common`) on real Docker,
//! driven by the real kubectl, each rollout followed pod by pod by a watch
//! (`common/pod_watch.rs`, whose doc gives the rules: a pod *counts* when it is active — not
//! being deleted, not Succeeded or Failed —, it is *available* once Ready for longer than
//! minReadySeconds, as Kubernetes counts them).
//!
//! - [`a_rolling_update_of_ten_stays_within_one_surge_pod_and_ten_available_and_undo_renumbers`]:
//!   10 replicas, maxSurge 1, maxUnavailable 0, minReadySeconds 1, v1 → v2 by `kubectl apply`:
//!   at every moment at most 11 pods count and at least 10 are available; then `kubectl rollout
//!   history` shows each change-cause, and `rollout undo --to-revision=1` and `rollout undo`
//!   bring the old image back under a new, highest revision.
//! - [`pause_holds_set_image_scale_and_healing_follow_recreate_never_mixes_and_delete_cascades`]:
//!   a paused Deployment ignores `kubectl set image` until resumed; `kubectl scale` up and down;
//!   a deleted pod is replaced; a Recreate rollout never has both versions at once;
//!   `kubectl delete deployment` leaves no ReplicaSet, no pod and no container.
//! - [`a_rollout_survives_kill_9_of_the_controller_manager_without_a_surplus_pod`]: the real
//!   `skiff-controller-manager` binary killed with SIGKILL twice in the middle of a rollout and
//!   started again: the rollout completes, never more than replicas + maxSurge pods, and exactly
//!   as many pods created as the rollout needs.
//!
//! Kubernetes' own e2e tests check the same (`test/e2e/apps/deployment.go`:
//! `testRollingUpdateDeployment`, `testRecreateDeployment`, `testDeploymentCleanUpPolicy`,
//! `testRolloverDeployment`); there, the surge is checked from the ReplicaSets' sizes and the
//! availability from the Deployment's status, polled (`test/utils/deployment.go`); here, at
//! every event of the pods themselves.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use skiff_client::{Api, ListParams};

use common::pod_watch::{image, is_ready as ready, PodWatch, Seen};
use common::{guards, Cluster, Options};

/// Every Deployment here waits this long after a pod is Ready before it counts it available.
const MIN_READY_SECONDS: i64 = 1;

const ROLLING: &str = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}";
const RECREATE: &str = "{type: Recreate}";

/// A Deployment of demo-web `version`, its pods labelled `app: <name>`, with a readiness probe
/// every second and `cause` as its `kubernetes.io/change-cause`.
fn deployment(name: &str, replicas: u32, strategy: &str, version: &str, cause: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations: {{kubernetes.io/change-cause: '{cause}'}}
spec:
  replicas: {replicas}
  minReadySeconds: {MIN_READY_SECONDS}
  selector: {{matchLabels: {{app: {name}}}}}
  strategy: {strategy}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: skiff/demo-web:{version}
        ports: [{{name: http, containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /ready, port: 8080}}, periodSeconds: 1}}
"
    )
}

fn demo_web(version: &str) -> String {
    format!("skiff/demo-web:{version}")
}

/// The pods labelled `app=<app>` that exist.
async fn pods(cluster: &Cluster, app: &str) -> Vec<Pod> {
    let api = Api::<Pod>::namespaced(cluster.client.clone(), "default");
    api.list(&ListParams::labels(&format!("app={app}"))).await.expect("pods are listed").0
}

/// Of [`pods`], the active ones (no `deletionTimestamp`).
async fn active_pods(cluster: &Cluster, app: &str) -> Vec<Pod> {
    pods(cluster, app).await.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect()
}

async fn replica_sets(cluster: &Cluster, app: &str) -> Vec<ReplicaSet> {
    let api = Api::<ReplicaSet>::namespaced(cluster.client.clone(), "default");
    api.list(&ListParams::labels(&format!("app={app}"))).await.expect("ReplicaSets are listed").0
}

fn names<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(objects: &[T]) -> BTreeSet<String> {
    objects.iter().filter_map(|o| o.metadata().name.clone()).collect()
}

fn uids(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter().filter_map(|p| p.metadata.uid.clone()).collect()
}

/// `(name, image, ready)` of each pod: what an assertion message shows.
fn describe(pods: &[Pod]) -> Vec<(String, String, bool)> {
    pods.iter().map(|p| (p.metadata.name.clone().unwrap_or_default(), image(p), ready(p))).collect()
}

/// Waits until exactly `count` pods of `app` exist, all active, Ready and running `version`
/// (an image).
async fn settled(cluster: &Cluster, app: &str, count: usize, version: &str) {
    let what = format!("{count} pods of {app}, all Ready with {version}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let pods = pods(cluster, app).await;
        let fine = |p: &Pod| p.metadata.deletion_timestamp.is_none() && ready(p) && image(p) == version;
        if pods.len() == count && pods.iter().all(fine) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; there are {:?}",
            describe(&pods)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `kubectl rollout history`: (revision, change-cause) rows.
async fn history(cluster: &Cluster, deployment: &str) -> Vec<(u32, String)> {
    let out = cluster.plane.ok(&["rollout", "history", &format!("deployment/{deployment}")]).await;
    out.lines()
        .filter_map(|line| {
            let (revision, cause) = line.split_once(' ')?;
            Some((revision.parse().ok()?, cause.trim().to_string()))
        })
        .collect()
}

/// The image of the ReplicaSet annotated with `revision`, and its revision-history annotation.
fn revision_of(rss: &[ReplicaSet], revision: u32) -> Option<(String, String)> {
    let rs = rss.iter().find(|rs| annotation(rs, "deployment.kubernetes.io/revision") == revision.to_string())?;
    let template = rs.spec.as_ref()?.template.as_ref()?;
    let image = template.spec.as_ref()?.containers.first()?.image.clone()?;
    Some((image, annotation(rs, "deployment.kubernetes.io/revision-history")))
}

fn annotation(rs: &ReplicaSet, key: &str) -> String {
    rs.metadata.annotations.as_ref().and_then(|a| a.get(key)).cloned().unwrap_or_default()
}

/// The surge and availability limits of a rolling update, checked at every moment `seen`.
fn assert_within_limits(seen: &Seen, replicas: usize, max_surge: usize) {
    let most = seen.most_active().expect("the watch saw something");
    assert!(
        most.active <= replicas + max_surge,
        "at most {replicas} + {max_surge} pods count at every moment; {} at\n  {most}\ntimeline:{}",
        most.active,
        seen.timeline()
    );
    assert_eq!(
        most.active,
        replicas + max_surge,
        "the surge was used (the watch sees every step), at most {} at\n  {most}\ntimeline:{}",
        most.active,
        seen.timeline()
    );
    let least = seen.least_available().expect("the watch saw something");
    assert!(
        least.available >= replicas,
        "maxUnavailable 0: at least {replicas} available at every moment; {} at\n  {least}\ntimeline:{}",
        least.available,
        seen.timeline()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_of_ten_stays_within_one_surge_pod_and_ten_available_and_undo_renumbers() {
    let cluster = Cluster::start(1).await;
    let plane = &cluster.plane;
    let (v1, v2) = (demo_web("v1"), demo_web("v2"));
    cluster.apply(&deployment("web", 10, ROLLING, "v1", "first release")).await;
    cluster.rolled_out("web").await;

    let watch = PodWatch::start(cluster.client.clone(), "default", "app=web", MIN_READY_SECONDS).await;
    let applied = plane.ok_with_input(&["apply", "-f", "-"], &deployment("web", 10, ROLLING, "v2", "v2 rolled")).await;
    assert_eq!(applied.trim(), "deployment.apps/web configured");
    cluster.rolled_out("web").await;
    let seen = watch.stop().await;
    eprintln!("the rolling update, v1 → v2:{}", seen.timeline());
    assert_within_limits(&seen, 10, 1);
    let created: Vec<_> = seen.created.values().collect();
    assert!(
        created.len() == 10 && created.iter().all(|c| c.image == v2),
        "the rollout created 10 pods, all {v2}; it created {created:?}"
    );
    settled(&cluster, "web", 10, &v2).await;

    let rows = history(&cluster, "web").await;
    assert_eq!(rows, [(1, "first release".into()), (2, "v2 rolled".into())], "kubectl rollout history");

    // Fewer replicas, so that the two rollbacks take a few seconds each.
    assert_eq!(plane.ok(&["scale", "deployment/web", "--replicas=3"]).await.trim(), "deployment.apps/web scaled");
    settled(&cluster, "web", 3, &v2).await;

    // Back to revision 1: its ReplicaSet is the new one again, under revision 3.
    let undone = plane.ok(&["rollout", "undo", "deployment/web", "--to-revision=1"]).await;
    assert_eq!(undone.trim(), "deployment.apps/web rolled back");
    cluster.rolled_out("web").await;
    settled(&cluster, "web", 3, &v1).await;
    let rows = history(&cluster, "web").await;
    assert_eq!(rows, [(2, "v2 rolled".into()), (3, "first release".into())], "revision 1 became revision 3");
    let rss = replica_sets(&cluster, "web").await;
    assert_eq!(rss.len(), 2, "the old ReplicaSet was taken back, not made again: {:?}", names(&rss));
    assert_eq!(revision_of(&rss, 3), Some((v1.clone(), "1".into())), "revision 3 is v1, once revision 1");

    // `undo` with no revision goes back to the one before: v2, now revision 4.
    let undone = plane.ok(&["rollout", "undo", "deployment/web"]).await;
    assert_eq!(undone.trim(), "deployment.apps/web rolled back");
    cluster.rolled_out("web").await;
    settled(&cluster, "web", 3, &v2).await;
    let rows = history(&cluster, "web").await;
    assert_eq!(rows, [(3, "first release".into()), (4, "v2 rolled".into())], "revision 2 became revision 4");
    let rss = replica_sets(&cluster, "web").await;
    assert_eq!(revision_of(&rss, 4), Some((v2.clone(), "2".into())), "revision 4 is v2, once revision 2");
    let image = cluster.jsonpath(&["deploy", "web"], "{.spec.template.spec.containers[0].image}").await;
    assert_eq!(image, v2, "the Deployment's template after the second undo");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_set_image_scale_and_healing_follow_recreate_never_mixes_and_delete_cascades() {
    let cluster = Cluster::start(1).await;
    let plane = &cluster.plane;
    let (v1, v2) = (demo_web("v1"), demo_web("v2"));
    let manifests =
        [deployment("web", 3, ROLLING, "v1", "first"), deployment("batch", 3, RECREATE, "v1", "first")].join("---\n");
    cluster.apply(&manifests).await;
    cluster.rolled_out("web").await;
    cluster.rolled_out("batch").await;

    // A deleted pod is replaced by a new one of the same ReplicaSet.
    let before = active_pods(&cluster, "web").await;
    let victim = before[0].metadata.name.clone().unwrap();
    assert_eq!(plane.ok(&["delete", "pod", &victim]).await.trim(), format!("pod \"{victim}\" deleted"));
    settled(&cluster, "web", 3, &v1).await;
    let after = active_pods(&cluster, "web").await;
    let new: Vec<_> = uids(&after).difference(&uids(&before)).cloned().collect();
    assert!(
        new.len() == 1 && !names(&after).contains(&victim),
        "one new pod in place of {victim}: before {:?}, after {:?}",
        names(&before),
        names(&after)
    );
    assert_eq!(replica_sets(&cluster, "web").await.len(), 1, "healing makes no new ReplicaSet");

    // kubectl scale, up and down: the pods follow.
    assert_eq!(plane.ok(&["scale", "deployment/web", "--replicas=5"]).await.trim(), "deployment.apps/web scaled");
    settled(&cluster, "web", 5, &v1).await;
    plane.ok(&["scale", "deployment/web", "--replicas=2"]).await;
    settled(&cluster, "web", 2, &v1).await;
    let replicas = cluster.jsonpath(&["deploy", "web"], "{.status.replicas} {.status.availableReplicas}").await;
    assert_eq!(replicas, "2 2", "status.replicas and availableReplicas after the scale-down");

    // Paused: `set image` changes the template, and nothing else happens.
    assert_eq!(plane.ok(&["rollout", "pause", "deployment/web"]).await.trim(), "deployment.apps/web paused");
    let (pods_before, rss_before) =
        (uids(&active_pods(&cluster, "web").await), names(&replica_sets(&cluster, "web").await));
    plane.ok(&["set", "image", "deployment/web", &format!("web={v2}")]).await;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (pods, rss) = (active_pods(&cluster, "web").await, replica_sets(&cluster, "web").await);
        assert_eq!(names(&rss), rss_before, "paused: no new ReplicaSet");
        assert_eq!(uids(&pods), pods_before, "paused: the pods stay as they are, they are {:?}", describe(&pods));
    }
    let progressing = cluster.jsonpath(&["deploy", "web"], "{.status.conditions[?(@.type==\"Progressing\")].reason}");
    assert_eq!(progressing.await, "DeploymentPaused");
    assert_eq!(plane.ok(&["rollout", "resume", "deployment/web"]).await.trim(), "deployment.apps/web resumed");
    cluster.rolled_out("web").await;
    settled(&cluster, "web", 2, &v2).await;
    assert_eq!(replica_sets(&cluster, "web").await.len(), 2, "resumed: a new ReplicaSet for v2");

    // Recreate: every v1 pod is gone before the first v2 pod is made.
    let watch = PodWatch::start(cluster.client.clone(), "default", "app=batch", MIN_READY_SECONDS).await;
    plane.ok(&["set", "image", "deployment/batch", &format!("web={v2}")]).await;
    cluster.rolled_out("batch").await;
    let seen = watch.stop().await;
    eprintln!("the Recreate rollout, v1 → v2:{}", seen.timeline());
    let mixed = seen.moments.iter().find(|m| m.images.len() > 1).map(|m| m.to_string());
    assert!(mixed.is_none(), "Recreate never runs v1 and v2 together; at\n  {mixed:?}\ntimeline:{}", seen.timeline());
    assert_eq!(seen.moments.first().map(|m| m.images.get(&v1)), Some(Some(&3)), "{}", seen.timeline());
    assert_eq!(seen.created_with(&v2), 3, "three v2 pods created: {:?}", seen.created);
    settled(&cluster, "batch", 3, &v2).await;

    // kubectl delete deployment: its ReplicaSets, its pods and their containers go.
    let doomed = uids(&pods(&cluster, "web").await);
    assert_eq!(plane.ok(&["delete", "deployment", "web"]).await.trim(), "deployment.apps \"web\" deleted");
    let cluster_ref = &cluster;
    plane
        .eventually("no ReplicaSet and no pod of web", Duration::from_secs(60), || async move {
            replica_sets(cluster_ref, "web").await.is_empty() && pods(cluster_ref, "web").await.is_empty()
        })
        .await;
    let filter = format!("label=io.skiff.node={}", cluster.nodes[0]);
    let containers = guards::output(
        "docker",
        &["ps", "-a", "--filter", &filter, "--format", "{{.Label \"io.kubernetes.pod.uid\"}}"],
    );
    let left: Vec<&str> = containers.lines().filter(|uid| doomed.contains(*uid)).collect();
    assert!(left.is_empty(), "the deleted pods' containers are removed; containers of {left:?} are left");
    assert_eq!(active_pods(&cluster, "batch").await.len(), 3, "the other Deployment keeps its pods");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_survives_kill_9_of_the_controller_manager_without_a_surplus_pod() {
    let options = Options { controller_manager_process: true, ..Default::default() };
    let mut cluster = Cluster::start_with(1, options).await;
    let v2 = demo_web("v2");
    cluster.apply(&deployment("web", 6, ROLLING, "v1", "first")).await;
    cluster.rolled_out("web").await;

    let watch = PodWatch::start(cluster.client.clone(), "default", "app=web", MIN_READY_SECONDS).await;
    cluster.plane.ok(&["set", "image", "deployment/web", &format!("web={v2}")]).await;
    for new_pods in [2, 4] {
        // Killed just after the ReplicaSet controller created a pod, while the Deployment's
        // next step waits for that pod to become available.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while watch.seen().created_with(&v2) < new_pods {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {new_pods} new pods in 60 s:{}",
                watch.seen().timeline()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cluster.kill_controller_manager();
        let at_kill = watch.seen().created.len();
        // Long enough for the new pod to become available, so that the next controller-manager
        // finds work to do.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let seen = watch.seen();
        assert_eq!(
            seen.created.len(),
            at_kill,
            "no pod is created while no controller-manager runs:{}",
            seen.timeline()
        );
        cluster.restart_controller_manager().await;
    }
    cluster.rolled_out("web").await;
    let seen = watch.stop().await;
    eprintln!("the rolling update, killed twice:{}", seen.timeline());
    assert_within_limits(&seen, 6, 1);
    let created: Vec<_> = seen.created.values().collect();
    assert!(
        created.len() == 6 && created.iter().all(|c| c.image == v2),
        "exactly the 6 pods the rollout needs were created, all {v2}; there were {created:?}"
    );
    settled(&cluster, "web", 6, &v2).await;
    cluster.stop().await;
}
