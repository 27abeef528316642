//! Deployments, ReplicaSets, DaemonSets and ControllerRevisions.
//!
//! Mirrors `ValidateDeploymentSpec`, `ValidateDeploymentStrategy`,
//! `ValidateRollingUpdateDeployment`, `ValidateReplicaSetSpec`,
//! `ValidatePodTemplateSpecForReplicaSet`, `ValidateDaemonSetSpec`,
//! `ValidateRollingUpdateDaemonSet`, `ValidatePositiveIntOrPercent` and
//! `ValidateControllerRevision` in kubernetes `pkg/apis/apps/validation/validation.go`, and the
//! selector immutability the apps/v1 registry strategies add on update.
//!
//! The selector must match the template's labels. Worked example: `selector: {matchLabels:
//! {app: web}}` with template labels `{app: nginx}` gives `spec.template.metadata.labels:
//! Invalid value: map[string]string{"app":"nginx"}: `selector` does not match template
//! `labels``. A rolling update needs room to move: with `maxSurge: 0` and `maxUnavailable: 0`
//! a Deployment could neither add a new pod nor remove an old one, hence `may not be 0 when
//! `maxSurge` is 0`. Left out: the deprecated `rollbackTo` and DaemonSet `templateGeneration`
//! bookkeeping.

use serde_json::Value;

use super::field::{go_string_map, quote, BadValue, FieldError, Path};
use super::json::{int, obj, string_map, text};
use super::label_selector;
use super::names::{percent, NEGATIVE};
use super::pod;

/// `Invalid value: -1: must be greater than or equal to 0` for each negative field.
pub fn non_negative(spec: &Value, fields: &[&str], path: &Path) -> Vec<FieldError> {
    fields
        .iter()
        .filter_map(|f| int(spec, f).filter(|v| *v < 0).map(|v| FieldError::invalid(path.child(f), v, NEGATIVE)))
        .collect()
}

/// The selector (required, not empty, well formed) and whether it selects the template.
/// `kind` is the word of the "empty selector is invalid for …" message.
pub fn selector(spec: &Value, kind: &str, required: bool, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let selector = spec.get("selector").filter(|s| !s.is_null());
    match selector {
        None if required => errors.push(FieldError::required(path.child("selector"), "")),
        None => {}
        Some(selector) => {
            errors.extend(label_selector::validate(selector, &path.child("selector")));
            if label_selector::is_empty(selector) {
                errors.push(FieldError::invalid_go(
                    path.child("selector"),
                    label_selector::go_syntax(selector),
                    format!("empty selector is invalid for {kind}"),
                ));
            }
        }
    }
    match label_selector::parse(selector) {
        None => {
            let shown = label_selector::go_syntax(selector.unwrap_or(&Value::Null));
            let detail = if kind == "statefulset" { "" } else { "invalid label selector" };
            errors.push(FieldError::invalid_go(path.child("selector"), shown, detail));
        }
        // An empty selector selects everything (and is reported above); an absent one nothing.
        Some(parsed) if parsed.as_ref().is_some_and(|p| p.is_empty()) => {}
        Some(parsed) => {
            let metadata = &spec["template"]["metadata"];
            if !label_selector::matches(&parsed, &string_map(metadata, "labels")) {
                errors.push(FieldError::invalid_go(
                    path.child("template").child("metadata").child("labels"),
                    go_string_map(obj(metadata, "labels")),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    errors
}

/// The template of a controller whose pods always restart.
fn template(spec: &Value, kind: &str, path: &Path) -> Vec<FieldError> {
    let at = path.child("template");
    let mut errors = pod::template(&spec["template"], &at);
    let pod_spec = &spec["template"]["spec"];
    let policy = text(pod_spec, "restartPolicy");
    if policy != "Always" {
        errors.push(FieldError::not_supported(at.child("spec").child("restartPolicy"), policy, &["Always"]));
    }
    if pod_spec.get("activeDeadlineSeconds").is_some_and(|v| !v.is_null()) {
        errors.push(FieldError::forbidden(
            at.child("spec").child("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
    errors
}

/// An int-or-string that must be a non-negative number or a `N%` percentage.
fn int_or_percent(value: &Value, path: &Path) -> Vec<FieldError> {
    match value {
        Value::String(text) => match percent(text) {
            Ok(_) => Vec::new(),
            Err(problem) => vec![FieldError::invalid(path, text.as_str(), problem)],
        },
        other => match other.as_i64().unwrap_or(0) {
            n if n < 0 => vec![FieldError::invalid(path, n, NEGATIVE)],
            _ => Vec::new(),
        },
    }
}

/// The number an int-or-string stands for (`25%` → 25, `3` → 3, anything else 0).
fn int_or_percent_value(value: &Value) -> i64 {
    match value {
        Value::String(text) => percent(text).map(|p| p as i64).unwrap_or_else(|_| text.parse().unwrap_or(0)),
        other => other.as_i64().unwrap_or(0),
    }
}

fn not_more_than_100_percent(value: &Value, path: &Path) -> Vec<FieldError> {
    match value.as_str().map(percent) {
        Some(Ok(p)) if p > 100 => vec![FieldError::invalid(path, value.clone(), "must not be greater than 100%")],
        _ => Vec::new(),
    }
}

/// `apps.DeploymentStrategy{Type:"Blue", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}`.
fn go_strategy(strategy: &Value, go_type: &str, rolling_type: &str) -> String {
    let rolling = if strategy.get("rollingUpdate").is_some_and(|v| !v.is_null()) { "{…}" } else { "nil" };
    format!("apps.{go_type}{{Type:{}, RollingUpdate:(*apps.{rolling_type})({rolling})}}", quote(text(strategy, "type")))
}

fn deployment_strategy(strategy: &Value, path: &Path) -> Vec<FieldError> {
    let rolling = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match (text(strategy, "type"), rolling) {
        ("Recreate", Some(_)) => vec![FieldError::forbidden(
            path.child("rollingUpdate"),
            "may not be specified when strategy `type` is 'Recreate'",
        )],
        ("Recreate", None) => Vec::new(),
        ("RollingUpdate", None) => {
            vec![FieldError::required(path.child("rollingUpdate"), "this should be defaulted and never be nil")]
        }
        ("RollingUpdate", Some(rolling)) => {
            let at = path.child("rollingUpdate");
            let (unavailable, surge) = (&rolling["maxUnavailable"], &rolling["maxSurge"]);
            let mut errors = int_or_percent(unavailable, &at.child("maxUnavailable"));
            errors.extend(int_or_percent(surge, &at.child("maxSurge")));
            if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
                errors.push(FieldError::invalid(
                    at.child("maxUnavailable"),
                    if unavailable.is_null() { Value::from(0) } else { unavailable.clone() },
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
            errors.extend(not_more_than_100_percent(unavailable, &at.child("maxUnavailable")));
            errors
        }
        _ => vec![FieldError::not_supported(
            path,
            BadValue::Go(go_strategy(strategy, "DeploymentStrategy", "RollingUpdateDeployment")),
            &["Recreate", "RollingUpdate"],
        )],
    }
}

/// A Deployment's `spec`.
pub fn deployment(object: &Value) -> Vec<FieldError> {
    let (spec, path) = (&object["spec"], Path::new("spec"));
    let mut errors = non_negative(spec, &["replicas"], &path);
    errors.extend(selector(spec, "deployment", true, &path));
    errors.extend(template(spec, "ReplicaSet", &path));
    errors.extend(deployment_strategy(&spec["strategy"], &path.child("strategy")));
    errors.extend(non_negative(spec, &["minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"], &path));
    if let Some(deadline) = int(spec, "progressDeadlineSeconds") {
        if deadline <= int(spec, "minReadySeconds").unwrap_or(0) {
            errors.push(FieldError::invalid(
                path.child("progressDeadlineSeconds"),
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errors
}

/// A ReplicaSet's `spec` (its empty-selector message says "deployment", as Kubernetes' does).
pub fn replica_set(object: &Value) -> Vec<FieldError> {
    let (spec, path) = (&object["spec"], Path::new("spec"));
    let mut errors = non_negative(spec, &["replicas", "minReadySeconds"], &path);
    errors.extend(selector(spec, "deployment", true, &path));
    errors.extend(template(spec, "ReplicaSet", &path));
    errors
}

/// A DaemonSet's `spec`.
pub fn daemon_set(object: &Value) -> Vec<FieldError> {
    let (spec, path) = (&object["spec"], Path::new("spec"));
    let mut errors = selector(spec, "daemonset", false, &path);
    errors.extend(template(spec, "DaemonSet", &path));
    errors.extend(non_negative(spec, &["minReadySeconds", "templateGeneration"], &path));
    let (strategy, at) = (&spec["updateStrategy"], path.child("updateStrategy"));
    match text(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
            None => errors.push(FieldError::required(at.child("rollingUpdate"), "")),
            Some(rolling) => errors.extend(daemon_set_rolling(rolling, &at.child("rollingUpdate"))),
        },
        _ => errors.push(FieldError::not_supported(
            &at,
            BadValue::Go(go_strategy(strategy, "DaemonSetUpdateStrategy", "RollingUpdateDaemonSet")),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    errors.extend(non_negative(spec, &["revisionHistoryLimit"], &path));
    errors
}

/// A DaemonSet replaces a node's pod either by first removing it (maxUnavailable) or by first
/// adding the new one (maxSurge): exactly one of them is non-zero.
fn daemon_set_rolling(rolling: &Value, path: &Path) -> Vec<FieldError> {
    let (unavailable, surge) = (&rolling["maxUnavailable"], &rolling["maxSurge"]);
    let mut errors = int_or_percent(unavailable, &path.child("maxUnavailable"));
    errors.extend(int_or_percent(surge, &path.child("maxSurge")));
    errors.extend(not_more_than_100_percent(unavailable, &path.child("maxUnavailable")));
    errors.extend(not_more_than_100_percent(surge, &path.child("maxSurge")));
    match (int_or_percent_value(unavailable) != 0, int_or_percent_value(surge) != 0) {
        (true, true) => errors.push(FieldError::invalid(
            path.child("maxSurge"),
            surge.clone(),
            "may not be set when maxUnavailable is non-zero",
        )),
        (false, false) => {
            errors.push(FieldError::required(path.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
        }
        _ => {}
    }
    errors
}

/// Deployments, ReplicaSets and DaemonSets may not change their selector.
pub fn selector_immutable(new: &Value, old: &Value) -> Vec<FieldError> {
    let (now, before) = (&new["spec"]["selector"], &old["spec"]["selector"]);
    if super::json::same(now, before) {
        Vec::new()
    } else {
        vec![FieldError::immutable("spec.selector", BadValue::Go(label_selector::go_syntax(now)))]
    }
}

/// A ControllerRevision: its data is required, its revision not negative.
pub fn controller_revision(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if object.get("data").is_none_or(Value::is_null) {
        errors.push(FieldError::required("data", "data is mandatory"));
    }
    errors.extend(non_negative(object, &["revision"], &Path::new("")));
    errors
}

/// A ControllerRevision's data never changes.
pub fn controller_revision_update(new: &Value, old: &Value) -> Vec<FieldError> {
    if super::json::same(&new["data"], &old["data"]) {
        Vec::new()
    } else {
        vec![FieldError::immutable("data", new["data"].clone())]
    }
}
