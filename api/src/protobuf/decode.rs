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
