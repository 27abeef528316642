//! Strategic merge patch: the patch type `kubectl apply`, `set image`, `label` and `annotate`
//! send for built-in kinds.
//!
//! Mirrors apimachinery's `pkg/util/strategicpatch/patch.go` (`StrategicMergePatch`). It is a
//! JSON merge patch (`null` removes, objects merge) with one difference that matters: a list of
//! objects that has a *merge key* merges element by element instead of being replaced. So
//! `{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"v2"}]}}}}` changes the
//! image of the container named `web` and leaves the other containers alone.
//!
//! Merge keys come from the Go types' `patchMergeKey` tags; Skiff has no Go types, so
//! [`merge_key`] knows them by field name (and, for `ports`, by whether the list is inside a
//! container). Lists without a merge key (`args`, `command`, `tolerations`, Ingress `rules`) are
//! replaced whole, as upstream. Directives supported:
//!
//! - `{"$patch": "delete", "<key>": "x"}` in a merged list removes that element;
//!   `{"$patch": "replace"}` in a list replaces the list with the rest of the patch list;
//! - `"$patch": "replace"` / `"delete"` in an object replaces / removes that object;
//! - `$setElementOrder/<field>`: the order of a merged list;
//! - `$deleteFromPrimitiveList/<field>`: values to remove from a merged list of scalars
//!   (`finalizers`);
//! - `$retainKeys`: the keys an object keeps (a union such as a Deployment's `strategy`).

use serde_json::{Map, Value};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMerge {
    /// Objects merged by this key.
    ByKey(&'static str),
    /// Scalars merged as a set (`metadata.finalizers`).
    Set,
}

/// The merge strategy of the list `field`; `in_container` says whether it sits inside a
/// container (where `ports` are keyed by `containerPort`, not by the Service's `port`).
pub fn merge_key(field: &str, in_container: bool) -> Option<ListMerge> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "imagePullSecrets" | "env" => {
            ListMerge::ByKey("name")
        }
        "ports" if in_container => ListMerge::ByKey("containerPort"),
        "ports" => ListMerge::ByKey("port"),
        "volumeMounts" => ListMerge::ByKey("mountPath"),
        "volumeDevices" => ListMerge::ByKey("devicePath"),
        "conditions" => ListMerge::ByKey("type"),
        "ownerReferences" => ListMerge::ByKey("uid"),
        "hostAliases" => ListMerge::ByKey("ip"),
        "finalizers" => ListMerge::Set,
        _ => return None,
    })
}

fn is_container_list(field: &str) -> bool {
    matches!(field, "containers" | "initContainers" | "ephemeralContainers")
}

/// Applies a strategic merge patch to `target`.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    merge_value(target, patch, false);
}

fn merge_value(target: &mut Value, patch: &Value, in_container: bool) {
    match patch {
        Value::Object(patch) => merge_object(target, patch, in_container),
        other => *target = other.clone(),
    }
}

fn merge_object(target: &mut Value, patch: &Map<String, Value>, in_container: bool) {
    match patch.get(PATCH).and_then(Value::as_str) {
        Some("replace") => {
            *target = Value::Object(without_directives(patch));
            return;
        }
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let object = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            object.remove(key);
            continue;
        }
        match (value, merge_key(key, in_container)) {
            (Value::Array(items), Some(strategy)) => {
                let inside = in_container || is_container_list(key);
                let order = patch.get(&format!("{SET_ORDER}{key}")).and_then(Value::as_array);
                let current = object.entry(key.clone()).or_insert_with(|| Value::Array(vec![]));
                merge_list(current, items, strategy, order, inside);
            }
            _ => {
                let slot = object.entry(key.clone()).or_insert(Value::Null);
                merge_value(slot, value, in_container);
                if slot.is_null() {
                    object.remove(key);
                }
            }
        }
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix(DELETE_PRIMITIVE) {
            let doomed = value.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(items)) = object.get_mut(field) {
                items.retain(|item| !doomed.contains(item));
            }
        }
    }
    if let Some(Value::Array(keep)) = patch.get(RETAIN_KEYS) {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        object.retain(|key, _| keep.contains(&key.as_str()));
    }
}

fn without_directives(patch: &Map<String, Value>) -> Map<String, Value> {
    patch.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn merge_list(
    current: &mut Value,
    patch: &[Value],
    strategy: ListMerge,
    order: Option<&Vec<Value>>,
    in_container: bool,
) {
    if patch.iter().any(|item| item.get(PATCH).and_then(Value::as_str) == Some("replace")) {
        *current = Value::Array(patch.iter().filter(|i| i.get(PATCH).is_none()).cloned().collect());
        return;
    }
    if !current.is_array() {
        *current = Value::Array(vec![]);
    }
    let items = current.as_array_mut().expect("made an array above");
    match strategy {
        ListMerge::Set => {
            for value in patch {
                if !items.contains(value) {
                    items.push(value.clone());
                }
            }
        }
        ListMerge::ByKey(key) => {
            for element in patch {
                let Some(id) = element.get(key) else {
                    items.push(element.clone());
                    continue;
                };
                let found = items.iter().position(|item| item.get(key) == Some(id));
                let delete = element.get(PATCH).and_then(Value::as_str) == Some("delete");
                match (found, delete) {
                    (Some(i), true) => {
                        items.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => merge_value(&mut items[i], element, in_container),
                    (None, false) => {
                        let mut fresh = Value::Null;
                        merge_value(&mut fresh, element, in_container);
                        items.push(fresh);
                    }
                }
            }
            if let Some(order) = order {
                // Elements named in the order come first, in that order; the rest keep theirs.
                let rank = |item: &Value| {
                    order.iter().position(|o| o.get(key).is_some() && o.get(key) == item.get(key)).unwrap_or(usize::MAX)
                };
                items.sort_by_key(rank);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment() -> Value {
        json!({"spec": {"replicas": 2, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                {"name": "web", "image": "skiff/demo-web:v1", "args": ["-a"], "ports": [{"containerPort": 8080, "name": "http"}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "side", "image": "skiff/toolbox:1"}
            ]}}}, "metadata": {"finalizers": ["a", "b"]}})
    }

    fn patched(patch: Value) -> Value {
        let mut doc = deployment();
        strategic_merge_patch(&mut doc, &patch);
        doc
    }

    #[test]
    fn set_image_changes_one_container_and_keeps_the_others() {
        let doc = patched(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v2"}]}}}}),
        );
        let containers = doc.pointer("/spec/template/spec/containers").unwrap().as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0]["image"], "skiff/demo-web:v2");
        assert_eq!(containers[0]["args"], json!(["-a"]), "other fields of the container stay");
        assert_eq!(containers[1]["image"], "skiff/toolbox:1");
    }

    #[test]
    fn lists_merge_by_their_keys_and_directives_apply() {
        let cases: Vec<(&str, Value, &str, Value)> = vec![
            (
                "a new container is appended",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "x"}]}}}}),
                "/spec/template/spec/containers/2/name",
                json!("log"),
            ),
            (
                "$patch: delete removes by key",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}}),
                "/spec/template/spec/containers/1",
                Value::Null,
            ),
            (
                "env merges by name",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}]}}}}),
                "/spec/template/spec/containers/0/env",
                json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]),
            ),
            (
                "container ports merge by containerPort",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}}}}),
                "/spec/template/spec/containers/0/ports",
                json!([{"containerPort": 8080, "name": "http", "protocol": "TCP"}]),
            ),
            (
                "lists without a key are replaced",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "args": ["-b"]}]}}}}),
                "/spec/template/spec/containers/0/args",
                json!(["-b"]),
            ),
            (
                "finalizers merge as a set and can lose members",
                json!({"metadata": {"finalizers": ["b", "c"], "$deleteFromPrimitiveList/finalizers": ["a"]}}),
                "/metadata/finalizers",
                json!(["b", "c"]),
            ),
            (
                "$retainKeys drops the other member of a union",
                json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
                "/spec/strategy",
                json!({"type": "Recreate"}),
            ),
            (
                "an object can be replaced whole",
                json!({"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "v": "2"}}}}}),
                "/spec/template/metadata/labels",
                json!({"v": "2"}),
            ),
            (
                "null removes a field",
                json!({"spec": {"strategy": {"rollingUpdate": null}}}),
                "/spec/strategy",
                json!({"type": "RollingUpdate"}),
            ),
            (
                "a list can be replaced whole",
                json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "i"}]}}}}),
                "/spec/template/spec/containers",
                json!([{"name": "only", "image": "i"}]),
            ),
        ];
        for (name, patch, at, want) in cases {
            let doc = patched(patch);
            assert_eq!(doc.pointer(at).cloned().unwrap_or(Value::Null), want, "{name}");
        }
    }

    #[test]
    fn set_element_order_orders_a_merged_list() {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
            "containers": [{"name": "web", "image": "v3"}]
        }}}});
        let doc = patched(patch);
        let names: Vec<&str> = doc
            .pointer("/spec/template/spec/containers")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["side", "web"]);
    }

    #[test]
    fn service_ports_merge_by_port() {
        let mut service = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
        strategic_merge_patch(&mut service, &json!({"spec": {"ports": [{"port": 80, "nodePort": 30080}]}}));
        assert_eq!(
            service["spec"]["ports"],
            json!([{"port": 80, "targetPort": 8080, "nodePort": 30080}, {"port": 443}])
        );
    }
}
