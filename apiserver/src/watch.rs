//! `?watch=true`: a chunked stream of `{"type": …, "object": …}` lines, from the watch cache.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go`
//! (`../shared/kubectl-compat.md` section 7):
//!
//! 1. Without a resourceVersion (or `0`), first an `ADDED` for every matching object, then live
//!    changes. With one, every change after it.
//! 2. A resourceVersion older than the cache's history is an `ERROR` event with a `410 Expired`
//!    Status, and the end of the stream: the client lists again.
//! 3. `timeoutSeconds` ends the stream; `allowWatchBookmarks` turns the store's progress
//!    notifications into `BOOKMARK` events.
//! 4. `kubectl get -w` asks for Tables: each event's object is then a one-row Table.
//!
//! The events come from the watch cache (`watch_cache.rs`), so a watch costs the store nothing.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use skiff_api::registry::Resource;
use skiff_api::status::Status;
use skiff_api::table;
use tokio_stream::wrappers::ReceiverStream;

use crate::path::Target;
use crate::watch_cache::{Filter, Start, WatchItem};
use crate::{respond, verbs, AppState};

/// Runs `f` when dropped: the watch gauge goes down however the stream ends.
pub(crate) struct Guard<F: FnMut()>(pub(crate) F);

impl<F: FnMut()> Drop for Guard<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// One watch item as a line of the stream.
fn render(item: WatchItem, resource: &'static Resource, as_table: bool, bookmarks: bool) -> Option<Bytes> {
    match item {
        WatchItem::Event(kind, object) if as_table => {
            let revision = object.revision.to_string();
            Some(line(kind.as_str(), table::table(resource, &[object.value()], &revision, skiff_api::age::now())))
        }
        WatchItem::Event(kind, object) => {
            // The object's bytes go out as they are, without being parsed again.
            let mut text = Vec::with_capacity(object.json.len() + 32);
            text.extend_from_slice(b"{\"type\":\"");
            text.extend_from_slice(kind.as_str().as_bytes());
            text.extend_from_slice(b"\",\"object\":");
            text.extend_from_slice(&object.json);
            text.extend_from_slice(b"}\n");
            Some(Bytes::from(text))
        }
        WatchItem::Bookmark(revision) if bookmarks => Some(line(
            "BOOKMARK",
            json!({"kind": resource.kind, "apiVersion": resource.api_version(),
                   "metadata": {"resourceVersion": revision.to_string()}}),
        )),
        WatchItem::Bookmark(_) => None,
    }
}

/// Where a watch with this `resourceVersion` parameter starts.
pub fn start_of(requested: &str) -> Result<Start, Status> {
    match requested {
        "" | "0" => Ok(Start::Now),
        rv => rv
            .parse::<i64>()
            .map(Start::After)
            .map_err(|_| Status::bad_request(format!("invalid resourceVersion {rv:?}"))),
    }
}

fn streamed(lines: impl futures::Stream<Item = Bytes> + Send + 'static) -> Response {
    let body = Body::from_stream(lines.map(Ok::<_, Infallible>));
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn serve(state: AppState, target: Target, params: HashMap<String, String>, headers: HeaderMap) -> Response {
    let parse = |name: &str| params.get(name).map_or("", String::as_str);
    let (labels, fields) = match verbs::selectors(target.resource, parse("labelSelector"), parse("fieldSelector")) {
        Ok(selectors) => selectors,
        Err(status) => return respond::status(&status),
    };
    let start = match start_of(parse("resourceVersion")) {
        Ok(start) => start,
        Err(status) => return respond::status(&status),
    };
    let as_table = respond::wants_table(&headers);
    let bookmarks = parse("allowWatchBookmarks") == "true";
    let timeout = params.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
    let filter = Filter { namespace: target.namespace.clone(), labels, fields };
    let resource = target.resource;

    let subscription = match state.verbs.caches.watch(resource, filter, start).await {
        Ok(subscription) => subscription,
        // Too old: the answer is still a watch, whose one event says so.
        Err(status) => return streamed(stream::once(async move { line("ERROR", status.to_json()) })),
    };
    crate::metrics::WATCHES.inc();
    let open = Guard(|| crate::metrics::WATCHES.dec());
    let items = stream::iter(subscription.initial).chain(ReceiverStream::new(subscription.live));
    let lines = items.filter_map(move |item| {
        let _open = &open;
        std::future::ready(render(item, resource, as_table, bookmarks))
    });
    match timeout {
        Some(timeout) => streamed(lines.take_until(tokio::time::sleep(timeout))),
        None => streamed(lines),
    }
}
