//! Validation: Kubernetes' per-kind rules, as pure functions of the object's JSON, with the
//! field paths and messages Kubernetes prints.
//!
//! Kubernetes answers a bad object with `422 Invalid` and a `Status` listing every bad field:
//! `Deployment.apps "web" is invalid: [spec.template.spec.containers[0].name: Required value,
//! spec.template.metadata.labels: Invalid value: map[string]string{"app":"nginx"}: `selector`
//! does not match template `labels`]`. The functions here compute that list;
//! [`crate::status::Status::invalid`] turns it into the body. Each file mirrors a part of
//! kubernetes `pkg/apis/*/validation` (its module doc names it and what it leaves out).
//!
//! # Calling them
//!
//! 1. Create (POST, and the create half of an apply): after [`crate::defaults::apply`], after
//!    `metadata.namespace` is set from the URL (and cleared for cluster-scoped kinds), as
//!    Kubernetes' `BeforeCreate` does; before or after the name is generated from
//!    `generateName` (both work). Call [`validate_create`]; if it returns errors, answer
//!    `Status::invalid(resource, name, &errors)` and store nothing.
//! 2. Update (PUT, and every PATCH once the patch is applied to the stored object): after
//!    defaulting the new object, call [`validate_update`] with the stored object as `old`. It
//!    applies the create rules to the new object, then what may not change.
//! 3. Status update (`/status`): [`validate_status_update`].
//!
//! Services are the exception to "after defaulting": their defaults come with the ClusterIP
//! allocation, so [`service`]'s rules read absent fields as defaults and may run before it.
//!
//! # Layout
//!
//! - [`field`]: `FieldError`, how bad values print, field paths; [`names`]: name and value
//!   shapes (DNS labels, qualified names, port names, …); [`json`]: reading JSON safely.
//! - [`meta`]: `metadata` on create and update; [`label_selector`]: selectors in objects.
//! - [`pod`], [`container`], [`probe`], [`resources`], [`volume`], [`scheduling`]: pods and
//!   the PodSpec of every template.
//! - [`workloads`] (Deployment, ReplicaSet, DaemonSet, ControllerRevision), [`statefulset`],
//!   [`job`].
//! - [`service`], [`endpoints`] (Endpoints, EndpointSlice), [`config`] (ConfigMap, Secret),
//!   [`storage`] (PersistentVolume, PersistentVolumeClaim, StorageClass), [`networking`]
//!   (Ingress, IngressClass), [`cluster`] (Namespace, Node, Lease, Event).
//!
//! Left out overall: CRDs and the kinds Skiff does not serve; Kubernetes' decode-time errors
//! (wrong JSON types are read as absent here: see [`json`]); feature-gated fields that are off
//! in 1.31; the warnings Kubernetes returns alongside accepted objects.

pub mod cluster;
pub mod config;
pub mod container;
pub mod endpoints;
pub mod field;
pub mod job;
pub mod json;
pub mod label_selector;
pub mod meta;
pub mod names;
pub mod networking;
pub mod pod;
pub mod probe;
pub mod resources;
pub mod scheduling;
pub mod service;
pub mod statefulset;
pub mod storage;
pub mod volume;
pub mod workloads;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use field::{BadValue, ErrorType, FieldError, Path};
pub use meta::{name_problems, validate_labels};
pub use names::{
    dns1035_label, dns1123_label, dns1123_subdomain, label_value, labels, qualified_name, FIELD_IMMUTABLE, NEGATIVE,
};

use crate::registry::Resource;

/// Rules of one kind beyond its metadata: on create, and what else an update may not do.
type Rules = fn(&Value) -> Vec<FieldError>;
type UpdateRules = fn(&Value, &Value) -> Vec<FieldError>;

fn nothing(_: &Value) -> Vec<FieldError> {
    Vec::new()
}

fn nothing_more(_: &Value, _: &Value) -> Vec<FieldError> {
    Vec::new()
}

/// The rules of `resource`'s kind.
fn rules(resource: &Resource) -> (Rules, UpdateRules) {
    match (resource.group, resource.plural) {
        ("", "pods") => (pod::validate_create, pod::validate_update),
        ("", "services") => (service::validate, service::validate_update),
        ("", "endpoints") => (endpoints::endpoints, nothing_more),
        ("", "configmaps") => (config::config_map, config::config_map_update),
        ("", "secrets") => (config::secret, config::secret_update),
        ("", "namespaces") => (cluster::namespace, nothing_more),
        ("", "nodes") => (cluster::node, cluster::node_update),
        ("", "events") => (cluster::event, nothing_more),
        ("", "persistentvolumes") => (storage::persistent_volume, storage::persistent_volume_update),
        ("", "persistentvolumeclaims") => (storage::claim, storage::claim_update),
        ("apps", "deployments") => (workloads::deployment, workloads::selector_immutable),
        ("apps", "replicasets") => (workloads::replica_set, workloads::selector_immutable),
        ("apps", "daemonsets") => (workloads::daemon_set, workloads::selector_immutable),
        ("apps", "statefulsets") => (statefulset::validate, statefulset::validate_update),
        ("apps", "controllerrevisions") => (workloads::controller_revision, workloads::controller_revision_update),
        ("batch", "jobs") => (job::validate, job::validate_update),
        ("coordination.k8s.io", "leases") => (cluster::lease, nothing_more),
        ("discovery.k8s.io", "endpointslices") => (endpoints::endpoint_slice_create, endpoints::endpoint_slice_update),
        ("networking.k8s.io", "ingresses") => (networking::ingress_create, nothing_more),
        ("networking.k8s.io", "ingressclasses") => (networking::ingress_class, networking::ingress_class_update),
        ("storage.k8s.io", "storageclasses") => (storage::storage_class, storage::storage_class_update),
        // ServiceAccounts, and kinds without rules of their own: metadata only.
        _ => (nothing, nothing_more),
    }
}

/// Every problem of `object` as a new `resource` object, in Kubernetes' order (metadata first).
pub fn validate_create(resource: &Resource, object: &Value) -> Vec<FieldError> {
    let (create, _) = rules(resource);
    let mut errors = meta::validate(resource, object, false);
    errors.extend(create(object));
    errors
}

/// Every problem of replacing `old` with `new`: the create rules on `new` (except the name's
/// shape, which cannot change anyway), then what may not change.
pub fn validate_update(resource: &Resource, new: &Value, old: &Value) -> Vec<FieldError> {
    let (create, update) = rules(resource);
    let mut errors = meta::validate_update(new, old);
    errors.extend(meta::validate(resource, new, true));
    errors.extend(match (resource.group, resource.plural) {
        // Kubernetes checks a pod update against the pod rules, not the create-only ones.
        ("", "pods") => pod::validate(new),
        // And an Ingress's class annotation only on create.
        ("networking.k8s.io", "ingresses") => networking::ingress(new),
        _ => create(new),
    });
    errors.extend(update(new, old));
    errors
}

/// Every problem of a `/status` update: metadata may not change what it never may, and a
/// workload's counters are never negative nor above `status.replicas`.
pub fn validate_status_update(resource: &Resource, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_update(new, old);
    let counters = matches!(
        (resource.group, resource.plural),
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") | ("batch", "jobs")
    );
    if !counters {
        return errors;
    }
    let status = &new["status"];
    let path = Path::new("status");
    for (field, value) in status.as_object().into_iter().flatten() {
        if let Some(n) = value.as_i64().filter(|n| *n < 0) {
            errors.push(FieldError::invalid(path.child(field), n, NEGATIVE));
        }
    }
    if resource.group == "apps" && resource.plural != "daemonsets" {
        let replicas = json::int(status, "replicas").unwrap_or(0);
        for field in ["updatedReplicas", "readyReplicas", "availableReplicas", "currentReplicas"] {
            if let Some(n) = json::int(status, field).filter(|n| *n > replicas) {
                errors.push(FieldError::invalid(path.child(field), n, "cannot be greater than status.replicas"));
            }
        }
    }
    errors
}
