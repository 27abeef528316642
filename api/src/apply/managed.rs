//! `metadata.managedFields`: who owns which fields, and how a write moves ownership.
//!
//! Mirrors apimachinery's `util/managedfields/internal/` — `managedfields.go` (decoding,
//! encoding, sorting, `BuildManagerIdentifier`), `stripmeta.go` (the fields nobody owns),
//! `managedfieldsupdater.go` (times, and an update's fields joining the manager's earlier ones)
//! — and the ownership half of structured-merge-diff v4's `merge/update.go` (`update`).
//!
//! # One entry per manager
//!
//! An entry is identified by its manager name, its operation, and its subresource; an
//! `Update` entry also by its API version (an applier stays one entry whatever version it
//! applies at). So `kubectl` applying and `kubectl` scaling through `/scale` are two owners,
//! and can conflict with each other.
//!
//! # How a write moves ownership ([`release`])
//!
//! Every write compares the object before and after. A field it added or changed is no
//! longer any other manager's (for an apply that is the moment of the conflict check: an
//! apply takes a field only when forced); a field it removed is nobody's. The writer then owns
//! what it set: an applier exactly its configuration, an updater what it added or changed,
//! added to what it owned before.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::conflict::Conflict;
use super::fieldset::{FieldSet, Path, PathElement};
use super::typed::Comparison;
use crate::age;

/// What kind of write an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// A server-side apply: the entry is the applier's whole intent.
    Apply,
    /// Any other write: create, update, patch.
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who an entry belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Manager {
    pub name: String,
    pub operation: Operation,
    pub api_version: String,
    /// `status` or `scale` for a write through that subresource.
    pub subresource: Option<String>,
}

impl Manager {
    /// Whether two entries are the same owner. The API version of an applier is not part of
    /// its identity, so applying at a new version replaces the old entry.
    pub fn same_owner(&self, other: &Manager) -> bool {
        self.name == other.name
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }
}

/// One element of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub manager: Manager,
    /// When the manager last changed the object, RFC 3339.
    pub time: Option<String>,
    pub fields: FieldSet,
}

/// The fields no manager ever owns: identity and bookkeeping the server keeps itself
/// (upstream's `stripmeta.go`). `metadata` alone is stripped, not what is under it, so
/// `metadata.labels.app` is owned as usual.
const NEVER_OWNED: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["metadata"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "creationTimestamp"],
    &["metadata", "selfLink"],
    &["metadata", "uid"],
    &["metadata", "clusterName"],
    &["metadata", "generation"],
    &["metadata", "managedFields"],
    &["metadata", "resourceVersion"],
];

/// `set` without the fields nobody owns (filtered in place: no path is copied).
pub fn strip(mut set: FieldSet) -> FieldSet {
    set.retain(|path| !never_owned(path));
    set
}

/// Whether `path` is one of [`NEVER_OWNED`]: field steps with exactly those names.
fn never_owned(path: &Path) -> bool {
    NEVER_OWNED.iter().any(|names| {
        path.0.len() == names.len()
            && path.0.iter().zip(names.iter()).all(|(step, name)| matches!(step, PathElement::Field(f) if f == name))
    })
}

/// The same for a path of field names only.
pub(super) fn never_owned_names(at: &[&str]) -> bool {
    at.len() <= 2 && NEVER_OWNED.contains(&at)
}

/// The entries an object's `metadata.managedFields` holds. Entries this version cannot read
/// are skipped; a second entry for the same owner replaces the first.
pub fn decode(object: &Value) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let list = object.pointer("/metadata/managedFields").and_then(Value::as_array);
    for item in list.into_iter().flatten() {
        let Some(entry) = decode_entry(item) else { continue };
        entries.retain(|e| !e.manager.same_owner(&entry.manager));
        entries.push(entry);
    }
    entries
}

fn decode_entry(item: &Value) -> Option<Entry> {
    let text = |key: &str| item.get(key).and_then(Value::as_str).map(String::from);
    let operation = match item.get("operation").and_then(Value::as_str)? {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        _ => return None,
    };
    if text("fieldsType").is_some_and(|t| t != "FieldsV1") {
        return None;
    }
    let manager = Manager {
        name: text("manager").unwrap_or_default(),
        operation,
        api_version: text("apiVersion").unwrap_or_default(),
        subresource: text("subresource").filter(|s| !s.is_empty()),
    };
    let fields = item.get("fieldsV1").map(FieldSet::from_fields_v1).unwrap_or_default();
    Some(Entry { manager, time: text("time"), fields })
}

/// Whether an object's managedFields is the "reset" marker `[{}]`: a client that sends it asks
/// for ownership to start over.
pub fn is_reset(object: &Value) -> bool {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|list| list.len() == 1 && list[0].as_object().is_some_and(Map::is_empty))
}

/// Writes `entries` into `object`'s `metadata.managedFields`, sorted as upstream sorts them
/// (appliers first, then oldest first, then by name); entries that own nothing are dropped, and
/// no entries at all means no `managedFields`.
pub fn encode(mut entries: Vec<Entry>, object: &mut Value) {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(upstream_order);
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    if entries.is_empty() {
        metadata.remove("managedFields");
        return;
    }
    let encoded: Vec<Value> = entries.iter().map(encode_entry).collect();
    metadata.insert("managedFields".into(), Value::Array(encoded));
}

fn encode_entry(entry: &Entry) -> Value {
    encoded_entry(&entry.manager, entry.time.as_deref(), entry.fields.to_fields_v1())
}

/// One element of `managedFields`, its fields already encoded. Built field by field: `json!`
/// would copy `fields_v1` (it serializes every value it is given into a new one).
pub(super) fn encoded_entry(manager: &Manager, time: Option<&str>, fields_v1: Value) -> Value {
    let mut out = Map::new();
    out.insert("manager".into(), Value::from(manager.name.as_str()));
    out.insert("operation".into(), Value::from(manager.operation.as_str()));
    out.insert("apiVersion".into(), Value::from(manager.api_version.as_str()));
    out.insert("fieldsType".into(), Value::from("FieldsV1"));
    out.insert("fieldsV1".into(), fields_v1);
    if let Some(time) = time {
        out.insert("time".into(), Value::from(time));
    }
    if let Some(subresource) = &manager.subresource {
        out.insert("subresource".into(), Value::from(subresource.as_str()));
    }
    Value::Object(out)
}

fn upstream_order(a: &Entry, b: &Entry) -> Ordering {
    let seconds = |e: &Entry| e.time.as_deref().and_then(age::parse_timestamp).unwrap_or(0);
    a.manager
        .operation
        .cmp(&b.manager.operation)
        .then_with(|| seconds(a).cmp(&seconds(b)))
        .then_with(|| a.manager.name.cmp(&b.manager.name))
        .then_with(|| a.manager.api_version.cmp(&b.manager.api_version))
        .then_with(|| a.manager.subresource.cmp(&b.manager.subresource))
}

/// The fields other managers own that this write adds or changes: the conflicts of an apply.
pub fn conflicts(others: &[Entry], diff: &Comparison) -> Vec<Conflict> {
    let changed = diff.added.union(&diff.modified);
    others
        .iter()
        .flat_map(|e| {
            e.fields
                .intersection(&changed)
                .iter()
                .map(|path| Conflict { manager: e.manager.clone(), path: path.clone() })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What every write does to the managers other than the writer: the fields it added, changed or
/// removed are not theirs any more. (For an update the writer's own earlier entry counts as
/// "other" too; its fields come back when the update's fields join it.)
pub fn release(others: &mut [Entry], diff: &Comparison) {
    for entry in others {
        entry.fields.retain(|path| !diff.touches(path));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(name: &str, operation: Operation, time: &str, paths: &[&[&str]]) -> Entry {
        Entry {
            manager: Manager { name: name.into(), operation, api_version: "v1".into(), subresource: None },
            time: Some(time.into()),
            fields: paths.iter().map(|p| Path::fields(p)).collect(),
        }
    }

    #[test]
    fn entries_encode_sorted_and_read_back() {
        let entries = vec![
            entry("updater", Operation::Update, "2024-05-01T10:00:00Z", &[&["data", "key"]]),
            entry("old-updater", Operation::Update, "2024-04-01T10:00:00Z", &[&["data", "other"]]),
            entry("apply_test", Operation::Apply, "2024-05-02T10:00:00Z", &[&["metadata", "labels", "test-label"]]),
            entry("nothing", Operation::Update, "2024-05-02T10:00:00Z", &[]),
        ];
        let mut object = json!({"metadata": {"name": "test-cm"}});
        encode(entries.clone(), &mut object);
        let names: Vec<&str> = object["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["apply_test", "old-updater", "updater"], "appliers first, then oldest first");
        assert_eq!(
            object["metadata"]["managedFields"][0],
            json!({"manager": "apply_test", "operation": "Apply", "apiVersion": "v1", "time": "2024-05-02T10:00:00Z",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:test-label": {}}}}})
        );
        let mut read = decode(&object);
        read.sort_by(upstream_order);
        let mut want: Vec<Entry> = entries.into_iter().filter(|e| !e.fields.is_empty()).collect();
        want.sort_by(upstream_order);
        assert_eq!(read, want);
    }

    #[test]
    fn identity_and_bookkeeping_fields_are_never_owned() {
        let set: FieldSet = [
            Path::fields(&["metadata", "name"]),
            Path::fields(&["metadata", "resourceVersion"]),
            Path::fields(&["kind"]),
            Path::fields(&["metadata", "labels", "app"]),
        ]
        .into_iter()
        .collect();
        assert_eq!(strip(set), [Path::fields(&["metadata", "labels", "app"])].into_iter().collect());
    }

    #[test]
    fn an_applier_is_one_owner_across_versions_an_updater_is_not() {
        let at = |operation, version: &str| Manager {
            name: "m".into(),
            operation,
            api_version: version.into(),
            subresource: None,
        };
        assert!(at(Operation::Apply, "apps/v1").same_owner(&at(Operation::Apply, "apps/v1beta1")));
        assert!(!at(Operation::Update, "apps/v1").same_owner(&at(Operation::Update, "apps/v1beta1")));
        assert!(!at(Operation::Update, "apps/v1").same_owner(&at(Operation::Apply, "apps/v1")));
        let scale = Manager { subresource: Some("scale".into()), ..at(Operation::Update, "apps/v1") };
        assert!(!scale.same_owner(&at(Operation::Update, "apps/v1")), "a subresource is its own owner");
    }

    #[test]
    fn the_reset_marker_is_one_empty_entry() {
        assert!(is_reset(&json!({"metadata": {"managedFields": [{}]}})));
        assert!(!is_reset(&json!({"metadata": {"managedFields": []}})));
        assert!(!is_reset(&json!({"metadata": {}})));
    }
}
