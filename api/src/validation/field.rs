//! Field errors: what is wrong with one field, printed exactly as Kubernetes prints it.
//!
//! Mirrors apimachinery's `pkg/util/validation/field` (`field.Error`, `ErrorBody`, `field.Path`).
//! An error reads `<field>: <type>[: <bad value>][: <detail>]`:
//!
//! ```text
//! spec.replicas: Invalid value: -1: must be greater than or equal to 0
//! spec.template.spec.containers[0].name: Required value
//! spec.type: Unsupported value: "Balanced": supported values: "ClusterIP", "NodePort"
//! metadata.annotations: Too long: must have at most 262144 bytes
//! ```
//!
//! Kubernetes prints bad values with Go's `fmt`: strings quoted, numbers bare, a label map as
//! `map[string]string{"app":"web"}`, a string list as `[]string{"a", "b"}`, structs in Go syntax.
//! [`BadValue::Json`] renders a JSON value by those rules; [`BadValue::Go`] carries a value
//! already written in Go syntax (a `v1.LabelSelector{…}`). Left out: Go's rendering of other
//! structs and typed maps, which print here as compact JSON.

use std::fmt;

use serde_json::Value;

/// A field's bad value, as an error message shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadValue {
    /// Printed by Go's rules for the JSON shape (see the module doc).
    Json(Value),
    /// Already in Go syntax, printed as is.
    Go(String),
}

impl From<Value> for BadValue {
    fn from(value: Value) -> Self {
        BadValue::Json(value)
    }
}

impl From<&str> for BadValue {
    fn from(value: &str) -> Self {
        BadValue::Json(Value::from(value))
    }
}

impl From<String> for BadValue {
    fn from(value: String) -> Self {
        BadValue::Json(Value::from(value))
    }
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::Json(value) => write!(f, "{}", render(value)),
            BadValue::Go(text) => write!(f, "{text}"),
        }
    }
}

/// A string as Go's `%q` quotes it (for the ASCII text of field values, Rust's `{:?}` agrees).
pub fn quote(text: &str) -> String {
    format!("{text:?}")
}

/// A JSON value as Go's `fmt` would print the Go value it decodes into.
fn render(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::String(text) => quote(text),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let quoted: Vec<String> = items.iter().map(|v| quote(v.as_str().unwrap_or_default())).collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
        Value::Object(map) if map.values().all(Value::is_string) => go_string_map(Some(map)),
        other => other.to_string(),
    }
}

/// A `map[string]string` as `%#v` prints it: keys sorted, `(nil)` when absent.
pub fn go_string_map(map: Option<&serde_json::Map<String, Value>>) -> String {
    let Some(map) = map else { return "map[string]string(nil)".to_string() };
    let mut pairs: Vec<(&String, &str)> = map.iter().map(|(k, v)| (k, v.as_str().unwrap_or_default())).collect();
    pairs.sort();
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{}:{}", quote(k), quote(v))).collect();
    format!("map[string]string{{{}}}", body.join(", "))
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorType {
    Required,
    Invalid(BadValue),
    Forbidden,
    Duplicate(BadValue),
    NotSupported {
        value: BadValue,
        supported: Vec<String>,
    },
    NotFound(BadValue),
    /// The value is not shown, only the limit (in the detail).
    TooLong,
    /// A list longer than allowed: the count is shown, the limit is in the detail.
    TooMany(usize),
}

/// One field error: `spec.replicas: Invalid value: -1: must be greater than or equal to 0`.
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

    pub fn invalid(field: impl Into<String>, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: ErrorType::Invalid(BadValue::Json(value.into())),
            detail: detail.into(),
        }
    }

    /// An invalid value already written in Go syntax (`v1.LabelSelector{…}`).
    pub fn invalid_go(field: impl Into<String>, shown: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: ErrorType::Invalid(BadValue::Go(shown.into())), detail: detail.into() }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: ErrorType::Forbidden, detail: detail.into() }
    }

    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        FieldError {
            field: field.into(),
            kind: ErrorType::Duplicate(BadValue::Json(value.into())),
            detail: String::new(),
        }
    }

    /// A duplicate value already written in Go syntax (`core.Taint{…}`), with a detail.
    pub fn duplicate_go(field: impl Into<String>, shown: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: ErrorType::Duplicate(BadValue::Go(shown.into())),
            detail: detail.into(),
        }
    }

    pub fn not_found(field: impl Into<String>, value: impl Into<Value>) -> Self {
        FieldError {
            field: field.into(),
            kind: ErrorType::NotFound(BadValue::Json(value.into())),
            detail: String::new(),
        }
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: impl Into<BadValue>, supported: &[&str]) -> Self {
        FieldError {
            field: field.into(),
            kind: ErrorType::NotSupported {
                value: value.into(),
                supported: supported.iter().map(|s| s.to_string()).collect(),
            },
            detail: String::new(),
        }
    }

    /// `Too long: must have at most 262144 bytes`.
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        FieldError {
            field: field.into(),
            kind: ErrorType::TooLong,
            detail: format!("must have at most {max_bytes} bytes"),
        }
    }

    /// `Too many: 21: must have at most 20 items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        FieldError {
            field: field.into(),
            kind: ErrorType::TooMany(actual),
            detail: format!("must have at most {max} items"),
        }
    }

    /// `field is immutable`, with the new value.
    pub fn immutable(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        FieldError {
            field: field.into(),
            kind: ErrorType::Invalid(value.into()),
            detail: super::names::FIELD_IMMUTABLE.to_string(),
        }
    }

    /// The `reason` of the error's cause in a `Status` body.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid(_) => "FieldValueInvalid",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::Duplicate(_) => "FieldValueDuplicate",
            ErrorType::NotSupported { .. } => "FieldValueNotSupported",
            ErrorType::NotFound(_) => "FieldValueNotFound",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany(_) => "FieldValueTooMany",
        }
    }

    /// The message without the field (Kubernetes' `ErrorBody`): what a `Status` cause carries.
    pub fn body(&self) -> String {
        let head = match &self.kind {
            ErrorType::Required => "Required value".to_string(),
            ErrorType::Invalid(value) => format!("Invalid value: {value}"),
            ErrorType::Forbidden => "Forbidden".to_string(),
            ErrorType::Duplicate(value) => format!("Duplicate value: {value}"),
            ErrorType::NotFound(value) => format!("Not found: {value}"),
            ErrorType::TooLong => "Too long".to_string(),
            ErrorType::TooMany(actual) => format!("Too many: {actual}"),
            ErrorType::NotSupported { value, supported } => {
                let quoted: Vec<String> = supported.iter().map(|s| quote(s)).collect();
                return if quoted.is_empty() {
                    format!("Unsupported value: {value}")
                } else {
                    format!("Unsupported value: {value}: supported values: {}", quoted.join(", "))
                };
            }
        };
        if self.detail.is_empty() {
            head
        } else {
            format!("{head}: {}", self.detail)
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// A field path, built the way Kubernetes' `field.Path` is: `spec.ports[0].name`,
/// `metadata.labels[app]` (keys are not quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn new(root: &str) -> Path {
        Path(root.to_string())
    }

    // Validation builds a path for every field it looks at, errors or not: they are put
    // together by hand, which costs a fraction of `format!`.

    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            self.joined(&[".", name])
        }
    }

    pub fn index(&self, i: usize) -> Path {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = i;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.joined(&["[", std::str::from_utf8(&digits[at..]).expect("ASCII digits"), "]"])
    }

    pub fn key(&self, key: &str) -> Path {
        self.joined(&["[", key, "]"])
    }

    fn joined(&self, parts: &[&str]) -> Path {
        let mut path = String::with_capacity(self.0.len() + parts.iter().map(|p| p.len()).sum::<usize>());
        path.push_str(&self.0);
        parts.iter().for_each(|part| path.push_str(part));
        Path(path)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<&Path> for String {
    fn from(path: &Path) -> String {
        path.0.clone()
    }
}

impl From<Path> for String {
    fn from(path: Path) -> String {
        path.0
    }
}
