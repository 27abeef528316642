//! The client of the API server's internal gRPC API: [`Client`] (one connection, objects as
//! JSON) and [`Api<K>`] (typed, over Kubernetes' own types from `k8s-openapi`).
//!
//! In the shape of kube-rs's `Api<K>` and client-go's typed clients: `Api::<Pod>::namespaced(
//! client, "default").get("web")`. Every call goes to the verbs the REST API uses, so a write
//! here meets the checks, defaults and conflicts a kubectl write meets, and fails with the same
//! Kubernetes `Status` ([`ApiError::Status`]; `is_conflict()`, `is_not_found()` …). A watch from
//! too old a resourceVersion fails with `410 Expired`, which [`Lister`] (the watcher's
//! `ListWatch`) turns into a re-list.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{Metadata, Resource as KubeResource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use skiff_proto::api::resources_client::ResourcesClient;
use skiff_proto::api::{
    BindRequest, CreateRequest, DeleteRequest, GetRequest, ListRequest, PatchRequest, Target, UpdateRequest,
    WatchRequest, WriteOptions,
};
use tonic::transport::{Channel, Endpoint};

use crate::watcher::{Change, ChangeStream, Failure, ListWatch, Watched};

/// What a call to the API server can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API server refused: the Kubernetes `Status` it answered with.
    #[error("{message} ({reason}, {code})")]
    Status { code: u16, reason: String, message: String },
    /// The call did not get an answer from the API server (connection, timeout).
    #[error("the API server could not be reached: {0}")]
    Transport(#[source] tonic::Status),
    #[error("bad API server address {0:?}")]
    Address(String),
    #[error("cannot connect to the API server at {address}")]
    Connect {
        address: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// An object did not (de)serialize as its type.
    #[error("object does not match its type: {0}")]
    Decode(#[from] serde_json::Error),
}

impl ApiError {
    fn reason(&self) -> Option<&str> {
        match self {
            ApiError::Status { reason, .. } => Some(reason),
            _ => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.reason() == Some("NotFound")
    }
    pub fn is_already_exists(&self) -> bool {
        self.reason() == Some("AlreadyExists")
    }
    /// A stale resourceVersion (`409 Conflict`): read again and retry.
    pub fn is_conflict(&self) -> bool {
        self.reason() == Some("Conflict")
    }
    /// A watch from a resourceVersion older than the server's history (`410 Expired`).
    pub fn is_expired(&self) -> bool {
        matches!(self.reason(), Some("Expired" | "Gone"))
    }
    pub fn is_invalid(&self) -> bool {
        self.reason() == Some("Invalid")
    }
}

impl From<tonic::Status> for ApiError {
    /// The Kubernetes Status travels in the gRPC status' details; a status without one is a
    /// transport failure.
    fn from(status: tonic::Status) -> ApiError {
        match serde_json::from_slice::<Value>(status.details()) {
            Ok(body) if body["kind"] == "Status" => ApiError::Status {
                code: body["code"].as_u64().unwrap_or(500) as u16,
                reason: body["reason"].as_str().unwrap_or_default().to_string(),
                message: body["message"].as_str().unwrap_or(status.message()).to_string(),
            },
            _ => ApiError::Transport(status),
        }
    }
}

/// Which objects a call is about: a kind, a namespace (or all), a name, a subresource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Kind {
    pub group: String,
    pub version: String,
    /// The plural: `pods`, `deployments`.
    pub plural: String,
}

impl Kind {
    pub fn of<K: KubeResource>() -> Kind {
        Kind { group: K::GROUP.into(), version: K::VERSION.into(), plural: K::URL_PATH_SEGMENT.into() }
    }

    pub fn new(group: &str, version: &str, plural: &str) -> Kind {
        Kind { group: group.into(), version: version.into(), plural: plural.into() }
    }

    fn target(&self, namespace: Option<&str>, name: Option<&str>, subresource: Option<&str>) -> Target {
        Target {
            group: self.group.clone(),
            version: self.version.clone(),
            resource: self.plural.clone(),
            namespace: namespace.unwrap_or_default().into(),
            name: name.unwrap_or_default().into(),
            subresource: subresource.unwrap_or_default().into(),
        }
    }
}

/// Selectors of a list or watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    pub label_selector: String,
    pub field_selector: String,
}

impl ListParams {
    pub fn labels(selector: &str) -> ListParams {
        ListParams { label_selector: selector.into(), ..Default::default() }
    }
    pub fn fields(selector: &str) -> ListParams {
        ListParams { field_selector: selector.into(), ..Default::default() }
    }
}

/// A patch, by format.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// RFC 7386: maps merge, `null` deletes.
    Merge(Value),
    /// RFC 6902: a list of operations.
    Json(Value),
    /// Kubernetes' strategic merge patch (lists merged by key).
    Strategic(Value),
}

impl Patch {
    fn content_type(&self) -> &'static str {
        match self {
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Json(_) => "application/json-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
        }
    }
    fn body(&self) -> &Value {
        match self {
            Patch::Merge(v) | Patch::Json(v) | Patch::Strategic(v) => v,
        }
    }
}

/// One event of a watch, as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    /// `ADDED`, `MODIFIED`, `DELETED` or `BOOKMARK`.
    pub kind: String,
    pub object: Value,
    pub resource_version: String,
}

/// A connection to the API server's gRPC API; cheap to clone (one HTTP/2 connection).
#[derive(Clone)]
pub struct Client {
    inner: ResourcesClient<Channel>,
    /// Who this client writes as (`fieldManager`).
    manager: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("manager", &self.manager).finish()
    }
}

fn json_bytes(value: &impl Serialize) -> Result<Bytes, ApiError> {
    Ok(Bytes::from(serde_json::to_vec(value)?))
}

impl Client {
    /// Connects to `address` (`host:port` or `http://host:port`); writes are made as `manager`.
    pub async fn connect(address: &str, manager: &str) -> Result<Client, ApiError> {
        let url = if address.contains("://") { address.to_string() } else { format!("http://{address}") };
        let endpoint = Endpoint::from_shared(url)
            .map_err(|_| ApiError::Address(address.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30));
        let channel = endpoint
            .connect()
            .await
            .map_err(|source| ApiError::Connect { address: address.to_string(), source })?;
        Ok(Client::from_channel(channel, manager))
    }

    pub fn from_channel(channel: Channel, manager: &str) -> Client {
        let inner = ResourcesClient::new(channel).max_decoding_message_size(usize::MAX);
        Client { inner, manager: manager.to_string() }
    }

    fn options(&self) -> Option<WriteOptions> {
        Some(WriteOptions { field_manager: self.manager.clone(), dry_run: false })
    }

    pub async fn get(&self, kind: &Kind, namespace: Option<&str>, name: &str, sub: Option<&str>) -> Result<Value, ApiError> {
        let request = GetRequest { target: Some(kind.target(namespace, Some(name), sub)) };
        let object = self.inner.clone().get(request).await?.into_inner();
        Ok(serde_json::from_slice(&object.json)?)
    }

    /// The objects the selectors pick, and the resourceVersion of the list.
    pub async fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<(Vec<Value>, String), ApiError> {
        let request = ListRequest {
            target: Some(kind.target(namespace, None, None)),
            label_selector: params.label_selector.clone(),
            field_selector: params.field_selector.clone(),
        };
        let listed = self.inner.clone().list(request).await?.into_inner();
        let items = listed.items.iter().map(|i| serde_json::from_slice(i)).collect::<Result<Vec<Value>, _>>()?;
        Ok((items, listed.resource_version))
    }

    /// Changes after `resource_version` (`""`: the current objects first, as `ADDED`).
    pub async fn watch(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        params: &ListParams,
        resource_version: &str,
    ) -> Result<BoxStream<'static, Result<RawEvent, ApiError>>, ApiError> {
        let request = WatchRequest {
            target: Some(kind.target(namespace, None, None)),
            label_selector: params.label_selector.clone(),
            field_selector: params.field_selector.clone(),
            resource_version: resource_version.to_string(),
            allow_bookmarks: true,
        };
        let events = self.inner.clone().watch(request).await?.into_inner();
        Ok(events
            .map(|event| {
                let event = event?;
                Ok(RawEvent {
                    kind: event.r#type,
                    object: serde_json::from_slice(&event.object)?,
                    resource_version: event.resource_version,
                })
            })
            .boxed())
    }

    pub async fn create(&self, kind: &Kind, namespace: Option<&str>, object: &Value) -> Result<Value, ApiError> {
        let request =
            CreateRequest { target: Some(kind.target(namespace, None, None)), json: json_bytes(object)?, options: self.options() };
        let created = self.inner.clone().create(request).await?.into_inner();
        Ok(serde_json::from_slice(&created.json)?)
    }

    /// Replaces the object (or with `sub = Some("status")` its status).
    pub async fn update(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        sub: Option<&str>,
        object: &Value,
    ) -> Result<Value, ApiError> {
        let request = UpdateRequest {
            target: Some(kind.target(namespace, Some(name), sub)),
            json: json_bytes(object)?,
            options: self.options(),
        };
        let updated = self.inner.clone().update(request).await?.into_inner();
        Ok(serde_json::from_slice(&updated.json)?)
    }

    pub async fn patch(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        sub: Option<&str>,
        patch: &Patch,
    ) -> Result<Value, ApiError> {
        let request = PatchRequest {
            target: Some(kind.target(namespace, Some(name), sub)),
            content_type: patch.content_type().into(),
            patch: json_bytes(patch.body())?,
            options: self.options(),
        };
        let patched = self.inner.clone().patch(request).await?.into_inner();
        Ok(serde_json::from_slice(&patched.json)?)
    }

    /// Deletes with Kubernetes `DeleteOptions` (as JSON; `Value::Null` for none).
    pub async fn delete(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        options: &Value,
    ) -> Result<Value, ApiError> {
        let options = if options.is_null() { Bytes::new() } else { json_bytes(options)? };
        let request = DeleteRequest { target: Some(kind.target(namespace, Some(name), None)), options };
        let deleted = self.inner.clone().delete(request).await?.into_inner();
        Ok(serde_json::from_slice(&deleted.json)?)
    }

    /// Binds the pod `namespace/pod` to `node` (the scheduler's write).
    pub async fn bind(&self, namespace: &str, pod: &str, node: &str) -> Result<(), ApiError> {
        let request = BindRequest { namespace: namespace.into(), pod: pod.into(), node: node.into() };
        self.inner.clone().bind(request).await?;
        Ok(())
    }
}

/// Objects of one kind, typed: `Api::<Pod>::namespaced(client, "default")`.
pub struct Api<K> {
    client: Client,
    kind: Kind,
    namespace: Option<String>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api { client: self.client.clone(), kind: self.kind.clone(), namespace: self.namespace.clone(), _kind: PhantomData }
    }
}

/// What `Api<K>` needs of a type: Kubernetes' own types from `k8s-openapi` have it all.
pub trait ApiObject:
    KubeResource + Metadata<Ty = ObjectMeta> + Serialize + DeserializeOwned + Clone + Send + Sync + 'static
{
}

impl<K> ApiObject for K where
    K: KubeResource + Metadata<Ty = ObjectMeta> + Serialize + DeserializeOwned + Clone + Send + Sync + 'static
{
}

fn typed<K: DeserializeOwned>(value: Value) -> Result<K, ApiError> {
    Ok(serde_json::from_value(value)?)
}

/// The object as `K`, or `None` (with a warning) when it does not decode: an object stored
/// before the API server checked types, or written to the store behind its back. An informer
/// leaves it out rather than fail every list, which would stall every controller that waits
/// for the informer's first list (client-go's reflector would keep failing instead).
fn typed_or_skipped<K: DeserializeOwned>(value: Value) -> Option<K> {
    let meta = &value["metadata"];
    let name = format!("{}/{}", meta["namespace"].as_str().unwrap_or(""), meta["name"].as_str().unwrap_or(""));
    let kind = value["kind"].as_str().unwrap_or("").to_string();
    match serde_json::from_value::<K>(value) {
        Ok(object) => Some(object),
        Err(cause) => {
            tracing::warn!(object = %name, %kind, %cause, "an object that does not match its type is left out");
            None
        }
    }
}

fn untyped<K: ApiObject>(object: &K) -> Result<Value, ApiError> {
    let mut value = serde_json::to_value(object)?;
    // k8s-openapi leaves these to the (de)serializer; the API server checks them.
    value["apiVersion"] = Value::String(K::API_VERSION.into());
    value["kind"] = Value::String(K::KIND.into());
    Ok(value)
}

impl<K: ApiObject> Api<K> {
    /// The objects of one namespace.
    pub fn namespaced(client: Client, namespace: &str) -> Api<K> {
        Api { client, kind: Kind::of::<K>(), namespace: Some(namespace.into()), _kind: PhantomData }
    }

    /// Cluster-scoped objects, or the objects of every namespace (lists and watches).
    pub fn all(client: Client) -> Api<K> {
        Api { client, kind: Kind::of::<K>(), namespace: None, _kind: PhantomData }
    }

    fn ns(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    pub async fn get(&self, name: &str) -> Result<K, ApiError> {
        typed(self.client.get(&self.kind, self.ns(), name, None).await?)
    }

    /// `None` if it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>, ApiError> {
        match self.get(name).await {
            Ok(object) => Ok(Some(object)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub async fn list(&self, params: &ListParams) -> Result<(Vec<K>, String), ApiError> {
        let (items, resource_version) = self.client.list(&self.kind, self.ns(), params).await?;
        Ok((items.into_iter().map(typed).collect::<Result<_, _>>()?, resource_version))
    }

    pub async fn create(&self, object: &K) -> Result<K, ApiError> {
        typed(self.client.create(&self.kind, self.ns(), &untyped(object)?).await?)
    }

    /// Replaces the object; its `metadata.resourceVersion` guards the write.
    pub async fn replace(&self, name: &str, object: &K) -> Result<K, ApiError> {
        typed(self.client.update(&self.kind, self.ns(), name, None, &untyped(object)?).await?)
    }

    /// Replaces the object's status only.
    pub async fn replace_status(&self, name: &str, object: &K) -> Result<K, ApiError> {
        typed(self.client.update(&self.kind, self.ns(), name, Some("status"), &untyped(object)?).await?)
    }

    pub async fn patch(&self, name: &str, patch: &Patch) -> Result<K, ApiError> {
        typed(self.client.patch(&self.kind, self.ns(), name, None, patch).await?)
    }

    pub async fn patch_status(&self, name: &str, patch: &Patch) -> Result<K, ApiError> {
        typed(self.client.patch(&self.kind, self.ns(), name, Some("status"), patch).await?)
    }

    /// Deletes with `options` (Kubernetes `DeleteOptions` as JSON; `Value::Null` for none).
    /// Returns the object as deleted, or as marked for deletion when something holds it.
    pub async fn delete(&self, name: &str, options: &Value) -> Result<K, ApiError> {
        typed(self.client.delete(&self.kind, self.ns(), name, options).await?)
    }

    /// The watcher's view of this API: list, then watch from the list's resourceVersion.
    pub fn lister(&self, params: ListParams) -> Lister<K> {
        Lister { api: self.clone(), params }
    }
}

/// `ListWatch` over the API server, for [`crate::watcher::watcher`].
pub struct Lister<K> {
    api: Api<K>,
    params: ListParams,
}

fn failure(err: ApiError) -> Failure {
    if err.is_expired() {
        Failure::Expired
    } else {
        Failure::Failed(err.to_string())
    }
}

impl<K: ApiObject> ListWatch for Lister<K> {
    type Object = K;

    async fn list(&self) -> Result<(Vec<K>, String), Failure> {
        let api = &self.api;
        let (items, resource_version) = api.client.list(&api.kind, api.ns(), &self.params).await.map_err(failure)?;
        Ok((items.into_iter().filter_map(typed_or_skipped).collect(), resource_version))
    }

    async fn watch(&self, resource_version: &str) -> Result<ChangeStream<K>, Failure> {
        let api = &self.api;
        let events = api.client.watch(&api.kind, api.ns(), &self.params, resource_version).await.map_err(failure)?;
        Ok(events
            .map(|event| {
                let event = event.map_err(failure)?;
                // An object that does not decode is passed over: the watch moves on.
                let change = match (event.kind.as_str(), typed_or_skipped(event.object)) {
                    ("BOOKMARK", _) | (_, None) => Change::Bookmark,
                    ("DELETED", Some(object)) => Change::Deleted(object),
                    (_, Some(object)) => Change::Applied(object),
                };
                Ok(Watched { change, resource_version: event.resource_version })
            })
            .boxed())
    }
}

impl<K: Metadata<Ty = ObjectMeta> + Send + Sync + 'static> crate::reflector::Object for K {
    fn namespace(&self) -> Option<&str> {
        self.metadata().namespace.as_deref()
    }
    fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
    fn controller_uid(&self) -> Option<&str> {
        let owners = self.metadata().owner_references.as_ref()?;
        owners.iter().find(|o| o.controller == Some(true)).map(|o| o.uid.as_str())
    }
}

/// An object of any kind, as JSON: for what works across kinds (the garbage collector).
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicObject(pub Value);

impl DynamicObject {
    pub fn uid(&self) -> &str {
        self.0["metadata"]["uid"].as_str().unwrap_or_default()
    }
}

impl crate::reflector::Object for DynamicObject {
    fn namespace(&self) -> Option<&str> {
        self.0["metadata"]["namespace"].as_str()
    }
    fn name(&self) -> &str {
        self.0["metadata"]["name"].as_str().unwrap_or_default()
    }
    fn controller_uid(&self) -> Option<&str> {
        self.0["metadata"]["ownerReferences"]
            .as_array()?
            .iter()
            .find(|o| o["controller"] == Value::Bool(true))
            .and_then(|o| o["uid"].as_str())
    }
}

/// `ListWatch` over one kind, untyped.
pub struct DynamicLister {
    client: Client,
    kind: Kind,
    params: ListParams,
}

impl Client {
    /// The watcher's view of every `kind` object, as JSON.
    pub fn dynamic_lister(&self, kind: Kind, params: ListParams) -> DynamicLister {
        DynamicLister { client: self.clone(), kind, params }
    }
}

impl ListWatch for DynamicLister {
    type Object = DynamicObject;

    async fn list(&self) -> Result<(Vec<DynamicObject>, String), Failure> {
        let (items, resource_version) = self.client.list(&self.kind, None, &self.params).await.map_err(failure)?;
        Ok((items.into_iter().map(DynamicObject).collect(), resource_version))
    }

    async fn watch(&self, resource_version: &str) -> Result<ChangeStream<DynamicObject>, Failure> {
        let events = self.client.watch(&self.kind, None, &self.params, resource_version).await.map_err(failure)?;
        Ok(events
            .map(|event| {
                let event = event.map_err(failure)?;
                let change = match event.kind.as_str() {
                    "BOOKMARK" => Change::Bookmark,
                    "DELETED" => Change::Deleted(DynamicObject(event.object)),
                    _ => Change::Applied(DynamicObject(event.object)),
                };
                Ok(Watched { change, resource_version: event.resource_version })
            })
            .boxed())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_that_do_not_decode_are_left_out_not_fatal() {
        let cases: &[(&str, Value, bool)] = &[
            ("a well-formed deployment", json!({"metadata": {"name": "web"}, "spec": {"replicas": 3}}), true),
            ("replicas stored as a string", json!({"metadata": {"name": "web"}, "spec": {"replicas": "3"}}), false),
            ("not an object at all", json!([1, 2]), false),
        ];
        for (name, value, kept) in cases {
            assert_eq!(typed_or_skipped::<Deployment>(value.clone()).is_some(), *kept, "{name}");
        }
    }
}
