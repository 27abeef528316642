//! The Watch service: one bidirectional stream carrying many watches.
//!
//! Mirrors etcd `server/etcdserver/api/v3rpc/watch.go`. The client sends create, cancel and
//! progress requests; the server answers on one response stream that every watch of the call
//! shares. The order of a watch's responses is: `created`, then events (history first, then live),
//! and finally `canceled` if the client cancels it or the server must (its history was
//! compacted).
//!
//! What etcd does with odd requests, Skiff does too: an empty key means `"\0"`; an inverted range
//! is refused with `created` + `canceled` and reason "mvcc: watcher range is empty"; canceling an
//! unknown watch id is ignored; a progress request gets an immediate response with watch id -1.

use std::collections::HashMap;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use skiff_proto::etcdserverpb::{
    watch_create_request::FilterType, watch_request::RequestUnion, watch_server::Watch, WatchCreateRequest,
    WatchRequest, WatchResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::key_range::KeyRange;
use crate::store::Store;
use crate::watch::{WatchSender, WatchSpec, Watcher, WatcherKey};

/// Responses a stream may have queued before its watchers count as slow (see `watch.rs`).
const STREAM_BUFFER: usize = 1024;

pub struct WatchService {
    pub store: Store,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = WatchStream;

    async fn watch(&self, request: Request<Streaming<WatchRequest>>) -> Result<Response<WatchStream>, Status> {
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        tokio::spawn(serve_stream(self.store.clone(), inbound, tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// One registered watch of a stream.
struct Registered {
    key: WatcherKey,
    cancel: CancellationToken,
}

/// Serves one watch stream until the client closes it.
async fn serve_stream(store: Store, mut inbound: Streaming<WatchRequest>, tx: WatchSender) {
    let mut watches: HashMap<i64, Registered> = HashMap::new();
    let mut next_id: i64 = 0;
    crate::metrics::REQUESTS.with_label_values(&["Watch", "OK"]).inc();
    loop {
        let request = tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(request)) => request,
                Ok(None) | Err(_) => break,
            },
            _ = tx.closed() => break,
        };
        let response = match request.request_union {
            Some(RequestUnion::CreateRequest(create)) => {
                create_watch(&store, &tx, &mut watches, &mut next_id, create).await
            }
            Some(RequestUnion::CancelRequest(cancel)) => watches.remove(&cancel.watch_id).map(|w| {
                w.cancel.cancel();
                store.shared().hub.remove(w.key);
                WatchResponse {
                    header: store.ids().header(store.current_revision()),
                    watch_id: cancel.watch_id,
                    canceled: true,
                    ..Default::default()
                }
            }),
            Some(RequestUnion::ProgressRequest(_)) => Some(WatchResponse {
                header: store.ids().header(store.current_revision()),
                watch_id: -1,
                ..Default::default()
            }),
            None => None,
        };
        // `create_watch` sends its own `created` response, before registering the watcher.
        if let Some(response) = response {
            if tx.send(Ok(response)).await.is_err() {
                break;
            }
        }
    }
    for (_, w) in watches {
        w.cancel.cancel();
        store.shared().hub.remove(w.key);
    }
}

/// Handles a create request. Returns a response to send only when the watch was refused.
async fn create_watch(
    store: &Store,
    tx: &WatchSender,
    watches: &mut HashMap<i64, Registered>,
    next_id: &mut i64,
    create: WatchCreateRequest,
) -> Option<WatchResponse> {
    let current = store.current_revision();
    let refused = |reason: &str| WatchResponse {
        header: store.ids().header(current),
        watch_id: -1,
        created: true,
        canceled: true,
        cancel_reason: reason.to_string(),
        ..Default::default()
    };
    let key = if create.key.is_empty() { Bytes::from_static(b"\0") } else { create.key };
    let keys = KeyRange::new(key, create.range_end);
    if keys.is_empty() {
        return Some(refused("mvcc: watcher range is empty"));
    }
    let watch_id = if create.watch_id == 0 {
        while watches.contains_key(next_id) {
            *next_id += 1;
        }
        *next_id
    } else if watches.contains_key(&create.watch_id) {
        return Some(refused("mvcc: duplicate watch ID provided on the WatchStream"));
    } else {
        create.watch_id
    };
    let filters = |f: FilterType| create.filters.contains(&(f as i32));
    let spec = WatchSpec {
        watch_id,
        keys,
        no_put: filters(FilterType::Noput),
        no_delete: filters(FilterType::Nodelete),
        prev_kv: create.prev_kv,
        progress_notify: create.progress_notify,
        fragment: create.fragment,
    };
    let start = if create.start_revision == 0 { current + 1 } else { create.start_revision };

    // `created` goes out before the watcher can send anything: they share this FIFO channel.
    let created = WatchResponse { header: store.ids().header(current), watch_id, created: true, ..Default::default() };
    if tx.send(Ok(created)).await.is_err() {
        return None;
    }
    let cancel = CancellationToken::new();
    let watcher = Watcher::new(spec, start, tx.clone(), cancel.clone());
    let key = store.shared().hub.add(store.shared(), watcher);
    tracing::debug!(watch_id, start, "watch created");
    watches.insert(watch_id, Registered { key, cancel });
    None
}
