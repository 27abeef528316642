//! The node's Lease: `kube-node-lease/<node>`, renewed every 10 s.
//!
//! Mirrors `pkg/kubelet/nodelease` and `staging/src/k8s.io/component-helpers/apimachinery/lease`
//! (`controller.go`: `ensureLease`, `retryUpdateLease`, `newLease`): holder = the node name,
//! duration 40 s, `renewTime` = now, owned by the Node (so the garbage collector removes it with
//! the Node). The node lifecycle controller reads "not renewed for 40 s" as "node not ready".
//!
//! The API server creates the `kube-node-lease` namespace at its first start, as Kubernetes'
//! does; if it is missing anyway (an older store, a deleted namespace), the kubelet creates it
//! rather than fail to renew.

use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use skiff_client::{Api, ApiError, Client};
use tokio_util::sync::CancellationToken;

use super::NodeError;

pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const LEASE_DURATION_SECONDS: i32 = 40;
pub const RENEW_INTERVAL: Duration = Duration::from_secs(10);

/// The Lease as the kubelet wants it now.
pub fn desired(node: &str, node_uid: &str, now: chrono::DateTime<Utc>) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(node.into()),
            namespace: Some(LEASE_NAMESPACE.into()),
            owner_references: (!node_uid.is_empty()).then(|| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: node.into(),
                    uid: node_uid.into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node.into()),
            lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
            renew_time: Some(MicroTime(now)),
            ..Default::default()
        }),
    }
}

async fn ensure_namespace(client: &Client) -> Result<(), ApiError> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(LEASE_NAMESPACE).await?.is_some() {
        return Ok(());
    }
    let namespace = Namespace {
        metadata: ObjectMeta { name: Some(LEASE_NAMESPACE.into()), ..Default::default() },
        ..Default::default()
    };
    match namespaces.create(&namespace).await {
        Ok(_) => {
            tracing::info!(
                namespace = LEASE_NAMESPACE,
                "created the namespace of node leases (the API server had not)"
            );
            Ok(())
        }
        Err(err) if err.is_already_exists() => Ok(()),
        Err(err) => Err(err),
    }
}

/// Creates or renews the Lease once.
pub async fn renew(client: &Client, node: &str, node_uid: &str) -> Result<(), NodeError> {
    let failed = |source| NodeError::Lease { node: node.to_string(), source };
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let wanted = desired(node, node_uid, Utc::now());
    let existing = match leases.get_opt(node).await {
        Ok(found) => found,
        Err(err) if err.is_not_found() => None,
        Err(err) => return Err(failed(err)),
    };
    match existing {
        Some(mut lease) => {
            lease.spec = wanted.spec;
            if lease.metadata.owner_references.is_none() {
                lease.metadata.owner_references = wanted.metadata.owner_references;
            }
            leases.replace(node, &lease).await.map_err(failed)?;
        }
        None => {
            ensure_namespace(client).await.map_err(failed)?;
            match leases.create(&wanted).await {
                Ok(_) => {}
                Err(err) if err.is_already_exists() => {}
                Err(err) => return Err(failed(err)),
            }
        }
    }
    Ok(())
}

/// Renews the Lease every `every` until `stop`.
pub async fn keep_renewing(client: Client, node: String, node_uid: String, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(err) = renew(&client, &node, &node_uid).await {
            tracing::warn!(cause = %super::skiff_error_chain(&err), "lease renewal failed; retrying at the next tick");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_is_held_by_the_node_for_40_seconds_and_owned_by_it() {
        let now = Utc::now();
        let lease = desired("node-1", "uid-1", now);
        let spec = lease.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("node-1"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        assert_eq!(spec.renew_time, Some(MicroTime(now)));
        let owner = &lease.metadata.owner_references.unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Node", "uid-1"));
    }
}
