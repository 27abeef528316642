//! The cluster's own objects: Namespaces, Nodes, Leases and Events.
//!
//! Mirrors `ValidateNamespace`, `ValidateNode`, `ValidateNodeUpdate` and `ValidateEvent` (the
//! core/v1 path) in kubernetes `pkg/apis/core/validation`, and `ValidateLease` in
//! `pkg/apis/coordination/validation/validation.go`. A node's `podCIDR`(s) may be set once
//! (the node IPAM controller does it) and never changed, because pods already have addresses
//! from it. Kubernetes reports a node's taints at `metadata.taints`, and so does Skiff. Left
//! out: node status addresses and config sources, the events.k8s.io/v1 rules (reporting
//! controller, series, event time).

use serde_json::Value;

use super::field::{FieldError, Path};
use super::json::{int, list, text};
use super::meta::kube_finalizer_name;
use super::names::{is_cidr, qualified_name, CIDR_MESSAGE};
use super::resources::quantity;
use super::scheduling::taints;

/// A Namespace's `spec.finalizers`.
pub fn namespace(object: &Value) -> Vec<FieldError> {
    let path = Path::new("spec").child("finalizers");
    let mut errors = Vec::new();
    for name in list(&object["spec"], "finalizers").iter().filter_map(Value::as_str) {
        errors.extend(qualified_name(name).into_iter().map(|p| FieldError::invalid(&path, name, p)));
        errors.extend(kube_finalizer_name(name, &path));
    }
    errors
}

/// `spec.podCIDRs`, with a lone `spec.podCIDR` read as its first entry (as the v1 conversion
/// does).
fn pod_cidrs(spec: &Value) -> Vec<String> {
    let cidrs: Vec<String> = list(spec, "podCIDRs").iter().filter_map(Value::as_str).map(str::to_string).collect();
    match text(spec, "podCIDR") {
        cidr if cidrs.is_empty() && !cidr.is_empty() => vec![cidr.to_string()],
        _ => cidrs,
    }
}

/// A Node's taints, pod CIDRs and resource quantities.
pub fn node(object: &Value) -> Vec<FieldError> {
    let spec = &object["spec"];
    let mut errors = taints(list(spec, "taints"), &Path::new("metadata").child("taints"));
    for section in ["capacity", "allocatable"] {
        for (name, value) in object["status"][section].as_object().into_iter().flatten() {
            let at = Path::new("status").child(section).child(name);
            match quantity(value, &at) {
                Err(error) => errors.push(error),
                Ok(q) if q.is_negative() => {
                    errors.push(FieldError::invalid(at, value.as_str().unwrap_or_default(), super::names::NEGATIVE))
                }
                Ok(_) => {}
            }
        }
    }
    let cidrs = pod_cidrs(spec);
    let at = Path::new("spec").child("podCIDRs");
    for (i, cidr) in cidrs.iter().enumerate() {
        if !is_cidr(cidr) {
            errors.push(FieldError::invalid(at.index(i), cidr.as_str(), CIDR_MESSAGE));
        }
    }
    if cidrs.len() > 1 {
        let families: std::collections::BTreeSet<bool> = cidrs.iter().map(|c| c.contains(':')).collect();
        if families.len() != cidrs.len() {
            errors.push(FieldError::invalid(
                &at,
                Value::from(cidrs.clone()),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        for (i, cidr) in cidrs.iter().enumerate() {
            if cidrs[..i].contains(cidr) {
                errors.push(FieldError::duplicate(at.index(i), cidr.as_str()));
            }
        }
    }
    errors
}

/// A Node may get its pod CIDRs and provider ID once; after that they are fixed.
pub fn node_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let before = pod_cidrs(&old["spec"]);
    if !before.is_empty() && pod_cidrs(&new["spec"]) != before {
        errors.push(FieldError::forbidden(
            "spec.podCIDRs",
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    let provider = text(&old["spec"], "providerID");
    if !provider.is_empty() && provider != text(&new["spec"], "providerID") {
        errors.push(FieldError::forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    errors
}

/// A Lease's duration is positive, its transition count not negative.
pub fn lease(object: &Value) -> Vec<FieldError> {
    let spec = &object["spec"];
    let mut errors = Vec::new();
    if let Some(duration) = int(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        errors.push(FieldError::invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"));
    }
    if let Some(transitions) = int(spec, "leaseTransitions").filter(|t| *t < 0) {
        errors.push(FieldError::invalid("spec.leaseTransitions", transitions, super::names::NEGATIVE));
    }
    errors
}

/// An Event lives in the namespace of the object it is about (or `default` for cluster-scoped
/// ones).
pub fn event(object: &Value) -> Vec<FieldError> {
    let namespace = text(&object["metadata"], "namespace");
    let involved = text(&object["involvedObject"], "namespace");
    let agrees =
        if involved.is_empty() { namespace.is_empty() || namespace == "default" } else { involved == namespace };
    if agrees {
        Vec::new()
    } else {
        vec![FieldError::invalid("involvedObject.namespace", involved, "does not match event.namespace")]
    }
}
