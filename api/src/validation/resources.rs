//! Resource requirements (`resources.requests` and `resources.limits`) and quantities.
//!
//! Mirrors `validateResourceRequirements`, `validateContainerResourceName`,
//! `ValidateResourceQuantityValue` and `ValidateNonnegativeQuantity` in kubernetes
//! `pkg/apis/core/validation/validation.go`. Worked example: `requests: {cpu: 2}` with
//! `limits: {cpu: 1}` is `resources.requests: Invalid value: "2": must be less than or equal to
//! cpu limit of 1` — at the `requests` map, not at its key.
//!
//! Two differences: a quantity that does not parse is reported here, at its key, with
//! Kubernetes' message (Kubernetes refuses it earlier, while decoding, with a 400); and values
//! are shown as written, not re-formatted canonically (`1000m` stays `1000m`). Left out: huge
//! page sizes being multiples of the page size.

use serde_json::{Map, Value};

use super::field::{FieldError, Path};
use super::names::{qualified_name, NEGATIVE};
use crate::quantity::{Quantity, FORMAT_ERROR};

const STANDARD_CONTAINER: &[&str] = &["cpu", "memory", "ephemeral-storage"];
const STANDARD: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "services.nodeports",
    "services.loadbalancers",
];

/// The quantity a JSON value holds (a string, or a bare number), or the error at `path`.
pub fn quantity(value: &Value, path: &Path) -> Result<Quantity, FieldError> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        other => other.to_string(),
    };
    Quantity::parse(&text).map_err(|_| FieldError::invalid(path, text, FORMAT_ERROR))
}

fn shown(value: &Value) -> String {
    value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())
}

fn is_huge_pages(name: &str) -> bool {
    name.starts_with("hugepages-") || name.starts_with("requests.hugepages-")
}

/// Kubernetes' own resources: unprefixed, or under `kubernetes.io/`.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Requests may exceed neither limits nor, for these, differ from them.
fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_huge_pages(name)
}

fn resource_name(name: &str, path: &Path) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> =
        qualified_name(name).into_iter().map(|p| FieldError::invalid(path, name, p)).collect();
    if !errors.is_empty() {
        return errors;
    }
    if !name.contains('/') {
        if !STANDARD.contains(&name) && !is_huge_pages(name) {
            errors.push(FieldError::invalid(path, name, "must be a standard resource type or fully qualified"));
        }
        if !STANDARD_CONTAINER.contains(&name) && !name.starts_with("hugepages-") {
            errors.push(FieldError::invalid(path, name, "must be a standard resource for containers"));
        }
    } else if !is_native(name)
        && (name.starts_with("requests.") || !qualified_name(&format!("requests.{name}")).is_empty())
    {
        errors.push(FieldError::invalid(path, name, "doesn't follow extended resource name standard"));
    }
    errors
}

/// A quantity may not be negative; extended resources come in whole units.
fn quantity_value(name: &str, value: &Value, path: &Path) -> (Option<Quantity>, Vec<FieldError>) {
    let parsed = match quantity(value, path) {
        Ok(q) => q,
        Err(error) => return (None, vec![error]),
    };
    let mut errors = Vec::new();
    if parsed.is_negative() {
        errors.push(FieldError::invalid(path, shown(value), NEGATIVE));
    }
    if !is_native(name) && parsed.milli_value() % 1000 != 0 {
        errors.push(FieldError::invalid_go(path, shown(value), "must be an integer"));
    }
    (Some(parsed), errors)
}

/// A container's `resources`.
pub fn container(resources: &Value, path: &Path) -> Vec<FieldError> {
    let empty = Map::new();
    let limits = resources.get("limits").and_then(Value::as_object).unwrap_or(&empty);
    let requests = resources.get("requests").and_then(Value::as_object).unwrap_or(&empty);
    let (limits_path, requests_path) = (path.child("limits"), path.child("requests"));
    let mut errors = Vec::new();
    let compute = |name: &str| name == "cpu" || name == "memory";
    let mut parsed_limits = std::collections::BTreeMap::new();
    for (name, value) in limits {
        let at = limits_path.key(name);
        errors.extend(resource_name(name, &at));
        let (parsed, problems) = quantity_value(name, value, &at);
        errors.extend(problems);
        if let Some(parsed) = parsed {
            parsed_limits.insert(name.as_str(), (parsed, shown(value)));
        }
    }
    for (name, value) in requests {
        let at = requests_path.key(name);
        errors.extend(resource_name(name, &at));
        let (parsed, problems) = quantity_value(name, value, &at);
        errors.extend(problems);
        let Some(request) = parsed else { continue };
        match parsed_limits.get(name.as_str()) {
            Some((limit, limit_text)) if request != *limit && !overcommit_allowed(name) => {
                errors.push(FieldError::invalid(
                    &requests_path,
                    shown(value),
                    format!("must be equal to {name} limit of {limit_text}"),
                ))
            }
            Some((limit, limit_text)) if request > *limit => errors.push(FieldError::invalid(
                &requests_path,
                shown(value),
                format!("must be less than or equal to {name} limit of {limit_text}"),
            )),
            None if !overcommit_allowed(name) && !limits.contains_key(name) => {
                errors.push(FieldError::required(&limits_path, "Limit must be set for non overcommitable resources"))
            }
            _ => {}
        }
    }
    let names = || limits.keys().chain(requests.keys());
    if names().any(|n| is_huge_pages(n)) && !names().any(|n| compute(n)) {
        errors.push(FieldError::forbidden(path, "HugePages require cpu or memory"));
    }
    errors
}
