//! `?watch=true`: a chunked stream of `{"type": …, "object": …}` lines.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go` over
//! `storage/etcd3/watcher.go` (`../shared/kubectl-compat.md` section 7):
//!
//! 1. Without a resourceVersion (or `0`), first an `ADDED` for every matching object, then live
//!    changes from the list's revision on. With one, every change after it.
//! 2. Store events become `ADDED` (no previous version), `MODIFIED`, `DELETED` (the last
//!    version, with the delete's revision as its resourceVersion); selectors filter them.
//! 3. History that compaction removed is an `ERROR` event with a `410 Expired` Status, and the
//!    end of the stream: the client lists again.
//! 4. `timeoutSeconds` ends the stream; `allowWatchBookmarks` turns store progress notifications
//!    into `BOOKMARK` events.
//!
//! This watch goes to the store directly, one store watch per client; the watch cache that lets
//! a thousand watchers cost the store nothing comes with the rest of the API server issue.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use skiff_api::selector::{FieldSelector, LabelSelector};
use skiff_api::status::Status;
use skiff_api::table;
use skiff_store::client::{WatchError, WatchEvent, WatchMessage};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::path::Target;
use crate::storage::{selected, stamped, ObjectStore};
use crate::{respond, AppState};

/// Runs `f` when dropped: the watch gauge goes down however the task ends.
struct Guard<F: FnMut()>(F);

impl<F: FnMut()> Drop for Guard<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

fn scopeguard<F: FnMut()>(f: F) -> Guard<F> {
    Guard(f)
}

fn line(kind: &str, object: Value, as_table: Option<&Target>) -> Bytes {
    let object = match as_table {
        Some(target) => {
            let revision = object["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
            table::table(target.resource, &[object], &revision, skiff_api::age::now())
        }
        None => object,
    };
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn matches(object: &Value, labels: &LabelSelector, fields: &FieldSelector, namespace: Option<&str>) -> bool {
    if namespace.is_some_and(|ns| object["metadata"]["namespace"].as_str() != Some(ns)) {
        return false;
    }
    selected(object, labels, fields)
}

pub async fn serve(state: AppState, target: Target, params: HashMap<String, String>, headers: HeaderMap) -> Response {
    let parse = |name: &str| params.get(name).map_or("", String::as_str);
    let (labels, fields) =
        match (LabelSelector::parse(parse("labelSelector")), FieldSelector::parse(parse("fieldSelector"))) {
            (Ok(l), Ok(f)) => (l, f),
            (Err(e), _) | (_, Err(e)) => return respond::status(&Status::bad_request(e.to_string())),
        };
    let as_table = respond::wants_table(&headers).then(|| target.clone());
    let bookmarks = params.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let timeout = params.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
    let namespace = target.namespace.clone();

    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let requested = parse("resourceVersion").to_string();
    let (start, initial) = if requested.is_empty() || requested == "0" {
        match state.objects.list(target.resource, namespace.as_deref(), &labels, &fields).await {
            Ok((items, revision)) => (revision + 1, items),
            Err(status) => return respond::status(&status),
        }
    } else {
        match requested.parse::<i64>() {
            Ok(rv) => (rv + 1, vec![]),
            Err(_) => return respond::status(&Status::bad_request(format!("invalid resourceVersion {requested:?}"))),
        }
    };
    let prefix = ObjectStore::prefix(target.resource, namespace.as_deref());
    let mut client = state.client.clone();
    tokio::spawn(async move {
        crate::metrics::WATCHES.inc();
        let _open = scopeguard(|| crate::metrics::WATCHES.dec());
        let send = |bytes: Bytes| {
            let tx = tx.clone();
            async move { tx.send(Ok(bytes)).await.is_ok() }
        };
        for object in initial {
            if !send(line("ADDED", object, as_table.as_ref())).await {
                return;
            }
        }
        let mut watch = match client.watch_prefix(prefix.as_bytes(), start).await {
            Ok(watch) => watch,
            Err(err) => {
                let _ = send(line("ERROR", Status::internal(err.to_string()).to_json(), None)).await;
                return;
            }
        };
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let next = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, watch.next()).await {
                    Ok(next) => next,
                    Err(_) => return,
                },
                None => watch.next().await,
            };
            match next {
                Ok(WatchMessage::Events { events, .. }) => {
                    for event in events {
                        let (kind, object) = match event {
                            WatchEvent::Put { kv, prev } => {
                                let kind = if prev.is_none() { "ADDED" } else { "MODIFIED" };
                                (kind, stamped(&kv.value, kv.mod_revision).ok())
                            }
                            WatchEvent::Delete { revision, prev, .. } => {
                                ("DELETED", prev.and_then(|p| stamped(&p.value, revision).ok()))
                            }
                        };
                        let Some(object) = object else { continue };
                        if !matches(&object, &labels, &fields, namespace.as_deref()) {
                            continue;
                        }
                        if !send(line(kind, object, as_table.as_ref())).await {
                            return;
                        }
                    }
                }
                Ok(WatchMessage::Progress { revision }) => {
                    if bookmarks {
                        let bookmark = json!({"kind": target.resource.kind, "apiVersion": target.resource.api_version(),
                                              "metadata": {"resourceVersion": revision.to_string()}});
                        if !send(line("BOOKMARK", bookmark, None)).await {
                            return;
                        }
                    }
                }
                Err(WatchError::Compacted { compact_revision }) => {
                    let expired = Status::expired(start - 1, compact_revision);
                    let _ = send(line("ERROR", expired.to_json(), None)).await;
                    return;
                }
                Err(err) => {
                    let _ = send(line("ERROR", Status::internal(err.to_string()).to_json(), None)).await;
                    return;
                }
            }
        }
    });
    let body = Body::from_stream(ReceiverStream::new(rx));
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
