//! Merging an applied configuration into the live object, and pruning what the applier let go.
//!
//! Mirrors structured-merge-diff v4's `typed/merge.go` (`Merge`, the list-order walk of
//! `visitListItems`), `typed/remove.go` (`RemoveItems`) and the `prune` of `merge/update.go`.
//!
//! # Merge
//!
//! The configuration wins wherever it says something: objects merge key by key, keyed lists
//! element by element (found by key), sets value by value; scalars, atomic lists and atomic
//! objects are replaced. Nothing is removed by the merge itself.
//!
//! Order of a merged list: walk both lists in step. A live element the configuration does not
//! name stays where it was; elements the configuration names come out in the configuration's
//! order. Live `[a, b, c]` with configuration `[c, a]` gives `[b, c, a]`: `a` waits for the
//! configuration to reach it, `b` is the live list's own.
//!
//! # Prune
//!
//! A field is removed when the applier owned it at its last apply, no longer sets it, and no
//! other manager owns it. "Owns" follows [`FieldSet::claims`]: a manager that owns
//! `spec.template.spec.containers[name="web"].image` keeps `spec` and `template` alive, but not
//! the container named `web` — dropping the container from the configuration removes it, image
//! and all. A map or list the pruning empties goes too.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, Path, PathElement};
use super::schema::{ListType, Schema};
use super::typed::element_name;

/// `live` with `config` merged in.
pub fn merge(schema: &Schema, live: &Value, config: &Value) -> Value {
    merge_at(schema, &mut Vec::new(), Some(live), config)
}

fn merge_at<'v>(schema: &Schema, at: &mut Vec<&'v str>, live: Option<&Value>, config: &'v Value) -> Value {
    match config {
        Value::Object(fields) if !schema.is_atomic_object(at) => {
            let mut out = match live {
                Some(Value::Object(live)) => live.clone(),
                _ => Map::new(),
            };
            for (key, value) in fields {
                at.push(key);
                let merged = merge_at(schema, at, out.get(key), value);
                at.pop();
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        Value::Array(items) => match schema.list_type(at) {
            ListType::Atomic => config.clone(),
            list => {
                let live = live.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
                Value::Array(merge_list(schema, at, list, live, items))
            }
        },
        _ => config.clone(),
    }
}

fn merge_list<'v>(
    schema: &Schema,
    at: &mut Vec<&'v str>,
    list: ListType,
    live: &[Value],
    config: &'v [Value],
) -> Vec<Value> {
    let names = |items: &[Value]| -> Vec<PathElement> {
        items.iter().enumerate().map(|(i, item)| element_name(list, i, item)).collect()
    };
    let (live_names, config_names) = (names(live), names(config));
    let mut live_by_name: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (name, item) in live_names.iter().zip(live) {
        live_by_name.entry(name).or_insert(item);
    }
    let element = |at: &mut Vec<&'v str>, live: Option<&Value>, config: &'v Value| match list {
        ListType::Keyed { atomic_elements: false, .. } => merge_at(schema, at, live, config),
        _ => config.clone(),
    };

    let mut out = Vec::new();
    // The elements the configuration names that are out already.
    let mut merged: Vec<&PathElement> = Vec::new();
    let (mut l, mut c) = (0, 0);
    while l < live.len() || c < config.len() {
        if l < live.len() {
            let name = &live_names[l];
            if !config_names.contains(name) {
                // The live list's own: it stays where it is (duplicates included, untouched).
                out.push(live[l].clone());
                l += 1;
                continue;
            }
            if merged.contains(&name) {
                l += 1;
                continue;
            }
            if c < config.len() && config_names[c] == *name {
                out.push(element(at, Some(&live[l]), &config[c]));
                merged.push(name);
                l += 1;
                c += 1;
                continue;
            }
            // Named further on by the configuration: unless it is the next element both lists
            // share, it waits and comes out when the configuration reaches it.
            let next_shared = config_names[c..].iter().find(|n| live_by_name.contains_key(n) && !merged.contains(n));
            if next_shared != Some(name) {
                l += 1;
                continue;
            }
        }
        if c < config.len() {
            let name = &config_names[c];
            if !merged.contains(&name) {
                out.push(element(at, live_by_name.get(name).copied(), &config[c]));
                merged.push(name);
            }
            c += 1;
        } else {
            l += 1;
        }
    }
    out
}

/// Removes from `object` what the applier owned at its last apply (`last`) and nobody owns now
/// (`owned`: every manager's set, the applier's new one included).
pub fn prune(schema: &Schema, object: &mut Value, last: &FieldSet, owned: &FieldSet) {
    if !last.is_empty() {
        prune_within(schema, &mut Vec::new(), &Path::default(), object, last, owned);
    }
}

/// Prunes inside the container `value` at `path`; returns whether that emptied it.
fn prune_within(
    schema: &Schema,
    at: &mut Vec<String>,
    path: &Path,
    value: &mut Value,
    last: &FieldSet,
    owned: &FieldSet,
) -> bool {
    let (atomic_object, list) = {
        let names: Vec<&str> = at.iter().map(String::as_str).collect();
        (schema.is_atomic_object(&names), schema.list_type(&names))
    };
    match value {
        Value::Object(fields) if !atomic_object => {
            let was_empty = fields.is_empty();
            fields.retain(|key, child| {
                let child_path = path.child(PathElement::field(key));
                at.push(key.clone());
                let keep = keep(schema, at, &child_path, child, last, owned);
                at.pop();
                keep
            });
            !was_empty && fields.is_empty()
        }
        Value::Array(items) if list != ListType::Atomic => {
            let was_empty = items.is_empty();
            let mut index = 0;
            items.retain_mut(|item| {
                let element = path.child(element_name(list, index, item));
                index += 1;
                if last.claims(&element) && !owned.claims(&element) {
                    return false;
                }
                match list {
                    ListType::Keyed { atomic_elements: false, .. } if last.has_at_or_below(&element) => {
                        !prune_within(schema, at, &element, item, last, owned)
                    }
                    _ => true,
                }
            });
            !was_empty && items.is_empty()
        }
        _ => false,
    }
}

/// Whether the field `value` at `path` survives the pruning (and prunes inside it).
fn keep(
    schema: &Schema,
    at: &mut Vec<String>,
    path: &Path,
    value: &mut Value,
    last: &FieldSet,
    owned: &FieldSet,
) -> bool {
    if !last.has_at_or_below(path) {
        return true;
    }
    if last.claims(path) && !owned.claims(path) {
        return false;
    }
    !prune_within(schema, at, path, value, last, owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::apply::typed::fields_of;

    const DEPLOYMENT: Schema = Schema { api_version: "apps/v1", kind: "Deployment" };

    fn containers(names_and_images: &[(&str, &str)]) -> Value {
        let list: Vec<Value> = names_and_images.iter().map(|(n, i)| json!({"name": n, "image": i})).collect();
        json!({"spec": {"template": {"spec": {"containers": list}}}})
    }

    fn names(object: &Value) -> Vec<String> {
        object["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{}={}", c["name"].as_str().unwrap(), c["image"].as_str().unwrap()))
            .collect()
    }

    #[test]
    fn keyed_lists_merge_in_the_configurations_order_keeping_live_only_elements_in_place() {
        let cases = [
            ("same order", vec![("a", "1"), ("b", "1")], vec![("a", "2")], vec!["a=2", "b=1"]),
            (
                "reordered",
                vec![("a", "1"), ("b", "1"), ("c", "1")],
                vec![("c", "2"), ("a", "2")],
                vec!["b=1", "c=2", "a=2"],
            ),
            ("appended", vec![("a", "1")], vec![("a", "1"), ("z", "9")], vec!["a=1", "z=9"]),
            ("prepended", vec![("a", "1")], vec![("z", "9"), ("a", "1")], vec!["z=9", "a=1"]),
            ("empty live", vec![], vec![("x", "1")], vec!["x=1"]),
        ];
        for (name, live, config, want) in cases {
            let merged = merge(&DEPLOYMENT, &containers(&live), &containers(&config));
            assert_eq!(names(&merged), want, "{name}");
        }
    }

    #[test]
    fn atomic_values_are_replaced_and_maps_merged() {
        let live = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}},
            "template": {"spec": {"containers": [{"name": "c", "args": ["-x", "-y"], "image": "i"}]}}}});
        let config = json!({"metadata": {"labels": {"b": "2"}}, "spec": {"selector": {"matchLabels": {"a": "1"}},
            "template": {"spec": {"containers": [{"name": "c", "args": ["-z"]}]}}}});
        assert_eq!(
            merge(&DEPLOYMENT, &live, &config),
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"selector": {"matchLabels": {"a": "1"}},
                "template": {"spec": {"containers": [{"name": "c", "args": ["-z"], "image": "i"}]}}}})
        );
    }

    #[test]
    fn pruning_removes_what_only_the_applier_owned_before() {
        let last = fields_of(
            &DEPLOYMENT,
            &json!({"metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "v1"}, {"name": "side", "image": "s"}]}}}}),
        );
        let now = fields_of(
            &DEPLOYMENT,
            &json!({"metadata": {"labels": {"a": "1"}},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "v1"}]}}}}),
        );
        // Another manager owns the replicas (it scaled them).
        let others: FieldSet = [Path::fields(&["spec", "replicas"])].into_iter().collect();
        let mut object = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 5,
            "template": {"spec": {"containers": [{"name": "web", "image": "v1", "imagePullPolicy": "IfNotPresent"},
                {"name": "side", "image": "s"}]}}}});
        prune(&DEPLOYMENT, &mut object, &last, &now.union(&others));
        assert_eq!(
            object,
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 5,
                "template": {"spec": {"containers": [{"name": "web", "image": "v1", "imagePullPolicy": "IfNotPresent"}]}}}}),
            "label b and the side container go; replicas stay (owned by another); defaults nobody applied stay"
        );
    }

    #[test]
    fn a_map_emptied_by_pruning_goes_too() {
        let last = fields_of(&DEPLOYMENT, &json!({"metadata": {"annotations": {"x": "1"}}}));
        // The new configuration still names the object, which keeps `metadata` itself.
        let now = fields_of(&DEPLOYMENT, &json!({"metadata": {"name": "web"}}));
        let mut object = json!({"metadata": {"name": "web", "annotations": {"x": "1"}}});
        prune(&DEPLOYMENT, &mut object, &last, &now);
        assert_eq!(object, json!({"metadata": {"name": "web"}}));
    }
}
