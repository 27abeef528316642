//! The fields a field selector may name, per kind, and their values in an object.
//!
//! Mirrors each kind's `GetAttrs`/`ToSelectableFields` in kubernetes `pkg/registry/*/strategy.go`
//! (`pkg/registry/core/pod/strategy.go` `PodToSelectableFields`, the event, secret, node,
//! namespace, replicaset and job strategies) and `generic.ObjectMetaFieldsSet`: every kind
//! answers `metadata.name` and `metadata.namespace`; a few kinds answer more. A selector on any
//! other field is refused (`400`, `field label not supported: …`), as Kubernetes refuses it.
//!
//! An absent field has the value `""`, so `spec.nodeName=` selects the pods not yet scheduled
//! (what a scheduler watches).

use serde_json::Value;

use crate::registry::Resource;

/// The selectable fields of one kind, beyond `metadata.name` and `metadata.namespace`.
fn extra_fields(resource: &Resource) -> &'static [&'static str] {
    match (resource.group, resource.plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "namespaces") => &["status.phase"],
        ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        _ => &[],
    }
}

/// Whether a field selector may name `field` for this kind.
pub fn supported(resource: &Resource, field: &str) -> bool {
    matches!(field, "metadata.name" | "metadata.namespace") || extra_fields(resource).contains(&field)
}

/// The value of a selectable field in `object`: strings as they are, numbers and booleans
/// printed, `""` when absent. (An event's `source` is its `source.component`.)
pub fn value(object: &Value, field: &str) -> String {
    match path_of(field).split('.').try_fold(object, |v, part| v.get(part)) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => match field {
            // Kubernetes prints a missing boolean as its zero value.
            "spec.hostNetwork" | "spec.unschedulable" => "false".into(),
            _ => String::new(),
        },
        Some(other) => other.to_string(),
    }
}

/// Where a selectable field's value sits in an object, as dotted keys.
fn path_of(field: &str) -> &str {
    if field == "source" {
        "source.component"
    } else {
        field
    }
}

/// What [`selectable`] reads of an object: the paths (keys from the root) of its kind's
/// selectable fields, for a reader that builds only those parts (the watch cache's).
pub fn paths(resource: &Resource) -> Vec<Vec<&'static str>> {
    ["metadata.name", "metadata.namespace"]
        .iter()
        .chain(extra_fields(resource))
        .map(|field| path_of(field).split('.').collect())
        .collect()
}

/// Every selectable field of `object` with its value, to match selectors against later
/// without the object (the watch cache keeps these beside each object's bytes).
pub fn selectable(resource: &Resource, object: &Value) -> Vec<(&'static str, String)> {
    ["metadata.name", "metadata.namespace"]
        .iter()
        .chain(extra_fields(resource))
        .map(|field| (*field, value(object, field)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::by_plural;
    use serde_json::json;

    #[test]
    fn pods_answer_node_phase_and_more_but_not_arbitrary_fields() {
        let pods = by_plural("", "v1", "pods").unwrap();
        assert!(supported(pods, "spec.nodeName"));
        assert!(supported(pods, "status.phase"));
        assert!(supported(pods, "metadata.name"));
        assert!(!supported(pods, "spec.containers"));
        let configmaps = by_plural("", "v1", "configmaps").unwrap();
        assert!(!supported(configmaps, "status.phase"));
    }

    #[test]
    fn absent_fields_are_empty_so_unscheduled_pods_can_be_selected() {
        let pods = by_plural("", "v1", "pods").unwrap();
        let pod =
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {}, "status": {"phase": "Pending"}});
        let fields = selectable(pods, &pod);
        assert!(fields.contains(&("spec.nodeName", String::new())));
        assert!(fields.contains(&("status.phase", "Pending".into())));
        assert!(fields.contains(&("spec.hostNetwork", "false".into())));
        assert!(fields.contains(&("metadata.namespace", "default".into())));
    }

    #[test]
    fn numbers_print_and_an_events_source_is_its_component() {
        let replicasets = by_plural("apps", "v1", "replicasets").unwrap();
        let rs = json!({"metadata": {"name": "web"}, "status": {"replicas": 3}});
        assert!(selectable(replicasets, &rs).contains(&("status.replicas", "3".into())));
        let event = json!({"source": {"component": "kubelet"}});
        assert_eq!(value(&event, "source"), "kubelet");
    }
}
