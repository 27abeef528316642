//! The small API groups Skiff serves: `coordination.k8s.io/v1` (Lease), `discovery.k8s.io/v1`
//! (EndpointSlice) and `storage.k8s.io/v1` (StorageClass).
//!
//! Mirrors their `generated.proto` files in `k8s.io/api`. No kubectl generator sends these; Go
//! programs do (a controller's leader election renews a Lease through a typed client). Nearly every
//! field is a Go pointer here, so nearly every field is a `pointer`. Left out: the other kinds of
//! `storage.k8s.io` (CSIDriver, CSINode, VolumeAttachment…), which Skiff does not serve.

use super::core::OBJECT_REFERENCE;
use super::meta::OBJECT_META;
use super::Kind::{Bool, Int, MicroTime, Str};
use super::{list, map, message, messages, pointer, value, Message};

pub static LEASE: Message = Message {
    name: "Lease",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(
            2,
            "spec",
            &Message {
                name: "LeaseSpec",
                fields: &[
                    pointer(1, "holderIdentity", Str),
                    pointer(2, "leaseDurationSeconds", Int),
                    pointer(3, "acquireTime", MicroTime),
                    pointer(4, "renewTime", MicroTime),
                    pointer(5, "leaseTransitions", Int),
                    pointer(6, "strategy", Str),
                    pointer(7, "preferredHolder", Str),
                ],
            },
        ),
    ],
};

pub static ENDPOINT_SLICE: Message = Message {
    name: "EndpointSlice",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        messages(2, "endpoints", &ENDPOINT),
        messages(
            3,
            "ports",
            &Message {
                name: "EndpointPort",
                fields: &[
                    pointer(1, "name", Str),
                    pointer(2, "protocol", Str),
                    pointer(3, "port", Int),
                    pointer(4, "appProtocol", Str),
                ],
            },
        ),
        value(4, "addressType", Str),
    ],
};

static ENDPOINT: Message = Message {
    name: "Endpoint",
    fields: &[
        list(1, "addresses", Str),
        message(
            2,
            "conditions",
            &Message {
                name: "EndpointConditions",
                fields: &[pointer(1, "ready", Bool), pointer(2, "serving", Bool), pointer(3, "terminating", Bool)],
            },
        ),
        pointer(3, "hostname", Str),
        message(4, "targetRef", &OBJECT_REFERENCE),
        map(5, "deprecatedTopology", Str),
        pointer(6, "nodeName", Str),
        pointer(7, "zone", Str),
        message(
            8,
            "hints",
            &Message {
                name: "EndpointHints",
                fields: &[messages(1, "forZones", &Message { name: "ForZone", fields: &[value(1, "name", Str)] })],
            },
        ),
    ],
};

pub static STORAGE_CLASS: Message = Message {
    name: "StorageClass",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        value(2, "provisioner", Str),
        map(3, "parameters", Str),
        pointer(4, "reclaimPolicy", Str),
        list(5, "mountOptions", Str),
        pointer(6, "allowVolumeExpansion", Bool),
        pointer(7, "volumeBindingMode", Str),
        messages(
            8,
            "allowedTopologies",
            &Message {
                name: "TopologySelectorTerm",
                fields: &[messages(
                    1,
                    "matchLabelExpressions",
                    &Message {
                        name: "TopologySelectorLabelRequirement",
                        fields: &[value(1, "key", Str), list(2, "values", Str)],
                    },
                )],
            },
        ),
    ],
};
