//! Where a pod may run: tolerations, taints, node affinity and pod (anti-)affinity.
//!
//! Mirrors `ValidateTolerations`, `validateTaintEffect`, `validateNodeTaints`,
//! `validateAffinity`, `ValidateNodeSelector`, `ValidateNodeSelectorRequirement`,
//! `ValidatePreferredSchedulingTerms` and `validatePodAffinityTerm` in kubernetes
//! `pkg/apis/core/validation/validation.go`. Left out: `matchFields`, `matchLabelKeys` and
//! `mismatchLabelKeys`, topology spread constraints.

use serde_json::Value;

use super::field::{quote, FieldError, Path};
use super::json::{has, list, text};
use super::label_selector;
use super::names::{dns1123_label, label_value, qualified_name};

const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

fn label_name(key: &str, path: &Path) -> Vec<FieldError> {
    qualified_name(key).into_iter().map(|p| FieldError::invalid(path, key, p)).collect()
}

/// A pod's `tolerations`.
pub fn tolerations(tolerations: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, toleration) in tolerations.iter().enumerate() {
        let at = path.index(i);
        let (key, operator, value, effect) = (
            text(toleration, "key"),
            text(toleration, "operator"),
            text(toleration, "value"),
            text(toleration, "effect"),
        );
        if !key.is_empty() {
            errors.extend(label_name(key, &at.child("key")));
        }
        if key.is_empty() && operator != "Exists" {
            errors.push(FieldError::invalid(
                at.child("operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if has(toleration, "tolerationSeconds") && effect != "NoExecute" {
            errors.push(FieldError::invalid(
                at.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let problems = label_value(value);
                if !problems.is_empty() {
                    errors.push(FieldError::invalid(at.child("operator"), value, problems.join(";")));
                }
            }
            "Exists" if !value.is_empty() => errors.push(FieldError::invalid(
                at.child("operator"),
                value,
                "value must be empty when `operator` is 'Exists'",
            )),
            "Exists" => {}
            other => errors.push(FieldError::not_supported(at.child("operator"), other, &["Equal", "Exists"])),
        }
        if !effect.is_empty() && !EFFECTS.contains(&effect) {
            errors.push(FieldError::not_supported(at.child("effect"), effect, EFFECTS));
        }
    }
    errors
}

/// A node's `taints` (reported at `metadata.taints`, as Kubernetes does): unique by key and
/// effect.
pub fn taints(taints: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, taint) in taints.iter().enumerate() {
        let at = path.index(i);
        let (key, value, effect) = (text(taint, "key"), text(taint, "value"), text(taint, "effect"));
        errors.extend(label_name(key, &at.child("key")));
        let problems = label_value(value);
        if !problems.is_empty() {
            errors.push(FieldError::invalid(at.child("value"), value, problems.join(";")));
        }
        match effect {
            "" => errors.push(FieldError::required(at.child("effect"), "")),
            e if !EFFECTS.contains(&e) => errors.push(FieldError::not_supported(at.child("effect"), e, EFFECTS)),
            _ => {}
        }
        if !seen.insert((key, effect)) {
            let shown = format!(
                "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:<nil>}}",
                quote(key),
                quote(value),
                quote(effect)
            );
            errors.push(FieldError::duplicate_go(&at, shown, "taints must be unique by key and effect pair"));
        }
    }
    errors
}

/// A pod's `affinity`.
pub fn affinity(affinity: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(node) = affinity.get("nodeAffinity").filter(|v| !v.is_null()) {
        let at = path.child("nodeAffinity");
        if let Some(required) = node.get("requiredDuringSchedulingIgnoredDuringExecution").filter(|v| !v.is_null()) {
            errors.extend(node_selector(required, &at.child("requiredDuringSchedulingIgnoredDuringExecution")));
        }
        let preferred = at.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in list(node, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            errors.extend(weight(term, &preferred.index(i)));
            errors.extend(node_selector_term(&term["preference"], &preferred.index(i).child("preference")));
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(pods) = affinity.get(kind).filter(|v| !v.is_null()) else { continue };
        let at = path.child(kind);
        let required = at.child("requiredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in list(pods, "requiredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            errors.extend(pod_affinity_term(term, &required.index(i)));
        }
        let preferred = at.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in list(pods, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            errors.extend(weight(term, &preferred.index(i)));
            errors.extend(pod_affinity_term(&term["podAffinityTerm"], &preferred.index(i).child("podAffinityTerm")));
        }
    }
    errors
}

fn weight(term: &Value, path: &Path) -> Vec<FieldError> {
    let weight = term["weight"].as_i64().unwrap_or(0);
    if (1..=100).contains(&weight) {
        Vec::new()
    } else {
        vec![FieldError::invalid(path.child("weight"), weight, "must be in the range 1-100")]
    }
}

pub fn node_selector(selector: &Value, path: &Path) -> Vec<FieldError> {
    let terms = list(selector, "nodeSelectorTerms");
    if terms.is_empty() {
        return vec![FieldError::required(
            path.child("nodeSelectorTerms"),
            "must have at least one node selector term",
        )];
    }
    let at = path.child("nodeSelectorTerms");
    terms.iter().enumerate().flat_map(|(i, term)| node_selector_term(term, &at.index(i))).collect()
}

/// One node selector term's `matchExpressions`.
pub fn node_selector_term(term: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, requirement) in list(term, "matchExpressions").iter().enumerate() {
        let at = path.child("matchExpressions").index(i);
        let values = list(requirement, "values");
        match text(requirement, "operator") {
            "In" | "NotIn" if values.is_empty() => errors
                .push(FieldError::required(at.child("values"), "must be specified when `operator` is 'In' or 'NotIn'")),
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(FieldError::forbidden(
                at.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "Gt" | "Lt" if values.len() != 1 => errors.push(FieldError::required(
                at.child("values"),
                "must be specified single value when `operator` is 'Lt' or 'Gt'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
            other => errors.push(FieldError::invalid(at.child("operator"), other, "not a valid selector operator")),
        }
        errors.extend(label_name(text(requirement, "key"), &at.child("key")));
        for (j, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or_default();
            errors.extend(
                label_value(value).into_iter().map(|p| FieldError::invalid(at.child("values").index(j), value, p)),
            );
        }
    }
    errors
}

fn pod_affinity_term(term: &Value, path: &Path) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in ["labelSelector", "namespaceSelector"] {
        if let Some(selector) = term.get(field).filter(|v| !v.is_null()) {
            errors.extend(label_selector::validate(selector, &path.child(field)));
        }
    }
    for namespace in list(term, "namespaces").iter().filter_map(Value::as_str) {
        errors.extend(
            dns1123_label(namespace).into_iter().map(|p| FieldError::invalid(path.child("namespace"), namespace, p)),
        );
    }
    let topology = text(term, "topologyKey");
    if topology.is_empty() {
        errors.push(FieldError::required(path.child("topologyKey"), "can not be empty"));
    }
    errors.extend(label_name(topology, &path.child("topologyKey")));
    errors
}
