//! Resource requests: the verbs of the REST API on the objects a path names.
//!
//! Mirrors kubernetes `staging/src/k8s.io/apiserver/pkg/endpoints/handlers` (`get.go`,
//! `create.go`, `update.go`, `patch.go`, `delete.go`): read the request, check what the URL and
//! the body say agree, call the storage layer, answer with the object (or a Table, for
//! `kubectl get`) or a `Status`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use skiff_api::registry::{by_plural, Resource};
use skiff_api::selector::{FieldSelector, LabelSelector};
use skiff_api::status::Status;
use skiff_api::{age, defaults, patch, protobuf, strategic, table};

use crate::path::{self, PathError, Target};
use crate::{respond, services, watch, AppState};

type Params = HashMap<String, String>;

/// The request's Content-Type, or `""`.
fn content_type(headers: &HeaderMap) -> &str {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Every request under `/api/...` and `/apis/...` that names resources.
pub async fn resource_request(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response {
    let target = match path::parse(uri.path()) {
        Ok(target) => target,
        Err(PathError::NotFound) | Err(PathError::UnknownResource { .. }) => return respond::not_found_path(),
    };
    // `?dryRun=All`: the same request, against a store that writes nothing.
    let state = if params.get("dryRun").is_some_and(|v| v == "All") {
        AppState { objects: state.objects.dry_run(), dry_run: true, ..state }
    } else {
        state
    };
    let result = match (&method, &target.name, target.subresource.as_deref()) {
        (&Method::GET, None, None) if is_true(&params, "watch") => {
            return watch::serve(state, target, params, headers).await
        }
        (&Method::GET, None, None) => list(&state, &target, &params, &headers).await,
        (&Method::GET, Some(name), None | Some("status")) => get(&state, &target, name, &headers).await,
        (&Method::GET, Some(name), Some("scale")) => scale(&state, &target, name, None).await,
        (&Method::POST, None, None) => create(&state, &target, &headers, &body).await,
        (&Method::PUT, Some(name), None) => update(&state, &target, name, &body, false).await,
        (&Method::PUT, Some(name), Some("status")) => update(&state, &target, name, &body, true).await,
        (&Method::PATCH, Some(name), None | Some("status")) => patch(&state, &target, name, &headers, &body).await,
        (&Method::PATCH | &Method::PUT, Some(name), Some("scale")) => {
            scale(&state, &target, name, Some((method.clone(), headers.clone(), body.clone()))).await
        }
        (&Method::DELETE, Some(name), None) => delete(&state, &target, name).await,
        (&Method::DELETE, None, None) => delete_collection(&state, &target, &params).await,
        (_, _, Some(sub)) if target.resource.subresource(sub).is_some() => Err(Status {
            code: 503,
            reason: "ServiceUnavailable",
            message: format!("{}/{sub} is not served yet", target.resource.plural),
            details: None,
        }),
        (_, _, Some(_)) => return respond::not_found_path(),
        _ => Err(Status::method_not_allowed()),
    };
    match result {
        Ok((code, body)) => respond::json(code, &body),
        Err(status) => respond::status(&status),
    }
}

fn is_true(params: &Params, name: &str) -> bool {
    params.get(name).is_some_and(|v| v == "true" || v == "1")
}

type Answer = Result<(StatusCode, Value), Status>;

fn selectors(params: &Params) -> Result<(LabelSelector, FieldSelector), Status> {
    let labels = LabelSelector::parse(params.get("labelSelector").map_or("", String::as_str))
        .map_err(|e| Status::bad_request(e.to_string()))?;
    let fields = FieldSelector::parse(params.get("fieldSelector").map_or("", String::as_str))
        .map_err(|e| Status::bad_request(e.to_string()))?;
    Ok((labels, fields))
}

async fn list(state: &AppState, target: &Target, params: &Params, headers: &HeaderMap) -> Answer {
    let (labels, fields) = selectors(params)?;
    let (items, revision) = state.objects.list(target.resource, target.namespace.as_deref(), &labels, &fields).await?;
    if respond::wants_table(headers) {
        return Ok((StatusCode::OK, table::table(target.resource, &items, &revision.to_string(), age::now())));
    }
    let list = json!({
        "kind": format!("{}List", target.resource.kind),
        "apiVersion": target.resource.api_version(),
        "metadata": {"resourceVersion": revision.to_string()},
        "items": items,
    });
    Ok((StatusCode::OK, list))
}

async fn get(state: &AppState, target: &Target, name: &str, headers: &HeaderMap) -> Answer {
    let object = state.objects.get(target.resource, target.namespace.as_deref(), name).await?;
    if respond::wants_table(headers) {
        let revision = object["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
        return Ok((StatusCode::OK, table::table(target.resource, &[object], &revision, age::now())));
    }
    Ok((StatusCode::OK, object))
}

/// Reads a request body: JSON, or no Content-Type at all (the Python client).
fn read_body(body: &Bytes) -> Result<Value, Status> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(format!("the request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Status::bad_request("the request body must be a JSON object"));
    }
    Ok(value)
}

/// The body's kind, apiVersion and namespace must agree with the URL.
fn check_body(target: &Target, object: &Value) -> Result<(), Status> {
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

fn namespaces() -> &'static Resource {
    by_plural("", "v1", "namespaces").expect("namespaces are registered")
}

async fn create(state: &AppState, target: &Target, headers: &HeaderMap, body: &Bytes) -> Answer {
    let protobuf = content_type(headers).contains("protobuf");
    let mut object = if protobuf {
        // kubectl 1.32+ generators: ConfigMaps, Secrets, Namespaces and ServiceAccounts.
        protobuf::decode(body).map_err(|_| Status::unsupported_media_type(&["application/json"]))?
    } else {
        read_body(body)?
    };
    check_body(target, &object)?;
    defaults::apply(target.resource, &mut object);
    if let Some(namespace) = target.namespace.as_deref() {
        // Objects go only into namespaces that exist.
        state.objects.get(namespaces(), None, namespace).await?;
    }
    // (A dry run allocates nothing: its Service shows no ClusterIP.)
    let is_service = target.resource.plural == "services" && !state.dry_run;
    if is_service {
        let owner = format!(
            "{}/{}",
            target.namespace.as_deref().unwrap_or_default(),
            object["metadata"]["name"].as_str().unwrap_or_default()
        );
        services::allocate(&mut state.client.clone(), &mut object, &owner).await?;
    }
    match state.objects.create(target.resource, target.namespace.as_deref(), object.clone()).await {
        Ok(created) => Ok((StatusCode::CREATED, created)),
        Err(status) => {
            if is_service {
                // The Service was not created: give back what it was given.
                services::release(&mut state.client.clone(), &object).await;
            }
            Err(status)
        }
    }
}

async fn update(state: &AppState, target: &Target, name: &str, body: &Bytes, status_only: bool) -> Answer {
    let mut object = read_body(body)?;
    check_body(target, &object)?;
    if object["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(Status::bad_request("the name of the object does not match the name on the URL"));
    }
    if status_only {
        let updated = state.objects.update_status(target.resource, target.namespace.as_deref(), name, object).await?;
        return Ok((StatusCode::OK, updated));
    }
    object["metadata"]["name"] = json!(name);
    defaults::apply(target.resource, &mut object);
    if target.resource.plural == "services" {
        let old = state.objects.get(target.resource, target.namespace.as_deref(), name).await?;
        services::keep_cluster_ip(&old, &mut object)?;
    }
    let updated = state.objects.update(target.resource, target.namespace.as_deref(), name, object).await?;
    Ok((StatusCode::OK, updated))
}

/// Applies a patch of the body's Content-Type to `current`.
fn apply_patch(current: &mut Value, content_type: &str, body: &Bytes) -> Result<(), Status> {
    let patch: Value =
        serde_json::from_slice(body).map_err(|e| Status::bad_request(format!("the patch is not valid JSON: {e}")))?;
    match content_type.split(';').next().unwrap_or_default().trim() {
        "application/merge-patch+json" => patch::merge_patch(current, &patch),
        "application/json-patch+json" => patch::json_patch(current, &patch).map_err(|e| Status {
            code: 422,
            reason: "Invalid",
            message: e.to_string(),
            details: None,
        })?,
        "application/strategic-merge-patch+json" => strategic::strategic_merge_patch(current, &patch),
        _ => {
            return Err(Status::unsupported_media_type(&[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ]))
        }
    }
    Ok(())
}

async fn patch(state: &AppState, target: &Target, name: &str, headers: &HeaderMap, body: &Bytes) -> Answer {
    let content_type = content_type(headers).to_string();
    let status_only = target.subresource.as_deref() == Some("status");
    // A patch applies to the current object; if it changes under us, read it again (as the
    // API server does: patches do not conflict).
    for _ in 0..5 {
        let mut object = state.objects.get(target.resource, target.namespace.as_deref(), name).await?;
        let revision = object["metadata"]["resourceVersion"].clone();
        apply_patch(&mut object, &content_type, body)?;
        object["metadata"]["resourceVersion"] = revision;
        let result = if status_only {
            state.objects.update_status(target.resource, target.namespace.as_deref(), name, object).await
        } else {
            state.objects.update(target.resource, target.namespace.as_deref(), name, object).await
        };
        match result {
            Err(status) if status.reason == "Conflict" => continue,
            other => return other.map(|o| (StatusCode::OK, o)),
        }
    }
    Err(Status::conflict(target.resource, name))
}

/// `GET`/`PUT`/`PATCH` of `/scale`: the autoscaling/v1 Scale view of `spec.replicas`.
async fn scale(state: &AppState, target: &Target, name: &str, change: Option<(Method, HeaderMap, Bytes)>) -> Answer {
    let object = state.objects.get(target.resource, target.namespace.as_deref(), name).await?;
    let as_scale = |object: &Value| {
        let selector = table::selector_string(object["spec"]["selector"].get("matchLabels"));
        json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"],
                         "uid": object["metadata"]["uid"], "resourceVersion": object["metadata"]["resourceVersion"],
                         "creationTimestamp": object["metadata"]["creationTimestamp"]},
            "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)},
            "status": {"replicas": object["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
        })
    };
    let Some((method, headers, body)) = change else {
        return Ok((StatusCode::OK, as_scale(&object)));
    };
    let mut wanted = as_scale(&object);
    if method == Method::PUT {
        wanted = read_body(&body)?;
    } else {
        apply_patch(&mut wanted, content_type(&headers), &body)?;
    }
    let replicas =
        wanted["spec"]["replicas"].as_i64().ok_or_else(|| Status::bad_request("spec.replicas is required"))?;
    let mut updated = object.clone();
    updated["spec"]["replicas"] = json!(replicas);
    let updated = state.objects.update(target.resource, target.namespace.as_deref(), name, updated).await?;
    Ok((StatusCode::OK, as_scale(&updated)))
}

/// Deletes every object in namespace `namespace`, kind by kind. Kubernetes' namespace controller
/// does this after marking the namespace Terminating; Skiff does it before answering the delete
/// (there is no controller-manager yet), so the result is the same once the delete returns.
async fn empty_namespace(state: &AppState, namespace: &str) -> Result<(), Status> {
    let (everything, no_fields) = (LabelSelector::default(), FieldSelector::default());
    for resource in skiff_api::registry::RESOURCES.iter().filter(|r| r.namespaced) {
        let (items, _) = state.objects.list(resource, Some(namespace), &everything, &no_fields).await?;
        for item in items {
            let name = item["metadata"]["name"].as_str().unwrap_or_default();
            match state.objects.delete(resource, Some(namespace), name).await {
                Ok(deleted) if resource.plural == "services" => {
                    services::release(&mut state.client.clone(), &deleted).await
                }
                Ok(_) => {}
                Err(status) if status.code == 404 => {}
                Err(status) => return Err(status),
            }
        }
    }
    Ok(())
}

async fn delete(state: &AppState, target: &Target, name: &str) -> Answer {
    if target.resource.plural == "namespaces" {
        state.objects.get(target.resource, None, name).await?;
        empty_namespace(state, name).await?;
    }
    let deleted = state.objects.delete(target.resource, target.namespace.as_deref(), name).await?;
    if target.resource.plural == "services" && !state.dry_run {
        services::release(&mut state.client.clone(), &deleted).await;
    }
    Ok((StatusCode::OK, deleted))
}

async fn delete_collection(state: &AppState, target: &Target, params: &Params) -> Answer {
    let (labels, fields) = selectors(params)?;
    let (items, revision) = state.objects.list(target.resource, target.namespace.as_deref(), &labels, &fields).await?;
    let mut deleted = Vec::new();
    for item in items {
        let name = item["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let namespace = item["metadata"]["namespace"].as_str().map(str::to_string);
        if let Ok(object) = state.objects.delete(target.resource, namespace.as_deref(), &name).await {
            if target.resource.plural == "services" && !state.dry_run {
                services::release(&mut state.client.clone(), &object).await;
            }
            deleted.push(object);
        }
    }
    let list = json!({
        "kind": format!("{}List", target.resource.kind),
        "apiVersion": target.resource.api_version(),
        "metadata": {"resourceVersion": revision.to_string()},
        "items": deleted,
    });
    Ok((StatusCode::OK, list))
}
