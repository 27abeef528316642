//! Containers: names, images, ports, environment, mounts, pull and termination-message
//! policies, and the rules that differ between app and init containers.
//!
//! Mirrors `validateContainers`, `validateInitContainers`, `validateContainerCommon`,
//! `validateContainerPorts`, `ValidateEnv`, `ValidateEnvFrom` and `ValidateVolumeMounts` in
//! kubernetes `pkg/apis/core/validation/validation.go`, with their field-path quirks (an
//! `envFrom` error is reported at the list, a `subPath` one at `volumeMounts`, not at the
//! entry). Resources and probes are in [`super::resources`] and [`super::probe`]. Left out:
//! `volumeDevices`, `resizePolicy`, resource claims, ephemeral containers' own rules, and the
//! security context beyond user and group IDs and the privileged/escalation conflict.

use std::collections::BTreeSet;

use serde_json::Value;

use super::field::{FieldError, Path};
use super::json::{has, int, list, text};
use super::names::{config_key, dns1123_label, dns1123_subdomain, env_var_name, port_name, port_number};
use super::volume::{field_ref, local_path};
use super::{meta, probe, resources};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const ENV_RESOURCES: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];
const MOUNT_PROPAGATIONS: &[&str] = &["Bidirectional", "HostToContainer", "None"];
const MAX_ID: i64 = 2147483647;

/// What every container of a pod shares: the pod's valid volume names and its grace period.
pub struct PodContext<'a> {
    pub volumes: &'a BTreeSet<String>,
    pub grace_period: Option<i64>,
}

/// The app containers (`spec.containers`): at least one, names unique among them.
pub fn containers(containers: &[Value], pod: &PodContext, path: &Path) -> Vec<FieldError> {
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (i, container) in containers.iter().enumerate() {
        let at = path.index(i);
        errors.extend(common(container, pod, &at));
        if !names.insert(text(container, "name")) {
            errors.push(FieldError::duplicate(at.child("name"), text(container, "name")));
        }
        errors.extend(probe::lifecycle_and_probes(container, pod.grace_period, &at));
        if has(container, "restartPolicy") {
            errors.push(FieldError::forbidden(at.child("restartPolicy"), "may not be set for non-init containers"));
        }
    }
    errors.extend(host_port_conflicts(containers, path));
    errors
}

/// Init containers: names unique among init and app containers; probes and lifecycle hooks only
/// for sidecars (`restartPolicy: Always`).
pub fn init_containers(init: &[Value], regular: &[Value], pod: &PodContext, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut names: BTreeSet<&str> = regular.iter().map(|c| text(c, "name")).collect();
    for (i, container) in init.iter().enumerate() {
        let at = path.index(i);
        errors.extend(common(container, pod, &at));
        let sidecar = match container.get("restartPolicy").and_then(Value::as_str) {
            Some("Always") => true,
            Some(other) => {
                errors.push(FieldError::not_supported(at.child("restartPolicy"), other, &["Always"]));
                false
            }
            None => false,
        };
        let name = text(container, "name");
        if names.contains(name) {
            errors.push(FieldError::duplicate(at.child("name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        // Kubernetes checks each init container's host ports alone, at index 0 of the list.
        errors.extend(host_port_conflicts(std::slice::from_ref(container), path));
        if sidecar {
            errors.extend(probe::lifecycle_and_probes(container, pod.grace_period, &at));
        } else {
            for field in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] {
                if has(container, field) {
                    errors.push(FieldError::forbidden(
                        at.child(field),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
    errors
}

fn common(container: &Value, pod: &PodContext, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = text(container, "name");
    if name.is_empty() {
        errors.push(FieldError::required(path.child("name"), ""));
    } else {
        errors.extend(dns1123_label(name).into_iter().map(|p| FieldError::invalid(path.child("name"), name, p)));
    }
    if text(container, "image").is_empty() {
        errors.push(FieldError::required(path.child("image"), ""));
    }
    match text(container, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errors.push(FieldError::required(path.child("terminationMessagePolicy"), "")),
        other => errors.push(FieldError::not_supported(
            path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errors.extend(ports(list(container, "ports"), &path.child("ports")));
    errors.extend(env(list(container, "env"), &path.child("env")));
    errors.extend(env_from(list(container, "envFrom"), &path.child("envFrom")));
    errors.extend(volume_mounts(container, pod.volumes, &path.child("volumeMounts")));
    match text(container, "imagePullPolicy") {
        "" => errors.push(FieldError::required(path.child("imagePullPolicy"), "")),
        policy if !PULL_POLICIES.contains(&policy) => {
            errors.push(FieldError::not_supported(path.child("imagePullPolicy"), policy, PULL_POLICIES))
        }
        _ => {}
    }
    errors.extend(resources::container(container.get("resources").unwrap_or(&Value::Null), &path.child("resources")));
    errors.extend(security_context(
        container.get("securityContext").unwrap_or(&Value::Null),
        &path.child("securityContext"),
    ));
    errors
}

/// Container ports: names are IANA service names, unique; numbers 1–65535.
fn ports(ports: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let at = path.index(i);
        let name = text(port, "name");
        if !name.is_empty() {
            let problems = port_name(name);
            if !problems.is_empty() {
                errors.extend(problems.into_iter().map(|p| FieldError::invalid(at.child("name"), name, p)));
            } else if !names.insert(name) {
                errors.push(FieldError::duplicate(at.child("name"), name));
            }
        }
        match int(port, "containerPort").unwrap_or(0) {
            0 => errors.push(FieldError::required(at.child("containerPort"), "")),
            number => errors.extend(
                port_number(number).into_iter().map(|p| FieldError::invalid(at.child("containerPort"), number, p)),
            ),
        }
        if let Some(host) = int(port, "hostPort").filter(|p| *p != 0) {
            errors.extend(port_number(host).into_iter().map(|p| FieldError::invalid(at.child("hostPort"), host, p)));
        }
        match text(port, "protocol") {
            "" => errors.push(FieldError::required(at.child("protocol"), "")),
            protocol if !PROTOCOLS.contains(&protocol) => {
                errors.push(FieldError::not_supported(at.child("protocol"), protocol, PROTOCOLS))
            }
            _ => {}
        }
    }
    errors
}

/// Two containers may not take the same host port (per protocol and host IP).
fn host_port_conflicts(containers: &[Value], path: &Path) -> Vec<FieldError> {
    let mut taken = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, container) in containers.iter().enumerate() {
        for (j, port) in list(container, "ports").iter().enumerate() {
            let Some(host) = int(port, "hostPort").filter(|p| *p != 0) else { continue };
            let key = format!("{}/{}/{host}", text(port, "protocol"), text(port, "hostIP"));
            if !taken.insert(key.clone()) {
                errors.push(FieldError::duplicate(path.index(i).child("ports").index(j).child("hostPort"), key));
            }
        }
    }
    errors
}

fn env(vars: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, var) in vars.iter().enumerate() {
        let at = path.index(i);
        let name = text(var, "name");
        if name.is_empty() {
            errors.push(FieldError::required(at.child("name"), ""));
        } else {
            errors.extend(env_var_name(name).into_iter().map(|p| FieldError::invalid(at.child("name"), name, p)));
        }
        if let Some(from) = var.get("valueFrom").filter(|v| !v.is_null()) {
            errors.extend(value_from(from, !text(var, "value").is_empty(), &at.child("valueFrom")));
        }
    }
    errors
}

/// `valueFrom` takes exactly one source, and not alongside a `value`.
fn value_from(from: &Value, has_value: bool, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut sources = 0;
    if let Some(spec) = from.get("fieldRef").filter(|v| !v.is_null()) {
        sources += 1;
        errors.extend(field_ref(spec, ENV_FIELD_PATHS, &path.child("fieldRef")));
    }
    if let Some(spec) = from.get("resourceFieldRef").filter(|v| !v.is_null()) {
        sources += 1;
        let at = path.child("resourceFieldRef");
        match text(spec, "resource") {
            "" => errors.push(FieldError::required(at.child("resource"), "")),
            r if ENV_RESOURCES.contains(&r)
                || r.starts_with("requests.hugepages-")
                || r.starts_with("limits.hugepages-") => {}
            r => errors.push(FieldError::not_supported(at.child("resource"), r, ENV_RESOURCES)),
        }
    }
    for source in ["configMapKeyRef", "secretKeyRef"] {
        if let Some(spec) = from.get(source).filter(|v| !v.is_null()) {
            sources += 1;
            errors.extend(key_ref(spec, &path.child(source)));
        }
    }
    let problem = match (sources, has_value) {
        (0, _) => Some("must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"),
        (_, true) => Some("may not be specified when `value` is not empty"),
        (n, false) if n > 1 => Some("may not have more than one field specified at a time"),
        _ => None,
    };
    errors.extend(problem.map(|p| FieldError::invalid(path, "", p)));
    errors
}

/// A `configMapKeyRef` or `secretKeyRef`: an object name and a config key.
fn key_ref(spec: &Value, path: &Path) -> Vec<FieldError> {
    let name = text(spec, "name");
    let mut errors: Vec<FieldError> =
        dns1123_subdomain(name).into_iter().map(|p| FieldError::invalid(path.child("name"), name, p)).collect();
    let key = text(spec, "key");
    if key.is_empty() {
        errors.push(FieldError::required(path.child("key"), ""));
    } else {
        errors.extend(config_key(key).into_iter().map(|p| FieldError::invalid(path.child("key"), key, p)));
    }
    errors
}

fn env_from(sources: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let at = path.index(i);
        let prefix = text(source, "prefix");
        if !prefix.is_empty() {
            errors.extend(env_var_name(prefix).into_iter().map(|p| FieldError::invalid(at.child("prefix"), prefix, p)));
        }
        let mut count = 0;
        for kind in ["configMapRef", "secretRef"] {
            let Some(reference) = source.get(kind).filter(|v| !v.is_null()) else { continue };
            count += 1;
            let name = text(reference, "name");
            let name_path = at.child(kind).child("name");
            if name.is_empty() {
                errors.push(FieldError::required(name_path, ""));
            } else {
                let problems = meta::subdomain_name(name, true);
                errors.extend(problems.into_iter().map(|p| FieldError::invalid(&name_path, name, p)));
            }
        }
        match count {
            0 => errors.push(FieldError::invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")),
            1 => {}
            _ => errors.push(FieldError::invalid(path, "", "may not have more than one field specified at a time")),
        }
    }
    errors
}

fn volume_mounts(container: &Value, volumes: &BTreeSet<String>, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut mount_paths = BTreeSet::new();
    let privileged = container["securityContext"]["privileged"].as_bool() == Some(true);
    for (i, mount) in list(container, "volumeMounts").iter().enumerate() {
        let at = path.index(i);
        let (name, mount_path) = (text(mount, "name"), text(mount, "mountPath"));
        if name.is_empty() {
            errors.push(FieldError::required(at.child("name"), ""));
        }
        if !volumes.contains(name) {
            errors.push(FieldError::not_found(at.child("name"), name));
        }
        if mount_path.is_empty() {
            errors.push(FieldError::required(at.child("mountPath"), ""));
        }
        if !mount_paths.insert(mount_path) {
            errors.push(FieldError::invalid(at.child("mountPath"), mount_path, "must be unique"));
        }
        let (sub_path, sub_expr) = (text(mount, "subPath"), text(mount, "subPathExpr"));
        if !sub_path.is_empty() {
            errors.extend(descending_path(sub_path, &path.child("subPath")));
        }
        if !sub_expr.is_empty() {
            if !sub_path.is_empty() {
                errors.push(FieldError::invalid(
                    at.child("subPathExpr"),
                    sub_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errors.extend(descending_path(sub_expr, &path.child("subPathExpr")));
        }
        if let Some(propagation) = mount.get("mountPropagation").and_then(Value::as_str) {
            let at = path.child("mountPropagation");
            if !MOUNT_PROPAGATIONS.contains(&propagation) {
                errors.push(FieldError::not_supported(&at, propagation, MOUNT_PROPAGATIONS));
            } else if propagation == "Bidirectional" && !privileged {
                errors.push(FieldError::forbidden(
                    at,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
    }
    errors
}

/// `validateLocalDescendingPath`: relative, and no `..` element.
fn descending_path(target: &str, path: &Path) -> Vec<FieldError> {
    local_path(target, path).into_iter().filter(|e| e.detail != "must not start with '..'").collect()
}

fn security_context(context: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in ["runAsUser", "runAsGroup"] {
        if let Some(id) = int(context, field).filter(|id| !(0..=MAX_ID).contains(id)) {
            errors.push(FieldError::invalid(path.child(field), id, super::names::inclusive_range(0, MAX_ID)));
        }
    }
    if context["allowPrivilegeEscalation"].as_bool() == Some(false) && context["privileged"].as_bool() == Some(true) {
        errors.push(FieldError::invalid(
            path,
            context.clone(),
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ));
    }
    errors
}
