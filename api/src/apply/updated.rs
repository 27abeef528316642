//! An update's `managedFields`, edited in their encoded form.
//!
//! The general way ([`record_update`]) decodes every entry's `fieldsV1` into a set of whole
//! paths, takes the write's changes out of all of them, adds the changes to the writer's set,
//! and encodes everything again: for an update of one annotation of a pod, thousands of path
//! copies to move a few paths, and half of the API server's work for the update. Stored entries
//! are already encodings of sets (everything the API server stores went through
//! `managed::encode`), and an update touches a handful of paths, so the same edit is made on
//! the encoded tries, path by path:
//!
//! - **A path leaves a set**: its node loses its membership (`{}` goes, a `"."` beside children
//!   goes); a parent that is no member and has no child left goes too, and one that is a member
//!   and has no child left becomes `{}`.
//! - **A path joins a set**: its node is made (with any missing parents, which are no members),
//!   or marked a member (`"."`, if it has children); a member leaf that gains a child keeps its
//!   membership as `"."`.
//!
//! Entries that own nothing are dropped, and the list is sorted again as upstream sorts it.
//! Entries not in that encoded form (not objects, `fieldsV1` not a trie of objects, another
//! `fieldsType` or operation) send the caller back the general way.
//!
//! [`record_update`]: super::record_update

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, Path};
use super::managed::{self, Manager, Operation};
use super::typed::Comparison;
use crate::age;

/// `entries` (the object's `managedFields` before the write) after a write by `me` at `now`
/// that made `diff`, of which `changed` (added and modified, without what nobody owns) becomes
/// the writer's. `None` if the entries are not in the form the module documentation describes.
pub(super) fn record(
    entries: Vec<Value>,
    diff: &Comparison,
    changed: &FieldSet,
    me: &Manager,
    now: &str,
) -> Option<Vec<Value>> {
    let mut entries: Vec<Map<String, Value>> = entries
        .into_iter()
        .map(|entry| match entry {
            Value::Object(entry) if readable(&entry) => Some(entry),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let steps = |path: &Path| -> Vec<String> { path.0.iter().map(|step| step.encode()).collect() };
    // The fields this write touched are nobody's now (the writer's own entry included: what it
    // changed comes back to it below).
    let touched: Vec<Vec<String>> =
        diff.added.iter().chain(diff.modified.iter()).chain(diff.removed.iter()).map(steps).collect();
    for entry in &mut entries {
        let fields = entry.get_mut("fieldsV1").and_then(Value::as_object_mut)?;
        for path in &touched {
            leave(fields, path)?;
        }
    }
    if !changed.is_empty() {
        let earlier = entries.iter().position(|entry| same_owner(entry, me)).map(|i| entries.remove(i));
        let mut fields = match earlier.and_then(|mut entry| entry.remove("fieldsV1")) {
            Some(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        for path in changed.iter() {
            join(&mut fields, &steps(path))?;
        }
        match managed::encoded_entry(me, Some(now), Value::Object(fields)) {
            Value::Object(entry) => entries.push(entry),
            _ => unreachable!("an entry is an object"),
        }
    }
    entries.retain(|entry| entry["fieldsV1"].as_object().is_some_and(|fields| !fields.is_empty()));
    entries.sort_by(upstream_order);
    Some(entries.into_iter().map(Value::Object).collect())
}

/// Whether an entry is one `managed::decode` reads as it is.
fn readable(entry: &Map<String, Value>) -> bool {
    entry.get("fieldsV1").is_some_and(Value::is_object)
        && entry.get("fieldsType").is_none_or(|t| t == "FieldsV1")
        && entry.get("manager").is_none_or(Value::is_string)
        && entry.get("apiVersion").is_none_or(Value::is_string)
        && entry.get("time").is_none_or(Value::is_string)
        && entry.get("subresource").is_none_or(|s| s.as_str().is_some_and(|s| !s.is_empty()))
        && matches!(entry.get("operation").and_then(Value::as_str), Some("Apply" | "Update"))
}

fn text<'e>(entry: &'e Map<String, Value>, key: &str) -> Option<&'e str> {
    entry.get(key).and_then(Value::as_str)
}

fn operation(entry: &Map<String, Value>) -> Operation {
    match text(entry, "operation") {
        Some("Apply") => Operation::Apply,
        _ => Operation::Update,
    }
}

/// `Manager::same_owner`, for an encoded entry.
fn same_owner(entry: &Map<String, Value>, me: &Manager) -> bool {
    text(entry, "manager").unwrap_or_default() == me.name
        && operation(entry) == me.operation
        && text(entry, "subresource") == me.subresource.as_deref()
        && (me.operation == Operation::Apply || text(entry, "apiVersion").unwrap_or_default() == me.api_version)
}

/// `managed`'s order, for encoded entries: appliers first, then oldest first, then by name.
fn upstream_order(a: &Map<String, Value>, b: &Map<String, Value>) -> Ordering {
    let seconds = |e: &Map<String, Value>| text(e, "time").and_then(age::parse_timestamp).unwrap_or(0);
    operation(a)
        .cmp(&operation(b))
        .then_with(|| seconds(a).cmp(&seconds(b)))
        .then_with(|| text(a, "manager").unwrap_or_default().cmp(text(b, "manager").unwrap_or_default()))
        .then_with(|| text(a, "apiVersion").unwrap_or_default().cmp(text(b, "apiVersion").unwrap_or_default()))
        .then_with(|| text(a, "subresource").cmp(&text(b, "subresource")))
}

/// Takes the path `steps` (FieldsV1 keys) out of the set whose trie node has these
/// `children`. `None` if the trie is not made of objects.
fn leave(children: &mut Map<String, Value>, steps: &[String]) -> Option<()> {
    let (first, rest) = steps.split_first()?;
    let Some(child) = children.get_mut(first.as_str()) else { return Some(()) };
    let node = child.as_object_mut()?;
    if rest.is_empty() {
        // A member without children goes; one with children stays, as no member.
        if node.is_empty() {
            children.remove(first.as_str());
        } else {
            node.remove(".");
        }
        return Some(());
    }
    leave(node, rest)?;
    if node.is_empty() {
        // No member, and its last child is gone.
        children.remove(first.as_str());
    } else if node.len() == 1 && node.contains_key(".") {
        // A member whose last child is gone: a leaf.
        node.clear();
    }
    Some(())
}

/// Puts the path `steps` into the set whose trie node has these `children`.
fn join(children: &mut Map<String, Value>, steps: &[String]) -> Option<()> {
    let (first, rest) = steps.split_first()?;
    let fresh = !children.contains_key(first.as_str());
    let node = children.entry(first.clone()).or_insert_with(|| Value::Object(Map::new())).as_object_mut()?;
    if rest.is_empty() {
        if !node.is_empty() && !node.contains_key(".") {
            node.insert(".".to_string(), Value::Object(Map::new()));
        }
        return Some(());
    }
    if !fresh && node.is_empty() {
        // A member leaf about to have a child stays a member.
        node.insert(".".to_string(), Value::Object(Map::new()));
    }
    join(node, rest)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{record_update_by_sets, Writer};
    use super::*;

    const T1: &str = "2024-05-01T10:00:00Z";
    const T2: &str = "2024-05-01T11:00:00Z";
    const T3: &str = "2024-05-01T12:00:00Z";

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "annotations": {"a": "1"}},
            "spec": {"containers": [{"name": "web", "image": "v1", "ports": [{"containerPort": 80}],
                                     "env": [{"name": "A", "value": "1"}]}],
                     "nodeSelector": {"disk": "ssd"}},
            "status": {"phase": "Pending"}})
    }

    /// `record_update` the general way and this module's way, from the same `old`.
    fn both(old: &Value, new: &Value, writer: &Writer) -> (Value, Value) {
        let mut general = new.clone();
        record_update_by_sets(Some(old), &mut general, writer);
        let mut edited = new.clone();
        assert!(super::super::record_by_editing(old, &mut edited, writer), "the encoded entries are edited");
        (general, edited)
    }

    #[test]
    fn editing_the_encoded_entries_gives_what_the_general_way_gives() {
        // A history of writes by several managers, each recorded the general way.
        let mut created = pod();
        record_update_by_sets(None, &mut created, &Writer::new("kubectl-create", T1));
        let mut scheduled = created.clone();
        scheduled["spec"]["nodeName"] = json!("n1");
        scheduled["metadata"]["labels"]["zone"] = json!("a");
        record_update_by_sets(Some(&created), &mut scheduled, &Writer::new("scheduler", T2));
        let mut reported = scheduled.clone();
        reported["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
        record_update_by_sets(Some(&scheduled), &mut reported, &Writer::new("kubelet", T2).through("status"));

        type Edit<'w> = (&'w str, Box<dyn Fn(&mut Value)>, Writer<'w>);
        let edits: Vec<Edit> = vec![
            (
                "an annotation changed",
                Box::new(|o: &mut Value| o["metadata"]["annotations"]["a"] = json!("2")),
                Writer::new("kubectl-edit", T3),
            ),
            (
                "the creator changes its own field",
                Box::new(|o: &mut Value| o["spec"]["containers"][0]["image"] = json!("v2")),
                Writer::new("kubectl-create", T3),
            ),
            (
                "a field another manager owns, taken",
                Box::new(|o: &mut Value| o["metadata"]["labels"]["zone"] = json!("b")),
                Writer::new("kubectl-create", T3),
            ),
            (
                "the only field of a manager, removed",
                Box::new(|o: &mut Value| {
                    o["spec"].as_object_mut().unwrap().remove("nodeName");
                    o["metadata"]["labels"].as_object_mut().unwrap().remove("zone");
                }),
                Writer::new("kubectl-edit", T3),
            ),
            (
                "a container's field removed and a new map added",
                Box::new(|o: &mut Value| {
                    o["spec"]["containers"][0].as_object_mut().unwrap().remove("env");
                    o["spec"]["containers"][0]["resources"] = json!({"limits": {"cpu": "1"}});
                }),
                Writer::new("kubectl-edit", T3),
            ),
            (
                "a new container",
                Box::new(|o: &mut Value| {
                    o["spec"]["containers"].as_array_mut().unwrap().push(json!({"name": "side", "image": "s"}));
                }),
                Writer::new("kubectl-create", T3),
            ),
            (
                "status through its subresource",
                Box::new(|o: &mut Value| o["status"]["phase"] = json!("Succeeded")),
                Writer::new("kubelet", T3).through("status"),
            ),
            ("nothing changed", Box::new(|_: &mut Value| {}), Writer::new("kubectl-edit", T3)),
            (
                "a field under a member leaf",
                Box::new(|o: &mut Value| o["spec"]["nodeSelector"]["zone"] = json!("x")),
                Writer::new("kubectl-create", T3),
            ),
        ];
        for (name, edit, writer) in &edits {
            for carried in [false, true] {
                let mut new = reported.clone();
                if !carried {
                    new["metadata"].as_object_mut().unwrap().remove("managedFields");
                }
                edit(&mut new);
                let (general, edited) = both(&reported, &new, writer);
                assert_eq!(edited, general, "{name} (managedFields carried: {carried})");
            }
        }
    }

    #[test]
    fn sets_edited_in_the_trie_are_the_sets_edited_as_paths() {
        let set = |paths: &[&[&str]]| -> FieldSet { paths.iter().map(|p| Path::fields(p)).collect() };
        let keys = |path: &[&str]| -> Vec<String> { Path::fields(path).0.iter().map(|s| s.encode()).collect() };
        let start = set(&[&["a"], &["a", "b"], &["a", "b", "c"], &["d", "e"], &["f"]]);
        let cases: &[(&[&str], bool)] = &[
            (&["a", "b", "c"], false),
            (&["a", "b"], false),
            (&["d", "e"], false),
            (&["f", "g"], true),
            (&["x", "y"], true),
            (&["a"], false),
            (&["d"], true),
        ];
        for (path, joins) in cases {
            let mut trie = start.to_fields_v1().as_object().unwrap().clone();
            let mut paths = start.clone();
            if *joins {
                join(&mut trie, &keys(path)).unwrap();
                paths.insert(Path::fields(path));
            } else {
                leave(&mut trie, &keys(path)).unwrap();
                paths.retain(|p| p != &Path::fields(path));
            }
            assert_eq!(Value::Object(trie), paths.to_fields_v1(), "{path:?}, joining: {joins}");
        }
    }
}
