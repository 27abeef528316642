//! Reading fields of a JSON object for validation: absent, `null` and wrongly typed fields read
//! as absent, as Go's zero values do once Kubernetes has decoded the object. (Kubernetes refuses
//! a wrongly typed field while decoding, with a 400; the API server's decoder is the place for
//! that, so the rules here never panic on odd JSON.)

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// `object[key]` as a string, `""` when absent.
pub fn text<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `object[key]` as a string, `None` when absent.
pub fn opt_text<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

/// `object[key]` as an integer, `None` when absent.
pub fn int(object: &Value, key: &str) -> Option<i64> {
    object.get(key).and_then(Value::as_i64)
}

/// `object[key]` as a list, empty when absent.
pub fn list<'a>(object: &'a Value, key: &str) -> &'a [Value] {
    object.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// `object[key]` as an object, `None` when absent.
pub fn obj<'a>(object: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    object.get(key).and_then(Value::as_object)
}

/// Whether `object[key]` is set (present and not `null`).
pub fn has(object: &Value, key: &str) -> bool {
    object.get(key).is_some_and(|v| !v.is_null())
}

/// `object[key]` as a string map (labels, selectors, data), empty when absent.
pub fn string_map(object: &Value, key: &str) -> BTreeMap<String, String> {
    obj(object, key)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

/// Equality as Kubernetes' `apiequality.Semantic.DeepEqual` sees it for JSON: an absent field,
/// `null`, `[]` and `{}` are the same zero value.
pub fn same(a: &Value, b: &Value) -> bool {
    normalized(a) == normalized(b)
}

fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalized(v))).filter(|(_, v)| !is_zero(v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// The paths (`spec.containers[0].ports`) at which `a` and `b` differ, for the summaries that
/// follow Kubernetes' "may not change" messages.
pub fn differences(a: &Value, b: &Value, at: &str) -> Vec<String> {
    let (a, b) = (normalized(a), normalized(b));
    let mut found = Vec::new();
    diff(&a, &b, at, &mut found);
    found
}

fn diff(a: &Value, b: &Value, at: &str, found: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let (va, vb) = (x.get(key).unwrap_or(&Value::Null), y.get(key).unwrap_or(&Value::Null));
                diff(va, vb, &format!("{at}.{key}"), found);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff(va, vb, &format!("{at}[{i}]"), found);
            }
        }
        _ if a != b => found.push(at.to_string()),
        _ => {}
    }
}
