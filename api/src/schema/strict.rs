//! `fieldValidation`: what the API server does about fields that do not exist or appear twice.
//!
//! Mirrors kube-apiserver 1.31 (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go`,
//! `update.go`, `patch.go`, and `rest.go`'s `fieldValidation`). Each create, update and patch
//! takes a `fieldValidation` query parameter:
//!
//! | value | unknown or duplicate fields |
//! |---|---|
//! | `Strict` (what kubectl sends by default) | the request fails: `400 BadRequest` with `strict decoding error: unknown field "spec.replicass", …` (create, update), `422 Invalid` for patches |
//! | `Warn` (the default when absent, since 1.27) | the request succeeds; one `Warning: 299 - "unknown field \"spec.replicass\""` header each |
//! | `Ignore` | the request succeeds, silently |
//!
//! In every case the unknown fields are not stored ([`super::drop_unknown_fields`]); for a
//! duplicate, the last value wins, as in any JSON decoder. The errors are worded as
//! `sigs.k8s.io/json` words them: `unknown field "<path>"`, `duplicate field "<path>"`.
//!
//! The API server calls, on create, update and patch (after applying the patch):
//! `FieldValidation::parse`, [`check`] (which is [`strict_errors`] and
//! [`super::drop_unknown_fields`] in one walk), then [`verdict`].
//!
//! Left out: the per-field truncation of very long warning headers.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::{unknown_fields, FieldPath, Step, TypeMismatch};
use crate::registry::Resource;

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    /// The directive of a request; absent means `Warn`. Values are case-sensitive, as upstream;
    /// a refused value comes back as the error, for `Status::unsupported_field_validation`.
    pub fn parse(value: Option<&str>) -> Result<FieldValidation, String> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(other.to_string()),
        }
    }
}

/// What becomes of a request with these strict decoding errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on; send these `Warning` header values with the response.
    Accept { warnings: Vec<String> },
    /// Fail with these errors (`Status::strict_decoding`, or `strict_decoding_patch` for a patch).
    Reject { errors: Vec<String> },
}

/// The decision of the table in the module documentation.
pub fn verdict(directive: FieldValidation, errors: Vec<String>) -> Verdict {
    match directive {
        FieldValidation::Strict if !errors.is_empty() => Verdict::Reject { errors },
        FieldValidation::Warn => Verdict::Accept { warnings: errors.iter().map(|e| warning_header(e)).collect() },
        _ => Verdict::Accept { warnings: Vec::new() },
    }
}

/// Every strict decoding error of a request: the duplicate fields of its `body` (in the order
/// they appear), then the unknown fields of `object` (the body decoded, or the patched object).
pub fn strict_errors(resource: &Resource, body: &[u8], object: &Value) -> Vec<String> {
    let duplicates = duplicate_fields(body).into_iter().map(|path| format!("duplicate field \"{path}\""));
    let unknown = unknown_fields(resource, object).into_iter().map(|path| format!("unknown field \"{path}\""));
    duplicates.chain(unknown).collect()
}

/// The value of a `Warning` header (RFC 7234: code 299, no agent, a quoted text), as
/// apimachinery's `NewWarningHeader` writes it. kubectl prints `Warning: <text>`.
pub fn warning_header(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("299 - \"{escaped}\"")
}

/// [`strict_errors`], with the unknown fields also dropped from `object` (as
/// [`super::drop_unknown_fields`] does): what a write does before storing, the schema walked
/// once. A value of the wrong type is an error of its own, whatever the strict errors
/// ([`super::types`]): Kubernetes' decoder fails on it before strictness is asked about.
pub fn check(resource: &Resource, body: &[u8], object: &mut Value) -> Result<Vec<String>, TypeMismatch> {
    check_decoded(resource, duplicate_fields(body), object)
}

/// [`check`], for a body whose duplicate fields were noted as it was decoded
/// ([`decode_noting_duplicates`]).
pub fn check_decoded(
    resource: &Resource,
    duplicates: Vec<String>,
    object: &mut Value,
) -> Result<Vec<String>, TypeMismatch> {
    let (unknown, mismatch) = super::drop_unknown_fields_checking_types(resource, object);
    if let Some(mismatch) = mismatch {
        return Err(mismatch);
    }
    let duplicates = duplicates.into_iter().map(|path| format!("duplicate field \"{path}\""));
    let unknown = unknown.into_iter().map(|path| format!("unknown field \"{path}\""));
    Ok(duplicates.chain(unknown).collect())
}

/// The paths of the keys that appear more than once in the same object of a JSON body, in the
/// order of their second appearance. A body that is not JSON has none: decoding fails anyway.
pub fn duplicate_fields(body: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut path = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    if (Scan { path: &mut path, found: &mut found }).deserialize(&mut deserializer).is_err() {
        return Vec::new();
    }
    found
}

/// A JSON body decoded into a tree, with the paths of the keys its objects repeat, as
/// [`duplicate_fields`] finds them: one pass over the body instead of two. The last of repeated
/// keys wins, as in any JSON decoder.
pub fn decode_noting_duplicates(body: &[u8]) -> Result<(Value, Vec<String>), serde_json::Error> {
    // A body that is UTF-8 as a whole (nearly every one) is read as a `str`, checked once:
    // from bytes, serde_json checks each string it reads again (~110 strings in a pod, 2% of
    // the API server's instructions per create). A body that is not is read as bytes, for
    // serde_json's own error, with its position.
    match std::str::from_utf8(body) {
        Ok(text) => decode_from(serde_json::Deserializer::from_str(text)),
        Err(_) => decode_from(serde_json::Deserializer::from_slice(body)),
    }
}

fn decode_from<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
) -> Result<(Value, Vec<String>), serde_json::Error> {
    let mut found = Vec::new();
    let mut path = Vec::new();
    let value = Build { path: &mut path, found: &mut found }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok((value, found))
}

/// A step of the path being read: keys are borrowed from the body (unless escaped), so a
/// path is only written out when a duplicate is found.
enum At<'de> {
    Field(Cow<'de, str>),
    Index(usize),
}

fn found_at(path: &[At]) -> String {
    let steps = path.iter().map(|step| match step {
        At::Field(name) => Step::Field(name.to_string()),
        At::Index(index) => Step::Index(*index),
    });
    FieldPath(steps.collect()).to_string()
}

/// The keys of one object so far: a short list searched in turn, a set past a few dozen.
enum Seen<'de> {
    Few(Vec<Cow<'de, str>>),
    Many(HashSet<Cow<'de, str>>),
}

impl<'de> Seen<'de> {
    /// Notes `key`; false if it was there already.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        match self {
            Seen::Few(keys) if keys.contains(&key) => false,
            Seen::Few(keys) if keys.len() < 32 => {
                keys.push(key);
                true
            }
            Seen::Few(keys) => {
                let mut set: HashSet<Cow<'de, str>> = keys.drain(..).collect();
                set.insert(key);
                *self = Seen::Many(set);
                true
            }
            Seen::Many(set) => set.insert(key),
        }
    }
}

/// Reads one JSON value without keeping it, noting the keys an object repeats.
struct Scan<'a, 'de> {
    path: &'a mut Vec<At<'de>>,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Scan<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::Few(Vec::new());
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let first = seen.insert(key.clone());
            self.path.push(At::Field(key));
            if !first {
                self.found.push(found_at(self.path));
            }
            map.next_value_seed(Scan { path: &mut *self.path, found: &mut *self.found })?;
            self.path.pop();
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            self.path.push(At::Index(index));
            let more = seq.next_element_seed(Scan { path: &mut *self.path, found: &mut *self.found })?;
            self.path.pop();
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Builds the tree `serde_json::Value` would, noting repeated keys as [`Scan`] does (before the
/// repeated key's value is read, so the paths come in the same order).
struct Build<'a, 'de> {
    path: &'a mut Vec<At<'de>>,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Build<'_, 'de> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_, 'de> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let repeated = object.contains_key(key.as_ref());
            self.path.push(At::Field(key));
            if repeated {
                self.found.push(found_at(self.path));
            }
            let value = map.next_value_seed(Build { path: &mut *self.path, found: &mut *self.found })?;
            if let Some(At::Field(key)) = self.path.pop() {
                object.insert(key.into_owned(), value);
            }
        }
        Ok(Value::Object(object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            self.path.push(At::Index(items.len()));
            let item = seq.next_element_seed(Build { path: &mut *self.path, found: &mut *self.found })?;
            self.path.pop();
            match item {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// A key, borrowed from the body when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(key.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::by_plural;

    #[test]
    fn the_directive_defaults_to_warn_and_is_case_sensitive() {
        let cases = [
            (None, Ok(FieldValidation::Warn)),
            (Some(""), Ok(FieldValidation::Warn)),
            (Some("Warn"), Ok(FieldValidation::Warn)),
            (Some("Strict"), Ok(FieldValidation::Strict)),
            (Some("Ignore"), Ok(FieldValidation::Ignore)),
        ];
        for (value, expected) in cases {
            assert_eq!(FieldValidation::parse(value), expected, "{value:?}");
        }
        assert_eq!(FieldValidation::parse(Some("strict")), Err("strict".to_string()));
    }

    #[test]
    fn duplicate_fields_are_found_at_every_depth_in_body_order() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("no duplicates", r#"{"a": 1, "b": {"a": 2}}"#, &[]),
            ("a top-level key twice", r#"{"kind": "Pod", "kind": "Pod"}"#, &["kind"]),
            ("a nested key twice", r#"{"spec": {"replicas": 1, "replicas": 2}}"#, &["spec.replicas"]),
            (
                "inside a list element",
                r#"{"spec": {"containers": [{"name": "a"}, {"name": "b", "image": "x", "image": "y"}]}}"#,
                &["spec.containers[1].image"],
            ),
            ("a map key twice", r#"{"metadata": {"labels": {"app": "a", "app": "b"}}}"#, &["metadata.labels.app"]),
            ("three times is two duplicates", r#"{"a": 1, "a": 2, "a": 3}"#, &["a", "a"]),
            ("in order of appearance", r#"{"z": {"b": 1, "b": 1}, "a": 1, "a": 2}"#, &["z.b", "a"]),
            ("not JSON", r#"{"a": 1, "a": "#, &[]),
        ];
        for (name, body, expected) in cases {
            assert_eq!(duplicate_fields(body.as_bytes()), *expected, "{name}");
        }
        let many: Vec<String> = (0..40).chain([3, 39]).map(|i| format!("\"k{i}\": {i}")).collect();
        let many = format!("{{\"data\": {{{}}}, \"e\\u0073c\": 1, \"esc\": 2}}", many.join(", "));
        assert_eq!(
            duplicate_fields(many.as_bytes()),
            ["data.k3", "data.k39", "esc"],
            "past the short list, and escaped"
        );
    }

    #[test]
    fn decoding_notes_the_duplicates_the_scan_finds_and_builds_the_same_tree() {
        let bodies = [
            r#"{"z": {"b": 1, "b": [1, 2.5, -3, "x\u00e9", null, true]}, "a": 1, "a": {"a": 2, "a": 3}}"#,
            r#"{"spec": {"containers": [{"name": "a"}, {"name": "b", "image": "x", "image": "y"}]}}"#,
            r#"{"n": 18446744073709551615, "m": -9223372036854775808, "f": 1e300, "e": {}, "l": []}"#,
            r#"[1, {"a": 1, "a": 2}]"#,
        ];
        for body in bodies {
            let (value, duplicates) = decode_noting_duplicates(body.as_bytes()).unwrap();
            assert_eq!(value, serde_json::from_str::<Value>(body).unwrap(), "{body}");
            assert_eq!(duplicates, duplicate_fields(body.as_bytes()), "{body}");
        }
        assert!(decode_noting_duplicates(br#"{"a": 1,"#).is_err());
        assert!(decode_noting_duplicates(br#"{"a": 1} x"#).is_err());
        assert!(decode_noting_duplicates(br#"{"a": 1e400}"#).is_err(), "as serde_json refuses it");
        // Not UTF-8: read as bytes, refused with serde_json's own message and position.
        let latin1 = b"{\"name\": \"caf\xe9\"}";
        let refused = decode_noting_duplicates(latin1).unwrap_err().to_string();
        assert_eq!(refused, serde_json::from_slice::<Value>(latin1).unwrap_err().to_string());
        assert!(refused.contains("line 1 column"), "{refused}");
    }

    #[test]
    fn strict_errors_name_duplicates_then_unknown_fields() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let body = br#"{"kind": "Deployment", "kind": "Deployment", "spec": {"replicass": 3}}"#;
        let object: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            strict_errors(deployments, body, &object),
            ["duplicate field \"kind\"", "unknown field \"spec.replicass\""]
        );
        let clean = json!({"kind": "Deployment", "spec": {"replicas": 3}});
        assert!(strict_errors(deployments, clean.to_string().as_bytes(), &clean).is_empty());
        let mut checked = object.clone();
        assert_eq!(check(deployments, body, &mut checked), Ok(strict_errors(deployments, body, &object)));
        assert_eq!(checked, json!({"kind": "Deployment", "spec": {}}), "and the unknown fields are dropped");
    }

    #[test]
    fn each_directive_decides_as_kubernetes_does() {
        let errors = || vec!["unknown field \"spec.replicass\"".to_string()];
        let cases = [
            ("strict rejects", FieldValidation::Strict, errors(), Verdict::Reject { errors: errors() }),
            (
                "warn accepts with one warning header each",
                FieldValidation::Warn,
                errors(),
                Verdict::Accept { warnings: vec![r#"299 - "unknown field \"spec.replicass\"""#.to_string()] },
            ),
            ("ignore accepts silently", FieldValidation::Ignore, errors(), Verdict::Accept { warnings: vec![] }),
            ("strict accepts a clean object", FieldValidation::Strict, vec![], Verdict::Accept { warnings: vec![] }),
        ];
        for (name, directive, errors, expected) in cases {
            assert_eq!(verdict(directive, errors), expected, "{name}");
        }
    }

    #[test]
    fn warning_headers_escape_quotes_and_backslashes() {
        assert_eq!(warning_header(r#"a "b" \c"#), r#"299 - "a \"b\" \\c""#);
    }
}
