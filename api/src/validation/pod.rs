//! Pods and the PodSpec every workload template carries; what a pod update may change.
//!
//! Mirrors `ValidatePodSpec`, `validatePodMetadataAndSpec`, `ValidatePodCreate`,
//! `ValidatePodTemplateSpec` and `ValidatePodUpdate` in kubernetes
//! `pkg/apis/core/validation/validation.go`. The policies Skiff's defaulting fills in
//! (`restartPolicy`, `dnsPolicy`, `terminationGracePeriodSeconds`, a container's
//! `imagePullPolicy` and `terminationMessagePolicy`) are `Required value` when missing, as in
//! Kubernetes: validate after [`crate::defaults::apply`].
//!
//! A pod update may change only images, `activeDeadlineSeconds` (downwards), added
//! tolerations, removed scheduling gates, and a negative grace period to 1. Kubernetes appends
//! a Go struct diff to that message; Skiff appends the paths that changed. Left out: the pod's
//! security context beyond IDs, sysctls, seccomp/AppArmor annotations, OS-specific rules,
//! topology spread constraints, resource claims, and the mutable scheduling directives of gated
//! pods. A negative `terminationGracePeriodSeconds` is accepted, as in Kubernetes (whose
//! strategy then stores 1).

use serde_json::Value;

use super::container::{self, PodContext};
use super::field::{FieldError, Path};
use super::json::{differences, int, list, obj, same, text};
use super::names::{dns1123_label, dns1123_subdomain, inclusive_range, is_ip, qualified_name};
use super::{meta, scheduling, volume};

const MAX_INT32: i64 = 2147483647;
const UPDATABLE: &[&str] = &[
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

/// A PodSpec at `path` (`spec`, or `spec.template.spec`).
pub fn pod_spec(spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let grace_period = int(spec, "terminationGracePeriodSeconds");
    if grace_period.is_none() {
        errors.push(FieldError::required(path.child("terminationGracePeriodSeconds"), ""));
    }
    let (volumes, volume_errors) = volume::validate(list(spec, "volumes"), &path.child("volumes"));
    errors.extend(volume_errors);
    let pod = PodContext { volumes: &volumes, grace_period };
    let containers = list(spec, "containers");
    errors.extend(container::containers(containers, &pod, &path.child("containers")));
    errors.extend(container::init_containers(
        list(spec, "initContainers"),
        containers,
        &pod,
        &path.child("initContainers"),
    ));
    if spec["hostNetwork"].as_bool() == Some(true) {
        errors.extend(host_network_ports(containers, &path.child("containers")));
    }
    errors.extend(one_of(spec, "restartPolicy", &["Always", "OnFailure", "Never"], path));
    errors.extend(one_of(spec, "dnsPolicy", &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"], path));
    errors.extend(meta::validate_labels(obj(spec, "nodeSelector"), &path.child("nodeSelector")));
    errors
        .extend(security_context(spec.get("securityContext").unwrap_or(&Value::Null), &path.child("securityContext")));
    for (i, secret) in list(spec, "imagePullSecrets").iter().enumerate() {
        if secret.as_object().is_some_and(|m| m.keys().any(|k| k != "name")) {
            errors.push(FieldError::invalid(
                path.child("imagePullSecrets").index(i),
                secret.clone(),
                "only name may be set",
            ));
        }
    }
    errors.extend(scheduling::affinity(spec.get("affinity").unwrap_or(&Value::Null), &path.child("affinity")));
    errors.extend(dns_config(spec, &path.child("dnsConfig")));
    for (i, gate) in list(spec, "readinessGates").iter().enumerate() {
        let kind = text(gate, "conditionType");
        let at = path.child("readinessGates").index(i).child("conditionType");
        errors.extend(qualified_name(kind).into_iter().map(|p| FieldError::invalid(&at, kind, p)));
    }
    let mut gates = std::collections::BTreeSet::new();
    for (i, gate) in list(spec, "schedulingGates").iter().enumerate() {
        let (name, at) = (text(gate, "name"), path.child("schedulingGates").index(i));
        errors.extend(qualified_name(name).into_iter().map(|p| FieldError::invalid(&at, name, p)));
        if !gates.insert(name) {
            errors.push(FieldError::duplicate(&at, name));
        }
    }
    for field in ["serviceAccountName", "nodeName", "priorityClassName"] {
        let value = text(spec, field);
        if !value.is_empty() {
            errors
                .extend(dns1123_subdomain(value).into_iter().map(|p| FieldError::invalid(path.child(field), value, p)));
        }
    }
    if let Some(deadline) = int(spec, "activeDeadlineSeconds").filter(|d| !(1..=MAX_INT32).contains(d)) {
        errors.push(FieldError::invalid(path.child("activeDeadlineSeconds"), deadline, inclusive_range(1, MAX_INT32)));
    }
    for field in ["hostname", "subdomain"] {
        let value = text(spec, field);
        if !value.is_empty() {
            errors.extend(dns1123_label(value).into_iter().map(|p| FieldError::invalid(path.child(field), value, p)));
        }
    }
    errors.extend(scheduling::tolerations(list(spec, "tolerations"), &path.child("tolerations")));
    for (i, alias) in list(spec, "hostAliases").iter().enumerate() {
        let at = path.child("hostAliases").index(i);
        if !is_ip(text(alias, "ip")) {
            errors.push(FieldError::invalid(at.child("ip"), text(alias, "ip"), super::names::IP_MESSAGE));
        }
        for (j, host) in list(alias, "hostnames").iter().filter_map(Value::as_str).enumerate() {
            let host_path = at.child("hostnames").index(j);
            errors.extend(dns1123_subdomain(host).into_iter().map(|p| FieldError::invalid(&host_path, host, p)));
        }
    }
    if let Some(os) = spec.get("os").filter(|v| !v.is_null()) {
        match text(os, "name") {
            "" => errors.push(FieldError::required(path.child("os").child("name"), "cannot be empty")),
            "linux" | "windows" => {}
            other => errors.push(FieldError::not_supported(path.child("os"), other, &["linux", "windows"])),
        }
    }
    errors
}

/// `Required value` when empty, `Unsupported value` when not one of `supported`.
fn one_of(spec: &Value, field: &str, supported: &[&str], path: &Path) -> Vec<FieldError> {
    match text(spec, field) {
        "" => vec![FieldError::required(path.child(field), "")],
        value if !supported.contains(&value) => vec![FieldError::not_supported(path.child(field), value, supported)],
        _ => Vec::new(),
    }
}

/// With `hostNetwork`, a container's host port is its container port (Kubernetes fills an unset
/// one in; Skiff leaves it unset, which is the same).
fn host_network_ports(containers: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, container) in containers.iter().enumerate() {
        for (j, port) in list(container, "ports").iter().enumerate() {
            let (host, container_port) = (int(port, "hostPort").unwrap_or(0), int(port, "containerPort").unwrap_or(0));
            if host != 0 && host != container_port {
                errors.push(FieldError::invalid(
                    path.index(i).child("ports").index(j).child("hostPort"),
                    host,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errors
}

fn security_context(context: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in ["fsGroup", "runAsUser", "runAsGroup"] {
        if let Some(id) = int(context, field).filter(|id| !(0..=MAX_INT32).contains(id)) {
            errors.push(FieldError::invalid(path.child(field), id, inclusive_range(0, MAX_INT32)));
        }
    }
    for (i, id) in list(context, "supplementalGroups").iter().filter_map(Value::as_i64).enumerate() {
        if !(0..=MAX_INT32).contains(&id) {
            errors.push(FieldError::invalid(
                path.child("supplementalGroups").index(i),
                id,
                inclusive_range(0, MAX_INT32),
            ));
        }
    }
    errors
}

fn dns_config(spec: &Value, path: &Path) -> Vec<FieldError> {
    let config = spec.get("dnsConfig").filter(|v| !v.is_null());
    if text(spec, "dnsPolicy") == "None" {
        let Some(config) = config else {
            return vec![FieldError::required(path, "must provide `dnsConfig` when `dnsPolicy` is None")];
        };
        if list(config, "nameservers").is_empty() {
            return vec![FieldError::required(
                path.child("nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )];
        }
    }
    let Some(config) = config else { return Vec::new() };
    let mut errors = Vec::new();
    let nameservers = list(config, "nameservers");
    if nameservers.len() > 3 {
        errors.push(FieldError::invalid(
            path.child("nameservers"),
            Value::from(nameservers),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, server) in nameservers.iter().map(|s| s.as_str().unwrap_or_default()).enumerate() {
        if !is_ip(server) {
            errors.push(FieldError::invalid(path.child("nameservers").index(i), server, super::names::IP_MESSAGE));
        }
    }
    let searches = list(config, "searches");
    if searches.len() > 32 {
        errors.push(FieldError::invalid(
            path.child("searches"),
            Value::from(searches),
            "must not have more than 32 search paths",
        ));
    }
    for (i, search) in searches.iter().map(|s| s.as_str().unwrap_or_default()).enumerate() {
        let search = search.strip_suffix('.').unwrap_or(search);
        let at = path.child("searches").index(i);
        errors.extend(dns1123_subdomain(search).into_iter().map(|p| FieldError::invalid(&at, search, p)));
    }
    for (i, option) in list(config, "options").iter().enumerate() {
        if text(option, "name").is_empty() {
            errors.push(FieldError::required(path.child("options").index(i), "must not be empty"));
        }
    }
    errors
}

/// A pod template (`spec.template` of a workload): its labels, annotations and PodSpec.
pub fn template(template: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = meta::validate_template(template.get("metadata").unwrap_or(&Value::Null), &path.child("metadata"));
    let spec = template.get("spec").unwrap_or(&Value::Null);
    errors.extend(pod_spec(spec, &path.child("spec")));
    if !list(spec, "ephemeralContainers").is_empty() {
        errors.push(FieldError::forbidden(
            path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errors
}

/// The rules of a Pod beyond its metadata.
pub fn validate(pod: &Value) -> Vec<FieldError> {
    let path = Path::new("spec");
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let mut errors = pod_spec(spec, &path);
    for kind in ["containers", "initContainers"] {
        for (i, container) in list(spec, kind).iter().enumerate() {
            let image = text(container, "image");
            if image.trim() != image {
                errors.push(FieldError::invalid(
                    path.child(kind).index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    errors
}

/// Only on create: no ephemeral containers, no node before the scheduling gates are gone.
pub fn validate_create(pod: &Value) -> Vec<FieldError> {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let mut errors = validate(pod);
    if !list(spec, "ephemeralContainers").is_empty() {
        errors.push(FieldError::forbidden("spec.ephemeralContainers", "cannot be set on create"));
    }
    if !text(spec, "nodeName").is_empty() && !list(spec, "schedulingGates").is_empty() {
        errors
            .push(FieldError::forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"));
    }
    errors
}

/// What a pod update may not do (besides breaking the create rules).
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let (new_spec, old_spec) = (&new["spec"], &old["spec"]);
    let mut errors = Vec::new();
    for kind in ["containers", "initContainers"] {
        let (now, before) = (list(new_spec, kind), list(old_spec, kind));
        if now.len() != before.len() {
            errors.push(FieldError::forbidden(format!("spec.{kind}"), "pod updates may not add or remove containers"));
            return errors;
        }
    }
    match (int(new_spec, "activeDeadlineSeconds"), int(old_spec, "activeDeadlineSeconds")) {
        (Some(now), _) if !(0..=MAX_INT32).contains(&now) => {
            errors.push(FieldError::invalid("spec.activeDeadlineSeconds", now, inclusive_range(0, MAX_INT32)));
            return errors;
        }
        (Some(now), Some(before)) if now > before => {
            errors.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                now,
                "must be less than or equal to previous value",
            ));
            return errors;
        }
        (None, Some(_)) => errors.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    errors.extend(only_added_tolerations(list(new_spec, "tolerations"), list(old_spec, "tolerations")));
    let old_gates = list(old_spec, "schedulingGates");
    for (i, gate) in list(new_spec, "schedulingGates").iter().enumerate() {
        if !old_gates.iter().any(|g| text(g, "name") == text(gate, "name")) {
            errors.push(FieldError::forbidden(
                format!("spec.schedulingGates[{i}].name"),
                format!("only deletion is allowed, but found new scheduling gate '{}'", text(gate, "name")),
            ));
        }
    }
    if same(new_spec, old_spec) {
        return errors;
    }
    let munged = munged(new_spec, old_spec);
    if !same(&munged, old_spec) {
        let changed = differences(old_spec, &munged, "spec").join(", ");
        errors.push(FieldError::forbidden(
            "spec",
            format!("pod updates may not change fields other than {}\nchanged: {changed}", UPDATABLE.join(",")),
        ));
    }
    errors
}

/// The new spec with what an update may change set back to the old values.
fn munged(new_spec: &Value, old_spec: &Value) -> Value {
    let mut munged = new_spec.clone();
    for kind in ["containers", "initContainers"] {
        if let Some(containers) = munged.get_mut(kind).and_then(Value::as_array_mut) {
            for (i, container) in containers.iter_mut().filter_map(Value::as_object_mut).enumerate() {
                container.insert("image".into(), old_spec[kind][i]["image"].clone());
            }
        }
    }
    let Some(fields) = munged.as_object_mut() else { return munged };
    for field in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
        match old_spec.get(field) {
            Some(before) => fields.insert(field.to_string(), before.clone()),
            None => fields.remove(field),
        };
    }
    let negative_before = int(old_spec, "terminationGracePeriodSeconds").is_some_and(|g| g < 0);
    if negative_before && int(new_spec, "terminationGracePeriodSeconds") == Some(1) {
        fields.insert("terminationGracePeriodSeconds".into(), old_spec["terminationGracePeriodSeconds"].clone());
    }
    munged
}

/// Every old toleration must still be there (only its `tolerationSeconds` may change).
fn only_added_tolerations(new: &[Value], old: &[Value]) -> Vec<FieldError> {
    let without_seconds = |t: &Value| {
        let mut t = t.clone();
        if let Some(map) = t.as_object_mut() {
            map.remove("tolerationSeconds");
        }
        t
    };
    let kept = old.iter().all(|before| new.iter().any(|now| same(&without_seconds(before), &without_seconds(now))));
    if kept {
        Vec::new()
    } else {
        vec![FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        )]
    }
}
