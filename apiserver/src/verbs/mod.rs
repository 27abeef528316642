//! The verbs of the API — get, list, create, update, patch, delete, scale, bind, evict — with every rule
//! Kubernetes applies around the storage: the body must agree with the URL, defaults are filled,
//! objects go only into namespaces that exist, Services get their addresses, pods are deleted
//! gracefully.
//!
//! Both faces of the API server call these and nothing else: the REST handlers (`handlers.rs`,
//! for kubectl and curl) and the internal gRPC service (`grpc.rs`, for the other daemons). So a
//! controller's write meets exactly the checks, defaults, conflicts and errors a kubectl write
//! meets.
//!
//! Mirrors the generic registry and the per-kind strategies of kube-apiserver
//! (`staging/src/k8s.io/apiserver/pkg/registry/rest/{create,update,delete}.go`,
//! `pkg/registry/core/{pod,service,namespace}/`), one verb per file.

pub mod binding;
pub mod create;
pub mod delete;
pub mod eviction;
pub mod patch;
pub mod scale;
pub mod update;

use serde_json::Value;
use skiff_api::registry::{by_plural, Resource};
use skiff_api::schema::strict::{self, FieldValidation, Verdict};
use skiff_api::selector::{FieldSelector, LabelSelector};
use skiff_api::status::Status;
use skiff_api::validation::FieldError;
use skiff_store::client::StoreClient;

use crate::path::Target;
use crate::storage::ObjectStore;
use crate::watch_cache::WatchCaches;

/// The verbs, over one store.
#[derive(Clone)]
pub struct Verbs {
    pub objects: ObjectStore,
    /// For what is not an object: ClusterIP and NodePort allocations.
    pub client: StoreClient,
    /// The watch cache: every watch is served from it.
    pub caches: WatchCaches,
    /// `?dryRun=All`: every check and every result is computed, nothing is written or allocated.
    pub dry_run: bool,
}

/// Options every write carries.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Who writes (`kubectl-client-side-apply`, `skiff-controller-manager`…): the
    /// `fieldManager` parameter, else the name Kubernetes derives from the user agent.
    pub field_manager: String,
    /// Server-side apply's `?force=true`: take over the fields other managers own.
    pub force: bool,
    /// The subresource the write came through (`status`, `scale`), for field ownership.
    pub(crate) through: Option<&'static str>,
    /// Field ownership is already recorded (by an apply): leave `managedFields` alone.
    pub(crate) owned: bool,
    /// What to do about unknown and duplicate fields (`?fieldValidation=`).
    pub field_validation: FieldValidation,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            field_manager: String::new(),
            force: false,
            through: None,
            owned: false,
            field_validation: FieldValidation::Warn,
        }
    }
}

impl WriteOptions {
    /// A write as `manager` (`?fieldManager=`); without one, the first word of the user agent
    /// (`kubectl/v1.31.9 (linux/amd64)` → `kubectl`), as Kubernetes names managers.
    pub fn new(field_manager: Option<&str>, user_agent: Option<&str>) -> WriteOptions {
        let manager = match (field_manager.filter(|m| !m.is_empty()), user_agent) {
            (Some(manager), _) => manager.to_string(),
            (None, Some(agent)) => agent.split('/').next().unwrap_or_default().to_string(),
            (None, None) => String::new(),
        };
        WriteOptions { field_manager: manager, ..Default::default() }
    }

    /// Records in `new`'s `managedFields` what this write changed since `old`.
    pub(crate) fn record(&self, old: Option<&Value>, new: &mut Value) {
        if self.owned {
            return;
        }
        let now = crate::storage::now_timestamp();
        let writer = skiff_api::apply::Writer::new(&self.field_manager, &now);
        let writer = match self.through {
            Some(subresource) => writer.through(subresource),
            None => writer,
        };
        skiff_api::apply::record_update(old, new, &writer);
    }
}

impl Verbs {
    pub fn new(client: StoreClient, caches: WatchCaches) -> Verbs {
        Verbs { objects: ObjectStore::new(client.clone()).offering_to(caches.clone()), client, caches, dry_run: false }
    }

    /// The same verbs, for a `?dryRun=All` request.
    pub fn dry_run(&self) -> Verbs {
        Verbs { objects: self.objects.dry_run(), dry_run: true, ..self.clone() }
    }

    /// One object (also its `/status`: the same object).
    pub async fn get(&self, target: &Target, name: &str) -> Result<Value, Status> {
        self.objects.get(target.resource, target.namespace.as_deref(), name).await
    }

    /// [`Verbs::get`] as the JSON the client is answered with (no tree is built).
    pub async fn get_json(&self, target: &Target, name: &str) -> Result<bytes::Bytes, Status> {
        self.objects.get_json(target.resource, target.namespace.as_deref(), name).await
    }

    /// The objects matching the selectors, sorted by namespace and name, and the list's revision.
    pub async fn list(
        &self,
        target: &Target,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Result<(Vec<Value>, i64), Status> {
        self.objects.list(target.resource, target.namespace.as_deref(), labels, fields).await
    }

    /// [`Verbs::list`] as the JSON of each object the client is answered with (no tree is built).
    pub async fn list_json(
        &self,
        target: &Target,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Result<(Vec<bytes::Bytes>, i64), Status> {
        self.objects.list_json(target.resource, target.namespace.as_deref(), labels, fields).await
    }

    /// A new object goes only into a namespace that exists and is not being deleted
    /// (Kubernetes' NamespaceLifecycle admission: `404` for a missing namespace, `403` for a
    /// terminating one, so that its controller can empty it for good).
    ///
    /// The namespace is read from the watch cache, as upstream reads it from its informer, which
    /// saves every create a store round trip. The cache lags the store a little, so a namespace
    /// it does not hold is looked up in the store: one created a moment ago is found. (A
    /// namespace deleted a moment ago may still look live, for the same moment, as upstream.)
    async fn namespace_admits(&self, target: &Target, object: &Value) -> Result<(), Status> {
        let Some(namespace) = target.namespace.as_deref().filter(|_| target.resource.namespaced) else {
            return Ok(());
        };
        let found = match self.caches.get(namespaces(), None, namespace) {
            Some(cached) => cached.value(),
            None => self.objects.get(namespaces(), None, namespace).await?,
        };
        if crate::storage::is_deleting(&found) || found["status"]["phase"] == "Terminating" {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let why = format!("unable to create new content in namespace {namespace} because it is being terminated");
            let mut status = Status::forbidden(target.resource, name, &why);
            if let Some(details) = status.details.as_mut() {
                details["causes"] = serde_json::json!([{"reason": "NamespaceTerminating",
                    "message": format!("namespace {namespace} is being terminated"), "field": "metadata.namespace"}]);
            }
            return Err(status);
        }
        Ok(())
    }
}

pub(crate) fn namespaces() -> &'static Resource {
    by_plural("", "v1", "namespaces").expect("namespaces are registered")
}

/// Reads a JSON object body (REST sends it with or without a Content-Type; gRPC always).
pub fn read_json(body: &[u8]) -> Result<Value, Status> {
    object_body(serde_json::from_slice(body))
}

/// The media type of a Content-Type, without its parameters: `application/json; charset=utf-8`
/// is `application/json`.
pub fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// Reads a YAML object body (`Content-Type: application/yaml`, which kube-apiserver takes for
/// creates and updates as well as JSON: `curl --data-binary @pod.yaml`). One document; YAML
/// that does not parse is a 400, as upstream's YAML-to-JSON step makes it.
pub fn read_yaml(body: &[u8]) -> Result<Value, Status> {
    let value = serde_yaml_ng::from_slice(body)
        .map_err(|e| Status::bad_request(format!("error converting YAML to JSON: yaml: {e}")))?;
    object_body(Ok(value))
}

/// [`read_json`], noting the body's duplicate fields as it is read, for [`check_decoded_fields`].
pub fn read_json_noting_duplicates(body: &[u8]) -> Result<(Value, Vec<String>), Status> {
    let (value, duplicates) = match strict::decode_noting_duplicates(body) {
        Ok((value, duplicates)) => (Ok(value), duplicates),
        Err(e) => (Err(e), Vec::new()),
    };
    Ok((object_body(value)?, duplicates))
}

fn object_body(decoded: Result<Value, serde_json::Error>) -> Result<Value, Status> {
    let value = decoded.map_err(|e| Status::bad_request(format!("the request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Status::bad_request("the request body must be a JSON object"));
    }
    Ok(value)
}

/// The body's kind, apiVersion and namespace must agree with the URL.
pub(crate) fn check_body(target: &Target, object: &Value) -> Result<(), Status> {
    let resource = target.resource;
    if let Some(api_version) = object["apiVersion"].as_str() {
        if api_version != resource.api_version() {
            return Err(Status::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({})",
                resource.api_version()
            )));
        }
    }
    if let Some(kind) = object["kind"].as_str() {
        if kind != resource.kind {
            return Err(Status::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                resource.kind
            )));
        }
    }
    if let (Some(url), Some(body)) = (target.namespace.as_deref(), object["metadata"]["namespace"].as_str()) {
        if !body.is_empty() && body != url {
            return Err(Status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

/// Whether `target` names a Service (whose writes allocate and release addresses).
fn is_service(target: &Target) -> bool {
    target.resource.group.is_empty() && target.resource.plural == "services"
}

/// Parses a list's or watch's selectors; a field the kind cannot select on is a `400`, as in
/// Kubernetes (`field label not supported: spec.foo`).
pub fn selectors(resource: &Resource, labels: &str, fields: &str) -> Result<(LabelSelector, FieldSelector), Status> {
    let labels = LabelSelector::parse(labels).map_err(|e| Status::bad_request(e.to_string()))?;
    let fields = FieldSelector::parse(fields).map_err(|e| Status::bad_request(e.to_string()))?;
    if let Some(field) = fields.fields().find(|f| !skiff_api::fields::supported(resource, f)) {
        return Err(Status::bad_request(format!("field label not supported: {field}")));
    }
    Ok((labels, fields))
}

/// `fieldValidation`: refuses (Strict), or warns about (Warn), the unknown and duplicate fields
/// of `object` as decoded from `body`, and drops the unknown ones so they are not stored.
/// Returns the `Warning` header values to answer with. A value of the wrong type fails the
/// request whatever the directive (`skiff_api::schema::types`). For a patch, `object` is the
/// patched object and a refusal is Kubernetes' `422` on the `patch` field.
pub fn check_fields(
    resource: &Resource,
    options: &WriteOptions,
    body: &[u8],
    object: &mut Value,
    patch: bool,
) -> Result<Vec<String>, Status> {
    let duplicates = skiff_api::schema::duplicate_fields(body);
    check_decoded_fields(resource, options, duplicates, object, patch)
}

/// [`check_fields`] for a body whose duplicate fields were noted as it was read
/// ([`read_json_noting_duplicates`]).
pub fn check_decoded_fields(
    resource: &Resource,
    options: &WriteOptions,
    duplicates: Vec<String>,
    object: &mut Value,
    patch: bool,
) -> Result<Vec<String>, Status> {
    let errors = match strict::check_decoded(resource, duplicates, object) {
        Ok(errors) => errors,
        // A value of the wrong type fails whatever `fieldValidation` says.
        Err(mismatch) if patch => return Err(Status::cannot_decode_patch(&object.to_string(), &mismatch.to_string())),
        Err(mismatch) => return Err(Status::cannot_decode(resource, &mismatch.to_string())),
    };
    match strict::verdict(options.field_validation, errors) {
        Verdict::Accept { warnings } => Ok(warnings),
        Verdict::Reject { errors } if patch => Err(Status::strict_decoding_patch(&object.to_string(), &errors)),
        Verdict::Reject { errors } => Err(Status::strict_decoding(resource, &errors)),
    }
}

/// `422 Invalid` with every error, or nothing.
pub(crate) fn invalid(resource: &Resource, object: &Value, errors: Vec<FieldError>) -> Result<(), Status> {
    if errors.is_empty() {
        return Ok(());
    }
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    Err(Status::invalid(resource, name, &errors))
}
