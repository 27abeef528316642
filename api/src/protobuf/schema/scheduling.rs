//! `core/v1` scheduling constraints: node and pod (anti-)affinity, taints and tolerations, and
//! topology spread constraints.
//!
//! Mirrors `k8s.io/api/core/v1/generated.proto`. The scheduler reads these from the pod spec
//! ([`super::pod`]); a node carries its taints ([`super::core`]).

use super::meta::LABEL_SELECTOR;
use super::Kind::{Int, Str, Time};
use super::{list, message, messages, pointer, value, Message};

pub static AFFINITY: Message = Message {
    name: "Affinity",
    fields: &[
        message(1, "nodeAffinity", &NODE_AFFINITY),
        message(2, "podAffinity", &POD_AFFINITY),
        message(3, "podAntiAffinity", &POD_ANTI_AFFINITY),
    ],
};

static NODE_AFFINITY: Message = Message {
    name: "NodeAffinity",
    fields: &[
        message(1, "requiredDuringSchedulingIgnoredDuringExecution", &NODE_SELECTOR),
        messages(2, "preferredDuringSchedulingIgnoredDuringExecution", &PREFERRED_SCHEDULING_TERM),
    ],
};

pub static NODE_SELECTOR: Message =
    Message { name: "NodeSelector", fields: &[messages(1, "nodeSelectorTerms", &NODE_SELECTOR_TERM)] };

static NODE_SELECTOR_TERM: Message = Message {
    name: "NodeSelectorTerm",
    fields: &[
        messages(1, "matchExpressions", &NODE_SELECTOR_REQUIREMENT),
        messages(2, "matchFields", &NODE_SELECTOR_REQUIREMENT),
    ],
};

static NODE_SELECTOR_REQUIREMENT: Message = Message {
    name: "NodeSelectorRequirement",
    fields: &[value(1, "key", Str), value(2, "operator", Str), list(3, "values", Str)],
};

static PREFERRED_SCHEDULING_TERM: Message = Message {
    name: "PreferredSchedulingTerm",
    fields: &[value(1, "weight", Int), message(2, "preference", &NODE_SELECTOR_TERM)],
};

static POD_AFFINITY: Message = Message {
    name: "PodAffinity",
    fields: &[
        messages(1, "requiredDuringSchedulingIgnoredDuringExecution", &POD_AFFINITY_TERM),
        messages(2, "preferredDuringSchedulingIgnoredDuringExecution", &WEIGHTED_POD_AFFINITY_TERM),
    ],
};

/// The same two lists as [`POD_AFFINITY`], read as "not near".
static POD_ANTI_AFFINITY: Message = Message { name: "PodAntiAffinity", fields: POD_AFFINITY.fields };

static POD_AFFINITY_TERM: Message = Message {
    name: "PodAffinityTerm",
    fields: &[
        message(1, "labelSelector", &LABEL_SELECTOR),
        list(2, "namespaces", Str),
        value(3, "topologyKey", Str),
        message(4, "namespaceSelector", &LABEL_SELECTOR),
        list(5, "matchLabelKeys", Str),
        list(6, "mismatchLabelKeys", Str),
    ],
};

static WEIGHTED_POD_AFFINITY_TERM: Message = Message {
    name: "WeightedPodAffinityTerm",
    fields: &[value(1, "weight", Int), message(2, "podAffinityTerm", &POD_AFFINITY_TERM)],
};

pub static TOLERATION: Message = Message {
    name: "Toleration",
    fields: &[
        value(1, "key", Str),
        value(2, "operator", Str),
        value(3, "value", Str),
        value(4, "effect", Str),
        pointer(5, "tolerationSeconds", Int),
    ],
};

pub static TAINT: Message = Message {
    name: "Taint",
    fields: &[value(1, "key", Str), value(2, "value", Str), value(3, "effect", Str), pointer(4, "timeAdded", Time)],
};

pub static TOPOLOGY_SPREAD_CONSTRAINT: Message = Message {
    name: "TopologySpreadConstraint",
    fields: &[
        value(1, "maxSkew", Int),
        value(2, "topologyKey", Str),
        value(3, "whenUnsatisfiable", Str),
        message(4, "labelSelector", &LABEL_SELECTOR),
        pointer(5, "minDomains", Int),
        pointer(6, "nodeAffinityPolicy", Str),
        pointer(7, "nodeTaintsPolicy", Str),
        list(8, "matchLabelKeys", Str),
    ],
};
