//! ConfigMaps and Secrets: keys, the 1 MiB limit, base64 data, Secret types, `immutable`.
//!
//! Mirrors `ValidateConfigMap`, `ValidateConfigMapUpdate`, `ValidateSecret` and
//! `ValidateSecretUpdate` in kubernetes `pkg/apis/core/validation/validation.go`. A key becomes a
//! file name when the object is mounted, so it is limited to `[-._a-zA-Z0-9]+` and may not be
//! `.`, `..` or start with `..`. Both kinds are stored whole in etcd, hence the limit on their
//! size (1 MiB of data; ConfigMaps report it at the whole object, printed `[]`).
//!
//! Secret (and ConfigMap `binaryData`) values are base64 in JSON. Kubernetes refuses bad base64
//! while decoding (a 400); here it is a field error with Go's message, `illegal base64 data at
//! input byte 4`. `stringData` counts as `data` (Kubernetes merges it in before validating).
//! Left out: the exact wording of JSON errors in docker config secrets (serde's, not Go's).

use serde_json::{Map, Value};

use super::field::{FieldError, Path};
use super::json::{has, obj, text};
use super::names::config_key;

/// `MaxSecretSize`, which ConfigMaps share.
pub const MAX_SIZE: usize = 1024 * 1024;
const REDACTED: &str = "<secret contents redacted>";
const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";

/// The decoded length of standard, padded base64 (newlines ignored), or the offset of the first
/// byte Go's decoder refuses.
pub fn base64_len(text: &str) -> Result<usize, usize> {
    let decodes = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let skip_newlines = |src: &[u8], mut i: usize| {
        while i < src.len() && (src[i] == b'\n' || src[i] == b'\r') {
            i += 1;
        }
        i
    };
    let src = text.as_bytes();
    let (mut i, mut total) = (0, 0);
    loop {
        // One quantum: four characters make three bytes; `=` pads the last one.
        let mut j = 0;
        let mut end = false;
        while j < 4 {
            if i == src.len() {
                if j == 0 {
                    return Ok(total);
                }
                return Err(i - j);
            }
            let byte = src[i];
            i += 1;
            if decodes(byte) {
                j += 1;
                continue;
            }
            if byte == b'\n' || byte == b'\r' {
                continue;
            }
            if byte != b'=' || j < 2 {
                return Err(i - 1);
            }
            if j == 2 {
                i = skip_newlines(src, i);
                if i == src.len() {
                    return Err(src.len());
                }
                if src[i] != b'=' {
                    return Err(i - 1);
                }
                i += 1;
            }
            i = skip_newlines(src, i);
            if i < src.len() {
                return Err(i);
            }
            end = true;
            break;
        }
        total += if end { j - 1 } else { 3 };
        if end {
            return Ok(total);
        }
    }
}

fn decoded(value: &Value, path: &Path, shown: Option<&str>) -> Result<usize, FieldError> {
    let text = value.as_str().unwrap_or_default();
    base64_len(text).map_err(|at| {
        FieldError::invalid(path, shown.unwrap_or(text), format!("illegal base64 data at input byte {at}"))
    })
}

fn keys(map: Option<&Map<String, Value>>, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for key in map.into_iter().flat_map(|m| m.keys()) {
        errors.extend(config_key(key).into_iter().map(|p| FieldError::invalid(path.key(key), key.as_str(), p)));
    }
    errors
}

/// A ConfigMap's `data` and `binaryData`.
pub fn config_map(object: &Value) -> Vec<FieldError> {
    let (data, binary) = (obj(object, "data"), obj(object, "binaryData"));
    let mut errors = Vec::new();
    let mut size = 0;
    for (key, value) in data.into_iter().flatten() {
        let at = Path::new("data").key(key);
        errors.extend(config_key(key).into_iter().map(|p| FieldError::invalid(&at, key.as_str(), p)));
        if binary.is_some_and(|b| b.contains_key(key)) {
            errors.push(FieldError::invalid(&at, key.as_str(), "duplicate of key present in binaryData"));
        }
        size += value.as_str().map_or(0, str::len);
    }
    errors.extend(keys(binary, &Path::new("binaryData")));
    for (key, value) in binary.into_iter().flatten() {
        match decoded(value, &Path::new("binaryData").key(key), None) {
            Ok(len) => size += len,
            Err(error) => errors.push(error),
        }
    }
    if size > MAX_SIZE {
        // Kubernetes passes an empty path: the error is about the whole object.
        errors.push(FieldError::too_long("[]", MAX_SIZE));
    }
    errors
}

/// A Secret's data (base64), `stringData` and the keys its `type` needs.
pub fn secret(object: &Value) -> Vec<FieldError> {
    let data_path = Path::new("data");
    let (data, strings) = (obj(object, "data"), obj(object, "stringData"));
    let mut errors = keys(data, &data_path);
    errors.extend(keys(strings, &data_path));
    let mut size = 0;
    for (key, value) in data.into_iter().flatten() {
        if strings.is_some_and(|s| s.contains_key(key)) {
            continue; // stringData wins
        }
        match decoded(value, &data_path.key(key), Some(REDACTED)) {
            Ok(len) => size += len,
            Err(error) => errors.push(error),
        }
    }
    size += strings.into_iter().flatten().map(|(_, v)| v.as_str().map_or(0, str::len)).sum::<usize>();
    if size > MAX_SIZE {
        errors.push(FieldError::too_long(&data_path, MAX_SIZE));
    }
    let present = |key: &str| data.is_some_and(|d| d.contains_key(key)) || strings.is_some_and(|s| s.contains_key(key));
    let required = |key: &str| FieldError::required(data_path.key(key), "");
    match text(object, "type") {
        "kubernetes.io/service-account-token" => {
            let annotation = "kubernetes.io/service-account.name";
            if text(&object["metadata"]["annotations"], annotation).is_empty() {
                errors.push(FieldError::required(Path::new("metadata").child("annotations").key(annotation), ""));
            }
        }
        kind @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if kind.ends_with("json") { ".dockerconfigjson" } else { ".dockercfg" };
            if !present(key) {
                errors.push(required(key));
            } else if let Some(problem) = json_problem(object, key) {
                errors.push(FieldError::invalid(data_path.key(key), REDACTED, problem));
            }
        }
        "kubernetes.io/basic-auth" if !present("username") && !present("password") => {
            errors.push(required("username"));
            errors.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if !present("ssh-privatekey") => errors.push(required("ssh-privatekey")),
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"].into_iter().filter(|k| !present(k)) {
                errors.push(required(key));
            }
        }
        _ => {}
    }
    errors
}

/// Why the (base64 or string) value of `key` is not a JSON object, if it is not.
fn json_problem(secret: &Value, key: &str) -> Option<String> {
    let raw = match secret["stringData"].get(key).and_then(Value::as_str) {
        Some(text) => text.as_bytes().to_vec(),
        None => decode(text(&secret["data"], key))?,
    };
    serde_json::from_slice::<Map<String, Value>>(&raw).err().map(|e| e.to_string())
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u32> = text
        .bytes()
        .filter(|b| !matches!(b, b'\n' | b'\r' | b'='))
        .map(|b| match b {
            b'A'..=b'Z' => Some((b - b'A') as u32),
            b'a'..=b'z' => Some((b - b'a' + 26) as u32),
            b'0'..=b'9' => Some((b - b'0' + 52) as u32),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let mut bytes = Vec::new();
    for chunk in digits.chunks(4) {
        let word = chunk.iter().enumerate().fold(0u32, |w, (i, d)| w | d << (18 - 6 * i));
        bytes.extend(&word.to_be_bytes()[1..chunk.len()]);
    }
    Some(bytes)
}

/// An `immutable: true` object keeps its data, and its immutability.
fn immutable(new: &Value, old: &Value, fields: &[&str]) -> Vec<FieldError> {
    if old["immutable"].as_bool() != Some(true) {
        return Vec::new();
    }
    let mut errors = Vec::new();
    if new["immutable"].as_bool() != Some(true) {
        errors.push(FieldError::forbidden("immutable", IMMUTABLE_SET));
    }
    for field in fields {
        if !super::json::same(&new[*field], &old[*field]) {
            errors.push(FieldError::forbidden(*field, IMMUTABLE_SET));
        }
    }
    errors
}

pub fn config_map_update(new: &Value, old: &Value) -> Vec<FieldError> {
    immutable(new, old, &["data", "binaryData"])
}

/// A Secret's type never changes (an absent one is `Opaque`).
pub fn secret_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let kind = |s: &Value| if has(s, "type") { text(s, "type").to_string() } else { "Opaque".to_string() };
    let mut errors = Vec::new();
    if kind(new) != kind(old) {
        errors.push(FieldError::immutable("type", kind(new)));
    }
    errors.extend(immutable(new, old, &["data"]));
    errors
}
