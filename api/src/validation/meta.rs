//! `metadata`: the rules every object obeys, on create and on update.
//!
//! Mirrors apimachinery's `pkg/api/validation/objectmeta.go` (`ValidateObjectMetaAccessor`,
//! `ValidateObjectMetaAccessorUpdate`, `ValidateAnnotations`, `ValidateOwnerReferences`,
//! `ValidateFinalizers`) and the name rules each kind picks in `pkg/apis/*/validation`
//! (`ValidateServiceName` is a DNS-1035 label, namespaces and StatefulSets are DNS-1123 labels,
//! everything else a DNS-1123 subdomain).
//!
//! Skiff differs in two small ways, both so the API server may call these before or after it
//! generates a name: a missing `name` is only reported when `generateName` is missing too, and
//! the name's shape is not checked again on update (Kubernetes does the latter for StatefulSets,
//! whose name rule became stricter). Left out: `managedFields`, and `resourceVersion` being
//! required on update (Skiff allows unconditional updates, as Kubernetes does for most kinds).

use serde_json::{Map, Value};

use super::field::{FieldError, Path};
use super::json::{list, obj, opt_text, text};
use super::names::{dns1035_label, dns1123_label, dns1123_subdomain, label_value, qualified_name, NEGATIVE};
use crate::registry::Resource;

/// `TotalAnnotationSizeLimitB`: annotations' keys and values together, 256 KiB.
pub const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// Finalizers Kubernetes knows without a `/`-qualified name.
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// Problems of `name` as the name of a `resource` object. With `prefix`, the name is a
/// `generateName` and may end in `-` (Kubernetes' `maskTrailingDash`).
pub fn name_problems(resource: &Resource, name: &str, prefix: bool) -> Vec<String> {
    let name = &masked(name, prefix);
    match (resource.group, resource.plural) {
        ("", "services") => dns1035_label(name),
        ("", "namespaces") | ("apps", "statefulsets") => dns1123_label(name),
        _ => dns1123_subdomain(name),
    }
}

/// Problems of `name` as a DNS-subdomain object name (`NameIsDNSSubdomain`), a prefix or not.
pub fn subdomain_name(name: &str, prefix: bool) -> Vec<String> {
    dns1123_subdomain(&masked(name, prefix))
}

/// A generated name's prefix may end in `-`: Kubernetes checks it with the dash replaced.
fn masked(name: &str, prefix: bool) -> String {
    if prefix && name.len() > 1 && name.ends_with('-') {
        format!("{}a", &name[..name.len() - 2])
    } else {
        name.to_string()
    }
}

/// The rules for `object.metadata` when `resource` is created (or, with `update`, replaced: the
/// name's shape is then left alone).
pub fn validate(resource: &Resource, object: &Value, update: bool) -> Vec<FieldError> {
    let path = Path::new("metadata");
    let meta = object.get("metadata").unwrap_or(&Value::Null);
    let mut errors = Vec::new();
    let (name, generate) = (text(meta, "name"), text(meta, "generateName"));
    if !update {
        if !generate.is_empty() {
            for problem in name_problems(resource, generate, true) {
                errors.push(FieldError::invalid(path.child("generateName"), generate, problem));
            }
        }
        if name.is_empty() && generate.is_empty() {
            errors.push(FieldError::required(path.child("name"), "name or generateName is required"));
        }
        for problem in if name.is_empty() { Vec::new() } else { name_problems(resource, name, false) } {
            errors.push(FieldError::invalid(path.child("name"), name, problem));
        }
    }
    let namespace = text(meta, "namespace");
    match (resource.namespaced, namespace.is_empty()) {
        (true, true) => errors.push(FieldError::required(path.child("namespace"), "")),
        (true, false) => errors.extend(
            dns1123_label(namespace).into_iter().map(|p| FieldError::invalid(path.child("namespace"), namespace, p)),
        ),
        (false, false) => errors.push(FieldError::forbidden(path.child("namespace"), "not allowed on this type")),
        (false, true) => {}
    }
    if let Some(generation) = meta.get("generation").and_then(Value::as_i64).filter(|g| *g < 0) {
        errors.push(FieldError::invalid(path.child("generation"), generation, NEGATIVE));
    }
    errors.extend(validate_labels(obj(meta, "labels"), &path.child("labels")));
    errors.extend(validate_annotations(obj(meta, "annotations"), &path.child("annotations")));
    errors.extend(owner_references(list(meta, "ownerReferences"), &path.child("ownerReferences")));
    errors.extend(finalizers(list(meta, "finalizers"), &path.child("finalizers")));
    errors
}

/// What may not change when an object is replaced.
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let path = Path::new("metadata");
    let (new, old) = (new.get("metadata").unwrap_or(&Value::Null), old.get("metadata").unwrap_or(&Value::Null));
    let mut errors = Vec::new();
    for field in ["name", "namespace"] {
        if text(new, field) != text(old, field) {
            errors.push(FieldError::immutable(path.child(field), text(new, field)));
        }
    }
    // An update without a uid keeps the stored one (Kubernetes' BeforeUpdate); a different one is
    // an attempt to change it.
    if let Some(uid) = opt_text(new, "uid").filter(|uid| !uid.is_empty() && *uid != text(old, "uid")) {
        errors.push(FieldError::immutable(path.child("uid"), uid));
    }
    if old.get("deletionTimestamp").is_some_and(|t| !t.is_null()) {
        let before = list(old, "finalizers");
        let mut added: Vec<&str> =
            list(new, "finalizers").iter().filter(|f| !before.contains(f)).filter_map(Value::as_str).collect();
        added.sort();
        added.dedup();
        if !added.is_empty() {
            let shown: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
            errors.push(FieldError::forbidden(
                path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    shown.join(", ")
                ),
            ));
        }
    }
    errors
}

/// A label map (metadata, a pod template, a node selector, a Service selector) at `path`.
pub fn validate_labels(labels: Option<&Map<String, Value>>, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in labels.into_iter().flatten() {
        let value = value.as_str().unwrap_or_default();
        errors.extend(qualified_name(key).into_iter().map(|p| FieldError::invalid(path, key.as_str(), p)));
        errors.extend(label_value(value).into_iter().map(|p| FieldError::invalid(path, value, p)));
    }
    errors
}

/// Annotation keys are qualified names in any case; all of them together are at most 256 KiB.
pub fn validate_annotations(annotations: Option<&Map<String, Value>>, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut size = 0;
    for (key, value) in annotations.into_iter().flatten() {
        let problems = qualified_name(&key.to_lowercase());
        errors.extend(problems.into_iter().map(|p| FieldError::invalid(path, key.as_str(), p)));
        size += key.len() + value.as_str().map_or(0, str::len);
    }
    if size > ANNOTATIONS_MAX_BYTES {
        errors.push(FieldError::too_long(path, ANNOTATIONS_MAX_BYTES));
    }
    errors
}

/// `apiVersion`, `kind`, `name` and `uid` are all needed to find an owner; at most one owner is
/// the controller. (Kubernetes reports these at `metadata.ownerReferences.<field>`, no index.)
fn owner_references(references: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut controller: Option<String> = None;
    for reference in references {
        let api_version = text(reference, "apiVersion");
        let version = match api_version.split('/').collect::<Vec<_>>()[..] {
            [version] | [_, version] => version,
            _ => "",
        };
        if version.is_empty() {
            errors.push(FieldError::invalid(path.child("apiVersion"), api_version, "version must not be empty"));
        }
        for field in ["kind", "name", "uid"] {
            if text(reference, field).is_empty() {
                errors.push(FieldError::invalid(path.child(field), text(reference, field), "must not be empty"));
            }
        }
        if api_version == "v1" && text(reference, "kind") == "Event" {
            errors.push(FieldError::invalid(
                path,
                reference.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if reference.get("controller").and_then(Value::as_bool) == Some(true) {
            let this = format!("{}/{}", text(reference, "kind"), text(reference, "name"));
            match &controller {
                Some(first) => errors.push(FieldError::invalid(
                    path,
                    Value::Array(references.to_vec()),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"),
                )),
                None => controller = Some(this),
            }
        }
    }
    errors
}

fn finalizers(finalizers: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let names: Vec<&str> = finalizers.iter().filter_map(Value::as_str).collect();
    for name in &names {
        errors.extend(qualified_name(name).into_iter().map(|p| FieldError::invalid(path, *name, p)));
    }
    if names.contains(&"orphan") && names.contains(&"foregroundDeletion") {
        errors.push(FieldError::invalid(
            path,
            Value::from(names.clone()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    for (i, name) in names.iter().enumerate() {
        errors.extend(kube_finalizer_name(name, &path.index(i)));
    }
    errors
}

/// A finalizer without a `/` must be one Kubernetes defines.
pub fn kube_finalizer_name(name: &str, path: &Path) -> Vec<FieldError> {
    if name.contains('/') || STANDARD_FINALIZERS.contains(&name) {
        return Vec::new();
    }
    vec![FieldError::invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")]
}

/// The metadata of a pod template (or a claim template): only labels and annotations count.
pub fn validate_template(meta: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = validate_labels(obj(meta, "labels"), &path.child("labels"));
    errors.extend(validate_annotations(obj(meta, "annotations"), &path.child("annotations")));
    errors
}
