//! The message schemas: for each Kubernetes message, its fields by number, with the JSON name and
//! the type that says how to turn the wire value into JSON.
//!
//! The field numbers are wire facts from Kubernetes' `generated.proto` files (read in
//! kubernetes/kubernetes `staging/src/k8s.io/api/*/v1` and `apimachinery/pkg/apis/meta/v1`, as of
//! 1.35, a superset of what kubectl 1.32/1.33 send); the JSON names are the Go `json` tags (checked
//! against k8s-openapi's types for 1.31, which lack only the fields added since). The tables are
//! Skiff's own, one line per field, so that a reader can check a line against the `.proto` by eye.
//! [`super::decode`] interprets them; nothing else knows them.
//!
//! Every kind Skiff serves is here; a protobuf body of any other kind is refused with 415, should
//! one reach the decoder.
//!
//! # How a line reads
//!
//! ```text
//! pointer(1, "replicas", Int)                   // optional int32 replicas = 1;  (Go: *int32)
//! value(5, "minReadySeconds", Int)              // optional int32 minReadySeconds = 5;  (Go: int32)
//! message(2, "selector", &meta::LABEL_SELECTOR) // optional LabelSelector selector = 2;
//! list(3, "command", Str)                       // repeated string command = 3;
//! messages(6, "ports", &CONTAINER_PORT)         // repeated ContainerPort ports = 6;
//! map(11, "labels", Str)                        // map<string, string> labels = 11;
//! inline(1, &LOCAL_OBJECT_REFERENCE)            // an embedded Go struct: its fields join ours
//! ```
//!
//! `value`, `pointer` and `always` differ the way Go's fields do. Kubernetes' encoder writes every non-pointer
//! field, zero or not (`hostPort: 0`, `stdin: false`, `name: ""`), while the JSON of the same object
//! leaves zeros out (`omitempty`); so a zero `value` is dropped. A pointer is written only when it
//! is set, and then a zero means something (`replicas: 0`, `automountServiceAccountToken: false`),
//! so a `pointer` is kept whatever it holds. `always` marks the few value fields whose JSON keeps a
//! zero because readers need it (`exitCode: 0`, `restartCount: 0`, a ReplicaSet's `replicas: 0`).

mod apps;
mod batch;
mod container;
mod core;
mod groups;
mod meta;
mod networking;
mod pod;
mod scheduling;
mod storage;
mod volume;

/// A protobuf message: a Go struct of the Kubernetes API.
pub struct Message {
    /// The message's name in `generated.proto`, for error messages.
    pub name: &'static str,
    pub fields: &'static [Field],
}

impl Message {
    pub fn field(&self, number: u32) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// One field of a message.
pub struct Field {
    pub number: u32,
    /// The JSON name (the Go `json` tag), empty for an inlined struct.
    pub json: &'static str,
    pub kind: Kind,
    pub shape: Shape,
}

/// What one value on the wire is, and which JSON it becomes.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `string` → a JSON string.
    Str,
    /// `int32`, `int64` → a JSON number.
    Int,
    /// `bool` → `true` / `false`.
    Bool,
    /// `bytes` → base64 text, as Go's `encoding/json` writes `[]byte`.
    Bytes,
    /// `resource.Quantity`, a message `{1: string}` → the string (`"500m"`).
    Quantity,
    /// `metav1.Time`, a message `{1: seconds, 2: nanos}` → RFC 3339 to the second.
    Time,
    /// `metav1.MicroTime` → RFC 3339 with six fractional digits.
    MicroTime,
    /// `intstr.IntOrString`, a message `{1: type, 2: intVal, 3: strVal}` → a number or a string.
    IntOrString,
    /// `runtime.RawExtension` and `metav1.FieldsV1`, a message `{1: bytes}` holding JSON → that JSON.
    RawJson,
    /// An embedded message → a JSON object.
    Message(&'static Message),
}

/// How many values a field holds and when it is written out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A Go value: always on the wire, dropped from the JSON when zero.
    Value,
    /// A Go pointer: on the wire only when set, kept even when zero.
    Pointer,
    /// A Go value whose JSON has no `omitempty`, where a zero is news (`exitCode: 0`): kept.
    Always,
    /// `repeated`: a JSON array.
    List,
    /// `map<string, kind>`: a JSON object; on the wire, entry messages `{1: key, 2: value}`.
    Map,
    /// An embedded Go struct without a JSON name of its own: its fields join the parent object.
    Inline,
}

pub const fn value(number: u32, json: &'static str, kind: Kind) -> Field {
    Field { number, json, kind, shape: Shape::Value }
}

pub const fn pointer(number: u32, json: &'static str, kind: Kind) -> Field {
    Field { number, json, kind, shape: Shape::Pointer }
}

pub const fn always(number: u32, json: &'static str, kind: Kind) -> Field {
    Field { number, json, kind, shape: Shape::Always }
}

/// A message-typed field. Kept even when empty: `emptyDir: {}` means "an emptyDir".
pub const fn message(number: u32, json: &'static str, message: &'static Message) -> Field {
    Field { number, json, kind: Kind::Message(message), shape: Shape::Value }
}

pub const fn list(number: u32, json: &'static str, kind: Kind) -> Field {
    Field { number, json, kind, shape: Shape::List }
}

/// A repeated message-typed field: a JSON array of objects.
pub const fn messages(number: u32, json: &'static str, message: &'static Message) -> Field {
    Field { number, json, kind: Kind::Message(message), shape: Shape::List }
}

pub const fn map(number: u32, json: &'static str, kind: Kind) -> Field {
    Field { number, json, kind, shape: Shape::Map }
}

pub const fn inline(number: u32, message: &'static Message) -> Field {
    Field { number, json: "", kind: Kind::Message(message), shape: Shape::Inline }
}

/// The top-level message of every kind the decoder reads, by `apiVersion` and `kind`.
const KINDS: &[(&str, &str, &Message)] = &[
    ("v1", "ConfigMap", &core::CONFIG_MAP),
    ("v1", "Endpoints", &core::ENDPOINTS),
    ("v1", "Event", &core::EVENT),
    ("v1", "Namespace", &core::NAMESPACE),
    ("v1", "Node", &core::NODE),
    ("v1", "PersistentVolume", &storage::PERSISTENT_VOLUME),
    ("v1", "PersistentVolumeClaim", &storage::PERSISTENT_VOLUME_CLAIM),
    ("v1", "Pod", &pod::POD),
    ("v1", "Secret", &core::SECRET),
    ("v1", "Service", &core::SERVICE),
    ("v1", "ServiceAccount", &core::SERVICE_ACCOUNT),
    ("apps/v1", "ControllerRevision", &apps::CONTROLLER_REVISION),
    ("apps/v1", "DaemonSet", &apps::DAEMON_SET),
    ("apps/v1", "Deployment", &apps::DEPLOYMENT),
    ("apps/v1", "ReplicaSet", &apps::REPLICA_SET),
    ("apps/v1", "StatefulSet", &apps::STATEFUL_SET),
    ("batch/v1", "Job", &batch::JOB),
    ("coordination.k8s.io/v1", "Lease", &groups::LEASE),
    ("discovery.k8s.io/v1", "EndpointSlice", &groups::ENDPOINT_SLICE),
    ("networking.k8s.io/v1", "Ingress", &networking::INGRESS),
    ("networking.k8s.io/v1", "IngressClass", &networking::INGRESS_CLASS),
    ("storage.k8s.io/v1", "StorageClass", &groups::STORAGE_CLASS),
];

/// The message of objects of this `apiVersion` and `kind`, if the decoder knows it.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    KINDS.iter().find(|(v, k, _)| *v == api_version && *k == kind).map(|(_, _, message)| *message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Visits every message reachable from the kinds, once.
    fn all_messages() -> Vec<&'static Message> {
        let mut seen: Vec<&'static Message> = Vec::new();
        let mut todo: Vec<&'static Message> = KINDS.iter().map(|(_, _, m)| *m).collect();
        while let Some(message) = todo.pop() {
            if seen.iter().any(|m| std::ptr::eq(*m, message)) {
                continue;
            }
            seen.push(message);
            todo.extend(message.fields.iter().filter_map(|f| match f.kind {
                Kind::Message(m) => Some(m),
                _ => None,
            }));
        }
        seen
    }

    #[test]
    fn no_message_uses_a_field_number_or_a_json_name_twice() {
        for message in all_messages() {
            for (i, field) in message.fields.iter().enumerate() {
                for other in &message.fields[i + 1..] {
                    assert_ne!(field.number, other.number, "{}: number {}", message.name, field.number);
                    if field.shape != Shape::Inline {
                        assert_ne!(field.json, other.json, "{}: {}", message.name, field.json);
                    }
                }
            }
        }
    }

    #[test]
    fn only_messages_are_inlined_and_only_inlined_fields_lack_a_name() {
        for message in all_messages() {
            for field in message.fields {
                let inline = field.shape == Shape::Inline;
                assert_eq!(inline, field.json.is_empty(), "{}.{}", message.name, field.number);
                if inline {
                    assert!(matches!(field.kind, Kind::Message(_)), "{}.{}", message.name, field.number);
                }
            }
        }
    }

    #[test]
    fn every_kind_starts_with_its_object_meta() {
        for (_, kind, message) in KINDS {
            let metadata = message.field(1).expect("field 1");
            assert_eq!(metadata.json, "metadata", "{kind}");
            assert!(matches!(metadata.kind, Kind::Message(m) if std::ptr::eq(m, &meta::OBJECT_META)), "{kind}");
        }
        assert!(by_kind("apps/v1", "Deployment").is_some());
        assert!(by_kind("v1", "Deployment").is_none());
    }
}
