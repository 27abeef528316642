//! The store's model, driven in process through its library API: revisions, transactions,
//! compaction, watch replay and slow watchers, lease expiry under paused time.

use std::time::Duration;

use bytes::Bytes;
use skiff_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    request_op::Request,
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchResponse,
};
use skiff_proto::mvccpb::event::EventType;
use skiff_store::key_range::KeyRange;
use skiff_store::watch::{WatchSpec, Watcher};
use skiff_store::{Store, StoreError, StoreOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn open(dir: &tempfile::TempDir) -> Store {
    open_with_log(dir, skiff_store::wal::WAL_BYTES)
}

fn open_with_log(dir: &tempfile::TempDir, log_bytes: u64) -> Store {
    Store::open(&StoreOptions { data_dir: dir.path().to_path_buf(), cache_bytes: 8 << 20, log_bytes }).unwrap()
}

fn put(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: Bytes::copy_from_slice(key.as_bytes()),
        value: Bytes::copy_from_slice(value.as_bytes()),
        ..Default::default()
    }
}

fn put_op(key: &str, value: &str) -> RequestOp {
    RequestOp { request: Some(Request::RequestPut(put(key, value))) }
}

fn get(store: &Store, key: &str, revision: i64) -> Result<Option<(String, i64, i64, i64)>, StoreError> {
    let req = RangeRequest { key: Bytes::copy_from_slice(key.as_bytes()), revision, ..Default::default() };
    Ok(store
        .range(&req)?
        .kvs
        .into_iter()
        .next()
        .map(|kv| (String::from_utf8(kv.value.to_vec()).unwrap(), kv.create_revision, kv.mod_revision, kv.version)))
}

fn watcher(
    keys: KeyRange,
    start: i64,
    capacity: usize,
) -> (Watcher, mpsc::Receiver<Result<WatchResponse, tonic::Status>>) {
    let (tx, rx) = mpsc::channel(capacity);
    let spec = WatchSpec {
        watch_id: 7,
        keys,
        no_put: false,
        no_delete: false,
        prev_kv: true,
        progress_notify: false,
        fragment: false,
    };
    (Watcher::new(spec, start, tx, CancellationToken::new()), rx)
}

/// Collects `(revision, key, is_put)` of events until `count` have arrived.
async fn collect(
    rx: &mut mpsc::Receiver<Result<WatchResponse, tonic::Status>>,
    count: usize,
) -> Vec<(i64, String, bool)> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let response = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("events arrive")
            .expect("the channel stays open")
            .unwrap();
        for e in response.events {
            let kv = e.kv.unwrap();
            seen.push((
                kv.mod_revision,
                String::from_utf8(kv.key.to_vec()).unwrap(),
                e.r#type == EventType::Put as i32,
            ));
        }
    }
    seen
}

#[tokio::test]
async fn every_transaction_takes_one_revision_and_only_changes_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(store.current_revision(), 1, "a new store is at revision 1, as etcd");

    let first = store.put(put("a", "1")).await.unwrap();
    assert_eq!(first.header.unwrap().revision, 2, "the first write gets revision 2");

    let txn = TxnRequest {
        compare: vec![],
        success: vec![put_op("b", "1"), put_op("c", "1"), put_op("a", "2")],
        failure: vec![],
    };
    let resp = store.txn(txn).await.unwrap();
    assert_eq!(resp.header.unwrap().revision, 3, "three puts, one revision");
    assert_eq!(get(&store, "a", 0).unwrap(), Some(("2".into(), 2, 3, 2)), "a: created at 2, modified at 3, version 2");
    assert_eq!(get(&store, "b", 0).unwrap(), Some(("1".into(), 3, 3, 1)));

    let nothing = DeleteRangeRequest { key: "zzz".into(), ..Default::default() };
    let resp = store.delete_range(nothing).await.unwrap();
    assert_eq!((resp.deleted, resp.header.unwrap().revision), (0, 3), "deleting nothing takes no revision");

    let reads = TxnRequest {
        compare: vec![],
        success: vec![RequestOp {
            request: Some(Request::RequestRange(RangeRequest { key: "a".into(), ..Default::default() })),
        }],
        failure: vec![],
    };
    assert_eq!(store.txn(reads).await.unwrap().header.unwrap().revision, 3, "a read-only txn takes no revision");

    let delete = DeleteRangeRequest { key: "a".into(), range_end: "z".into(), prev_kv: true };
    let resp = store.delete_range(delete).await.unwrap();
    assert_eq!((resp.deleted, resp.header.unwrap().revision, resp.prev_kvs.len()), (3, 4, 3));
    store.put(put("a", "3")).await.unwrap();
    assert_eq!(get(&store, "a", 0).unwrap(), Some(("3".into(), 5, 5, 1)), "a deleted key starts a new life");
    assert_eq!(get(&store, "a", 3).unwrap(), Some(("2".into(), 2, 3, 2)), "history is still readable");
    assert_eq!(get(&store, "a", 4).unwrap(), None);
    store.close();
}

#[tokio::test]
async fn txn_compares_choose_the_branch_and_reads_see_earlier_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // Create-if-absent, the way Kubernetes creates objects.
    let create = |value: &str| TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal as i32,
            target: CompareTarget::Create as i32,
            key: "obj".into(),
            target_union: Some(TargetUnion::CreateRevision(0)),
            range_end: Bytes::new(),
        }],
        success: vec![
            put_op("obj", value),
            RequestOp {
                request: Some(Request::RequestRange(RangeRequest { key: "obj".into(), ..Default::default() })),
            },
        ],
        failure: vec![RequestOp {
            request: Some(Request::RequestRange(RangeRequest { key: "obj".into(), ..Default::default() })),
        }],
    };
    let first = store.txn(create("v1")).await.unwrap();
    assert!(first.succeeded);
    let Some(skiff_proto::etcdserverpb::response_op::Response::ResponseRange(read)) = &first.responses[1].response
    else {
        panic!("a range response")
    };
    assert_eq!(read.kvs[0].value, "v1", "a read after a put in the same txn sees it");
    assert_eq!(read.header.as_ref().unwrap().revision, 2);

    let second = store.txn(create("v2")).await.unwrap();
    assert!(!second.succeeded, "the object exists now");
    assert_eq!(get(&store, "obj", 0).unwrap().unwrap().0, "v1");

    let unknown_lease = TxnRequest {
        compare: vec![],
        success: vec![
            put_op("x", "1"),
            RequestOp { request: Some(Request::RequestPut(PutRequest { lease: 99, ..put("y", "1") })) },
        ],
        failure: vec![],
    };
    assert!(matches!(store.txn(unknown_lease).await, Err(StoreError::LeaseNotFound)));
    assert_eq!(get(&store, "x", 0).unwrap(), None, "a failed txn writes nothing");
    store.close();
}

#[tokio::test]
async fn compaction_keeps_reads_at_and_after_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for i in 0..5 {
        store.put(put("k", &i.to_string())).await.unwrap(); // revisions 2..=6
    }
    assert!(matches!(store.compact(100).await, Err(StoreError::FutureRevision)));
    store.compact(4).await.unwrap();
    assert!(matches!(store.compact(4).await, Err(StoreError::Compacted)), "compacting twice is refused");
    assert!(matches!(get(&store, "k", 3), Err(StoreError::Compacted)));
    assert_eq!(get(&store, "k", 4).unwrap().unwrap().0, "2", "the mark itself is readable");
    assert_eq!(get(&store, "k", 0).unwrap().unwrap().0, "4");
    store.close();

    // The mark and what it removed survive a restart.
    let store = open(&dir);
    assert_eq!(store.compacted_revision(), 4);
    assert_eq!(store.current_revision(), 6);
    assert!(matches!(get(&store, "k", 3), Err(StoreError::Compacted)));
    assert_eq!(get(&store, "k", 5).unwrap().unwrap().0, "3");
    store.close();
}

#[tokio::test]
async fn a_watch_replays_history_then_goes_live() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.put(put("w/a", "1")).await.unwrap(); // 2
    store.put(put("other", "1")).await.unwrap(); // 3
    store.delete_range(DeleteRangeRequest { key: "w/a".into(), ..Default::default() }).await.unwrap(); // 4

    let (w, mut rx) = watcher(KeyRange::new("w/".into(), "w0".into()), 2, 16);
    store.shared().hub.add(store.shared(), w);
    store.put(put("w/b", "1")).await.unwrap(); // 5, live
    let events = collect(&mut rx, 3).await;
    assert_eq!(
        events,
        vec![(2, "w/a".into(), true), (4, "w/a".into(), false), (5, "w/b".into(), true)],
        "history in order, then live, nothing from other keys"
    );
    store.close();
}

#[tokio::test]
async fn a_slow_watcher_misses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // A channel of one response: the watcher falls behind at once and must catch up from disk.
    let (w, mut rx) = watcher(KeyRange::From("\0".into()), store.current_revision() + 1, 1);
    store.shared().hub.add(store.shared(), w);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                store.put(put(&format!("k{}", i % 7), &i.to_string())).await.unwrap();
            }
        })
    };
    let mut events = Vec::new();
    while events.len() < 200 {
        events.extend(collect(&mut rx, 1).await);
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let revisions: Vec<i64> = events.iter().map(|e| e.0).collect();
    assert_eq!(revisions, (2..202).collect::<Vec<_>>(), "every revision once, in order");
    store.close();
}

#[tokio::test]
async fn a_watch_from_compacted_history_is_canceled_with_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for i in 0..4 {
        store.put(put("k", &i.to_string())).await.unwrap(); // 2..=5
    }
    store.compact(4).await.unwrap();
    let (w, mut rx) = watcher(KeyRange::Single("k".into()), 3, 16);
    store.shared().hub.add(store.shared(), w);
    let response = rx.recv().await.unwrap().unwrap();
    assert!(response.canceled);
    assert_eq!(response.compact_revision, 4);
    assert!(response.events.is_empty());

    let (w, mut rx) = watcher(KeyRange::Single("k".into()), 4, 16);
    store.shared().hub.add(store.shared(), w);
    let events = collect(&mut rx, 2).await;
    assert_eq!(events.iter().map(|e| e.0).collect::<Vec<_>>(), vec![4, 5], "from the mark itself is fine");
    store.close();
}

#[tokio::test]
async fn expired_leases_take_their_keys_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (lease, ttl, _) = store.lease_grant(0, 5).await.unwrap();
    assert_eq!(ttl, 5);
    store.put(PutRequest { lease, ..put("session/a", "1") }).await.unwrap();
    store.put(PutRequest { lease, ..put("session/b", "1") }).await.unwrap();
    store.put(put("session/keep", "1")).await.unwrap();
    let (w, mut rx) = watcher(KeyRange::new("session/".into(), "session0".into()), store.current_revision() + 1, 16);
    store.shared().hub.add(store.shared(), w);

    // From here on the clock only moves when the test says so (or when every task is idle).
    tokio::time::pause();
    let stop = CancellationToken::new();
    let expiry = tokio::spawn(skiff_store::lease_expiry::expiry_loop(store.clone(), stop.clone()));
    tokio::time::advance(Duration::from_secs(4)).await;
    assert!(get(&store, "session/a", 0).unwrap().is_some(), "4 s into a 5 s lease");
    let (left, granted, keys) = store.lease_time_to_live(lease).unwrap();
    assert!(left <= 1 && granted == 5 && keys.len() == 2, "{left} s left of {granted}, {} keys", keys.len());

    tokio::time::advance(Duration::from_secs(2)).await;
    // The revoke is a real disk write on another thread: let the clock run again while it
    // happens, or the idle runtime would jump straight to `collect`'s time-out.
    tokio::time::resume();
    let events = collect(&mut rx, 2).await;
    assert_eq!(
        events,
        vec![(5, "session/a".into(), false), (5, "session/b".into(), false)],
        "both keys deleted in one revision, in key order"
    );
    assert!(get(&store, "session/a", 0).unwrap().is_none());
    assert!(get(&store, "session/keep", 0).unwrap().is_some(), "keys without the lease stay");
    assert!(store.lease_time_to_live(lease).is_none());
    assert!(matches!(store.lease_keep_alive(lease), Err(StoreError::LeaseNotFound)));
    stop.cancel();
    expiry.await.unwrap();
    store.close();
}

#[tokio::test]
async fn keep_alives_hold_a_lease_and_restarts_refresh_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (lease, _, _) = store.lease_grant(0, 3).await.unwrap();
    store.put(PutRequest { lease, ..put("held", "1") }).await.unwrap();
    tokio::time::pause();
    let stop = CancellationToken::new();
    let expiry = tokio::spawn(skiff_store::lease_expiry::expiry_loop(store.clone(), stop.clone()));
    for _ in 0..5 {
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(store.lease_keep_alive(lease).unwrap(), 3);
    }
    assert!(get(&store, "held", 0).unwrap().is_some(), "10 s of keep-alives on a 3 s lease");
    tokio::time::resume();
    stop.cancel();
    expiry.await.unwrap();
    store.close();

    let store = open(&dir);
    let (left, granted, keys) = store.lease_time_to_live(lease).expect("the lease survives a restart");
    assert_eq!((granted, keys.len()), (3, 1));
    assert!(left >= 2, "a restart gives the lease its full TTL again");
    store.close();
}

#[tokio::test]
async fn quiet_watchers_that_asked_get_progress_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.put(put("p", "1")).await.unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let spec = |watch_id, progress_notify| WatchSpec {
        watch_id,
        keys: KeyRange::Single("p".into()),
        no_put: false,
        no_delete: false,
        prev_kv: false,
        progress_notify,
        fragment: false,
    };
    let next = store.current_revision() + 1;
    store.shared().hub.add(store.shared(), Watcher::new(spec(1, true), next, tx.clone(), CancellationToken::new()));
    store.shared().hub.add(store.shared(), Watcher::new(spec(2, false), next, tx, CancellationToken::new()));

    tokio::time::pause();
    let stop = CancellationToken::new();
    let ticker =
        tokio::spawn(skiff_store::watch::progress_loop(store.shared().clone(), Duration::from_secs(600), stop.clone()));
    tokio::task::yield_now().await; // let the loop start its clock
    tokio::time::advance(Duration::from_secs(599)).await;
    assert!(rx.try_recv().is_err(), "nothing before the interval");
    tokio::time::advance(Duration::from_secs(2)).await;
    tokio::task::yield_now().await;
    let progress = rx.try_recv().expect("a progress notification after one interval").unwrap();
    assert_eq!((progress.watch_id, progress.events.len()), (1, 0), "only the watcher that asked");
    assert_eq!(progress.header.unwrap().revision, 2, "it carries the current revision");
    assert!(rx.try_recv().is_err(), "nothing for the other watcher");
    stop.cancel();
    ticker.await.unwrap();
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_each_get_their_own_revision_and_close_finishes_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // 64 writers at once: one of them leads each group, the others wait in the queue; every
    // write must be answered, once, with a revision of its own.
    let writers: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.put(put(&format!("c/{i}"), "v")).await.unwrap().header.unwrap().revision })
        })
        .collect();
    let mut revisions = Vec::new();
    for writer in writers {
        revisions.push(writer.await.unwrap());
    }
    revisions.sort();
    assert_eq!(revisions, (2..66).collect::<Vec<_>>(), "64 writes, 64 distinct revisions, no gap");
    assert_eq!(store.current_revision(), 65);

    // A write after close is refused; what was acknowledged is there after reopening.
    let late = store.clone();
    store.close();
    assert!(matches!(late.put(put("late", "v")).await, Err(StoreError::Stopped)));
    drop(late);
    let store = open(&dir);
    for i in 0..64 {
        assert!(get(&store, &format!("c/{i}"), 0).unwrap().is_some(), "c/{i} survived the restart");
    }
    assert_eq!(store.current_revision(), 65, "every acknowledged write survived the restart");
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_swap_writers_lose_no_increment_across_groups_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    // A 16 KiB log fills every few dozen groups, so the committer checkpoints again and again
    // while the writers race.
    let store = open_with_log(&dir, 16 << 10);
    store.put(put("counter", "0")).await.unwrap();
    const WRITERS: usize = 16;
    const EACH: usize = 40;
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while seen.len() < EACH {
                    let current: usize = get(&store, "counter", 0).unwrap().unwrap().0.parse().unwrap();
                    // The compare reads the value, and the put asks for the previous one: from
                    // the same group or from sled, whether or not a checkpoint just emptied the
                    // log.
                    let mut swap = put("counter", &(current + 1).to_string());
                    swap.prev_kv = true;
                    let txn = TxnRequest {
                        compare: vec![Compare {
                            key: Bytes::from_static(b"counter"),
                            target: CompareTarget::Value as i32,
                            result: CompareResult::Equal as i32,
                            target_union: Some(TargetUnion::Value(Bytes::from(current.to_string()))),
                            ..Default::default()
                        }],
                        success: vec![RequestOp { request: Some(Request::RequestPut(swap)) }],
                        ..Default::default()
                    };
                    let answer = store.txn(txn).await.unwrap();
                    if !answer.succeeded {
                        continue;
                    }
                    let Some(skiff_proto::etcdserverpb::response_op::Response::ResponsePut(swapped)) =
                        &answer.responses[0].response
                    else {
                        panic!("the success branch is one put");
                    };
                    let prev: usize =
                        std::str::from_utf8(&swapped.prev_kv.as_ref().unwrap().value).unwrap().parse().unwrap();
                    assert_eq!(prev, current, "the previous value is the one the compare matched");
                    // Acknowledged means published: a read now sees this write or a later one.
                    let now: usize = get(&store, "counter", 0).unwrap().unwrap().0.parse().unwrap();
                    assert!(now > current, "read {now} after writing {}", current + 1);
                    seen.push(prev);
                }
                seen
            })
        })
        .collect();
    let mut predecessors = Vec::new();
    for writer in writers {
        predecessors.extend(writer.await.unwrap());
    }
    predecessors.sort();
    assert_eq!(predecessors, (0..WRITERS * EACH).collect::<Vec<_>>(), "every increment saw a value of its own");
    store.close();
    let store = open_with_log(&dir, 16 << 10);
    assert_eq!(get(&store, "counter", 0).unwrap().unwrap().0, (WRITERS * EACH).to_string());
    store.close();
}
