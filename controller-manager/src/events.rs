//! Kubernetes Events, the lines under "Events:" in `kubectl describe`.
//!
//! Mirrors client-go's `record.EventRecorder` (`Eventf(object, type, reason, message)`): a
//! controller records and moves on; writing the `Event` objects (and aggregating repeats into a
//! `count`) is the recorder's business, so [`EventRecorder::record`] is not async and cannot fail.
//! The reasons and messages are Kubernetes' own, word for word, because people grep for them.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    /// The `type` field of an Event.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One event about one object (its `involvedObject`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub regarding: ObjectReference,
    pub type_: EventType,
    pub reason: String,
    pub message: String,
}

pub trait EventRecorder: Send + Sync {
    fn record(&self, event: Event);
}

/// Records `reason`/`message` about the object with `metadata` of `kind` (`apps/v1`).
pub fn record(
    recorder: &dyn EventRecorder,
    kind: &str,
    metadata: &ObjectMeta,
    type_: EventType,
    reason: &str,
    message: String,
) {
    let regarding = ObjectReference {
        api_version: Some("apps/v1".into()),
        kind: Some(kind.into()),
        name: metadata.name.clone(),
        namespace: metadata.namespace.clone(),
        uid: metadata.uid.clone(),
        resource_version: metadata.resource_version.clone(),
        field_path: None,
    };
    recorder.record(Event { regarding, type_, reason: reason.into(), message });
}
