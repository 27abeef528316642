//! The API server's storage rules against a real skiff-store (in process, on a free port).

use serde_json::json;
use skiff_api::registry::by_plural;
use skiff_api::selector::{FieldSelector, LabelSelector};
use skiff_apiserver::storage::{Deletion, ObjectStore};
use skiff_store::client::StoreClient;
use tokio_util::sync::CancellationToken;

async fn store() -> (ObjectStore, CancellationToken, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let address = skiff_tests::control_plane::start_store(&dir, &stop).await;
    let client = StoreClient::connect(&[address]).await.unwrap();
    (ObjectStore::new(client), stop, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_created_read_listed_updated_and_deleted_as_kubernetes_does() {
    let (objects, stop, _dir) = store().await;
    let configmaps = by_plural("", "v1", "configmaps").unwrap();
    let deployments = by_plural("apps", "v1", "deployments").unwrap();

    // Create: the server fills uid, creationTimestamp, kind, resourceVersion.
    let created = objects
        .create(
            configmaps,
            Some("default"),
            json!({"metadata": {"name": "cfg", "labels": {"app": "web"}}, "data": {"a": "1"}}),
        )
        .await
        .unwrap();
    // The answer's bytes are the stored ones with the resourceVersion spliced in: exactly the
    // object's encoding.
    assert_eq!(created.json, serde_json::to_vec(&created.object).unwrap());
    let json = objects.get_json(configmaps, Some("default"), "cfg").await.unwrap();
    assert_eq!(json, created.json, "a get answers the same bytes");
    let created = created.object;
    assert_eq!(created["kind"], "ConfigMap");
    assert_eq!(created["apiVersion"], "v1");
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(created["metadata"]["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    assert_eq!(objects.get(configmaps, Some("default"), "cfg").await.unwrap(), created);

    // The same name again, a bad name, no name.
    let again = objects.create(configmaps, Some("default"), json!({"metadata": {"name": "cfg"}})).await.unwrap_err();
    assert_eq!((again.code, again.message.as_str()), (409, "configmaps \"cfg\" already exists"));
    let bad = objects.create(configmaps, Some("default"), json!({"metadata": {"name": "Bad_Name"}})).await.unwrap_err();
    assert_eq!((bad.code, bad.reason), (422, "Invalid"));
    assert!(bad.message.starts_with(
        "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"
    ));
    let nameless = objects.create(configmaps, Some("default"), json!({"metadata": {}})).await.unwrap_err();
    assert_eq!(nameless.code, 422);

    // generateName picks a free name.
    let generated =
        objects.create(configmaps, Some("other"), json!({"metadata": {"generateName": "gen-"}})).await.unwrap().object;
    let generated_name = generated["metadata"]["name"].as_str().unwrap();
    assert!(generated_name.starts_with("gen-") && generated_name.len() == 9, "{generated_name}");

    // Lists: per namespace, across namespaces, with selectors.
    let everything = LabelSelector::default();
    let no_fields = FieldSelector::default();
    let (in_default, list_rv) = objects.list(configmaps, Some("default"), &everything, &no_fields).await.unwrap();
    assert_eq!(in_default.len(), 1);
    assert!(list_rv >= rv.parse::<i64>().unwrap());
    let (all, _) = objects.list(configmaps, None, &everything, &no_fields).await.unwrap();
    assert_eq!(all.len(), 2);
    let (web, _) = objects.list(configmaps, None, &LabelSelector::parse("app=web").unwrap(), &no_fields).await.unwrap();
    assert_eq!(web.len(), 1);
    let (by_name, _) =
        objects.list(configmaps, None, &everything, &FieldSelector::parse("metadata.name=cfg").unwrap()).await.unwrap();
    assert_eq!(by_name[0]["metadata"]["name"], "cfg");
    // The lists as JSON, selected without trees, hold the same objects.
    for (labels, fields) in
        [("", ""), ("app=web", ""), ("", "metadata.name=cfg"), ("app=other", ""), ("", "metadata.namespace=other")]
    {
        let (labels, fields) = (LabelSelector::parse(labels).unwrap(), FieldSelector::parse(fields).unwrap());
        let (objects_listed, _) = objects.list(configmaps, None, &labels, &fields).await.unwrap();
        let (json_listed, _) = objects.list_json(configmaps, None, &labels, &fields).await.unwrap();
        let encoded: Vec<Vec<u8>> = objects_listed.iter().map(|o| serde_json::to_vec(o).unwrap()).collect();
        assert_eq!(json_listed.iter().map(|j| j.to_vec()).collect::<Vec<_>>(), encoded);
    }

    // Update: a stale resourceVersion conflicts; the current one wins; uid is kept.
    let mut changed = created.clone();
    changed["data"]["a"] = json!("2");
    changed["metadata"].as_object_mut().unwrap().remove("uid");
    let updated = objects.update(configmaps, Some("default"), "cfg", changed.clone()).await.unwrap();
    assert_eq!(updated.json, serde_json::to_vec(&updated.object).unwrap());
    let updated = updated.object;
    assert_eq!(updated["data"]["a"], "2");
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
    assert_ne!(updated["metadata"]["resourceVersion"].as_str().unwrap(), rv);
    let stale = objects.update(configmaps, Some("default"), "cfg", changed).await.unwrap_err();
    assert_eq!((stale.code, stale.reason), (409, "Conflict"));

    // Generation follows spec; status only moves through its own endpoint.
    let deployment = objects
        .create(
            deployments,
            Some("default"),
            json!({"metadata": {"name": "web"}, "spec": {"replicas": 1}, "status": {"replicas": 9}}),
        )
        .await
        .unwrap()
        .object;
    assert_eq!(deployment["metadata"]["generation"], 1);
    let mut scaled = deployment.clone();
    scaled["spec"]["replicas"] = json!(3);
    scaled["status"] = json!({"replicas": 42});
    let scaled = objects.update(deployments, Some("default"), "web", scaled).await.unwrap().object;
    assert_eq!(scaled["metadata"]["generation"], 2);
    assert_eq!(scaled["status"]["replicas"], 9, "status is kept from the stored object");
    let mut relabeled = scaled.clone();
    relabeled["metadata"]["labels"] = json!({"x": "y"});
    assert_eq!(
        objects.update(deployments, Some("default"), "web", relabeled).await.unwrap().object["metadata"]["generation"],
        2,
        "metadata changes do not bump it"
    );

    // Delete returns the object; then it is gone.
    let deleted = objects.delete(configmaps, Some("default"), "cfg", |_| Ok(Deletion::Now)).await.unwrap();
    assert_eq!(deleted["data"]["a"], "2");
    let gone = objects.get(configmaps, Some("default"), "cfg").await.unwrap_err();
    assert_eq!((gone.code, gone.message.as_str()), (404, "configmaps \"cfg\" not found"));
    assert_eq!(objects.delete(configmaps, Some("default"), "cfg", |_| Ok(Deletion::Now)).await.unwrap_err().code, 404);
    stop.cancel();
}
