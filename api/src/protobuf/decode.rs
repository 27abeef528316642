//! The one decoder: reads any message of [`super::schema`] into the JSON Kubernetes writes for it.
//!
//! For each field on the wire: look its number up in the message's table (unknown numbers are
//! skipped, as every protobuf reader does, so a newer client's newer fields do no harm), turn the
//! value into JSON by its [`Kind`], and place it by its [`Shape`]:
//!
//! 1. `Value`: dropped when zero (`""`, `0`, `false`, a zero time), else set.
//! 2. `Pointer`, `Always`: set, zero or not.
//! 3. `List`: appended; repeated numbers also come packed (one length-delimited run of varints).
//! 4. `Map`: each entry message `{1: key, 2: value}` adds one key.
//! 5. `Inline`: the embedded message's keys are merged into this object.
//!
//! Worked example, a `ContainerPort` as kubectl 1.33 writes `--port=80`:
//! `0a 00 10 00 18 50 22 00 2a 00` = name "", hostPort 0, containerPort 80, protocol "", hostIP ""
//! → `{"containerPort": 80}`, exactly what kubectl 1.31 sends as JSON.

use serde_json::{Map, Value};

use super::schema::{Field, Kind, Message, Shape};
use super::wire::{self, WireError, WireValue};
use crate::age;

/// A field that could not be read, and where it is (`spec.template.spec.containers.image`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// JSON names from the innermost field outwards; pushed while the error travels up.
    path: Vec<&'static str>,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("expected {expected}, found {found}")]
    WireType { expected: &'static str, found: &'static str },
    #[error("a string is not UTF-8")]
    NotUtf8,
    #[error("embedded JSON does not parse: {0}")]
    NotJson(String),
}

impl DecodeError {
    /// The same error, one field further out.
    fn inside(mut self, field: &'static str) -> DecodeError {
        if !field.is_empty() {
            self.path.push(field);
        }
        self
    }

    /// Where the error is, outermost field first.
    pub fn path(&self) -> String {
        self.path.iter().rev().copied().collect::<Vec<_>>().join(".")
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path.is_empty() {
            true => write!(f, "{}", self.reason),
            false => write!(f, "{}: {}", self.path(), self.reason),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.reason)
    }
}

impl<T: Into<Reason>> From<T> for DecodeError {
    fn from(reason: T) -> DecodeError {
        DecodeError { path: Vec::new(), reason: reason.into() }
    }
}

/// Reads `bytes` as a `schema` message into a JSON object.
pub fn message(bytes: &[u8], schema: &'static Message) -> Result<Map<String, Value>, DecodeError> {
    let mut object = Map::new();
    for item in wire::fields(bytes) {
        let (number, wire) = item?;
        let Some(field) = schema.field(number) else { continue };
        put(&mut object, field, wire).map_err(|e| e.inside(field.json))?;
    }
    Ok(object)
}

/// Places one wire value into `object`, by the field's shape.
fn put(object: &mut Map<String, Value>, field: &Field, wire: WireValue) -> Result<(), DecodeError> {
    match field.shape {
        Shape::Value | Shape::Pointer | Shape::Always => {
            let value = one(field.kind, wire)?;
            let dropped = value.is_null() || (field.shape == Shape::Value && is_zero(&value));
            if !dropped {
                object.insert(field.json.to_string(), value);
            }
        }
        Shape::List => {
            let values = match (field.kind, wire) {
                (Kind::Int | Kind::Bool, WireValue::Bytes(packed)) => {
                    wire::packed_varints(packed)?.into_iter().map(|v| scalar(field.kind, v)).collect()
                }
                _ => vec![one(field.kind, wire)?],
            };
            if let Value::Array(list) = object.entry(field.json).or_insert_with(|| Value::Array(Vec::new())) {
                list.extend(values);
            }
        }
        Shape::Map => {
            let (key, value) = entry(field.kind, bytes(wire)?)?;
            if let Value::Object(map) = object.entry(field.json).or_insert_with(|| Value::Object(Map::new())) {
                map.insert(key, value);
            }
        }
        Shape::Inline => {
            if let Value::Object(fields) = one(field.kind, wire)? {
                object.extend(fields);
            }
        }
    }
    Ok(())
}

/// One value of `kind`.
fn one(kind: Kind, wire: WireValue) -> Result<Value, DecodeError> {
    Ok(match kind {
        Kind::Int | Kind::Bool => scalar(kind, varint(wire)?),
        Kind::Str => Value::String(text(bytes(wire)?)?),
        Kind::Bytes => Value::String(base64(bytes(wire)?)),
        Kind::Quantity => quantity(bytes(wire)?)?,
        Kind::Time => time(bytes(wire)?, false)?,
        Kind::MicroTime => time(bytes(wire)?, true)?,
        Kind::IntOrString => int_or_string(bytes(wire)?)?,
        Kind::RawJson => raw_json(bytes(wire)?)?,
        Kind::Message(schema) => Value::Object(message(bytes(wire)?, schema)?),
    })
}

/// A varint as an `Int` (int32 and int64 are both sign-extended to 64 bits) or a `Bool`.
fn scalar(kind: Kind, varint: u64) -> Value {
    match kind {
        Kind::Bool => Value::Bool(varint != 0),
        _ => Value::from(varint as i64),
    }
}

/// What Go's `omitempty` leaves out.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        _ => false,
    }
}

/// A map entry `{1: key, 2: value}`; a missing value is the kind's zero.
fn entry(kind: Kind, bytes: &[u8]) -> Result<(String, Value), DecodeError> {
    let (mut key, mut value) = (String::new(), None);
    for item in wire::fields(bytes) {
        match item? {
            (1, wire) => key = text(self::bytes(wire)?)?,
            (2, wire) => value = Some(one(kind, wire)?),
            _ => {}
        }
    }
    let zero = || match kind {
        Kind::Int => Value::from(0),
        Kind::Bool => Value::Bool(false),
        Kind::Message(_) => Value::Object(Map::new()),
        Kind::Time | Kind::MicroTime | Kind::RawJson => Value::Null,
        _ => Value::String(String::new()),
    };
    Ok((key, value.unwrap_or_else(zero)))
}

/// `resource.Quantity`: `{1: string}` → `"500m"`.
fn quantity(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut text = String::new();
    for item in wire::fields(bytes) {
        if let (1, wire) = item? {
            text = self::text(self::bytes(wire)?)?;
        }
    }
    Ok(Value::String(text))
}

/// `metav1.Time` / `MicroTime`: `{1: seconds, 2: nanos}`. An empty message is the zero time,
/// `null` in JSON. `Time` keeps whole seconds, as its JSON does (and as Kubernetes reads it back
/// from protobuf); `MicroTime` keeps microseconds.
fn time(bytes: &[u8], micro: bool) -> Result<Value, DecodeError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let (mut seconds, mut nanos) = (0i64, 0i64);
    for item in wire::fields(bytes) {
        match item? {
            (1, wire) => seconds = varint(wire)? as i64,
            (2, wire) => nanos = varint(wire)? as i64,
            _ => {}
        }
    }
    let stamp = age::format_timestamp(seconds);
    Ok(Value::String(match micro {
        true => format!("{}.{:06}Z", stamp.trim_end_matches('Z'), nanos.clamp(0, 999_999_999) / 1000),
        false => stamp,
    }))
}

/// `intstr.IntOrString`: `{1: type, 2: intVal, 3: strVal}`, type 1 meaning the string.
fn int_or_string(bytes: &[u8]) -> Result<Value, DecodeError> {
    let (mut is_string, mut number, mut string) = (false, 0i64, String::new());
    for item in wire::fields(bytes) {
        match item? {
            (1, wire) => is_string = varint(wire)? == 1,
            (2, wire) => number = varint(wire)? as i64,
            (3, wire) => string = text(self::bytes(wire)?)?,
            _ => {}
        }
    }
    Ok(if is_string { Value::String(string) } else { Value::from(number) })
}

/// `runtime.RawExtension` and `metav1.FieldsV1`: `{1: raw}`, the raw bytes being JSON.
fn raw_json(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut raw: &[u8] = &[];
    for item in wire::fields(bytes) {
        if let (1, wire) = item? {
            raw = self::bytes(wire)?;
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| Reason::NotJson(e.to_string()).into())
}

fn varint(wire: WireValue) -> Result<u64, DecodeError> {
    match wire {
        WireValue::Varint(v) => Ok(v),
        other => Err(Reason::WireType { expected: "a varint", found: other.describe() }.into()),
    }
}

fn bytes(wire: WireValue<'_>) -> Result<&[u8], DecodeError> {
    match wire {
        WireValue::Bytes(b) => Ok(b),
        other => Err(Reason::WireType { expected: "length-delimited bytes", found: other.describe() }.into()),
    }
}

fn text(bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Reason::NotUtf8.into())
}

/// Standard base64 with padding, as JSON carries `[]byte` fields.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protobuf::schema::Kind::{Bool, Bytes, Int, IntOrString, MicroTime, Quantity, RawJson, Str, Time};
    use crate::protobuf::schema::{always, inline, list, map, message as msg, messages, pointer, value};
    use crate::protobuf::wire::write::{bytes as b, number as n};

    static NAMED: Message = Message { name: "Named", fields: &[value(1, "name", Str)] };
    static KEYED: Message = Message { name: "Keyed", fields: &[value(1, "key", Str), value(2, "optional", Bool)] };

    /// One field of every shape and kind.
    static SAMPLE: Message = Message {
        name: "Sample",
        fields: &[
            value(1, "text", Str),
            value(2, "count", Int),
            value(3, "on", Bool),
            pointer(4, "replicas", Int),
            always(5, "exitCode", Int),
            list(6, "command", Str),
            list(7, "values", Int),
            map(8, "labels", Str),
            map(9, "data", Bytes),
            msg(10, "named", &NAMED),
            inline(11, &KEYED),
            value(12, "port", IntOrString),
            value(13, "memory", Quantity),
            value(14, "at", Time),
            value(15, "eventTime", MicroTime),
            value(16, "data16", RawJson),
            messages(17, "items", &NAMED),
        ],
    };

    fn read(parts: &[Vec<u8>]) -> Value {
        Value::Object(message(&parts.concat(), &SAMPLE).unwrap())
    }

    #[test]
    fn zero_values_are_dropped_and_pointers_and_always_kept_even_when_zero() {
        let zeros = [b(1, b""), n(2, 0), n(3, 0), n(4, 0), n(5, 0)];
        assert_eq!(read(&zeros), json!({"replicas": 0, "exitCode": 0}));
        let set = [b(1, b"x"), n(2, 7), n(3, 1), n(4, 3), n(5, -1)];
        assert_eq!(read(&set), json!({"text": "x", "count": 7, "on": true, "replicas": 3, "exitCode": -1}));
    }

    #[test]
    fn lists_maps_and_inlined_structs_take_their_json_shapes() {
        let entry = |key: &str, value: &[u8]| [b(1, key.as_bytes()), b(2, value)].concat();
        let parts = [
            b(6, b"sleep"),
            b(6, b""),
            n(7, 1),
            b(7, &[0x02, 0xac, 0x02]), // packed: 2, 300
            b(8, &entry("app", b"web")),
            b(8, &entry("empty", b"")),
            b(9, &entry("K", b"v")),
            b(10, &b(1, b"inner")),
            b(11, &[b(1, b"k"), n(2, 0)].concat()),
            b(17, &b(1, b"a")),
            b(17, b""),
        ];
        assert_eq!(
            read(&parts),
            json!({
                "command": ["sleep", ""],
                "values": [1, 2, 300],
                "labels": {"app": "web", "empty": ""},
                "data": {"K": "dg=="},
                "named": {"name": "inner"},
                "key": "k",
                "items": [{"name": "a"}, {}],
            })
        );
    }

    #[test]
    fn apimachinery_types_have_their_own_json_forms() {
        let int_or_string = |is_string: bool, int: i64, text: &str| {
            [n(1, i64::from(is_string)), n(2, int), b(3, text.as_bytes())].concat()
        };
        let cases = [
            (b(12, &int_or_string(false, 8080, "")), json!({"port": 8080})),
            (b(12, &int_or_string(true, 0, "http")), json!({"port": "http"})),
            (b(12, &int_or_string(false, 0, "")), json!({})),
            (b(13, &b(1, b"512Mi")), json!({"memory": "512Mi"})),
            // 2026-11-23T12:00:00Z is 1795435200; Time drops the nanoseconds, MicroTime keeps µs.
            (b(14, &[n(1, 1_795_435_200), n(2, 5_000_000)].concat()), json!({"at": "2026-11-23T12:00:00Z"})),
            (
                b(15, &[n(1, 1_795_435_200), n(2, 5_000_000)].concat()),
                json!({"eventTime": "2026-11-23T12:00:00.005000Z"}),
            ),
            // An empty Time is the zero time: null, so left out.
            (b(14, b""), json!({})),
            (b(16, &b(1, br#"{"spec": [1]}"#)), json!({"data16": {"spec": [1]}})),
        ];
        for (bytes, expected) in cases {
            assert_eq!(read(std::slice::from_ref(&bytes)), expected, "{bytes:02x?}");
        }
    }

    #[test]
    fn fields_the_table_does_not_know_are_skipped() {
        let parts = [n(99, 5), b(100, b"newer"), b(1, b"kept"), vec![0xa5, 0x01, 1, 2, 3, 4]]; // 20: fixed32
        assert_eq!(read(&parts), json!({"text": "kept"}));
    }

    #[test]
    fn a_value_of_the_wrong_wire_type_is_an_error_that_says_where() {
        let error = message(&b(10, &n(1, 5)), &SAMPLE).unwrap_err();
        assert_eq!(error.path(), "named.name");
        assert_eq!(error.to_string(), "named.name: expected length-delimited bytes, found a varint");
        let error = message(&b(1, &[0xc3, 0x28]), &SAMPLE).unwrap_err();
        assert_eq!(error.to_string(), "text: a string is not UTF-8");
        let error = message(&b(16, &b(1, b"{")), &SAMPLE).unwrap_err();
        assert!(error.to_string().starts_with("data16: embedded JSON does not parse"), "{error}");
    }

    #[test]
    fn base64_pads_as_go_does() {
        for (bytes, text) in [(&b""[..], ""), (b"v", "dg=="), (b"ab", "YWI="), (b"hello", "aGVsbG8=")] {
            assert_eq!(base64(bytes), text);
        }
    }
}
