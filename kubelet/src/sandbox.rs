//! The pause container: the pod's network namespace, its IP and its hostname.
//!
//! Mirrors `createPodSandbox` (`kuberuntime_sandbox.go`) and dockershim's `RunPodSandbox`
//! (`docker_sandbox.go`): the `skiff/pause:1` container is created on the `skiff` bridge
//! network with the pod's address (from this node's pod CIDR), the pod's hostname and domain,
//! and the labels that let a restarted kubelet find it; every other container of the pod then
//! joins its network namespace (`container:<id>`), so they share `localhost`, the pod IP and
//! `/etc/hosts`.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Pod;

use crate::dns;
use crate::kubelet::Kubelet;
use crate::naming::{self, ContainerIdentity};
use crate::runtime::{ContainerConfig, NetworkMode, RuntimeError};

pub const PAUSE_IMAGE: &str = "skiff/pause:1";
/// Addresses tried before giving up when Docker says one is in use.
const ADDRESS_TRIES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the pause image {PAUSE_IMAGE} is not on this machine (make images builds it)")]
    NoPauseImage,
    #[error(transparent)]
    Address(#[from] crate::network::NetworkError),
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
}

/// A started pause container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub id: String,
    pub ip: Option<Ipv4Addr>,
}

pub fn identity(pod: &Pod, attempt: u32) -> ContainerIdentity {
    let meta = &pod.metadata;
    ContainerIdentity {
        pod_name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_else(|| "default".into()),
        pod_uid: meta.uid.clone().unwrap_or_default(),
        container: naming::SANDBOX_NAME.into(),
        attempt,
    }
}

fn grace_seconds(pod: &Pod) -> i64 {
    pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30)
}

fn is_address_in_use(err: &RuntimeError) -> bool {
    matches!(err, RuntimeError::Refused { message, .. } if message.to_lowercase().contains("address already in use")
        || message.to_lowercase().contains("already allocated"))
}

/// Creates and starts the pod's pause container (attempt `attempt`).
pub async fn create_sandbox(kubelet: &Kubelet, pod: &Pod, attempt: u32) -> Result<Sandbox, SandboxError> {
    let runtime = &*kubelet.runtime;
    if runtime.inspect_image(PAUSE_IMAGE).await?.is_none() {
        return Err(SandboxError::NoPauseImage);
    }
    let identity = identity(pod, attempt);
    let (hostname, domain) = dns::hostname_and_domain(pod, &kubelet.config.cluster_domain);
    let mut refused = HashSet::new();
    for _ in 0..ADDRESS_TRIES {
        let address = match &kubelet.pod_ips {
            Some(ips) => Some(ips.allocate(&refused)?),
            None => None,
        };
        let mut labels = identity.labels(&kubelet.scope);
        labels.insert(naming::GRACE_PERIOD.into(), grace_seconds(pod).to_string());
        if let Some(address) = address {
            labels.insert(naming::POD_IP.into(), address.to_string());
        }
        let config = ContainerConfig {
            name: identity.docker_name(),
            image: PAUSE_IMAGE.into(),
            labels,
            hostname: Some(hostname.clone()),
            domainname: domain.clone(),
            network: Some(NetworkMode::Bridge { network: kubelet.network.name.clone(), address }),
            ..Default::default()
        };
        let release = || {
            if let (Some(ips), Some(address)) = (&kubelet.pod_ips, address) {
                ips.release(address);
            }
        };
        let id = match runtime.create_container(&config).await {
            Ok(id) => id,
            Err(RuntimeError::Refused { status: 409, .. }) => {
                // A half-made attempt of an earlier sync holds the name: remove it and retry.
                let _ = runtime.remove_container(&config.name).await;
                release();
                continue;
            }
            Err(err) => {
                release();
                return Err(err.into());
            }
        };
        match runtime.start_container(&id).await {
            Ok(()) => {
                let ip = match address {
                    Some(address) => Some(address),
                    None => runtime.inspect_container(&id).await?.ip,
                };
                crate::network::enable_hairpin(&kubelet.network.id);
                tracing::info!(pod = %crate::events::pod_name(pod), sandbox = %&id[..12.min(id.len())], ip = ?ip, "pod sandbox started");
                return Ok(Sandbox { id, ip });
            }
            Err(err) => {
                let _ = runtime.remove_container(&id).await;
                release();
                match address {
                    Some(taken) if is_address_in_use(&err) => {
                        refused.insert(taken);
                    }
                    _ => return Err(err.into()),
                }
            }
        }
    }
    Err(SandboxError::Runtime(RuntimeError::Engine("no free pod address was accepted by Docker".into())))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::runtime::fake::FakeRuntime;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "prod", "uid": "u1"},
            "spec": {"hostname": "web-0", "subdomain": "web", "containers": [{"name": "web"}]}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn the_pause_container_gets_the_pods_address_name_and_labels() {
        let runtime = FakeRuntime::new().with_image(PAUSE_IMAGE);
        let kubelet = Kubelet::for_tests(Arc::new(runtime.clone()), Some("10.244.1.0/24"));
        let sandbox = create_sandbox(&kubelet, &pod(), 0).await.unwrap();
        assert_eq!(sandbox.ip, Some("10.244.1.2".parse().unwrap()));
        let (_, config) = runtime.containers().remove(0);
        assert_eq!(config.name, "k8s_POD_web-0_prod_u1_0");
        assert_eq!(
            (config.hostname.as_deref(), config.domainname.as_deref()),
            (Some("web-0"), Some("web.prod.svc.cluster.local"))
        );
        assert_eq!(config.labels[naming::POD_IP], "10.244.1.2");
        assert_eq!(config.labels[naming::CONTAINER_TYPE], naming::TYPE_SANDBOX);
        assert_eq!(
            config.network,
            Some(NetworkMode::Bridge { network: "skiff".into(), address: Some("10.244.1.2".parse().unwrap()) })
        );
    }

    #[tokio::test]
    async fn an_address_docker_says_is_taken_is_skipped() {
        let runtime = FakeRuntime::new().with_image(PAUSE_IMAGE);
        let taken = RuntimeError::Refused { status: 500, message: "Address already in use".into() };
        runtime.fail_next("start_container", taken);
        let kubelet = Kubelet::for_tests(Arc::new(runtime.clone()), Some("10.244.1.0/24"));
        let sandbox = create_sandbox(&kubelet, &pod(), 0).await.unwrap();
        assert_eq!(sandbox.ip, Some("10.244.1.3".parse().unwrap()), ".2 is in use by something else");
        let calls = runtime.calls();
        let made: Vec<&String> = calls.iter().filter(|c| !c.starts_with("inspect")).collect();
        assert_eq!(
            made,
            vec![
                "create_container k8s_POD_web-0_prod_u1_0",
                "start_container k8s_POD_web-0_prod_u1_0",
                "remove_container k8s_POD_web-0_prod_u1_0",
                "create_container k8s_POD_web-0_prod_u1_0",
                "start_container k8s_POD_web-0_prod_u1_0",
            ]
        );
    }

    #[tokio::test]
    async fn without_the_pause_image_nothing_is_created() {
        let runtime = FakeRuntime::new();
        let kubelet = Kubelet::for_tests(Arc::new(runtime.clone()), None);
        let err = create_sandbox(&kubelet, &pod(), 0).await.unwrap_err();
        assert_eq!(err.to_string(), "the pause image skiff/pause:1 is not on this machine (make images builds it)");
        assert!(runtime.containers().is_empty());
    }
}
