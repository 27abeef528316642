//! A cursor over compact JSON, for finding things in stored objects without parsing them.
//!
//! The store holds `serde_json`'s compact encoding of every object (`storage::storable`): no
//! whitespace, keys sorted. `stamp.rs` and `sparse.rs` walk it with this cursor, stepping over
//! keys and skipping values, reading nothing they do not need. Skipping a value only counts
//! brackets and steps over strings, so it does not check the JSON inside: what the store holds
//! was written by the API server, valid by construction. Every method answers `None` on
//! anything it does not expect (whitespace, an escaped key, the end), and its callers then
//! take the long way through `serde_json`.
//!
//! Most of a stored object is strings (a pod's `managedFields` nearly all), so finding a
//! string's end is what skipping costs: it looks at eight bytes at a time.

pub struct Scan<'a> {
    json: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    pub fn new(json: &'a [u8]) -> Scan<'a> {
        Scan { json, at: 0 }
    }

    /// Where the cursor is.
    pub fn at(&self) -> usize {
        self.at
    }

    /// Whether everything has been read.
    pub fn at_end(&self) -> bool {
        self.at == self.json.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.json.get(self.at).copied()
    }

    /// The byte here, stepping past it.
    pub fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    pub fn eat(&mut self, byte: u8) -> Option<()> {
        (self.bump()? == byte).then_some(())
    }

    /// A key without escapes, as its bytes.
    pub fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.at;
        let length = quote_or_escape(&self.json[start..])?;
        self.at = start + length;
        self.eat(b'"')?;
        Some(&self.json[start..start + length])
    }

    /// Past the string that starts here, escapes and all.
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            self.at += quote_or_escape(&self.json[self.at..])?;
            match self.bump()? {
                b'"' => return Some(()),
                _ => self.at += 1, // the escaped byte (`\uXXXX`'s digits are plain bytes)
            }
        }
    }

    /// Past the value that starts here.
    pub fn skip_value(&mut self) -> Option<()> {
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

/// Where the first `"` or `\` of `bytes` is: eight bytes at a time, each word tested for
/// either byte with the classic "has a zero byte" trick on the word XORed with it (the lowest
/// flagged byte is always a true match, and little-endian puts it first).
fn quote_or_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_in = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of eight"));
        let found = zero_in(word ^ (ONES * u64::from(b'"'))) | zero_in(word ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| b == b'"' || b == b'\\').map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_quote_or_backslash_is_found_wherever_it_is() {
        for length in 0..40 {
            for at in 0..length {
                for byte in [b'"', b'\\'] {
                    // Bytes near the two, and high bytes, must not be mistaken for them.
                    let mut bytes: Vec<u8> = (0..length).map(|i| [b'!', b'#', b'[', 0xc3, 0xa9, 0x00][i % 6]).collect();
                    bytes[at] = byte;
                    if at + 1 < length {
                        bytes[at + 1] = b'"';
                    }
                    assert_eq!(quote_or_escape(&bytes), Some(at), "{length} {at}");
                }
            }
            assert_eq!(quote_or_escape(&vec![b'a'; length]), None);
        }
    }

    #[test]
    fn values_are_skipped_whole() {
        let json = br#"{"a":"x\"}","b":[1,{"c":"]"}],"d":-1.5e3,"e":null}"#;
        let mut scan = Scan::new(json);
        scan.eat(b'{').unwrap();
        let mut keys = Vec::new();
        loop {
            keys.push(scan.key().unwrap());
            scan.eat(b':').unwrap();
            scan.skip_value().unwrap();
            if scan.bump().unwrap() == b'}' {
                break;
            }
        }
        assert!(scan.at_end());
        assert_eq!(keys, [&b"a"[..], b"b", b"d", b"e"]);
    }
}
