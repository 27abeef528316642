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
//! Bytes the scan does not expect — whitespace, escaped keys, keys out of order, no
//! `metadata` object — take the long way, parsed and serialized, which gives what the splice
//! would have given for canonical bytes.

use skiff_api::status::Status;

const KEY: &[u8] = b"resourceVersion";

/// `json` with `metadata.resourceVersion` set to `revision`.
pub fn stamp(json: &[u8], revision: i64) -> Result<Vec<u8>, Status> {
    let version = revision.to_string();
    let version = version.as_bytes();
    let Some(splice) = find(json) else { return slowly(json, revision) };
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
    Ok(out)
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

/// Where the field goes, if the bytes are in the form the module documentation describes (the
/// keys of the top level up to `metadata`, and all of `metadata`'s, are checked to be in order).
fn find(json: &[u8]) -> Option<Splice> {
    let mut scan = Scan { json, at: 0 };
    scan.eat(b'{')?;
    let mut previous: &[u8] = b"";
    loop {
        let key = scan.key()?;
        if key <= previous {
            return None;
        }
        scan.eat(b':')?;
        if key == b"metadata" {
            return in_metadata(&mut scan);
        }
        scan.skip_value()?;
        scan.eat(b',')?;
        previous = key;
    }
}

fn in_metadata(scan: &mut Scan) -> Option<Splice> {
    scan.eat(b'{')?;
    if scan.peek()? == b'}' {
        return Some(Splice::Insert { at: scan.at, comma: Comma::None });
    }
    let mut previous: &[u8] = b"";
    let mut splice = None;
    loop {
        let start = scan.at;
        let key = scan.key()?;
        if key <= previous {
            return None;
        }
        if splice.is_none() && key > KEY {
            splice = Some(Splice::Insert { at: start, comma: Comma::After });
        }
        scan.eat(b':')?;
        let value = scan.at;
        scan.skip_value()?;
        if key == KEY {
            splice = Some(Splice::Replace { start: value, end: scan.at });
        }
        match scan.next()? {
            b',' => previous = key,
            b'}' => return Some(splice.unwrap_or(Splice::Insert { at: scan.at - 1, comma: Comma::Before })),
            _ => return None,
        }
    }
}

/// A cursor over compact JSON. Every method returns `None` on anything unexpected.
struct Scan<'a> {
    json: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.json.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// A key without escapes, as its bytes.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.at;
        let length = self.json[start..].iter().position(|&b| b == b'"' || b == b'\\')?;
        self.at = start + length;
        self.eat(b'"')?;
        Some(&self.json[start..start + length])
    }

    /// Past the string that starts here, escapes and all.
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let length = self.json[self.at..].iter().position(|&b| b == b'"' || b == b'\\')?;
            self.at += length;
            match self.next()? {
                b'"' => return Some(()),
                _ => self.at += 1, // the escaped byte (`\uXXXX`'s digits are plain bytes)
            }
        }
    }

    /// Past the value that starts here.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => self.skip_string()?,
                        b'{' | b'[' => {
                            depth += 1;
                            self.at += 1;
                        }
                        b'}' | b']' => {
                            depth -= 1;
                            self.at += 1;
                            if depth == 0 {
                                return Some(());
                            }
                        }
                        _ => self.at += 1,
                    }
                }
            }
            // A number, `true`, `false` or `null`: up to what ends it.
            _ => {
                let length = self.json[self.at..].iter().position(|&b| matches!(b, b',' | b'}' | b']'))?;
                self.at += length;
                (length > 0).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

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
        }
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
