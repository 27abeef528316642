//! Making sure a container's image is on the machine: the pull policy, pulls, pull back-off.
//!
//! Mirrors `pkg/kubelet/images/image_manager.go` (`EnsureImageExists`) and the default policy
//! of `pkg/apis/core/v1/defaults.go`: `Always` for `:latest` or no tag, else `IfNotPresent`.
//!
//! | policy | present | absent |
//! |---|---|---|
//! | `IfNotPresent` | `Pulled`: `Container image "x" already present on machine` | pull |
//! | `Always` | pull | pull |
//! | `Never` | as IfNotPresent | `ErrImageNeverPull` |
//!
//! A failed pull is `ErrImagePull` with Docker's message (events `Failed`: `Failed to pull
//! image "x": …`), and the image of that pod is then in back-off (10 s doubling to 5 min):
//! syncs in between do not pull but show `ImagePullBackOff` (`Back-off pulling image "x"`,
//! event `BackOff`).

use std::time::Instant;

use k8s_openapi::api::core::v1::{Container, Pod};
use parking_lot::Mutex;
use skiff_client::events::EventType;

use crate::backoff::BackOff;
use crate::events::{self, Events};
use crate::runtime::{ContainerRuntime, Image};

/// Why a container cannot have its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullFailure {
    /// `ErrImagePull`, `ImagePullBackOff` or `ErrImageNeverPull`.
    pub reason: &'static str,
    pub message: String,
}

/// The policy a container's image is pulled with.
pub fn pull_policy(container: &Container) -> &str {
    if let Some(policy) = container.image_pull_policy.as_deref().filter(|p| !p.is_empty()) {
        return policy;
    }
    let image = container.image.as_deref().unwrap_or_default();
    // The tag is after the last ':' that comes after the last '/' (a registry may have a port).
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, "latest")) | None if !image.contains('@') => "Always",
        _ => "IfNotPresent",
    }
}

/// How Kubernetes reports an image's id: `docker-pullable://repo@sha256:…` for one from a
/// registry, `docker://sha256:…` for a local one.
pub fn image_ref(image: &Image) -> String {
    match image.repo_digests.first() {
        Some(digest) => format!("docker-pullable://{digest}"),
        None => format!("docker://{}", image.id),
    }
}

/// Ensures the image is present, recording Kubernetes' events on the way.
pub async fn ensure_image(
    runtime: &dyn ContainerRuntime,
    events: &Events,
    backoff: &Mutex<BackOff>,
    pod: &Pod,
    container: &Container,
) -> Result<Image, PullFailure> {
    let image = container.image.clone().unwrap_or_default();
    let name = &container.name;
    let policy = pull_policy(container);
    let present = runtime.inspect_image(&image).await.map_err(|err| PullFailure {
        reason: events::ERR_IMAGE_PULL,
        message: format!("Failed to inspect image \"{image}\": {err}"),
    })?;
    let must_pull = policy == "Always" || (policy == "IfNotPresent" && present.is_none());
    if !must_pull {
        if let Some(present) = present {
            let message = format!("Container image \"{image}\" already present on machine");
            events.container(pod, name, EventType::Normal, events::PULLED, &message).await;
            return Ok(present);
        }
        let message = format!("Container image \"{image}\" is not present with pull policy of Never");
        events.container(pod, name, EventType::Warning, events::ERR_IMAGE_NEVER_PULL, &message).await;
        return Err(PullFailure { reason: events::ERR_IMAGE_NEVER_PULL, message });
    }
    let key = format!("{}_{image}", pod.metadata.uid.as_deref().unwrap_or_default());
    if backoff.lock().is_in_back_off_since_update(&key, tokio::time::Instant::now()) {
        let message = format!("Back-off pulling image \"{image}\"");
        events.container(pod, name, EventType::Normal, events::BACK_OFF, &message).await;
        return Err(PullFailure { reason: events::IMAGE_PULL_BACK_OFF, message });
    }
    events.container(pod, name, EventType::Normal, events::PULLING, &format!("Pulling image \"{image}\"")).await;
    let started = Instant::now();
    match runtime.pull_image(&image).await {
        Ok(pulled) => {
            let took = started.elapsed();
            let message = format!("Successfully pulled image \"{image}\" in {took:.3?} ({took:.3?} including waiting)");
            events.container(pod, name, EventType::Normal, events::PULLED, &message).await;
            Ok(pulled)
        }
        Err(err) => {
            let message = format!("Failed to pull image \"{image}\": {err}");
            events.container(pod, name, EventType::Warning, events::FAILED, &message).await;
            backoff.lock().next(&key, tokio::time::Instant::now());
            Err(PullFailure { reason: events::ERR_IMAGE_PULL, message: err.to_string() })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_default_policy_depends_on_the_tag() {
        let cases = [
            ("skiff/demo-web:v1", None, "IfNotPresent"),
            ("skiff/demo-web", None, "Always"),
            ("nginx:latest", None, "Always"),
            ("registry:5000/team/app", None, "Always"),
            ("registry:5000/team/app:1.2", None, "IfNotPresent"),
            ("app@sha256:abc", None, "IfNotPresent"),
            ("skiff/demo-web", Some("Never"), "Never"),
        ];
        for (image, policy, want) in cases {
            let container: Container =
                serde_json::from_value(json!({"name": "c", "image": image, "imagePullPolicy": policy})).unwrap();
            assert_eq!(pull_policy(&container), want, "{image}");
        }
    }

    #[test]
    fn image_ids_are_reported_as_kubernetes_does_for_docker() {
        let local = Image { id: "sha256:abc".into(), repo_digests: vec![] };
        assert_eq!(image_ref(&local), "docker://sha256:abc");
        let pulled = Image { id: "sha256:abc".into(), repo_digests: vec!["nginx@sha256:def".into()] };
        assert_eq!(image_ref(&pulled), "docker-pullable://nginx@sha256:def");
    }
}
