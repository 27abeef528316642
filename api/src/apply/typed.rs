//! Walks over an object that know its schema: the fields a value sets, and what changed
//! between two versions of an object.
//!
//! Mirrors structured-merge-diff v4's `typed/tofieldset.go` (`ToFieldSet`), `typed/compare.go`
//! and `typed.go` (`Compare`), and the list-element naming of `typed/helpers.go`
//! (`listItemToPathElement`), plus the duplicate and missing-key checks of `typed/validate.go`.
//!
//! # The fields a value sets ([`fields_of`])
//!
//! Every scalar, every atomic list or object, and every element of a keyed list or set is a
//! field of the set; a granular object is not a field itself, only its contents are. So
//! applying `{"metadata":{"labels":{"app":"web"}}}` owns `metadata.labels.app` and nothing
//! else, and an empty `resources: {}` owns nothing at all.
//!
//! # What changed ([`compare`])
//!
//! The same walk over two values at once. Leaves (scalars, atomic values, and objects or lists
//! empty on both sides) are *added*, *removed* or *modified*; granular objects and list elements
//! are *added* or *removed* as nodes of their own when only one side has them, which is why an
//! update that creates `labels` owns `labels` itself (the `.` in `f:labels: {".": {}, …}`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::fieldset::{FieldSet, Path, PathElement};
use super::schema::{KeyField, ListType, Schema};

/// The name of an element of the list at `at`: its key, its value (sets) or its index.
/// An element of a keyed list that lacks a key field without a default is named by index:
/// upstream refuses such a configuration (see [`check_config`]), but a stored object written
/// before validation existed must still be walkable.
pub fn element_name(list: ListType, index: usize, item: &Value) -> PathElement {
    match list {
        ListType::Keyed { keys, .. } => key_of(keys, item).unwrap_or(PathElement::Index(index)),
        ListType::Set => PathElement::Value(item.to_string()),
        ListType::Atomic => PathElement::Index(index),
    }
}

fn key_of(keys: &[KeyField], item: &Value) -> Option<PathElement> {
    let defaults: Vec<Value> = keys.iter().map(|k| k.default.map(Value::from).unwrap_or(Value::Null)).collect();
    let mut fields = Vec::new();
    for (key, default) in keys.iter().zip(&defaults) {
        let value = match item.get(key.name) {
            Some(v) if !v.is_null() => v,
            _ if key.default.is_some() => default,
            _ => return None,
        };
        if value.is_object() || value.is_array() {
            return None;
        }
        fields.push((key.name, value));
    }
    Some(PathElement::key(&fields))
}

/// Whether the node at `at` holding `value` is a granular object (walked key by key).
fn granular_object(schema: &Schema, at: &[&str], value: Option<&Value>) -> bool {
    value.is_some_and(Value::is_object) && !schema.is_atomic_object(at)
}

/// The fields `value` sets: the set an applier owns after applying it.
pub fn fields_of(schema: &Schema, value: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    let mut at = Vec::new();
    collect(schema, &mut at, &Path::default(), value, &mut set);
    set
}

fn collect<'v>(schema: &Schema, at: &mut Vec<&'v str>, path: &Path, value: &'v Value, set: &mut FieldSet) {
    match value {
        Value::Null => {}
        Value::Object(map) if !schema.is_atomic_object(at) => {
            for (key, child) in map {
                at.push(key);
                collect(schema, at, &path.child(PathElement::field(key)), child, set);
                at.pop();
            }
        }
        Value::Array(items) => match schema.list_type(at) {
            ListType::Atomic => set.insert(path.clone()),
            list => {
                let atomic_elements = matches!(list, ListType::Keyed { atomic_elements: true, .. });
                for (i, item) in items.iter().enumerate() {
                    let element = path.child(element_name(list, i, item));
                    // The element is a field of the set (the `.` of `k:{…}: {".": {}, …}`), and
                    // so is what it sets, unless it is atomic.
                    match item {
                        Value::Object(map) if !atomic_elements => {
                            for (key, child) in map {
                                at.push(key);
                                collect(schema, at, &element.child(PathElement::field(key)), child, set);
                                at.pop();
                            }
                        }
                        _ => {}
                    }
                    set.insert(element);
                }
            }
        },
        // Scalars and atomic objects are leaves.
        _ => set.insert(path.clone()),
    }
}

/// What a write changed, path by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    /// The comparison without the subtrees under `roots` (the fields a write never records).
    pub fn excluding(mut self, roots: &[&str]) -> Comparison {
        let roots: Vec<Path> = roots.iter().map(|root| Path::fields(&[root])).collect();
        for set in [&mut self.added, &mut self.modified, &mut self.removed] {
            set.retain(|path| !roots.iter().any(|root| path.starts_with(root)));
        }
        self
    }

    /// Whether `path` was added, modified or removed.
    pub fn touches(&self, path: &Path) -> bool {
        self.added.contains(path) || self.modified.contains(path) || self.removed.contains(path)
    }
}

/// What changed from `old` to `new`.
pub fn compare(schema: &Schema, old: &Value, new: &Value) -> Comparison {
    let mut out = Comparison::default();
    let mut at = Vec::new();
    // One path grows and shrinks with the walk; only a path that is recorded is copied.
    let mut path = Path::default();
    walk_pair(schema, &mut at, &mut path, Some(old), Some(new), &mut out);
    out
}

fn is_empty_container(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Object(map)) => map.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    }
}

fn walk_pair<'v>(
    schema: &Schema,
    at: &mut Vec<&'v str>,
    path: &mut Path,
    old: Option<&'v Value>,
    new: Option<&'v Value>,
    out: &mut Comparison,
) {
    // Equal subtrees hold no change: most of an update is not walked at all.
    if old.is_some() && old == new {
        return;
    }
    let both_objects = old.is_none_or(Value::is_object) && new.is_none_or(Value::is_object);
    let both_arrays = old.is_none_or(Value::is_array) && new.is_none_or(Value::is_array);
    // Containers empty on both sides are leaves, so `resources: {}` is recorded as such.
    let empty_both = is_empty_container(old) && is_empty_container(new);
    let walked = if empty_both {
        false
    } else if both_objects && (granular_object(schema, at, old) || granular_object(schema, at, new)) {
        walk_fields(schema, at, path, old, new, out);
        true
    } else if both_arrays && schema.list_type(at) != ListType::Atomic {
        walk_list(schema, at, path, old, new, out);
        true
    } else {
        false
    };
    match (old, new, walked) {
        (None, Some(_), _) => out.added.insert(path.clone()),
        (Some(_), None, _) => out.removed.insert(path.clone()),
        (Some(a), Some(b), false) if a != b => out.modified.insert(path.clone()),
        _ => {}
    }
}

/// The fields of two objects, key by key (either side may lack the object or the key).
fn walk_fields<'v>(
    schema: &Schema,
    at: &mut Vec<&'v str>,
    path: &mut Path,
    old: Option<&'v Value>,
    new: Option<&'v Value>,
    out: &mut Comparison,
) {
    // Both maps iterate in key order: their keys together, sorted, once each.
    let mut keys: Vec<&'v str> =
        [old, new].into_iter().flatten().filter_map(Value::as_object).flatten().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        at.push(key);
        path.0.push(PathElement::field(key));
        walk_pair(schema, at, path, old.and_then(|o| o.get(key)), new.and_then(|n| n.get(key)), out);
        path.0.pop();
        at.pop();
    }
}

fn walk_list<'v>(
    schema: &Schema,
    at: &mut Vec<&'v str>,
    path: &mut Path,
    old: Option<&'v Value>,
    new: Option<&'v Value>,
    out: &mut Comparison,
) {
    let list = schema.list_type(at);
    let index = |value: Option<&'v Value>| -> BTreeMap<PathElement, &'v Value> {
        let mut named = BTreeMap::new();
        for (i, item) in value.and_then(Value::as_array).into_iter().flatten().enumerate() {
            // Upstream ignores repeated elements; the first one counts.
            named.entry(element_name(list, i, item)).or_insert(item);
        }
        named
    };
    let (old_items, new_items) = (index(old), index(new));
    let names: BTreeSet<&PathElement> = old_items.keys().chain(new_items.keys()).collect();
    let atomic_elements = matches!(list, ListType::Keyed { atomic_elements: true, .. }) || list == ListType::Set;
    for name in names {
        let (a, b) = (old_items.get(name).copied(), new_items.get(name).copied());
        path.0.push(name.clone());
        if atomic_elements {
            match (a, b) {
                (None, Some(_)) => out.added.insert(path.clone()),
                (Some(_), None) => out.removed.insert(path.clone()),
                (Some(a), Some(b)) if a != b => out.modified.insert(path.clone()),
                _ => {}
            }
        } else {
            walk_element(schema, at, path, a, b, out);
        }
        path.0.pop();
    }
}

/// An element of a keyed list (`element` is its path): its fields are walked like an
/// object's, and the element is a node of its own (added or removed, never "modified").
fn walk_element<'v>(
    schema: &Schema,
    at: &mut Vec<&'v str>,
    element: &mut Path,
    old: Option<&'v Value>,
    new: Option<&'v Value>,
    out: &mut Comparison,
) {
    walk_fields(schema, at, element, old, new, out);
    match (old, new) {
        (None, Some(_)) => out.added.insert(element.clone()),
        (Some(_), None) => out.removed.insert(element.clone()),
        _ => {}
    }
}

/// The problems upstream refuses an applied configuration for: a keyed-list element without
/// its key, a key that is not a scalar, the same key twice, a set element that is not a scalar
/// or appears twice. Each message names the list: `.spec.template.spec.containers[name="web"].env:
/// duplicate entries for key [name="A"]`.
pub fn check_config(schema: &Schema, config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut at = Vec::new();
    check(schema, &mut at, &Path::default(), config, &mut problems);
    problems
}

fn check<'v>(schema: &Schema, at: &mut Vec<&'v str>, path: &Path, value: &'v Value, problems: &mut Vec<String>) {
    match value {
        Value::Object(map) if !schema.is_atomic_object(at) => check_fields(schema, at, path, map, problems),
        Value::Array(items) => check_list(schema, at, path, items, problems),
        _ => {}
    }
}

fn check_fields<'v>(
    schema: &Schema,
    at: &mut Vec<&'v str>,
    path: &Path,
    map: &'v serde_json::Map<String, Value>,
    problems: &mut Vec<String>,
) {
    for (key, child) in map {
        at.push(key);
        check(schema, at, &path.child(PathElement::field(key)), child, problems);
        at.pop();
    }
}

fn check_list<'v>(schema: &Schema, at: &mut Vec<&'v str>, path: &Path, items: &'v [Value], problems: &mut Vec<String>) {
    let list = schema.list_type(at);
    let mut seen = Vec::new();
    for item in items {
        let name = match list {
            ListType::Atomic => return,
            ListType::Set if item.is_object() || item.is_array() => {
                problems.push(format!("{path}: set elements must be scalars, not {item}"));
                continue;
            }
            ListType::Set => PathElement::Value(item.to_string()),
            ListType::Keyed { keys, .. } => match key_of(keys, item) {
                Some(name) => name,
                None => {
                    let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
                    problems.push(format!(
                        "{path}: element {item} has no scalar value for its key field(s) {}",
                        names.join(", ")
                    ));
                    continue;
                }
            },
        };
        if seen.contains(&name) {
            problems.push(format!("{path}: duplicate entries for key {name}"));
            continue;
        }
        if let (ListType::Keyed { atomic_elements: false, .. }, Value::Object(map)) = (list, item) {
            check_fields(schema, at, &path.child(name.clone()), map, problems);
        }
        seen.push(name);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const DEPLOYMENT: Schema = Schema { api_version: "apps/v1", kind: "Deployment" };

    fn encoded(set: &FieldSet) -> Value {
        set.to_fields_v1()
    }

    #[test]
    fn an_applied_value_owns_its_leaves_and_list_elements_only() {
        let config = json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "web", "image": "nginx", "args": ["-x"],
                    "resources": {}, "ports": [{"containerPort": 80}]}]}}}});
        assert_eq!(
            encoded(&fields_of(&DEPLOYMENT, &config)),
            json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}, "f:selector": {},
            "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                ".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
            }}}}}})
        );
    }

    #[test]
    fn comparisons_name_added_modified_and_removed_fields() {
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1,
            "template": {"spec": {"containers": [{"name": "web", "image": "v1"}, {"name": "side", "image": "s"}]}}}});
        let new = json!({"metadata": {"labels": {"a": "1", "c": "3"}, "annotations": {"x": "y"}}, "spec": {"replicas": 3,
            "template": {"spec": {"containers": [{"name": "web", "image": "v2"}]}}}});
        let diff = compare(&DEPLOYMENT, &old, &new);
        let containers = json!({"k:{\"name\":\"side\"}": {".": {}, "f:image": {}, "f:name": {}}});
        assert_eq!(
            encoded(&diff.added),
            json!({"f:metadata": {"f:annotations": {".": {}, "f:x": {}}, "f:labels": {"f:c": {}}}})
        );
        assert_eq!(
            encoded(&diff.modified),
            json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {"f:image": {}}}}}}})
        );
        assert_eq!(
            encoded(&diff.removed),
            json!({"f:metadata": {"f:labels": {"f:b": {}}}, "f:spec": {"f:template": {"f:spec": {"f:containers": containers}}}})
        );
        assert!(compare(&DEPLOYMENT, &old, &old).is_same());
    }

    #[test]
    fn bad_configurations_are_named_by_path() {
        let cases = [
            (
                "duplicate env",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c",
                    "env": [{"name": "FOO"}, {"name": "FOO", "value": "x"}]}]}}}}),
                ".spec.template.spec.containers[name=\"c\"].env: duplicate entries for key [name=\"FOO\"]",
            ),
            (
                "duplicate port with the defaulted protocol",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c",
                    "ports": [{"containerPort": 93}, {"containerPort": 93, "protocol": "TCP"}]}]}}}}),
                ".spec.template.spec.containers[name=\"c\"].ports: duplicate entries for key [containerPort=93,protocol=\"TCP\"]",
            ),
            (
                "a container without a name",
                json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
                ".spec.template.spec.containers: element {\"image\":\"x\"} has no scalar value for its key field(s) name",
            ),
        ];
        for (name, config, want) in cases {
            assert_eq!(check_config(&DEPLOYMENT, &config), vec![want.to_string()], "{name}");
        }
        assert!(check_config(&DEPLOYMENT, &json!({"spec": {"replicas": 1}})).is_empty());
    }
}
