//! Applying writes: what Put, DeleteRange, Txn, Compact, LeaseGrant and LeaseRevoke do to the
//! index, the lessor and the disk batch.
//!
//! Mirrors etcd `server/etcdserver/apply.go` (`applierV3backend`) and `mvcc/kvstore_txn.go`
//! (`storeTxnWrite`). Only the committer thread runs this code, holding the index and lessor
//! locks, for one *group* of requests at a time (see `committer.rs`); a [`GroupWriter`] is the
//! state of one group.
//!
//! Every request is a transaction: its changes share one new main revision (with sub revisions
//! in op order), and a request that changes nothing (a txn of reads, a delete that matched
//! nothing) takes no revision. The changes are visible to later requests of the same group at
//! once (the index and `pending` have them), and to everyone else once the group is on disk.
//!
//! A txn runs in three steps, as in etcd:
//! 1. evaluate the compares, of nested txns too, against the state before the txn;
//! 2. check the chosen branches against the data (leases exist, `ignore_value` keys exist,
//!    range revisions are in history): an error here fails the whole txn before it writes;
//! 3. run the ops in order; reads see the txn's own earlier writes.

use std::collections::HashMap;

use rand::Rng;
use skiff_proto::etcdserverpb::{
    request_op::Request, response_op::Response, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse,
    RequestOp, ResponseHeader, ResponseOp, TxnRequest, TxnResponse,
};
use skiff_proto::mvccpb::{event::EventType, Event, KeyValue};
use tokio::time::Instant;

use crate::backend::{meta, Backend, Batch, Record};
use crate::compare::{compare_kv, compare_missing};
use crate::error::StoreError;
use crate::index::KeyIndex;
use crate::key_range::KeyRange;
use crate::lease::Lessor;
use crate::range::{key_value_without_value, range, read_revision};
use crate::revision::Revision;

/// A write request, as the committer receives it.
#[derive(Debug)]
pub enum WriteOp {
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact {
        revision: i64,
    },
    /// `id == 0` lets the store choose. `now` is when the request arrived: the lease's clock.
    LeaseGrant {
        id: i64,
        ttl: i64,
        now: Instant,
    },
    LeaseRevoke {
        id: i64,
    },
}

/// What a write did. Headers carry only the revision; the server fills in the ids.
#[derive(Debug)]
pub enum Applied {
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact { revision: i64 },
    LeaseGrant { id: i64, ttl: i64, revision: i64 },
    LeaseRevoke { revision: i64 },
}

/// The changes of one revision, for the watchers.
#[derive(Debug, Clone)]
pub struct RevisionEvents {
    pub revision: i64,
    pub events: Vec<Event>,
    /// The puts whose `prev_kv` is not filled in: by position in `events`, where the previous
    /// version is in history. A put reads the previous value from disk only if the request
    /// itself needs it; watchers that want it have it read when the event is published
    /// (`watch.rs`), as etcd's watch server does.
    pub unread_prev: Vec<(usize, Revision)>,
}

/// The nested compare results of a txn: whether its compares passed, and the same for each
/// nested txn of the branch that runs, in order.
struct TxnPath {
    succeeded: bool,
    nested: Vec<TxnPath>,
}

fn header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader { revision, ..Default::default() })
}

/// The state of one group of writes.
pub struct GroupWriter<'a> {
    index: &'a mut KeyIndex,
    lessor: &'a mut Lessor,
    backend: &'a Backend,
    /// The newest revision clients have seen: compaction may not go beyond it.
    published: i64,
    /// The newest revision: the last published one, plus the transactions of this group.
    rev: i64,
    /// Values written by this group, readable before the batch reaches the disk.
    pending: HashMap<Revision, KeyValue>,
    batch: Batch,
    events: Vec<RevisionEvents>,
    /// Changes of the transaction under way; its revision is `rev + 1`.
    txn_events: Vec<Event>,
    /// `RevisionEvents::unread_prev` of the transaction under way.
    txn_unread_prev: Vec<(usize, Revision)>,
}

impl<'a> GroupWriter<'a> {
    pub fn new(index: &'a mut KeyIndex, lessor: &'a mut Lessor, backend: &'a Backend, rev: i64) -> Self {
        GroupWriter {
            index,
            lessor,
            backend,
            published: rev,
            rev,
            pending: HashMap::new(),
            batch: Batch::new(),
            events: Vec::new(),
            txn_events: Vec::new(),
            txn_unread_prev: Vec::new(),
        }
    }

    /// Ends the group: the batch to write, the newest revision, and the events to publish.
    pub fn finish(self) -> (Batch, i64, Vec<RevisionEvents>) {
        (self.batch, self.rev, self.events)
    }

    /// Applies one request. On error nothing of it has been applied.
    pub fn apply(&mut self, op: &WriteOp) -> Result<Applied, StoreError> {
        match op {
            WriteOp::Put(req) => self.put(req).map(Applied::Put),
            WriteOp::DeleteRange(req) => self.delete_range(req).map(Applied::DeleteRange),
            WriteOp::Txn(req) => self.txn(req).map(Applied::Txn),
            WriteOp::Compact { revision } => self.compact(*revision),
            WriteOp::LeaseGrant { id, ttl, now } => self.lease_grant(*id, *ttl, *now),
            WriteOp::LeaseRevoke { id } => self.lease_revoke(*id),
        }
    }

    // ---- reading inside the group ----

    /// The `KeyValue` a put wrote at `rev`: from this group if it is new, else from disk.
    fn load(&self, rev: Revision) -> Result<KeyValue, StoreError> {
        if let Some(kv) = self.pending.get(&rev) {
            return Ok(kv.clone());
        }
        self.backend.get_put(rev)
    }

    /// The revision reads inside the transaction under way see: its own changes included.
    fn view_rev(&self) -> i64 {
        if self.txn_events.is_empty() {
            self.rev
        } else {
            self.rev + 1
        }
    }

    // ---- one transaction ----

    fn next_revision(&self) -> Revision {
        Revision::new(self.rev + 1, self.txn_events.len() as i64)
    }

    /// Closes the transaction under way: if it changed anything it takes the next revision.
    /// Returns the revision it ends at.
    fn end_txn(&mut self) -> i64 {
        if !self.txn_events.is_empty() {
            self.rev += 1;
            let events = std::mem::take(&mut self.txn_events);
            let unread_prev = std::mem::take(&mut self.txn_unread_prev);
            self.events.push(RevisionEvents { revision: self.rev, events, unread_prev });
        }
        self.rev
    }

    /// Writes `key`; returns the previous version if the key was live and the request needs
    /// it (`prev_kv`, `ignore_value`), else `None`.
    ///
    /// The previous value is read from disk only in that case: a plain put needs only the
    /// index's metadata of the previous version (its lease, its version), and reading a 1 KiB
    /// value back from sled and decoding it was ~5% of the server's CPU under a put load.
    fn put_key(&mut self, req: &PutRequest) -> Result<Option<KeyValue>, StoreError> {
        let prev_live = self.index.latest(&req.key);
        let prev = match prev_live {
            Some(live) if req.prev_kv || req.ignore_value => Some(self.load(live.rev)?),
            _ => None,
        };
        let value = match (&prev, req.ignore_value) {
            (_, false) => req.value.clone(),
            (Some(prev), true) => prev.value.clone(),
            (None, true) => return Err(StoreError::KeyNotFound),
        };
        let prev_lease = prev_live.map(|live| live.lease);
        let lease = match (prev_lease, req.ignore_lease) {
            (_, false) => req.lease,
            (Some(prev_lease), true) => prev_lease,
            (None, true) => return Err(StoreError::KeyNotFound),
        };
        let rev = self.next_revision();
        let live = self.index.put(req.key.clone(), rev, lease);
        let kv = KeyValue {
            key: req.key.clone(),
            create_revision: live.create_revision,
            mod_revision: rev.main,
            version: live.version,
            value,
            lease,
        };
        if let Some(prev_lease) = prev_lease {
            if prev_lease != 0 && prev_lease != lease {
                self.lessor.detach(prev_lease, &req.key);
            }
        }
        if lease != 0 {
            self.lessor.attach(lease, req.key.clone());
        }
        self.batch.put_record(rev, &Record::Put(kv.clone()));
        self.pending.insert(rev, kv.clone());
        if let (Some(prev_live), None) = (prev_live, &prev) {
            self.txn_unread_prev.push((self.txn_events.len(), prev_live.rev));
        }
        self.txn_events.push(Event { r#type: EventType::Put as i32, kv: Some(kv), prev_kv: prev.clone() });
        Ok(prev)
    }

    /// Deletes every live key in `keys`; returns their last versions.
    fn delete_keys(&mut self, keys: &KeyRange) -> Result<Vec<KeyValue>, StoreError> {
        let (found, _) = self.index.range(keys, i64::MAX, 0);
        let mut deleted = Vec::with_capacity(found.len());
        for (key, live) in found {
            let prev = self.load(live.rev)?;
            let rev = self.next_revision();
            self.index.tombstone(&key, rev);
            if live.lease != 0 {
                self.lessor.detach(live.lease, &key);
            }
            self.batch.put_record(rev, &Record::Delete { key: key.clone() });
            let kv = KeyValue { key, mod_revision: rev.main, ..Default::default() };
            self.txn_events.push(Event { r#type: EventType::Delete as i32, kv: Some(kv), prev_kv: Some(prev.clone()) });
            deleted.push(prev);
        }
        Ok(deleted)
    }

    /// The data checks of a put (`checkRequestPut`): the lease exists; a key exists when its
    /// value or lease is to be kept.
    fn check_put(&self, req: &PutRequest) -> Result<(), StoreError> {
        if (req.ignore_value || req.ignore_lease) && self.index.latest(&req.key).is_none() {
            return Err(StoreError::KeyNotFound);
        }
        if req.lease != 0 && !self.lessor.contains(req.lease) {
            return Err(StoreError::LeaseNotFound);
        }
        Ok(())
    }

    // ---- the requests ----

    fn put(&mut self, req: &PutRequest) -> Result<PutResponse, StoreError> {
        self.check_put(req)?;
        let prev = self.put_key(req)?;
        let revision = self.end_txn();
        Ok(PutResponse { header: header(revision), prev_kv: if req.prev_kv { prev } else { None } })
    }

    fn delete_range(&mut self, req: &DeleteRangeRequest) -> Result<DeleteRangeResponse, StoreError> {
        let deleted = self.delete_keys(&KeyRange::new(req.key.clone(), req.range_end.clone()))?;
        let revision = self.end_txn();
        Ok(DeleteRangeResponse {
            header: header(revision),
            deleted: deleted.len() as i64,
            prev_kvs: if req.prev_kv { deleted } else { vec![] },
        })
    }

    fn txn(&mut self, req: &TxnRequest) -> Result<TxnResponse, StoreError> {
        let path = self.evaluate(req)?;
        self.check_branch(req, &path)?;
        let mut response = self.run_txn(req, &path)?;
        response.header = header(self.end_txn());
        Ok(response)
    }

    /// Step 1: the compares of `req` and of the nested txns of its chosen branch.
    fn evaluate(&self, req: &TxnRequest) -> Result<TxnPath, StoreError> {
        let mut succeeded = true;
        for c in &req.compare {
            if !self.compare(c)? {
                succeeded = false;
                break;
            }
        }
        let branch = if succeeded { &req.success } else { &req.failure };
        let nested = nested_txns(branch).map(|t| self.evaluate(t)).collect::<Result<_, _>>()?;
        Ok(TxnPath { succeeded, nested })
    }

    fn compare(&self, c: &skiff_proto::etcdserverpb::Compare) -> Result<bool, StoreError> {
        let keys = KeyRange::new(c.key.clone(), c.range_end.clone());
        let (found, _) = self.index.range(&keys, self.rev, 0);
        if found.is_empty() {
            return Ok(compare_missing(c));
        }
        let by_value = c.target == skiff_proto::etcdserverpb::compare::CompareTarget::Value as i32;
        for (key, live) in found {
            let kv = if by_value { self.load(live.rev)? } else { key_value_without_value(key, &live) };
            if !compare_kv(c, &kv) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Step 2: the data checks of every op that will run.
    fn check_branch(&self, req: &TxnRequest, path: &TxnPath) -> Result<(), StoreError> {
        let branch = if path.succeeded { &req.success } else { &req.failure };
        let mut nested_paths = path.nested.iter();
        for op in branch {
            match &op.request {
                Some(Request::RequestPut(put)) => self.check_put(put)?,
                Some(Request::RequestRange(r)) if r.revision != 0 => {
                    read_revision(r.revision, self.rev, self.index.compacted())?;
                }
                Some(Request::RequestTxn(nested)) => {
                    let nested_path = nested_paths.next().expect("one path per nested txn");
                    self.check_branch(nested, nested_path)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Step 3: the ops of the chosen branch, in order.
    fn run_txn(&mut self, req: &TxnRequest, path: &TxnPath) -> Result<TxnResponse, StoreError> {
        let branch = if path.succeeded { &req.success } else { &req.failure };
        let mut nested_paths = path.nested.iter();
        let mut responses = Vec::with_capacity(branch.len());
        for op in branch {
            let response = match &op.request {
                Some(Request::RequestRange(r)) => {
                    let load = |rev| self.load(rev);
                    Response::ResponseRange(range(self.index, &load, self.view_rev(), r)?)
                }
                Some(Request::RequestPut(put)) => {
                    let prev = self.put_key(put)?;
                    Response::ResponsePut(PutResponse {
                        header: header(self.rev + 1),
                        prev_kv: if put.prev_kv { prev } else { None },
                    })
                }
                Some(Request::RequestDeleteRange(d)) => {
                    let deleted = self.delete_keys(&KeyRange::new(d.key.clone(), d.range_end.clone()))?;
                    Response::ResponseDeleteRange(DeleteRangeResponse {
                        header: header(self.view_rev()),
                        deleted: deleted.len() as i64,
                        prev_kvs: if d.prev_kv { deleted } else { vec![] },
                    })
                }
                Some(Request::RequestTxn(nested)) => {
                    let nested_path = nested_paths.next().expect("one path per nested txn");
                    let mut inner = self.run_txn(nested, nested_path)?;
                    // etcd leaves a nested txn's header present but empty.
                    inner.header = Some(ResponseHeader::default());
                    Response::ResponseTxn(inner)
                }
                None => return Err(StoreError::KeyNotFound),
            };
            responses.push(ResponseOp { response: Some(response) });
        }
        Ok(TxnResponse { header: None, succeeded: path.succeeded, responses })
    }

    /// Compaction: forget history below `revision` (see `KeyIndex::compact`) and delete the
    /// records nobody can read any more, in the same batch as the new mark.
    fn compact(&mut self, revision: i64) -> Result<Applied, StoreError> {
        if revision <= self.index.compacted() {
            return Err(StoreError::Compacted);
        }
        // Not beyond what clients have seen: a read at the published revision must not find
        // its history compacted by a write that is not durable yet.
        if revision > self.published {
            return Err(StoreError::FutureRevision);
        }
        for rev in self.index.compact(revision) {
            self.pending.remove(&rev);
            self.batch.remove_record(rev);
        }
        self.batch.put_meta(meta::COMPACTED, revision as u64);
        Ok(Applied::Compact { revision: self.rev })
    }

    fn lease_grant(&mut self, id: i64, ttl: i64, now: Instant) -> Result<Applied, StoreError> {
        let ttl = Lessor::effective_ttl(ttl)?;
        let id = if id == 0 { self.free_lease_id() } else { id };
        if self.lessor.contains(id) {
            return Err(StoreError::LeaseExists);
        }
        self.lessor.grant(id, ttl, now);
        self.batch.put_lease(id, ttl);
        Ok(Applied::LeaseGrant { id, ttl, revision: self.rev })
    }

    /// A random positive id no lease has. (etcd derives ids from the member id and the clock;
    /// clients only need them unique.)
    fn free_lease_id(&self) -> i64 {
        let mut rng = rand::rng();
        loop {
            let id = rng.random::<i64>() & i64::MAX;
            if id != 0 && !self.lessor.contains(id) {
                return id;
            }
        }
    }

    /// Revoking deletes the lease's keys in key order, in one transaction.
    fn lease_revoke(&mut self, id: i64) -> Result<Applied, StoreError> {
        let lease = self.lessor.revoke(id)?;
        for key in lease.keys {
            self.delete_keys(&KeyRange::Single(key))?;
        }
        let revision = self.end_txn();
        self.batch.remove_lease(id);
        Ok(Applied::LeaseRevoke { revision })
    }
}

fn nested_txns(branch: &[RequestOp]) -> impl Iterator<Item = &TxnRequest> {
    branch.iter().filter_map(|op| match &op.request {
        Some(Request::RequestTxn(t)) => Some(t),
        _ => None,
    })
}
