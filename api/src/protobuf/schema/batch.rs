//! `batch/v1`: the Job.
//!
//! Mirrors `k8s.io/api/batch/v1/generated.proto`. Left out: CronJob and JobTemplateSpec; Skiff
//! does not serve CronJobs yet, so their URLs answer 404 before any body is read.

use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::pod::POD_TEMPLATE_SPEC;
use super::Kind::{Bool, Int, Str, Time};
use super::{list, message, messages, pointer, value, Message};

pub static JOB: Message = Message {
    name: "Job",
    fields: &[message(1, "metadata", &OBJECT_META), message(2, "spec", &JOB_SPEC), message(3, "status", &JOB_STATUS)],
};

static JOB_SPEC: Message = Message {
    name: "JobSpec",
    fields: &[
        pointer(1, "parallelism", Int),
        pointer(2, "completions", Int),
        pointer(3, "activeDeadlineSeconds", Int),
        message(4, "selector", &LABEL_SELECTOR),
        pointer(5, "manualSelector", Bool),
        message(6, "template", &POD_TEMPLATE_SPEC),
        pointer(7, "backoffLimit", Int),
        pointer(8, "ttlSecondsAfterFinished", Int),
        pointer(9, "completionMode", Str),
        pointer(10, "suspend", Bool),
        message(
            11,
            "podFailurePolicy",
            &Message { name: "PodFailurePolicy", fields: &[messages(1, "rules", &POD_FAILURE_POLICY_RULE)] },
        ),
        pointer(12, "backoffLimitPerIndex", Int),
        pointer(13, "maxFailedIndexes", Int),
        pointer(14, "podReplacementPolicy", Str),
        pointer(15, "managedBy", Str),
        message(
            16,
            "successPolicy",
            &Message {
                name: "SuccessPolicy",
                fields: &[messages(
                    1,
                    "rules",
                    &Message {
                        name: "SuccessPolicyRule",
                        fields: &[pointer(1, "succeededIndexes", Str), pointer(2, "succeededCount", Int)],
                    },
                )],
            },
        ),
    ],
};

static POD_FAILURE_POLICY_RULE: Message = Message {
    name: "PodFailurePolicyRule",
    fields: &[
        value(1, "action", Str),
        message(
            2,
            "onExitCodes",
            &Message {
                name: "PodFailurePolicyOnExitCodesRequirement",
                fields: &[pointer(1, "containerName", Str), value(2, "operator", Str), list(3, "values", Int)],
            },
        ),
        messages(
            3,
            "onPodConditions",
            &Message {
                name: "PodFailurePolicyOnPodConditionsPattern",
                fields: &[value(1, "type", Str), value(2, "status", Str)],
            },
        ),
    ],
};

static JOB_STATUS: Message = Message {
    name: "JobStatus",
    fields: &[
        messages(
            1,
            "conditions",
            &Message {
                name: "JobCondition",
                fields: &[
                    value(1, "type", Str),
                    value(2, "status", Str),
                    value(3, "lastProbeTime", Time),
                    value(4, "lastTransitionTime", Time),
                    value(5, "reason", Str),
                    value(6, "message", Str),
                ],
            },
        ),
        pointer(2, "startTime", Time),
        pointer(3, "completionTime", Time),
        value(4, "active", Int),
        value(5, "succeeded", Int),
        value(6, "failed", Int),
        value(7, "completedIndexes", Str),
        message(
            8,
            "uncountedTerminatedPods",
            &Message { name: "UncountedTerminatedPods", fields: &[list(1, "succeeded", Str), list(2, "failed", Str)] },
        ),
        pointer(9, "ready", Int),
        pointer(10, "failedIndexes", Str),
        pointer(11, "terminating", Int),
    ],
};
