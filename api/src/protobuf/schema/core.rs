//! `core/v1` objects other than pods and volumes: ConfigMap, Secret, Namespace, ServiceAccount,
//! Service, Endpoints, Event and Node, and the object references they share.
//!
//! Mirrors `k8s.io/api/core/v1/generated.proto`. Pods are in [`super::pod`], volumes and claims
//! in [`super::volume`], affinity, tolerations and taints in [`super::scheduling`].

use super::meta::{CONDITION, OBJECT_META};
use super::scheduling::TAINT;
use super::Kind::{Bool, Bytes, Int, IntOrString, MicroTime, Quantity, Str, Time};
use super::{list, map, message, messages, pointer, value, Message};

pub static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        map(2, "data", Str),
        map(3, "binaryData", Bytes),
        pointer(4, "immutable", Bool),
    ],
};

pub static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        map(2, "data", Bytes),
        value(3, "type", Str),
        map(4, "stringData", Str),
        pointer(5, "immutable", Bool),
    ],
};

pub static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(2, "spec", &Message { name: "NamespaceSpec", fields: &[list(1, "finalizers", Str)] }),
        message(3, "status", &NAMESPACE_STATUS),
    ],
};

static NAMESPACE_STATUS: Message = Message {
    name: "NamespaceStatus",
    fields: &[value(1, "phase", Str), messages(2, "conditions", &NAMESPACE_CONDITION)],
};

static NAMESPACE_CONDITION: Message = Message {
    name: "NamespaceCondition",
    fields: &[
        value(1, "type", Str),
        value(2, "status", Str),
        value(4, "lastTransitionTime", Time),
        value(5, "reason", Str),
        value(6, "message", Str),
    ],
};

pub static SERVICE_ACCOUNT: Message = Message {
    name: "ServiceAccount",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        messages(2, "secrets", &OBJECT_REFERENCE),
        messages(3, "imagePullSecrets", &LOCAL_OBJECT_REFERENCE),
        pointer(4, "automountServiceAccountToken", Bool),
    ],
};

pub static SERVICE: Message = Message {
    name: "Service",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(2, "spec", &SERVICE_SPEC),
        message(3, "status", &SERVICE_STATUS),
    ],
};

static SERVICE_SPEC: Message = Message {
    name: "ServiceSpec",
    fields: &[
        messages(1, "ports", &SERVICE_PORT),
        map(2, "selector", Str),
        value(3, "clusterIP", Str),
        value(4, "type", Str),
        list(5, "externalIPs", Str),
        value(7, "sessionAffinity", Str),
        value(8, "loadBalancerIP", Str),
        list(9, "loadBalancerSourceRanges", Str),
        value(10, "externalName", Str),
        value(11, "externalTrafficPolicy", Str),
        value(12, "healthCheckNodePort", Int),
        value(13, "publishNotReadyAddresses", Bool),
        message(14, "sessionAffinityConfig", &SESSION_AFFINITY_CONFIG),
        pointer(17, "ipFamilyPolicy", Str),
        list(18, "clusterIPs", Str),
        list(19, "ipFamilies", Str),
        pointer(20, "allocateLoadBalancerNodePorts", Bool),
        pointer(21, "loadBalancerClass", Str),
        pointer(22, "internalTrafficPolicy", Str),
        pointer(23, "trafficDistribution", Str),
    ],
};

static SERVICE_PORT: Message = Message {
    name: "ServicePort",
    fields: &[
        value(1, "name", Str),
        value(2, "protocol", Str),
        value(3, "port", Int),
        value(4, "targetPort", IntOrString),
        value(5, "nodePort", Int),
        pointer(6, "appProtocol", Str),
    ],
};

static SESSION_AFFINITY_CONFIG: Message = Message {
    name: "SessionAffinityConfig",
    fields: &[message(
        1,
        "clientIP",
        &Message { name: "ClientIPConfig", fields: &[pointer(1, "timeoutSeconds", Int)] },
    )],
};

static SERVICE_STATUS: Message = Message {
    name: "ServiceStatus",
    fields: &[message(1, "loadBalancer", &LOAD_BALANCER_STATUS), messages(2, "conditions", &CONDITION)],
};

static LOAD_BALANCER_STATUS: Message =
    Message { name: "LoadBalancerStatus", fields: &[messages(1, "ingress", &LOAD_BALANCER_INGRESS)] };

static LOAD_BALANCER_INGRESS: Message = Message {
    name: "LoadBalancerIngress",
    fields: &[
        value(1, "ip", Str),
        value(2, "hostname", Str),
        pointer(3, "ipMode", Str),
        messages(4, "ports", &PORT_STATUS),
    ],
};

static PORT_STATUS: Message = Message {
    name: "PortStatus",
    fields: &[value(1, "port", Int), value(2, "protocol", Str), pointer(3, "error", Str)],
};

pub static ENDPOINTS: Message = Message {
    name: "Endpoints",
    fields: &[message(1, "metadata", &OBJECT_META), messages(2, "subsets", &ENDPOINT_SUBSET)],
};

static ENDPOINT_SUBSET: Message = Message {
    name: "EndpointSubset",
    fields: &[
        messages(1, "addresses", &ENDPOINT_ADDRESS),
        messages(2, "notReadyAddresses", &ENDPOINT_ADDRESS),
        messages(3, "ports", &ENDPOINT_PORT),
    ],
};

static ENDPOINT_ADDRESS: Message = Message {
    name: "EndpointAddress",
    fields: &[
        value(1, "ip", Str),
        message(2, "targetRef", &OBJECT_REFERENCE),
        value(3, "hostname", Str),
        pointer(4, "nodeName", Str),
    ],
};

static ENDPOINT_PORT: Message = Message {
    name: "EndpointPort",
    fields: &[value(1, "name", Str), value(2, "port", Int), value(3, "protocol", Str), pointer(4, "appProtocol", Str)],
};

pub static EVENT: Message = Message {
    name: "Event",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(2, "involvedObject", &OBJECT_REFERENCE),
        value(3, "reason", Str),
        value(4, "message", Str),
        message(
            5,
            "source",
            &Message { name: "EventSource", fields: &[value(1, "component", Str), value(2, "host", Str)] },
        ),
        value(6, "firstTimestamp", Time),
        value(7, "lastTimestamp", Time),
        value(8, "count", Int),
        value(9, "type", Str),
        value(10, "eventTime", MicroTime),
        message(
            11,
            "series",
            &Message {
                name: "EventSeries",
                fields: &[value(1, "count", Int), value(2, "lastObservedTime", MicroTime)],
            },
        ),
        value(12, "action", Str),
        message(13, "related", &OBJECT_REFERENCE),
        value(14, "reportingComponent", Str),
        value(15, "reportingInstance", Str),
    ],
};

pub static NODE: Message = Message {
    name: "Node",
    fields: &[message(1, "metadata", &OBJECT_META), message(2, "spec", &NODE_SPEC), message(3, "status", &NODE_STATUS)],
};

static NODE_SPEC: Message = Message {
    name: "NodeSpec",
    fields: &[
        value(1, "podCIDR", Str),
        value(2, "externalID", Str),
        value(3, "providerID", Str),
        value(4, "unschedulable", Bool),
        messages(5, "taints", &TAINT),
        message(6, "configSource", &NODE_CONFIG_SOURCE),
        list(7, "podCIDRs", Str),
    ],
};

static NODE_CONFIG_SOURCE: Message = Message {
    name: "NodeConfigSource",
    fields: &[message(
        2,
        "configMap",
        &Message {
            name: "ConfigMapNodeConfigSource",
            fields: &[
                value(1, "namespace", Str),
                value(2, "name", Str),
                value(3, "uid", Str),
                value(4, "resourceVersion", Str),
                value(5, "kubeletConfigKey", Str),
            ],
        },
    )],
};

static NODE_STATUS: Message = Message {
    name: "NodeStatus",
    fields: &[
        map(1, "capacity", Quantity),
        map(2, "allocatable", Quantity),
        value(3, "phase", Str),
        messages(4, "conditions", &NODE_CONDITION),
        messages(
            5,
            "addresses",
            &Message { name: "NodeAddress", fields: &[value(1, "type", Str), value(2, "address", Str)] },
        ),
        message(
            6,
            "daemonEndpoints",
            &Message {
                name: "NodeDaemonEndpoints",
                fields: &[message(
                    1,
                    "kubeletEndpoint",
                    &Message { name: "DaemonEndpoint", fields: &[value(1, "Port", Int)] },
                )],
            },
        ),
        message(7, "nodeInfo", &NODE_SYSTEM_INFO),
        messages(
            8,
            "images",
            &Message { name: "ContainerImage", fields: &[list(1, "names", Str), value(2, "sizeBytes", Int)] },
        ),
        list(9, "volumesInUse", Str),
        messages(
            10,
            "volumesAttached",
            &Message { name: "AttachedVolume", fields: &[value(1, "name", Str), value(2, "devicePath", Str)] },
        ),
        message(
            11,
            "config",
            &Message {
                name: "NodeConfigStatus",
                fields: &[
                    message(1, "assigned", &NODE_CONFIG_SOURCE),
                    message(2, "active", &NODE_CONFIG_SOURCE),
                    message(3, "lastKnownGood", &NODE_CONFIG_SOURCE),
                    value(4, "error", Str),
                ],
            },
        ),
        messages(
            12,
            "runtimeHandlers",
            &Message {
                name: "NodeRuntimeHandler",
                fields: &[
                    value(1, "name", Str),
                    message(
                        2,
                        "features",
                        &Message {
                            name: "NodeRuntimeHandlerFeatures",
                            fields: &[pointer(1, "recursiveReadOnlyMounts", Bool), pointer(2, "userNamespaces", Bool)],
                        },
                    ),
                ],
            },
        ),
        message(
            13,
            "features",
            &Message { name: "NodeFeatures", fields: &[pointer(1, "supplementalGroupsPolicy", Bool)] },
        ),
    ],
};

static NODE_CONDITION: Message = Message {
    name: "NodeCondition",
    fields: &[
        value(1, "type", Str),
        value(2, "status", Str),
        value(3, "lastHeartbeatTime", Time),
        value(4, "lastTransitionTime", Time),
        value(5, "reason", Str),
        value(6, "message", Str),
    ],
};

static NODE_SYSTEM_INFO: Message = Message {
    name: "NodeSystemInfo",
    fields: &[
        value(1, "machineID", Str),
        value(2, "systemUUID", Str),
        value(3, "bootID", Str),
        value(4, "kernelVersion", Str),
        value(5, "osImage", Str),
        value(6, "containerRuntimeVersion", Str),
        value(7, "kubeletVersion", Str),
        value(8, "kubeProxyVersion", Str),
        value(9, "operatingSystem", Str),
        value(10, "architecture", Str),
        message(11, "swap", &Message { name: "NodeSwapStatus", fields: &[pointer(1, "capacity", Int)] }),
    ],
};

/// `LocalObjectReference`: a name in the same namespace. Often inlined (`configMapKeyRef.name`).
pub static LOCAL_OBJECT_REFERENCE: Message = Message { name: "LocalObjectReference", fields: &[value(1, "name", Str)] };

pub static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        value(1, "kind", Str),
        value(2, "namespace", Str),
        value(3, "name", Str),
        value(4, "uid", Str),
        value(5, "apiVersion", Str),
        value(6, "resourceVersion", Str),
        value(7, "fieldPath", Str),
    ],
};

pub static TYPED_LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "TypedLocalObjectReference",
    fields: &[pointer(1, "apiGroup", Str), value(2, "kind", Str), value(3, "name", Str)],
};

pub static SECRET_REFERENCE: Message =
    Message { name: "SecretReference", fields: &[value(1, "name", Str), value(2, "namespace", Str)] };
