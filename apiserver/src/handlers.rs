//! Resource requests: the REST face of the verbs.
//!
//! Mirrors kubernetes `staging/src/k8s.io/apiserver/pkg/endpoints/handlers` (`get.go`,
//! `create.go`, `update.go`, `patch.go`, `delete.go`): read what the request names and carries,
//! call the verb (`verbs/`, shared with the gRPC API), answer with the object (or a Table, for
//! `kubectl get`) or a `Status`. Nothing about objects is decided here.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use skiff_api::status::Status;
use skiff_api::{age, protobuf, table};

use crate::path::{self, PathError, Target};
use crate::respond::Reply;
use crate::verbs::delete::DeleteOptions;
use crate::verbs::patch::PatchType;
use crate::verbs::scale::ScaleChange;
use crate::verbs::{
    check_decoded_fields, media_type, read_json, read_json_noting_duplicates, read_yaml, selectors, WriteOptions,
};
use crate::{respond, streaming, watch, AppState};
use skiff_api::schema::strict::FieldValidation;

type Params = HashMap<String, String>;

/// The request's Content-Type, or `""`.
pub(crate) fn content_type(headers: &HeaderMap) -> &str {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Every request under `/api/...` and `/apis/...` that names resources.
pub async fn resource_request(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<Params>,
    body: axum::body::Body,
) -> Response {
    let body = match axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return respond::status(&Status::too_large(crate::MAX_BODY_BYTES)),
    };
    let target = match path::parse(uri.path()) {
        Ok(target) => target,
        Err(PathError::NotFound) | Err(PathError::UnknownResource { .. }) => return respond::not_found_path(),
    };
    // `?dryRun=All`: the same request, against verbs that write nothing.
    let state = if params.get("dryRun").is_some_and(|v| v == "All") {
        AppState { verbs: std::sync::Arc::new(state.verbs.dry_run()), ..state }
    } else {
        state
    };
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let mut options = WriteOptions::new(params.get("fieldManager").map(String::as_str), user_agent);
    options.force = is_true(&params, "force");
    match FieldValidation::parse(params.get("fieldValidation").map(String::as_str)) {
        Ok(directive) => options.field_validation = directive,
        Err(value) if matches!(method, Method::POST | Method::PUT | Method::PATCH) => {
            let kind = match method {
                Method::POST => "CreateOptions",
                Method::PUT => "UpdateOptions",
                _ => "PatchOptions",
            };
            return respond::status(&Status::unsupported_field_validation(kind, &value));
        }
        Err(_) => {}
    }
    let mut warnings = Vec::new();
    let verbs = &state.verbs;
    let name = target.name.clone();
    let result = match (&method, name.as_deref(), target.subresource.as_deref()) {
        (&Method::GET, None, None) if is_true(&params, "watch") => {
            return watch::serve(state, target, params, headers).await
        }
        (&Method::GET, None, None) => list(&state, &target, &params, &headers).await,
        (&Method::GET, Some(name), None | Some("status")) if respond::wants_table(&headers) => {
            verbs.get(&target, name).await.map(|object| ok(one_row_table(&target, object, &params)))
        }
        (&Method::GET, Some(name), None | Some("status")) => verbs.get_json(&target, name).await.map(ok),
        (&Method::GET, Some(name), Some("scale")) => verbs.scale(&target, name).await.map(ok),
        (&Method::POST, None, None) => match checked(&target, &options, &headers, &body, &mut warnings) {
            Ok(object) => verbs.create(&target, object, &options).await.map(|o| (StatusCode::CREATED, o.into())),
            Err(status) => Err(status),
        },
        (&Method::POST, Some(name), Some("binding")) => match read_json(&body) {
            Ok(binding) => verbs.bind(&target, name, binding).await.map(|o| (StatusCode::CREATED, o.into())),
            Err(status) => Err(status),
        },
        (&Method::POST, Some(name), Some("eviction")) if target.resource.plural == "pods" => match read_json(&body) {
            Ok(eviction) => verbs.evict(&target, name, &eviction).await.map(|o| (StatusCode::CREATED, o.into())),
            Err(status) => Err(status),
        },
        (&Method::PUT, Some(name), Some("finalize")) if target.resource.subresource("finalize").is_some() => {
            match checked(&target, &options, &headers, &body, &mut warnings) {
                Ok(object) => verbs.update(&target, name, object, &options).await.map(ok),
                Err(status) => Err(status),
            }
        }
        (&Method::PUT, Some(name), None | Some("status")) => {
            match checked(&target, &options, &headers, &body, &mut warnings) {
                Ok(object) => verbs.update(&target, name, object, &options).await.map(ok),
                Err(status) => Err(status),
            }
        }
        (&Method::PATCH, Some(name), None | Some("status")) => {
            match PatchType::from_content_type(content_type(&headers)) {
                Ok(kind) => verbs.patch(&target, name, kind, &body, &options).await.map(|patched| {
                    warnings = patched.warnings;
                    let code = if patched.created { StatusCode::CREATED } else { StatusCode::OK };
                    (code, patched.object.into())
                }),
                Err(status) => Err(status),
            }
        }
        (&Method::PUT, Some(name), Some("scale")) => {
            verbs.update_scale(&target, name, ScaleChange::Replace(&body), &options).await.map(ok)
        }
        (&Method::PATCH, Some(name), Some("scale")) => match PatchType::from_content_type(content_type(&headers)) {
            Ok(kind) => verbs.update_scale(&target, name, ScaleChange::Patch(kind, &body), &options).await.map(ok),
            Err(status) => Err(status),
        },
        (&Method::DELETE, Some(name), None) => match delete_options(&params, &body) {
            Ok(delete) => verbs.delete(&target, name, &delete).await.map(ok),
            Err(status) => Err(status),
        },
        (&Method::DELETE, None, None) => delete_collection(&state, &target, &params, &body).await,
        (&Method::GET, Some(name), Some("log")) if target.resource.plural == "pods" => {
            return streaming::logs::serve(&state, &target, name, &params).await
        }
        (_, Some(_), Some("exec" | "attach")) if target.resource.plural == "pods" => Err(Status::bad_request(
            "exec and attach are served over WebSocket (Upgrade: websocket, v5.channel.k8s.io) only",
        )),
        (_, _, Some(sub @ "portforward")) if target.resource.subresource(sub).is_some() => Err(Status {
            code: 503,
            reason: "ServiceUnavailable",
            message: format!("{}/{sub} is not served", target.resource.plural),
            details: None,
        }),
        (_, _, Some(_)) => return respond::not_found_path(),
        _ => Err(Status::method_not_allowed()),
    };
    match result {
        Ok((code, body)) => respond::reply(code, body, &warnings),
        Err(status) => respond::status(&status),
    }
}

/// A create's or update's body (JSON, or the protobuf kubectl 1.32+ generators send), decoded
/// and put through `fieldValidation`.
fn checked(
    target: &Target,
    options: &WriteOptions,
    headers: &HeaderMap,
    body: &Bytes,
    warnings: &mut Vec<String>,
) -> Result<Value, Status> {
    // Protobuf bodies cannot carry unknown fields: their decoder knows only Kubernetes' own.
    if content_type(headers).contains("protobuf") {
        // Kinds the decoder has no schema for are 415; bodies that are not what they claim, 400.
        return Ok(protobuf::decode(body)?);
    }
    // YAML, as `curl -H 'Content-Type: application/yaml' --data-binary @pod.yaml` sends it.
    let media_type = media_type(content_type(headers));
    if !matches!(media_type, "" | "application/json" | "application/yaml") {
        // `curl -d` without `-H` sends a form: upstream refuses what it has no decoder for.
        return Err(Status::unsupported_media_type(&BODY_MEDIA_TYPES));
    }
    // (`application/apply-patch+yaml` is a patch, not a body of this kind.)
    if media_type == "application/yaml" {
        let mut object = read_yaml(body)?;
        *warnings = check_decoded_fields(target.resource, options, Vec::new(), &mut object, false)?;
        return Ok(object);
    }
    // JSON, with or without a Content-Type (the Python client sends none).
    let (mut object, duplicates) = read_json_noting_duplicates(body)?;
    *warnings = check_decoded_fields(target.resource, options, duplicates, &mut object, false)?;
    Ok(object)
}

/// The bodies a create or update takes (with no Content-Type at all, JSON).
const BODY_MEDIA_TYPES: [&str; 3] = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

fn is_true(params: &Params, name: &str) -> bool {
    params.get(name).is_some_and(|v| v == "true" || v == "1")
}

fn ok(object: impl Into<Reply>) -> (StatusCode, Reply) {
    (StatusCode::OK, object.into())
}

/// The one-row Table `kubectl get NAME` asks for.
fn one_row_table(target: &Target, object: Value, params: &Params) -> Value {
    let revision = object["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
    as_table(target, vec![object], &revision, params)
}

/// The Table of `objects`. Its rows carry each object's metadata (`includeObject=Metadata`, the
/// default) or, when asked (`includeObject=Object`, what `kubectl get --sort-by` sends), the
/// whole object, or nothing (`None`).
fn as_table(target: &Target, objects: Vec<Value>, revision: &str, params: &Params) -> Value {
    let mut table = table::table(target.resource, &objects, revision, age::now());
    let include = params.get("includeObject").map(String::as_str).unwrap_or("Metadata");
    if let Some(rows) = table["rows"].as_array_mut() {
        for (row, object) in rows.iter_mut().zip(objects) {
            match include {
                "Object" => row["object"] = object,
                "None" => row["object"] = Value::Null,
                _ => {}
            }
        }
    }
    table
}

fn delete_options(params: &Params, body: &Bytes) -> Result<DeleteOptions, Status> {
    DeleteOptions::parse(body, |name| params.get(name).cloned())
}

type Answer = Result<(StatusCode, Reply), Status>;

fn list_of(target: &Target, items: Vec<Value>, revision: i64) -> Value {
    json!({
        "kind": format!("{}List", target.resource.kind),
        "apiVersion": target.resource.api_version(),
        "metadata": {"resourceVersion": revision.to_string()},
        "items": items,
    })
}

async fn list(state: &AppState, target: &Target, params: &Params, headers: &HeaderMap) -> Answer {
    let text = |name: &str| params.get(name).map_or("", String::as_str);
    let (labels, fields) = selectors(target.resource, text("labelSelector"), text("fieldSelector"))?;
    if respond::wants_table(headers) {
        let (items, revision) = state.verbs.list(target, &labels, &fields).await?;
        return Ok(ok(as_table(target, items, &revision.to_string(), params)));
    }
    let (items, revision) = state.verbs.list_json(target, &labels, &fields).await?;
    Ok(ok(list_json_of(target, &items, revision)))
}

/// [`list_of`], put together from its items' JSON: the bytes `list_of` would encode to (keys
/// in the order `serde_json` writes them), without the items ever being trees.
fn list_json_of(target: &Target, items: &[Bytes], revision: i64) -> Bytes {
    let text = |out: &mut Vec<u8>, text: &str| serde_json::to_writer(out, text).expect("strings serialize");
    let mut out = Vec::with_capacity(items.iter().map(|item| item.len() + 1).sum::<usize>() + 128);
    out.extend_from_slice(b"{\"apiVersion\":");
    text(&mut out, &target.resource.api_version());
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"],\"kind\":");
    text(&mut out, &format!("{}List", target.resource.kind));
    out.extend_from_slice(b",\"metadata\":{\"resourceVersion\":");
    text(&mut out, &revision.to_string());
    out.extend_from_slice(b"}}");
    Bytes::from(out)
}

async fn delete_collection(state: &AppState, target: &Target, params: &Params, body: &Bytes) -> Answer {
    let text = |name: &str| params.get(name).map_or("", String::as_str);
    let (labels, fields) = selectors(target.resource, text("labelSelector"), text("fieldSelector"))?;
    let options = delete_options(params, body)?;
    let (deleted, revision) = state.verbs.delete_collection(target, &labels, &fields, &options).await?;
    Ok(ok(list_of(target, deleted, revision)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_put_together_from_its_items_is_the_list_encoded() {
        let pods = skiff_api::registry::by_plural("", "v1", "pods").unwrap();
        let deployments = skiff_api::registry::by_plural("apps", "v1", "deployments").unwrap();
        let items = vec![json!({"metadata": {"name": "a"}, "spec": {}}), json!({"metadata": {"name": "b\"c"}})];
        for resource in [pods, deployments] {
            let target = Target { resource, namespace: None, name: None, subresource: None };
            for items in [items.clone(), Vec::new()] {
                let bytes: Vec<Bytes> = items.iter().map(|i| Bytes::from(serde_json::to_vec(i).unwrap())).collect();
                let encoded = serde_json::to_vec(&list_of(&target, items, 42)).unwrap();
                assert_eq!(list_json_of(&target, &bytes, 42), encoded);
            }
        }
    }
}
