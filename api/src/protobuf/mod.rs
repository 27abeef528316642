//! The protobuf request bodies of kubectl 1.32 and later, read into the JSON the rest of the server
//! uses.
//!
//! client-go 0.32+ sends the objects of typed clients as `application/vnd.kubernetes.protobuf`,
//! and kubectl does not retry as JSON when refused (`../shared/kubectl-compat.md` sections 0.2,
//! 11). Measured with kubectl 1.32.5 and 1.33.1, these POST protobuf: `create deployment`,
//! `create service clusterip|nodeport|loadbalancer|externalname`, `create job`, `create ingress`,
//! `create configmap`, `create secret generic|docker-registry|tls`, `create namespace`,
//! `create serviceaccount`, `create token` (a TokenRequest) and `autoscale` (a
//! HorizontalPodAutoscaler), the last two on URLs Skiff does not serve (404). `run`, `expose`,
//! `scale`, `rollout`, `set`, `label`, `patch`, `delete` and `drain` (evictions) send JSON.
//!
//! # The envelope
//!
//! A body is the magic `6b 38 73 00` (`k8s\0`) and then a `runtime.Unknown` message:
//!
//! ```text
//! 1: typeMeta {1: apiVersion, 2: kind}     e.g. {"apps/v1", "Deployment"}
//! 2: raw                                   the object's own message (a Deployment)
//! 3: contentEncoding, 4: contentType       empty
//! ```
//!
//! # Layout
//!
//! - [`wire`]: protobuf's wire format (varints, length-delimited fields).
//! - [`schema`]: Skiff's tables of Kubernetes' messages: field number → JSON name and type.
//! - [`decode`]: the one generic decoder that reads any message of the tables into JSON.
//!
//! Mirrors apimachinery's `pkg/runtime/serializer/protobuf` (the envelope) and the gogo-generated
//! `Unmarshal` methods of `k8s.io/api` (the messages), as an interpreter of tables instead of
//! generated code. Left out: encoding (responses stay JSON, which kubectl accepts) and the
//! streaming (watch) framing.

pub mod decode;
pub mod schema;
pub mod wire;

pub use decode::base64;

use serde_json::{Map, Value};

use crate::status::Status;
use decode::DecodeError;
use wire::WireValue;

const MAGIC: &[u8] = b"k8s\0";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("the body is not a Kubernetes protobuf object: it does not start with k8s\\0")]
    NoMagic,
    #[error("the protobuf envelope (runtime.Unknown) is malformed: {0}")]
    Envelope(#[source] DecodeError),
    #[error("the protobuf envelope names no apiVersion and kind")]
    NoKind,
    /// A kind the tables do not have: the server must ask for JSON (415).
    #[error("protobuf bodies are not supported for {kind} ({api_version}); send JSON")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("{kind} in version {:?} cannot be handled as a {kind}: {source}", version(api_version))]
    Malformed {
        api_version: String,
        kind: String,
        #[source]
        source: DecodeError,
    },
}

/// `apps/v1` → `v1`: how Kubernetes names the version in its decoding errors.
fn version(api_version: &str) -> &str {
    api_version.rsplit('/').next().unwrap_or(api_version)
}

/// Refused kinds are 415 Unsupported Media Type, as Kubernetes answers for a kind it cannot read
/// as protobuf; bodies that are not what they claim to be are 400 Bad Request.
impl From<ProtobufError> for Status {
    fn from(error: ProtobufError) -> Status {
        match error {
            ProtobufError::UnsupportedKind { .. } => Status::unsupported_media_type(&["application/json"]),
            other => Status::bad_request(other.to_string()),
        }
    }
}

/// Reads a protobuf body into the object's JSON, `apiVersion` and `kind` included.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let (api_version, kind, raw) = unknown(envelope).map_err(ProtobufError::Envelope)?;
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::NoKind);
    }
    let Some(schema) = schema::by_kind(&api_version, &kind) else {
        return Err(ProtobufError::UnsupportedKind { api_version, kind });
    };
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version.clone()));
    object.insert("kind".into(), Value::String(kind.clone()));
    match decode::message(raw, schema) {
        Ok(fields) => object.extend(fields),
        Err(source) => return Err(ProtobufError::Malformed { api_version, kind, source }),
    }
    Ok(Value::Object(object))
}

/// The `runtime.Unknown` envelope: `(apiVersion, kind, raw)`.
fn unknown(envelope: &[u8]) -> Result<(String, String, &[u8]), DecodeError> {
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for item in wire::fields(envelope) {
        match item? {
            (1, WireValue::Bytes(type_meta)) => {
                for item in wire::fields(type_meta) {
                    match item? {
                        (1, WireValue::Bytes(b)) => api_version = text(b)?,
                        (2, WireValue::Bytes(b)) => kind = text(b)?,
                        _ => {}
                    }
                }
            }
            (2, WireValue::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    Ok((api_version, kind, raw))
}

fn text(bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| decode::Reason::NotUtf8.into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::wire::write::bytes;
    use super::*;

    #[test]
    fn the_envelope_gives_the_kind_and_the_object_its_fields() {
        let type_meta = [bytes(1, b"v1"), bytes(2, b"ConfigMap")].concat();
        let raw = [bytes(1, &bytes(1, b"app-config")), bytes(2, &[bytes(1, b"A"), bytes(2, b"b")].concat())].concat();
        let envelope = [bytes(1, &type_meta), bytes(2, &raw), bytes(3, b""), bytes(4, b"")].concat();
        let object = decode(&[MAGIC, &envelope].concat()).unwrap();
        assert_eq!(
            object,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"}, "data": {"A": "b"}})
        );
    }

    #[test]
    fn errors_name_the_version_as_kubernetes_does() {
        assert_eq!(version("apps/v1"), "v1");
        assert_eq!(version("v1"), "v1");
        let error = ProtobufError::UnsupportedKind { api_version: "batch/v1".into(), kind: "CronJob".into() };
        assert_eq!(error.to_string(), "protobuf bodies are not supported for CronJob (batch/v1); send JSON");
    }
}
