//! PersistentVolumes, PersistentVolumeClaims (and the claim templates of StatefulSets and
//! ephemeral volumes), StorageClasses.
//!
//! Mirrors `ValidatePersistentVolumeSpec`, `ValidatePersistentVolumeUpdate`,
//! `ValidatePersistentVolumeClaimSpec` and `ValidatePersistentVolumeClaimUpdate` in kubernetes
//! `pkg/apis/core/validation/validation.go`, and `ValidateStorageClass(Update)` in
//! `pkg/apis/storage/validation/validation.go`, with their path quirks (`spec.resources[storage]`
//! for a claim's missing request, `volumeMode` without `spec.` on update).
//!
//! A claim's spec is fixed once created, except that its `volumeName` may be set once (binding),
//! an unset `storageClassName` may be set, and a *bound* claim may grow
//! `resources.requests.storage` (never shrink it). Left out: the sources' insides beyond
//! hostPath, nfs, local and csi; `volumeAttributesClassName` rules; the beta storage-class
//! annotation upgrade path; data source namespaces; StorageClass `allowedTopologies`.

use serde_json::Value;

use super::field::{FieldError, Path};
use super::json::{differences, has, list, obj, same, text};
use super::names::{dns1123_subdomain, qualified_name};
use super::resources::quantity;
use super::scheduling::node_selector;
use super::{label_selector, meta, volume};

const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
/// A PersistentVolume's sources, in the order Kubernetes tries them, with the name its "more
/// than 1 volume type" error uses.
const PV_SOURCES: &[(&str, &str)] = &[
    ("hostPath", "hostPath"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("nfs", "nfs"),
    ("rbd", "rbd"),
    ("quobyte", "quobyte"),
    ("cephfs", "cephFS"),
    ("iscsi", "iscsi"),
    ("cinder", "cinder"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("scaleIO", "scaleIO"),
    ("local", "local"),
    ("storageos", "storageos"),
    ("csi", "csi"),
];

fn access_modes(spec: &Value, required_detail: &str, path: &Path) -> Vec<FieldError> {
    let modes: Vec<&str> = list(spec, "accessModes").iter().map(|m| m.as_str().unwrap_or_default()).collect();
    let at = path.child("accessModes");
    let mut errors = Vec::new();
    if modes.is_empty() {
        errors.push(FieldError::required(&at, required_detail));
    }
    for mode in modes.iter().filter(|m| !ACCESS_MODES.contains(m)) {
        errors.push(FieldError::not_supported(&at, *mode, ACCESS_MODES));
    }
    let once_pod = modes.contains(&"ReadWriteOncePod");
    if once_pod && modes.iter().any(|m| *m != "ReadWriteOncePod" && ACCESS_MODES.contains(m)) {
        errors.push(FieldError::forbidden(&at, "may not use ReadWriteOncePod with other access modes"));
    }
    errors
}

fn class_and_mode(spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let class = text(spec, "storageClassName");
    if !class.is_empty() {
        errors.extend(
            dns1123_subdomain(class).into_iter().map(|p| FieldError::invalid(path.child("storageClassName"), class, p)),
        );
    }
    if let Some(mode) = spec.get("volumeMode").and_then(Value::as_str).filter(|m| !VOLUME_MODES.contains(m)) {
        errors.push(FieldError::not_supported(path.child("volumeMode"), mode, VOLUME_MODES));
    }
    errors
}

/// A PersistentVolume's `spec`.
pub fn persistent_volume(object: &Value) -> Vec<FieldError> {
    let (spec, path) = (&object["spec"], Path::new("spec"));
    let mut errors = access_modes(spec, "", &path);
    let capacity = obj(spec, "capacity");
    let at = path.child("capacity");
    if capacity.is_none_or(|c| c.is_empty()) {
        errors.push(FieldError::required(&at, ""));
    }
    if capacity.is_none_or(|c| !c.contains_key("storage") || c.len() > 1) {
        errors.push(FieldError::not_supported(&at, spec.get("capacity").cloned().unwrap_or(Value::Null), &["storage"]));
    }
    for (name, value) in capacity.into_iter().flatten() {
        errors.extend(positive_quantity(value, &at.key(name)));
    }
    let policy = text(spec, "persistentVolumeReclaimPolicy");
    if !policy.is_empty() && !["Delete", "Recycle", "Retain"].contains(&policy) {
        errors.push(FieldError::not_supported(
            path.child("persistentVolumeReclaimPolicy"),
            policy,
            &["Delete", "Recycle", "Retain"],
        ));
    }
    let affinity = spec.get("nodeAffinity").filter(|a| !a.is_null());
    if let Some(affinity) = affinity {
        match affinity.get("required").filter(|r| !r.is_null()) {
            Some(required) => errors.extend(node_selector(required, &path.child("nodeAffinity").child("required"))),
            None => errors.push(FieldError::required(
                path.child("nodeAffinity").child("required"),
                "must specify required node constraints",
            )),
        }
    }
    errors.extend(source(spec, affinity.is_some(), &path));
    let root = spec["hostPath"]["path"].as_str().map(|p| p.trim_end_matches('/'));
    if root == Some("") && policy == "Recycle" {
        errors.push(FieldError::forbidden(
            path.child("persistentVolumeReclaimPolicy"),
            "may not be 'recycle' for a hostPath mount of '/'",
        ));
    }
    errors.extend(class_and_mode(spec, &path));
    errors
}

fn source(spec: &Value, has_affinity: bool, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut found = 0;
    for (key, forbidden_as) in PV_SOURCES {
        let Some(source) = spec.get(*key).filter(|v| !v.is_null()) else { continue };
        // Kubernetes never reports a flexVolume as a second source.
        if found > 0 && *key != "flexVolume" {
            errors.push(FieldError::forbidden(path.child(forbidden_as), "may not specify more than 1 volume type"));
            continue;
        }
        found += 1;
        let at = path.child(key);
        errors.extend(match *key {
            "hostPath" => volume::host_path(source, &at),
            "nfs" => volume::nfs(source, &at),
            "local" => {
                let mut local = match text(source, "path") {
                    "" => vec![FieldError::required(at.child("path"), "")],
                    local => volume::no_backsteps(local, &at.child("path")),
                };
                if !has_affinity {
                    local.push(FieldError::required(path.child("nodeAffinity"), "Local volume requires node affinity"));
                }
                local
            }
            "csi" => {
                let mut csi = volume::csi_driver(text(source, "driver"), &at.child("driver"));
                csi.extend(volume::required(source, &["volumeHandle"], &at));
                csi
            }
            _ => Vec::new(),
        });
    }
    if found == 0 {
        errors.push(FieldError::required(path, "must specify a volume type"));
    }
    errors
}

/// Storage must be positive: `Invalid value: "0": must be greater than zero`.
fn positive_quantity(value: &Value, path: &Path) -> Vec<FieldError> {
    match quantity(value, path) {
        Err(error) => vec![error],
        Ok(q) if q.milli_value() <= 0 => {
            vec![FieldError::invalid(
                path,
                value.as_str().map(str::to_string).unwrap_or(value.to_string()),
                "must be greater than zero",
            )]
        }
        Ok(_) => Vec::new(),
    }
}

/// A PersistentVolume's source and volume mode never change; its node affinity neither, once set.
pub fn persistent_volume_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let pick = |spec: &Value| {
        let sources: serde_json::Map<String, Value> =
            PV_SOURCES.iter().filter_map(|(k, _)| spec.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
        Value::Object(sources)
    };
    let (now, before) = (pick(&new["spec"]), pick(&old["spec"]));
    let mut errors = Vec::new();
    if !same(&now, &before) {
        let changed = differences(&before, &now, "spec").join(", ");
        errors.push(FieldError::forbidden(
            "spec.persistentvolumesource",
            format!("spec.persistentvolumesource is immutable after creation\nchanged: {changed}"),
        ));
    }
    errors.extend(volume_mode_immutable(new, old));
    if has(&old["spec"], "nodeAffinity") && !same(&new["spec"]["nodeAffinity"], &old["spec"]["nodeAffinity"]) {
        errors.push(FieldError::invalid(
            "nodeAffinity",
            new["spec"]["nodeAffinity"].clone(),
            "field is immutable, except for updating from beta label to GA",
        ));
    }
    errors
}

fn volume_mode_immutable(new: &Value, old: &Value) -> Vec<FieldError> {
    if same(&new["spec"]["volumeMode"], &old["spec"]["volumeMode"]) {
        Vec::new()
    } else {
        vec![FieldError::immutable("volumeMode", new["spec"]["volumeMode"].clone())]
    }
}

/// A claim's `spec` (of a PersistentVolumeClaim or a claim template).
pub fn claim_spec(spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = access_modes(spec, "at least 1 access mode is required", path);
    if let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) {
        errors.extend(label_selector::validate(selector, &path.child("selector")));
    }
    let storage_path = path.child("resources").key("storage");
    match spec["resources"]["requests"].get("storage") {
        None => errors.push(FieldError::required(&storage_path, "")),
        Some(storage) => errors.extend(positive_quantity(storage, &storage_path)),
    }
    errors.extend(class_and_mode(spec, path));
    for field in ["dataSource", "dataSourceRef"] {
        let Some(source) = spec.get(field).filter(|s| !s.is_null()) else { continue };
        let at = path.child(field);
        errors.extend(volume::required(source, &["name", "kind"], &at));
        let group = text(source, "apiGroup");
        if group.is_empty() && text(source, "kind") != "PersistentVolumeClaim" {
            errors.push(FieldError::invalid(
                &at,
                text(source, "kind"),
                "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            ));
        }
        if !group.is_empty() {
            errors.extend(
                dns1123_subdomain(group).into_iter().map(|p| FieldError::invalid(at.child("apiGroup"), group, p)),
            );
        }
    }
    errors
}

/// A claim template: labels and annotations, and a claim spec.
pub fn claim_template(template: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = meta::validate_template(&template["metadata"], &path.child("metadata"));
    errors.extend(claim_spec(&template["spec"], &path.child("spec")));
    errors
}

pub fn claim(object: &Value) -> Vec<FieldError> {
    claim_spec(&object["spec"], &Path::new("spec"))
}

/// What a claim update may change (see the module doc).
pub fn claim_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let (now, before) = (&new["spec"], &old["spec"]);
    let mut kept = now.clone();
    if let Some(fields) = kept.as_object_mut() {
        if text(before, "volumeName").is_empty() {
            fields.insert("volumeName".into(), before["volumeName"].clone());
        }
        if !has(before, "storageClassName") {
            fields.remove("storageClassName");
        }
    }
    if text(&new["status"], "phase") == "Bound" {
        if let Some(requests) = kept.pointer_mut("/resources/requests").and_then(Value::as_object_mut) {
            requests.insert("storage".into(), before["resources"]["requests"]["storage"].clone());
        }
    }
    let mut errors = Vec::new();
    if !same(&kept, before) {
        let changed = differences(before, &kept, "spec").join(", ");
        errors.push(FieldError::forbidden(
            "spec",
            format!("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\nchanged: {changed}"),
        ));
    }
    let size = |spec: &Value| quantity(&spec["resources"]["requests"]["storage"], &Path::new("")).ok();
    if let (Some(grown), Some(was)) = (size(now), size(before)) {
        if grown < was {
            errors.push(FieldError::forbidden(
                "spec.resources.requests.storage",
                "field can not be less than previous value",
            ));
        }
    }
    errors.extend(volume_mode_immutable(new, old));
    errors
}

/// A StorageClass: a provisioner, parameters, a reclaim policy and binding mode.
pub fn storage_class(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let provisioner = text(object, "provisioner");
    if provisioner.is_empty() {
        errors.push(FieldError::required("provisioner", ""));
    } else {
        let problems = qualified_name(&provisioner.to_lowercase());
        errors.extend(problems.into_iter().map(|p| FieldError::invalid("provisioner", provisioner, p)));
    }
    let parameters = obj(object, "parameters");
    if parameters.is_some_and(|p| p.len() > 512) {
        errors.push(FieldError::too_long("parameters", 512));
    } else {
        let mut size = 0;
        for (key, value) in parameters.into_iter().flatten() {
            if key.is_empty() {
                errors.push(FieldError::invalid("parameters", "", "field can not be empty."));
            }
            size += key.len() + value.as_str().map_or(0, str::len);
        }
        if size > 256 * 1024 {
            errors.push(FieldError::too_long("parameters", 256 * 1024));
        }
    }
    if let Some(policy) = object.get("reclaimPolicy").and_then(Value::as_str).filter(|p| !p.is_empty()) {
        if policy != "Delete" && policy != "Retain" {
            errors.push(FieldError::not_supported("reclaimPolicy", policy, &["Delete", "Retain"]));
        }
    }
    if let Some(mode) = object.get("volumeBindingMode").and_then(Value::as_str) {
        if mode != "Immediate" && mode != "WaitForFirstConsumer" {
            errors.push(FieldError::not_supported("volumeBindingMode", mode, &["Immediate", "WaitForFirstConsumer"]));
        }
    }
    errors
}

/// A StorageClass never changes what it provisions, or how (absent fields are the defaults,
/// `Delete` and `Immediate`).
pub fn storage_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !same(&new["parameters"], &old["parameters"]) {
        errors.push(FieldError::forbidden("parameters", "updates to parameters are forbidden."));
    }
    if text(new, "provisioner") != text(old, "provisioner") {
        errors.push(FieldError::forbidden("provisioner", "updates to provisioner are forbidden."));
    }
    let or =
        |v: &Value, key: &str, default: &'static str| v.get(key).and_then(Value::as_str).unwrap_or(default).to_string();
    if or(new, "reclaimPolicy", "Delete") != or(old, "reclaimPolicy", "Delete") {
        errors.push(FieldError::forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
    }
    if or(new, "volumeBindingMode", "Immediate") != or(old, "volumeBindingMode", "Immediate") {
        errors.push(FieldError::immutable("volumeBindingMode", or(new, "volumeBindingMode", "Immediate")));
    }
    errors
}
