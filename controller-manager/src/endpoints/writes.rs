//! The Endpoints controller's writes, behind a narrow trait (a recording fake in tests, the
//! real gRPC client in the daemon).

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::Value;
use skiff_client::{Api, ApiError, Client};

#[async_trait]
pub trait EndpointsWrites: Send + Sync {
    async fn create_endpoints(&self, endpoints: &Endpoints) -> Result<Endpoints, ApiError>;
    /// A guarded replace (the cached object's `resourceVersion`).
    async fn update_endpoints(&self, endpoints: &Endpoints) -> Result<Endpoints, ApiError>;
    async fn delete_endpoints(&self, namespace: &str, name: &str) -> Result<(), ApiError>;
    /// `generateName` picks its name.
    async fn create_slice(&self, slice: &EndpointSlice) -> Result<EndpointSlice, ApiError>;
    async fn update_slice(&self, slice: &EndpointSlice) -> Result<EndpointSlice, ApiError>;
    async fn delete_slice(&self, namespace: &str, name: &str) -> Result<(), ApiError>;
}

/// The writes over the API server's gRPC API.
pub struct ApiEndpointsWrites(pub Client);

fn namespace(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

#[async_trait]
impl EndpointsWrites for ApiEndpointsWrites {
    async fn create_endpoints(&self, endpoints: &Endpoints) -> Result<Endpoints, ApiError> {
        Api::<Endpoints>::namespaced(self.0.clone(), namespace(&endpoints.metadata)).create(endpoints).await
    }

    async fn update_endpoints(&self, endpoints: &Endpoints) -> Result<Endpoints, ApiError> {
        let name = endpoints.metadata.name.as_deref().unwrap_or_default();
        Api::<Endpoints>::namespaced(self.0.clone(), namespace(&endpoints.metadata)).replace(name, endpoints).await
    }

    async fn delete_endpoints(&self, namespace: &str, name: &str) -> Result<(), ApiError> {
        Api::<Endpoints>::namespaced(self.0.clone(), namespace).delete(name, &Value::Null).await.map(|_| ())
    }

    async fn create_slice(&self, slice: &EndpointSlice) -> Result<EndpointSlice, ApiError> {
        Api::<EndpointSlice>::namespaced(self.0.clone(), namespace(&slice.metadata)).create(slice).await
    }

    async fn update_slice(&self, slice: &EndpointSlice) -> Result<EndpointSlice, ApiError> {
        let name = slice.metadata.name.as_deref().unwrap_or_default();
        Api::<EndpointSlice>::namespaced(self.0.clone(), namespace(&slice.metadata)).replace(name, slice).await
    }

    async fn delete_slice(&self, namespace: &str, name: &str) -> Result<(), ApiError> {
        Api::<EndpointSlice>::namespaced(self.0.clone(), namespace).delete(name, &Value::Null).await.map(|_| ())
    }
}
