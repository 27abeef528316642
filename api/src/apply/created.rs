//! A create's field set, straight to its `FieldsV1` encoding.
//!
//! Every create records one `managedFields` entry: its writer owns what the new object sets
//! that the kind's empty object does not (`record_update` with no old object). The general way
//! — compare two objects into sets of whole paths ([`typed::compare`]), strip, encode the sets
//! as a trie — copies every path of the object several times, and was a fifth of the API
//! server's CPU per pod create. A create needs none of it: nothing is removed (the empty object
//! it is compared with holds only what the new one also holds) and nobody else owns anything,
//! so the entry's `fieldsV1` is built in one walk over the new object, as nested JSON objects,
//! with the same rules as the comparison:
//!
//! - A field the empty object does not have is *added*: it is a member of the set (`{}`, or
//!   `".": {}` beside its children when it is a granular object or a keyed list element).
//! - A field both have is walked if it is a granular object or a non-atomic list, and otherwise
//!   a member when its value differs (`spec.containers: []` against a pod's containers).
//! - The fields nobody owns (`apiVersion`, `metadata.name`, … [`managed::strip`]) lose their
//!   membership, and the roots the endpoint cannot write (`status` through the main resource)
//!   are left out.
//!
//! The table test below holds it to the general way on objects of every shape it handles.
//!
//! [`typed::compare`]: super::typed::compare
//! [`managed::strip`]: super::managed::strip

use serde_json::{Map, Value};

use super::managed;
use super::schema::{ListType, Schema};
use super::typed::element_name;

/// One node of the trie: whether its path is in the set, and its children by FieldsV1 key.
#[derive(Default)]
struct Node {
    member: bool,
    children: Map<String, Value>,
}

impl Node {
    /// The node as FieldsV1 encodes it, or nothing if it holds nothing.
    fn encode(self) -> Option<Value> {
        if self.children.is_empty() {
            return self.member.then(|| Value::Object(Map::new()));
        }
        let mut children = self.children;
        if self.member {
            children.insert(".".to_string(), Value::Object(Map::new()));
        }
        Some(Value::Object(children))
    }
}

/// The `fieldsV1` of a create of `new` (without `managedFields`), compared with `empty`, the
/// kind's zero value cut to the shape of `new`; `ignored` are the roots the write cannot set.
/// `None` if the create sets nothing anybody owns.
pub fn fields_v1(schema: &Schema, empty: &Value, new: &Value, ignored: &[&str]) -> Option<Value> {
    let mut at = Vec::new();
    let root = pair(schema, &mut at, Some(empty), new, &|at| at.len() == 1 && ignored.contains(&at[0]));
    root.encode()
}

/// What `new` sets at `at` over `old` (`None`: the empty object has nothing there).
fn pair<'v>(
    schema: &Schema,
    at: &mut Vec<&'v str>,
    old: Option<&'v Value>,
    new: &'v Value,
    ignored: &dyn Fn(&[&str]) -> bool,
) -> Node {
    let mut node = Node::default();
    if old == Some(new) {
        return node;
    }
    let empty_both = old.is_none_or(is_empty_container) && is_empty_container(new);
    let walked = if empty_both {
        false
    } else if new.is_object() && old.is_none_or(Value::is_object) && !schema.is_atomic_object(at) {
        node.children = fields(schema, at, old, new, ignored);
        true
    } else if new.is_array() && old.is_none_or(Value::is_array) && schema.list_type(at) != ListType::Atomic {
        node.children = list(schema, at, new, ignored);
        true
    } else {
        false
    };
    // Added, or a leaf that differs (it does: equal values returned above).
    node.member = (old.is_none() || !walked) && !never_owned(at);
    node
}

/// The fields of an object, key by key: every key of `new` (the empty object's are a subset).
fn fields<'v>(
    schema: &Schema,
    at: &mut Vec<&'v str>,
    old: Option<&'v Value>,
    new: &'v Value,
    ignored: &dyn Fn(&[&str]) -> bool,
) -> Map<String, Value> {
    let mut children = Map::new();
    for (key, value) in new.as_object().into_iter().flatten() {
        at.push(key);
        if !ignored(at) {
            let child = pair(schema, at, old.and_then(|o| o.get(key)), value, ignored);
            if let Some(encoded) = child.encode() {
                let mut name = String::with_capacity(key.len() + 2);
                name.push_str("f:");
                name.push_str(key);
                children.insert(name, encoded);
            }
        }
        at.pop();
    }
    children
}

/// The elements of a keyed list or set, all added (the empty object's lists are empty): each
/// is a member, with what it sets below it unless its elements are atomic. A repeated element
/// counts once, the first time.
fn list<'v>(
    schema: &Schema,
    at: &mut Vec<&'v str>,
    new: &'v Value,
    ignored: &dyn Fn(&[&str]) -> bool,
) -> Map<String, Value> {
    let list = schema.list_type(at);
    let atomic_elements = matches!(list, ListType::Keyed { atomic_elements: true, .. }) || list == ListType::Set;
    let mut children = Map::new();
    for (i, item) in new.as_array().into_iter().flatten().enumerate() {
        let key = element_name(list, i, item).encode();
        if children.contains_key(&key) {
            continue;
        }
        let mut element = Node { member: true, ..Node::default() };
        if !atomic_elements {
            element.children = fields(schema, at, None, item, ignored);
        }
        children.insert(key, element.encode().expect("a member encodes"));
    }
    children
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Whether the field at `at` (field names only: list elements never are) is one nobody owns.
fn never_owned(at: &[&str]) -> bool {
    managed::never_owned_names(at)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{fieldset::FieldSet, typed};
    use super::*;

    /// The general way: compare, strip, encode.
    fn by_sets(schema: &Schema, empty: &Value, new: &Value, ignored: &[&str]) -> Option<Value> {
        let diff = typed::compare(schema, empty, new).excluding(ignored);
        let mut changed: FieldSet = diff.added;
        changed.extend(diff.modified);
        let changed = managed::strip(changed);
        (!changed.is_empty()).then(|| changed.to_fields_v1())
    }

    #[test]
    fn a_create_owns_what_the_general_comparison_says() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                "annotations": {"a": "b"}, "finalizers": ["x/y", "x/y", "z"], "uid": "1", "generation": 1,
                "ownerReferences": [{"uid": "u1", "kind": "ReplicaSet", "name": "rs"}]},
            "spec": {"containers": [
                {"name": "web", "image": "nginx", "args": ["-x"], "resources": {}, "env": [{"name": "A", "value": "1"},
                    {"name": "A", "value": "2"}, {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                 "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                 "volumeMounts": [{"mountPath": "/data", "name": "data"}]},
                {"image": "nameless"}, "not-an-object"],
                "nodeSelector": {"disk": "ssd"}, "tolerations": [{"key": "k", "operator": "Exists"}],
                "securityContext": {}, "volumes": [{"name": "data", "emptyDir": {}}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}});
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
            "status": {}});
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}, {"port": 80, "protocol": "TCP", "name": "dup"}], "selector": {"a": "b"}},
            "status": {"loadBalancer": {}}});
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {}},
            "data": {"k": "v"}, "binaryData": {}});
        let bare_pod =
            |spec: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "p"}, "data": {"a": "Yg=="}});
        let cases = [
            ("a pod of every list shape", pod.clone(), None),
            ("the same pod through status", pod, Some("status")),
            ("a deployment", deployment, None),
            ("a service with a repeated port", service, None),
            ("a config map", config_map, None),
            ("a pod whose spec is not an object", bare_pod(json!("nonsense")), None),
            ("a pod whose spec is null", bare_pod(Value::Null), None),
            ("a pod with empty containers", bare_pod(json!({"containers": []})), None),
            ("nothing owned", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}), None),
            ("a kind without a zero value", secret, None),
        ];
        for (name, object, subresource) in cases {
            let schema = Schema::of(&object);
            let empty = super::super::shaped_like(&schema.zero_value(), &object);
            let ignored = schema.ignored_roots(subresource);
            assert_eq!(
                fields_v1(&schema, &empty, &object, ignored),
                by_sets(&schema, &empty, &object, ignored),
                "{name}"
            );
        }
    }
}
