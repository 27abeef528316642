//! Building responses: objects, Tables and `Status` errors, as JSON.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use skiff_api::status::Status;

/// `body` as a JSON answer. Encoded into bytes directly (`to_string` would go through
/// `fmt::Write` piece by piece), into a buffer the size of a typical pod, which saves the
/// buffer's repeated doubling from serde's 128 bytes.
pub fn json(code: StatusCode, body: &Value) -> Response {
    let mut bytes = Vec::with_capacity(4096);
    serde_json::to_writer(&mut bytes, body).expect("JSON values serialize");
    (code, [(header::CONTENT_TYPE, "application/json")], axum::body::Body::from(bytes)).into_response()
}

/// An object with `Warning` headers (`fieldValidation=Warn`); kubectl prints each one.
pub fn json_with_warnings(code: StatusCode, body: &Value, warnings: &[String]) -> Response {
    let mut response = json(code, body);
    for warning in warnings {
        if let Ok(value) = axum::http::HeaderValue::from_str(warning) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

pub fn status(status: &Status) -> Response {
    let code = StatusCode::from_u16(status.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(code, &status.to_json())
}

/// Kubernetes' answer to a path it does not serve.
pub fn not_found_path() -> Response {
    status(&Status {
        code: 404,
        reason: "NotFound",
        message: "the server could not find the requested resource".into(),
        details: None,
    })
}

/// Whether the client asked for a Table (`kubectl get`'s human output).
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').next().is_some_and(|first| first.contains("as=Table")))
}
