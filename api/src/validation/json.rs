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
/// `null`, `[]` and `{}` are the same zero value. Walked in place, without building the
/// normalized copies of both sides (it runs on every pod update's spec): the same answer as
/// `normalized(a) == normalized(b)`.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.iter().all(|(key, v)| same_field(Some(v), y.get(key)))
                && y.iter().filter(|(key, _)| !x.contains_key(*key)).all(|(_, v)| is_zero_deep(v))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        _ => a == b,
    }
}

/// Two values of one field: a zero value on either side matches only a zero value (an absent
/// field included), as `normalized` drops such fields.
fn same_field(a: Option<&Value>, b: Option<&Value>) -> bool {
    let (a_zero, b_zero) = (a.is_none_or(is_zero_deep), b.is_none_or(is_zero_deep));
    match (a, b) {
        (Some(a), Some(b)) if !a_zero && !b_zero => same(a, b),
        _ => a_zero && b_zero,
    }
}

/// Whether `value` normalizes to a zero value: `null`, `[]`, or an object of zero values only.
fn is_zero_deep(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.values().all(is_zero_deep),
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn same_agrees_with_comparing_the_normalized_values() {
        let cases = [
            ("equal objects", json!({"a": 1, "b": [1]}), json!({"b": [1], "a": 1}), true),
            ("an absent field is null, [] or {}", json!({"a": 1}), json!({"a": 1, "b": null, "c": [], "d": {}}), true),
            ("an object of zero values is zero", json!({"a": {"b": null}}), json!({}), true),
            ("a changed scalar", json!({"a": 1}), json!({"a": 2}), false),
            ("a field set on one side", json!({"a": 1}), json!({"a": 1, "b": 0}), false),
            ("null list elements count", json!({"a": [null]}), json!({"a": []}), false),
            ("lists compare element by element", json!([{"x": null}]), json!([{}]), true),
            ("a zero value of another type at the top", json!([]), json!({}), false),
            ("null against {} at the top", json!(null), json!({}), false),
            (
                "nested differences",
                json!({"s": {"c": [{"n": "a", "p": []}]}}),
                json!({"s": {"c": [{"n": "b"}]}}),
                false,
            ),
        ];
        for (name, a, b, want) in cases {
            assert_eq!(normalized(&a) == normalized(&b), want, "{name}: the table's expectation");
            assert_eq!(same(&a, &b), want, "{name}");
            assert_eq!(same(&b, &a), want, "{name}, the other way round");
        }
    }
}
