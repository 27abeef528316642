//! Watching a prefix from a revision, with compaction reported as such.
//!
//! Mirrors what Kubernetes' `staging/src/k8s.io/apiserver/pkg/storage/etcd3/watcher.go` needs
//! from etcd: events of a prefix from a revision on, with previous versions (to tell what a
//! DELETE removed), and a clear signal when the revision is older than the store's history
//! (`WatchError::Compacted`), which the API server turns into `410 Gone`.

use std::collections::VecDeque;

use bytes::Bytes;
use skiff_proto::etcdserverpb::{watch_request::RequestUnion, WatchCreateRequest, WatchRequest, WatchResponse};
use skiff_proto::mvccpb::{event::EventType, KeyValue};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{prefix_end, ClientError, StoreClient};

/// One change.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// The key's new version, and the one it replaced (none for a create).
    Put { kv: KeyValue, prev: Option<KeyValue> },
    /// The key was deleted at `revision`; `prev` is its last version.
    Delete { key: Bytes, revision: i64, prev: Option<KeyValue> },
}

/// What a watch yields.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchMessage {
    /// Changes, in revision order; `revision` is the store's revision when they were sent.
    Events { revision: i64, events: Vec<WatchEvent> },
    /// Nothing changed under the prefix up to `revision` (a progress notification).
    Progress { revision: i64 },
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("the requested revision has been compacted (history starts at {compact_revision})")]
    Compacted { compact_revision: i64 },
    #[error("the watch was canceled by the store: {0}")]
    Canceled(String),
    #[error("watch stream failed: {0}")]
    Rpc(#[from] tonic::Status),
    #[error("the store closed the watch stream")]
    Closed,
}

/// A watch of one prefix.
pub struct WatchStream {
    responses: tonic::Streaming<WatchResponse>,
    /// Held so that the request side of the stream stays open as long as the watch.
    _requests: mpsc::Sender<WatchRequest>,
    ready: VecDeque<WatchMessage>,
}

impl StoreClient {
    /// Watches every key under `prefix` from `start_revision` on (0: from the next change).
    pub async fn watch_prefix(&mut self, prefix: &[u8], start_revision: i64) -> Result<WatchStream, ClientError> {
        let (requests, outbox) = mpsc::channel(4);
        let create = WatchCreateRequest {
            key: Bytes::copy_from_slice(prefix),
            range_end: Bytes::from(prefix_end(prefix)),
            start_revision,
            prev_kv: true,
            progress_notify: true,
            ..Default::default()
        };
        // Queued before the call: etcd sends the response headers only with its first answer.
        requests
            .send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) })
            .await
            .expect("the receiver is alive");
        let responses = self.watch.watch(ReceiverStream::new(outbox)).await?.into_inner();
        Ok(WatchStream { responses, _requests: requests, ready: VecDeque::new() })
    }
}

impl WatchStream {
    /// The next message; `Err` ends the watch.
    pub async fn next(&mut self) -> Result<WatchMessage, WatchError> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Ok(message);
            }
            let response = self.responses.message().await?.ok_or(WatchError::Closed)?;
            if response.compact_revision != 0 {
                return Err(WatchError::Compacted { compact_revision: response.compact_revision });
            }
            if response.canceled {
                return Err(WatchError::Canceled(response.cancel_reason));
            }
            let revision = response.header.as_ref().map(|h| h.revision).unwrap_or(0);
            if response.created {
                continue;
            }
            if response.events.is_empty() {
                self.ready.push_back(WatchMessage::Progress { revision });
                continue;
            }
            let events = response
                .events
                .into_iter()
                .filter_map(|e| {
                    let kv = e.kv?;
                    Some(if e.r#type == EventType::Delete as i32 {
                        WatchEvent::Delete { key: kv.key, revision: kv.mod_revision, prev: e.prev_kv }
                    } else {
                        WatchEvent::Put { kv, prev: e.prev_kv }
                    })
                })
                .collect();
            self.ready.push_back(WatchMessage::Events { revision, events });
        }
    }
}
