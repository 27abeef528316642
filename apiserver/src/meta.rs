//! The non-resource endpoints: `/version`, health, and discovery.
//!
//! `/version` answers minor `31`: the `kubectl` dispatcher picks the client version from it
//! (`../shared/kubectl-compat.md` section 0). Discovery documents come from `skiff_api::discovery`;
//! the Accept header chooses the aggregated or legacy form, and the Content-Type says which.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use skiff_api::discovery;

use crate::respond;
use crate::AppState;

pub async fn version() -> Response {
    let body = json!({
        "major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit": "skiff", "gitTreeState": "clean",
        "buildDate": "2026-11-23T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"
    });
    respond::json(StatusCode::OK, &body)
}

fn accept(headers: &HeaderMap) -> &str {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("application/json")
}

fn with_type(body: &Value, content_type: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

pub async fn api_root(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match discovery::negotiate(accept(&headers)) {
        form @ discovery::Form::Aggregated(version) => {
            with_type(&discovery::aggregated(true, version), form.content_type())
        }
        discovery::Form::Legacy => respond::json(StatusCode::OK, &discovery::api_versions(&state.address)),
    }
}

pub async fn apis_root(headers: HeaderMap) -> Response {
    match discovery::negotiate(accept(&headers)) {
        form @ discovery::Form::Aggregated(version) => {
            with_type(&discovery::aggregated(false, version), form.content_type())
        }
        discovery::Form::Legacy => respond::json(StatusCode::OK, &discovery::api_group_list()),
    }
}

pub async fn core_version(Path(version): Path<String>) -> Response {
    found(discovery::resource_list("", &version))
}

pub async fn group(Path(group): Path<String>) -> Response {
    found(discovery::group(&group))
}

pub async fn group_version(Path((group, version)): Path<(String, String)>) -> Response {
    found(discovery::resource_list(&group, &version))
}

fn found(document: Option<Value>) -> Response {
    match document {
        Some(document) => respond::json(StatusCode::OK, &document),
        None => respond::not_found_path(),
    }
}
