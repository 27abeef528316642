//! `resourceVersion` into an object's JSON, by splicing bytes.
//!
//! Objects are stored without `resourceVersion` (the key's revision is it, `storage.rs`), and
//! every object a client sees has it stamped in: a get, each item of a list, each watch event.
//! Parsing the stored JSON into a tree to add one field and serializing the tree again was most
//! of what those cost. It is not needed: the stored bytes are `serde_json`'s compact encoding of
//! a tree whose maps are sorted by key (everything in the store was written by
//! `storage::storable`), so the stamped object's encoding is the same bytes with
//! `"resourceVersion":"N"` put into `metadata` before its first key that sorts after
//! `resourceVersion` — or in place of the one there. Finding that spot is a scan over the keys
//! of the top level and of `metadata`, skipping their values without reading them:
//!
//! ```text
//! {"apiVersion":"v1","kind":"Pod","metadata":{"labels":{…},"name":"web","namespace":"default","uid":"…"},"spec":{…}}
//!                                                                                           ^ "resourceVersion":"42",
//! ```
//!
//! The watch cache, which also reads a few fields of every object, does both in one pass
//! ([`stamp_and_read`]); a write, which encodes the object itself, notes the spot as it goes
//! ([`encode`]) and needs no scan at all.
//!
//! Bytes the scan does not expect — whitespace, escaped keys, keys out of order, no
//! `metadata` object — take the long way, parsed and serialized, which gives what the splice
//! would have given for canonical bytes.

use bytes::Bytes;
use serde_json::{Map, Value};
use skiff_api::status::Status;

use crate::scan::Scan;

const KEY: &[u8] = b"resourceVersion";

/// `json` with `metadata.resourceVersion` set to `revision`.
pub fn stamp(json: &[u8], revision: i64) -> Result<Vec<u8>, Status> {
    match find(json) {
        Some(splice) => Ok(spliced(json, splice, revision)),
        None => slowly(json, revision),
    }
}

/// An object encoded for the store, and where its resourceVersion goes, noted as it was
/// encoded: a write's answer is then spliced without a scan.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub json: Bytes,
    splice: Option<Splice>,
}

impl Encoded {
    /// The encoded object with `metadata.resourceVersion` set to `revision`.
    pub fn stamped(&self, revision: i64) -> Result<Vec<u8>, Status> {
        match self.splice {
            Some(splice) => Ok(spliced(&self.json, splice, revision)),
            None => stamp(&self.json, revision),
        }
    }
}

/// `object`, which has no resourceVersion, encoded exactly as `serde_json::to_vec` encodes it
/// (compact, each map's keys in order), with the top level and `metadata` written out here so
/// that the place of `resourceVersion` in `metadata` is known.
pub fn encode(object: &Value) -> Encoded {
    let value = |out: &mut Vec<u8>, value: &Value| serde_json::to_writer(out, value).expect("JSON values serialize");
    let mut out = Vec::with_capacity(4096);
    let mut splice = None;
    match object {
        Value::Object(fields) => {
            out.push(b'{');
            for (i, (key, field)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(&mut out, &Value::from(key.as_str()));
                out.push(b':');
                match field {
                    Value::Object(meta) if key == "metadata" && !meta.contains_key("resourceVersion") => {
                        out.push(b'{');
                        for (j, (key, field)) in meta.iter().enumerate() {
                            if j > 0 {
                                out.push(b',');
                            }
                            if splice.is_none() && key.as_bytes() > KEY {
                                splice = Some(Splice::Insert { at: out.len(), comma: Comma::After });
                            }
                            value(&mut out, &Value::from(key.as_str()));
                            out.push(b':');
                            value(&mut out, field);
                        }
                        let comma = if meta.is_empty() { Comma::None } else { Comma::Before };
                        splice.get_or_insert(Splice::Insert { at: out.len(), comma });
                        out.push(b'}');
                    }
                    _ => value(&mut out, field),
                }
            }
            out.push(b'}');
        }
        _ => value(&mut out, object),
    }
    Encoded { json: Bytes::from(out), splice }
}

/// `json` with the resourceVersion put where `splice` says.
fn spliced(json: &[u8], splice: Splice, revision: i64) -> Vec<u8> {
    let version = revision.to_string();
    let version = version.as_bytes();
    let mut out = Vec::with_capacity(json.len() + KEY.len() + version.len() + 6);
    match splice {
        Splice::Replace { start, end } => {
            out.extend_from_slice(&json[..start]);
            quoted(&mut out, version);
            out.extend_from_slice(&json[end..]);
        }
        Splice::Insert { at, comma } => {
            out.extend_from_slice(&json[..at]);
            if comma == Comma::Before {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(KEY);
            out.extend_from_slice(b"\":");
            quoted(&mut out, version);
            if comma == Comma::After {
                out.push(b',');
            }
            out.extend_from_slice(&json[at..]);
        }
    }
    out
}

fn quoted(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// The long way: parse, set, serialize.
fn slowly(json: &[u8], revision: i64) -> Result<Vec<u8>, Status> {
    let object = crate::storage::stamped(json, revision)?;
    Ok(serde_json::to_vec(&object).expect("JSON values serialize"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comma {
    /// `,"resourceVersion":"N"` (after the last key of `metadata`).
    Before,
    /// `"resourceVersion":"N",` (before a key that sorts after it).
    After,
    /// `{"resourceVersion":"N"}` (an empty `metadata`).
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Splice {
    /// The value of the `resourceVersion` already there spans `start..end`.
    Replace { start: usize, end: usize },
    /// The field goes at `at`.
    Insert { at: usize, comma: Comma },
}

/// [`stamp`], and [`crate::sparse::read`] of the same bytes, in one pass over them: what the
/// watch cache makes of every stored object.
pub fn stamp_and_read(json: &[u8], revision: i64, wanted: &[Vec<&str>]) -> Result<(Vec<u8>, Value), Status> {
    let paths: Vec<&[&str]> = wanted.iter().map(Vec::as_slice).collect();
    let mut picked = Map::new();
    match find_picking(json, Some((&paths, &mut picked))) {
        Some(splice) => Ok((spliced(json, splice, revision), Value::Object(picked))),
        None => {
            let parts = crate::sparse::read(json, wanted)
                .map_err(|e| Status::internal(format!("stored object is not JSON: {e}")))?;
            Ok((stamp(json, revision)?, parts))
        }
    }
}

/// What `wanted` names of an object, read into `picked`.
type Picking<'p> = (&'p [&'p [&'p str]], &'p mut Map<String, Value>);

/// Where the field goes, if the bytes are in the form the module documentation describes (the
/// keys of the top level up to `metadata`, and all of `metadata`'s, are checked to be in order).
fn find(json: &[u8]) -> Option<Splice> {
    find_picking(json, None)
}

/// [`find`], also picking what `pick` wants out of the object on the way (which then reads
/// the object to its end, not only to `metadata`).
fn find_picking(json: &[u8], mut pick: Option<Picking>) -> Option<Splice> {
    let mut scan = Scan::new(json);
    scan.eat(b'{')?;
    let mut previous: &[u8] = b"";
    let mut splice = None;
    loop {
        let key = scan.key()?;
        if splice.is_none() && key <= previous {
            return None;
        }
        scan.eat(b':')?;
        if key == b"metadata" {
            let mut picked_metadata = Map::new();
            let below: Vec<&[&str]> = match &pick {
                Some((wanted, _)) => {
                    wanted.iter().filter(|path| path.first() == Some(&"metadata")).map(|path| &path[1..]).collect()
                }
                None => Vec::new(),
            };
            // (A second `metadata`, or all of it wanted: the long way.)
            if splice.is_some() || below.iter().any(|rest| rest.is_empty()) {
                return None;
            }
            let inner = pick.as_ref().map(|_| (&below[..], &mut picked_metadata));
            splice = Some(in_metadata(&mut scan, json, inner)?);
            match pick.as_mut() {
                Some((_, picked)) if !below.is_empty() => {
                    picked.insert("metadata".to_string(), Value::Object(picked_metadata));
                }
                Some(_) => {}
                None => return splice,
            }
        } else {
            match pick.as_mut() {
                Some((wanted, picked)) => crate::sparse::field(&mut scan, json, key, wanted, picked)?,
                None => scan.skip_value()?,
            }
        }
        match scan.bump()? {
            b',' => previous = key,
            b'}' if scan.at_end() => return splice,
            _ => return None,
        }
    }
}

fn in_metadata(scan: &mut Scan, json: &[u8], mut pick: Option<Picking>) -> Option<Splice> {
    scan.eat(b'{')?;
    if scan.peek()? == b'}' {
        return Some(Splice::Insert { at: scan.at(), comma: Comma::None });
    }
    let mut previous: &[u8] = b"";
    let mut splice = None;
    loop {
        let start = scan.at();
        let key = scan.key()?;
        if key <= previous {
            return None;
        }
        if splice.is_none() && key > KEY {
            splice = Some(Splice::Insert { at: start, comma: Comma::After });
        }
        scan.eat(b':')?;
        let value = scan.at();
        match pick.as_mut() {
            Some((wanted, picked)) => crate::sparse::field(scan, json, key, wanted, picked)?,
            None => scan.skip_value()?,
        }
        if key == KEY {
            splice = Some(Splice::Replace { start: value, end: scan.at() });
        }
        match scan.bump()? {
            b',' => previous = key,
            b'}' => return Some(splice.unwrap_or(Splice::Insert { at: scan.at() - 1, comma: Comma::Before })),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The stamp of `object`'s canonical bytes, checked against the long way.
    fn stamped(object: &Value, revision: i64) -> String {
        let bytes = serde_json::to_vec(object).unwrap();
        let fast = stamp(&bytes, revision).unwrap();
        assert_eq!(
            String::from_utf8(fast.clone()).unwrap(),
            String::from_utf8(slowly(&bytes, revision).unwrap()).unwrap()
        );
        String::from_utf8(fast).unwrap()
    }

    #[test]
    fn the_splice_gives_the_bytes_of_the_parsed_and_serialized_object() {
        let cases = [
            ("keys after it", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "uid": "u"}})),
            (
                "keys only before it",
                json!({"kind": "Pod", "metadata": {"labels": {"z": "1"}, "name": "a"}, "spec": {}}),
            ),
            ("empty metadata", json!({"metadata": {}, "spec": {"x": [1, {"y": "}"}]}})),
            ("metadata first", json!({"metadata": {"uid": "u"}})),
            ("one there already", json!({"metadata": {"name": "a", "resourceVersion": "7", "uid": "u"}})),
            ("one there already, last", json!({"metadata": {"name": "a", "resourceVersion": "7"}})),
            (
                "strings with quotes, escapes and brackets before it",
                json!({"a": "x\"}{\\", "b": [true, null, -1.5e3], "metadata": {"annotations": {"q": "\"]\\\u{1}é"},
                       "managedFields": [{"fieldsV1": {"f:metadata": {}}}], "name": "ü"}}),
            ),
            ("a name that sorts just after", json!({"metadata": {"resourceVersionX": "1", "resourceVersio": "2"}})),
        ];
        for (name, object) in &cases {
            let text = stamped(object, 42);
            assert!(text.contains("\"resourceVersion\":\"42\""), "{name}: {text}");
            // Encoded for the store, the splice is known without a scan, to the same bytes.
            let encoded = encode(object);
            assert_eq!(encoded.json, serde_json::to_vec(object).unwrap(), "{name}");
            assert_eq!(String::from_utf8(encoded.stamped(42).unwrap()).unwrap(), text, "{name}");
        }
        for other in [json!({"metadata": "x"}), json!({"kind": "Pod"}), json!({"metadata": {}})] {
            assert_eq!(encode(&other).json, serde_json::to_vec(&other).unwrap());
            assert_eq!(encode(&other).stamped(7).unwrap(), slowly(&serde_json::to_vec(&other).unwrap(), 7).unwrap());
        }
    }

    #[test]
    fn stamping_and_reading_in_one_pass_gives_what_each_gives_alone() {
        let wanted: Vec<Vec<&str>> = ["metadata.name", "metadata.labels", "spec.nodeName", "status.phase", "zzz"]
            .iter()
            .map(|p| p.split('.').collect())
            .collect();
        let objects = [
            json!({"apiVersion": "v1", "metadata": {"labels": {"a": "b"}, "name": "p", "uid": "u"},
                   "spec": {"nodeName": "n", "x": [1]}, "status": {"phase": "Running"}}),
            json!({"metadata": {"name": "p", "resourceVersion": "3"}, "spec": "odd", "zzz": {"deep": 1}}),
            json!({"metadata": {}, "status": {}}),
            json!({"kind": "Pod"}),
        ];
        for object in &objects {
            let bytes = serde_json::to_vec(object).unwrap();
            let (stamped, parts) = stamp_and_read(&bytes, 8, &wanted).unwrap();
            assert_eq!(stamped, stamp(&bytes, 8).unwrap(), "{object}");
            assert_eq!(parts, crate::sparse::read(&bytes, &wanted).unwrap(), "{object}");
        }
        let spaced = br#"{"metadata": {"name": "p"}}"#;
        let (stamped, parts) = stamp_and_read(spaced, 8, &wanted).unwrap();
        assert_eq!((stamped, parts), (stamp(spaced, 8).unwrap(), crate::sparse::read(spaced, &wanted).unwrap()));
    }

    #[test]
    fn bytes_in_another_form_take_the_long_way_to_the_same_answer() {
        let cases: &[&[u8]] = &[
            br#"{"kind": "Pod", "metadata": {"name": "a"}}"#,
            br#"{"metadata":{"uid":"u","name":"a"}}"#,
            br#"{"metadata":{"na\u006de":"a"}}"#,
            br#"{"kind":"Pod"}"#,
            br#"{"metadata":null}"#,
        ];
        for bytes in cases {
            assert_eq!(find(bytes), None, "{}", String::from_utf8_lossy(bytes));
            assert_eq!(stamp(bytes, 9).unwrap(), slowly(bytes, 9).unwrap());
        }
    }
}
