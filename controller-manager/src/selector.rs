//! `metav1.LabelSelectorAsSelector`: a `spec.selector` (`matchLabels` and `matchExpressions`) as
//! a selector that matches label sets, built on `skiff_api::selector`.
//!
//! An empty selector matches everything (which is why the Deployment controller refuses one).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use skiff_api::selector::{LabelSelector as Selector, Operator, Requirement};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid label selector operator")]
pub struct InvalidOperator(pub String);

pub fn label_selector_as_selector(selector: &LabelSelector) -> Result<Selector, InvalidOperator> {
    let mut requirements: Vec<Requirement> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(key, value)| Requirement { key: key.clone(), operator: Operator::Equals, values: vec![value.clone()] })
        .collect();
    for expression in selector.match_expressions.iter().flatten() {
        let operator = match expression.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => return Err(InvalidOperator(other.to_string())),
        };
        let values = expression.values.clone().unwrap_or_default();
        requirements.push(Requirement { key: expression.key.clone(), operator, values });
    }
    Ok(Selector { requirements })
}

/// Whether `selector` has neither `matchLabels` nor `matchExpressions`.
pub fn selects_everything(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && selector.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// Whether `labels` (absent: none) match.
pub fn matches(selector: &Selector, labels: &Option<BTreeMap<String, String>>) -> bool {
    match labels {
        Some(labels) => selector.matches(labels),
        None => selector.matches(&BTreeMap::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn match_labels_and_expressions_must_all_hold() {
        let selector = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["front".into(), "edge".into()]),
            }]),
        };
        let selector = label_selector_as_selector(&selector).unwrap();
        assert!(matches(&selector, &labels(&[("app", "web"), ("tier", "edge"), ("x", "y")])));
        assert!(!matches(&selector, &labels(&[("app", "web")])));
        assert!(!matches(&selector, &None));
    }

    #[test]
    fn an_empty_selector_selects_everything() {
        let empty = LabelSelector::default();
        assert!(selects_everything(&empty));
        assert!(matches(&label_selector_as_selector(&empty).unwrap(), &labels(&[("any", "thing")])));
    }

    #[test]
    fn unknown_operators_are_refused() {
        let selector = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Gt".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(label_selector_as_selector(&selector), Err(InvalidOperator("Gt".into())));
    }
}
