//! Label selectors in objects (`spec.selector: {matchLabels, matchExpressions}`): their syntax,
//! whether they match a template's labels, and how Kubernetes prints one in a message.
//!
//! Mirrors apimachinery's `pkg/apis/meta/v1/validation` (`ValidateLabelSelector`,
//! `ValidateLabelSelectorRequirement`) and `LabelSelectorAsSelector` in
//! `pkg/apis/meta/v1/helpers.go`. Matching reuses [`crate::selector`]'s requirements. A selector
//! that is absent matches nothing and one that is empty (`{}`) matches everything, as in
//! Kubernetes: that is why a Deployment without a selector is told both `Required value` and
//! `` `selector` does not match template `labels` ``.

use std::collections::BTreeMap;

use serde_json::Value;

use super::field::{go_string_map, quote, FieldError, Path};
use super::json::{list, obj, text};
use super::names::{label_value, qualified_name};
use super::validate_labels;
use crate::selector::{LabelSelector, Operator, Requirement};

/// Every syntax problem of the selector at `path`.
pub fn validate(selector: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = validate_labels(obj(selector, "matchLabels"), &path.child("matchLabels"));
    for (i, expression) in list(selector, "matchExpressions").iter().enumerate() {
        errors.extend(requirement(expression, &path.child("matchExpressions").index(i)));
    }
    errors
}

fn requirement(expression: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let values = list(expression, "values");
    match text(expression, "operator") {
        "In" | "NotIn" if values.is_empty() => errors
            .push(FieldError::required(path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'")),
        "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(FieldError::forbidden(
            path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => errors.push(FieldError::invalid(path.child("operator"), other, "not a valid selector operator")),
    }
    let key = text(expression, "key");
    errors.extend(qualified_name(key).into_iter().map(|p| FieldError::invalid(path.child("key"), key, p)));
    for (i, value) in values.iter().enumerate() {
        let value = value.as_str().unwrap_or_default();
        errors.extend(
            label_value(value).into_iter().map(|p| FieldError::invalid(path.child("values").index(i), value, p)),
        );
    }
    errors
}

/// The selector as requirements (`LabelSelectorAsSelector`), `None` if it is malformed. An absent
/// selector is `Some(None)`: it matches nothing.
pub fn parse(selector: Option<&Value>) -> Option<Option<LabelSelector>> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else { return Some(None) };
    let mut requirements = Vec::new();
    let valid = |key: &str, values: &[String]| {
        qualified_name(key).is_empty() && values.iter().all(|v| label_value(v).is_empty())
    };
    for (key, value) in obj(selector, "matchLabels").into_iter().flatten() {
        let value = value.as_str().unwrap_or_default().to_string();
        if !valid(key, std::slice::from_ref(&value)) {
            return None;
        }
        requirements.push(Requirement { key: key.clone(), operator: Operator::In, values: vec![value] });
    }
    for expression in list(selector, "matchExpressions") {
        let values: Vec<String> =
            list(expression, "values").iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect();
        let operator = match (text(expression, "operator"), values.is_empty()) {
            ("In", false) => Operator::In,
            ("NotIn", false) => Operator::NotIn,
            ("Exists", true) => Operator::Exists,
            ("DoesNotExist", true) => Operator::DoesNotExist,
            _ => return None,
        };
        let key = text(expression, "key");
        if !valid(key, &values) {
            return None;
        }
        requirements.push(Requirement { key: key.to_string(), operator, values });
    }
    Some(Some(LabelSelector { requirements }))
}

/// Whether a parsed selector matches `labels` (an absent selector matches nothing).
pub fn matches(selector: &Option<LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    selector.as_ref().is_some_and(|s| s.matches(labels))
}

/// Whether the selector has no requirement at all (`{}`).
pub fn is_empty(selector: &Value) -> bool {
    obj(selector, "matchLabels").is_none_or(|m| m.is_empty()) && list(selector, "matchExpressions").is_empty()
}

/// The selector as Go's `%#v` prints a `v1.LabelSelector`, as in the famous
/// `spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web"},
/// MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`.
pub fn go_syntax(selector: &Value) -> String {
    let expressions = match selector.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(items) => {
            let shown: Vec<String> = items
                .iter()
                .map(|e| {
                    let values = match e.get("values").and_then(Value::as_array) {
                        None => "[]string(nil)".to_string(),
                        Some(v) => {
                            let quoted: Vec<String> = v.iter().map(|s| quote(s.as_str().unwrap_or_default())).collect();
                            format!("[]string{{{}}}", quoted.join(", "))
                        }
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        quote(text(e, "key")),
                        quote(text(e, "operator"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", shown.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{expressions}}}",
        go_string_map(obj(selector, "matchLabels"))
    )
}
