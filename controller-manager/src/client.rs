//! What the controllers ask of the API server: the traits the integrator implements.
//!
//! Kubernetes' controllers call a generated clientset (`dc.client.AppsV1().ReplicaSets(ns)
//! .Update(...)`); Skiff's call these narrow traits instead, one per controller, so that every
//! decision is tested against a recording fake (`testing::FakeCluster`, and the garbage
//! collector's own in `garbage_collector/tests.rs`) and the real client
//! (gRPC to the API server, objects as Kubernetes JSON) plugs in by implementing them.
//!
//! Reads come from the informer caches (`skiff_client::reflector::Store`); these traits hold the writes,
//! plus the one uncached read each controller makes before it adopts an orphan (client-go's
//! `RecheckDeletionTimestamp`: the owner may have been deleted since the cache last heard of it).
//! The garbage collector's trait is the exception: it works on every kind, untyped, reads no
//! cache, and makes an uncached GET before each decision ([`GarbageCollectorClient`]).
//!
//! Every write sends the object as read from the cache, `resourceVersion` included, so a write
//! based on a stale cache fails with a 409 Conflict and the key is retried: optimistic
//! concurrency is what keeps a lagging cache from doing harm where expectations are not used.

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::Value;
use skiff_api::registry::Resource;
use skiff_client::Patch;

/// The API client's error: a Kubernetes `Status` (`is_not_found()`, `is_already_exists()`,
/// `is_conflict()` …) or a transport failure.
pub use skiff_client::ApiError;

/// The `Status` message alone ("pods \"web-\" is forbidden: exceeded quota: …"), as
/// Kubernetes quotes it in events and conditions.
pub fn message(err: &ApiError) -> String {
    match err {
        ApiError::Status { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A create refused because the namespace is being deleted (a 403 with the
/// `NamespaceTerminating` cause; its message is the sure sign, as the cause is not kept):
/// every other create there would fail too, so the controllers stop trying without an error.
pub fn is_namespace_terminating(err: &ApiError) -> bool {
    matches!(err, ApiError::Status { code: 403, message, .. } if message.contains("because it is being terminated"))
}

/// The Deployment controller's writes (upstream: `dc.client.AppsV1()`).
#[async_trait]
pub trait DeploymentClient: Send + Sync {
    /// `POST .../replicasets`; returns the stored object (uid, resourceVersion, timestamps).
    async fn create_replica_set(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError>;
    /// `PUT .../replicasets/{name}` with the object's `resourceVersion`.
    async fn update_replica_set(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError>;
    /// `DELETE .../replicasets/{name}` (background propagation: the garbage collector deletes
    /// its pods, which a cleaned-up ReplicaSet has none of).
    async fn delete_replica_set(&self, namespace: &str, name: &str) -> Result<(), ApiError>;
    /// Adoption and release: sets `metadata.ownerReferences` of `rs` to `owner_references`, a
    /// JSON merge patch `{"metadata": {"uid": <rs uid>, "ownerReferences": [...]}}`. The uid
    /// makes the API server refuse the patch (409) if the name now belongs to another object.
    /// (The same with `Api::<ReplicaSet>::patch(name, &Patch::Merge(..))`.)
    async fn patch_replica_set_owner_references(
        &self,
        rs: &ReplicaSet,
        owner_references: Vec<OwnerReference>,
    ) -> Result<ReplicaSet, ApiError>;
    /// `PUT .../deployments/{name}/status`. As in Kubernetes (`deploymentStatusStrategy`), the
    /// API server must keep `metadata.annotations` from the request as well as `status`: the
    /// controller writes the `deployment.kubernetes.io/revision` annotation this way. If it
    /// dropped them, every sync would find the revision missing and write again: a hot loop.
    async fn update_deployment_status(&self, deployment: &Deployment) -> Result<Deployment, ApiError>;
    /// An uncached `GET`, before adopting an orphan ReplicaSet.
    async fn get_deployment(&self, namespace: &str, name: &str) -> Result<Deployment, ApiError>;
}

/// What every controller of pods asks of the API server for its pods (upstream's
/// `controller.PodControlInterface`, shared by the ReplicaSet and Job controllers).
#[async_trait]
pub trait PodControl: Send + Sync {
    /// `POST .../pods`; the pod has `generateName` (`<rs>-`, `<job>-`, `<job>-<index>-`), so
    /// the API server picks its name (five characters from Kubernetes' vowel-less alphabet).
    /// Returns the stored pod.
    async fn create_pod(&self, namespace: &str, pod: &Pod) -> Result<Pod, ApiError>;
    /// `DELETE .../pods/{name}` (graceful: the kubelet stops the containers first).
    async fn delete_pod(&self, namespace: &str, name: &str) -> Result<(), ApiError>;
    /// Adoption and release of a pod, as [`DeploymentClient::patch_replica_set_owner_references`].
    async fn patch_pod_owner_references(
        &self,
        pod: &Pod,
        owner_references: Vec<OwnerReference>,
    ) -> Result<Pod, ApiError>;
}

/// The ReplicaSet controller's writes (upstream: `rsc.podControl` and `rsc.kubeClient`).
#[async_trait]
pub trait ReplicaSetClient: PodControl {
    /// `PUT .../replicasets/{name}/status` with the object's `resourceVersion`.
    async fn update_replica_set_status(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError>;
    /// An uncached `GET`, before adopting an orphan pod.
    async fn get_replica_set(&self, namespace: &str, name: &str) -> Result<ReplicaSet, ApiError>;
}

/// The Job controller's writes (upstream: `jm.podControl` and `jm.kubeClient`).
#[async_trait]
pub trait JobClient: PodControl {
    /// `PUT .../jobs/{name}/status` with the object's `resourceVersion`.
    async fn update_job_status(&self, job: &Job) -> Result<Job, ApiError>;
    /// An uncached `GET`, before adopting an orphan pod.
    async fn get_job(&self, namespace: &str, name: &str) -> Result<Job, ApiError>;
}

/// The TTL-after-finished controller's calls (upstream: `tc.client.BatchV1().Jobs(ns)`).
#[async_trait]
pub trait TtlClient: Send + Sync {
    /// An uncached read: the Job as it is now, before deciding to delete it.
    async fn get_job(&self, namespace: &str, name: &str) -> Result<Job, ApiError>;
    /// Deletes the Job if it still has this `uid`, its pods first (`Foreground`).
    async fn delete_job(&self, namespace: &str, name: &str, uid: &str) -> Result<(), ApiError>;
}

/// The garbage collector's calls (upstream: its metadata client). Untyped, because it works on
/// every kind the registry serves; objects are Kubernetes JSON. `namespace` is `None` for
/// cluster-scoped kinds.
#[async_trait]
pub trait GarbageCollectorClient: Send + Sync {
    /// An uncached `GET`: the graph lags, so every decision is checked against this.
    async fn get_object(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> Result<Value, ApiError>;
    /// `DELETE` with Kubernetes `DeleteOptions` (`propagationPolicy`, `preconditions`).
    async fn delete_object(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        options: &Value,
    ) -> Result<(), ApiError>;
    /// `PATCH`; returns the object as written.
    async fn patch_object(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Value, ApiError>;
}

/// The namespace controller's calls (upstream: its namespace client and metadata client).
/// Objects of the namespace's content are Kubernetes JSON, of every namespaced kind.
#[async_trait]
pub trait NamespaceClient: Send + Sync {
    /// An uncached `GET` of the namespace.
    async fn get_namespace(&self, name: &str) -> Result<Namespace, ApiError>;
    /// Every object of `resource` in `namespace`.
    async fn list_in(&self, resource: &Resource, namespace: &str) -> Result<Vec<Value>, ApiError>;
    /// `DELETE` with Background propagation.
    async fn delete_in(&self, resource: &Resource, namespace: &str, name: &str) -> Result<(), ApiError>;
    /// `PUT namespaces/NAME/status`.
    async fn update_namespace_status(&self, namespace: &Namespace) -> Result<Namespace, ApiError>;
    /// `PUT namespaces/NAME/finalize`: the namespace's `spec.finalizers` as given.
    async fn finalize_namespace(&self, namespace: &Namespace) -> Result<(), ApiError>;
}

/// The ServiceAccount controller's one write (upstream: `c.client.CoreV1().ServiceAccounts(ns)`).
#[async_trait]
pub trait ServiceAccountClient: Send + Sync {
    /// Creates `account` in `namespace`.
    async fn create_service_account(
        &self,
        namespace: &str,
        account: &ServiceAccount,
    ) -> Result<ServiceAccount, ApiError>;
}
