//! `meta/v1`: the metadata every object carries, label selectors and conditions.
//!
//! Mirrors apimachinery's `pkg/apis/meta/v1/generated.proto`. `Time`, `MicroTime` and the
//! `FieldsV1` of managed fields have JSON forms of their own: they are [`Kind`]s, not tables.
//! Left out: `ListMeta` and the list kinds (a body is one object), and the option structs
//! (`CreateOptions`, `DeleteOptions`: kubectl sends query parameters, or JSON).
//!
//! [`Kind`]: super::Kind

use super::Kind::{Bool, Int, RawJson, Str, Time};
use super::{list, map, messages, pointer, value, Message};

pub static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        value(1, "name", Str),
        value(2, "generateName", Str),
        value(3, "namespace", Str),
        value(4, "selfLink", Str),
        value(5, "uid", Str),
        value(6, "resourceVersion", Str),
        value(7, "generation", Int),
        value(8, "creationTimestamp", Time),
        pointer(9, "deletionTimestamp", Time),
        pointer(10, "deletionGracePeriodSeconds", Int),
        map(11, "labels", Str),
        map(12, "annotations", Str),
        messages(13, "ownerReferences", &OWNER_REFERENCE),
        list(14, "finalizers", Str),
        messages(17, "managedFields", &MANAGED_FIELDS_ENTRY),
    ],
};

pub static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        value(1, "kind", Str),
        value(3, "name", Str),
        value(4, "uid", Str),
        value(5, "apiVersion", Str),
        pointer(6, "controller", Bool),
        pointer(7, "blockOwnerDeletion", Bool),
    ],
};

pub static MANAGED_FIELDS_ENTRY: Message = Message {
    name: "ManagedFieldsEntry",
    fields: &[
        value(1, "manager", Str),
        value(2, "operation", Str),
        value(3, "apiVersion", Str),
        pointer(4, "time", Time),
        value(6, "fieldsType", Str),
        pointer(7, "fieldsV1", RawJson),
        value(8, "subresource", Str),
    ],
};

pub static LABEL_SELECTOR: Message = Message {
    name: "LabelSelector",
    fields: &[map(1, "matchLabels", Str), messages(2, "matchExpressions", &LABEL_SELECTOR_REQUIREMENT)],
};

pub static LABEL_SELECTOR_REQUIREMENT: Message = Message {
    name: "LabelSelectorRequirement",
    fields: &[value(1, "key", Str), value(2, "operator", Str), list(3, "values", Str)],
};

/// `metav1.Condition`, the condition type of newer APIs (Service status, ServiceCIDR…).
pub static CONDITION: Message = Message {
    name: "Condition",
    fields: &[
        value(1, "type", Str),
        value(2, "status", Str),
        value(3, "observedGeneration", Int),
        value(4, "lastTransitionTime", Time),
        value(5, "reason", Str),
        value(6, "message", Str),
    ],
};
