//! OpenAPI v3, generated from the registry: what `kubectl apply|create|replace -f` read before
//! they send anything.
//!
//! kubectl 1.29+ validates objects by default, and first asks `/openapi/v3` whether the server
//! validates them itself: it looks for the group-version's document, and in it a PATCH
//! operation tagged with the kind's group-version-kind that accepts a `fieldValidation`
//! parameter (`../shared/kubectl-compat.md` section 3). This module serves exactly that, for
//! every kind: an index, and one document per group-version.
//!
//! The PATCH operations do not advertise strategic merge patch, on purpose: kubectl would then
//! compute its patches from these documents' schemas, which carry no merge keys yet; without it,
//! kubectl uses the Kubernetes types compiled into it, which are right for every built-in kind.
//! Left out, to come: schemas with descriptions (for `kubectl explain`) and the server-side
//! enforcement of `fieldValidation=Strict`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};
use skiff_api::registry::{group_versions, Resource, RESOURCES};

use crate::respond;

/// `api/v1` or `apis/apps/v1`: how the index names a group-version.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A short stable hash of a document, so that kubectl's disk cache notices changes.
fn hash(text: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for byte in text.bytes() {
        h ^= byte as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016X}")
}

fn patch_operation(r: &Resource) -> Value {
    json!({
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
        "x-kubernetes-action": "patch",
        "operationId": format!("patch{}", r.kind),
        "parameters": [
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            {"name": "force", "in": "query", "schema": {"type": "boolean"}}
        ],
        "requestBody": {"content": {
            "application/json-patch+json": {"schema": {"type": "object"}},
            "application/merge-patch+json": {"schema": {"type": "object"}}
        }},
        "responses": {"200": {"description": "OK"}}
    })
}

/// The document of one group-version, if it is served.
pub fn document(group: &str, version: &str) -> Option<Value> {
    let resources: Vec<&Resource> = RESOURCES.iter().filter(|r| r.group == group && r.version == version).collect();
    if resources.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for r in resources {
        let base = format!("/{}", gv_path(r.group, r.version));
        let item = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{base}/{}/{{name}}", r.plural)
        };
        paths.insert(item, json!({"patch": patch_operation(r)}));
        let schema_name =
            format!("io.skiff.{}.{}.{}", if r.group.is_empty() { "core" } else { r.group }, r.version, r.kind);
        schemas.insert(
            schema_name,
            json!({"type": "object", "description": format!("{} ({}).", r.kind, r.api_version()),
                   "x-kubernetes-group-version-kind": [{"group": r.group, "version": r.version, "kind": r.kind}]}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// `/openapi/v3`: one entry per group-version.
pub async fn index() -> Response {
    let mut paths = Map::new();
    for (group, version) in group_versions() {
        let doc = document(group, version).expect("served group-versions have documents");
        let path = gv_path(group, version);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", hash(&doc.to_string()))}),
        );
    }
    respond::json(StatusCode::OK, &json!({"paths": paths}))
}

pub async fn core(Path(version): Path<String>) -> Response {
    found(document("", &version))
}

pub async fn group(Path((group, version)): Path<(String, String)>) -> Response {
    found(document(&group, &version))
}

fn found(document: Option<Value>) -> Response {
    match document {
        Some(document) => respond::json(StatusCode::OK, &document),
        None => respond::not_found_path(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_a_patch_operation_kubectl_recognises() {
        let apps = document("apps", "v1").unwrap();
        let patch = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        let names: Vec<&str> =
            patch["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"fieldValidation"));
        assert!(patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_none());
        let core = document("", "v1").unwrap();
        assert!(core["paths"].get("/api/v1/namespaces/{name}").is_some(), "cluster-scoped kinds have no namespace");
        assert!(document("apps", "v2").is_none());
    }
}
