//! Probes and lifecycle hooks: exactly one handler each, ports 1–65535 or a port name, and
//! non-negative timings.
//!
//! Mirrors `validateLivenessProbe`, `validateReadinessProbe`, `validateStartupProbe`,
//! `validateProbe`, `validateHandler`, `validateHTTPGetAction`, `ValidatePortNumOrName`,
//! `validateSleepAction` and `validateLifecycle` in kubernetes
//! `pkg/apis/core/validation/validation.go`. Absent timings read as Kubernetes' defaults
//! (period 10s, timeout 1s, success 1, failure 3), because Skiff does not fill them in; an
//! `httpGet` without `path` or `scheme` is `/` over HTTP for the same reason.

use serde_json::Value;

use super::field::{FieldError, Path};
use super::json::{int, list, text};
use super::names::{port_name, port_number, NEGATIVE};

const HEADER_NAME_MESSAGE: &str = "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')";

/// A container's `lifecycle` and its three probes.
pub fn lifecycle_and_probes(container: &Value, grace_period: Option<i64>, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(lifecycle) = container.get("lifecycle").filter(|v| !v.is_null()) {
        for hook in ["postStart", "preStop"] {
            if let Some(handler) = lifecycle.get(hook).filter(|v| !v.is_null()) {
                let at = path.child("lifecycle").child(hook);
                errors.extend(validate_handler(handler, &["exec", "httpGet", "tcpSocket", "sleep"], grace_period, &at));
            }
        }
    }
    for kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = container.get(kind).filter(|v| !v.is_null()) {
            errors.extend(validate_probe(probe, kind, grace_period, &path.child(kind)));
        }
    }
    errors
}

fn validate_probe(probe: &Value, kind: &str, grace_period: Option<i64>, path: &Path) -> Vec<FieldError> {
    let mut errors = validate_handler(probe, &["exec", "httpGet", "tcpSocket", "grpc"], grace_period, path);
    for field in ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] {
        if let Some(value) = int(probe, field).filter(|v| *v < 0) {
            errors.push(FieldError::invalid(path.child(field), value, NEGATIVE));
        }
    }
    let grace = int(probe, "terminationGracePeriodSeconds");
    if let Some(seconds) = grace.filter(|s| *s <= 0) {
        errors.push(FieldError::invalid(
            path.child("terminationGracePeriodSeconds"),
            seconds,
            "must be greater than 0",
        ));
    }
    match kind {
        "readinessProbe" => {
            if let Some(seconds) = grace {
                errors.push(FieldError::invalid(
                    path.child("terminationGracePeriodSeconds"),
                    seconds,
                    "must not be set for readinessProbes",
                ));
            }
        }
        _ => {
            // Liveness and startup probes succeed once; 0 (unset) is defaulted to 1.
            if let Some(success) = int(probe, "successThreshold").filter(|s| *s != 1 && *s != 0) {
                errors.push(FieldError::invalid(path.child("successThreshold"), success, "must be 1"));
            }
        }
    }
    errors
}

/// Exactly one of `allowed` handlers (the second one found is the error).
fn validate_handler(handler: &Value, allowed: &[&str], grace_period: Option<i64>, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut found = 0;
    for kind in ["exec", "httpGet", "tcpSocket", "grpc", "sleep"].iter().filter(|k| allowed.contains(k)) {
        let Some(action) = handler.get(*kind).filter(|v| !v.is_null()) else { continue };
        let at = path.child(kind);
        if found > 0 {
            errors.push(FieldError::forbidden(at, "may not specify more than 1 handler type"));
            continue;
        }
        found += 1;
        errors.extend(match *kind {
            "exec" if list(action, "command").is_empty() => vec![FieldError::required(at.child("command"), "")],
            "httpGet" => http_get(action, &at),
            "tcpSocket" => port_num_or_name(action.get("port").unwrap_or(&Value::Null), &at.child("port")),
            "grpc" => {
                let port = int(action, "port").unwrap_or(0);
                port_number(port).into_iter().map(|p| FieldError::invalid(at.child("port"), port, p)).collect()
            }
            "sleep" => sleep(action, grace_period, &at),
            _ => Vec::new(),
        });
    }
    if found == 0 {
        errors.push(FieldError::required(path, "must specify a handler type"));
    }
    errors
}

fn http_get(action: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = port_num_or_name(action.get("port").unwrap_or(&Value::Null), &path.child("port"));
    if let Some(scheme) = action.get("scheme").and_then(Value::as_str).filter(|s| !matches!(*s, "HTTP" | "HTTPS")) {
        errors.push(FieldError::not_supported(path.child("scheme"), scheme, &["HTTP", "HTTPS"]));
    }
    for header in list(action, "httpHeaders") {
        let name = text(header, "name");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            errors.push(FieldError::invalid(path.child("httpHeaders"), name, HEADER_NAME_MESSAGE));
        }
    }
    errors
}

fn sleep(action: &Value, grace_period: Option<i64>, path: &Path) -> Vec<FieldError> {
    let seconds = int(action, "seconds").unwrap_or(0);
    match grace_period {
        Some(grace) if seconds <= 0 || seconds > grace => vec![FieldError::invalid(
            path,
            seconds,
            format!("must be greater than 0 and less than terminationGracePeriodSeconds ({grace})"),
        )],
        _ => Vec::new(),
    }
}

/// An int-or-string port: a number 1–65535 or an IANA port name (`http`).
pub fn port_num_or_name(port: &Value, path: &Path) -> Vec<FieldError> {
    match port {
        Value::String(name) => {
            port_name(name).into_iter().map(|p| FieldError::invalid(path, name.as_str(), p)).collect()
        }
        other => {
            let number = other.as_i64().unwrap_or(0);
            port_number(number).into_iter().map(|p| FieldError::invalid(path, number, p)).collect()
        }
    }
}
