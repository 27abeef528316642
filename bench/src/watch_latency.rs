//! Put → watch-event latency: how long after a write its watchers hear of it.
//!
//! This is how far an informer's cache (a controller's view of the cluster) lags behind the
//! store. One watcher on a prefix, on its own connection; one writer putting new keys under the
//! prefix, one at a time. Each latency runs from just before the put is sent to the moment the
//! watcher receives its event, whichever of the event and the put's answer arrives first.
//!
//! Events are matched to puts by revision: the event's `mod_revision` is the revision in the
//! put's response header.

use std::time::{Duration, Instant};

use skiff_proto::etcdserverpb::{watch_request::RequestUnion, WatchCreateRequest, WatchRequest, WatchResponse};
use skiff_store::client::{prefix_end, StoreClient};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::error::BenchError;
use crate::plan::Plan;
use crate::stats::Percentiles;

const PREFIX: &str = "bench/watch/";

/// Longer than any event should take; past it the watch is broken, not slow.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A received event (its revision, and when it arrived), or why the stream stopped.
type Seen = Result<(i64, Instant), BenchError>;

pub async fn run(endpoint: &str, plan: &Plan) -> Result<Percentiles, BenchError> {
    let (requests, responses) = open_watch(endpoint).await?;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let listener = tokio::spawn(listen(responses, seen_tx));

    let mut writer = StoreClient::connect(&[endpoint.to_string()]).await?;
    let value = crate::value();
    let mut samples = Vec::with_capacity(plan.watched_puts);
    for i in 0..plan.warmup + plan.watched_puts {
        let key = format!("{PREFIX}{i:05}");
        let start = Instant::now();
        let revision = writer.put(key, value.clone()).await?;
        let arrived = wait_for(&mut seen, revision).await?;
        if i >= plan.warmup {
            samples.push(arrived.saturating_duration_since(start));
        }
    }
    // Dropping both halves of the stream resets it, which ends the watch on the server.
    drop(requests);
    listener.abort();
    Ok(Percentiles::of(samples))
}

/// Opens a watch stream and waits for the server to confirm the watch (`created`), so that
/// no put is sent before the watch is in place.
async fn open_watch(endpoint: &str) -> Result<(mpsc::Sender<WatchRequest>, Streaming<WatchResponse>), BenchError> {
    let mut client = StoreClient::connect(&[endpoint.to_string()]).await?;
    let (requests, outbound) = mpsc::channel(1);
    let create = WatchCreateRequest {
        key: PREFIX.into(),
        range_end: prefix_end(PREFIX.as_bytes()).into(),
        ..Default::default()
    };
    let request = WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) };
    requests.send(request).await.map_err(|_| BenchError::Watch("the request stream closed".into()))?;
    let mut responses = client.watch.watch(ReceiverStream::new(outbound)).await?.into_inner();
    match responses.message().await? {
        Some(response) if response.created => Ok((requests, responses)),
        other => Err(BenchError::Watch(format!("expected the watch to be created, got {other:?}"))),
    }
}

/// Reports each event's revision and arrival time; stamping happens here, as soon as the
/// response is decoded, not when the writer gets round to looking.
async fn listen(mut responses: Streaming<WatchResponse>, seen: mpsc::UnboundedSender<Seen>) {
    loop {
        let response = match responses.message().await {
            Ok(Some(response)) => response,
            Ok(None) => break,
            Err(status) => {
                let _ = seen.send(Err(status.into()));
                break;
            }
        };
        let now = Instant::now();
        if response.canceled {
            let _ = seen.send(Err(BenchError::Watch(format!("watch canceled: {}", response.cancel_reason))));
            break;
        }
        for event in response.events {
            let revision = event.kv.map(|kv| kv.mod_revision).unwrap_or(0);
            if seen.send(Ok((revision, now))).is_err() {
                return;
            }
        }
    }
}

/// When the event of `revision` arrived. Earlier revisions cannot be waiting here: the writer
/// waits for each put's event before sending the next put.
async fn wait_for(seen: &mut mpsc::UnboundedReceiver<Seen>, revision: i64) -> Result<Instant, BenchError> {
    loop {
        let next = tokio::time::timeout(EVENT_TIMEOUT, seen.recv()).await;
        match next {
            Ok(Some(Ok((r, arrived)))) if r == revision => return Ok(arrived),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(err))) => return Err(err),
            Ok(None) => return Err(BenchError::Watch("the watch stream ended".into())),
            Err(_) => return Err(BenchError::Watch(format!("no event for revision {revision}"))),
        }
    }
}
