//! Field errors and the name and label rules every object obeys, with Kubernetes' messages.
//!
//! Mirrors apimachinery's `pkg/util/validation/validation.go` (`IsDNS1123Label`,
//! `IsDNS1123Subdomain`, `IsQualifiedName`, `IsValidLabelValue`) and `pkg/util/validation/field`
//! (`field.Error`). The messages are part of the interface: kubectl prints them as the server
//! sends them, and tutorials show them, e.g.
//! `metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of …`.

use std::collections::BTreeMap;
use std::fmt;

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;

const DNS1123_LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QUALIFIED_NAME_MESSAGE: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const QUALIFIED_NAME_SHAPE_MESSAGE: &str = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorType {
    Required,
    /// The bad value: strings print quoted, numbers and booleans bare, as Kubernetes prints them.
    Invalid(serde_json::Value),
    Forbidden,
    Duplicate(String),
    NotSupported {
        value: String,
        supported: Vec<String>,
    },
}

/// One field error: `spec.replicas: Invalid value: "-1": must be greater than or equal to 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `spec.template.spec.containers[0].name`
    pub field: String,
    pub kind: ErrorType,
    pub detail: String,
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: ErrorType::Required, detail: detail.into() }
    }

    pub fn invalid(field: impl Into<String>, value: impl Into<serde_json::Value>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: ErrorType::Invalid(value.into()), detail: detail.into() }
    }

    /// The `reason` of the error's cause in a `Status` body.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid(_) => "FieldValueInvalid",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::Duplicate(_) => "FieldValueDuplicate",
            ErrorType::NotSupported { .. } => "FieldValueNotSupported",
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = match &self.kind {
            ErrorType::Required => format!("{}: Required value", self.field),
            ErrorType::Invalid(serde_json::Value::String(text)) => format!("{}: Invalid value: {text:?}", self.field),
            ErrorType::Invalid(value) => format!("{}: Invalid value: {value}", self.field),
            ErrorType::Forbidden => format!("{}: Forbidden", self.field),
            ErrorType::Duplicate(value) => format!("{}: Duplicate value: {value:?}", self.field),
            ErrorType::NotSupported { value, supported } => {
                let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
                format!("{}: Unsupported value: {value:?}: supported values: {}", self.field, quoted.join(", "))
            }
        };
        if self.detail.is_empty() || matches!(self.kind, ErrorType::NotSupported { .. }) {
            write!(f, "{head}")
        } else {
            write!(f, "{head}: {}", self.detail)
        }
    }
}

fn too_long(max: usize) -> String {
    format!("must be no more than {max} characters")
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn dns1123_label_ok(value: &str) -> bool {
    !value.is_empty() && value.chars().all(is_label_char) && !value.starts_with('-') && !value.ends_with('-')
}

/// Problems of `value` as a DNS-1123 label (names of namespaces, services, containers, ports).
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        problems.push(too_long(DNS1123_LABEL_MAX));
    }
    if !dns1123_label_ok(value) {
        problems.push(DNS1123_LABEL_MESSAGE.to_string());
    }
    problems
}

/// Problems of `value` as a DNS-1123 subdomain (names of most objects).
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        problems.push(too_long(DNS1123_SUBDOMAIN_MAX));
    }
    if !value.split('.').all(dns1123_label_ok) {
        problems.push(DNS1123_SUBDOMAIN_MESSAGE.to_string());
    }
    problems
}

fn qualified_part_ok(part: &str) -> bool {
    !part.is_empty()
        && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && part.starts_with(|c: char| c.is_ascii_alphanumeric())
        && part.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Problems of `value` as a qualified name (label and annotation keys): an optional DNS
/// subdomain prefix and `/`, then a name part.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (prefix, name) = match value.split('/').collect::<Vec<_>>()[..] {
        [name] => (None, name),
        [prefix, name] => (Some(prefix), name),
        _ => {
            problems.push(QUALIFIED_NAME_SHAPE_MESSAGE.to_string());
            return problems;
        }
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            problems.push("prefix part must be non-empty".to_string());
        } else {
            problems.extend(dns1123_subdomain(prefix).into_iter().map(|p| format!("prefix part {p}")));
        }
    }
    if name.is_empty() {
        problems.push("name part must be non-empty".to_string());
    } else {
        if name.len() > QUALIFIED_NAME_MAX {
            problems.push(format!("name part {}", too_long(QUALIFIED_NAME_MAX)));
        }
        if !qualified_part_ok(name) {
            problems.push(QUALIFIED_NAME_MESSAGE.to_string());
        }
    }
    problems
}

/// Problems of `value` as a label value.
pub fn label_value(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        problems.push(too_long(LABEL_VALUE_MAX));
    }
    if !value.is_empty() && !qualified_part_ok(value) {
        problems.push(LABEL_VALUE_MESSAGE.to_string());
    }
    problems
}

/// Every problem of a label map, at `field` (`metadata.labels`).
pub fn labels(labels: &BTreeMap<String, String>, field: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in labels {
        errors.extend(qualified_name(key).into_iter().map(|p| FieldError::invalid(field, key.clone(), p)));
        errors.extend(label_value(value).into_iter().map(|p| FieldError::invalid(field, value.clone(), p)));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc_1123() {
        let cases = [
            ("web", true, true),
            ("web-0", true, true),
            ("my.app", false, true),
            ("Web", false, false),
            ("-web", false, false),
            ("web-", false, false),
            ("web_1", false, false),
            ("", false, false),
            ("a..b", false, false),
        ];
        for (name, label_ok, subdomain_ok) in cases {
            assert_eq!(dns1123_label(name).is_empty(), label_ok, "{name:?} as a label");
            assert_eq!(dns1123_subdomain(name).is_empty(), subdomain_ok, "{name:?} as a subdomain");
        }
        assert_eq!(dns1123_label(&"a".repeat(64)), vec!["must be no more than 63 characters".to_string()]);
        assert!(dns1123_subdomain(&"a".repeat(253)).is_empty());
    }

    #[test]
    fn label_keys_and_values_follow_kubernetes() {
        let keys = [
            ("app", true),
            ("app.kubernetes.io/name", true),
            ("App_Name.v2", true),
            ("example.com/", false),
            ("/name", false),
            ("a/b/c", false),
            ("invalid label", false),
            ("Example.com/name", false),
        ];
        for (key, ok) in keys {
            assert_eq!(qualified_name(key).is_empty(), ok, "{key:?}: {:?}", qualified_name(key));
        }
        let values = [("", true), ("web", true), ("My_Value.1", true), ("-x", false), ("a b", false)];
        for (value, ok) in values {
            assert_eq!(label_value(value).is_empty(), ok, "{value:?}");
        }
    }

    #[test]
    fn errors_print_as_kubectl_shows_them() {
        let error = FieldError::invalid("metadata.name", "Web", dns1123_subdomain("Web").remove(0));
        assert!(error.to_string().starts_with(
            "metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"
        ));
        assert_eq!(
            FieldError::required("spec.template.spec.containers[0].name", "").to_string(),
            "spec.template.spec.containers[0].name: Required value"
        );
        let unsupported = FieldError {
            field: "spec.type".into(),
            kind: ErrorType::NotSupported {
                value: "Balanced".into(),
                supported: vec!["ClusterIP".into(), "NodePort".into()],
            },
            detail: String::new(),
        };
        assert_eq!(
            unsupported.to_string(),
            "spec.type: Unsupported value: \"Balanced\": supported values: \"ClusterIP\", \"NodePort\""
        );
        assert_eq!(unsupported.reason(), "FieldValueNotSupported");
    }

    #[test]
    fn a_label_map_reports_each_bad_key_and_value() {
        let map: BTreeMap<String, String> = [("invalid label", "ok"), ("app", "spaces are not allowed")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let errors = labels(&map, "metadata.labels");
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|e| e.field == "metadata.labels"));
        assert!(errors[1].to_string().contains("name part must consist of alphanumeric characters"), "{}", errors[1]);
    }
}
