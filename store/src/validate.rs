//! Checks made on a request before it reaches the committer.
//!
//! Mirrors etcd `server/etcdserver/api/v3rpc/key.go` (`checkRangeRequest`, `checkPutRequest`,
//! `checkDeleteRequest`, `checkTxnRequest`, `checkIntervals`): cheap, stateless checks whose
//! errors clients know by their exact message. Checks that need the data (does the lease exist,
//! does the key exist for `ignore_value`) happen when the request is applied (`apply.rs`).
//!
//! etcd accepts some odd requests without complaint, and so does Skiff: an inverted range is an
//! empty range, unknown sort orders and compare operators are tolerated (see `range.rs` and
//! `txn.rs`).

use std::collections::HashSet;

use bytes::Bytes;
use prost::Message;
use skiff_proto::etcdserverpb::{
    request_op::Request, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

use crate::error::StoreError;

/// The largest write request accepted, in bytes (etcd's `--max-request-bytes` default, 1.5 MiB).
pub const MAX_REQUEST_BYTES: usize = 1536 * 1024;

/// The gRPC layer accepts a little more than [`MAX_REQUEST_BYTES`] so that an oversized request
/// gets etcd's "request is too large" rather than a transport error, as in etcd.
pub const MAX_GRPC_MESSAGE_BYTES: usize = MAX_REQUEST_BYTES + 512 * 1024;

/// The most operations (compares, or ops of one branch) a txn may have (etcd's `--max-txn-ops`).
pub const MAX_TXN_OPS: usize = 128;

/// What etcd wraps a write in before measuring it: its raft request adds a header (a 2-byte
/// field tag, a length byte, a 64-bit request id as a varint of up to 10 bytes) plus the field
/// tag and length of the request itself. Counting it too puts Skiff's limit where etcd's is.
const RAFT_HEADER_BYTES: usize = 13;

/// Writes larger than [`MAX_REQUEST_BYTES`] are refused; reads are not checked, as in etcd.
pub fn check_size(request: &impl Message) -> Result<(), StoreError> {
    let len = request.encoded_len();
    let wrapped = RAFT_HEADER_BYTES + 1 + prost::length_delimiter_len(len) + len;
    if wrapped > MAX_REQUEST_BYTES {
        return Err(StoreError::RequestTooLarge);
    }
    Ok(())
}

pub fn check_range(r: &RangeRequest) -> Result<(), StoreError> {
    if r.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    Ok(())
}

pub fn check_put(r: &PutRequest) -> Result<(), StoreError> {
    if r.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    if r.ignore_value && !r.value.is_empty() {
        return Err(StoreError::ValueProvided);
    }
    if r.ignore_lease && r.lease != 0 {
        return Err(StoreError::LeaseProvided);
    }
    Ok(())
}

pub fn check_delete(r: &DeleteRangeRequest) -> Result<(), StoreError> {
    if r.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    Ok(())
}

/// The whole txn check: sizes and keys of every op (recursively), then no key written twice in
/// one branch.
pub fn check_txn(r: &TxnRequest) -> Result<(), StoreError> {
    check_txn_ops(r, MAX_TXN_OPS)?;
    check_intervals(&r.success)?;
    check_intervals(&r.failure)?;
    Ok(())
}

/// `checkTxnRequest`: the limit is on the largest of the three lists, not their sum; a nested
/// txn gets what its parent left.
fn check_txn_ops(r: &TxnRequest, max_ops: usize) -> Result<(), StoreError> {
    let ops = r.compare.len().max(r.success.len()).max(r.failure.len());
    if ops > max_ops {
        return Err(StoreError::TooManyOps);
    }
    if r.compare.iter().any(|c| c.key.is_empty()) {
        return Err(StoreError::EmptyKey);
    }
    for op in r.success.iter().chain(&r.failure) {
        match &op.request {
            Some(Request::RequestRange(r)) => check_range(r)?,
            Some(Request::RequestPut(r)) => check_put(r)?,
            Some(Request::RequestDeleteRange(r)) => check_delete(r)?,
            Some(Request::RequestTxn(r)) => check_txn_ops(r, max_ops - ops)?,
            // An op with nothing in it: etcd's answer is, oddly, "key not found".
            None => return Err(StoreError::KeyNotFound),
        }
    }
    Ok(())
}

/// A delete's span as etcd's duplicate check sees it: `[key, range_end)` compared as raw bytes,
/// or the single key. (etcd does not read `"\0"` as "to the end" here, so neither does Skiff.)
struct Span {
    start: Bytes,
    end: Option<Bytes>,
}

impl Span {
    fn covers(&self, key: &[u8]) -> bool {
        match &self.end {
            None => self.start.as_ref() == key,
            Some(end) => key >= self.start.as_ref() && key < end.as_ref(),
        }
    }
}

/// `checkIntervals`: within one branch, a key may be put once, and not put inside a range that
/// the same branch deletes; nested txns count, but the two branches of a nested txn may put the
/// same key (only one of them runs). Returns the keys put and the spans deleted.
fn check_intervals(ops: &[RequestOp]) -> Result<(HashSet<Bytes>, Vec<Span>), StoreError> {
    let mut deletes: Vec<Span> = ops
        .iter()
        .filter_map(|op| match &op.request {
            Some(Request::RequestDeleteRange(d)) => {
                Some(Span { start: d.key.clone(), end: (!d.range_end.is_empty()).then(|| d.range_end.clone()) })
            }
            _ => None,
        })
        .collect();
    let mut puts: HashSet<Bytes> = HashSet::new();
    for op in ops {
        let Some(Request::RequestTxn(nested)) = &op.request else { continue };
        let (puts_then, deletes_then) = check_intervals(&nested.success)?;
        let (puts_else, deletes_else) = check_intervals(&nested.failure)?;
        for key in &puts_then {
            if puts.contains(key) || deletes.iter().any(|d| d.covers(key)) {
                return Err(StoreError::DuplicateKey);
            }
        }
        for key in &puts_else {
            let clash = puts.contains(key) && !puts_then.contains(key);
            if clash || deletes.iter().any(|d| d.covers(key)) {
                return Err(StoreError::DuplicateKey);
            }
        }
        puts.extend(puts_then);
        puts.extend(puts_else);
        deletes.extend(deletes_then);
        deletes.extend(deletes_else);
    }
    for op in ops {
        let Some(Request::RequestPut(put)) = &op.request else { continue };
        if puts.contains(&put.key) || deletes.iter().any(|d| d.covers(&put.key)) {
            return Err(StoreError::DuplicateKey);
        }
        puts.insert(put.key.clone());
    }
    Ok((puts, deletes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_proto::etcdserverpb::Compare;

    fn put(key: &'static str) -> RequestOp {
        RequestOp { request: Some(Request::RequestPut(PutRequest { key: key.into(), ..Default::default() })) }
    }

    fn del(key: &'static str, end: &'static str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
                key: key.into(),
                range_end: end.into(),
                ..Default::default()
            })),
        }
    }

    fn get(key: &'static str) -> RequestOp {
        RequestOp { request: Some(Request::RequestRange(RangeRequest { key: key.into(), ..Default::default() })) }
    }

    fn txn(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
        TxnRequest { compare: vec![], success, failure }
    }

    fn nested(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> RequestOp {
        RequestOp { request: Some(Request::RequestTxn(txn(success, failure))) }
    }

    #[test]
    fn txn_checks_match_etcd() {
        let too_many: Vec<RequestOp> = (0..129).map(|_| get("k")).collect();
        let cases: Vec<(&str, TxnRequest, Option<&str>)> = vec![
            ("plain puts", txn(vec![put("a"), put("b")], vec![put("a")]), None),
            ("same key twice", txn(vec![put("a"), put("a")], vec![]), Some("duplicate")),
            ("put inside a deleted range", txn(vec![del("a", "c"), put("b")], vec![]), Some("duplicate")),
            ("put outside a deleted range", txn(vec![del("a", "c"), put("c")], vec![]), None),
            ("put of a deleted key", txn(vec![del("a", ""), put("a")], vec![]), Some("duplicate")),
            ("overlapping deletes are fine", txn(vec![del("a", "c"), del("b", "d")], vec![]), None),
            ("delete to the end is not seen as a range", txn(vec![del("a", "\0"), put("b")], vec![]), None),
            ("nested branches may share a key", txn(vec![nested(vec![put("a")], vec![put("a")])], vec![]), None),
            (
                "nested put clashes with outer put",
                txn(vec![nested(vec![put("a")], vec![]), put("a")], vec![]),
                Some("duplicate"),
            ),
            (
                "nested put inside outer delete",
                txn(vec![del("a", "z"), nested(vec![], vec![put("b")])], vec![]),
                Some("duplicate"),
            ),
            ("129 ops", txn(too_many, vec![]), Some("too many")),
            ("an empty op", txn(vec![RequestOp { request: None }], vec![]), Some("key not found")),
            ("an op with no key", txn(vec![put("")], vec![]), Some("not provided")),
        ];
        for (name, request, want) in cases {
            let got = check_txn(&request).err().map(|e| e.to_string());
            match (got, want) {
                (None, None) => {}
                (Some(got), Some(want)) => assert!(got.contains(want), "{name}: {got}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_compare_needs_a_key() {
        let request = TxnRequest { compare: vec![Compare::default()], ..Default::default() };
        assert!(matches!(check_txn(&request), Err(StoreError::EmptyKey)));
    }

    #[test]
    fn put_checks() {
        let base = PutRequest { key: "k".into(), ..Default::default() };
        let cases = [
            ("plain put", base.clone(), None),
            ("no key", PutRequest { key: Bytes::new(), ..base.clone() }, Some("key is not provided")),
            (
                "ignore_value with a value",
                PutRequest { ignore_value: true, value: "v".into(), ..base.clone() },
                Some("value is provided"),
            ),
            (
                "ignore_lease with a lease",
                PutRequest { ignore_lease: true, lease: 5, ..base.clone() },
                Some("lease is provided"),
            ),
        ];
        for (name, request, want) in cases {
            let got = check_put(&request).err().map(|e| e.to_string());
            assert_eq!(got.is_some(), want.is_some(), "{name}");
            if let (Some(got), Some(want)) = (got, want) {
                assert!(got.contains(want), "{name}: {got}");
            }
        }
    }

    #[test]
    fn oversized_writes_are_refused() {
        let big = PutRequest { key: "k".into(), value: vec![0u8; MAX_REQUEST_BYTES].into(), ..Default::default() };
        assert!(matches!(check_size(&big), Err(StoreError::RequestTooLarge)));
        let small = PutRequest { key: "k".into(), value: vec![0u8; 1024].into(), ..Default::default() };
        assert!(check_size(&small).is_ok());
    }
}
