//! The key index: for every key, where each of its versions lives in history.
//!
//! Mirrors etcd `server/storage/mvcc/index.go` and `key_index.go`, flattened: etcd keeps a list
//! of *generations* per key (a generation runs from a create to a delete); Skiff keeps one sorted
//! list of [`IndexEntry`]s per key, where a tombstone ends a generation. The values themselves are
//! on disk under their revision (see `backend.rs`); the index holds what reads and compares need
//! without touching the disk: revision, create revision, version and lease.
//!
//! Reading "at revision R" means: for each key, the last entry whose main revision is `<= R`, if
//! that entry is a put. That one rule gives consistent snapshots at any revision still in
//! history, and it is also how a write becomes visible only once it is durable: the committer
//! adds entries first, and readers read at the last *published* revision (see `committer.rs`).
//!
//! Left out: etcd's B-tree (a `BTreeMap` is the same idea) and its per-key locks.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::key_range::KeyRange;
use crate::revision::Revision;

/// One change to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub rev: Revision,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// The key was written; these are the fields of its `KeyValue` at that revision.
    Put { create_revision: i64, version: i64, lease: i64 },
    /// The key was deleted.
    Tombstone,
}

/// The metadata of a live version of a key: what a `KeyValue` holds besides key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveVersion {
    /// Where the version's record is on disk; `rev.main` is its `mod_revision`.
    pub rev: Revision,
    pub create_revision: i64,
    pub version: i64,
    pub lease: i64,
}

impl IndexEntry {
    fn live(&self) -> Option<LiveVersion> {
        match self.kind {
            EntryKind::Put { create_revision, version, lease } => {
                Some(LiveVersion { rev: self.rev, create_revision, version, lease })
            }
            EntryKind::Tombstone => None,
        }
    }
}

/// Every key's history, from the last compaction on.
#[derive(Debug, Default)]
pub struct KeyIndex {
    /// Entries of each key, in revision order. A key whose history compaction emptied is removed.
    keys: BTreeMap<Bytes, Vec<IndexEntry>>,
    /// The revision of the last compaction: reads below it are refused.
    compacted: i64,
}

/// The live version of `entries` at revision `at`.
fn live_at(entries: &[IndexEntry], at: i64) -> Option<LiveVersion> {
    let upto = entries.partition_point(|e| e.rev.main <= at);
    entries[..upto].last().and_then(IndexEntry::live)
}

impl KeyIndex {
    /// The revision of the last compaction (0 if none).
    pub fn compacted(&self) -> i64 {
        self.compacted
    }

    /// The live version of `key` at revision `at`.
    pub fn get(&self, key: &[u8], at: i64) -> Option<LiveVersion> {
        self.keys.get(key).and_then(|entries| live_at(entries, at))
    }

    /// The live versions in `range` at revision `at`, in key order: at most `limit` of them
    /// (0 = no limit), and how many there are in all.
    pub fn range(&self, range: &KeyRange, at: i64, limit: usize) -> (Vec<(Bytes, LiveVersion)>, usize) {
        let mut found = Vec::new();
        let mut total = 0;
        if range.is_empty() {
            return (found, total);
        }
        for (key, entries) in self.keys.range::<[u8], _>(range.bounds()) {
            if let Some(live) = live_at(entries, at) {
                total += 1;
                if limit == 0 || found.len() < limit {
                    found.push((key.clone(), live));
                }
            }
        }
        (found, total)
    }

    /// Records a put of `key` at `rev` and returns the new version's metadata: version 1 and
    /// `create_revision = rev` for a key that is absent (never written, or deleted), otherwise one
    /// more version of the same life.
    pub fn put(&mut self, key: Bytes, rev: Revision, lease: i64) -> LiveVersion {
        let entries = self.keys.entry(key).or_default();
        let (create_revision, version) = match entries.last().and_then(IndexEntry::live) {
            Some(prev) => (prev.create_revision, prev.version + 1),
            None => (rev.main, 1),
        };
        entries.push(IndexEntry { rev, kind: EntryKind::Put { create_revision, version, lease } });
        LiveVersion { rev, create_revision, version, lease }
    }

    /// Records the delete of `key` at `rev`. The caller deletes only keys that are live.
    pub fn tombstone(&mut self, key: &[u8], rev: Revision) {
        if let Some(entries) = self.keys.get_mut(key) {
            entries.push(IndexEntry { rev, kind: EntryKind::Tombstone });
        }
    }

    /// Adds an entry read back from disk at start-up (entries arrive in revision order).
    pub fn restore(&mut self, key: Bytes, entry: IndexEntry) {
        self.keys.entry(key).or_default().push(entry);
    }

    /// Sets the compaction mark read back from disk at start-up.
    pub fn restore_compacted(&mut self, compacted: i64) {
        self.compacted = compacted;
    }

    /// Forgets history older than `at` and returns the revisions whose disk records may go.
    ///
    /// Steps, for each key:
    /// 1. Take the entries at or below `at`.
    /// 2. Keep the last of them if it is a put: it is the key's value at `at` and later.
    /// 3. Drop the others (and that last one too if it is a tombstone: the key is absent).
    /// 4. Remove the key from the index if nothing is left.
    ///
    /// The caller has checked that `at` is above the previous compaction.
    pub fn compact(&mut self, at: i64) -> Vec<Revision> {
        let mut removed = Vec::new();
        self.keys.retain(|_, entries| {
            let upto = entries.partition_point(|e| e.rev.main <= at);
            let keep_last = matches!(entries[..upto].last(), Some(e) if e.live().is_some());
            let drop_count = if keep_last { upto - 1 } else { upto };
            removed.extend(entries.drain(..drop_count).map(|e| e.rev));
            !entries.is_empty()
        });
        self.compacted = at;
        removed
    }

    /// Every live key with a lease, at the newest revision: what the lessor needs at start-up.
    pub fn leased_keys(&self) -> impl Iterator<Item = (&Bytes, i64)> {
        self.keys.iter().filter_map(|(key, entries)| match entries.last()?.kind {
            EntryKind::Put { lease, .. } if lease != 0 => Some((key, lease)),
            _ => None,
        })
    }

    /// The newest entry of `key`, live or not, whatever its revision.
    pub fn latest(&self, key: &[u8]) -> Option<LiveVersion> {
        self.keys.get(key)?.last()?.live()
    }

    /// Number of keys with any history (for metrics).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(main: i64) -> Revision {
        Revision::new(main, 0)
    }

    fn key(k: &'static str) -> Bytes {
        Bytes::from_static(k.as_bytes())
    }

    /// a: put@2, put@3, del@5, put@7     b: put@4
    fn sample() -> KeyIndex {
        let mut index = KeyIndex::default();
        index.put(key("a"), rev(2), 0);
        index.put(key("a"), rev(3), 0);
        index.put(key("b"), rev(4), 9);
        index.tombstone(b"a", rev(5));
        index.put(key("a"), rev(7), 0);
        index
    }

    #[test]
    fn reads_see_the_version_live_at_their_revision() {
        let index = sample();
        let cases = [
            ("before the first put", 1, None),
            ("first put", 2, Some((2, 2, 1))),
            ("second put keeps create revision", 3, Some((3, 2, 2))),
            ("unrelated revision", 4, Some((3, 2, 2))),
            ("deleted", 5, None),
            ("still deleted", 6, None),
            ("recreated starts a new life", 7, Some((7, 7, 1))),
            ("future revisions see the newest", 100, Some((7, 7, 1))),
        ];
        for (name, at, want) in cases {
            let got = index.get(b"a", at).map(|v| (v.rev.main, v.create_revision, v.version));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn range_counts_everything_but_returns_up_to_limit() {
        let index = sample();
        let all = KeyRange::From(key("a"));
        let (found, total) = index.range(&all, 4, 1);
        assert_eq!(total, 2);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, key("a"));
        let (found, total) = index.range(&all, 5, 0);
        assert_eq!((found.len(), total), (1, 1), "a is deleted at 5");
        assert_eq!(found[0].1.lease, 9);
        let (found, total) = index.range(&KeyRange::Between(key("z"), key("a")), 7, 0);
        assert_eq!((found.len(), total), (0, 0), "an inverted range is empty");
    }

    #[test]
    fn compaction_keeps_what_reads_at_and_after_it_need() {
        let cases: [(&str, i64, Vec<i64>, Option<i64>); 4] = [
            ("below the first put removes nothing", 1, vec![], Some(7)),
            ("keeps the live version at the mark", 3, vec![2], Some(7)),
            ("drops a deleted life entirely", 5, vec![2, 3, 5], Some(7)),
            ("keeps the newest put", 8, vec![2, 3, 5], Some(7)),
        ];
        for (name, at, want_removed_a, newest_a) in cases {
            let mut index = sample();
            let mut removed: Vec<i64> = index.compact(at).into_iter().map(|r| r.main).filter(|m| *m != 4).collect();
            removed.sort();
            assert_eq!(removed, want_removed_a, "{name}");
            assert_eq!(index.get(b"a", 100).map(|v| v.rev.main), newest_a, "{name}");
            assert_eq!(index.get(b"b", 100).map(|v| v.rev.main), Some(4), "{name}: b survives");
            assert_eq!(index.compacted(), at);
        }
    }

    #[test]
    fn compaction_removes_keys_whose_history_ends_in_a_delete() {
        let mut index = KeyIndex::default();
        index.put(key("gone"), rev(1), 0);
        index.tombstone(b"gone", rev(2));
        let removed = index.compact(2);
        assert_eq!(removed, vec![rev(1), rev(2)]);
        assert_eq!(index.key_count(), 0);
    }

    #[test]
    fn leased_keys_lists_only_live_keys_with_a_lease() {
        let mut index = sample();
        index.put(key("c"), rev(8), 5);
        index.tombstone(b"c", rev(9));
        let leased: Vec<_> = index.leased_keys().map(|(k, l)| (k.clone(), l)).collect();
        assert_eq!(leased, vec![(key("b"), 9)]);
    }
}
