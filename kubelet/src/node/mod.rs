//! The kubelet's Node: registration, status heartbeats, and the Lease.
//!
//! Mirrors `pkg/kubelet/kubelet_node_status.go` (`registerWithAPIServer`,
//! `tryUpdateNodeStatus`) and `pkg/kubelet/nodelease` (its controller renews the node's Lease in
//! `kube-node-lease`, the cheap heartbeat the node lifecycle controller watches). The status
//! itself is computed by [`status`]; the machine facts come from [`machine`].
//!
//! Left out: `--register-with-taints`, node deletion and re-registration when the uid changes,
//! the 5-minute `nodeStatusReportFrequency` (Skiff reports on every tick, 10 s by default).

pub mod lease;
pub mod machine;
pub mod status;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use skiff_client::{Api, ApiError, Client};
use tokio_util::sync::CancellationToken;

use self::status::NodeFacts;

/// Tries per status update before waiting for the next tick (upstream's
/// `nodeStatusUpdateRetry`).
const UPDATE_TRIES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot register node {node}")]
    Register {
        node: String,
        #[source]
        source: ApiError,
    },
    #[error("cannot update the status of node {node}")]
    Status {
        node: String,
        #[source]
        source: ApiError,
    },
    #[error("cannot renew the lease of node {node}")]
    Lease {
        node: String,
        #[source]
        source: ApiError,
    },
}

/// The labels every kubelet puts on its Node, then `--node-labels`.
pub fn node_labels(name: &str, architecture: &str, extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), architecture.to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), architecture.to_string()),
    ]);
    labels.extend(extra.clone());
    labels
}

/// The Node as it is first created.
pub fn initial_node(name: &str, labels: BTreeMap<String, String>, pod_cidr: Option<&str>, facts: &NodeFacts) -> Node {
    let now = chrono::Utc::now();
    Node {
        metadata: ObjectMeta { name: Some(name.into()), labels: Some(labels), ..Default::default() },
        spec: Some(NodeSpec {
            pod_cidr: pod_cidr.map(str::to_string),
            pod_cidrs: pod_cidr.map(|c| vec![c.to_string()]),
            ..Default::default()
        }),
        status: Some(status::node_status(None, facts, &now)),
    }
}

/// Creates the Node, or, if it exists (a restarted kubelet), brings its labels and pod CIDR up
/// to date. The Node as stored.
pub async fn register(client: &Client, node: &Node) -> Result<Node, NodeError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let name = node.metadata.name.clone().unwrap_or_default();
    let failed = |source| NodeError::Register { node: name.clone(), source };
    match nodes.create(node).await {
        Ok(created) => {
            tracing::info!(node = %name, "registered the node");
            // The status of a create is ignored by the API server's strategy: write it now.
            let mut with_status = created.clone();
            with_status.status = node.status.clone();
            Ok(nodes.replace_status(&name, &with_status).await.unwrap_or(created))
        }
        Err(err) if err.is_already_exists() => {
            for _ in 0..UPDATE_TRIES {
                let mut existing = nodes.get(&name).await.map_err(failed)?;
                let mut labels = existing.metadata.labels.clone().unwrap_or_default();
                labels.extend(node.metadata.labels.clone().unwrap_or_default());
                existing.metadata.labels = Some(labels);
                let spec = existing.spec.get_or_insert_with(Default::default);
                let wanted = node.spec.as_ref().and_then(|s| s.pod_cidr.clone());
                if spec.pod_cidr.is_none() && wanted.is_some() {
                    spec.pod_cidr = wanted.clone();
                    spec.pod_cidrs = wanted.map(|c| vec![c]);
                }
                match nodes.replace(&name, &existing).await {
                    Ok(updated) => {
                        tracing::info!(node = %name, "the node was registered before; labels brought up to date");
                        return Ok(updated);
                    }
                    Err(err) if err.is_conflict() => continue,
                    Err(err) => return Err(failed(err)),
                }
            }
            Err(failed(ApiError::Status { code: 409, reason: "Conflict".into(), message: "too many conflicts".into() }))
        }
        Err(err) => Err(failed(err)),
    }
}

/// One status update: read the Node, compute its status, write it (retrying conflicts).
pub async fn update_status(client: &Client, name: &str, facts: &NodeFacts) -> Result<(), NodeError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let failed = |source| NodeError::Status { node: name.to_string(), source };
    let mut last = None;
    for _ in 0..UPDATE_TRIES {
        let mut node = nodes.get(name).await.map_err(failed)?;
        let now = chrono::Utc::now();
        node.status = Some(status::node_status(node.status.as_ref(), facts, &now));
        match nodes.replace_status(name, &node).await {
            Ok(_) => return Ok(()),
            Err(err) if err.is_conflict() => last = Some(err),
            Err(err) => return Err(failed(err)),
        }
    }
    Err(failed(last.expect("a conflict was seen")))
}

/// Updates the node's status every `every` until `stop`; `facts` is asked each time (the
/// runtime may have gone down).
pub async fn heartbeat<F, Fut>(client: Client, name: String, every: Duration, facts: F, stop: CancellationToken)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = NodeFacts>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let facts = facts().await;
        if let Err(err) = update_status(&client, &name, &facts).await {
            tracing::warn!(cause = %skiff_error_chain(&err), "node status update failed; next tick retries");
        }
    }
}

/// An error with its sources, `a: b: c`, for logs.
pub fn skiff_error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_labels_are_the_well_known_ones_then_the_flags() {
        let extra =
            BTreeMap::from([("zone".to_string(), "a".to_string()), ("kubernetes.io/os".to_string(), "x".to_string())]);
        let labels = node_labels("node-1", "amd64", &extra);
        assert_eq!(labels["kubernetes.io/hostname"], "node-1");
        assert_eq!(labels["kubernetes.io/arch"], "amd64");
        assert_eq!(labels["zone"], "a");
        assert_eq!(labels["kubernetes.io/os"], "x", "a flag wins, as upstream lets it");
    }
}
