//! `apps/v1`: Deployment, ReplicaSet, StatefulSet, DaemonSet and ControllerRevision.
//!
//! Mirrors `k8s.io/api/apps/v1/generated.proto`. Each workload is a label selector, a pod
//! template ([`super::pod::POD_TEMPLATE_SPEC`]) and an update strategy; its status counts pods.

use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::pod::POD_TEMPLATE_SPEC;
use super::storage::PERSISTENT_VOLUME_CLAIM;
use super::Kind::{Bool, Int, IntOrString, RawJson, Str, Time};
use super::{always, message, messages, pointer, value, Message};

pub static DEPLOYMENT: Message = Message {
    name: "Deployment",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(2, "spec", &DEPLOYMENT_SPEC),
        message(3, "status", &DEPLOYMENT_STATUS),
    ],
};

static DEPLOYMENT_SPEC: Message = Message {
    name: "DeploymentSpec",
    fields: &[
        pointer(1, "replicas", Int),
        message(2, "selector", &LABEL_SELECTOR),
        message(3, "template", &POD_TEMPLATE_SPEC),
        message(
            4,
            "strategy",
            &Message {
                name: "DeploymentStrategy",
                fields: &[value(1, "type", Str), message(2, "rollingUpdate", &ROLLING_UPDATE)],
            },
        ),
        value(5, "minReadySeconds", Int),
        pointer(6, "revisionHistoryLimit", Int),
        value(7, "paused", Bool),
        pointer(9, "progressDeadlineSeconds", Int),
        pointer(10, "podReplacementPolicy", Str),
    ],
};

/// `RollingUpdateDeployment` and `RollingUpdateDaemonSet`: `maxSurge: 0` is a setting, so both
/// are pointers.
static ROLLING_UPDATE: Message = Message {
    name: "RollingUpdateDeployment",
    fields: &[pointer(1, "maxUnavailable", IntOrString), pointer(2, "maxSurge", IntOrString)],
};

static DEPLOYMENT_STATUS: Message = Message {
    name: "DeploymentStatus",
    fields: &[
        value(1, "observedGeneration", Int),
        value(2, "replicas", Int),
        value(3, "updatedReplicas", Int),
        value(4, "availableReplicas", Int),
        value(5, "unavailableReplicas", Int),
        messages(
            6,
            "conditions",
            &Message {
                name: "DeploymentCondition",
                fields: &[
                    value(1, "type", Str),
                    value(2, "status", Str),
                    value(4, "reason", Str),
                    value(5, "message", Str),
                    value(6, "lastUpdateTime", Time),
                    value(7, "lastTransitionTime", Time),
                ],
            },
        ),
        value(7, "readyReplicas", Int),
        pointer(8, "collisionCount", Int),
        pointer(9, "terminatingReplicas", Int),
    ],
};

/// `ReplicaSetCondition`, `StatefulSetCondition` and `DaemonSetCondition` agree field by field.
static CONDITION: Message = Message {
    name: "ReplicaSetCondition",
    fields: &[
        value(1, "type", Str),
        value(2, "status", Str),
        value(3, "lastTransitionTime", Time),
        value(4, "reason", Str),
        value(5, "message", Str),
    ],
};

pub static REPLICA_SET: Message = Message {
    name: "ReplicaSet",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(
            2,
            "spec",
            &Message {
                name: "ReplicaSetSpec",
                fields: &[
                    pointer(1, "replicas", Int),
                    message(2, "selector", &LABEL_SELECTOR),
                    message(3, "template", &POD_TEMPLATE_SPEC),
                    value(4, "minReadySeconds", Int),
                ],
            },
        ),
        message(
            3,
            "status",
            &Message {
                name: "ReplicaSetStatus",
                fields: &[
                    always(1, "replicas", Int),
                    value(2, "fullyLabeledReplicas", Int),
                    value(3, "observedGeneration", Int),
                    value(4, "readyReplicas", Int),
                    value(5, "availableReplicas", Int),
                    messages(6, "conditions", &CONDITION),
                    pointer(7, "terminatingReplicas", Int),
                ],
            },
        ),
    ],
};

pub static STATEFUL_SET: Message = Message {
    name: "StatefulSet",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(2, "spec", &STATEFUL_SET_SPEC),
        message(3, "status", &STATEFUL_SET_STATUS),
    ],
};

static STATEFUL_SET_SPEC: Message = Message {
    name: "StatefulSetSpec",
    fields: &[
        pointer(1, "replicas", Int),
        message(2, "selector", &LABEL_SELECTOR),
        message(3, "template", &POD_TEMPLATE_SPEC),
        messages(4, "volumeClaimTemplates", &PERSISTENT_VOLUME_CLAIM),
        value(5, "serviceName", Str),
        value(6, "podManagementPolicy", Str),
        message(
            7,
            "updateStrategy",
            &Message {
                name: "StatefulSetUpdateStrategy",
                fields: &[
                    value(1, "type", Str),
                    message(
                        2,
                        "rollingUpdate",
                        &Message {
                            name: "RollingUpdateStatefulSetStrategy",
                            fields: &[pointer(1, "partition", Int), pointer(2, "maxUnavailable", IntOrString)],
                        },
                    ),
                ],
            },
        ),
        pointer(8, "revisionHistoryLimit", Int),
        value(9, "minReadySeconds", Int),
        message(
            10,
            "persistentVolumeClaimRetentionPolicy",
            &Message {
                name: "StatefulSetPersistentVolumeClaimRetentionPolicy",
                fields: &[value(1, "whenDeleted", Str), value(2, "whenScaled", Str)],
            },
        ),
        message(11, "ordinals", &Message { name: "StatefulSetOrdinals", fields: &[value(1, "start", Int)] }),
    ],
};

static STATEFUL_SET_STATUS: Message = Message {
    name: "StatefulSetStatus",
    fields: &[
        value(1, "observedGeneration", Int),
        always(2, "replicas", Int),
        value(3, "readyReplicas", Int),
        value(4, "currentReplicas", Int),
        value(5, "updatedReplicas", Int),
        value(6, "currentRevision", Str),
        value(7, "updateRevision", Str),
        pointer(9, "collisionCount", Int),
        messages(10, "conditions", &CONDITION),
        value(11, "availableReplicas", Int),
    ],
};

pub static DAEMON_SET: Message = Message {
    name: "DaemonSet",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(
            2,
            "spec",
            &Message {
                name: "DaemonSetSpec",
                fields: &[
                    message(1, "selector", &LABEL_SELECTOR),
                    message(2, "template", &POD_TEMPLATE_SPEC),
                    message(
                        3,
                        "updateStrategy",
                        &Message {
                            name: "DaemonSetUpdateStrategy",
                            fields: &[value(1, "type", Str), message(2, "rollingUpdate", &ROLLING_UPDATE)],
                        },
                    ),
                    value(4, "minReadySeconds", Int),
                    pointer(6, "revisionHistoryLimit", Int),
                ],
            },
        ),
        message(3, "status", &DAEMON_SET_STATUS),
    ],
};

static DAEMON_SET_STATUS: Message = Message {
    name: "DaemonSetStatus",
    fields: &[
        always(1, "currentNumberScheduled", Int),
        always(2, "numberMisscheduled", Int),
        always(3, "desiredNumberScheduled", Int),
        always(4, "numberReady", Int),
        value(5, "observedGeneration", Int),
        value(6, "updatedNumberScheduled", Int),
        value(7, "numberAvailable", Int),
        value(8, "numberUnavailable", Int),
        pointer(9, "collisionCount", Int),
        messages(10, "conditions", &CONDITION),
    ],
};

/// A snapshot of a StatefulSet's or DaemonSet's template; `data` is JSON, kept as it came.
pub static CONTROLLER_REVISION: Message = Message {
    name: "ControllerRevision",
    fields: &[message(1, "metadata", &OBJECT_META), value(2, "data", RawJson), value(3, "revision", Int)],
};
