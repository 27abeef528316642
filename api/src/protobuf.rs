//! The protobuf request bodies kubectl 1.32+ sends for its generators (`kubectl create
//! configmap|secret|namespace|serviceaccount`), read into the JSON the rest of the server uses.
//!
//! client-go 0.32 sends typed objects as protobuf: the magic `k8s\0`, then a `runtime.Unknown`
//! {1: typeMeta {1: apiVersion, 2: kind}, 2: raw (the object's message), 3: contentEncoding,
//! 4: contentType} (`../shared/kubectl-compat.md` section 11, field numbers from k8s.io/api's
//! `generated.proto`). A small reader of protobuf's wire format covers the kinds above; other
//! kinds answer `415`, and kubectl tells the user.

use serde_json::{json, Map, Value};

const MAGIC: &[u8] = b"k8s\0";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("not a Kubernetes protobuf body (no k8s\\0 magic)")]
    NoMagic,
    #[error("malformed protobuf: {0}")]
    Malformed(&'static str),
    #[error("protobuf bodies are not supported for {0}; send JSON")]
    UnsupportedKind(String),
}

/// One field of a message: its number and its value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// Reads a message's fields in order.
fn fields(mut bytes: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ProtobufError> {
    fn varint(bytes: &mut &[u8]) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = bytes.split_first().ok_or(ProtobufError::Malformed("truncated varint"))?;
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed("varint too long"))
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let (number, wire) = (key >> 3, key & 7);
        let field = match wire {
            0 => Field::Varint(varint(&mut bytes)?),
            2 => {
                let len = varint(&mut bytes)? as usize;
                if len > bytes.len() {
                    return Err(ProtobufError::Malformed("truncated field"));
                }
                let (value, rest) = bytes.split_at(len);
                bytes = rest;
                Field::Bytes(value)
            }
            1 => {
                bytes = bytes.get(8..).ok_or(ProtobufError::Malformed("truncated fixed64"))?;
                continue;
            }
            5 => {
                bytes = bytes.get(4..).ok_or(ProtobufError::Malformed("truncated fixed32"))?;
                continue;
            }
            _ => return Err(ProtobufError::Malformed("unknown wire type")),
        };
        out.push((number, field));
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> Result<String, ProtobufError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtobufError::Malformed("a string is not UTF-8"))
}

/// A `map<string, string>` entry (`binary`: the value is bytes, shown base64 as in JSON).
fn map_entry(bytes: &[u8], binary: bool) -> Result<(String, Value), ProtobufError> {
    let (mut key, mut value) = (String::new(), Value::String(String::new()));
    for (number, field) in fields(bytes)? {
        match (number, field) {
            (1, Field::Bytes(b)) => key = text(b)?,
            (2, Field::Bytes(b)) if binary => value = json!(base64(b)),
            (2, Field::Bytes(b)) => value = json!(text(b)?),
            _ => {}
        }
    }
    Ok((key, value))
}

fn object_meta(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let mut meta = Map::new();
    let (mut labels, mut annotations) = (Map::new(), Map::new());
    for (number, field) in fields(bytes)? {
        let Field::Bytes(b) = field else { continue };
        match number {
            1..=3 => {
                let value = text(b)?;
                // Empty strings are sent explicitly; they mean unset.
                if !value.is_empty() {
                    let name = ["name", "generateName", "namespace"][number as usize - 1];
                    meta.insert(name.into(), json!(value));
                }
            }
            11 => {
                let (k, v) = map_entry(b, false)?;
                labels.insert(k, v);
            }
            12 => {
                let (k, v) = map_entry(b, false)?;
                annotations.insert(k, v);
            }
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    Ok(Value::Object(meta))
}

/// Reads a protobuf body into the object's JSON.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (number, field) in fields(envelope)? {
        match (number, field) {
            (1, Field::Bytes(type_meta)) => {
                for (n, f) in fields(type_meta)? {
                    match (n, f) {
                        (1, Field::Bytes(b)) => api_version = text(b)?,
                        (2, Field::Bytes(b)) => kind = text(b)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut object = json!({"apiVersion": api_version, "kind": kind});
    let (mut data, mut binary_data, mut string_data) = (Map::new(), Map::new(), Map::new());
    for (number, field) in fields(raw)? {
        match (kind.as_str(), number, field) {
            (_, 1, Field::Bytes(b)) => object["metadata"] = object_meta(b)?,
            ("ConfigMap", 2, Field::Bytes(b)) => {
                let (k, v) = map_entry(b, false)?;
                data.insert(k, v);
            }
            ("ConfigMap", 3, Field::Bytes(b)) => {
                let (k, v) = map_entry(b, true)?;
                binary_data.insert(k, v);
            }
            ("ConfigMap", 4, Field::Varint(v)) | ("Secret", 5, Field::Varint(v)) => object["immutable"] = json!(v != 0),
            ("Secret", 2, Field::Bytes(b)) => {
                let (k, v) = map_entry(b, true)?;
                data.insert(k, v);
            }
            // An empty type is sent explicitly; it means unset (the server defaults it).
            ("Secret", 3, Field::Bytes(b)) if !b.is_empty() => object["type"] = json!(text(b)?),
            ("Secret", 4, Field::Bytes(b)) => {
                let (k, v) = map_entry(b, false)?;
                string_data.insert(k, v);
            }
            ("ConfigMap" | "Secret" | "Namespace" | "ServiceAccount", _, _) => {}
            (other, _, _) => return Err(ProtobufError::UnsupportedKind(other.to_string())),
        }
    }
    if !data.is_empty() {
        object["data"] = Value::Object(data);
    }
    if !binary_data.is_empty() {
        object["binaryData"] = Value::Object(binary_data);
    }
    if !string_data.is_empty() {
        object["stringData"] = Value::Object(string_data);
    }
    Ok(object)
}

/// Standard base64 with padding, as JSON carries `[]byte` fields.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a length-delimited field (enough to build test bodies).
    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3 | 2) as u8];
        let mut len = bytes.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(bytes);
        out
    }

    fn entry(key: &str, value: &[u8]) -> Vec<u8> {
        [field(1, key.as_bytes()), field(2, value)].concat()
    }

    fn body(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw), field(3, b""), field(4, b"")].concat()
    }

    #[test]
    fn a_configmap_as_kubectl_1_32_sends_it() {
        let meta = [field(1, b"app-config"), field(2, b""), field(3, b""), field(11, &entry("app", b"web"))].concat();
        let raw = [field(1, &meta), field(2, &entry("A", b"b")), field(2, &entry("f", b"line\n"))].concat();
        let object = decode(&body("v1", "ConfigMap", raw)).unwrap();
        assert_eq!(
            object,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config", "labels": {"app": "web"}}, "data": {"A": "b", "f": "line\n"}})
        );
    }

    #[test]
    fn a_secret_carries_base64_data_and_its_type() {
        let raw = [field(1, &field(1, b"s")), field(2, &entry("K", b"v")), field(3, b"Opaque")].concat();
        let object = decode(&body("v1", "Secret", raw)).unwrap();
        assert_eq!(object["data"]["K"], "dg==");
        assert_eq!(object["type"], "Opaque");
        assert_eq!(base64(b"hello"), "aGVsbG8=");
    }

    #[test]
    fn other_kinds_and_other_bodies_are_refused() {
        let deployment = body("apps/v1", "Deployment", [field(1, &field(1, b"web")), field(2, b"spec")].concat());
        assert_eq!(decode(&deployment), Err(ProtobufError::UnsupportedKind("Deployment".into())));
        assert_eq!(decode(b"{\"json\": true}"), Err(ProtobufError::NoMagic));
        assert!(matches!(decode(&[MAGIC, &[0x0a, 0x05, 0x01]].concat()), Err(ProtobufError::Malformed(_))));
        let namespace = decode(&body("v1", "Namespace", field(1, &field(1, b"dev")))).unwrap();
        assert_eq!(namespace["metadata"]["name"], "dev");
    }
}
