//! Which lists are keyed, which are sets and which are atomic; which objects are atomic.
//!
//! Upstream reads this from the OpenAPI schema of each kind (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, and the patch merge keys as a
//! fallback: see `k8s.io/kube-openapi/pkg/schemaconv`), which come from the Go types' markers
//! (`+listType=map`, `+listMapKey=name`, `+structType=atomic`). Skiff has no Go types, so this
//! file knows the markers of the built-in kinds it serves by field name and, where a name means
//! two things, by the field around it — the same approach as `strategic::merge_key`, and the
//! same table checked against Kubernetes 1.31's types (the `DeepMerge` strategies of
//! `k8s-openapi` list them; the multi-field keys come from the Go markers).
//!
//! What the shape of a field decides:
//!
//! - **Keyed list** (`+listType=map`): elements are merged and owned one by one, found by their
//!   key: containers by `name`, container ports by `containerPort` and `protocol`.
//! - **Set** (`+listType=set`): scalars merged and owned one by one (`metadata.finalizers`).
//! - **Atomic list** (everything else: `args`, `command`, `tolerations`, Ingress `rules`): one
//!   value, replaced whole and owned whole.
//! - **Atomic object** (`+structType=atomic`, `+mapType=atomic`): a label selector, a
//!   `nodeSelector`, a `secretKeyRef`: replaced whole and owned whole. Every other object is
//!   granular: merged and owned key by key (labels and annotations included).
//!
//! Left out: custom resources (their schemas would come from the CRD), and versions other than
//! the one Skiff serves per kind, so no conversion between versions.

use serde_json::{json, Value};

use crate::registry;

/// One key field of a keyed list, with the value it takes when an element leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyField {
    pub name: &'static str,
    /// Upstream fills a missing key field with its schema default before building the key, so
    /// `- containerPort: 80` is the element `k:{"containerPort":80,"protocol":"TCP"}`.
    pub default: Option<&'static str>,
}

const fn key(name: &'static str) -> KeyField {
    KeyField { name, default: None }
}

const BY_NAME: &[KeyField] = &[key("name")];
const BY_TYPE: &[KeyField] = &[key("type")];
const BY_IP: &[KeyField] = &[key("ip")];
const TCP: Option<&str> = Some("TCP");
const CONTAINER_PORT: &[KeyField] = &[key("containerPort"), KeyField { name: "protocol", default: TCP }];
const SERVICE_PORT: &[KeyField] = &[key("port"), KeyField { name: "protocol", default: TCP }];
const SPREAD: &[KeyField] = &[key("topologyKey"), key("whenUnsatisfiable")];
const BY_MOUNT_PATH: &[KeyField] = &[key("mountPath")];
const BY_DEVICE_PATH: &[KeyField] = &[key("devicePath")];
const BY_UID: &[KeyField] = &[key("uid")];

/// How a list field merges and is owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Elements are objects found by these key fields; `atomic_elements` when each element is
    /// itself an atomic object (`imagePullSecrets`, `ownerReferences`).
    Keyed { keys: &'static [KeyField], atomic_elements: bool },
    /// Scalars, each owned on its own.
    Set,
    /// One value.
    Atomic,
}

const fn keyed(keys: &'static [KeyField]) -> ListType {
    ListType::Keyed { keys, atomic_elements: false }
}

const fn keyed_atomic(keys: &'static [KeyField]) -> ListType {
    ListType::Keyed { keys, atomic_elements: true }
}

/// The schema of one kind. `at` arguments are the field names from the root to the field,
/// without list elements: a container's ports are at `spec.template.spec.containers.ports`.
#[derive(Debug, Clone, Copy)]
pub struct Schema<'k> {
    pub api_version: &'k str,
    pub kind: &'k str,
}

fn is_container_list(field: &str) -> bool {
    matches!(field, "containers" | "initContainers" | "ephemeralContainers")
}

impl<'k> Schema<'k> {
    /// The schema of the kind named by an object's `apiVersion` and `kind`.
    pub fn of(object: &'k Value) -> Schema<'k> {
        Schema {
            api_version: object.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
            kind: object.get("kind").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// How the list at `at` merges.
    pub fn list_type(&self, at: &[&str]) -> ListType {
        let (field, parent) = match at {
            [] => return ListType::Atomic,
            [field] => (*field, ""),
            [.., parent, field] => (*field, *parent),
        };
        match field {
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "volumes"
            | "resourceClaims"
            | "schedulingGates"
            | "env"
            | "resourceClaimStatuses" => keyed(BY_NAME),
            "claims" if parent == "resources" => keyed(BY_NAME),
            // A pod's pull secrets are keyed; a ServiceAccount's (at the root) are not.
            "imagePullSecrets" if !parent.is_empty() => keyed_atomic(BY_NAME),
            "secrets" if parent.is_empty() && self.kind == "ServiceAccount" => keyed_atomic(BY_NAME),
            "ports" if is_container_list(parent) => keyed(CONTAINER_PORT),
            "ports" if self.kind == "Service" && at == ["spec", "ports"] => keyed(SERVICE_PORT),
            "hostAliases" => keyed(BY_IP),
            "podIPs" | "hostIPs" if parent == "status" => keyed(BY_IP),
            "topologySpreadConstraints" => keyed(SPREAD),
            "volumeMounts" => keyed(BY_MOUNT_PATH),
            "volumeDevices" => keyed(BY_DEVICE_PATH),
            "conditions" => keyed(BY_TYPE),
            "addresses" if parent == "status" && self.kind == "Node" => keyed(BY_TYPE),
            "addresses" if parent == "endpoints" => ListType::Set,
            "ownerReferences" if parent == "metadata" => keyed_atomic(BY_UID),
            "finalizers" if parent == "metadata" => ListType::Set,
            "podCIDRs" => ListType::Set,
            "failed" | "succeeded" if parent == "uncountedTerminatedPods" => ListType::Set,
            "values" if parent == "onExitCodes" => ListType::Set,
            _ => ListType::Atomic,
        }
    }

    /// Whether the object at `at` is atomic: replaced and owned whole.
    pub fn is_atomic_object(&self, at: &[&str]) -> bool {
        let (field, parent) = match at {
            [] => return false,
            [field] => (*field, ""),
            [.., parent, field] => (*field, *parent),
        };
        match field {
            // Label selectors (`+structType=atomic`) and the Service's selector map.
            "selector" | "labelSelector" | "namespaceSelector" | "nodeSelector" => true,
            // Node selectors and their terms.
            "requiredDuringSchedulingIgnoredDuringExecution" => parent == "nodeAffinity",
            "preference" => true,
            // References to one key or one field.
            "configMapKeyRef" | "secretKeyRef" | "fieldRef" | "resourceFieldRef" => true,
            // Object references.
            "claimRef" | "involvedObject" | "related" | "dataSource" | "targetRef" | "secretRef" => true,
            "resource" => matches!(parent, "defaultBackend" | "backend"),
            _ => false,
        }
    }

    /// The fields a write through `subresource` never records. A main-resource write cannot
    /// change `status` of a kind that has a status subresource (the API server resets it), so
    /// it owns none of it; a write through `/status` owns only status (and metadata).
    pub fn ignored_roots(&self, subresource: Option<&str>) -> &'static [&'static str] {
        match subresource {
            Some("status") => &["spec"],
            Some(_) => &[],
            None => {
                let has_status = registry::by_kind(self.api_version, self.kind)
                    .is_some_and(|resource| resource.subresource("status").is_some());
                if has_status {
                    &["status"]
                } else {
                    &[]
                }
            }
        }
    }

    /// What an object of this kind looks like before anything is set: the Go zero value
    /// Kubernetes compares a create against. Its non-pointer structs (`spec`, the pod
    /// template, a Deployment's `strategy`) already exist in it, which is why a create records
    /// `f:spec` without `.` but `f:rollingUpdate` with it.
    pub fn zero_value(&self) -> Value {
        let pod_template = json!({"metadata": {}, "spec": {"containers": []}});
        match self.kind {
            "Deployment" => json!({"metadata": {}, "spec": {"template": pod_template, "strategy": {}}, "status": {}}),
            "StatefulSet" | "DaemonSet" => {
                json!({"metadata": {}, "spec": {"template": pod_template, "updateStrategy": {}}, "status": {}})
            }
            "ReplicaSet" | "Job" => json!({"metadata": {}, "spec": {"template": pod_template}, "status": {}}),
            "Pod" => json!({"metadata": {}, "spec": {"containers": []}, "status": {}}),
            "Service" | "Ingress" => json!({"metadata": {}, "spec": {}, "status": {"loadBalancer": {}}}),
            "Namespace" | "Node" | "PersistentVolume" | "PersistentVolumeClaim" => {
                json!({"metadata": {}, "spec": {}, "status": {}})
            }
            _ => json!({"metadata": {}}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: Schema = Schema { api_version: "apps/v1", kind: "Deployment" };
    const SERVICE: Schema = Schema { api_version: "v1", kind: "Service" };

    #[test]
    fn lists_are_keyed_as_the_go_markers_say() {
        let cases: &[(&Schema, &[&str], ListType)] = &[
            (&DEPLOYMENT, &["spec", "template", "spec", "containers"], keyed(BY_NAME)),
            (&DEPLOYMENT, &["spec", "template", "spec", "containers", "env"], keyed(BY_NAME)),
            (&DEPLOYMENT, &["spec", "template", "spec", "initContainers", "ports"], keyed(CONTAINER_PORT)),
            (&SERVICE, &["spec", "ports"], keyed(SERVICE_PORT)),
            (&DEPLOYMENT, &["spec", "template", "spec", "imagePullSecrets"], keyed_atomic(BY_NAME)),
            (&DEPLOYMENT, &["status", "conditions"], keyed(BY_TYPE)),
            (&DEPLOYMENT, &["metadata", "finalizers"], ListType::Set),
            (&DEPLOYMENT, &["metadata", "ownerReferences"], keyed_atomic(BY_UID)),
            (&DEPLOYMENT, &["spec", "template", "spec", "containers", "args"], ListType::Atomic),
            (&DEPLOYMENT, &["spec", "template", "spec", "containers", "envFrom"], ListType::Atomic),
            (&DEPLOYMENT, &["spec", "template", "spec", "tolerations"], ListType::Atomic),
        ];
        for (schema, at, want) in cases {
            assert_eq!(schema.list_type(at), *want, "{}", at.join("."));
        }
    }

    #[test]
    fn selectors_and_references_are_atomic_objects_and_the_rest_granular() {
        let template = ["spec", "template", "spec"];
        assert!(DEPLOYMENT.is_atomic_object(&["spec", "selector"]));
        assert!(SERVICE.is_atomic_object(&["spec", "selector"]));
        assert!(
            DEPLOYMENT.is_atomic_object(&[&template[..], &["containers", "env", "valueFrom", "secretKeyRef"]].concat())
        );
        assert!(!DEPLOYMENT.is_atomic_object(&["metadata", "labels"]), "labels merge key by key");
        assert!(!DEPLOYMENT.is_atomic_object(&["spec", "strategy"]));
    }

    #[test]
    fn main_resource_writes_ignore_status_only_for_kinds_with_a_status_subresource() {
        assert_eq!(DEPLOYMENT.ignored_roots(None), &["status"]);
        assert_eq!(DEPLOYMENT.ignored_roots(Some("status")), &["spec"]);
        assert_eq!(DEPLOYMENT.ignored_roots(Some("scale")), &[] as &[&str]);
        let config_map = Schema { api_version: "v1", kind: "ConfigMap" };
        assert_eq!(config_map.ignored_roots(None), &[] as &[&str]);
    }
}
