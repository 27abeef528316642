//! A few fields of an object's JSON, read without building the rest.
//!
//! The watch cache keeps each object's bytes and, beside them, what selectors look at: its
//! name, namespace and labels and its kind's selectable fields (`spec.nodeName`,
//! `status.phase`…). Reading those from a whole parsed tree built (and dropped) thousands of
//! small allocations per event for a dozen strings. [`read`] builds only the branches leading
//! to the wanted paths, and skips everything else as it goes by, so a pod's spec costs no
//! allocation at all. Stored objects are in `serde_json`'s compact form, which the cursor of
//! `scan.rs` walks without reading what it skips, handing only the wanted values to
//! `serde_json`; JSON in any other form is read through `serde_json` entirely (a seed that
//! keeps the wanted branches), to the same result.
//!
//! What comes back is a tree holding the wanted values and nothing else, so that the code that
//! reads fields from a whole object (`skiff_api::fields`) reads them from it alike. A value on
//! the way to a wanted path that is not an object (`"spec": "text"`) comes back as `null`:
//! either way the field is absent.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::scan::Scan;

/// The parts of `json` on the `paths` (each a list of keys from the root); a path that ends
/// at an object or list keeps all of it.
pub fn read(json: &[u8], paths: &[Vec<&str>]) -> Result<Value, serde_json::Error> {
    let wanted: Vec<&[&str]> = paths.iter().map(Vec::as_slice).collect();
    let mut scan = Scan::new(json);
    if let Some(picked) = object(&mut scan, json, &wanted).filter(|_| scan.at_end()) {
        return Ok(picked);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let value = Pick { wanted: &wanted }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// The object at the cursor, as [`Pick`] reads it, or `None` if the JSON is not in the form the
/// cursor expects.
fn object(scan: &mut Scan, json: &[u8], wanted: &[&[&str]]) -> Option<Value> {
    scan.eat(b'{')?;
    let mut picked = Map::new();
    if scan.peek()? == b'}' {
        scan.bump();
        return Some(Value::Object(picked));
    }
    loop {
        let key = scan.key()?;
        scan.eat(b':')?;
        field(scan, json, key, wanted, &mut picked)?;
        match scan.bump()? {
            b',' => {}
            b'}' => return Some(Value::Object(picked)),
            _ => return None,
        }
    }
}

/// The value of `key` at the cursor: read into `picked` if `wanted` names it or something in
/// it, skipped otherwise.
pub(crate) fn field(
    scan: &mut Scan,
    json: &[u8],
    key: &[u8],
    wanted: &[&[&str]],
    picked: &mut Map<String, Value>,
) -> Option<()> {
    let under = |path: &&&[&str]| path.first().is_some_and(|first| first.as_bytes() == key);
    if !wanted.iter().any(|path| under(&path)) {
        return scan.skip_value();
    }
    let below: Vec<&[&str]> = wanted.iter().filter(under).map(|path| &path[1..]).collect();
    let value = if below.iter().any(|rest| rest.is_empty()) {
        let start = scan.at();
        scan.skip_value()?;
        serde_json::from_slice(&json[start..scan.at()]).ok()?
    } else if scan.peek()? == b'{' {
        object(scan, json, &below)?
    } else {
        scan.skip_value()?;
        Value::Null
    };
    picked.insert(std::str::from_utf8(key).ok()?.to_string(), value);
    Some(())
}

/// The value here, given what is wanted below it (each path without the keys walked so far).
struct Pick<'w> {
    wanted: &'w [&'w [&'w str]],
}

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut picked = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let key = key.as_str();
            let below: Vec<&[&str]> =
                self.wanted.iter().filter(|path| path.first() == Some(&key)).map(|path| &path[1..]).collect();
            if below.is_empty() {
                map.next_value::<IgnoredAny>()?;
            } else if below.iter().any(|rest| rest.is_empty()) {
                picked.insert(key.to_string(), map.next_value::<Value>()?);
            } else {
                picked.insert(key.to_string(), map.next_value_seed(Pick { wanted: &below })?);
            }
        }
        Ok(Value::Object(picked))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// A key, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(key) => key,
            Key::Owned(key) => key,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(key.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_wanted_branches_come_back() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "uid": "u",
                         "annotations": {"a\"b": "c"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "web"}], "hostNetwork": true},
            "status": "not an object"});
        let paths: Vec<Vec<&str>> = [
            "metadata.name",
            "metadata.labels",
            "spec.nodeName",
            "spec.hostNetwork",
            "status.phase",
            "source.component",
            "metadata.annotations.a\"b",
        ]
        .iter()
        .map(|p| p.split('.').collect())
        .collect();
        let picked = read(pod.to_string().as_bytes(), &paths).unwrap();
        let spaced = serde_json::to_vec_pretty(&pod).unwrap();
        assert_eq!(read(&spaced, &paths).unwrap(), picked, "the long way gives the same");
        assert_eq!(
            picked,
            json!({"metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a\"b": "c"}},
                   "spec": {"nodeName": "n1", "hostNetwork": true}, "status": null})
        );
        assert!(read(b"{\"metadata\": {\"name\": ", &paths).is_err(), "the rest is still read, and checked");
    }
}
