//! What the controllers ask of the API server: the traits the integrator implements.
//!
//! Kubernetes' controllers call a generated clientset (`dc.client.AppsV1().ReplicaSets(ns)
//! .Update(...)`); Skiff's call these two narrow traits instead, one per controller, so that every
//! decision is tested against a recording fake (`testing::FakeCluster`) and the real client
//! (gRPC to the API server, objects as Kubernetes JSON) plugs in by implementing them.
//!
//! Reads come from the informer caches ([`crate::cache::Lister`]); these traits hold the writes,
//! plus the one uncached read each controller makes before it adopts an orphan (client-go's
//! `RecheckDeletionTimestamp`: the owner may have been deleted since the cache last heard of it).
//!
//! Every write sends the object as read from the cache, `resourceVersion` included, so a write
//! based on a stale cache fails with [`ApiError::Conflict`] and the key is retried: optimistic
//! concurrency is what keeps a lagging cache from doing harm where expectations are not used.

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// An API server's refusal, by the `reason` of its `Status` body. The string is the `Status`
/// message, which events and conditions quote ("Error creating: pods \"web-\" is forbidden…").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 404 `NotFound`.
    #[error("{0}")]
    NotFound(String),
    /// 409 `AlreadyExists`: a create found the name taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// 409 `Conflict`: the `resourceVersion` sent is not the stored one.
    #[error("{0}")]
    Conflict(String),
    /// 403 with the `NamespaceTerminating` cause: every create in the namespace will fail, so the
    /// controllers stop trying (without an error) instead of retrying.
    #[error("{0}")]
    NamespaceTerminating(String),
    /// Anything else (invalid, forbidden, unavailable, a transport error).
    #[error("{0}")]
    Other(String),
}

impl ApiError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound(_))
    }
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
    async fn patch_replica_set_owner_references(
        &self,
        rs: &ReplicaSet,
        owner_references: Vec<OwnerReference>,
    ) -> Result<ReplicaSet, ApiError>;
    /// `PUT .../deployments/{name}/status`. As in Kubernetes (`deploymentStatusStrategy`), the
    /// API server must keep `metadata.annotations` from the request as well as `status`: the
    /// controller writes the `deployment.kubernetes.io/revision` annotation this way.
    async fn update_deployment_status(&self, deployment: &Deployment) -> Result<Deployment, ApiError>;
    /// An uncached `GET`, before adopting an orphan ReplicaSet.
    async fn get_deployment(&self, namespace: &str, name: &str) -> Result<Deployment, ApiError>;
}

/// The ReplicaSet controller's writes (upstream: `rsc.podControl` and `rsc.kubeClient`).
#[async_trait]
pub trait ReplicaSetClient: Send + Sync {
    /// `POST .../pods`; the pod has `generateName: <rs>-`, so the API server picks its name
    /// (five characters from Kubernetes' vowel-less alphabet). Returns the stored pod.
    async fn create_pod(&self, namespace: &str, pod: &Pod) -> Result<Pod, ApiError>;
    /// `DELETE .../pods/{name}` (graceful: the kubelet stops the containers first).
    async fn delete_pod(&self, namespace: &str, name: &str) -> Result<(), ApiError>;
    /// Adoption and release of a pod, as [`DeploymentClient::patch_replica_set_owner_references`].
    async fn patch_pod_owner_references(
        &self,
        pod: &Pod,
        owner_references: Vec<OwnerReference>,
    ) -> Result<Pod, ApiError>;
    /// `PUT .../replicasets/{name}/status` with the object's `resourceVersion`.
    async fn update_replica_set_status(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError>;
    /// An uncached `GET`, before adopting an orphan pod.
    async fn get_replica_set(&self, namespace: &str, name: &str) -> Result<ReplicaSet, ApiError>;
}
