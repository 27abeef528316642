//! `pods/log`, `pods/exec` and `pods/attach`: the API server finds the pod's node and relays
//! the stream between the client and that node's kubelet.
//!
//! Mirrors kube-apiserver's pod subresources (`pkg/registry/core/pod/rest/log.go`,
//! `subresources.go`, `pkg/registry/core/pod/strategy.go` `LogLocation`/`ExecLocation`): the
//! pod must be bound to a node, the container must be named when the pod has several (and must
//! exist), a log needs a container that has started. The node's kubelet is reached at its
//! Node's InternalIP and `status.daemonEndpoints.kubeletEndpoint.Port`.
//!
//! kubectl speaks WebSocket `v5.channel.k8s.io` for exec and attach (`websocket.rs`) and plain
//! chunked HTTP for logs (`logs.rs`). What is behind — the kubelet's own streaming API, reached
//! over gRPC (`kubelet.rs`) — is the [`NodeStreams`] trait, so that the protocol side is also
//! tested with a fake node.
//!
//! Left out: SPDY (kubectl 1.29 and older), port-forward, and the kubelet's TLS.

pub mod kubelet;
pub mod logs;
pub mod websocket;

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use serde_json::Value;
use skiff_api::registry::by_plural;
use skiff_api::status::Status;
use tokio::sync::mpsc;

use crate::path::Target;
use crate::verbs::Verbs;

/// Where a node's kubelet listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddress {
    pub node: String,
    /// `ip:port`.
    pub address: String,
}

/// One container of one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRef {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    pub container: String,
}

/// `kubectl logs`' options (`PodLogOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub follow: bool,
    pub tail_lines: Option<i64>,
    pub since_seconds: Option<i64>,
    pub timestamps: bool,
    pub previous: bool,
    pub limit_bytes: Option<i64>,
}

/// What an exec or attach asks for (`PodExecOptions`, `PodAttachOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// Empty for an attach: the container's own process.
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// From the client to the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin(Bytes),
    /// The client's standard input is at its end.
    CloseStdin,
    Resize { width: u16, height: u16 },
}

/// From the process to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
    /// The process ended with this exit code (the last item).
    Exited(i32),
    /// The stream failed (the last item).
    Failed(String),
}

/// A running exec or attach.
pub struct Session {
    pub input: mpsc::Sender<Input>,
    pub output: mpsc::Receiver<Output>,
}

/// The kubelets' streaming API, as the API server uses it.
#[tonic::async_trait]
pub trait NodeStreams: Send + Sync {
    /// The container's log: what it wrote so far, then (with `follow`) what it writes next.
    async fn logs(
        &self,
        node: &NodeAddress,
        container: &ContainerRef,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, String>>, Status>;

    /// Runs a command in the container, or (with no command) attaches to its process.
    async fn exec(&self, node: &NodeAddress, container: &ContainerRef, options: &ExecOptions) -> Result<Session, Status>;
}

/// Shared handle to the node streams.
pub type Streams = Arc<dyn NodeStreams>;

/// The node, and the container, a pod subresource request is about. `wanted` is the
/// `container` parameter; `for_logs` also asks that the container has started.
pub async fn locate(
    verbs: &Verbs,
    target: &Target,
    name: &str,
    wanted: Option<&str>,
    for_logs: bool,
) -> Result<(NodeAddress, ContainerRef), Status> {
    let pod = verbs.get(target, name).await?;
    let container = choose_container(&pod, name, wanted, for_logs)?;
    let node_name = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()).ok_or_else(|| {
        Status::bad_request(format!("pod {name} does not have a host assigned"))
    })?;
    let nodes = by_plural("", "v1", "nodes").expect("nodes are registered");
    let node_target = Target { resource: nodes, namespace: None, name: None, subresource: None };
    let node = verbs.get(&node_target, node_name).await?;
    let address = node_address(&node).ok_or_else(|| Status {
        code: 503,
        reason: "ServiceUnavailable",
        message: format!("node {node_name} has no address for its kubelet"),
        details: None,
    })?;
    let reference = ContainerRef {
        namespace: target.namespace.clone().unwrap_or_default(),
        pod: name.to_string(),
        uid: pod["metadata"]["uid"].as_str().unwrap_or_default().to_string(),
        container,
    };
    Ok((NodeAddress { node: node_name.to_string(), address }, reference))
}

/// The kubelet's `ip:port`: the InternalIP (else the first address) and the advertised port.
fn node_address(node: &Value) -> Option<String> {
    let addresses = node["status"]["addresses"].as_array()?;
    let ip = addresses
        .iter()
        .find(|a| a["type"] == "InternalIP")
        .or_else(|| addresses.first())
        .and_then(|a| a["address"].as_str())?;
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"].as_i64().filter(|p| *p > 0)?;
    Some(format!("{ip}:{port}"))
}

/// Kubernetes' rules for which container a request means (`pkg/registry/core/pod/strategy.go`,
/// `validateContainer`, `LogLocation`).
fn choose_container(pod: &Value, name: &str, wanted: Option<&str>, for_logs: bool) -> Result<String, Status> {
    let names = |list: &str| -> Vec<String> {
        pod["spec"][list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect()
    };
    let (containers, init) = (names("containers"), names("initContainers"));
    let chosen = match wanted.filter(|w| !w.is_empty()) {
        Some(wanted) => {
            if !containers.iter().chain(&init).any(|c| c == wanted) {
                return Err(Status::bad_request(format!("container {wanted} is not valid for pod {name}")));
            }
            wanted.to_string()
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut all = containers.clone();
            all.extend(init.iter().cloned());
            return Err(Status::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            )));
        }
    };
    if for_logs {
        let statuses = ["containerStatuses", "initContainerStatuses"];
        let status = statuses
            .iter()
            .flat_map(|list| pod["status"][*list].as_array().into_iter().flatten())
            .find(|s| s["name"] == chosen.as_str());
        let waiting = status.map(|s| &s["state"]["waiting"]).filter(|w| w.is_object());
        let never_ran = status.is_none_or(|s| s["restartCount"].as_i64().unwrap_or(0) == 0)
            && status.is_none_or(|s| !s["lastState"]["terminated"].is_object());
        if let Some(waiting) = waiting.filter(|_| never_ran) {
            let reason = waiting["reason"].as_str().unwrap_or("ContainerCreating");
            return Err(Status::bad_request(format!(
                "container \"{chosen}\" in pod \"{name}\" is waiting to start: {reason}"
            )));
        }
        if status.is_none() {
            return Err(Status::bad_request(format!(
                "container \"{chosen}\" in pod \"{name}\" is waiting to start: ContainerCreating"
            )));
        }
    }
    Ok(chosen)
}

/// Until a node serves streams: every request says why it cannot be answered.
pub struct Unreachable;

#[tonic::async_trait]
impl NodeStreams for Unreachable {
    async fn logs(
        &self,
        node: &NodeAddress,
        _: &ContainerRef,
        _: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, String>>, Status> {
        Err(unreachable(node))
    }

    async fn exec(&self, node: &NodeAddress, _: &ContainerRef, _: &ExecOptions) -> Result<Session, Status> {
        Err(unreachable(node))
    }
}

fn unreachable(node: &NodeAddress) -> Status {
    Status {
        code: 503,
        reason: "ServiceUnavailable",
        message: format!("the kubelet of node {} at {} cannot be reached", node.node, node.address),
        details: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"spec": {"containers": [{"name": "web"}, {"name": "sidecar"}], "initContainers": [{"name": "init"}]},
               "status": {"containerStatuses": [
                   {"name": "web", "restartCount": 0, "state": {"running": {}}},
                   {"name": "sidecar", "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}})
    }

    #[test]
    fn a_pod_with_several_containers_needs_one_named() {
        let err = choose_container(&pod(), "p", None, false).unwrap_err();
        assert_eq!(err.message, "a container name must be specified for pod p, choose one of: [web sidecar init]");
        assert_eq!(choose_container(&pod(), "p", Some("web"), true).unwrap(), "web");
        let err = choose_container(&pod(), "p", Some("db"), false).unwrap_err();
        assert_eq!(err.message, "container db is not valid for pod p");
    }

    #[test]
    fn logs_of_a_container_that_never_started_are_refused_with_its_reason() {
        let err = choose_container(&pod(), "p", Some("sidecar"), true).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (400, "container \"sidecar\" in pod \"p\" is waiting to start: ImagePullBackOff"));
        assert!(choose_container(&pod(), "p", Some("sidecar"), false).is_ok(), "exec does not care");
    }

    #[test]
    fn the_kubelet_is_at_the_internal_ip_and_the_advertised_port() {
        let node = json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
                                      "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}});
        assert_eq!(node_address(&node).as_deref(), Some("10.0.0.5:10250"));
        assert_eq!(node_address(&json!({"status": {}})), None);
    }
}
