//! The client the API server will use, against skiff-store and against a real etcd: the same
//! calls must give the same outcomes on both.

mod common;

use common::{EtcdProcess, StoreProcess};
use skiff_proto::etcdserverpb::CompactionRequest;
use skiff_store::client::{Guarded, StoreClient, WatchError, WatchEvent, WatchMessage};

/// Runs the scenario against one store; returns a transcript to compare across stores.
async fn scenario(url: String) -> Vec<String> {
    let mut c = StoreClient::connect(&[url]).await.unwrap();
    let mut log = Vec::new();

    // Create only if absent.
    let created = c.create("/registry/pods/default/web", "v1", 0).await.unwrap();
    let Guarded::Done { revision: created_at, prev: None } = created else { panic!("created: {created:?}") };
    log.push(format!("created at {created_at}"));
    match c.create("/registry/pods/default/web", "v1-again", 0).await.unwrap() {
        Guarded::Conflict { current: Some(kv) } => log.push(format!("exists, mod {}", kv.mod_revision)),
        other => panic!("a second create must conflict: {other:?}"),
    }

    // Update only if unchanged since read.
    let updated = c.update("/registry/pods/default/web", "v2", created_at, 0).await.unwrap();
    let Guarded::Done { revision: updated_at, prev: Some(prev) } = updated else { panic!("updated: {updated:?}") };
    assert_eq!(prev.value, "v1");
    log.push(format!("updated at {updated_at}"));
    match c.update("/registry/pods/default/web", "stale", created_at, 0).await.unwrap() {
        Guarded::Conflict { current: Some(kv) } => {
            assert_eq!(kv.value, "v2");
            log.push(format!("stale update conflicts, current mod {}", kv.mod_revision));
        }
        other => panic!("a stale update must conflict: {other:?}"),
    }

    // Lists at now and in the past.
    c.create("/registry/pods/default/db", "d1", 0).await.unwrap();
    let now = c.list(b"/registry/pods/", 0, 0).await.unwrap();
    let then = c.list(b"/registry/pods/", created_at, 0).await.unwrap();
    let page = c.list(b"/registry/pods/", 0, 1).await.unwrap();
    log.push(format!(
        "list now: {} keys at {}; at {created_at}: {} key; page of 1: more={}",
        now.kvs.len(),
        now.revision,
        then.kvs.len(),
        page.more
    ));

    // A watch from a past revision replays, then a delete arrives live.
    let mut watch = c.watch_prefix(b"/registry/pods/", created_at).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        if let WatchMessage::Events { events, .. } = watch.next().await.unwrap() {
            seen.extend(events);
        }
    }
    let deleted = c.delete("/registry/pods/default/db", now.revision).await.unwrap();
    assert!(matches!(deleted, Guarded::Done { .. }), "{deleted:?}");
    assert_eq!(c.delete("/registry/pods/default/db", now.revision).await.unwrap(), Guarded::Conflict { current: None });
    while seen.len() < 4 {
        if let WatchMessage::Events { events, .. } = watch.next().await.unwrap() {
            seen.extend(events);
        }
    }
    for event in &seen {
        log.push(match event {
            WatchEvent::Put { kv, prev } => {
                format!(
                    "PUT {} at {} (had prev: {})",
                    String::from_utf8_lossy(&kv.key),
                    kv.mod_revision,
                    prev.is_some()
                )
            }
            WatchEvent::Delete { key, revision, prev } => format!(
                "DELETE {} at {revision} (last value {:?})",
                String::from_utf8_lossy(key),
                prev.as_ref().map(|p| String::from_utf8_lossy(&p.value).into_owned())
            ),
        });
    }

    // After compaction, a watch from before it says so.
    let current = c.list(b"/registry/", 0, 1).await.unwrap().revision;
    c.kv.compact(CompactionRequest { revision: current, physical: true }).await.unwrap();
    let mut old = c.watch_prefix(b"/registry/pods/", created_at).await.unwrap();
    match old.next().await {
        Err(WatchError::Compacted { compact_revision }) => log.push(format!("compacted at {compact_revision}")),
        other => panic!("a watch below the compaction must report it: {other:?}"),
    }
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_behaves_the_same_on_skiff_store_and_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = EtcdProcess::start();
    let store = StoreProcess::start(&dir.path().join("data"), &[]);
    let on_etcd = scenario(etcd.url()).await;
    let on_skiff = scenario(store.url()).await;
    assert_eq!(on_skiff, on_etcd);
    assert!(on_skiff.iter().any(|line| line.starts_with("DELETE /registry/pods/default/db")), "{on_skiff:#?}");
}
