//! The way from client-side `kubectl apply` to `kubectl apply --server-side`.
//!
//! Mirrors apimachinery's `util/managedfields/internal/lastappliedmanager.go` (the upgrade) and
//! `lastappliedupdater.go` (the sync).
//!
//! Client-side apply keeps its last configuration in the annotation
//! `kubectl.kubernetes.io/last-applied-configuration`, and its writes are recorded as the
//! updater `kubectl-client-side-apply`. Two rules make switching to server-side apply smooth;
//! both hold only for the manager `kubectl`, the name kubectl applies under by default (another
//! `--field-manager` opts out):
//!
//! 1. **Upgrade.** A conflict on a field the annotation sets, to the value the object still
//!    has, is no conflict: kubectl set it itself, through the other door. Only fields that
//!    changed since (a `kubectl scale`, an edit) still conflict.
//! 2. **Sync.** While the annotation is there, a server-side apply by kubectl rewrites it to the
//!    configuration it applied, so a later client-side apply starts from the right place.

use serde_json::Value;

use super::fieldset::FieldSet;
use super::schema::Schema;
use super::typed::{compare, fields_of};

/// The annotation client-side apply keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The manager whose applies upgrade from client-side apply.
const KUBECTL: &str = "kubectl";

fn last_applied(object: &Value) -> Option<&str> {
    object.get("metadata")?.get("annotations")?.get(LAST_APPLIED)?.as_str().filter(|text| !text.is_empty())
}

/// The fields `manager` may take over from client-side apply without a conflict: those the
/// annotation of `live` sets, with the values `live` still has. `live` is without its
/// managedFields.
pub fn upgradable(schema: &Schema, manager: &str, live: &Value) -> FieldSet {
    if manager != KUBECTL {
        return FieldSet::new();
    }
    let Some(Ok(applied)) = last_applied(live).map(serde_json::from_str::<Value>) else {
        return FieldSet::new();
    };
    if applied.get("apiVersion") != live.get("apiVersion") {
        return FieldSet::new();
    }
    let since = compare(schema, &applied, live);
    fields_of(schema, &applied).difference(&since.modified).difference(&since.added).difference(&since.removed)
}

/// After an apply by `manager`: if `live` carried the annotation, rewrite it in `object` to
/// `config` (without the annotation itself), as JSON with a final newline, as kubectl writes it.
pub fn sync_last_applied(manager: &str, live: Option<&Value>, config: &Value, object: &mut Value) {
    if manager != KUBECTL || live.and_then(last_applied).is_none() {
        return;
    }
    let mut applied = config.clone();
    if let Some(metadata) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(annotations) = metadata.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty() {
                metadata.remove("annotations");
            }
        }
    }
    let text = format!("{applied}\n");
    let annotations = object
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| Value::Object(Default::default())))
        .and_then(Value::as_object_mut)
        .map(|m| m.entry("annotations").or_insert_with(|| Value::Object(Default::default())))
        .and_then(Value::as_object_mut);
    if let Some(annotations) = annotations {
        annotations.insert(LAST_APPLIED.into(), Value::from(text));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::apply::fieldset::Path;

    const DEPLOYMENT: Schema = Schema { api_version: "apps/v1", kind: "Deployment" };

    fn live(replicas: i64) -> Value {
        let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "paused": false}});
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {LAST_APPLIED: format!("{applied}\n")}},
            "spec": {"replicas": replicas, "paused": false, "revisionHistoryLimit": 10}})
    }

    #[test]
    fn kubectl_may_take_over_what_it_applied_client_side_unless_it_changed_since() {
        let replicas = Path::fields(&["spec", "replicas"]);
        let paused = Path::fields(&["spec", "paused"]);
        let unchanged = upgradable(&DEPLOYMENT, "kubectl", &live(2));
        assert!(unchanged.contains(&replicas) && unchanged.contains(&paused));
        let scaled = upgradable(&DEPLOYMENT, "kubectl", &live(5));
        assert!(!scaled.contains(&replicas), "kubectl scale changed it since");
        assert!(scaled.contains(&paused));
        assert!(upgradable(&DEPLOYMENT, "my-tool", &live(2)).is_empty(), "only for the manager kubectl");
    }

    #[test]
    fn the_annotation_follows_a_server_side_apply_by_kubectl() {
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
        let mut object = live(3);
        sync_last_applied("kubectl", Some(&live(2)), &config, &mut object);
        assert_eq!(object["metadata"]["annotations"][LAST_APPLIED], json!(format!("{config}\n")));
        let mut untouched = json!({"metadata": {"name": "web"}});
        sync_last_applied("kubectl", Some(&json!({"metadata": {"name": "web"}})), &config, &mut untouched);
        assert_eq!(untouched, json!({"metadata": {"name": "web"}}), "no annotation, nothing to sync");
    }
}
