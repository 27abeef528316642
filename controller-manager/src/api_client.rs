//! The controllers' traits over the real API client: gRPC to the API server, typed objects.
//!
//! Each method is one call of `skiff_client::Api`; nothing is decided here. The event recorder
//! hands each event to `skiff_client::events::Recorder` on a task of its own, since recording
//! is fire-and-forget (client-go's broadcaster does the same).

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::{json, Value};
use skiff_api::registry::Resource;
use skiff_client::api::Kind;
use skiff_client::events::Recorder;
use skiff_client::{Api, ApiError, Client, ListParams, Patch};

use crate::client::{
    DeploymentClient, GarbageCollectorClient, JobClient, NamespaceClient, PodControl, ReplicaSetClient,
    ServiceAccountClient, TtlClient,
};
use crate::events::{Event, EventRecorder};

/// The API server, as the controllers write to it.
#[derive(Clone)]
pub struct ApiClient {
    client: Client,
}

impl ApiClient {
    pub fn new(client: Client) -> ApiClient {
        ApiClient { client }
    }

    fn api<K: skiff_client::api::ApiObject>(&self, namespace: &str) -> Api<K> {
        Api::namespaced(self.client.clone(), namespace)
    }
}

fn namespace_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// `{"metadata": {"uid": …, "ownerReferences": […]}}`: the uid makes the write fail if the
/// name now belongs to another object.
fn owner_patch(uid: Option<&str>, owners: Vec<OwnerReference>) -> Patch {
    Patch::Merge(json!({"metadata": {"uid": uid, "ownerReferences": owners}}))
}

#[async_trait]
impl DeploymentClient for ApiClient {
    async fn create_replica_set(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError> {
        self.api::<ReplicaSet>(namespace_of(&rs.metadata)).create(rs).await
    }

    async fn update_replica_set(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError> {
        self.api::<ReplicaSet>(namespace_of(&rs.metadata)).replace(name_of(&rs.metadata), rs).await
    }

    async fn delete_replica_set(&self, namespace: &str, name: &str) -> Result<(), ApiError> {
        self.api::<ReplicaSet>(namespace).delete(name, &json!({"propagationPolicy": "Background"})).await.map(|_| ())
    }

    async fn patch_replica_set_owner_references(
        &self,
        rs: &ReplicaSet,
        owner_references: Vec<OwnerReference>,
    ) -> Result<ReplicaSet, ApiError> {
        let patch = owner_patch(rs.metadata.uid.as_deref(), owner_references);
        self.api::<ReplicaSet>(namespace_of(&rs.metadata)).patch(name_of(&rs.metadata), &patch).await
    }

    async fn update_deployment_status(&self, deployment: &Deployment) -> Result<Deployment, ApiError> {
        let api = self.api::<Deployment>(namespace_of(&deployment.metadata));
        api.replace_status(name_of(&deployment.metadata), deployment).await
    }

    async fn get_deployment(&self, namespace: &str, name: &str) -> Result<Deployment, ApiError> {
        self.api::<Deployment>(namespace).get(name).await
    }
}

#[async_trait]
impl PodControl for ApiClient {
    async fn create_pod(&self, namespace: &str, pod: &Pod) -> Result<Pod, ApiError> {
        self.api::<Pod>(namespace).create(pod).await
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> Result<(), ApiError> {
        self.api::<Pod>(namespace).delete(name, &serde_json::Value::Null).await.map(|_| ())
    }

    async fn patch_pod_owner_references(
        &self,
        pod: &Pod,
        owner_references: Vec<OwnerReference>,
    ) -> Result<Pod, ApiError> {
        let patch = owner_patch(pod.metadata.uid.as_deref(), owner_references);
        self.api::<Pod>(namespace_of(&pod.metadata)).patch(name_of(&pod.metadata), &patch).await
    }
}

#[async_trait]
impl ReplicaSetClient for ApiClient {
    async fn update_replica_set_status(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError> {
        self.api::<ReplicaSet>(namespace_of(&rs.metadata)).replace_status(name_of(&rs.metadata), rs).await
    }

    async fn get_replica_set(&self, namespace: &str, name: &str) -> Result<ReplicaSet, ApiError> {
        self.api::<ReplicaSet>(namespace).get(name).await
    }
}

#[async_trait]
impl JobClient for ApiClient {
    async fn update_job_status(&self, job: &Job) -> Result<Job, ApiError> {
        self.api::<Job>(namespace_of(&job.metadata)).replace_status(name_of(&job.metadata), job).await
    }

    async fn get_job(&self, namespace: &str, name: &str) -> Result<Job, ApiError> {
        self.api::<Job>(namespace).get(name).await
    }
}

#[async_trait]
impl TtlClient for ApiClient {
    async fn get_job(&self, namespace: &str, name: &str) -> Result<Job, ApiError> {
        self.api::<Job>(namespace).get(name).await
    }

    async fn delete_job(&self, namespace: &str, name: &str, uid: &str) -> Result<(), ApiError> {
        let options = json!({"propagationPolicy": "Foreground", "preconditions": {"uid": uid}});
        self.api::<Job>(namespace).delete(name, &options).await.map(|_| ())
    }
}

fn kind_of(resource: &Resource) -> Kind {
    Kind::new(resource.group, resource.version, resource.plural)
}

#[async_trait]
impl GarbageCollectorClient for ApiClient {
    async fn get_object(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.client.get(&kind_of(resource), namespace, name, None).await
    }

    async fn delete_object(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        options: &Value,
    ) -> Result<(), ApiError> {
        self.client.delete(&kind_of(resource), namespace, name, options).await.map(|_| ())
    }

    async fn patch_object(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Value, ApiError> {
        self.client.patch(&kind_of(resource), namespace, name, None, patch).await
    }
}

#[async_trait]
impl NamespaceClient for ApiClient {
    async fn get_namespace(&self, name: &str) -> Result<Namespace, ApiError> {
        Api::<Namespace>::all(self.client.clone()).get(name).await
    }

    async fn list_in(&self, resource: &Resource, namespace: &str) -> Result<Vec<Value>, ApiError> {
        let (items, _) = self.client.list(&kind_of(resource), Some(namespace), &ListParams::default()).await?;
        Ok(items)
    }

    async fn delete_in(&self, resource: &Resource, namespace: &str, name: &str) -> Result<(), ApiError> {
        let background = json!({"propagationPolicy": "Background"});
        self.client.delete(&kind_of(resource), Some(namespace), name, &background).await.map(|_| ())
    }

    async fn update_namespace_status(&self, namespace: &Namespace) -> Result<Namespace, ApiError> {
        Api::<Namespace>::all(self.client.clone()).replace_status(name_of(&namespace.metadata), namespace).await
    }

    async fn finalize_namespace(&self, namespace: &Namespace) -> Result<(), ApiError> {
        let object = serde_json::to_value(namespace)?;
        let name = name_of(&namespace.metadata);
        self.client.update(&Kind::of::<Namespace>(), None, name, Some("finalize"), &object).await.map(|_| ())
    }
}

#[async_trait]
impl ServiceAccountClient for ApiClient {
    async fn create_service_account(
        &self,
        namespace: &str,
        account: &ServiceAccount,
    ) -> Result<ServiceAccount, ApiError> {
        self.api::<ServiceAccount>(namespace).create(account).await
    }
}

/// Events written by `skiff_client`'s recorder, without making the controller wait.
pub struct SpawnedRecorder(pub Recorder);

impl EventRecorder for SpawnedRecorder {
    fn record(&self, event: Event) {
        let recorder = self.0.clone();
        tokio::spawn(
            async move { recorder.record(&event.regarding, event.type_, &event.reason, &event.message).await },
        );
    }
}
