//! Writes guarded by a compare, and lists: how an API server keeps objects consistent.
//!
//! Mirrors the transactions of Kubernetes' `staging/src/k8s.io/apiserver/pkg/storage/etcd3/
//! store.go`: *create* only if the key is absent (`create_revision = 0`), *update* and *delete*
//! only if the key's `mod_revision` is still the one read (the object's `resourceVersion`). A
//! failed compare is not an error: the answer says so and carries the key's current version, so
//! that the API server can answer `409 AlreadyExists` or `409 Conflict` without another read.

use bytes::Bytes;
use skiff_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    request_op::Request,
    response_op::Response,
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, TxnResponse,
};
use skiff_proto::mvccpb::KeyValue;

use super::{prefix_end, ClientError, StoreClient};

/// What a guarded write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Guarded {
    /// The compare held and the write is durable at `revision`; `prev` is the version it
    /// replaced or deleted, if any.
    Done { revision: i64, prev: Option<KeyValue> },
    /// The compare failed; `current` is the key's version now (none if it is absent).
    Conflict { current: Option<KeyValue> },
}

/// One page of a prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub kvs: Vec<KeyValue>,
    /// The revision the list was read at: where a watch that follows it starts (plus one).
    pub revision: i64,
    /// Keys were left out by the limit.
    pub more: bool,
}

fn compare(key: &Bytes, target: CompareTarget, union: TargetUnion) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: target as i32,
        key: key.clone(),
        target_union: Some(union),
        range_end: Bytes::new(),
    }
}

fn op(request: Request) -> RequestOp {
    RequestOp { request: Some(request) }
}

/// Reads the outcome of `compare ? write : get key` transactions.
fn outcome(response: TxnResponse) -> Guarded {
    let revision = response.header.map(|h| h.revision).unwrap_or(0);
    let first = response.responses.into_iter().next().and_then(|r| r.response);
    match (response.succeeded, first) {
        (true, Some(Response::ResponsePut(put))) => Guarded::Done { revision, prev: put.prev_kv },
        (true, Some(Response::ResponseDeleteRange(delete))) => {
            Guarded::Done { revision, prev: delete.prev_kvs.into_iter().next() }
        }
        (_, Some(Response::ResponseRange(range))) => Guarded::Conflict { current: range.kvs.into_iter().next() },
        _ => Guarded::Conflict { current: None },
    }
}

impl StoreClient {
    async fn guarded(&mut self, key: &Bytes, guard: Compare, write: Request) -> Result<Guarded, ClientError> {
        let get = Request::RequestRange(RangeRequest { key: key.clone(), ..Default::default() });
        let txn = TxnRequest { compare: vec![guard], success: vec![op(write)], failure: vec![op(get)] };
        Ok(outcome(self.kv.txn(txn).await?.into_inner()))
    }

    /// Writes `key` only if it does not exist.
    pub async fn create(
        &mut self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        lease: i64,
    ) -> Result<Guarded, ClientError> {
        let key = key.into();
        let guard = compare(&key, CompareTarget::Create, TargetUnion::CreateRevision(0));
        let put = PutRequest { key: key.clone(), value: value.into(), lease, ..Default::default() };
        self.guarded(&key, guard, Request::RequestPut(put)).await
    }

    /// Writes `key` only if its `mod_revision` is still `expected`.
    pub async fn update(
        &mut self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        expected: i64,
        lease: i64,
    ) -> Result<Guarded, ClientError> {
        let key = key.into();
        let guard = compare(&key, CompareTarget::Mod, TargetUnion::ModRevision(expected));
        let put = PutRequest { key: key.clone(), value: value.into(), lease, prev_kv: true, ..Default::default() };
        self.guarded(&key, guard, Request::RequestPut(put)).await
    }

    /// Deletes `key` only if its `mod_revision` is still `expected`. A key that is already gone
    /// is a conflict with no current version.
    pub async fn delete(&mut self, key: impl Into<Bytes>, expected: i64) -> Result<Guarded, ClientError> {
        let key = key.into();
        let guard = compare(&key, CompareTarget::Mod, TargetUnion::ModRevision(expected));
        let delete = DeleteRangeRequest { key: key.clone(), prev_kv: true, ..Default::default() };
        match self.guarded(&key, guard, Request::RequestDeleteRange(delete)).await? {
            Guarded::Done { prev: None, .. } => Ok(Guarded::Conflict { current: None }),
            other => Ok(other),
        }
    }

    /// Deletes `key` whatever its version; returns whether it existed.
    pub async fn remove(&mut self, key: impl Into<Bytes>) -> Result<bool, ClientError> {
        let request = DeleteRangeRequest { key: key.into(), ..Default::default() };
        Ok(self.kv.delete_range(request).await?.into_inner().deleted > 0)
    }

    /// The keys under `prefix` at `revision` (0: now), at most `limit` of them (0: all).
    pub async fn list(&mut self, prefix: &[u8], revision: i64, limit: i64) -> Result<Listed, ClientError> {
        let request = RangeRequest {
            key: Bytes::copy_from_slice(prefix),
            range_end: Bytes::from(prefix_end(prefix)),
            revision,
            limit,
            ..Default::default()
        };
        let response = self.kv.range(request).await?.into_inner();
        let header_revision = response.header.map(|h| h.revision).unwrap_or(0);
        // A read at a past revision reports the current one in its header; the list is as of
        // the revision asked for.
        let revision = if revision > 0 { revision } else { header_revision };
        Ok(Listed { kvs: response.kvs, revision, more: response.more })
    }
}
