//! Values of the wrong type: `"replicas": "3"`, `"labels": {"app": 5}`, `"containers": {}`.
//!
//! kube-apiserver decodes every body into its Go types, so a value its field's type cannot hold
//! fails the decoding, and the request with it: `400 BadRequest` for a create or an update
//! (`Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string
//! into Go struct field DeploymentSpec.spec.replicas of type int32`), `422` on the `patch` field
//! for a patch. Whatever `fieldValidation` says: this is not a strict decoding error, and
//! nothing is stored. Skiff keeps objects as JSON, so without this check such a value would be
//! stored as sent and trip up every controller that reads it.
//!
//! The schema of each field ([`super::catalogue`]) says what it holds; [`Expected::of`] reads
//! that once per schema, and the unknown-field walk ([`super::unknown`]) checks each value it
//! passes against it, keeping the first mismatch, as Go's decoder reports the first one. The
//! message is worded as `encoding/json` words an `UnmarshalTypeError`
//! (`staging/src/k8s.io/apimachinery/pkg/runtime/serializer/json/json.go` decodes with
//! `sigs.k8s.io/json`, a fork of it):
//!
//! - what was found: `string`, `number`, `bool`, `object`, `array`; a number an integer field
//!   cannot hold is named with its digits, `number 3.5`;
//! - where: the innermost Go struct, then the path of struct fields from the object's root (no
//!   list indices, no map keys): `ObjectMeta.metadata.labels`;
//! - what was wanted, as a Go type: `int32`, `string`, `[]v1.Container`, `map[string]string`,
//!   `v1.PodSpec`.
//!
//! `null` is accepted everywhere (Go leaves the zero value), and so is anything where the schema
//! says nothing (`RawExtension`, `FieldsV1`, preserved unknown fields). Left out: the checks a
//! type's own decoder makes of a string's content (a `Time` that does not parse, base64 in a
//! Secret's `data`, which validation reports instead), and `IntOrString`'s own wording.

use std::fmt;

use serde_json::Value;

/// What a schema lets a value be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Expected {
    /// Anything: the schema says nothing, or keeps whatever it is given.
    #[default]
    Anything,
    Object,
    Array,
    String,
    Bool,
    /// An integer of this many bits (`int32`, `int64`; `integer` with no format is Go's `int`).
    Integer {
        bits: u32,
    },
    Number,
    /// `IntOrString`: an integer or a string.
    IntOrString,
    /// `Quantity`: a string or a number.
    StringOrNumber,
}

impl Expected {
    /// What the (resolved) `schema` expects.
    pub(super) fn of(schema: &Value) -> Expected {
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return Expected::Anything;
        }
        if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
            let types: Vec<&str> = one_of.iter().filter_map(|s| s.get("type").and_then(Value::as_str)).collect();
            return match (types.contains(&"integer"), types.contains(&"string"), types.contains(&"number")) {
                (true, true, _) => Expected::IntOrString,
                (_, true, true) => Expected::StringOrNumber,
                _ => Expected::Anything,
            };
        }
        let format = schema.get("format").and_then(Value::as_str);
        match schema.get("type").and_then(Value::as_str) {
            // An object that declares neither fields nor values is raw JSON in Go.
            Some("object") if schema.get("properties").is_none() && schema.get("additionalProperties").is_none() => {
                Expected::Anything
            }
            Some("object") => Expected::Object,
            Some("array") => Expected::Array,
            Some("string") => Expected::String,
            Some("boolean") => Expected::Bool,
            Some("integer") => match format {
                Some("int32") => Expected::Integer { bits: 32 },
                _ => Expected::Integer { bits: 64 },
            },
            Some("number") => Expected::Number,
            _ => Expected::Anything,
        }
    }

    /// How Go's decoder names `value` if this cannot hold it; `None` if it can.
    pub(super) fn refuses(self, value: &Value) -> Option<String> {
        let holds = match (self, value) {
            (_, Value::Null) | (Expected::Anything, _) => true,
            (Expected::Object, Value::Object(_)) | (Expected::Array, Value::Array(_)) => true,
            (Expected::String, Value::String(_)) | (Expected::Bool, Value::Bool(_)) => true,
            (Expected::Number, Value::Number(_)) => true,
            (Expected::StringOrNumber, Value::String(_) | Value::Number(_)) => true,
            (Expected::IntOrString, Value::String(_)) => true,
            (Expected::Integer { bits }, Value::Number(n)) => return (!fits(n, bits)).then(|| format!("number {n}")),
            (Expected::IntOrString, Value::Number(n)) => return (!fits(n, 32)).then(|| format!("number {n}")),
            _ => false,
        };
        (!holds).then(|| found(value).to_string())
    }
}

/// Whether `n` is an integer that `bits` bits hold.
fn fits(n: &serde_json::Number, bits: u32) -> bool {
    match n.as_i64() {
        Some(i) if bits == 32 => i32::try_from(i).is_ok(),
        Some(_) => true,
        None => false,
    }
}

/// The JSON type of `value`, as Go's decoder names it.
fn found(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value its field's type cannot hold: the first one the walk met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMismatch {
    /// `string`, `number 3.5`
    pub found: String,
    /// The innermost Go struct holding the field (`DeploymentSpec`); empty at the object's root.
    pub within: String,
    /// The struct fields from the root, dot-separated: `spec.replicas`.
    pub field: String,
    /// The field's Go type: `int32`, `[]v1.Container`.
    pub go_type: String,
}

impl fmt::Display for TypeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "json: cannot unmarshal {} into Go value of type {}", self.found, self.go_type)
        } else {
            write!(
                f,
                "json: cannot unmarshal {} into Go struct field {}.{} of type {}",
                self.found, self.within, self.field, self.go_type
            )
        }
    }
}

/// The Go name of a named schema: `io.k8s.api.core.v1.PodSpec` → `v1.PodSpec` (package, type).
pub(super) fn go_name(schema_name: &str) -> String {
    let mut parts = schema_name.rsplit('.');
    match (parts.next(), parts.next()) {
        (Some(kind), Some(package)) => format!("{package}.{kind}"),
        _ => schema_name.to_string(),
    }
}

/// The Go type of a scalar (or unnamed) schema's values.
pub(super) fn go_scalar(expected: Expected, schema: &Value) -> &'static str {
    match expected {
        Expected::String if schema.get("format").and_then(Value::as_str) == Some("byte") => "[]uint8",
        Expected::String => "string",
        Expected::Bool => "bool",
        Expected::Integer { bits: 32 } => "int32",
        Expected::Integer { .. } if schema.get("format").is_none() => "int",
        Expected::Integer { .. } => "int64",
        Expected::Number => "float64",
        Expected::IntOrString => "intstr.IntOrString",
        Expected::StringOrNumber => "resource.Quantity",
        Expected::Object | Expected::Array | Expected::Anything => "",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn what_each_schema_holds() {
        let int32 = Expected::of(&json!({"type": "integer", "format": "int32"}));
        let int64 = Expected::of(&json!({"type": "integer", "format": "int64"}));
        let string = Expected::of(&json!({"type": "string"}));
        let boolean = Expected::of(&json!({"type": "boolean"}));
        let map = Expected::of(&json!({"type": "object", "additionalProperties": {"type": "string"}}));
        let raw = Expected::of(&json!({"type": "object"}));
        let list = Expected::of(&json!({"type": "array", "items": {"type": "string"}}));
        let int_or_string =
            Expected::of(&json!({"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}));
        let quantity = Expected::of(&json!({"oneOf": [{"type": "string"}, {"type": "number"}]}));
        let preserved = Expected::of(&json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
        let cases: &[(&str, Expected, Value, Option<&str>)] = &[
            ("an int32 takes an integer", int32, json!(3), None),
            ("an int32 refuses a string, named by its type", int32, json!("3"), Some("string")),
            ("an int32 refuses a fraction, named by its digits", int32, json!(3.5), Some("number 3.5")),
            ("an int32 refuses what 32 bits cannot hold", int32, json!(4_294_967_296_i64), Some("number 4294967296")),
            ("an int64 takes it", int64, json!(4_294_967_296_i64), None),
            ("null is accepted everywhere", int32, Value::Null, None),
            ("a string refuses a number", string, json!(5), Some("number")),
            ("a string refuses a bool", string, json!(true), Some("bool")),
            ("a bool refuses a string", boolean, json!("true"), Some("string")),
            ("a map refuses a list", map, json!(["a"]), Some("array")),
            ("a list refuses an object", list, json!({"name": "c"}), Some("object")),
            ("raw JSON takes anything", raw, json!([1, "a"]), None),
            ("preserved fields take anything", preserved, json!(1), None),
            ("IntOrString takes a string", int_or_string, json!("25%"), None),
            ("IntOrString takes an integer", int_or_string, json!(1), None),
            ("IntOrString refuses a bool", int_or_string, json!(false), Some("bool")),
            ("a Quantity takes a number", quantity, json!(0.5), None),
            ("a Quantity takes a string", quantity, json!("500m"), None),
            ("a Quantity refuses an object", quantity, json!({}), Some("object")),
        ];
        for (name, expected, value, refusal) in cases {
            assert_eq!(expected.refuses(value).as_deref(), *refusal, "{name}");
        }
    }

    #[test]
    fn messages_read_as_go_writes_them() {
        let mismatch = TypeMismatch {
            found: "string".into(),
            within: "DeploymentSpec".into(),
            field: "spec.replicas".into(),
            go_type: "int32".into(),
        };
        assert_eq!(
            mismatch.to_string(),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        );
        let root = TypeMismatch {
            found: "array".into(),
            within: String::new(),
            field: String::new(),
            go_type: "v1.Pod".into(),
        };
        assert_eq!(root.to_string(), "json: cannot unmarshal array into Go value of type v1.Pod");
        assert_eq!(go_name("io.k8s.api.core.v1.PodSpec"), "v1.PodSpec");
        assert_eq!(go_name("io.k8s.apimachinery.pkg.api.resource.Quantity"), "resource.Quantity");
    }
}
