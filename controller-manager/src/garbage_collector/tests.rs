//! The workers against a recording fake API server: which writes each situation makes.
//!
//! The graph is fed by hand (`process_graph_change`), as the informers would; the fake answers
//! GETs from its objects, applies JSON patches as the API server does (a failed `test` is a
//! 422), checks delete preconditions (a 409), and logs every write as a line.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use parking_lot::Mutex;
use serde_json::{json, Value};
use skiff_api::registry::{self, Resource};
use skiff_client::Patch;

use super::graph_builder::{GraphChange, Observed};
use super::{GarbageCollector, WorkQueueItemAction, FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use crate::client::{ApiError, GarbageCollectorClient};
use crate::events::{Event, EventRecorder};
use crate::testing::status_error;

type Key = (&'static str, Option<String>, String);

/// A change made to a stored object just before the next write reaches it: someone else's
/// write, between the collector's read and its own.
type Meddle = Box<dyn FnOnce(&mut Value) + Send>;

#[derive(Default)]
struct FakeApi {
    objects: Mutex<BTreeMap<Key, Value>>,
    /// `get replicasets web`, in order.
    gets: Mutex<Vec<String>>,
    /// `delete pods web-1 Background uid=p1 rv=3`, `patch pods web-1 owners=[b] finalizers=[]`.
    writes: Mutex<Vec<String>>,
    before_next_write: Mutex<Option<Meddle>>,
    /// Writes to objects of these names fail with a 500.
    failing: Mutex<Vec<String>>,
}

fn key(resource: &Resource, namespace: Option<&str>, name: &str) -> Key {
    (resource.plural, namespace.map(str::to_string), name.to_string())
}

fn summary(object: &Value) -> String {
    let owners: Vec<&str> = object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str())
        .collect();
    let finalizers: Vec<&str> =
        object["metadata"]["finalizers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    format!("owners={owners:?} finalizers={finalizers:?}").replace('"', "")
}

/// A write's new resourceVersion.
fn bump(object: &mut Value) {
    let version = object["metadata"]["resourceVersion"].as_str().unwrap_or("1").parse::<u64>().unwrap() + 1;
    object["metadata"]["resourceVersion"] = json!(version.to_string());
}

impl FakeApi {
    fn put(&self, plural: &str, object: &Observed) {
        let resource = registry::RESOURCES.iter().find(|r| r.plural == plural).unwrap();
        let meta = ObjectMeta {
            name: Some(object.identity.name.clone()),
            namespace: object.identity.namespace.clone(),
            uid: Some(object.identity.uid.clone()),
            resource_version: Some("1".into()),
            owner_references: Some(object.owners.clone()).filter(|o| !o.is_empty()),
            finalizers: Some(object.finalizers.clone()).filter(|f| !f.is_empty()),
            deletion_timestamp: object.being_deleted.then(|| Time(Default::default())),
            ..Default::default()
        };
        let value = json!({"metadata": meta});
        self.objects.lock().insert(key(resource, object.identity.namespace.as_deref(), &object.identity.name), value);
    }

    fn writes(&self) -> Vec<String> {
        self.writes.lock().clone()
    }

    fn gets(&self) -> Vec<String> {
        self.gets.lock().clone()
    }

    /// The stored object the next write finds, after `meddle` has been at it.
    fn current(&self, key: &Key) -> Result<Value, ApiError> {
        let mut objects = self.objects.lock();
        let object = objects.get_mut(key).ok_or_else(|| status_error(404, "NotFound", "not found"))?;
        if let Some(meddle) = self.before_next_write.lock().take() {
            meddle(object);
            bump(object);
        }
        if self.failing.lock().contains(&key.2) {
            return Err(status_error(500, "InternalError", "the fake fails this write"));
        }
        Ok(object.clone())
    }
}

#[async_trait]
impl GarbageCollectorClient for FakeApi {
    async fn get_object(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.gets.lock().push(format!("get {} {name}", resource.plural));
        self.objects
            .lock()
            .get(&key(resource, namespace, name))
            .cloned()
            .ok_or_else(|| status_error(404, "NotFound", "not found"))
    }

    async fn delete_object(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        options: &Value,
    ) -> Result<(), ApiError> {
        let key = key(resource, namespace, name);
        let object = self.current(&key)?;
        let preconditions = &options["preconditions"];
        let meta = &object["metadata"];
        let violated = |field: &str| !preconditions[field].is_null() && preconditions[field] != meta[field];
        if violated("uid") || violated("resourceVersion") {
            return Err(status_error(409, "Conflict", "Precondition failed"));
        }
        let rv = preconditions["resourceVersion"].as_str().unwrap_or("-");
        let propagation = options["propagationPolicy"].as_str().unwrap_or_default();
        self.writes.lock().push(format!(
            "delete {} {name} {propagation} uid={} rv={rv}",
            resource.plural,
            meta["uid"].as_str().unwrap()
        ));
        // The fake deletes at once whatever the policy: finalizers are the tests' business.
        self.objects.lock().remove(&key);
        Ok(())
    }

    async fn patch_object(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Value, ApiError> {
        let key = key(resource, namespace, name);
        let mut object = self.current(&key)?;
        let Patch::Json(ops) = patch else { panic!("the collector sends JSON patches: {patch:?}") };
        skiff_api::patch::json_patch(&mut object, ops).map_err(|e| status_error(422, "Invalid", &e.to_string()))?;
        bump(&mut object);
        self.writes.lock().push(format!("patch {} {name} {}", resource.plural, summary(&object)));
        self.objects.lock().insert(key, object.clone());
        Ok(object)
    }
}

#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

impl EventRecorder for Events {
    fn record(&self, event: Event) {
        self.0.lock().push(event);
    }
}

struct Fixture {
    gc: Arc<GarbageCollector>,
    api: Arc<FakeApi>,
    events: Arc<Events>,
}

fn fixture() -> Fixture {
    let (api, events) = (Arc::new(FakeApi::default()), Arc::new(Events::default()));
    Fixture { gc: GarbageCollector::new(api.clone(), events.clone()), api, events }
}

impl Fixture {
    /// The object exists (in the fake) and the graph has seen it.
    fn exists(&self, plural: &str, object: &Observed) {
        self.api.put(plural, object);
        self.gc.process_graph_change(GraphChange::Applied(object.clone()));
    }

    /// The graph hears of the object's deletion (the fake no longer has it).
    fn deleted(&self, plural: &str, object: &Observed) {
        let resource = registry::RESOURCES.iter().find(|r| r.plural == plural).unwrap();
        self.api.objects.lock().remove(&key(resource, object.identity.namespace.as_deref(), &object.identity.name));
        self.gc.process_graph_change(GraphChange::Deleted(object.clone()));
    }

    /// Hands the virtual deletes the workers sent to the graph builder.
    fn deliver_virtual_deletes(&self) {
        let mut pending = self.gc.pending_graph_changes.lock();
        let receiver = pending.as_mut().unwrap();
        while let Ok(change) = receiver.try_recv() {
            self.gc.process_graph_change(change);
        }
    }

    /// Takes every queued uid of `attempt_to_delete`, in order.
    async fn queued_for_deletion(&self) -> Vec<String> {
        let mut uids = Vec::new();
        while !self.gc.attempt_to_delete.is_empty() {
            let uid = self.gc.attempt_to_delete.get().await.unwrap();
            self.gc.attempt_to_delete.done(&uid);
            uids.push(uid);
        }
        uids
    }
}

fn object(api_version: &str, kind: &str, uid: &str, name: &str) -> Observed {
    Observed {
        identity: super::graph::ObjectReference {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: Some("default".into()),
            name: name.into(),
            uid: uid.into(),
        },
        owners: Vec::new(),
        being_deleted: false,
        finalizers: Vec::new(),
    }
}

fn owned_by(mut object: Observed, owner: &Observed, block: bool) -> Observed {
    object.owners.push(OwnerReference {
        api_version: owner.identity.api_version.clone(),
        kind: owner.identity.kind.clone(),
        name: owner.identity.name.clone(),
        uid: owner.identity.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(block),
    });
    object
}

fn deleting(mut object: Observed, finalizer: &str) -> Observed {
    object.being_deleted = true;
    object.finalizers.push(finalizer.into());
    object
}

fn deployment(uid: &str) -> Observed {
    object("apps/v1", "Deployment", uid, "web")
}

fn replica_set(uid: &str) -> Observed {
    object("apps/v1", "ReplicaSet", uid, &format!("web-{uid}"))
}

fn pod(uid: &str) -> Observed {
    object("v1", "Pod", uid, uid)
}

fn config_map(uid: &str) -> Observed {
    object("v1", "ConfigMap", uid, uid)
}

#[tokio::test]
async fn a_dependent_whose_owner_is_gone_is_deleted_in_the_background_with_preconditions() {
    let f = fixture();
    let rs = replica_set("rs");
    f.exists("replicasets", &rs);
    f.exists("pods", &owned_by(pod("p1"), &rs, true));
    f.exists("pods", &owned_by(pod("p2"), &rs, true));
    f.deleted("replicasets", &rs);
    assert_eq!(f.queued_for_deletion().await, ["p1", "p2"]);
    for uid in ["p1", "p2"] {
        assert_eq!(f.gc.attempt_to_delete_worker(uid).await, WorkQueueItemAction::Forget);
    }
    assert_eq!(f.api.writes(), ["delete pods p1 Background uid=p1 rv=1", "delete pods p2 Background uid=p2 rv=1"]);
    assert_eq!(f.api.gets(), ["get pods p1", "get pods p2"], "the deleted owner is known absent: no GET of it");
}

#[tokio::test]
async fn a_dependent_with_an_owner_left_only_loses_the_reference_to_the_one_gone() {
    let f = fixture();
    let (a, b) = (config_map("a"), config_map("b"));
    f.exists("configmaps", &a);
    f.exists("configmaps", &b);
    f.exists("configmaps", &owned_by(owned_by(config_map("shared"), &a, false), &b, false));
    f.deleted("configmaps", &a);
    assert_eq!(f.gc.attempt_to_delete_worker("shared").await, WorkQueueItemAction::Forget);
    assert_eq!(f.api.writes(), ["patch configmaps shared owners=[b] finalizers=[]"]);
}

#[tokio::test]
async fn an_owner_of_another_uid_under_the_same_name_counts_as_gone() {
    let f = fixture();
    let old = replica_set("old");
    f.exists("pods", &owned_by(pod("p1"), &old, true));
    let mut successor = replica_set("new");
    successor.identity.name = old.identity.name.clone();
    f.api.put("replicasets", &successor);
    assert_eq!(f.gc.attempt_to_delete_worker("p1").await, WorkQueueItemAction::Forget);
    assert_eq!(f.api.writes(), ["delete pods p1 Background uid=p1 rv=1"]);
}

#[tokio::test]
async fn a_dependent_of_a_foreground_deletion_goes_in_the_foreground_when_it_has_dependents_of_its_own() {
    let f = fixture();
    let d = deleting(deployment("d"), FOREGROUND_FINALIZER);
    f.exists("deployments", &d);
    let rs = owned_by(replica_set("rs"), &d, true);
    f.exists("replicasets", &rs);
    f.exists("pods", &owned_by(pod("p1"), &rs, true));
    let lonely = owned_by(replica_set("old"), &d, true);
    f.exists("replicasets", &lonely);
    for uid in ["rs", "old"] {
        assert_eq!(f.gc.attempt_to_delete_worker(uid).await, WorkQueueItemAction::Forget);
    }
    assert_eq!(
        f.api.writes(),
        ["delete replicasets web-rs Foreground uid=rs rv=1", "delete replicasets web-old Background uid=old rv=1"],
        "a ReplicaSet without pods has nothing to wait for"
    );
}

#[tokio::test]
async fn the_foreground_finalizer_goes_once_no_dependent_blocks() {
    let f = fixture();
    let d = deployment("d");
    f.exists("deployments", &d);
    let rs = owned_by(replica_set("rs"), &d, true);
    f.exists("replicasets", &rs);
    f.exists("replicasets", &owned_by(replica_set("loose"), &d, false));
    let d = deleting(d, FOREGROUND_FINALIZER);
    f.exists("deployments", &d);
    assert_eq!(f.queued_for_deletion().await, ["loose", "rs", "d"], "its dependents, then itself");

    assert_eq!(f.gc.attempt_to_delete_worker("d").await, WorkQueueItemAction::Forget);
    assert!(f.api.writes().is_empty(), "rs blocks it");
    assert_eq!(f.queued_for_deletion().await, ["rs"], "the blocking dependent is looked at");

    f.deleted("replicasets", &rs);
    assert_eq!(f.queued_for_deletion().await, ["d"], "the last blocking dependent gone, the owner is looked at again");
    assert_eq!(f.gc.attempt_to_delete_worker("d").await, WorkQueueItemAction::Forget);
    assert_eq!(f.api.writes(), ["patch deployments web owners=[] finalizers=[]"], "loose does not block");
}

#[tokio::test]
async fn owner_and_dependent_both_deleting_in_the_foreground_unblock_before_deleting() {
    let f = fixture();
    let d = deleting(deployment("d"), FOREGROUND_FINALIZER);
    f.exists("deployments", &d);
    let rs = owned_by(replica_set("rs"), &d, true);
    f.exists("replicasets", &rs);
    f.exists("pods", &deleting(owned_by(pod("p1"), &rs, true), FOREGROUND_FINALIZER));
    assert_eq!(f.gc.attempt_to_delete_worker("rs").await, WorkQueueItemAction::Forget);
    let writes = f.api.writes();
    assert_eq!(writes[0], "patch replicasets web-rs owners=[d] finalizers=[]");
    assert_eq!(writes[1], "delete replicasets web-rs Foreground uid=rs rv=2", "deleted as the unblock left it");
}

#[tokio::test]
async fn orphaning_removes_the_reference_from_every_dependent_then_the_finalizer() {
    let f = fixture();
    let d = deployment("d");
    f.exists("deployments", &d);
    f.exists("replicasets", &owned_by(replica_set("a"), &d, true));
    f.exists("replicasets", &owned_by(replica_set("b"), &d, true));
    f.exists("deployments", &deleting(d, ORPHAN_FINALIZER));
    assert_eq!(f.gc.attempt_to_orphan.len(), 1);
    assert_eq!(f.gc.attempt_to_orphan_worker("d").await, WorkQueueItemAction::Forget);
    assert_eq!(
        f.api.writes(),
        [
            "patch replicasets web-a owners=[] finalizers=[]",
            "patch replicasets web-b owners=[] finalizers=[]",
            "patch deployments web owners=[] finalizers=[]",
        ]
    );
}

#[tokio::test]
async fn a_failed_orphaning_keeps_the_finalizer_and_retries() {
    let f = fixture();
    let d = deployment("d");
    f.exists("deployments", &d);
    f.exists("replicasets", &owned_by(replica_set("a"), &d, true));
    f.exists("replicasets", &owned_by(replica_set("b"), &d, true));
    f.exists("deployments", &deleting(d, ORPHAN_FINALIZER));
    f.api.failing.lock().push("web-b".into());
    assert_eq!(f.gc.attempt_to_orphan_worker("d").await, WorkQueueItemAction::Requeue);
    assert_eq!(f.api.writes(), ["patch replicasets web-a owners=[] finalizers=[]"], "the finalizer stays");

    f.api.failing.lock().clear();
    assert_eq!(f.gc.attempt_to_orphan_worker("d").await, WorkQueueItemAction::Forget);
    assert_eq!(
        f.api.writes()[1..],
        ["patch replicasets web-b owners=[] finalizers=[]", "patch deployments web owners=[] finalizers=[]"],
        "web-a, orphaned already, is not patched again"
    );
}

#[tokio::test]
async fn a_virtual_owner_that_does_not_exist_is_forgotten_and_its_dependents_collected() {
    let f = fixture();
    f.exists("pods", &owned_by(pod("p1"), &replica_set("ghost"), true));
    assert_eq!(f.queued_for_deletion().await, ["ghost"]);
    assert_eq!(f.gc.attempt_to_delete_worker("ghost").await, WorkQueueItemAction::Forget);
    assert!(f.api.writes().is_empty());
    f.deliver_virtual_deletes();
    assert!(f.gc.graph.lock().node("ghost").is_none());
    assert_eq!(f.queued_for_deletion().await, ["p1"]);
    assert_eq!(f.gc.attempt_to_delete_worker("p1").await, WorkQueueItemAction::Forget);
    assert_eq!(f.api.writes(), ["delete pods p1 Background uid=p1 rv=1"]);
    assert_eq!(f.api.gets(), ["get replicasets web-ghost", "get pods p1"], "the ghost is asked about once");
}

#[tokio::test]
async fn a_virtual_owner_that_exists_is_looked_at_again_until_an_informer_sees_it() {
    let f = fixture();
    let rs = replica_set("rs");
    f.api.put("replicasets", &rs);
    f.exists("pods", &owned_by(pod("p1"), &rs, true));
    assert_eq!(f.gc.attempt_to_delete_worker("rs").await, WorkQueueItemAction::Requeue);
    f.gc.process_graph_change(GraphChange::Applied(rs));
    assert_eq!(f.gc.attempt_to_delete_worker("rs").await, WorkQueueItemAction::Forget);
    assert!(f.api.writes().is_empty());
}

#[tokio::test]
async fn a_delete_refused_on_a_newer_version_is_sent_again_only_if_the_owners_are_the_same() {
    let cases: [(&str, Meddle, &[&str], WorkQueueItemAction); 2] = [
        (
            "a status write in between: deleted on its uid alone",
            Box::new(|pod: &mut Value| pod["status"] = json!({"phase": "Running"})),
            &["delete pods p1 Background uid=p1 rv=-"],
            WorkQueueItemAction::Forget,
        ),
        (
            "adopted in between: kept, and looked at again",
            Box::new(|pod: &mut Value| {
                let adopter = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "x"});
                pod["metadata"]["ownerReferences"].as_array_mut().unwrap().push(adopter)
            }),
            &[],
            WorkQueueItemAction::Requeue,
        ),
    ];
    for (name, meddle, writes, action) in cases {
        let f = fixture();
        f.exists("pods", &owned_by(pod("p1"), &replica_set("gone"), true));
        f.gc.absent_owner_cache.add(Some("default".into()), "gone".into());
        *f.api.before_next_write.lock() = Some(meddle);
        assert_eq!(f.gc.attempt_to_delete_worker("p1").await, action, "{name}");
        assert_eq!(f.api.writes(), writes, "{name}");
    }
}

#[tokio::test]
async fn a_reference_changed_since_it_was_read_fails_the_patch_and_is_retried() {
    let f = fixture();
    let (a, b) = (config_map("a"), config_map("b"));
    f.exists("configmaps", &b);
    f.api.put("configmaps", &config_map("c"));
    f.exists("configmaps", &owned_by(owned_by(config_map("shared"), &a, false), &b, false));
    f.gc.absent_owner_cache.add(Some("default".into()), "a".into());
    *f.api.before_next_write.lock() = Some(Box::new(|cm: &mut Value| {
        let c = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "c"});
        cm["metadata"]["ownerReferences"].as_array_mut().unwrap().push(c)
    }));
    assert_eq!(f.gc.attempt_to_delete_worker("shared").await, WorkQueueItemAction::Requeue);
    assert!(f.api.writes().is_empty(), "the reference to c was not lost");
    assert_eq!(f.gc.attempt_to_delete_worker("shared").await, WorkQueueItemAction::Forget);
    assert_eq!(f.api.writes(), ["patch configmaps shared owners=[b, c] finalizers=[]"]);
}

#[tokio::test]
async fn an_object_being_deleted_is_left_to_finish_and_one_without_owners_is_left_alone() {
    let f = fixture();
    f.exists("pods", &deleting(owned_by(pod("going"), &replica_set("gone"), true), "example.com/x"));
    f.exists("pods", &pod("free"));
    for uid in ["going", "free"] {
        assert_eq!(f.gc.attempt_to_delete_worker(uid).await, WorkQueueItemAction::Forget);
    }
    assert!(f.api.writes().is_empty());
    assert_eq!(f.api.gets(), ["get pods free"], "the pod being deleted is not even read");
}

#[tokio::test]
async fn an_object_the_graph_does_not_know_is_being_deleted_yet_is_not_deleted_again() {
    let cases = [
        ("deleted with another finalizer: left to finish", "example.com/x", vec![]),
        (
            "deleted in the foreground, nothing blocks: let go",
            FOREGROUND_FINALIZER,
            vec!["patch replicasets web-rs owners=[gone] finalizers=[]"],
        ),
    ];
    for (name, finalizer, writes) in cases {
        let f = fixture();
        let rs = owned_by(replica_set("rs"), &replica_set("gone"), true);
        f.exists("replicasets", &rs);
        f.api.put("replicasets", &deleting(rs, finalizer));
        assert_eq!(f.gc.attempt_to_delete_worker("rs").await, WorkQueueItemAction::Forget, "{name}");
        assert_eq!(f.api.writes(), writes, "{name}");
    }
}

#[tokio::test]
async fn a_reference_across_namespaces_is_reported_with_an_event() {
    let f = fixture();
    let mut rs = replica_set("rs");
    rs.identity.namespace = Some("other".into());
    f.exists("replicasets", &rs);
    f.exists("pods", &owned_by(pod("p1"), &rs, true));
    let events = f.events.0.lock().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason, "OwnerRefInvalidNamespace");
    assert_eq!(events[0].regarding.name, "p1");
    assert_eq!(
        events[0].message,
        "ownerRef [apps/v1/ReplicaSet, namespace: default, name: web-rs, uid: rs] does not exist in namespace \"default\""
    );
    // Looked up where it would have to be, it is not there: the pod is collected.
    assert_eq!(f.gc.attempt_to_delete_worker("p1").await, WorkQueueItemAction::Forget);
    assert_eq!(f.api.writes(), ["delete pods p1 Background uid=p1 rv=1"]);
}

#[tokio::test]
async fn a_cluster_scoped_object_naming_a_namespaced_owner_is_given_up_on() {
    let f = fixture();
    let mut volume = object("v1", "PersistentVolume", "pv", "pv");
    volume.identity.namespace = None;
    let volume = owned_by(volume, &replica_set("rs"), false);
    f.exists("persistentvolumes", &volume);
    assert_eq!(f.gc.attempt_to_delete_worker("pv").await, WorkQueueItemAction::Forget);
    assert!(f.api.writes().is_empty());
}

/// Lets every ready task run (the fake never sleeps, so nothing here needs the clock).
async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

/// A running collector fed by two kinds' streams, pods and ReplicaSets, where a pod's owner
/// never existed.
struct Running {
    f: Fixture,
    pods: tokio::sync::mpsc::UnboundedSender<GraphChange>,
    replica_sets: tokio::sync::mpsc::UnboundedSender<GraphChange>,
    shutdown: tokio_util::sync::CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

fn running() -> Running {
    use futures::StreamExt;
    use tokio_stream::wrappers::UnboundedReceiverStream;
    let f = fixture();
    let (pods, pod_changes) = tokio::sync::mpsc::unbounded_channel();
    let (replica_sets, rs_changes) = tokio::sync::mpsc::unbounded_channel();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let sources =
        vec![UnboundedReceiverStream::new(pod_changes).boxed(), UnboundedReceiverStream::new(rs_changes).boxed()];
    let done = tokio::spawn(f.gc.clone().run(sources, 1, shutdown.clone()));
    let orphan = owned_by(pod("p1"), &replica_set("ghost"), true);
    f.api.put("pods", &orphan);
    pods.send(GraphChange::Restarted { api_version: "v1".into(), kind: "Pod".into(), objects: vec![orphan] }).unwrap();
    Running { f, pods, replica_sets, shutdown, done }
}

#[tokio::test(start_paused = true)]
async fn the_workers_wait_for_every_kind_first_list_before_deciding_anything() {
    let r = running();
    settle().await;
    assert!(r.f.api.gets().is_empty(), "the ReplicaSets are not listed yet: the ghost may be among them");
    let rs_list = GraphChange::Restarted { api_version: "apps/v1".into(), kind: "ReplicaSet".into(), objects: vec![] };
    r.replica_sets.send(rs_list).unwrap();
    settle().await;
    assert_eq!(r.f.api.writes(), ["delete pods p1 Background uid=p1 rv=1"]);
    r.shutdown.cancel();
    r.done.await.unwrap();
    drop(r.pods);
}

#[tokio::test(start_paused = true)]
async fn the_workers_start_anyway_when_a_kind_cannot_be_listed() {
    let r = running();
    settle().await;
    tokio::time::sleep(super::INITIAL_SYNC_TIMEOUT + std::time::Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(r.f.api.writes(), ["delete pods p1 Background uid=p1 rv=1"]);
    r.shutdown.cancel();
    r.done.await.unwrap();
    drop((r.pods, r.replica_sets));
}
