//! The kubelet's event reasons and messages, as Kubernetes spells them.
//!
//! Mirrors `pkg/kubelet/events/event.go` (the reason constants) and the messages of
//! `kuberuntime_container.go`, `images/image_manager.go` and `prober/prober.go`. Events about a
//! container carry the field path `spec.containers{web}` (or `spec.initContainers{init}`), so
//! `kubectl describe pod` shows them in its container's column.

use k8s_openapi::api::core::v1::Pod;
use skiff_client::events::{EventType, Recorder, Reference};

pub const CREATED: &str = "Created";
pub const STARTED: &str = "Started";
pub const FAILED: &str = "Failed";
pub const KILLING: &str = "Killing";
pub const BACK_OFF: &str = "BackOff";
pub const PULLING: &str = "Pulling";
pub const PULLED: &str = "Pulled";
pub const ERR_IMAGE_NEVER_PULL: &str = "ErrImageNeverPull";
pub const FAILED_MOUNT: &str = "FailedMount";
pub const FAILED_CREATE_POD_SANDBOX: &str = "FailedCreatePodSandBox";
pub const SANDBOX_CHANGED: &str = "SandboxChanged";
pub const FAILED_PRE_STOP_HOOK: &str = "FailedPreStopHook";
pub const FAILED_POST_START_HOOK: &str = "FailedPostStartHook";

/// Container waiting reasons (`kubecontainer` and `images` errors).
pub const CONTAINER_CREATING: &str = "ContainerCreating";
pub const CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";
pub const CREATE_CONTAINER_CONFIG_ERROR: &str = "CreateContainerConfigError";
pub const CREATE_CONTAINER_ERROR: &str = "CreateContainerError";
pub const RUN_CONTAINER_ERROR: &str = "RunContainerError";
pub const POST_START_HOOK_ERROR: &str = "PostStartHookError";
pub const ERR_IMAGE_PULL: &str = "ErrImagePull";
pub const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";

/// `web_default(0f3c…)`: how the kubelet names a pod in messages (`format.Pod`).
pub fn pod_name(pod: &Pod) -> String {
    let meta = &pod.metadata;
    format!(
        "{}_{}({})",
        meta.name.as_deref().unwrap_or_default(),
        meta.namespace.as_deref().unwrap_or("default"),
        meta.uid.as_deref().unwrap_or_default()
    )
}

/// Records events about a pod and its containers.
#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
}

impl Events {
    pub fn new(recorder: Recorder) -> Events {
        Events { recorder }
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    pub async fn pod(&self, pod: &Pod, kind: EventType, reason: &str, message: &str) {
        self.recorder.record(&Reference::of(pod), kind, reason, message).await
    }

    pub async fn container(&self, pod: &Pod, container: &str, kind: EventType, reason: &str, message: &str) {
        let reference = Reference::of(pod).field(&crate::probes::field_path(pod, container));
        self.recorder.record(&reference, kind, reason, message).await
    }
}
