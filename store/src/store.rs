//! The store: the key index, the lessor, the disk and the watchers, shared by the gRPC services.
//!
//! Mirrors etcd `server/storage/mvcc/kvstore.go` (opening and restoring) and the read half of
//! `kvstore_txn.go`. Reads run on the caller's task, under the index's read lock, at the
//! *published* revision: the newest one that is on disk. Writes are proposals to the committer
//! thread (`committer.rs`), which applies them in order, one group at a time, and publishes a
//! group only once it is durable. So a read never sees a write that a crash could take back.
//!
//! On start the index is rebuilt from the history on disk (etcd's `restore`), and leases are
//! loaded with a full TTL from now.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use skiff_proto::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader,
    TxnRequest, TxnResponse,
};
use skiff_proto::mvccpb::KeyValue;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::apply::{Applied, WriteOp};
use crate::backend::{meta, Backend, Batch, Record};
use crate::committer::{self, Message, Proposal};
use crate::error::StoreError;
use crate::index::{EntryKind, IndexEntry, KeyIndex};
use crate::lease::Lessor;
use crate::watch::WatchHub;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub data_dir: PathBuf,
    /// Bound on sled's page cache, in bytes.
    pub cache_bytes: u64,
    /// Size of the write-ahead log ([`crate::wal::WAL_BYTES`]; tests use small ones to make the
    /// store checkpoint often).
    pub log_bytes: u64,
}

/// Who answers: the ids every response header carries.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub cluster_id: u64,
    pub member_id: u64,
    /// etcd's raft term. A single store has no elections; it counts its starts instead, which is
    /// what the term of a one-member etcd cluster does too.
    pub term: u64,
}

impl Ids {
    /// A full header at `revision`.
    pub fn header(&self, revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader { cluster_id: self.cluster_id, member_id: self.member_id, revision, raft_term: self.term })
    }

    /// Fills in the ids of a header the applier made (etcd's `header.fill`): the revision is
    /// kept if set, else the current one is used.
    pub fn fill(&self, header: &mut Option<ResponseHeader>, current: i64) {
        let revision = header.as_ref().map(|h| h.revision).filter(|r| *r != 0).unwrap_or(current);
        *header = self.header(revision);
    }
}

/// What the services, the committer and the background tasks share.
pub struct Shared {
    pub backend: Backend,
    pub index: RwLock<KeyIndex>,
    pub lessor: Mutex<Lessor>,
    /// The published revision: everything up to it is durable and visible.
    current: AtomicI64,
    pub hub: WatchHub,
    pub ids: Ids,
    /// Wakes the lease expiry loop when a lease is granted or renewed earlier than it planned.
    pub lease_changed: Notify,
    /// Canceled if the committer stops on a disk failure; the server then shuts down.
    pub failed: CancellationToken,
}

impl Shared {
    pub fn current_revision(&self) -> i64 {
        self.current.load(Ordering::Acquire)
    }

    /// Called by the committer once a group is durable.
    pub(crate) fn publish_revision(&self, revision: i64) {
        self.current.store(revision, Ordering::Release);
    }
}

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    proposals: mpsc::UnboundedSender<Message>,
    committer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl Store {
    /// Opens the store in `options.data_dir`, rebuilding its index from disk, and starts the
    /// committer thread. Must be called inside a Tokio runtime.
    pub fn open(options: &StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(&options.data_dir)
            .map_err(|source| StoreError::Io { step: "create the data directory", source })?;
        let backend = Backend::open_with_log_size(&options.data_dir, options.cache_bytes, options.log_bytes)?;
        let ids = load_ids(&backend)?;
        let (index, current) = restore_index(&backend)?;
        let lessor = restore_leases(&backend, &index)?;
        tracing::info!(
            revision = current,
            compacted = index.compacted(),
            keys = index.key_count(),
            leases = lessor.len(),
            term = ids.term,
            "store restored"
        );
        let shared = Arc::new(Shared {
            backend,
            index: RwLock::new(index),
            lessor: Mutex::new(lessor),
            current: AtomicI64::new(current),
            hub: WatchHub::new(current, tokio::runtime::Handle::current()),
            ids,
            lease_changed: Notify::new(),
            failed: CancellationToken::new(),
        });
        let (proposals, receiver) = mpsc::unbounded_channel();
        let thread = committer::spawn(shared.clone(), receiver);
        Ok(Store { shared, proposals, committer: Arc::new(Mutex::new(Some(thread))) })
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn ids(&self) -> Ids {
        self.shared.ids
    }

    pub fn current_revision(&self) -> i64 {
        self.shared.current_revision()
    }

    pub fn compacted_revision(&self) -> i64 {
        self.shared.index.read().compacted()
    }

    /// Stops the committer once the writes already queued are done, and waits for it. Every
    /// clone of this handle is refused writes afterwards (`StoreError::Stopped`). The database
    /// closes when the last clone is dropped.
    pub fn close(self) {
        let _ = self.proposals.send(Message::Stop);
        if let Some(thread) = self.committer.lock().take() {
            let _ = thread.join();
        }
    }

    // ---- reads ----

    /// A linearizable read at the published revision (a single store has no followers, so
    /// `serializable` changes nothing).
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse, StoreError> {
        let index = self.shared.index.read();
        let current = self.shared.current_revision();
        let load = |rev| self.shared.backend.get_put(rev);
        crate::range::range(&index, &load, current, req)
    }

    // ---- writes, through the committer ----

    /// Proposes a write and waits until it is durable.
    pub async fn write(&self, op: WriteOp) -> Result<Applied, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.proposals.send(Message::Write(Proposal { op, reply })).map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    pub async fn put(&self, req: PutRequest) -> Result<PutResponse, StoreError> {
        match self.write(WriteOp::Put(req)).await? {
            Applied::Put(r) => Ok(r),
            other => unreachable!("a put was answered with {other:?}"),
        }
    }

    pub async fn delete_range(&self, req: DeleteRangeRequest) -> Result<DeleteRangeResponse, StoreError> {
        match self.write(WriteOp::DeleteRange(req)).await? {
            Applied::DeleteRange(r) => Ok(r),
            other => unreachable!("a delete was answered with {other:?}"),
        }
    }

    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse, StoreError> {
        match self.write(WriteOp::Txn(req)).await? {
            Applied::Txn(r) => Ok(r),
            other => unreachable!("a txn was answered with {other:?}"),
        }
    }

    /// Compacts history below `revision`; returns the current revision.
    pub async fn compact(&self, revision: i64) -> Result<i64, StoreError> {
        match self.write(WriteOp::Compact { revision }).await? {
            Applied::Compact { revision } => Ok(revision),
            other => unreachable!("a compaction was answered with {other:?}"),
        }
    }

    /// Grants a lease; returns `(id, ttl, revision)`.
    pub async fn lease_grant(&self, id: i64, ttl: i64) -> Result<(i64, i64, i64), StoreError> {
        let op = WriteOp::LeaseGrant { id, ttl, now: Instant::now() };
        match self.write(op).await? {
            Applied::LeaseGrant { id, ttl, revision } => {
                self.shared.lease_changed.notify_one();
                Ok((id, ttl, revision))
            }
            other => unreachable!("a lease grant was answered with {other:?}"),
        }
    }

    /// Revokes a lease, deleting its keys; returns the revision after.
    pub async fn lease_revoke(&self, id: i64) -> Result<i64, StoreError> {
        match self.write(WriteOp::LeaseRevoke { id }).await? {
            Applied::LeaseRevoke { revision } => Ok(revision),
            other => unreachable!("a lease revoke was answered with {other:?}"),
        }
    }

    // ---- leases: in memory only ----

    /// A keep-alive; returns the TTL, or an error for an unknown or expired lease.
    pub fn lease_keep_alive(&self, id: i64) -> Result<i64, StoreError> {
        let ttl = self.shared.lessor.lock().renew(id, Instant::now())?;
        Ok(ttl)
    }

    /// `(remaining, granted, keys)` of a lease, if it exists.
    pub fn lease_time_to_live(&self, id: i64) -> Option<(i64, i64, Vec<Bytes>)> {
        let lessor = self.shared.lessor.lock();
        let lease = lessor.get(id)?;
        Some((lease.remaining(Instant::now()), lease.ttl, lease.keys.iter().cloned().collect()))
    }

    /// Every lease id, soonest to expire first (as etcd lists them).
    pub fn lease_ids(&self) -> Vec<i64> {
        self.shared.lessor.lock().ids_by_expiry()
    }

    pub fn db_size(&self) -> u64 {
        self.shared.backend.size_on_disk()
    }
}

/// Reads the cluster and member ids (made on first start) and counts this start as a new term.
fn load_ids(backend: &Backend) -> Result<Ids, StoreError> {
    let mut batch = Batch::new();
    let mut get_or_make = |name: &str| -> Result<u64, StoreError> {
        Ok(match backend.meta(name)? {
            Some(id) => id,
            None => {
                let id = rand::random::<u64>() | 1;
                batch.put_meta(name, id);
                id
            }
        })
    };
    let cluster_id = get_or_make(meta::CLUSTER_ID)?;
    let member_id = get_or_make(meta::MEMBER_ID)?;
    let term = backend.meta(meta::TERM)?.unwrap_or(1) + 1;
    batch.put_meta(meta::TERM, term);
    backend.commit(batch)?;
    Ok(Ids { cluster_id, member_id, term })
}

/// Rebuilds the key index by replaying history, and finds the current revision. A new store is
/// at revision 1 (its first write gets 2), as etcd's is.
fn restore_index(backend: &Backend) -> Result<(KeyIndex, i64), StoreError> {
    let mut index = KeyIndex::default();
    let compacted = backend.meta(meta::COMPACTED)?.unwrap_or(0) as i64;
    index.restore_compacted(compacted);
    let mut last = 0;
    for item in backend.history(0, i64::MAX - 1) {
        let (rev, record) = item?;
        last = rev.main;
        match record {
            Record::Put(KeyValue { key, create_revision, version, lease, .. }) => {
                index.restore(key, IndexEntry { rev, kind: EntryKind::Put { create_revision, version, lease } })
            }
            Record::Delete { key } => index.restore(key, IndexEntry { rev, kind: EntryKind::Tombstone }),
        }
    }
    Ok((index, last.max(compacted).max(1)))
}

/// Loads the leases, each with its full TTL from now, and reattaches their keys.
fn restore_leases(backend: &Backend, index: &KeyIndex) -> Result<Lessor, StoreError> {
    let mut lessor = Lessor::default();
    let now = Instant::now();
    for (id, ttl) in backend.leases()? {
        lessor.grant(id, ttl, now);
    }
    for (key, lease) in index.leased_keys() {
        lessor.attach(lease, key.clone());
    }
    Ok(lessor)
}
