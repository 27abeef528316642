//! Kubernetes Events: what a component tells the user about the decisions it made
//! (`kubectl describe` and `kubectl get events` show them).
//!
//! Mirrors client-go's `tools/record` (`EventRecorder`, the correlator's aggregation in
//! `events_cache.go`): an event is a core/v1 `Event` named `<object>.<unique hex>`, in the
//! object's namespace, with the object's reference, a reason (`Scheduled`, `Pulled`,
//! `ScalingReplicaSet`…), a message, a type (`Normal` or `Warning`) and the reporting component.
//! The same event again (same object, reason and message) within ten minutes is not a new object:
//! the existing one's `count` and `lastTimestamp` go up, as `kubectl describe` shows with
//! `(x3 over 2m)`.
//!
//! Recording never fails the caller: an event that cannot be written is logged and dropped
//! (client-go does the same; events are best effort).
//!
//! Left out: client-go's spam filter (rate limiting per object) and the similar-event
//! aggregation that rewrites messages as "(combined from similar events)".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::api::{ApiObject, Client, Kind, Patch};

/// How long a repeated event updates the first one instead of making a new one.
const AGGREGATION_WINDOW: Duration = Duration::from_secs(600);
/// Events remembered for aggregation, before the oldest are forgotten.
const REMEMBERED: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// The object an event is about (`involvedObject`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    /// A part of the object (`spec.containers{web}` for a container's events).
    pub field_path: Option<String>,
}

impl Reference {
    pub fn of<K: ApiObject>(object: &K) -> Reference {
        let meta = object.metadata();
        Reference {
            api_version: K::API_VERSION.into(),
            kind: K::KIND.into(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            field_path: None,
        }
    }

    /// The same object, one part of it: `reference.field("spec.containers{web}")`.
    pub fn field(mut self, path: &str) -> Reference {
        self.field_path = Some(path.to_string());
        self
    }
}

fn timestamp(at: SystemTime) -> String {
    let seconds = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    skiff_api::age::format_timestamp(seconds)
}

struct Seen {
    name: String,
    count: i64,
    at: Instant,
}

/// Writes Events as one component (`default-scheduler`, `kubelet`, `deployment-controller`).
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    component: String,
    /// The node, for node agents (`source.host`).
    host: Option<String>,
    seen: Arc<Mutex<HashMap<(Reference, String, String), Seen>>>,
}

impl Recorder {
    pub fn new(client: Client, component: &str, host: Option<&str>) -> Recorder {
        Recorder {
            client,
            component: component.into(),
            host: host.map(str::to_string),
            seen: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Records a `Normal` event.
    pub async fn normal(&self, about: &Reference, reason: &str, message: &str) {
        self.record(about, EventType::Normal, reason, message).await
    }

    /// Records a `Warning` event.
    pub async fn warning(&self, about: &Reference, reason: &str, message: &str) {
        self.record(about, EventType::Warning, reason, message).await
    }

    pub async fn record(&self, about: &Reference, kind: EventType, reason: &str, message: &str) {
        tracing::debug!(object = %about.name, kind = about.kind, reason, message, "event");
        let now = timestamp(SystemTime::now());
        let namespace = about.namespace.clone().unwrap_or_else(|| "default".into());
        let key = (about.clone(), reason.to_string(), message.to_string());
        let repeat = {
            let mut seen = self.seen.lock();
            match seen.get_mut(&key) {
                Some(earlier) if earlier.at.elapsed() < AGGREGATION_WINDOW => {
                    earlier.count += 1;
                    earlier.at = Instant::now();
                    Some((earlier.name.clone(), earlier.count))
                }
                _ => None,
            }
        };
        let events = Kind::new("", "v1", "events");
        if let Some((name, count)) = repeat {
            let patch = Patch::Merge(json!({"count": count, "lastTimestamp": now}));
            match self.client.patch(&events, Some(&namespace), &name, None, &patch).await {
                Ok(_) => return,
                // Gone (deleted, expired): write a new one.
                Err(err) if err.is_not_found() => {}
                Err(err) => {
                    tracing::warn!(cause = %err, reason, "could not update an event");
                    return;
                }
            }
        }
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!("{}.{:x}", about.name, nanos);
        let event = self.event(about, &name, &namespace, kind, reason, message, &now);
        match self.client.create(&events, Some(&namespace), &event).await {
            Ok(_) => {
                let mut seen = self.seen.lock();
                if seen.len() >= REMEMBERED {
                    // Forget the oldest half; a forgotten event only means a new object next time.
                    let mut ages: Vec<Instant> = seen.values().map(|s| s.at).collect();
                    ages.sort();
                    let cutoff = ages[ages.len() / 2];
                    seen.retain(|_, s| s.at > cutoff);
                }
                seen.insert(key, Seen { name, count: 1, at: Instant::now() });
            }
            Err(err) => tracing::warn!(cause = %err, reason, "could not record an event"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        about: &Reference,
        name: &str,
        namespace: &str,
        kind: EventType,
        reason: &str,
        message: &str,
        now: &str,
    ) -> Value {
        let mut event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": about.api_version, "kind": about.kind, "namespace": about.namespace,
                "name": about.name, "uid": about.uid, "fieldPath": about.field_path,
            },
            "reason": reason,
            "message": message,
            "type": kind.as_str(),
            "source": {"component": self.component, "host": self.host},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.host.clone().unwrap_or_default(),
        });
        // Absent parts are left out rather than sent as nulls.
        for part in ["involvedObject", "source"] {
            if let Some(map) = event[part].as_object_mut() {
                map.retain(|_, v| !v.is_null());
            }
        }
        event
    }
}
