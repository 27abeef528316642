//! `core/v1` containers: image and command, ports, environment, resources, mounts, probes,
//! lifecycle hooks and security contexts.
//!
//! Mirrors `k8s.io/api/core/v1/generated.proto`. `EphemeralContainerCommon` repeats every field of
//! `Container` under the same numbers, so [`super::pod`] reads ephemeral containers with
//! [`CONTAINER`] too.

use super::core::LOCAL_OBJECT_REFERENCE;
use super::Kind::{Bool, Int, IntOrString, Quantity, Str};
use super::{always, inline, list, map, message, messages, pointer, value, Message};

pub static CONTAINER: Message = Message {
    name: "Container",
    fields: &[
        value(1, "name", Str),
        value(2, "image", Str),
        list(3, "command", Str),
        list(4, "args", Str),
        value(5, "workingDir", Str),
        messages(6, "ports", &CONTAINER_PORT),
        messages(7, "env", &ENV_VAR),
        message(8, "resources", &RESOURCE_REQUIREMENTS),
        messages(9, "volumeMounts", &VOLUME_MOUNT),
        message(10, "livenessProbe", &PROBE),
        message(11, "readinessProbe", &PROBE),
        message(12, "lifecycle", &LIFECYCLE),
        value(13, "terminationMessagePath", Str),
        value(14, "imagePullPolicy", Str),
        message(15, "securityContext", &SECURITY_CONTEXT),
        value(16, "stdin", Bool),
        value(17, "stdinOnce", Bool),
        value(18, "tty", Bool),
        messages(19, "envFrom", &ENV_FROM_SOURCE),
        value(20, "terminationMessagePolicy", Str),
        messages(
            21,
            "volumeDevices",
            &Message { name: "VolumeDevice", fields: &[value(1, "name", Str), value(2, "devicePath", Str)] },
        ),
        message(22, "startupProbe", &PROBE),
        messages(
            23,
            "resizePolicy",
            &Message {
                name: "ContainerResizePolicy",
                fields: &[value(1, "resourceName", Str), value(2, "restartPolicy", Str)],
            },
        ),
        pointer(24, "restartPolicy", Str),
        messages(25, "restartPolicyRules", &CONTAINER_RESTART_RULE),
    ],
};

static CONTAINER_PORT: Message = Message {
    name: "ContainerPort",
    fields: &[
        value(1, "name", Str),
        value(2, "hostPort", Int),
        always(3, "containerPort", Int),
        value(4, "protocol", Str),
        value(5, "hostIP", Str),
    ],
};

static CONTAINER_RESTART_RULE: Message = Message {
    name: "ContainerRestartRule",
    fields: &[
        value(1, "action", Str),
        message(
            2,
            "exitCodes",
            &Message {
                name: "ContainerRestartRuleOnExitCodes",
                fields: &[value(1, "operator", Str), list(2, "values", Int)],
            },
        ),
    ],
};

static ENV_VAR: Message = Message {
    name: "EnvVar",
    fields: &[value(1, "name", Str), value(2, "value", Str), message(3, "valueFrom", &ENV_VAR_SOURCE)],
};

static ENV_VAR_SOURCE: Message = Message {
    name: "EnvVarSource",
    fields: &[
        message(1, "fieldRef", &OBJECT_FIELD_SELECTOR),
        message(2, "resourceFieldRef", &RESOURCE_FIELD_SELECTOR),
        message(3, "configMapKeyRef", &KEY_SELECTOR),
        message(4, "secretKeyRef", &KEY_SELECTOR),
        message(
            5,
            "fileKeyRef",
            &Message {
                name: "FileKeySelector",
                fields: &[
                    value(1, "volumeName", Str),
                    value(2, "path", Str),
                    value(3, "key", Str),
                    pointer(4, "optional", Bool),
                ],
            },
        ),
    ],
};

/// `ConfigMapKeySelector` and `SecretKeySelector`: the same three fields, the name inlined.
static KEY_SELECTOR: Message = Message {
    name: "ConfigMapKeySelector",
    fields: &[inline(1, &LOCAL_OBJECT_REFERENCE), value(2, "key", Str), pointer(3, "optional", Bool)],
};

pub static OBJECT_FIELD_SELECTOR: Message =
    Message { name: "ObjectFieldSelector", fields: &[value(1, "apiVersion", Str), value(2, "fieldPath", Str)] };

pub static RESOURCE_FIELD_SELECTOR: Message = Message {
    name: "ResourceFieldSelector",
    fields: &[value(1, "containerName", Str), value(2, "resource", Str), value(3, "divisor", Quantity)],
};

static ENV_FROM_SOURCE: Message = Message {
    name: "EnvFromSource",
    fields: &[value(1, "prefix", Str), message(2, "configMapRef", &ENV_SOURCE), message(3, "secretRef", &ENV_SOURCE)],
};

/// `ConfigMapEnvSource` and `SecretEnvSource`: a name (inlined) and whether it may be missing.
static ENV_SOURCE: Message =
    Message { name: "ConfigMapEnvSource", fields: &[inline(1, &LOCAL_OBJECT_REFERENCE), pointer(2, "optional", Bool)] };

pub static RESOURCE_REQUIREMENTS: Message = Message {
    name: "ResourceRequirements",
    fields: &[
        map(1, "limits", Quantity),
        map(2, "requests", Quantity),
        messages(
            3,
            "claims",
            &Message { name: "ResourceClaim", fields: &[value(1, "name", Str), value(2, "request", Str)] },
        ),
    ],
};

static VOLUME_MOUNT: Message = Message {
    name: "VolumeMount",
    fields: &[
        value(1, "name", Str),
        value(2, "readOnly", Bool),
        value(3, "mountPath", Str),
        value(4, "subPath", Str),
        pointer(5, "mountPropagation", Str),
        value(6, "subPathExpr", Str),
        pointer(7, "recursiveReadOnly", Str),
    ],
};

/// A probe: its handler (`exec`, `httpGet`, `tcpSocket`, `grpc`) is inlined, then the timings.
static PROBE: Message = Message {
    name: "Probe",
    fields: &[
        inline(
            1,
            &Message {
                name: "ProbeHandler",
                fields: &[
                    message(1, "exec", &EXEC_ACTION),
                    message(2, "httpGet", &HTTP_GET_ACTION),
                    message(3, "tcpSocket", &TCP_SOCKET_ACTION),
                    message(
                        4,
                        "grpc",
                        &Message { name: "GRPCAction", fields: &[value(1, "port", Int), pointer(2, "service", Str)] },
                    ),
                ],
            },
        ),
        value(2, "initialDelaySeconds", Int),
        value(3, "timeoutSeconds", Int),
        value(4, "periodSeconds", Int),
        value(5, "successThreshold", Int),
        value(6, "failureThreshold", Int),
        pointer(7, "terminationGracePeriodSeconds", Int),
    ],
};

static EXEC_ACTION: Message = Message { name: "ExecAction", fields: &[list(1, "command", Str)] };

static HTTP_GET_ACTION: Message = Message {
    name: "HTTPGetAction",
    fields: &[
        value(1, "path", Str),
        value(2, "port", IntOrString),
        value(3, "host", Str),
        value(4, "scheme", Str),
        messages(
            5,
            "httpHeaders",
            &Message { name: "HTTPHeader", fields: &[value(1, "name", Str), value(2, "value", Str)] },
        ),
    ],
};

static TCP_SOCKET_ACTION: Message =
    Message { name: "TCPSocketAction", fields: &[value(1, "port", IntOrString), value(2, "host", Str)] };

static LIFECYCLE: Message = Message {
    name: "Lifecycle",
    fields: &[
        message(1, "postStart", &LIFECYCLE_HANDLER),
        message(2, "preStop", &LIFECYCLE_HANDLER),
        pointer(3, "stopSignal", Str),
    ],
};

static LIFECYCLE_HANDLER: Message = Message {
    name: "LifecycleHandler",
    fields: &[
        message(1, "exec", &EXEC_ACTION),
        message(2, "httpGet", &HTTP_GET_ACTION),
        message(3, "tcpSocket", &TCP_SOCKET_ACTION),
        message(4, "sleep", &Message { name: "SleepAction", fields: &[value(1, "seconds", Int)] }),
    ],
};

static SECURITY_CONTEXT: Message = Message {
    name: "SecurityContext",
    fields: &[
        message(
            1,
            "capabilities",
            &Message { name: "Capabilities", fields: &[list(1, "add", Str), list(2, "drop", Str)] },
        ),
        pointer(2, "privileged", Bool),
        message(3, "seLinuxOptions", &SE_LINUX_OPTIONS),
        pointer(4, "runAsUser", Int),
        pointer(5, "runAsNonRoot", Bool),
        pointer(6, "readOnlyRootFilesystem", Bool),
        pointer(7, "allowPrivilegeEscalation", Bool),
        pointer(8, "runAsGroup", Int),
        pointer(9, "procMount", Str),
        message(10, "windowsOptions", &WINDOWS_SECURITY_CONTEXT_OPTIONS),
        message(11, "seccompProfile", &PROFILE),
        message(12, "appArmorProfile", &PROFILE),
    ],
};

pub static SE_LINUX_OPTIONS: Message = Message {
    name: "SELinuxOptions",
    fields: &[value(1, "user", Str), value(2, "role", Str), value(3, "type", Str), value(4, "level", Str)],
};

pub static WINDOWS_SECURITY_CONTEXT_OPTIONS: Message = Message {
    name: "WindowsSecurityContextOptions",
    fields: &[
        pointer(1, "gmsaCredentialSpecName", Str),
        pointer(2, "gmsaCredentialSpec", Str),
        pointer(3, "runAsUserName", Str),
        pointer(4, "hostProcess", Bool),
    ],
};

/// `SeccompProfile` and `AppArmorProfile`: a type, and a profile on the node for `Localhost`.
pub static PROFILE: Message =
    Message { name: "SeccompProfile", fields: &[value(1, "type", Str), pointer(2, "localhostProfile", Str)] };
