//! Jobs: pods that run to completion.
//!
//! Mirrors `ValidateJob`, `validateJobSpec`, `ValidateJobSpecUpdate` and `validateCompletions`
//! in kubernetes `pkg/apis/batch/validation/validation.go`. A Job's pods must not restart
//! forever: `restartPolicy` is `OnFailure` or `Never`, and `Always` (the PodSpec default) is
//! refused with `Required value: valid values: "OnFailure", "Never"`.
//!
//! The API server generates a Job's selector (`batch.kubernetes.io/controller-uid=<uid>`) before
//! validating, and checks what it generated in `crate::job_selector`; the selector is checked
//! here when the client set `manualSelector: true`. Left out: pod failure and success policies, the mutable scheduling
//! directives of a suspended Job's template, CronJobs.

use serde_json::Value;

use super::field::{BadValue, FieldError, Path};
use super::json::{has, int, same, text};
use super::label_selector;
use super::names::dns1123_label;
use super::pod;
use super::workloads::{non_negative, selector};

const MAX_INDEXED_PARALLELISM: i64 = 100_000;

/// A Job's `spec` (and the name an Indexed Job's pods are derived from).
pub fn validate(object: &Value) -> Vec<FieldError> {
    let (spec, path) = (&object["spec"], Path::new("spec"));
    let mut errors = non_negative(
        spec,
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "ttlSecondsAfterFinished",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
        ],
        &path,
    );
    if has(spec, "maxFailedIndexes") && !has(spec, "backoffLimitPerIndex") {
        errors.push(FieldError::required(path.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"));
    }
    let indexed = text(spec, "completionMode") == "Indexed";
    if let Some(mode) = spec.get("completionMode").and_then(Value::as_str) {
        if mode != "NonIndexed" && mode != "Indexed" {
            errors.push(FieldError::not_supported(path.child("completionMode"), mode, &["NonIndexed", "Indexed"]));
        }
    }
    if indexed {
        if !has(spec, "completions") {
            errors.push(FieldError::required(path.child("completions"), "when completion mode is Indexed"));
        }
        if let Some(parallelism) = int(spec, "parallelism").filter(|p| *p > MAX_INDEXED_PARALLELISM) {
            errors.push(FieldError::invalid(
                path.child("parallelism"),
                parallelism,
                format!("must be less than or equal to {MAX_INDEXED_PARALLELISM} when completion mode is Indexed"),
            ));
        }
    } else {
        for field in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(value) = int(spec, field) {
                errors.push(FieldError::invalid(path.child(field), value, "requires indexed completion mode"));
            }
        }
    }
    if let Some(policy) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        if policy != "Failed" && policy != "TerminatingOrFailed" {
            errors.push(FieldError::not_supported(
                path.child("podReplacementPolicy"),
                policy,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    errors.extend(pod::template(&spec["template"], &path.child("template")));
    let policy_path = "spec.template.spec.restartPolicy";
    match text(&spec["template"]["spec"], "restartPolicy") {
        "" | "Always" => errors.push(FieldError::required(policy_path, "valid values: \"OnFailure\", \"Never\"")),
        "OnFailure" | "Never" => {}
        other => errors.push(FieldError::not_supported(policy_path, other, &["OnFailure", "Never"])),
    }
    if spec["manualSelector"].as_bool() == Some(true) {
        errors
            .extend(selector(spec, "job", true, &path).into_iter().filter(|e| !e.detail.starts_with("empty selector")));
    }
    if let (true, Some(completions)) = (indexed, int(spec, "completions").filter(|c| *c > 0)) {
        let name = text(&object["metadata"], "name");
        let hostname = format!("{name}-{}", completions - 1);
        if !dns1123_label(&hostname).is_empty() {
            errors.push(FieldError::invalid(
                "metadata.name",
                name,
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
    errors
}

/// What a Job may not change once created: its selector, template, completion mode, and
/// `completions` (an Indexed Job may change it together with `parallelism`).
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let (now, before) = (&new["spec"], &old["spec"]);
    let mut errors = Vec::new();
    let indexed = text(now, "completionMode") == "Indexed";
    if !same(&now["completions"], &before["completions"]) {
        if !indexed {
            errors.push(FieldError::immutable("spec.completions", now["completions"].clone()));
        } else if has(now, "completions") && int(now, "completions") != int(now, "parallelism") {
            errors.push(FieldError::invalid(
                "spec.completions",
                now["completions"].clone(),
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    }
    if !same(&now["selector"], &before["selector"]) {
        errors.push(FieldError::immutable("spec.selector", BadValue::Go(label_selector::go_syntax(&now["selector"]))));
    }
    for field in
        ["template", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"]
    {
        if !same(&now[field], &before[field]) {
            errors.push(FieldError::immutable(format!("spec.{field}"), now[field].clone()));
        }
    }
    errors
}
