//! skiff-store against a real etcd: the same requests, byte for byte the same answers.
//!
//! A script of requests, many of them odd on purpose (inverted ranges, unknown compare targets,
//! duplicate keys in a txn, compacted revisions, unknown leases, oversized values), is run against
//! a real etcd (Debian's etcd 3.4) and against skiff-store, through the same gRPC client. Every
//! response, or error code and message, must be the same once the ids that differ by nature
//! (cluster, member, raft term) are blanked. All differences are reported at once.

mod common;

use std::fmt::Debug;
use std::time::Duration;

use bytes::Bytes;
use common::{EtcdProcess, StoreProcess};
use skiff_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    request_op::Request,
    response_op::Response,
    watch_request::RequestUnion,
    CompactionRequest, Compare, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest,
    PutRequest, RangeRequest, RequestOp, ResponseHeader, TxnRequest, TxnResponse, WatchCancelRequest,
    WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
};
use skiff_store::client::StoreClient;
use tokio::sync::mpsc;
use tokio_stream::{wrappers::ReceiverStream, StreamExt};

/// Blanks what differs between two servers by nature.
fn blank(header: &mut Option<ResponseHeader>) {
    if let Some(h) = header {
        h.cluster_id = 0;
        h.member_id = 0;
        h.raft_term = 0;
    }
}

fn blank_txn(txn: &mut TxnResponse) {
    blank(&mut txn.header);
    for op in &mut txn.responses {
        match &mut op.response {
            Some(Response::ResponseRange(r)) => blank(&mut r.header),
            Some(Response::ResponsePut(r)) => blank(&mut r.header),
            Some(Response::ResponseDeleteRange(r)) => blank(&mut r.header),
            Some(Response::ResponseTxn(t)) => blank_txn(t),
            None => {}
        }
    }
}

fn show<T: Debug>(result: Result<tonic::Response<T>, tonic::Status>, clean: impl FnOnce(&mut T)) -> String {
    match result {
        Ok(response) => {
            let mut body = response.into_inner();
            clean(&mut body);
            format!("{body:?}")
        }
        Err(status) => format!("error {:?}: {}", status.code(), status.message()),
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn put(key: &str, value: &str) -> PutRequest {
    PutRequest { key: b(key), value: b(value), ..Default::default() }
}

fn range(key: &str, end: &str) -> RangeRequest {
    RangeRequest { key: b(key), range_end: b(end), ..Default::default() }
}

fn op(request: Request) -> RequestOp {
    RequestOp { request: Some(request) }
}

fn compare(key: &str, target: i32, result: i32, union: Option<TargetUnion>) -> Compare {
    Compare { result, target, key: b(key), target_union: union, range_end: Bytes::new() }
}

fn txn(compare: Vec<Compare>, success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
    TxnRequest { compare, success, failure }
}

/// Runs the unary part of the script; returns `(step, outcome)` pairs.
async fn unary_script(c: &mut StoreClient) -> Vec<(String, String)> {
    let mut out = Vec::new();
    macro_rules! step {
        ($name:expr, kv $method:ident $req:expr) => {{
            let result = c.kv.$method($req).await;
            out.push(($name.to_string(), show(result, |r| blank(&mut r.header))));
        }};
        ($name:expr, txn $req:expr) => {{
            let result = c.kv.txn($req).await;
            out.push(($name.to_string(), show(result, blank_txn)));
        }};
        ($name:expr, lease $method:ident $req:expr) => {{
            let result = c.lease.$method($req).await;
            out.push(($name.to_string(), show(result, |r| blank(&mut r.header))));
        }};
    }
    use CompareResult as R;
    use CompareTarget as T;

    step!("first put", kv put put("a", "1"));
    step!("put with prev_kv", kv put PutRequest { prev_kv: true, ..put("a", "2") });
    step!("put b", kv put put("b", "x"));
    step!("put c", kv put put("c", "y"));
    step!("put d", kv put put("d", "a"));
    step!("get one key", kv range range("a", ""));
    step!("get a range", kv range range("a", "c"));
    step!("get everything", kv range range("\0", "\0"));
    step!("get from a key on", kv range range("b", "\0"));
    step!("inverted range", kv range range("z", "a"));
    step!("range end equal to key", kv range range("a", "a"));
    step!("limit", kv range RangeRequest { limit: 2, ..range("a", "z") });
    step!("sort by value descending", kv range RangeRequest { sort_order: 2, sort_target: 4, ..range("a", "z") });
    step!("sort target with order none", kv range RangeRequest { sort_target: 3, ..range("a", "z") });
    step!("sort by key descending with limit", kv range RangeRequest { sort_order: 2, limit: 2, ..range("a", "z") });
    step!("count only", kv range RangeRequest { count_only: true, ..range("a", "z") });
    step!("keys only", kv range RangeRequest { keys_only: true, ..range("a", "z") });
    step!("mod revision filter", kv range RangeRequest { min_mod_revision: 4, ..range("a", "z") });
    step!("create revision filter", kv range RangeRequest { max_create_revision: 3, ..range("a", "z") });
    step!("past revision", kv range RangeRequest { revision: 2, ..range("a", "z") });
    step!("future revision", kv range RangeRequest { revision: 1000, ..range("a", "") });
    step!("empty key", kv range range("", ""));
    step!("delete an inverted range", kv delete_range DeleteRangeRequest { key: b("z"), range_end: b("a"), ..Default::default() });
    step!("delete a missing key", kv delete_range DeleteRangeRequest { key: b("nope"), ..Default::default() });
    step!("delete with prev_kv", kv delete_range DeleteRangeRequest { key: b("d"), prev_kv: true, ..Default::default() });

    step!(
        "create if absent",
        txn txn(
            vec![compare("new", T::Create as i32, R::Equal as i32, Some(TargetUnion::CreateRevision(0)))],
            vec![op(Request::RequestPut(put("new", "1"))), op(Request::RequestRange(range("new", "")))],
            vec![],
        )
    );
    step!(
        "value compare on a missing key fails even for !=",
        txn txn(
            vec![compare("missing", T::Value as i32, R::NotEqual as i32, Some(TargetUnion::Value(b("x"))))],
            vec![op(Request::RequestPut(put("never", "1")))],
            vec![op(Request::RequestRange(range("a", "")))],
        )
    );
    step!(
        "unknown compare target",
        txn txn(vec![compare("a", 42, R::Equal as i32, None)], vec![op(Request::RequestRange(range("a", "")))], vec![])
    );
    step!(
        "unknown compare result",
        txn txn(vec![compare("a", T::Version as i32, 42, Some(TargetUnion::Version(99)))], vec![], vec![])
    );
    step!(
        "compare over a range",
        txn txn(
            vec![Compare { range_end: b("c"), ..compare("a", T::Mod as i32, R::Greater as i32, Some(TargetUnion::ModRevision(1))) }],
            vec![op(Request::RequestDeleteRange(DeleteRangeRequest { key: b("b"), ..Default::default() }))],
            vec![],
        )
    );
    step!(
        "nested txn, reads after writes",
        txn txn(
            vec![],
            vec![
                op(Request::RequestPut(put("n0", "0"))),
                op(Request::RequestTxn(txn(
                    vec![compare("n0", T::Version as i32, R::Equal as i32, Some(TargetUnion::Version(0)))],
                    vec![op(Request::RequestPut(put("n1", "1")))],
                    vec![op(Request::RequestPut(put("n2", "2")))],
                ))),
                op(Request::RequestRange(range("n", "o"))),
                op(Request::RequestDeleteRange(DeleteRangeRequest { key: b("zz"), ..Default::default() })),
            ],
            vec![],
        )
    );
    step!(
        "duplicate key",
        txn txn(vec![], vec![op(Request::RequestPut(put("k", "1"))), op(Request::RequestPut(put("k", "2")))], vec![])
    );
    step!(
        "put inside a deleted range",
        txn txn(
            vec![],
            vec![
                op(Request::RequestDeleteRange(DeleteRangeRequest { key: b("a"), range_end: b("c"), ..Default::default() })),
                op(Request::RequestPut(put("b", "2"))),
            ],
            vec![],
        )
    );
    step!("too many ops", txn txn(vec![], (0..129).map(|_| op(Request::RequestRange(range("a", "")))).collect(), vec![]));
    step!("an empty op", txn txn(vec![], vec![RequestOp { request: None }], vec![]));
    step!("a txn with an unknown lease", txn txn(vec![], vec![op(Request::RequestPut(PutRequest { lease: 77, ..put("l", "1") }))], vec![]));
    step!("a txn reading a future revision", txn txn(vec![], vec![op(Request::RequestRange(RangeRequest { revision: 999, ..range("a", "") }))], vec![]));

    step!("ignore_value on a missing key", kv put PutRequest { ignore_value: true, ..put("ghost", "") });
    step!("ignore_value with a value", kv put PutRequest { ignore_value: true, ..put("a", "v") });
    step!("ignore_lease with a lease", kv put PutRequest { ignore_lease: true, lease: 5, ..put("a", "") });
    step!("an unknown lease", kv put PutRequest { lease: 5, ..put("a", "v") });
    step!("ignore_value keeps the value", kv put PutRequest { ignore_value: true, prev_kv: true, ..put("a", "") });
    step!("an empty key", kv put put("", "v"));
    step!("an oversized value", kv put put("big", &"x".repeat(1_600_000)));
    // etcd measures a write wrapped in its raft request, a few bytes more than the request.
    for len in [1_572_820, 1_572_830, 1_572_840, 1_572_850] {
        step!(format!("a value of {len} bytes"), kv put put("big", &"x".repeat(len)));
    }

    step!("grant below the minimum TTL", lease lease_grant LeaseGrantRequest { ttl: 1, id: 0x1234 });
    step!("grant an existing id", lease lease_grant LeaseGrantRequest { ttl: 100, id: 0x1234 });
    step!("grant a TTL too large", lease lease_grant LeaseGrantRequest { ttl: 9_000_000_001, id: 0x99 });
    step!("grant a long lease", lease lease_grant LeaseGrantRequest { ttl: 300, id: 0x4321 });
    step!("put with a lease", kv put PutRequest { lease: 0x4321, ..put("leased/1", "v") });
    step!("put another with a lease", kv put PutRequest { lease: 0x4321, ..put("leased/2", "v") });
    step!("time to live of an unknown lease", lease lease_time_to_live LeaseTimeToLiveRequest { id: 0x777, keys: true });
    step!("revoke an unknown lease", lease lease_revoke LeaseRevokeRequest { id: 0x777 });
    step!("revoke deletes the keys", lease lease_revoke LeaseRevokeRequest { id: 0x4321 });
    step!("the leased keys are gone", kv range range("leased/", "leased0"));

    step!("compact the future", kv compact CompactionRequest { revision: 1000, physical: true });
    step!("compact", kv compact CompactionRequest { revision: 5, physical: true });
    step!("compact again", kv compact CompactionRequest { revision: 5, physical: true });
    step!("compact below", kv compact CompactionRequest { revision: 3, physical: true });
    step!("read below the compaction", kv range RangeRequest { revision: 4, ..range("a", "z") });
    step!("read at the compaction", kv range RangeRequest { revision: 5, ..range("a", "z") });
    out
}

/// Opens a watch stream with its first request; returns the request sender and the responses.
/// (etcd sends the response headers only with its first response, so the call would not
/// return before a request is on its way.)
async fn watch_stream(
    c: &mut StoreClient,
    first: WatchRequest,
) -> (mpsc::Sender<WatchRequest>, tonic::Streaming<WatchResponse>) {
    let (tx, rx) = mpsc::channel(8);
    tx.send(first).await.unwrap();
    let responses = c.watch.watch(ReceiverStream::new(rx)).await.unwrap().into_inner();
    (tx, responses)
}

/// The next `n` responses of a watch stream, blanked.
async fn next(responses: &mut tonic::Streaming<WatchResponse>, n: usize) -> String {
    let mut seen = Vec::new();
    for _ in 0..n {
        match tokio::time::timeout(Duration::from_secs(5), responses.next()).await {
            Ok(Some(Ok(mut r))) => {
                blank(&mut r.header);
                seen.push(format!("{r:?}"));
            }
            other => seen.push(format!("no response: {other:?}")),
        }
    }
    seen.join("\n")
}

fn create(key: &str, end: &str, start: i64) -> WatchRequest {
    WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: b(key),
            range_end: b(end),
            start_revision: start,
            prev_kv: true,
            ..Default::default()
        })),
    }
}

async fn watch_script(c: &mut StoreClient) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (tx, mut responses) = watch_stream(c, create("a", "z", 5)).await;
    out.push(("watch from the compaction mark: created, then history".into(), next(&mut responses, 2).await));

    tx.send(create("a", "z", 2)).await.unwrap();
    out.push(("watch below the compaction mark".into(), next(&mut responses, 2).await));

    tx.send(create("z", "a", 0)).await.unwrap();
    out.push(("watch an inverted range".into(), next(&mut responses, 1).await));

    // Outside [a, z), so that only this watch sees these events.
    tx.send(create("zlive", "", 0)).await.unwrap();
    out.push(("watch live".into(), next(&mut responses, 1).await));
    c.kv.put(put("zlive", "1")).await.unwrap();
    c.kv.put(put("zlive", "2")).await.unwrap();
    c.kv.delete_range(DeleteRangeRequest { key: b("zlive"), ..Default::default() }).await.unwrap();
    out.push(("live events, one response per revision".into(), next(&mut responses, 3).await));

    let cancel =
        |watch_id| WatchRequest { request_union: Some(RequestUnion::CancelRequest(WatchCancelRequest { watch_id })) };
    let progress = WatchRequest { request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})) };
    tx.send(cancel(0)).await.unwrap();
    out.push(("cancel".into(), next(&mut responses, 1).await));
    // Canceling an unknown watch is ignored: the next response is the progress one.
    tx.send(cancel(42)).await.unwrap();
    tx.send(progress).await.unwrap();
    out.push(("cancel an unknown watch, then ask for progress".into(), next(&mut responses, 1).await));
    out
}

async fn run_script(url: String) -> Vec<(String, String)> {
    let mut client = StoreClient::connect(&[url]).await.unwrap();
    let mut out = unary_script(&mut client).await;
    out.extend(watch_script(&mut client).await);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skiff_store_answers_like_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = EtcdProcess::start();
    let store = StoreProcess::start(&dir.path().join("data"), &[]);

    let expected = run_script(etcd.url()).await;
    let got = run_script(store.url()).await;

    assert_eq!(expected.len(), got.len());
    let mut differences = Vec::new();
    for ((step, want), (_, have)) in expected.iter().zip(&got) {
        if want != have {
            differences.push(format!("== {step}\n   etcd:  {want}\n   skiff: {have}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} steps differ from etcd:\n{}",
        differences.len(),
        expected.len(),
        differences.join("\n")
    );
}
