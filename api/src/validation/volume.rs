//! A PodSpec's `volumes`: unique DNS-label names, exactly one source each, and the sources pods
//! use most (emptyDir, hostPath, configMap, secret, persistentVolumeClaim, downwardAPI,
//! projected, nfs, csi, ephemeral) checked inside.
//!
//! Mirrors `ValidateVolumes` and `validateVolumeSource` in kubernetes
//! `pkg/apis/core/validation/validation.go`, including two spellings of its field paths
//! (`cephFS`, `downwarAPI`) in the "more than 1 volume type" error. A volume with any error is
//! left out of the names mounts may refer to, as in Kubernetes, so a mount of it is also
//! reported. Left out: the insides of the cloud and network sources (iscsi, rbd, gce, aws,
//! azure, …: only counted), image volumes' fields, and the projected service account token's
//! dependency on `serviceAccountName` (the service account admission step fills that in).

use std::collections::BTreeSet;

use serde_json::Value;

use super::field::{FieldError, Path};
use super::json::{has, int, list, text};
use super::names::{dns1123_label, dns1123_subdomain};
use crate::quantity::Quantity;

const FILE_MODE: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// Every source a volume may have, in the order Kubernetes tries them, with the name its
/// "more than 1 volume type" error uses.
const SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

const HOST_PATH_TYPES: &[&str] =
    &["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];
const VOLUME_FIELD_PATHS: &[&str] =
    &["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];

/// The volumes' errors, and the names of the valid ones (what `volumeMounts` may refer to).
pub fn validate(volumes: &[Value], path: &Path) -> (BTreeSet<String>, Vec<FieldError>) {
    let mut names = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, volume) in volumes.iter().enumerate() {
        let at = path.index(i);
        let name = text(volume, "name");
        let mut own = source(volume, &at);
        if name.is_empty() {
            own.push(FieldError::required(at.child("name"), ""));
        } else {
            own.extend(dns1123_label(name).into_iter().map(|p| FieldError::invalid(at.child("name"), name, p)));
        }
        if names.contains(name) {
            own.push(FieldError::duplicate(at.child("name"), name));
        }
        if own.is_empty() {
            names.insert(name.to_string());
        }
        errors.extend(own);
    }
    (names, errors)
}

fn source(volume: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut found = 0;
    for (key, forbidden_as) in SOURCES {
        let Some(spec) = volume.get(*key).filter(|v| !v.is_null()) else { continue };
        if found > 0 {
            errors.push(FieldError::forbidden(path.child(forbidden_as), "may not specify more than 1 volume type"));
            continue;
        }
        found += 1;
        let at = path.child(key);
        errors.extend(match *key {
            "emptyDir" => empty_dir(spec, &at),
            "hostPath" => host_path(spec, &at),
            "secret" => named_items(spec, "secretName", &at),
            "configMap" => named_items(spec, "name", &at),
            "persistentVolumeClaim" => required(spec, &["claimName"], &at),
            "nfs" => nfs(spec, &at),
            "downwardAPI" => downward_api(spec, &at),
            "projected" => projected(spec, &at),
            "csi" => csi_driver(text(spec, "driver"), &at.child("driver")),
            "ephemeral" => match spec.get("volumeClaimTemplate").filter(|t| !t.is_null()) {
                None => vec![FieldError::required(at.child("volumeClaimTemplate"), "")],
                Some(template) => super::storage::claim_template(template, &at.child("volumeClaimTemplate")),
            },
            _ => Vec::new(),
        });
    }
    if found == 0 {
        errors.push(FieldError::required(path, "must specify a volume type"));
    }
    errors
}

/// `Required value` for each of `fields` that is empty.
pub fn required(spec: &Value, fields: &[&str], path: &Path) -> Vec<FieldError> {
    fields.iter().filter(|f| text(spec, f).is_empty()).map(|f| FieldError::required(path.child(f), "")).collect()
}

fn empty_dir(spec: &Value, path: &Path) -> Vec<FieldError> {
    match text(spec, "sizeLimit") {
        "" => Vec::new(),
        limit if Quantity::parse(limit).is_ok_and(|q| !q.is_negative()) => Vec::new(),
        _ => vec![FieldError::forbidden(path.child("sizeLimit"), "SizeLimit field must be a valid resource quantity")],
    }
}

pub fn host_path(spec: &Value, path: &Path) -> Vec<FieldError> {
    let host = text(spec, "path");
    if host.is_empty() {
        return vec![FieldError::required(path.child("path"), "")];
    }
    let mut errors = no_backsteps(host, &path.child("path"));
    if let Some(kind) = spec.get("type").and_then(Value::as_str).filter(|t| !HOST_PATH_TYPES.contains(t)) {
        errors.push(FieldError::not_supported(path.child("type"), kind, HOST_PATH_TYPES));
    }
    errors
}

pub fn nfs(spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = required(spec, &["server", "path"], path);
    if !text(spec, "path").starts_with('/') {
        errors.push(FieldError::invalid(path.child("path"), text(spec, "path"), "must be an absolute path"));
    }
    errors
}

/// A CSI driver name: required, at most 63 characters, a DNS subdomain in lower case.
pub fn csi_driver(driver: &str, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if driver.is_empty() {
        errors.push(FieldError::required(path, ""));
    }
    if driver.len() > 63 {
        errors.push(FieldError::too_long(path, 63));
    }
    errors.extend(dns1123_subdomain(&driver.to_lowercase()).into_iter().map(|p| FieldError::invalid(path, driver, p)));
    errors
}

/// Paths inside a volume may not contain a `..` element.
pub fn no_backsteps(target: &str, path: &Path) -> Vec<FieldError> {
    if target.split('/').any(|part| part == "..") {
        vec![FieldError::invalid(path, target, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

/// A path inside a volume: relative, without `..` (`ValidateLocalNonReservedPath`).
pub fn local_path(target: &str, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if target.starts_with('/') {
        errors.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    errors.extend(no_backsteps(target, path));
    if target.starts_with("..") && !target.starts_with("../") {
        errors.push(FieldError::invalid(path, target, "must not start with '..'"));
    }
    errors
}

fn mode(spec: &Value, key: &str, path: &Path) -> Vec<FieldError> {
    match int(spec, key) {
        Some(m) if !(0..=0o777).contains(&m) => vec![FieldError::invalid(path.child(key), m, FILE_MODE)],
        _ => Vec::new(),
    }
}

/// A configMap or secret source: its name, `defaultMode` and `items` (key → path).
fn named_items(spec: &Value, name_field: &str, path: &Path) -> Vec<FieldError> {
    let mut errors = required(spec, &[name_field], path);
    errors.extend(mode(spec, "defaultMode", path));
    errors.extend(items(list(spec, "items"), &path.child("items")));
    errors
}

fn items(items: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = path.index(i);
        errors.extend(required(item, &["key", "path"], &at));
        errors.extend(local_path(text(item, "path"), &at.child("path")));
        errors.extend(mode(item, "mode", &at));
    }
    errors
}

fn downward_api(spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = mode(spec, "defaultMode", path);
    // Kubernetes reports a file's errors at the source's path, not the item's.
    for file in list(spec, "items") {
        errors.extend(downward_file(file, path));
    }
    errors
}

fn downward_file(file: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = required(file, &["path"], path);
    errors.extend(local_path(text(file, "path"), &path.child("path")));
    match (has(file, "fieldRef"), has(file, "resourceFieldRef")) {
        (true, both) => {
            errors.extend(field_ref(&file["fieldRef"], VOLUME_FIELD_PATHS, &path.child("fieldRef")));
            if both {
                errors.push(FieldError::invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (false, true) => {
            errors.extend(required(&file["resourceFieldRef"], &["containerName"], &path.child("resourceFieldRef")))
        }
        (false, false) => errors.push(FieldError::required(path, "one of fieldRef and resourceFieldRef is required")),
    }
    errors.extend(mode(file, "mode", path));
    errors
}

/// A downward API `fieldRef`: `apiVersion` defaults to v1; the field must be one of `supported`
/// or a subscripted label or annotation (`metadata.labels['app']`).
pub fn field_ref(spec: &Value, supported: &[&str], path: &Path) -> Vec<FieldError> {
    let field = text(spec, "fieldPath");
    if field.is_empty() {
        return vec![FieldError::required(path.child("fieldPath"), "")];
    }
    if let Some((base, rest)) = field.split_once("['") {
        let key = rest.strip_suffix("']").unwrap_or(rest);
        return match base {
            "metadata.labels" | "metadata.annotations" => {
                let key = if base == "metadata.annotations" { key.to_lowercase() } else { key.to_string() };
                super::names::qualified_name(&key)
                    .into_iter()
                    .map(|p| FieldError::invalid(path, key.as_str(), p))
                    .collect()
            }
            _ => vec![FieldError::invalid(path, base, "does not support subscript")],
        };
    }
    if supported.contains(&field) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(path.child("fieldPath"), field, supported)]
    }
}

fn projected(spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = mode(spec, "defaultMode", path);
    let mut paths = BTreeSet::new();
    for (i, source) in list(spec, "sources").iter().enumerate() {
        let at = path.child("sources").index(i);
        let mut kinds = 0;
        for kind in ["secret", "configMap"] {
            let Some(projection) = source.get(kind).filter(|v| !v.is_null()) else { continue };
            kinds += 1;
            errors.extend(required(projection, &["name"], &at.child(kind)));
            errors.extend(items(list(projection, "items"), &at.child(kind).child("items")));
            for item in list(projection, "items").iter().map(|i| text(i, "path")).filter(|p| !p.is_empty()) {
                if !paths.insert(item.to_string()) {
                    errors.push(FieldError::invalid(path, text(projection, "name"), "conflicting duplicate paths"));
                }
            }
        }
        if let Some(downward) = source.get("downwardAPI").filter(|v| !v.is_null()) {
            kinds += 1;
            for file in list(downward, "items") {
                errors.extend(downward_file(file, &at.child("downwardAPI")));
            }
        }
        if let Some(token) = source.get("serviceAccountToken").filter(|v| !v.is_null()) {
            kinds += 1;
            let seconds = int(token, "expirationSeconds").unwrap_or(3600);
            if seconds < 600 {
                errors.push(FieldError::invalid(
                    at.child("serviceAccountToken").child("expirationSeconds"),
                    seconds,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            match text(token, "path") {
                "" => errors.push(FieldError::required(path.child("path"), "")),
                token_path => errors.extend(local_path(token_path, &path.child("path"))),
            }
        }
        if kinds > 1 {
            errors.push(FieldError::forbidden(&at, "may not specify more than 1 volume type per source"));
        }
    }
    errors
}
