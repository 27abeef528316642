//! The garbage collector as part of the daemon, against the real API server, driven by the real
//! kubectl: the three propagation policies of `kubectl delete`, owners that share a dependent,
//! an owner that never existed, and a controller-manager restarted half-way through a cascade;
//! and the namespace controller's cascade, `kubectl delete namespace`.
//!
//! No kubelet runs here: a stand-in marks every pod Running and Ready (as in `rollouts.rs`), and
//! pods, never scheduled, go at once when deleted. Where a test must see a cascade half-way, it
//! holds the pods with a finalizer of its own (`skiff.test/hold`), as a kubelet's grace period
//! would.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use skiff_client::watcher::{watcher, Event, Retry};
use skiff_client::{Api, Client, ListParams};
use skiff_tests::control_plane::ControlPlane;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: 'skiff/demo-web:v1'}]
";

const HOLD: &str = "skiff.test/hold";
const LIMIT: Duration = Duration::from_secs(30);

/// Marks every pod Running and Ready: the kubelet's part, faked.
fn ready_every_pod(client: Client, stop: CancellationToken) {
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::all(client.clone());
        let mut events =
            Box::pin(watcher(pods.lister(ListParams::default()), Retry::default()).take_until(stop.cancelled_owned()));
        while let Some(event) = events.next().await {
            let fresh = match event {
                Event::Restarted(all) => all,
                Event::Applied(pod) => vec![pod],
                Event::Deleted(_) => continue,
            };
            for pod in fresh {
                let ready = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                if ready || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let namespace = pod.metadata.namespace.clone().unwrap_or_default();
                let name = pod.metadata.name.clone().unwrap_or_default();
                let status = json!({"status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T00:00:00Z"}]}});
                let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
                let _ = api.patch_status(&name, &skiff_client::Patch::Merge(status)).await;
            }
        }
    });
}

/// The controller-manager daemon, in this process; cancel the token and await the handle to
/// stop it.
fn start_controller_manager(plane: &ControlPlane) -> (CancellationToken, JoinHandle<()>) {
    let stop = CancellationToken::new();
    let config =
        skiff_controller_manager::Config { api: plane.grpc_address.to_string(), workers: 2, metrics_listen: None };
    let running = tokio::spawn(skiff_controller_manager::run(config, stop.clone()));
    (stop.clone(), tokio::spawn(async move { running.await.unwrap().unwrap() }))
}

/// Logs as `RUST_LOG` says (`RUST_LOG=skiff_controller_manager::garbage_collector=debug` shows
/// every decision); nothing by default.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

async fn start() -> (ControlPlane, CancellationToken) {
    init_logs();
    let plane = ControlPlane::start().await;
    let (stop, _) = start_controller_manager(&plane);
    ready_every_pod(plane.client("fake-kubelet").await, stop.clone());
    (plane, stop)
}

/// The names of the `kind` objects `selector` picks.
async fn names(plane: &ControlPlane, kind: &str, selector: &str) -> Vec<String> {
    let out = plane.ok(&["get", kind, "-l", selector, "-o", "jsonpath={.items[*].metadata.name}"]).await;
    out.split_whitespace().map(str::to_string).collect()
}

/// One field of one object, by JSONPath; empty if the object or the field is not there.
async fn field(plane: &ControlPlane, kind: &str, name: &str, path: &str) -> String {
    let out = plane.kubectl(&["get", kind, name, "-o", &format!("jsonpath={path}")]).await;
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn exists(plane: &ControlPlane, kind: &str, name: &str) -> bool {
    plane.kubectl(&["get", kind, name]).await.status.success()
}

/// `web` rolled out: one ReplicaSet, three ready pods. Returns the ReplicaSet's name.
async fn roll_out_web(plane: &ControlPlane) -> String {
    plane.ok_with_input(&["apply", "-f", "-"], WEB).await;
    plane.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]).await;
    let replica_sets = names(plane, "rs", "app=web").await;
    assert_eq!(replica_sets.len(), 1, "{replica_sets:?}");
    assert_eq!(names(plane, "pods", "app=web").await.len(), 3);
    replica_sets[0].clone()
}

/// Adds or removes the test's finalizer on every pod of `web`.
async fn hold_pods(plane: &ControlPlane, hold: bool) {
    for pod in names(plane, "pods", "app=web").await {
        let patch =
            if hold { json!({"metadata": {"finalizers": [HOLD]}}) } else { json!({"metadata": {"finalizers": null}}) };
        plane.ok(&["patch", "pod", &pod, "--type=merge", "-p", &patch.to_string()]).await;
    }
}

async fn all_pods_marked_for_deletion(plane: &ControlPlane) -> bool {
    let pods = names(plane, "pods", "app=web").await;
    let marked =
        plane.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.deletionTimestamp}"]).await;
    pods.len() == 3 && marked.split_whitespace().count() == 3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_deploy_leaves_no_replica_set_or_pod() {
    let (plane, stop) = start().await;
    roll_out_web(&plane).await;
    plane.ok(&["delete", "deploy", "web"]).await;
    let plane = &plane;
    plane
        .eventually("the ReplicaSet and every pod gone", LIMIT, || async move {
            names(plane, "rs", "app=web").await.is_empty() && names(plane, "pods", "app=web").await.is_empty()
        })
        .await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreground_deletion_keeps_the_deployment_until_its_replica_sets_and_pods_are_gone() {
    let (plane, stop) = start().await;
    let rs = roll_out_web(&plane).await;
    hold_pods(&plane, true).await;
    plane.ok(&["delete", "deploy", "web", "--cascade=foreground", "--wait=false"]).await;
    let plane = &plane;
    plane.eventually("every pod deleted (held by the test)", LIMIT, || all_pods_marked_for_deletion(plane)).await;

    // The pods are still there, so their ReplicaSet and its Deployment wait.
    assert_ne!(field(plane, "deploy", "web", "{.metadata.deletionTimestamp}").await, "");
    assert_eq!(field(plane, "deploy", "web", "{.metadata.finalizers}").await, r#"["foregroundDeletion"]"#);
    assert_ne!(
        field(plane, "rs", &rs, "{.metadata.deletionTimestamp}").await,
        "",
        "the ReplicaSet is deleted in the foreground too"
    );
    assert_eq!(field(plane, "rs", &rs, "{.metadata.finalizers}").await, r#"["foregroundDeletion"]"#);

    hold_pods(plane, false).await;
    plane
        .eventually("the pods, then the ReplicaSet, then the Deployment gone", LIMIT, || async move {
            !exists(plane, "deploy", "web").await && names(plane, "rs", "app=web").await.is_empty()
        })
        .await;
    assert!(names(plane, "pods", "app=web").await.is_empty());

    // With kubectl's default wait, the same cascade returns once the Deployment is gone.
    roll_out_web(plane).await;
    plane.ok(&["delete", "deploy", "web", "--cascade=foreground", "--timeout=60s"]).await;
    assert!(names(plane, "rs", "app=web").await.is_empty(), "the ReplicaSet went before the Deployment");
    assert!(names(plane, "pods", "app=web").await.is_empty());
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_deletion_removes_the_deployment_and_leaves_its_replica_set_and_pods_unowned() {
    let (plane, stop) = start().await;
    let rs = roll_out_web(&plane).await;
    // kubectl waits until the Deployment is gone: until the collector has removed the finalizer.
    plane.ok(&["delete", "deploy", "web", "--cascade=orphan", "--timeout=60s"]).await;
    assert!(!exists(&plane, "deploy", "web").await);
    assert_eq!(
        field(&plane, "rs", &rs, "{.metadata.ownerReferences}").await,
        "",
        "no reference left to the Deployment"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(names(&plane, "rs", "app=web").await, vec![rs.clone()], "the orphan is not collected later");
    let owners = plane
        .ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.ownerReferences[*].name}"])
        .await;
    assert_eq!(owners.split_whitespace().collect::<Vec<_>>(), vec![rs.as_str(); 3], "the pods keep their ReplicaSet");
    stop.cancel();
}

fn config_map(name: &str, owners: &[(&str, &str)]) -> String {
    let references: Vec<_> = owners
        .iter()
        .map(|(name, uid)| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid}))
        .collect();
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "ownerReferences": references}, "data": {"k": "v"}})
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_map_with_two_owners_survives_one_and_loses_only_its_reference() {
    let (plane, stop) = start().await;
    plane.ok(&["create", "configmap", "owner-a"]).await;
    plane.ok(&["create", "configmap", "owner-b"]).await;
    let (a, b) = (
        field(&plane, "cm", "owner-a", "{.metadata.uid}").await,
        field(&plane, "cm", "owner-b", "{.metadata.uid}").await,
    );
    plane.ok_with_input(&["create", "-f", "-"], &config_map("shared", &[("owner-a", &a), ("owner-b", &b)])).await;
    plane.ok(&["delete", "configmap", "owner-a"]).await;
    let plane = &plane;
    plane
        .eventually("shared owned by owner-b alone", LIMIT, || async move {
            field(plane, "cm", "shared", "{.metadata.ownerReferences[*].name}").await == "owner-b"
        })
        .await;
    assert_eq!(field(plane, "cm", "shared", "{.metadata.ownerReferences[0].uid}").await, b);
    assert_eq!(field(plane, "cm", "shared", "{.data.k}").await, "v", "the rest of it untouched");

    // Its last owner gone, it goes too.
    plane.ok(&["delete", "configmap", "owner-b"]).await;
    plane.eventually("shared collected", LIMIT, || async move { !exists(plane, "cm", "shared").await }).await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_owned_by_a_replica_set_that_never_existed_is_collected() {
    let (plane, stop) = start().await;
    let ghost = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "ghost", "uid": "6f1b9c52-7d1e-4b7a-9a53-000000000000", "controller": true}]},
        "spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v1"}]}});
    let bystander = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bystander"},
        "spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v1"}]}});
    plane.ok_with_input(&["create", "-f", "-"], &bystander.to_string()).await;
    plane.ok_with_input(&["create", "-f", "-"], &ghost.to_string()).await;
    let plane = &plane;
    plane
        .eventually(
            "the pod of a made-up owner collected",
            LIMIT,
            || async move { !exists(plane, "pod", "orphan").await },
        )
        .await;
    assert!(exists(plane, "pod", "bystander").await, "a pod without owners is nobody's garbage");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_manager_restarted_half_way_through_a_foreground_deletion_finishes_it() {
    init_logs();
    let plane = ControlPlane::start().await;
    let (stop, running) = start_controller_manager(&plane);
    let stand_in = CancellationToken::new();
    ready_every_pod(plane.client("fake-kubelet").await, stand_in.clone());
    let rs = roll_out_web(&plane).await;
    hold_pods(&plane, true).await;
    plane.ok(&["delete", "deploy", "web", "--cascade=foreground", "--wait=false"]).await;
    let plane = &plane;
    plane.eventually("every pod deleted (held by the test)", LIMIT, || all_pods_marked_for_deletion(plane)).await;

    // Half-way: the pods marked, the ReplicaSet and the Deployment waiting. Stop, let the pods
    // go while nobody watches, start again.
    stop.cancel();
    tokio::time::timeout(LIMIT, running).await.expect("the controller-manager stops").unwrap();
    hold_pods(plane, false).await;
    plane.eventually("the pods gone", LIMIT, || async move { names(plane, "pods", "app=web").await.is_empty() }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(exists(plane, "rs", &rs).await && exists(plane, "deploy", "web").await, "nobody removed their finalizers");

    let (stop, _) = start_controller_manager(plane);
    let rs = rs.as_str();
    plane
        .eventually("the ReplicaSet and the Deployment gone after the restart", LIMIT, || async move {
            !exists(plane, "rs", rs).await && !exists(plane, "deploy", "web").await
        })
        .await;
    stop.cancel();
    stand_in.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_namespace_empties_it_and_then_it_goes() {
    let (plane, _stop) = start().await;
    plane.ok(&["create", "namespace", "dev"]).await;
    plane.ok(&["-n", "dev", "create", "configmap", "settings"]).await;
    plane.ok_with_input(&["-n", "dev", "apply", "-f", "-"], WEB).await;
    plane.ok(&["-n", "dev", "rollout", "status", "deployment/web", "--timeout=60s"]).await;
    // One pod held, as a kubelet stopping it would hold it.
    let pods = plane.ok(&["-n", "dev", "get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]).await;
    let held = pods.split_whitespace().next().expect("web's pods").to_string();
    let patch = json!({"metadata": {"finalizers": [HOLD]}}).to_string();
    plane.ok(&["-n", "dev", "patch", "pod", &held, "--type=merge", "-p", &patch]).await;

    assert_eq!(plane.ok(&["delete", "namespace", "dev", "--wait=false"]).await.trim(), "namespace \"dev\" deleted");
    let plane = &plane;
    let condition = |type_: &'static str| async move {
        let path = format!("jsonpath={{.status.conditions[?(@.type==\"{type_}\")].message}}");
        plane.ok(&["get", "namespace", "dev", "-o", &path]).await
    };
    plane
        .eventually("the namespace says one held pod is left", LIMIT, || async move {
            condition("NamespaceContentRemaining").await
                == "Some resources are remaining: pods. has 1 resource instances"
        })
        .await;
    let finalizers = condition("NamespaceFinalizersRemaining").await;
    assert_eq!(
        finalizers,
        format!("Some content in the namespace has finalizers remaining: {HOLD} in 1 resource instances")
    );
    assert_eq!(plane.ok(&["get", "namespace", "dev", "-o", "jsonpath={.status.phase}"]).await, "Terminating");
    let everything = plane.ok(&["-n", "dev", "get", "deploy,rs,cm,pods", "-o", "name"]).await;
    assert_eq!(everything.trim(), format!("pod/{held}"), "everything else is gone");
    let refused = plane.fails(&["-n", "dev", "create", "configmap", "late"]).await;
    assert!(refused.contains("because it is being terminated"), "{refused}");

    // The pod goes: so does the namespace, and `kubectl delete` (which waits) returns.
    let release = json!({"metadata": {"finalizers": null}}).to_string();
    plane.ok(&["-n", "dev", "patch", "pod", &held, "--type=merge", "-p", &release]).await;
    let waited = plane.kubectl(&["wait", "--for=delete", "namespace/dev", "--timeout=30s"]).await;
    assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
    assert!(plane.fails(&["get", "namespace", "dev"]).await.contains("not found"));
    plane.ok(&["create", "namespace", "dev"]).await;
    let fresh = plane.ok(&["-n", "dev", "get", "deploy,rs,cm,pods", "-o", "name"]).await;
    assert_eq!(fresh.trim(), "", "a namespace made again under the name starts empty");
}
