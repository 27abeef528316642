//! The disk: one sled tree holding history, leases and a few facts about the store.
//!
//! Mirrors etcd `server/storage/backend` and the bucket layout of `server/storage/schema`, with
//! sled in place of bbolt. One tree, three key spaces, so that one `sled::Batch` (atomic) can
//! carry everything a group of transactions changes:
//!
//! | key                         | value                                                   |
//! |-----------------------------|---------------------------------------------------------|
//! | `h` + revision (16 bytes)   | a [`Record`]: the `KeyValue` a put wrote, or a delete's key |
//! | `l` + lease id (8 bytes)    | the lease's granted TTL in seconds                      |
//! | `m` + name                  | a fact: cluster and member ids, compaction mark, term   |
//!
//! Durability: [`Backend::commit`] makes a batch visible (to this process) and [`Backend::sync`]
//! makes everything committed so far durable. The committer calls `sync` once per group of
//! writes; nothing is acknowledged before it returns.

use std::path::Path;

use bytes::Bytes;
use prost::Message;
use skiff_proto::mvccpb::KeyValue;

use crate::error::StoreError;
use crate::revision::{Revision, REVISION_BYTES};

const HISTORY: u8 = b'h';
const LEASES: u8 = b'l';
const META: u8 = b'm';

/// Names of the facts kept under `m`.
pub mod meta {
    pub const CLUSTER_ID: &str = "cluster_id";
    pub const MEMBER_ID: &str = "member_id";
    /// The revision of the last compaction.
    pub const COMPACTED: &str = "compacted";
    /// How many times the store has started: reported as the raft term.
    pub const TERM: &str = "term";
}

/// One change in history, as stored under its revision.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The key's new version, exactly as reads return it.
    Put(KeyValue),
    /// The key was deleted at this revision.
    Delete { key: Bytes },
}

impl Record {
    pub fn key(&self) -> &Bytes {
        match self {
            Record::Put(kv) => &kv.key,
            Record::Delete { key } => key,
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Record::Put(kv) => {
                let mut out = Vec::with_capacity(1 + kv.encoded_len());
                out.push(b'P');
                kv.encode(&mut out).expect("a Vec grows as needed");
                out
            }
            Record::Delete { key } => {
                let mut out = Vec::with_capacity(1 + key.len());
                out.push(b'D');
                out.extend_from_slice(key);
                out
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((b'P', rest)) => KeyValue::decode(rest)
                .map(Record::Put)
                .map_err(|_| StoreError::Corrupt("undecodable put record")),
            Some((b'D', rest)) => Ok(Record::Delete { key: Bytes::copy_from_slice(rest) }),
            _ => Err(StoreError::Corrupt("unknown record kind")),
        }
    }
}

fn history_key(rev: Revision) -> [u8; 1 + REVISION_BYTES] {
    let mut out = [0u8; 1 + REVISION_BYTES];
    out[0] = HISTORY;
    out[1..].copy_from_slice(&rev.to_bytes());
    out
}

fn lease_key(id: i64) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[0] = LEASES;
    out[1..].copy_from_slice(&id.to_be_bytes());
    out
}

fn meta_key(name: &str) -> Vec<u8> {
    let mut out = vec![META];
    out.extend_from_slice(name.as_bytes());
    out
}

/// The changes of one group of transactions, written atomically by [`Backend::commit`].
#[derive(Default)]
pub struct Batch {
    inner: sled::Batch,
    empty: bool,
}

impl Batch {
    pub fn new() -> Self {
        Batch { inner: sled::Batch::default(), empty: true }
    }

    pub fn put_record(&mut self, rev: Revision, record: &Record) {
        self.inner.insert(&history_key(rev), record.encode());
        self.empty = false;
    }

    pub fn remove_record(&mut self, rev: Revision) {
        self.inner.remove(&history_key(rev));
        self.empty = false;
    }

    pub fn put_lease(&mut self, id: i64, ttl: i64) {
        self.inner.insert(&lease_key(id), &ttl.to_be_bytes());
        self.empty = false;
    }

    pub fn remove_lease(&mut self, id: i64) {
        self.inner.remove(&lease_key(id));
        self.empty = false;
    }

    pub fn put_meta(&mut self, name: &str, value: u64) {
        self.inner.insert(meta_key(name), &value.to_be_bytes());
        self.empty = false;
    }

    /// Whether nothing was added: a group of read-only transactions needs no disk write.
    pub fn is_empty(&self) -> bool {
        self.empty
    }
}

/// The sled database behind the store.
#[derive(Clone)]
pub struct Backend {
    db: sled::Db,
}

fn storage(step: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |source| StoreError::Storage { step, source }
}

impl Backend {
    /// Opens (or creates) the database in `dir`. `cache_bytes` bounds sled's page cache, which
    /// would otherwise default to 1 GiB.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(storage("open database"))?;
        Ok(Backend { db })
    }

    /// The record written at `rev`, if it is still in history.
    pub fn get(&self, rev: Revision) -> Result<Option<Record>, StoreError> {
        match self.db.get(history_key(rev)).map_err(storage("read record"))? {
            Some(bytes) => Record::decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// History from main revision `from` through `to`, in revision order.
    pub fn history(
        &self,
        from: i64,
        to: i64,
    ) -> impl Iterator<Item = Result<(Revision, Record), StoreError>> {
        let start = history_key(Revision::new(from.max(0), 0));
        let end = history_key(Revision::new(to.saturating_add(1), 0));
        self.db.range(start..end).map(|item| {
            let (key, value) = item.map_err(storage("scan history"))?;
            let rev = Revision::from_bytes(&key[1..])
                .ok_or(StoreError::Corrupt("bad history key"))?;
            Ok((rev, Record::decode(&value)?))
        })
    }

    /// The newest revision in history (0 for an empty store).
    pub fn last_revision(&self) -> Result<i64, StoreError> {
        let last = self.db.scan_prefix([HISTORY]).next_back();
        match last {
            Some(item) => {
                let (key, _) = item.map_err(storage("read last revision"))?;
                Ok(Revision::from_bytes(&key[1..]).map(|r| r.main).unwrap_or(0))
            }
            None => Ok(0),
        }
    }

    /// Every lease on disk, as `(id, granted ttl)`.
    pub fn leases(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        self.db
            .scan_prefix([LEASES])
            .map(|item| {
                let (key, value) = item.map_err(storage("scan leases"))?;
                let id = i64::from_be_bytes(key[1..].try_into().map_err(|_| StoreError::Corrupt("bad lease key"))?);
                let ttl = i64::from_be_bytes(value.as_ref().try_into().map_err(|_| StoreError::Corrupt("bad lease ttl"))?);
                Ok((id, ttl))
            })
            .collect()
    }

    /// A fact stored under `m`.
    pub fn meta(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let value = self.db.get(meta_key(name)).map_err(storage("read meta"))?;
        value
            .map(|v| {
                v.as_ref()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("bad meta value"))
            })
            .transpose()
    }

    /// Applies a batch atomically. Visible to reads at once; durable after [`Backend::sync`].
    pub fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.db.apply_batch(batch.inner).map_err(storage("apply batch"))
    }

    /// Makes everything committed so far durable (sled writes its log and fsyncs it).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(storage("flush to disk"))
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &'static str, value: &'static str, rev: i64) -> KeyValue {
        KeyValue {
            key: Bytes::from_static(key.as_bytes()),
            value: Bytes::from_static(value.as_bytes()),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            lease: 0,
        }
    }

    #[test]
    fn records_round_trip_and_history_is_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(dir.path(), 1 << 20).unwrap();
        let mut batch = Batch::new();
        assert!(batch.is_empty());
        batch.put_record(Revision::new(3, 0), &Record::Put(kv("b", "2", 3)));
        batch.put_record(Revision::new(2, 0), &Record::Put(kv("a", "1", 2)));
        batch.put_record(Revision::new(3, 1), &Record::Delete { key: "a".into() });
        batch.put_lease(7, 60);
        batch.put_meta(meta::COMPACTED, 1);
        backend.commit(batch).unwrap();
        backend.sync().unwrap();

        let revs: Vec<Revision> = backend.history(0, 10).map(|r| r.unwrap().0).collect();
        assert_eq!(revs, vec![Revision::new(2, 0), Revision::new(3, 0), Revision::new(3, 1)]);
        let only_three: Vec<Revision> = backend.history(3, 3).map(|r| r.unwrap().0).collect();
        assert_eq!(only_three.len(), 2);
        assert_eq!(backend.get(Revision::new(3, 1)).unwrap(), Some(Record::Delete { key: "a".into() }));
        assert_eq!(backend.last_revision().unwrap(), 3);
        assert_eq!(backend.leases().unwrap(), vec![(7, 60)]);
        assert_eq!(backend.meta(meta::COMPACTED).unwrap(), Some(1));
        assert_eq!(backend.meta(meta::TERM).unwrap(), None);
    }

    #[test]
    fn what_was_synced_is_there_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let backend = Backend::open(dir.path(), 1 << 20).unwrap();
            let mut batch = Batch::new();
            batch.put_record(Revision::new(1, 0), &Record::Put(kv("a", "1", 1)));
            backend.commit(batch).unwrap();
            backend.sync().unwrap();
        }
        let backend = Backend::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(backend.last_revision().unwrap(), 1);
        assert!(matches!(backend.get(Revision::new(1, 0)).unwrap(), Some(Record::Put(_))));
    }
}
