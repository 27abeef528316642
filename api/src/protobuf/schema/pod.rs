//! `core/v1` pods: the Pod, the pod template every workload embeds, the pod spec, and the status
//! the kubelet reports.
//!
//! Mirrors `k8s.io/api/core/v1/generated.proto`. Containers are in [`super::container`], volumes
//! in [`super::volume`], scheduling constraints in [`super::scheduling`]. Left out: the status
//! details of dynamic resource allocation (`extendedResourceClaimStatus`, container `user` and
//! `allocatedResourcesStatus`) and `workloadRef`, all alpha.

use super::container::{CONTAINER, PROFILE, RESOURCE_REQUIREMENTS, SE_LINUX_OPTIONS, WINDOWS_SECURITY_CONTEXT_OPTIONS};
use super::core::LOCAL_OBJECT_REFERENCE;
use super::meta::OBJECT_META;
use super::scheduling::{AFFINITY, TOLERATION, TOPOLOGY_SPREAD_CONSTRAINT};
use super::volume::VOLUME;
use super::Kind::{Bool, Int, Quantity, Str, Time};
use super::{always, inline, list, map, message, messages, pointer, value, Message};

pub static POD: Message = Message {
    name: "Pod",
    fields: &[message(1, "metadata", &OBJECT_META), message(2, "spec", &POD_SPEC), message(3, "status", &POD_STATUS)],
};

/// What Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs stamp pods from.
pub static POD_TEMPLATE_SPEC: Message =
    Message { name: "PodTemplateSpec", fields: &[message(1, "metadata", &OBJECT_META), message(2, "spec", &POD_SPEC)] };

static POD_SPEC: Message = Message {
    name: "PodSpec",
    fields: &[
        messages(1, "volumes", &VOLUME),
        messages(2, "containers", &CONTAINER),
        value(3, "restartPolicy", Str),
        pointer(4, "terminationGracePeriodSeconds", Int),
        pointer(5, "activeDeadlineSeconds", Int),
        value(6, "dnsPolicy", Str),
        map(7, "nodeSelector", Str),
        value(8, "serviceAccountName", Str),
        value(9, "serviceAccount", Str),
        value(10, "nodeName", Str),
        value(11, "hostNetwork", Bool),
        value(12, "hostPID", Bool),
        value(13, "hostIPC", Bool),
        message(14, "securityContext", &POD_SECURITY_CONTEXT),
        messages(15, "imagePullSecrets", &LOCAL_OBJECT_REFERENCE),
        value(16, "hostname", Str),
        value(17, "subdomain", Str),
        message(18, "affinity", &AFFINITY),
        value(19, "schedulerName", Str),
        messages(20, "initContainers", &CONTAINER),
        pointer(21, "automountServiceAccountToken", Bool),
        messages(22, "tolerations", &TOLERATION),
        messages(
            23,
            "hostAliases",
            &Message { name: "HostAlias", fields: &[value(1, "ip", Str), list(2, "hostnames", Str)] },
        ),
        value(24, "priorityClassName", Str),
        pointer(25, "priority", Int),
        message(26, "dnsConfig", &POD_DNS_CONFIG),
        pointer(27, "shareProcessNamespace", Bool),
        messages(
            28,
            "readinessGates",
            &Message { name: "PodReadinessGate", fields: &[value(1, "conditionType", Str)] },
        ),
        pointer(29, "runtimeClassName", Str),
        pointer(30, "enableServiceLinks", Bool),
        pointer(31, "preemptionPolicy", Str),
        map(32, "overhead", Quantity),
        messages(33, "topologySpreadConstraints", &TOPOLOGY_SPREAD_CONSTRAINT),
        messages(
            34,
            "ephemeralContainers",
            &Message {
                name: "EphemeralContainer",
                fields: &[inline(1, &CONTAINER), value(2, "targetContainerName", Str)],
            },
        ),
        pointer(35, "setHostnameAsFQDN", Bool),
        message(36, "os", &Message { name: "PodOS", fields: &[value(1, "name", Str)] }),
        pointer(37, "hostUsers", Bool),
        messages(38, "schedulingGates", &Message { name: "PodSchedulingGate", fields: &[value(1, "name", Str)] }),
        messages(
            39,
            "resourceClaims",
            &Message {
                name: "PodResourceClaim",
                fields: &[
                    value(1, "name", Str),
                    pointer(3, "resourceClaimName", Str),
                    pointer(4, "resourceClaimTemplateName", Str),
                ],
            },
        ),
        message(40, "resources", &RESOURCE_REQUIREMENTS),
        pointer(41, "hostnameOverride", Str),
    ],
};

static POD_SECURITY_CONTEXT: Message = Message {
    name: "PodSecurityContext",
    fields: &[
        message(1, "seLinuxOptions", &SE_LINUX_OPTIONS),
        pointer(2, "runAsUser", Int),
        pointer(3, "runAsNonRoot", Bool),
        list(4, "supplementalGroups", Int),
        pointer(5, "fsGroup", Int),
        pointer(6, "runAsGroup", Int),
        messages(7, "sysctls", &Message { name: "Sysctl", fields: &[value(1, "name", Str), value(2, "value", Str)] }),
        message(8, "windowsOptions", &WINDOWS_SECURITY_CONTEXT_OPTIONS),
        pointer(9, "fsGroupChangePolicy", Str),
        message(10, "seccompProfile", &PROFILE),
        message(11, "appArmorProfile", &PROFILE),
        pointer(12, "supplementalGroupsPolicy", Str),
        pointer(13, "seLinuxChangePolicy", Str),
    ],
};

static POD_DNS_CONFIG: Message = Message {
    name: "PodDNSConfig",
    fields: &[
        list(1, "nameservers", Str),
        list(2, "searches", Str),
        messages(
            3,
            "options",
            &Message { name: "PodDNSConfigOption", fields: &[value(1, "name", Str), pointer(2, "value", Str)] },
        ),
    ],
};

static POD_STATUS: Message = Message {
    name: "PodStatus",
    fields: &[
        value(1, "phase", Str),
        messages(2, "conditions", &POD_CONDITION),
        value(3, "message", Str),
        value(4, "reason", Str),
        value(5, "hostIP", Str),
        value(6, "podIP", Str),
        pointer(7, "startTime", Time),
        messages(8, "containerStatuses", &CONTAINER_STATUS),
        value(9, "qosClass", Str),
        messages(10, "initContainerStatuses", &CONTAINER_STATUS),
        value(11, "nominatedNodeName", Str),
        messages(12, "podIPs", &IP),
        messages(13, "ephemeralContainerStatuses", &CONTAINER_STATUS),
        value(14, "resize", Str),
        messages(
            15,
            "resourceClaimStatuses",
            &Message {
                name: "PodResourceClaimStatus",
                fields: &[value(1, "name", Str), pointer(2, "resourceClaimName", Str)],
            },
        ),
        messages(16, "hostIPs", &IP),
        value(17, "observedGeneration", Int),
        map(19, "allocatedResources", Quantity),
        message(20, "resources", &RESOURCE_REQUIREMENTS),
    ],
};

/// `PodIP` and `HostIP`: one address.
static IP: Message = Message { name: "PodIP", fields: &[value(1, "ip", Str)] };

static POD_CONDITION: Message = Message {
    name: "PodCondition",
    fields: &[
        value(1, "type", Str),
        value(2, "status", Str),
        value(3, "lastProbeTime", Time),
        value(4, "lastTransitionTime", Time),
        value(5, "reason", Str),
        value(6, "message", Str),
        value(7, "observedGeneration", Int),
    ],
};

static CONTAINER_STATUS: Message = Message {
    name: "ContainerStatus",
    fields: &[
        value(1, "name", Str),
        message(2, "state", &CONTAINER_STATE),
        message(3, "lastState", &CONTAINER_STATE),
        always(4, "ready", Bool),
        always(5, "restartCount", Int),
        value(6, "image", Str),
        value(7, "imageID", Str),
        value(8, "containerID", Str),
        pointer(9, "started", Bool),
        map(10, "allocatedResources", Quantity),
        message(11, "resources", &RESOURCE_REQUIREMENTS),
        messages(
            12,
            "volumeMounts",
            &Message {
                name: "VolumeMountStatus",
                fields: &[
                    value(1, "name", Str),
                    value(2, "mountPath", Str),
                    value(3, "readOnly", Bool),
                    pointer(4, "recursiveReadOnly", Str),
                ],
            },
        ),
        pointer(15, "stopSignal", Str),
    ],
};

static CONTAINER_STATE: Message = Message {
    name: "ContainerState",
    fields: &[
        message(
            1,
            "waiting",
            &Message { name: "ContainerStateWaiting", fields: &[value(1, "reason", Str), value(2, "message", Str)] },
        ),
        message(2, "running", &Message { name: "ContainerStateRunning", fields: &[value(1, "startedAt", Time)] }),
        message(
            3,
            "terminated",
            &Message {
                name: "ContainerStateTerminated",
                fields: &[
                    always(1, "exitCode", Int),
                    value(2, "signal", Int),
                    value(3, "reason", Str),
                    value(4, "message", Str),
                    value(5, "startedAt", Time),
                    value(6, "finishedAt", Time),
                    value(7, "containerID", Str),
                ],
            },
        ),
    ],
};
