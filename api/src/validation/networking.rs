//! Ingresses and IngressClasses.
//!
//! Mirrors `ValidateIngressCreate`, `ValidateIngressSpec`, `validateIngressRules`,
//! `validateHTTPIngressPath`, `validateIngressBackend`, `validateIngressTLS` and
//! `ValidateIngressClass(Update)` in kubernetes `pkg/apis/networking/validation/validation.go`.
//! An `Exact` or `Prefix` path is matched against URL paths, so it must start with `/` and may
//! not hide a traversal (`//`, `/./`, `/../`, an encoded `/`); a backend names a Service (a
//! DNS-1035 label) and exactly one of a port number or a port name. Left out: resource
//! backends' own rules beyond their reference, status.

use serde_json::Value;

use super::field::{FieldError, Path};
use super::json::{has, int, list, text};
use super::names::{
    dns1035_label, dns1123_subdomain, is_ip, path_segment_name, port_name, port_number, wildcard_dns1123_subdomain,
};

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
const BAD_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const BAD_SUFFIXES: &[&str] = &["/..", "/."];
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const MAX_CONTROLLER_LENGTH: usize = 250;

/// A host (rule or TLS): a DNS subdomain, or one starting with `*.`.
fn host(host: &str, path: &Path) -> Vec<FieldError> {
    let problems = if host.contains('*') { wildcard_dns1123_subdomain(host) } else { dns1123_subdomain(host) };
    problems.into_iter().map(|p| FieldError::invalid(path, host, p)).collect()
}

/// An Ingress's `spec`, and its class annotation agreeing with `ingressClassName`.
pub fn ingress(object: &Value) -> Vec<FieldError> {
    let (spec, path) = (&object["spec"], Path::new("spec"));
    let mut errors = Vec::new();
    let rules = list(spec, "rules");
    let default_backend = spec.get("defaultBackend").filter(|b| !b.is_null());
    if rules.is_empty() && default_backend.is_none() {
        let shown = "[]networking.IngressRule(nil)";
        errors.push(FieldError::invalid_go(&path, shown, "either `defaultBackend` or `rules` must be specified"));
    }
    if let Some(backend) = default_backend {
        errors.extend(backend_errors(backend, &path.child("defaultBackend")));
    }
    for (i, rule) in rules.iter().enumerate() {
        let at = path.child("rules").index(i);
        let name = text(rule, "host");
        if !name.is_empty() {
            if is_ip(name) {
                errors.push(FieldError::invalid(at.child("host"), name, "must be a DNS name, not an IP address"));
            }
            errors.extend(host(name, &at.child("host")));
        }
        if let Some(http) = rule.get("http").filter(|h| !h.is_null()) {
            errors.extend(http_rule(http, &at.child("http")));
        }
    }
    for (i, tls) in list(spec, "tls").iter().enumerate() {
        let at = path.child("tls").index(i);
        for (j, name) in list(tls, "hosts").iter().filter_map(Value::as_str).enumerate() {
            errors.extend(host(name, &at.child("hosts").index(j)));
        }
        let secret = text(tls, "secretName");
        if !secret.is_empty() {
            errors.extend(
                dns1123_subdomain(secret).into_iter().map(|p| FieldError::invalid(at.child("secretName"), secret, p)),
            );
        }
    }
    let class = spec.get("ingressClassName").and_then(Value::as_str);
    if let Some(class) = class {
        let at = path.child("ingressClassName");
        errors.extend(dns1123_subdomain(class).into_iter().map(|p| FieldError::invalid(&at, class, p)));
    }
    errors
}

/// Only on create: the legacy class annotation may not contradict `ingressClassName`.
pub fn ingress_create(object: &Value) -> Vec<FieldError> {
    let mut errors = ingress(object);
    let annotation = object["metadata"]["annotations"].get(CLASS_ANNOTATION).and_then(Value::as_str);
    let class = object["spec"].get("ingressClassName").and_then(Value::as_str);
    if let (Some(annotation), Some(class)) = (annotation, class) {
        if annotation != class {
            errors.push(FieldError::invalid(
                format!("annotations.{CLASS_ANNOTATION}"),
                annotation,
                "must match `ingressClassName` when both are specified",
            ));
        }
    }
    errors
}

fn http_rule(http: &Value, path: &Path) -> Vec<FieldError> {
    let paths = list(http, "paths");
    let mut errors = Vec::new();
    if paths.is_empty() {
        errors.push(FieldError::required(path.child("paths"), ""));
    }
    for (i, entry) in paths.iter().enumerate() {
        let at = path.child("paths").index(i);
        let Some(kind) = entry.get("pathType").and_then(Value::as_str) else {
            errors.push(FieldError::required(at.child("pathType"), "pathType must be specified"));
            continue;
        };
        let url = text(entry, "path");
        match kind {
            "Exact" | "Prefix" => {
                if !url.starts_with('/') {
                    errors.push(FieldError::invalid(at.child("path"), url, "must be an absolute path"));
                }
                for bad in BAD_SEQUENCES.iter().filter(|s| url.contains(*s)) {
                    errors.push(FieldError::invalid(at.child("path"), url, format!("must not contain '{bad}'")));
                }
                for bad in BAD_SUFFIXES.iter().filter(|s| url.ends_with(*s)) {
                    errors.push(FieldError::invalid(at.child("path"), url, format!("cannot end with '{bad}'")));
                }
            }
            "ImplementationSpecific" if !url.is_empty() && !url.starts_with('/') => {
                errors.push(FieldError::invalid(at.child("path"), url, "must be an absolute path"))
            }
            "ImplementationSpecific" => {}
            other => errors.push(FieldError::not_supported(at.child("pathType"), other, PATH_TYPES)),
        }
        errors.extend(backend_errors(&entry["backend"], &at.child("backend")));
    }
    errors
}

/// A backend: a Service with one port (number or name), or a typed resource reference.
fn backend_errors(backend: &Value, path: &Path) -> Vec<FieldError> {
    let (resource, service) =
        (backend.get("resource").filter(|v| !v.is_null()), backend.get("service").filter(|v| !v.is_null()));
    match (resource, service) {
        (Some(_), Some(_)) => vec![FieldError::invalid(path, "", "cannot set both resource and service backends")],
        (Some(resource), None) => typed_reference(resource, &path.child("resource")),
        (None, Some(service)) => {
            let at = path.child("service");
            let mut errors = Vec::new();
            let name = text(service, "name");
            if name.is_empty() {
                errors.push(FieldError::required(at.child("name"), ""));
            } else {
                errors.extend(dns1035_label(name).into_iter().map(|p| FieldError::invalid(at.child("name"), name, p)));
            }
            let port = &service["port"];
            let (port_label, number) = (text(port, "name"), int(port, "number").unwrap_or(0));
            match (!port_label.is_empty(), number != 0) {
                (true, true) => errors.push(FieldError::invalid(path, "", "cannot set both port name & port number")),
                (true, false) => errors.extend(
                    port_name(port_label)
                        .into_iter()
                        .map(|p| FieldError::invalid(at.child("port").child("name"), port_label, p)),
                ),
                (false, true) => errors.extend(
                    port_number(number)
                        .into_iter()
                        .map(|p| FieldError::invalid(at.child("port").child("number"), number, p)),
                ),
                (false, false) => errors.push(FieldError::required(path, "port name or number is required")),
            }
            errors
        }
        (None, None) => vec![FieldError::invalid(path, "", "resource or service backend is required")],
    }
}

/// A reference to an object by API group, kind and name (ingress resource backends, class
/// parameters).
fn typed_reference(reference: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(group) = reference.get("apiGroup").and_then(Value::as_str) {
        errors.extend(
            dns1123_subdomain(group).into_iter().map(|p| FieldError::invalid(path.child("apiGroup"), group, p)),
        );
    }
    for field in ["kind", "name"] {
        let value = text(reference, field);
        if value.is_empty() {
            errors.push(FieldError::required(path.child(field), format!("{field} is required")));
        } else {
            errors
                .extend(path_segment_name(value).into_iter().map(|p| FieldError::invalid(path.child(field), value, p)));
        }
    }
    errors
}

/// An IngressClass: its controller is a domain-prefixed path (`example.com/ingress-nginx`).
pub fn ingress_class(object: &Value) -> Vec<FieldError> {
    let (spec, path) = (&object["spec"], Path::new("spec"));
    let at = path.child("controller");
    let controller = text(spec, "controller");
    let mut errors = Vec::new();
    if controller.len() > MAX_CONTROLLER_LENGTH {
        errors.push(FieldError::too_long(&at, MAX_CONTROLLER_LENGTH));
    }
    match controller.split_once('/') {
        _ if controller.is_empty() => errors.push(FieldError::required(&at, "")),
        Some((domain, rest)) if !domain.is_empty() && !rest.is_empty() => {
            errors.extend(dns1123_subdomain(domain).into_iter().map(|p| FieldError::invalid(&at, domain, p)));
        }
        _ => errors.push(FieldError::invalid(
            &at,
            controller,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )),
    }
    if let Some(parameters) = spec.get("parameters").filter(|p| !p.is_null()) {
        let at = path.child("parameters");
        errors.extend(typed_reference(parameters, &at));
        // Kubernetes defaults an unset scope to Cluster.
        match parameters.get("scope").and_then(Value::as_str).unwrap_or("Cluster") {
            "Namespace" if !has(parameters, "namespace") => {
                errors.push(FieldError::required(at.child("namespace"), "`parameters.scope` is set to 'Namespace'"))
            }
            "Namespace" => {
                let namespace = text(parameters, "namespace");
                let problems = super::names::dns1123_label(namespace);
                errors.extend(problems.into_iter().map(|p| FieldError::invalid(at.child("namespace"), namespace, p)));
            }
            "Cluster" if has(parameters, "namespace") => {
                errors.push(FieldError::forbidden(at.child("namespace"), "`parameters.scope` is set to 'Cluster'"))
            }
            "Cluster" => {}
            other => errors.push(FieldError::not_supported(at.child("scope"), other, &["Cluster", "Namespace"])),
        }
    }
    errors
}

/// An IngressClass's controller never changes.
pub fn ingress_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let controller = text(&new["spec"], "controller");
    if controller == text(&old["spec"], "controller") {
        Vec::new()
    } else {
        vec![FieldError::immutable("spec.controller", controller)]
    }
}
