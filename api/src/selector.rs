//! Label and field selectors: `?labelSelector=app=web,tier in (front,back)` and
//! `?fieldSelector=metadata.name=web-0`.
//!
//! Mirrors apimachinery's `pkg/labels/selector.go` (`Parse`, `Requirement.Matches`) and
//! `pkg/fields/selector.go`. Label selectors are a comma-separated AND of requirements:
//!
//! | requirement      | matches a label set where            |
//! |------------------|--------------------------------------|
//! | `k=v`, `k==v`    | `k` is `v`                           |
//! | `k!=v`           | `k` is absent or not `v`             |
//! | `k in (a,b)`     | `k` is `a` or `b`                    |
//! | `k notin (a,b)`  | `k` is absent or neither             |
//! | `k`              | `k` is present                       |
//! | `!k`             | `k` is absent                        |
//!
//! Field selectors have only `=`, `==` and `!=`. The empty selector matches everything.
//! Left out: the `>`/`<` numeric operators (labels.Parse accepts them; nothing Skiff serves uses
//! them).

use std::collections::BTreeMap;
use std::fmt;

use crate::validation;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

impl Requirement {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// A parsed label selector: all its requirements must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(SelectorError(format!("empty requirement in {text:?}")));
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| match r.operator {
                Operator::Equals => format!("{}={}", r.key, r.values[0]),
                Operator::NotEquals => format!("{}!={}", r.key, r.values[0]),
                Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
                Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Operator::Exists => r.key.clone(),
                Operator::DoesNotExist => format!("!{}", r.key),
            })
            .collect();
        write!(f, "{}", parts.join(","))
    }
}

/// Splits on commas that are not inside a `( … )` value list.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A requirement whose key and values obey the label rules (`validation.rs`).
fn requirement(key: &str, operator: Operator, values: Vec<String>) -> Result<Requirement, SelectorError> {
    if let Some(problem) = validation::qualified_name(key).into_iter().next() {
        return Err(SelectorError(format!("invalid label key {key:?}: {problem}")));
    }
    for value in &values {
        if let Some(problem) = validation::label_value(value).into_iter().next() {
            return Err(SelectorError(format!("invalid label value: {value:?}: at key: {key:?}: {problem}")));
        }
    }
    Ok(Requirement { key: key.to_string(), operator, values })
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectorError> {
    if let Some(key) = part.strip_prefix('!') {
        return requirement(key.trim(), Operator::DoesNotExist, vec![]);
    }
    for (token, operator) in [("!=", Operator::NotEquals), ("==", Operator::Equals), ("=", Operator::Equals)] {
        if let Some((key, value)) = part.split_once(token) {
            return requirement(key.trim(), operator, vec![value.trim().to_string()]);
        }
    }
    // `key in (a,b)` / `key notin (a,b)`; the space before the word matters.
    for (word, operator) in [(" notin ", Operator::NotIn), (" in ", Operator::In)] {
        if let Some((key, rest)) = part.split_once(word) {
            let list = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| SelectorError(format!("expected a (value, …) list in {part:?}")))?;
            let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
            if values.iter().any(String::is_empty) && values.len() > 1 {
                return Err(SelectorError(format!("empty value in {part:?}")));
            }
            return requirement(key.trim(), operator, values);
        }
    }
    requirement(part.trim(), Operator::Exists, vec![])
}

/// A parsed field selector: `field=value`, `field==value`, `field!=value`, ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    /// `(field, value, equal)`: `equal` is false for `!=`.
    pub terms: Vec<(String, String, bool)>,
}

impl FieldSelector {
    pub fn parse(text: &str) -> Result<FieldSelector, SelectorError> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let term = if let Some((field, value)) = part.split_once("!=") {
                (field, value, false)
            } else if let Some((field, value)) = part.split_once("==") {
                (field, value, true)
            } else if let Some((field, value)) = part.split_once('=') {
                (field, value, true)
            } else {
                return Err(SelectorError(format!("invalid field selector: {part:?}")));
            };
            terms.push((term.0.trim().to_string(), term.1.trim().to_string(), term.2));
        }
        Ok(FieldSelector { terms })
    }

    /// The fields it names (the API server refuses fields a resource does not support).
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|(field, _, _)| field.as_str())
    }

    /// Whether an object matches; `field` gives the object's value of a field (an absent field
    /// reads as `""`, as in Kubernetes).
    pub fn matches(&self, field: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|(name, value, equal)| (field(name).unwrap_or_default() == *value) == *equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selectors_match_like_kubernetes() {
        let web = labels(&[("app", "web"), ("tier", "front"), ("env", "prod")]);
        let db = labels(&[("app", "db"), ("tier", "back")]);
        let cases = [
            ("", true, true),
            ("app=web", true, false),
            ("app==web", true, false),
            ("app!=web", false, true),
            ("tier in (front,back)", true, true),
            ("tier in (front)", true, false),
            ("app notin (web, cache)", false, true),
            ("env", true, false),
            ("!env", false, true),
            ("app=web,env=prod", true, false),
            ("app=db, tier in (back), !env", false, true),
            ("missing!=x", true, true),
        ];
        for (selector, want_web, want_db) in cases {
            let parsed = LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector:?}: {e}"));
            assert_eq!((parsed.matches(&web), parsed.matches(&db)), (want_web, want_db), "{selector:?}");
        }
    }

    #[test]
    fn bad_label_selectors_are_refused() {
        for bad in ["app=", "=web", "app in web", "a b=c", "app=we b", "app in (a,,b)", "app=web,", "-bad=x"] {
            let parsed = LabelSelector::parse(bad);
            // `app=` (an empty value) is valid in Kubernetes; everything else here is not.
            if bad == "app=" {
                assert!(parsed.is_ok(), "{bad:?}");
            } else {
                assert!(parsed.is_err(), "{bad:?} should be refused, got {parsed:?}");
            }
        }
    }

    #[test]
    fn prefixed_keys_are_labels_too() {
        let selector = LabelSelector::parse("app.kubernetes.io/name=web").unwrap();
        assert!(selector.matches(&labels(&[("app.kubernetes.io/name", "web")])));
        assert_eq!(selector.to_string(), "app.kubernetes.io/name=web");
    }

    #[test]
    fn field_selectors_compare_fields() {
        let pod = |field: &str| match field {
            "metadata.name" => Some("web-0".to_string()),
            "status.phase" => Some("Running".to_string()),
            _ => None,
        };
        let cases = [
            ("metadata.name=web-0", true),
            ("metadata.name==web-0", true),
            ("metadata.name!=web-0", false),
            ("metadata.name=web-0,status.phase!=Pending", true),
            ("spec.nodeName=", true),
            ("spec.nodeName!=", false),
            ("", true),
        ];
        for (selector, want) in cases {
            assert_eq!(FieldSelector::parse(selector).unwrap().matches(pod), want, "{selector:?}");
        }
        assert!(FieldSelector::parse("metadata.name").is_err());
        let selector = FieldSelector::parse("a=1,b!=2").unwrap();
        assert_eq!(selector.fields().collect::<Vec<_>>(), vec!["a", "b"]);
    }
}
