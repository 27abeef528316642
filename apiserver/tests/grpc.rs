//! The internal gRPC API through `skiff-client`'s typed `Api<K>`, against the real API server
//! on skiff-store: the same verbs, checks and errors as REST, watches from the watch cache, the
//! watcher's re-list on expiry, graceful pod deletion and binding.

mod common;

use std::time::Duration;

use common::Cluster;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::json;
use skiff_client::api::{Kind, ListParams};
use skiff_client::watcher::{watcher, Event, Retry};
use skiff_client::{Api, Client, Patch};

async fn client(cluster: &Cluster) -> Client {
    Client::connect(&cluster.grpc_address.to_string(), "grpc-test").await.unwrap()
}

fn config_map(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": {"a": "1"}})).unwrap()
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v1"}]}}))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_objects_are_created_read_listed_patched_and_deleted_with_kubernetes_errors() {
    let cluster = Cluster::start().await;
    let client = client(&cluster).await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let created = maps.create(&config_map("cfg", json!({"app": "web"}))).await.unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());
    let again = maps.create(&config_map("cfg", json!({}))).await.unwrap_err();
    assert!(again.is_already_exists(), "{again}");
    assert_eq!(again.to_string(), "configmaps \"cfg\" already exists (AlreadyExists, 409)");

    // kubectl sees what the gRPC client wrote.
    assert_eq!(cluster.ok(&["get", "cm", "cfg", "-o", "jsonpath={.data.a}"]).await, "1");

    let (listed, _) = maps.list(&ListParams::labels("app=web")).await.unwrap();
    assert_eq!(listed.len(), 1);
    let bad = maps.list(&ListParams::fields("spec.nodeName=x")).await.unwrap_err();
    assert_eq!(bad.to_string(), "field label not supported: spec.nodeName (BadRequest, 400)");

    let patched = maps.patch("cfg", &Patch::Merge(json!({"data": {"b": "2"}}))).await.unwrap();
    assert_eq!(patched.data.clone().unwrap().len(), 2);
    // A resourceVersion in a patch is a precondition.
    let stale = json!({"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"z": "9"}});
    assert!(maps.patch("cfg", &Patch::Merge(stale)).await.unwrap_err().is_conflict());
    let current = json!({"metadata": {"resourceVersion": patched.metadata.resource_version}, "data": {"z": "9"}});
    maps.patch("cfg", &Patch::Merge(current)).await.unwrap();

    // A stale resourceVersion is a conflict.
    let mut stale = created.clone();
    stale.data = Some([("c".to_string(), "3".to_string())].into());
    assert!(maps.replace("cfg", &stale).await.unwrap_err().is_conflict());

    maps.delete("cfg", &serde_json::Value::Null).await.unwrap();
    assert!(maps.get("cfg").await.unwrap_err().is_not_found());
    assert!(maps.get_opt("cfg").await.unwrap().is_none());

    // The same validation and defaults as REST.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let web: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v1"}]}}}}))
    .unwrap();
    let web = deployments.create(&web).await.unwrap();
    let spec = web.spec.clone().unwrap();
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.revision_history_limit, Some(10));
    let missing = Api::<ConfigMap>::namespaced(client, "nowhere").create(&config_map("x", json!({}))).await;
    assert!(missing.unwrap_err().is_not_found());

    // A Deployment's status write carries its annotations (the controller's revision), not its spec.
    let mut status_write = web.clone();
    status_write.metadata.annotations = Some([("deployment.kubernetes.io/revision".to_string(), "1".to_string())].into());
    status_write.spec.as_mut().unwrap().replicas = Some(7);
    status_write.status = Some(serde_json::from_value(json!({"observedGeneration": 1, "replicas": 0})).unwrap());
    let written = deployments.replace_status("web", &status_write).await.unwrap();
    assert_eq!(written.metadata.annotations.unwrap()["deployment.kubernetes.io/revision"], "1");
    assert_eq!(written.spec.unwrap().replicas, Some(1));
    assert_eq!(written.status.unwrap().observed_generation, Some(1));
    // A patch that names another uid than the object's is refused: the uid is immutable.
    let other_uid = deployments.patch("web", &Patch::Merge(json!({"metadata": {"uid": "not-this-one"}}))).await;
    let other_uid = other_uid.unwrap_err();
    assert!(other_uid.is_invalid(), "{other_uid}");
    assert!(other_uid.to_string().contains("metadata.uid: Invalid value: \"not-this-one\": field is immutable"), "{other_uid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_replay_filter_and_report_expiry() {
    let cluster = Cluster::start().await;
    let client = client(&cluster).await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    maps.create(&config_map("one", json!({"app": "web"}))).await.unwrap();
    let (_, listed_at) = maps.list(&ListParams::default()).await.unwrap();

    let kind = Kind::of::<ConfigMap>();
    let params = ListParams::labels("app=web");
    let mut from_now = client.watch(&kind, Some("default"), &params, "").await.unwrap();
    let mut from_list = client.watch(&kind, Some("default"), &params, &listed_at).await.unwrap();
    maps.create(&config_map("two", json!({"app": "web"}))).await.unwrap();
    maps.create(&config_map("other", json!({"app": "db"}))).await.unwrap();
    // `two` stops matching the selector: its watchers see it deleted.
    maps.patch("two", &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}}))).await.unwrap();

    type Events = futures::stream::BoxStream<'static, Result<skiff_client::api::RawEvent, skiff_client::ApiError>>;
    async fn next(stream: &mut Events) -> (String, String) {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("an event in time");
        let event = event.unwrap().unwrap();
        (event.kind, event.object["metadata"]["name"].as_str().unwrap().to_string())
    }
    let seen = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, n)| (k.to_string(), n.to_string())).collect::<Vec<_>>();
    let mut now = Vec::new();
    for _ in 0..3 {
        now.push(next(&mut from_now).await);
    }
    assert_eq!(now, seen(&[("ADDED", "one"), ("ADDED", "two"), ("DELETED", "two")]));
    let mut after = Vec::new();
    for _ in 0..2 {
        after.push(next(&mut from_list).await);
    }
    assert_eq!(after, seen(&[("ADDED", "two"), ("DELETED", "two")]));

    // Too old for the watch cache's history: Kubernetes' 410 Expired.
    let expired = client.watch(&kind, Some("default"), &params, "1").await.err().unwrap();
    assert!(expired.is_expired(), "{expired}");

    // The watcher lists, then follows; its cache sees later changes.
    let events = watcher(maps.lister(ListParams::default()), Retry::default());
    let mut events = Box::pin(events);
    match tokio::time::timeout(Duration::from_secs(10), events.next()).await.unwrap().unwrap() {
        Event::Restarted(objects) => assert_eq!(objects.len(), 3),
        other => panic!("expected the first list, got {other:?}"),
    }
    maps.delete("other", &serde_json::Value::Null).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(10), events.next()).await.unwrap().unwrap() {
        Event::Deleted(object) => assert_eq!(object.metadata.name.as_deref(), Some("other")),
        other => panic!("expected a deletion, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_bind_once_and_are_deleted_gracefully_once_bound() {
    let cluster = Cluster::start().await;
    let client = client(&cluster).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // Unscheduled: deleted at once.
    pods.create(&pod("early")).await.unwrap();
    pods.delete("early", &serde_json::Value::Null).await.unwrap();
    assert!(pods.get_opt("early").await.unwrap().is_none());

    let created = pods.create(&pod("web")).await.unwrap();
    let status = created.status.unwrap();
    assert_eq!((status.phase.as_deref(), status.qos_class.as_deref()), (Some("Pending"), Some("BestEffort")));
    client.bind("default", "web", "node-1").await.unwrap();
    let bound = pods.get("web").await.unwrap();
    assert_eq!(bound.spec.as_ref().unwrap().node_name.as_deref(), Some("node-1"));
    let conditions = bound.status.as_ref().unwrap().conditions.clone().unwrap();
    assert!(conditions.iter().any(|c| c.type_ == "PodScheduled" && c.status == "True"));
    let twice = client.bind("default", "web", "node-2").await.unwrap_err();
    assert!(twice.is_conflict(), "{twice}");
    assert!(twice.to_string().contains("pod web is already assigned to node \"node-1\""), "{twice}");

    // Bound: only marked, with its grace period; the kubelet's delete with grace 0 removes it.
    let marked = pods.delete("web", &serde_json::Value::Null).await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(30));
    assert!(pods.get_opt("web").await.unwrap().is_some());
    let uid = marked.metadata.uid.clone().unwrap();
    let wrong = pods.delete("web", &json!({"gracePeriodSeconds": 0, "preconditions": {"uid": "someone-else"}})).await;
    assert!(wrong.unwrap_err().is_conflict());
    pods.delete("web", &json!({"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})).await.unwrap();
    assert!(pods.get_opt("web").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_recorded_and_repeats_counted_as_kubectl_describe_shows() {
    use skiff_client::events::{Recorder, Reference};
    let cluster = Cluster::start().await;
    let client = client(&cluster).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let web = pods.create(&pod("web")).await.unwrap();
    let recorder = Recorder::new(client.clone(), "default-scheduler", None);
    let about = Reference::of(&web);
    recorder.normal(&about, "Scheduled", "Successfully assigned default/web to node-1").await;
    recorder.warning(&about, "BackOff", "Back-off restarting failed container web in pod web_default(uid)").await;
    recorder.warning(&about, "BackOff", "Back-off restarting failed container web in pod web_default(uid)").await;

    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, "default");
    let (listed, _) = events.list(&ListParams::fields("involvedObject.name=web")).await.unwrap();
    assert_eq!(listed.len(), 2);
    let backoff = listed.iter().find(|e| e.reason.as_deref() == Some("BackOff")).unwrap();
    assert_eq!(backoff.count, Some(2));
    assert_eq!(backoff.type_.as_deref(), Some("Warning"));
    assert_eq!(backoff.involved_object.uid, web.metadata.uid);
    let describe = cluster.ok(&["describe", "pod", "web"]).await;
    assert!(describe.contains("Successfully assigned default/web to node-1"), "{describe}");
    assert!(describe.contains("default-scheduler"), "{describe}");
}
