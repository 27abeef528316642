//! `networking.k8s.io/v1`: Ingress and IngressClass.
//!
//! Mirrors `k8s.io/api/networking/v1/generated.proto`. An `IngressRule` inlines its
//! `IngressRuleValue` (`rules[].http`). One name differs from the `.proto`: the field it calls
//! `aPIGroup` is `apiGroup` in JSON. Left out: NetworkPolicy, IPAddress and ServiceCIDR, which
//! Skiff does not serve.

use super::core::TYPED_LOCAL_OBJECT_REFERENCE;
use super::meta::OBJECT_META;
use super::Kind::{Int, Str};
use super::{inline, list, message, messages, pointer, value, Message};

pub static INGRESS: Message = Message {
    name: "Ingress",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(2, "spec", &INGRESS_SPEC),
        message(3, "status", &INGRESS_STATUS),
    ],
};

static INGRESS_SPEC: Message = Message {
    name: "IngressSpec",
    fields: &[
        message(1, "defaultBackend", &INGRESS_BACKEND),
        messages(
            2,
            "tls",
            &Message { name: "IngressTLS", fields: &[list(1, "hosts", Str), value(2, "secretName", Str)] },
        ),
        messages(3, "rules", &INGRESS_RULE),
        pointer(4, "ingressClassName", Str),
    ],
};

static INGRESS_RULE: Message = Message {
    name: "IngressRule",
    fields: &[
        value(1, "host", Str),
        inline(
            2,
            &Message {
                name: "IngressRuleValue",
                fields: &[message(
                    1,
                    "http",
                    &Message { name: "HTTPIngressRuleValue", fields: &[messages(1, "paths", &HTTP_INGRESS_PATH)] },
                )],
            },
        ),
    ],
};

static HTTP_INGRESS_PATH: Message = Message {
    name: "HTTPIngressPath",
    fields: &[value(1, "path", Str), message(2, "backend", &INGRESS_BACKEND), pointer(3, "pathType", Str)],
};

static INGRESS_BACKEND: Message = Message {
    name: "IngressBackend",
    fields: &[
        message(3, "resource", &TYPED_LOCAL_OBJECT_REFERENCE),
        message(
            4,
            "service",
            &Message {
                name: "IngressServiceBackend",
                fields: &[
                    value(1, "name", Str),
                    message(
                        2,
                        "port",
                        &Message {
                            name: "ServiceBackendPort",
                            fields: &[value(1, "name", Str), value(2, "number", Int)],
                        },
                    ),
                ],
            },
        ),
    ],
};

static INGRESS_STATUS: Message = Message {
    name: "IngressStatus",
    fields: &[message(
        1,
        "loadBalancer",
        &Message {
            name: "IngressLoadBalancerStatus",
            fields: &[messages(
                1,
                "ingress",
                &Message {
                    name: "IngressLoadBalancerIngress",
                    fields: &[
                        value(1, "ip", Str),
                        value(2, "hostname", Str),
                        messages(
                            4,
                            "ports",
                            &Message {
                                name: "IngressPortStatus",
                                fields: &[value(1, "port", Int), value(2, "protocol", Str), pointer(3, "error", Str)],
                            },
                        ),
                    ],
                },
            )],
        },
    )],
};

pub static INGRESS_CLASS: Message = Message {
    name: "IngressClass",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(
            2,
            "spec",
            &Message {
                name: "IngressClassSpec",
                fields: &[
                    value(1, "controller", Str),
                    message(
                        2,
                        "parameters",
                        &Message {
                            name: "IngressClassParametersReference",
                            fields: &[
                                pointer(1, "apiGroup", Str),
                                value(2, "kind", Str),
                                value(3, "name", Str),
                                pointer(4, "scope", Str),
                                pointer(5, "namespace", Str),
                            ],
                        },
                    ),
                ],
            },
        ),
    ],
};
