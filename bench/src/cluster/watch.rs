//! A watch of one kind in one namespace that times what happens to each object.
//!
//! The benchmark's clock for a pod is the watch: an object is listed once, then every change
//! arrives as an event, and the instant an event arrives is when this client learned of it —
//! what a user running `kubectl get -w` would see. For each object the watch keeps the first
//! instant it saw each milestone ([`Marks`]): created, bound to a node, `Running`, `Ready`,
//! being deleted, gone. Waiting for a condition ([`Watch::wait_for`]) looks at those marks, so a
//! result is the event's own arrival time, not the time the waiter woke up.
//!
//! The watch runs in a task of its own, started before the workload, on a gRPC connection of
//! its own, and is re-opened from the last resourceVersion if the API server ends it. Its own
//! connection, so that its events never queue behind the answers to the benchmark's other
//! requests: while the API server's gRPC sockets had Nagle's algorithm on (until commit
//! aa008e3, see `bench/README.md`), an event written right after another answer on the same
//! socket waited for this client's delayed ACK, up to 40 ms, which was charged to the pod. Objects that existed when it was listed get
//! the list's instant for every milestone they had already passed ("by then").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use skiff_client::api::Kind;
use skiff_client::{Client, ListParams};
use tokio::sync::watch as signal;

use crate::error::BenchError;

/// The first instant each milestone of an object was seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// The object first appeared (its create's event).
    pub added: Option<Instant>,
    /// `spec.nodeName` set: the scheduler's bind.
    pub bound: Option<Instant>,
    /// `status.phase` is `Running`: the kubelet has seen every container running.
    pub running: Option<Instant>,
    /// The `Ready` condition is `True`.
    pub ready: Option<Instant>,
    /// `metadata.deletionTimestamp` set: a graceful delete began.
    pub deleting: Option<Instant>,
    /// The object is gone (its `DELETED` event).
    pub gone: Option<Instant>,
}

impl Marks {
    /// Records what `object` shows at `at` (`deleted`: it came as a `DELETED` event). Only the
    /// first sighting of each milestone counts.
    pub fn observe(&mut self, object: &Value, deleted: bool, at: Instant) {
        let first = |mark: &mut Option<Instant>, now: bool| {
            if now && mark.is_none() {
                *mark = Some(at);
            }
        };
        first(&mut self.added, true);
        first(&mut self.bound, object["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty()));
        first(&mut self.running, object["status"]["phase"] == "Running");
        first(&mut self.ready, condition_true(object, "Ready"));
        first(&mut self.deleting, !object["metadata"]["deletionTimestamp"].is_null());
        first(&mut self.gone, deleted);
    }
}

/// Whether `status.conditions` holds `{type: kind, status: "True"}`.
pub fn condition_true(object: &Value, kind: &str) -> bool {
    object["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| conditions.iter().any(|c| c["type"] == kind && c["status"] == "True"))
}

/// One watched object: as last seen, and its milestones.
#[derive(Debug, Clone)]
pub struct Watched {
    pub object: Value,
    pub marks: Marks,
    /// When its latest event arrived.
    pub seen: Instant,
}

/// Every object seen, by name (gone ones stay, with their `gone` mark).
pub type Objects = HashMap<String, Watched>;

#[derive(Default)]
struct State {
    objects: Objects,
    failed: Option<String>,
}

/// A running watch; dropping it ends the watch task.
pub struct Watch {
    what: String,
    /// A std Mutex: held only to apply one event or to run a check, never across an await.
    state: Arc<Mutex<State>>,
    /// Bumped after every event, so that waiters look again.
    changes: signal::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watch {
    /// Connects to the API server's gRPC `address`, lists `kind` in `namespace`, then watches it
    /// from the list's resourceVersion.
    pub async fn start(address: &str, kind: Kind, namespace: &str) -> Result<Watch, BenchError> {
        let what = format!("{} in {namespace}", kind.plural);
        let connection = Client::connect(address, "skiff-bench-watch").await?;
        let client = &connection;
        let (items, version) = client.list(&kind, Some(namespace), &ListParams::default()).await?;
        let listed = Instant::now();
        let mut state = State::default();
        for object in items {
            let mut marks = Marks::default();
            marks.observe(&object, false, listed);
            state.objects.insert(name_of(&object), Watched { object, marks, seen: listed });
        }
        let state = Arc::new(Mutex::new(state));
        let (bump, changes) = signal::channel(0u64);
        let events = client.watch(&kind, Some(namespace), &ListParams::default(), &version).await?;
        let task =
            tokio::spawn(follow(client.clone(), kind, namespace.to_string(), events, version, state.clone(), bump));
        Ok(Watch { what, state, changes, task })
    }

    /// Runs `check` on the objects now.
    pub fn snapshot<T>(&self, check: impl FnOnce(&Objects) -> T) -> T {
        check(&self.state.lock().expect("the watch state is never poisoned").objects)
    }

    /// Waits until `check` returns something, after each event, for at most `timeout`. `what`
    /// names the condition in the error.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Objects) -> Option<T>,
    ) -> Result<T, BenchError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.changes.clone();
        loop {
            changes.borrow_and_update();
            {
                let state = self.state.lock().expect("the watch state is never poisoned");
                if let Some(failure) = &state.failed {
                    return Err(BenchError::Watch(format!("{}: {failure}", self.what)));
                }
                if let Some(found) = check(&state.objects) {
                    return Ok(found);
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(BenchError::Watch(format!("{}: the watch task ended", self.what))),
                Err(_) => {
                    let details = self.snapshot(|objects| format!("; {}: {}", self.what, tally(objects)));
                    return Err(BenchError::Timeout { what: what.to_string(), seconds: timeout.as_secs(), details });
                }
            }
        }
    }
}

/// "12 seen: 12 bound, 10 running, 9 ready, 0 deleting, 0 gone", for a timeout's message.
pub fn tally(objects: &Objects) -> String {
    let count = |mark: fn(&Marks) -> Option<Instant>| objects.values().filter(|w| mark(&w.marks).is_some()).count();
    format!(
        "{} seen: {} bound, {} running, {} ready, {} deleting, {} gone",
        objects.len(),
        count(|m| m.bound),
        count(|m| m.running),
        count(|m| m.ready),
        count(|m| m.deleting),
        count(|m| m.gone)
    )
}

fn name_of(object: &Value) -> String {
    object["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

/// The watch task: applies events until the stream fails; re-opens it when the server ends it.
async fn follow(
    client: Client,
    kind: Kind,
    namespace: String,
    mut events: futures::stream::BoxStream<'static, Result<skiff_client::api::RawEvent, skiff_client::ApiError>>,
    mut version: String,
    state: Arc<Mutex<State>>,
    bump: signal::Sender<u64>,
) {
    let fail = |message: String| {
        state.lock().expect("the watch state is never poisoned").failed = Some(message);
        bump.send_modify(|n| *n += 1);
    };
    loop {
        while let Some(event) = events.next().await {
            let at = Instant::now();
            let event = match event {
                Ok(event) => event,
                Err(err) => return fail(err.to_string()),
            };
            if !event.resource_version.is_empty() {
                version = event.resource_version.clone();
            }
            if event.kind == "BOOKMARK" {
                continue;
            }
            {
                let mut state = state.lock().expect("the watch state is never poisoned");
                let name = name_of(&event.object);
                let deleted = event.kind == "DELETED";
                let entry = state.objects.entry(name).or_insert_with(|| Watched {
                    object: Value::Null,
                    marks: Marks::default(),
                    seen: at,
                });
                entry.marks.observe(&event.object, deleted, at);
                entry.object = event.object;
                entry.seen = at;
            }
            bump.send_modify(|n| *n += 1);
        }
        // The server ended the watch (a timeout of its own): carry on from where it was.
        match client.watch(&kind, Some(&namespace), &ListParams::default(), &version).await {
            Ok(more) => events = more,
            Err(err) => return fail(format!("re-opening the watch: {err}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_milestone_is_marked_the_first_time_it_is_seen() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut marks = Marks::default();
        let pending = json!({"metadata": {"name": "a"}, "spec": {}, "status": {"phase": "Pending"}});
        let bound = json!({"metadata": {"name": "a"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Pending"}});
        let running = json!({"metadata": {"name": "a"}, "spec": {"nodeName": "n1"},
                             "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}});
        let ready = json!({"metadata": {"name": "a"}, "spec": {"nodeName": "n1"},
                           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        let deleting = json!({"metadata": {"name": "a", "deletionTimestamp": "2026-12-01T00:00:00Z"},
                              "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        marks.observe(&pending, false, at(0));
        marks.observe(&bound, false, at(10));
        marks.observe(&running, false, at(300));
        marks.observe(&bound, false, at(301)); // an older-looking event changes no mark
        marks.observe(&ready, false, at(1300));
        marks.observe(&deleting, false, at(2000));
        marks.observe(&deleting, true, at(2500));
        let want = Marks {
            added: Some(at(0)),
            bound: Some(at(10)),
            running: Some(at(300)),
            ready: Some(at(1300)),
            deleting: Some(at(2000)),
            gone: Some(at(2500)),
        };
        assert_eq!(marks, want);
    }
}
