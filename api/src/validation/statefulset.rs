//! StatefulSets: ordered pods with stable names and their own volumes.
//!
//! Mirrors `ValidateStatefulSetSpec`, `ValidatePodTemplateSpecForStatefulSet`,
//! `validateRollingUpdateStatefulSet`, `ValidatePersistentVolumeClaimRetentionPolicy` and
//! `ValidateStatefulSetUpdate` in kubernetes `pkg/apis/apps/validation/validation.go`.
//!
//! As in Kubernetes, the template's PodSpec is *not* validated here (only its labels and
//! annotations, its restart policy and deadline): a bad container shows up when the controller
//! creates `web-0` and the pod is refused. Once created, a StatefulSet may change only the fields
//! its controller can roll out; everything else, including `volumeClaimTemplates`,
//! `serviceName` and the selector, is fixed. Beyond 1.31: `serviceName` must be a DNS label
//! (Kubernetes checks that since 1.33; the pods' `subdomain` must be one anyway).

use serde_json::Value;

use super::field::{quote, FieldError, Path};
use super::json::{same, text};
use super::meta;
use super::names::dns1123_label;
use super::workloads::{non_negative, selector};

/// The fields an update may change; the others must stay as they were.
const UPDATABLE: &[&str] =
    &["replicas", "template", "updateStrategy", "minReadySeconds", "ordinals", "persistentVolumeClaimRetentionPolicy"];

/// A StatefulSet's `spec`.
pub fn validate(object: &Value) -> Vec<FieldError> {
    let (spec, path) = (&object["spec"], Path::new("spec"));
    let mut errors = Vec::new();
    match text(spec, "podManagementPolicy") {
        "" => errors.push(FieldError::required(path.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errors.push(FieldError::invalid(
            path.child("podManagementPolicy"),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    errors.extend(update_strategy(&spec["updateStrategy"], &path.child("updateStrategy")));
    if let Some(policy) = spec.get("persistentVolumeClaimRetentionPolicy").filter(|p| !p.is_null()) {
        for field in ["whenDeleted", "whenScaled"] {
            let value = text(policy, field);
            if !matches!(value, "Retain" | "Delete") {
                errors.push(FieldError::not_supported(
                    path.child("persistentVolumeClaimRetentionPolicy").child(field),
                    value,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    errors.extend(non_negative(spec, &["replicas", "minReadySeconds"], &path));
    errors.extend(non_negative(&spec["ordinals"], &["start"], &path.child("ordinals")));
    errors.extend(selector(spec, "statefulset", true, &path));
    let template = &spec["template"];
    errors.extend(meta::validate_template(&template["metadata"], &path.child("template").child("metadata")));
    let policy = text(&template["spec"], "restartPolicy");
    if policy != "Always" {
        errors.push(FieldError::not_supported("spec.template.spec.restartPolicy", policy, &["Always"]));
    }
    if template["spec"].get("activeDeadlineSeconds").is_some_and(|v| !v.is_null()) {
        errors.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    let service = text(spec, "serviceName");
    if !service.is_empty() {
        errors.extend(dns1123_label(service).into_iter().map(|p| FieldError::invalid("spec.serviceName", service, p)));
    }
    errors
}

fn update_strategy(strategy: &Value, path: &Path) -> Vec<FieldError> {
    let rolling = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match (text(strategy, "type"), rolling) {
        ("", _) => vec![FieldError::required(path, "")],
        ("OnDelete", Some(rolling)) => vec![FieldError::invalid(
            path.child("rollingUpdate"),
            rolling.clone(),
            "only allowed for updateStrategy 'RollingUpdate'",
        )],
        ("OnDelete", None) | ("RollingUpdate", None) => Vec::new(),
        ("RollingUpdate", Some(rolling)) => {
            let at = path.child("rollingUpdate");
            let mut errors = non_negative(rolling, &["partition"], &at);
            if let Some(unavailable) = rolling.get("maxUnavailable").filter(|v| !v.is_null()) {
                errors.extend(max_unavailable(unavailable, &at.child("maxUnavailable")));
            }
            errors
        }
        (kind, _) => {
            let shown = format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)({})}}",
                quote(kind),
                if rolling.is_some() { "{…}" } else { "nil" }
            );
            vec![FieldError::invalid_go(path, shown, "must be 'RollingUpdate' or 'OnDelete'")]
        }
    }
}

/// A StatefulSet's `maxUnavailable`: a positive number or a percentage up to 100%.
fn max_unavailable(value: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let number = match value {
        Value::String(text) => match super::names::percent(text) {
            Ok(p) => {
                if p > 100 {
                    errors.push(FieldError::invalid(path, text.as_str(), "must not be greater than 100%"));
                }
                p as i64
            }
            Err(problem) => {
                errors.push(FieldError::invalid(path, text.as_str(), problem));
                text.parse().unwrap_or(0)
            }
        },
        other => other.as_i64().unwrap_or(0),
    };
    if number < 0 {
        errors.push(FieldError::invalid(path, number, super::names::NEGATIVE));
    }
    if number == 0 {
        errors.push(FieldError::invalid(path, value.clone(), "cannot be 0"));
    }
    errors
}

/// Only the rolled-out fields may change.
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut kept = new["spec"].clone();
    if let Some(fields) = kept.as_object_mut() {
        for field in UPDATABLE {
            match old["spec"].get(*field) {
                Some(before) => fields.insert(field.to_string(), before.clone()),
                None => fields.remove(*field),
            };
        }
    }
    if same(&kept, &old["spec"]) {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        "spec",
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    )]
}
