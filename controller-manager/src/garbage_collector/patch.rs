//! The collector's patches: every one a compare-and-swap JSON patch (RFC 6902) of one field.
//!
//! Mirrors `pkg/controller/garbagecollector/patch.go`. Upstream sends a strategic merge patch
//! (`{"$patch": "delete", "uid": …}`) and falls back to a JSON merge patch carrying the
//! `resourceVersion` it read, so that the API server refuses it if the object changed. Skiff's
//! API server does not treat a resourceVersion inside a patch as a precondition (it re-applies a
//! patch to the newest version), so the guard is written into the patch instead:
//!
//! ```json
//! [{"op": "test",    "path": "/metadata/uid",             "value": "<the object's uid>"},
//!  {"op": "test",    "path": "/metadata/ownerReferences", "value": [<as read>]},
//!  {"op": "replace", "path": "/metadata/ownerReferences", "value": [<what is kept>]}]
//! ```
//!
//! The API server applies the patch to the version it writes, so if anyone changed the field
//! since the collector read it (an adoption added a reference, another finalizer came), a test
//! fails, nothing is written (`422`), and the worker reads again and retries: a concurrent
//! change is never lost. The uid test keeps the patch off a new object that took the name.

use serde_json::{json, Value};
use skiff_client::Patch;

/// `[test uid, test <path> = read, replace <path> with new]`; an empty `new` removes the field.
fn compare_and_swap(latest: &Value, path: &str, read: &Value, new: Vec<Value>) -> Patch {
    let uid = &latest["metadata"]["uid"];
    let write = if new.is_empty() {
        json!({"op": "remove", "path": path})
    } else {
        json!({"op": "replace", "path": path, "value": new})
    };
    Patch::Json(json!([
        {"op": "test", "path": "/metadata/uid", "value": uid},
        {"op": "test", "path": path, "value": read},
        write,
    ]))
}

fn references(latest: &Value) -> &[Value] {
    latest["metadata"]["ownerReferences"].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Removes the references to `owner_uids` from `latest`'s `ownerReferences`; `None` if it has
/// none of them (upstream's `deleteOwnerRefJSONMergePatch`).
pub fn delete_owner_ref_json_patch(latest: &Value, owner_uids: &[String]) -> Option<Patch> {
    let read = references(latest);
    let named = |r: &Value| owner_uids.iter().any(|u| r["uid"].as_str() == Some(u));
    if !read.iter().any(named) {
        return None;
    }
    let kept = read.iter().filter(|r| !named(r)).cloned().collect();
    Some(compare_and_swap(latest, "/metadata/ownerReferences", &Value::Array(read.to_vec()), kept))
}

/// Sets `blockOwnerDeletion: false` on every reference that blocks; `None` if none does
/// (upstream's `unblockOwnerReferencesJSONMergePatch`).
pub fn unblock_owner_references_json_patch(latest: &Value) -> Option<Patch> {
    let read = references(latest);
    if !read.iter().any(|r| r["blockOwnerDeletion"] == json!(true)) {
        return None;
    }
    let unblocked = read
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r["blockOwnerDeletion"] == json!(true) {
                r["blockOwnerDeletion"] = json!(false);
            }
            r
        })
        .collect();
    Some(compare_and_swap(latest, "/metadata/ownerReferences", &Value::Array(read.to_vec()), unblocked))
}

/// Removes `finalizer` from `latest`'s finalizers; `None` if it is not there (upstream's
/// `removeFinalizer`, which reads, edits and writes with the resourceVersion it read).
pub fn remove_finalizer_json_patch(latest: &Value, finalizer: &str) -> Option<Patch> {
    let read = latest["metadata"]["finalizers"].as_array().map(Vec::as_slice).unwrap_or_default();
    if !read.iter().any(|f| f == finalizer) {
        return None;
    }
    let kept = read.iter().filter(|f| *f != finalizer).cloned().collect();
    Some(compare_and_swap(latest, "/metadata/finalizers", &Value::Array(read.to_vec()), kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> Value {
        json!({"metadata": {"uid": "cm", "finalizers": ["orphan", "example.com/keep"], "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "a", "blockOwnerDeletion": true},
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": "b"},
        ]}})
    }

    fn ops(patch: Option<Patch>) -> Value {
        match patch {
            Some(Patch::Json(ops)) => ops,
            other => panic!("expected a JSON patch, got {other:?}"),
        }
    }

    #[test]
    fn removing_a_reference_tests_the_uid_and_the_list_as_read() {
        let patch = ops(delete_owner_ref_json_patch(&object(), &["a".into()]));
        assert_eq!(patch[0], json!({"op": "test", "path": "/metadata/uid", "value": "cm"}));
        assert_eq!(patch[1]["op"], "test");
        assert_eq!(patch[1]["value"], object()["metadata"]["ownerReferences"]);
        assert_eq!(patch[2]["op"], "replace");
        assert_eq!(patch[2]["value"], json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": "b"}]));
    }

    #[test]
    fn removing_every_reference_removes_the_field_and_removing_none_is_no_patch() {
        let patch = ops(delete_owner_ref_json_patch(&object(), &["a".into(), "b".into()]));
        assert_eq!(patch[2], json!({"op": "remove", "path": "/metadata/ownerReferences"}));
        assert_eq!(delete_owner_ref_json_patch(&object(), &["z".into()]), None);
        assert_eq!(delete_owner_ref_json_patch(&json!({"metadata": {"uid": "x"}}), &["a".into()]), None);
    }

    #[test]
    fn a_concurrent_change_makes_the_patch_fail_instead_of_being_lost() {
        let patch = ops(delete_owner_ref_json_patch(&object(), &["a".into()]));
        let mut adopted = object();
        adopted["metadata"]["ownerReferences"].as_array_mut().unwrap().push(json!({"uid": "c", "name": "c"}));
        assert!(skiff_api::patch::json_patch(&mut adopted, &patch).is_err(), "the reference to c would be lost");
        let mut unchanged = object();
        skiff_api::patch::json_patch(&mut unchanged, &patch).unwrap();
        assert_eq!(unchanged["metadata"]["ownerReferences"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn unblocking_sets_block_owner_deletion_false_where_it_was_true() {
        let patch = ops(unblock_owner_references_json_patch(&object()));
        assert_eq!(patch[2]["value"][0]["blockOwnerDeletion"], false);
        assert_eq!(
            patch[2]["value"][1].get("blockOwnerDeletion"),
            None,
            "a reference that did not block is left alone"
        );
        let mut unblocked = object();
        unblocked["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = json!(false);
        assert_eq!(unblock_owner_references_json_patch(&unblocked), None);
    }

    #[test]
    fn removing_a_finalizer_keeps_the_others() {
        let patch = ops(remove_finalizer_json_patch(&object(), "orphan"));
        assert_eq!(
            patch[1],
            json!({"op": "test", "path": "/metadata/finalizers", "value": ["orphan", "example.com/keep"]})
        );
        assert_eq!(patch[2], json!({"op": "replace", "path": "/metadata/finalizers", "value": ["example.com/keep"]}));
        assert_eq!(remove_finalizer_json_patch(&object(), "foregroundDeletion"), None);
    }
}
