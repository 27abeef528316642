//! Kubernetes Events, the lines under "Events:" in `kubectl describe`.
//!
//! Mirrors client-go's `record.EventRecorder` (`Eventf(object, type, reason, message)`): a
//! controller records and moves on; writing the `Event` objects (and counting repeats) is the
//! recorder's business, so [`EventRecorder::record`] is not async and cannot fail. (Over
//! `skiff_client::events::Recorder`, whose `record` is async: spawn it.) The reasons and messages
//! are Kubernetes' own, word for word, because people grep for them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
pub use skiff_client::events::{EventType, Reference};

use crate::fields;

/// One event about one object (its `involvedObject`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub regarding: Reference,
    pub type_: EventType,
    pub reason: String,
    pub message: String,
}

pub trait EventRecorder: Send + Sync {
    fn record(&self, event: Event);
}

/// Records `reason`/`message` about the `apps/v1` object of `kind` with `metadata`.
pub fn record(
    recorder: &dyn EventRecorder,
    kind: &str,
    metadata: &ObjectMeta,
    type_: EventType,
    reason: &str,
    message: String,
) {
    record_about(recorder, "apps/v1", kind, metadata, type_, reason, message);
}

/// Records `reason`/`message` about the object of `api_version` and `kind` with `metadata`.
pub fn record_about(
    recorder: &dyn EventRecorder,
    api_version: &str,
    kind: &str,
    metadata: &ObjectMeta,
    type_: EventType,
    reason: &str,
    message: String,
) {
    let regarding = Reference {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: metadata.namespace.clone(),
        name: fields::name(metadata).into(),
        uid: fields::uid(metadata).into(),
        field_path: None,
    };
    recorder.record(Event { regarding, type_, reason: reason.into(), message });
}
