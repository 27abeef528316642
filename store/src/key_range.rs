//! Which keys a request names: one key, every key from a key on, or a half-open range.
//!
//! etcd packs this into two byte strings (`key`, `range_end`): an empty `range_end` means the
//! single key, `range_end == "\0"` means every key `>= key`, anything else is `[key, range_end)`.
//! A `range_end` at or below `key` names nothing; etcd answers such requests with an empty result,
//! not an error, and so does Skiff. The prefix `foo` that `etcdctl get --prefix foo` asks for
//! arrives as the range `[foo, fop)`.

use std::ops::Bound;

use bytes::Bytes;

/// The keys one request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    /// Exactly this key.
    Single(Bytes),
    /// Every key `>= start`.
    From(Bytes),
    /// Every key in `[start, end)`; empty when `end <= start`.
    Between(Bytes, Bytes),
}

impl KeyRange {
    /// Reads etcd's `(key, range_end)` pair.
    pub fn new(key: Bytes, range_end: Bytes) -> Self {
        if range_end.is_empty() {
            KeyRange::Single(key)
        } else if range_end.as_ref() == [0u8] {
            KeyRange::From(key)
        } else {
            KeyRange::Between(key, range_end)
        }
    }

    /// Whether `key` falls in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        match self {
            KeyRange::Single(k) => k.as_ref() == key,
            KeyRange::From(start) => key >= start.as_ref(),
            KeyRange::Between(start, end) => key >= start.as_ref() && key < end.as_ref(),
        }
    }

    /// Whether the range can hold no key at all (an inverted or empty `[start, end)`).
    pub fn is_empty(&self) -> bool {
        matches!(self, KeyRange::Between(start, end) if end <= start)
    }

    /// Bounds for a `BTreeMap::range` over keys. Only call when `!self.is_empty()`:
    /// `BTreeMap::range` panics on inverted bounds.
    pub fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        match self {
            KeyRange::Single(k) => (Bound::Included(k.as_ref()), Bound::Included(k.as_ref())),
            KeyRange::From(start) => (Bound::Included(start.as_ref()), Bound::Unbounded),
            KeyRange::Between(start, end) => (Bound::Included(start.as_ref()), Bound::Excluded(end.as_ref())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(key: &'static str, end: &'static [u8]) -> KeyRange {
        KeyRange::new(Bytes::from_static(key.as_bytes()), Bytes::from_static(end))
    }

    #[test]
    fn reads_etcds_encoding() {
        let cases: [(&str, KeyRange, KeyRange); 3] = [
            ("empty end is one key", range("a", b""), KeyRange::Single("a".into())),
            ("nul end is from key", range("a", b"\0"), KeyRange::From("a".into())),
            ("other end is a range", range("a", b"c"), KeyRange::Between("a".into(), "c".into())),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn membership() {
        let cases: [(&str, KeyRange, &str, bool); 9] = [
            ("single matches itself", range("a", b""), "a", true),
            ("single is not a prefix", range("a", b""), "ab", false),
            ("from includes start", range("b", b"\0"), "b", true),
            ("from includes later keys", range("b", b"\0"), "zzz", true),
            ("from excludes earlier keys", range("b", b"\0"), "a", false),
            ("prefix range includes prefixed keys", range("foo", b"fop"), "foo/bar", true),
            ("range end is excluded", range("foo", b"fop"), "fop", false),
            ("inverted range holds nothing", range("c", b"a"), "b", false),
            ("inverted range excludes its own key", range("c", b"a"), "c", false),
        ];
        for (name, r, key, want) in cases {
            assert_eq!(r.contains(key.as_bytes()), want, "{name}");
        }
    }

    #[test]
    fn inverted_and_empty_ranges_are_empty() {
        assert!(range("c", b"a").is_empty());
        assert!(range("c", b"c").is_empty());
        assert!(!range("a", b"c").is_empty());
        assert!(!range("a", b"").is_empty());
    }
}
