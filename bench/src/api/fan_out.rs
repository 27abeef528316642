//! Watch fan-out: a thousand REST watchers, and how late each hears of a create.
//!
//! This is a cluster's shape: every kubelet, proxy and controller holds a watch on pods, and
//! every change must reach all of them. 1,000 watchers each open their own connection with
//! `GET /api/v1/namespaces/bench-watch/pods?watch=true` (the namespace is empty, so a watch
//! starts with no `ADDED` backlog). Then one writer creates pods there one at a time; for each
//! create, the delay from its response arriving to the event arriving at each watcher is one
//! sample: p50 and p99 are over all watcher × event pairs (200 creates × 1,000 watchers).
//!
//! The event may beat the response: the watch cache hears of the write from the store's watch
//! while the create's answer is still on its way. Such a sample counts as zero and the share of
//! them is reported. The writer waits until every watcher has the event before the next create,
//! so each create is timed alone.
//!
//! The watchers run in this process, on the same two cores as the API server: each event wakes
//! a thousand tasks here, and their reading and scheduling is inside the measured delay (the
//! client's CPU per delivered event is reported). Every connection needs a file descriptor, on
//! both sides: [`raise_open_files`] makes room before the servers start, which inherit it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::http::{Connection, Method};
use super::plan::FAN_OUT_WARMUP;
use super::pod::Pod;
use super::requests::{create_namespace, pods_path, Pids};
use crate::error::BenchError;
use crate::stats::Percentiles;
use crate::{cpu, memory};

pub const WATCH_NAMESPACE: &str = "bench-watch";

/// Longer than any event should take to reach everyone; past it the watch is broken.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longer than opening every watch should take (about half a second here).
const OPEN_TIMEOUT: Duration = Duration::from_secs(60);

/// Watch connections being opened at once: enough to open a thousand in well under a second,
/// few enough for the API server's accept queue.
const OPENING_AT_ONCE: usize = 64;

/// Descriptors beyond the watchers': the servers' listeners, the store's files, the clients.
const SPARE_FILES: u64 = 1024;

#[derive(Debug, Clone, Copy)]
pub struct FanOut {
    pub watchers: usize,
    pub creates: usize,
    /// From the create's response to the event, over every watcher × timed create.
    pub latency: Percentiles,
    /// From just before the create was sent to the event: the whole way, for comparison with
    /// `bench-store`'s put → watch event.
    pub from_request: Percentiles,
    /// Share of the samples whose event arrived before the create's response.
    pub before_response: f64,
    /// How long opening all the watches took.
    pub opening: Duration,
    /// The API server's `VmRSS` before the watches were opened, with every watch open, and
    /// after the creates (the watches still open).
    pub resident_before: Option<u64>,
    pub resident: Option<u64>,
    pub resident_after: Option<u64>,
    /// CPU time per delivered event (one create's event to one watcher), over the timed creates.
    pub apiserver_cpu_per_event: Option<Duration>,
    pub client_cpu_per_event: Option<Duration>,
}

/// Raises this process's soft limit on open files to at least `watchers` plus some to spare
/// (up to the hard limit); call it before starting the servers, which inherit it. Returns the
/// limit now in force.
pub fn raise_open_files(watchers: usize) -> Result<u64, BenchError> {
    let wanted = watchers as u64 + SPARE_FILES;
    let limit = rlimit::increase_nofile_limit(wanted).map_err(BenchError::Limit)?;
    if limit < wanted {
        return Err(BenchError::TooFewFiles { limit, wanted });
    }
    Ok(limit)
}

/// An event's arrival at one watcher: the create's number (counted from 0) and when.
type Arrival = Result<(usize, Instant), BenchError>;

pub async fn run(address: &str, pids: Pids, pod: &Pod, watchers: usize, creates: usize) -> Result<FanOut, BenchError> {
    let mut writer = Connection::open(address).await?;
    create_namespace(&mut writer, WATCH_NAMESPACE).await?;
    let total = FAN_OUT_WARMUP + creates;
    let resident_before = memory::resident(pids.apiserver);

    let opening_started = Instant::now();
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let opening = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let (opened_tx, mut opened) = mpsc::channel::<Result<(), BenchError>>(watchers);
    for _ in 0..watchers {
        let (address, arrivals, opened, opening) =
            (address.to_string(), arrivals_tx.clone(), opened_tx.clone(), opening.clone());
        tasks.spawn(watch(address, total, opening, opened, arrivals));
    }
    drop((arrivals_tx, opened_tx));
    for open in 0..watchers {
        match tokio::time::timeout_at((opening_started + OPEN_TIMEOUT).into(), opened.recv()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(err))) => return Err(err),
            Ok(None) => return Err(BenchError::Watch("a watcher stopped before its watch was open".into())),
            Err(_) => return Err(BenchError::Watch(format!("only {open} of {watchers} watches opened in time"))),
        }
    }
    let opening = opening_started.elapsed();
    let resident = memory::resident(pids.apiserver);

    let path = pods_path(WATCH_NAMESPACE);
    let mut samples = Vec::with_capacity(creates * watchers);
    let mut from_request = Vec::with_capacity(creates * watchers);
    let mut early = 0usize;
    let mut cpu_before = [None, None];
    for i in 0..total {
        if i == FAN_OUT_WARMUP {
            cpu_before = [cpu::process_time(pids.apiserver), cpu::process_time(std::process::id())];
        }
        let body = pod.create(&watched_name(i));
        let sent = Instant::now();
        writer.expect(Method::Post, &path, &body, 201).await?;
        let answered = Instant::now();
        for _ in 0..watchers {
            let (event, arrived) = match tokio::time::timeout(EVENT_TIMEOUT, arrivals.recv()).await {
                Ok(Some(arrival)) => arrival?,
                Ok(None) => return Err(BenchError::Watch("every watcher stopped".into())),
                Err(_) => return Err(BenchError::Watch(format!("create {i}: not every watcher heard of it"))),
            };
            if event != i {
                return Err(BenchError::Watch(format!("create {i}: a watcher reported event {event}")));
            }
            if i >= FAN_OUT_WARMUP {
                early += usize::from(arrived < answered);
                samples.push(arrived.saturating_duration_since(answered));
                from_request.push(arrived - sent);
            }
        }
    }
    let cpu_after = [cpu::process_time(pids.apiserver), cpu::process_time(std::process::id())];
    let resident_after = memory::resident(pids.apiserver);
    // Dropping the connections ends the watches on the server.
    tasks.abort_all();
    let deliveries = (creates * watchers) as f64;
    let per_event = |i: usize| {
        let spent = cpu_after[i]?.checked_sub(cpu_before[i]?)?;
        (deliveries > 0.0).then(|| spent.div_f64(deliveries))
    };
    Ok(FanOut {
        watchers,
        creates,
        before_response: early as f64 / samples.len().max(1) as f64,
        latency: Percentiles::of(samples),
        from_request: Percentiles::of(from_request),
        opening,
        resident_before,
        resident,
        resident_after,
        apiserver_cpu_per_event: per_event(0),
        client_cpu_per_event: per_event(1),
    })
}

/// One watcher: opens its watch (at most [`OPENING_AT_ONCE`] at a time), says so, then reports
/// the arrival of each of the `total` creates' events, checking that each is the one expected.
async fn watch(
    address: String,
    total: usize,
    opening: Arc<Semaphore>,
    opened: mpsc::Sender<Result<(), BenchError>>,
    arrivals: mpsc::UnboundedSender<Arrival>,
) {
    let permit = opening.acquire_owned().await;
    let stream = match Connection::open(&address).await {
        Ok(connection) => connection.watch(&format!("{}?watch=true", pods_path(WATCH_NAMESPACE))).await,
        Err(err) => Err(err),
    };
    drop(permit);
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(err) => {
            let _ = opened.send(Err(err)).await;
            return;
        }
    };
    let _ = opened.send(Ok(())).await;
    for i in 0..total {
        let arrival = match stream.next_line().await {
            Ok((line, arrived)) if is_event_of(&line, &watched_name(i)) => Ok((i, arrived)),
            Ok((line, _)) => Err(BenchError::Watch(format!(
                "expected the ADDED event of {}, got {}",
                watched_name(i),
                String::from_utf8_lossy(&line).chars().take(200).collect::<String>()
            ))),
            Err(err) => Err(err),
        };
        let failed = arrival.is_err();
        if arrivals.send(arrival).is_err() || failed {
            return;
        }
    }
}

/// Whether a watch line is the `ADDED` event of the pod `name`. A byte search (SIMD, about
/// 0.1 µs for a 3 KiB line), not a parse, because it runs a thousand times per create on the
/// cores the API server needs: the API server writes compact JSON,
/// `{"type":"ADDED","object":{…"name":"watched-00007"…}}`.
fn is_event_of(line: &[u8], name: &str) -> bool {
    let needle = format!(r#""name":"{name}""#);
    line.starts_with(br#"{"type":"ADDED""#) && memchr::memmem::find(line, needle.as_bytes()).is_some()
}

fn watched_name(i: usize) -> String {
    format!("watched-{i:05}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_recognised_by_its_type_and_the_pods_name() {
        let line = br#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"watched-00007","namespace":"bench-watch"},"spec":{"containers":[{"name":"web"}]}}}"#;
        let cases: [(&str, &[u8], &str, bool); 4] = [
            ("its own event", line, "watched-00007", true),
            ("another pod's", line, "watched-00008", false),
            ("a name that is the start of another is not that one", line, "watched-0000", false),
            (
                "not an ADDED event",
                br#"{"type":"MODIFIED","object":{"metadata":{"name":"watched-00007"}}}"#,
                "watched-00007",
                false,
            ),
        ];
        for (name, line, pod, want) in cases {
            assert_eq!(is_event_of(line, pod), want, "{name}");
        }
    }
}
