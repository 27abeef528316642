//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as `kubectl patch --type merge|json`
//! sends them.
//!
//! Mirrors what the API server delegates to `evanphx/json-patch` (see
//! `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`). Strategic merge patch, which
//! needs each type's merge keys, is not here yet.
//!
//! - **Merge patch**: an object patch merges key by key, recursively; `null` removes a key; any
//!   other value (arrays included) replaces. `{"spec":{"replicas":3}}` changes one field.
//! - **JSON patch**: a list of operations (`add`, `remove`, `replace`, `move`, `copy`, `test`) on
//!   JSON pointers (`/spec/template/spec/containers/0/image`, `~1` for `/`, `~0` for `~`, `-` for
//!   the end of an array), applied in order, all or nothing.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("the JSON patch is not a list of operations: {0}")]
    Malformed(String),
    #[error("unknown JSON patch operation {0:?}")]
    UnknownOperation(String),
    #[error("path {0:?} does not exist")]
    NoSuchPath(String),
    #[error("invalid JSON pointer {0:?}")]
    BadPointer(String),
    #[error("test operation failed: {path:?} is not the expected value")]
    TestFailed { path: String },
}

/// Applies an RFC 7386 merge patch to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The reference tokens of a JSON pointer.
fn tokens(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(vec![]);
    }
    let rest = pointer.strip_prefix('/').ok_or_else(|| PatchError::BadPointer(pointer.to_string()))?;
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fn index(token: &str, len: usize, for_insert: bool, path: &str) -> Result<usize, PatchError> {
    if for_insert && token == "-" {
        return Ok(len);
    }
    let i: usize = token.parse().map_err(|_| PatchError::BadPointer(path.to_string()))?;
    let limit = if for_insert { len } else { len.saturating_sub(1) };
    if i > limit || (!for_insert && len == 0) {
        return Err(PatchError::NoSuchPath(path.to_string()));
    }
    Ok(i)
}

/// The parent container of `path` and the last token.
fn parent<'v>(doc: &'v mut Value, path: &str) -> Result<(&'v mut Value, String), PatchError> {
    let mut tokens = tokens(path)?;
    let last = tokens.pop().ok_or_else(|| PatchError::BadPointer(path.to_string()))?;
    let mut node = doc;
    for token in tokens {
        node = match node {
            Value::Object(map) => map.get_mut(&token),
            Value::Array(items) => {
                let len = items.len();
                items.get_mut(index(&token, len, false, path)?)
            }
            _ => None,
        }
        .ok_or_else(|| PatchError::NoSuchPath(path.to_string()))?;
    }
    Ok((node, last))
}

fn get(doc: &Value, path: &str) -> Result<Value, PatchError> {
    let pointer = doc.pointer(path).ok_or_else(|| PatchError::NoSuchPath(path.to_string()))?;
    Ok(pointer.clone())
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (container, last) = parent(doc, path)?;
    match container {
        Value::Object(map) => {
            map.insert(last, value);
        }
        Value::Array(items) => {
            let i = index(&last, items.len(), true, path)?;
            items.insert(i, value);
        }
        _ => return Err(PatchError::NoSuchPath(path.to_string())),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (container, last) = parent(doc, path)?;
    match container {
        Value::Object(map) => map.remove(&last).ok_or_else(|| PatchError::NoSuchPath(path.to_string())),
        Value::Array(items) => {
            let i = index(&last, items.len(), false, path)?;
            Ok(items.remove(i))
        }
        _ => Err(PatchError::NoSuchPath(path.to_string())),
    }
}

fn field<'a>(op: &'a Value, name: &str) -> Result<&'a Value, PatchError> {
    op.get(name).ok_or_else(|| PatchError::Malformed(format!("an operation has no {name:?}: {op}")))
}

fn text<'a>(op: &'a Value, name: &str) -> Result<&'a str, PatchError> {
    field(op, name)?.as_str().ok_or_else(|| PatchError::Malformed(format!("{name:?} is not a string: {op}")))
}

/// Applies an RFC 6902 patch; on error `target` is left as it was.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = patch.as_array().ok_or_else(|| PatchError::Malformed(patch.to_string()))?;
    let mut doc = target.clone();
    for op in ops {
        let path = text(op, "path")?;
        match text(op, "op")? {
            "add" => add(&mut doc, path, field(op, "value")?.clone())?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, field(op, "value")?.clone())?;
            }
            "move" => {
                let value = remove(&mut doc, text(op, "from")?)?;
                add(&mut doc, path, value)?;
            }
            "copy" => {
                let value = get(&doc, text(op, "from")?)?;
                add(&mut doc, path, value)?;
            }
            "test" => {
                if get(&doc, path)? != *field(op, "value")? {
                    return Err(PatchError::TestFailed { path: path.to_string() });
                }
            }
            other => return Err(PatchError::UnknownOperation(other.to_string())),
        }
    }
    *target = doc;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patches_follow_rfc_7386() {
        let cases = [
            ("a field changes", json!({"a": 1, "b": 2}), json!({"a": 3}), json!({"a": 3, "b": 2})),
            ("null removes", json!({"a": 1, "b": 2}), json!({"b": null}), json!({"a": 1})),
            (
                "objects merge deeply",
                json!({"spec": {"replicas": 1, "paused": false}}),
                json!({"spec": {"replicas": 3}}),
                json!({"spec": {"replicas": 3, "paused": false}}),
            ),
            ("arrays are replaced whole", json!({"args": ["a", "b"]}), json!({"args": ["c"]}), json!({"args": ["c"]})),
            ("a scalar target becomes an object", json!({"a": "x"}), json!({"a": {"b": 1}}), json!({"a": {"b": 1}})),
            ("removing what is absent is fine", json!({}), json!({"gone": null}), json!({})),
            (
                "labels through metadata",
                json!({"metadata": {"labels": {"app": "web"}}}),
                json!({"metadata": {"labels": {"tier": "front"}}}),
                json!({"metadata": {"labels": {"app": "web", "tier": "front"}}}),
            ),
        ];
        for (name, mut target, patch, want) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, want, "{name}");
        }
    }

    #[test]
    fn json_patches_follow_rfc_6902() {
        let deployment = json!({
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v1"}]}}},
            "metadata": {"labels": {"app/name": "web"}}
        });
        let cases = [
            (
                "replace an image",
                json!([{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "skiff/demo-web:v2"}]),
                json!("skiff/demo-web:v2"),
                "/spec/template/spec/containers/0/image",
            ),
            (
                "append to a list",
                json!([{"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "side"}}]),
                json!("side"),
                "/spec/template/spec/containers/1/name",
            ),
            (
                "escaped keys",
                json!([{"op": "replace", "path": "/metadata/labels/app~1name", "value": "api"}]),
                json!("api"),
                "/metadata/labels/app~1name",
            ),
            (
                "move then test",
                json!([{"op": "move", "from": "/spec/replicas", "path": "/spec/count"}, {"op": "test", "path": "/spec/count", "value": 1}]),
                json!(1),
                "/spec/count",
            ),
            ("copy", json!([{"op": "copy", "from": "/spec/replicas", "path": "/spec/copy"}]), json!(1), "/spec/copy"),
        ];
        for (name, patch, want, at) in cases {
            let mut doc = deployment.clone();
            json_patch(&mut doc, &patch).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(doc.pointer(at), Some(&want), "{name}");
        }
    }

    #[test]
    fn a_failing_json_patch_changes_nothing() {
        let original = json!({"a": 1, "list": [1, 2]});
        let cases = [
            (
                json!([{"op": "replace", "path": "/a", "value": 2}, {"op": "test", "path": "/a", "value": 9}]),
                "test operation failed",
            ),
            (json!([{"op": "remove", "path": "/missing"}]), "does not exist"),
            (json!([{"op": "replace", "path": "/list/5", "value": 0}]), "does not exist"),
            (json!([{"op": "frobnicate", "path": "/a"}]), "unknown JSON patch operation"),
            (json!([{"op": "add", "value": 1}]), "has no \"path\""),
            (json!({"op": "add"}), "not a list"),
            (json!([{"op": "add", "path": "a", "value": 1}]), "invalid JSON pointer"),
        ];
        for (patch, want) in cases {
            let mut doc = original.clone();
            let err = json_patch(&mut doc, &patch).unwrap_err().to_string();
            assert!(err.contains(want), "{patch}: {err}");
            assert_eq!(doc, original, "{patch}: nothing applied");
        }
    }
}
