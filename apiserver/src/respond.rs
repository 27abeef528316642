//! Building responses: objects, Tables and `Status` errors, as JSON.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use skiff_api::status::Status;

use crate::storage::Written;

/// `body` as a JSON answer. Encoded into bytes directly (`to_string` would go through
/// `fmt::Write` piece by piece), into a buffer the size of a typical pod, which saves the
/// buffer's repeated doubling from serde's 128 bytes.
pub fn json(code: StatusCode, body: &Value) -> Response {
    let mut bytes = Vec::with_capacity(4096);
    serde_json::to_writer(&mut bytes, body).expect("JSON values serialize");
    (code, [(header::CONTENT_TYPE, "application/json")], axum::body::Body::from(bytes)).into_response()
}

/// What a request is answered with: a tree to encode, or JSON already encoded (a write's
/// stored bytes, a get's, with the resourceVersion spliced in: `stamp.rs`).
pub enum Reply {
    Tree(Value),
    Json(Bytes),
}

impl From<Value> for Reply {
    fn from(object: Value) -> Reply {
        Reply::Tree(object)
    }
}

impl From<Bytes> for Reply {
    fn from(json: Bytes) -> Reply {
        Reply::Json(json)
    }
}

impl From<Written> for Reply {
    fn from(written: Written) -> Reply {
        Reply::Json(written.json)
    }
}

/// `reply` as an answer, with `Warning` headers (`fieldValidation=Warn`); kubectl prints each one.
pub fn reply(code: StatusCode, reply: Reply, warnings: &[String]) -> Response {
    let mut response = match reply {
        Reply::Tree(object) => json(code, &object),
        Reply::Json(bytes) => {
            (code, [(header::CONTENT_TYPE, "application/json")], axum::body::Body::from(bytes)).into_response()
        }
    };
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
