//! The durability promise: a write acknowledged by skiff-store survives `kill -9` at any moment.
//!
//! Writers (plain puts and two-key transactions) run against the real binary; the store is
//! killed with SIGKILL at a random moment while they write; it is restarted on the same data
//! directory. Then every acknowledged write must be there with its value, every transaction must
//! be all there or not at all (acknowledged or not), and revisions must keep increasing.
//! Three rounds, so that recovery itself is recovered from.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::StoreProcess;
use parking_lot::Mutex;
use skiff_proto::etcdserverpb::{request_op::Request, PutRequest, RangeRequest, RequestOp, TxnRequest};
use skiff_store::client::{prefix_end, StoreClient};

const PUT_WRITERS: usize = 6;
const TXN_WRITERS: usize = 2;

/// What the writers were told is durable.
#[derive(Default, Clone)]
struct Acknowledged {
    /// key → value
    puts: BTreeMap<String, String>,
    /// keys of transactions: `a/<id>` and `b/<id>` were written together
    txns: BTreeSet<String>,
    max_revision: i64,
}

async fn connect(store: &StoreProcess) -> StoreClient {
    StoreClient::connect(&[store.url()]).await.expect("connects to the store")
}

async fn put_writer(store: String, round: usize, writer: usize, acked: Arc<Mutex<Acknowledged>>) {
    let mut client = StoreClient::connect(&[store]).await.unwrap();
    let mut last = 0;
    for seq in 0.. {
        let key = format!("/crash/put/{round}/{writer}/{seq:06}");
        let value = format!("value-{round}-{writer}-{seq}-{}", "x".repeat(seq % 300));
        match client.put(key.clone(), value.clone()).await {
            Ok(revision) => {
                assert!(revision > last, "one writer's revisions increase");
                last = revision;
                let mut acked = acked.lock();
                acked.puts.insert(key, value);
                acked.max_revision = acked.max_revision.max(revision);
            }
            Err(_) => return, // the store is gone
        }
    }
}

async fn txn_writer(store: String, round: usize, writer: usize, acked: Arc<Mutex<Acknowledged>>) {
    let mut client = StoreClient::connect(&[store]).await.unwrap();
    for seq in 0.. {
        let id = format!("{round}-{writer}-{seq:06}");
        let put = |side: &str| RequestOp {
            request: Some(Request::RequestPut(PutRequest {
                key: Bytes::from(format!("/crash/txn/{side}/{id}")),
                value: Bytes::from(id.clone()),
                ..Default::default()
            })),
        };
        let txn = TxnRequest { compare: vec![], success: vec![put("a"), put("b")], failure: vec![] };
        match client.kv.txn(txn).await {
            Ok(response) => {
                let revision = response.into_inner().header.unwrap().revision;
                let mut acked = acked.lock();
                acked.txns.insert(id);
                acked.max_revision = acked.max_revision.max(revision);
            }
            Err(_) => return,
        }
    }
}

/// Every key under `prefix`, with its value.
async fn scan(client: &mut StoreClient, prefix: &str) -> BTreeMap<String, String> {
    let request = RangeRequest {
        key: Bytes::copy_from_slice(prefix.as_bytes()),
        range_end: Bytes::from(prefix_end(prefix.as_bytes())),
        ..Default::default()
    };
    let response = client.kv.range(request).await.unwrap().into_inner();
    response
        .kvs
        .into_iter()
        .map(|kv| (String::from_utf8(kv.key.to_vec()).unwrap(), String::from_utf8(kv.value.to_vec()).unwrap()))
        .collect()
}

/// Checks the promise against a freshly restarted store; returns its current revision.
async fn verify(store: &StoreProcess, acked: &Acknowledged) -> i64 {
    let mut client = connect(store).await;
    let puts = scan(&mut client, "/crash/put/").await;
    let missing: Vec<&String> = acked.puts.keys().filter(|k| !puts.contains_key(*k)).collect();
    assert!(missing.is_empty(), "{} acknowledged puts lost, e.g. {:?}", missing.len(), missing.first());
    for (key, value) in &acked.puts {
        assert_eq!(&puts[key], value, "{key} has its acknowledged value");
    }

    let a: BTreeSet<String> = scan(&mut client, "/crash/txn/a/").await.into_values().collect();
    let b: BTreeSet<String> = scan(&mut client, "/crash/txn/b/").await.into_values().collect();
    assert_eq!(a, b, "every transaction is all there or not at all");
    assert!(acked.txns.is_subset(&a), "acknowledged transactions survive");

    let revision = client
        .kv
        .range(RangeRequest { key: "/crash/".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .header
        .unwrap()
        .revision;
    assert!(revision >= acked.max_revision, "revision {revision} went back below {}", acked.max_revision);
    let next = client.put("/crash/probe", "p").await.unwrap();
    assert!(next > revision, "the next write gets a higher revision");
    revision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let mut total_puts = 0;

    for round in 0..3 {
        let mut store = StoreProcess::start(&data, &[]);
        let so_far = acked.lock().clone();
        verify(&store, &so_far).await;

        let mut writers = Vec::new();
        for writer in 0..PUT_WRITERS {
            writers.push(tokio::spawn(put_writer(store.url(), round, writer, acked.clone())));
        }
        for writer in 0..TXN_WRITERS {
            writers.push(tokio::spawn(txn_writer(store.url(), round, writer, acked.clone())));
        }
        // Kill at a moment nobody chose: somewhere in the middle of the writes.
        let delay = 400 + rand::random::<u64>() % 1200;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        store.kill9();
        for writer in writers {
            writer.await.unwrap();
        }
        let acked = acked.lock();
        assert!(acked.puts.len() > total_puts, "round {round}: writers made progress before the kill");
        total_puts = acked.puts.len();
    }

    let store = StoreProcess::start(&data, &[]);
    let acked = acked.lock().clone();
    let revision = verify(&store, &acked).await;
    eprintln!(
        "verified {} puts and {} transactions after 3 kills; revision {revision}",
        acked.puts.len(),
        acked.txns.len()
    );
}
