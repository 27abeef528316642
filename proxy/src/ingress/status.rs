//! `status.loadBalancer.ingress` of the Ingresses the router serves: the node's address, so
//! that `kubectl get ingress` shows an ADDRESS and tutorials that wait for one go on.
//!
//! Mirrors ingress-nginx's status sync (`internal/ingress/status/status.go`: `runningAddresses`,
//! `updateStatus`, writing through the status subresource), at one router per node without
//! leader election: each router adds its own node's IP to the Ingresses it serves and removes it
//! from those it no longer serves, leaving other routers' addresses alone. Two routers writing
//! at once may overwrite each other's list (a merge patch replaces the list), but every write is
//! an Ingress event, each router checks again on every event, and the lists converge.
//!
//! The decision is the pure [`status_patch`]; [`keep_status`] only applies it.
//!
//! Left out: clearing the address when the router shuts down (ingress-nginx's
//! `--update-status-on-shutdown`), hostnames and ports in the status.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{json, Value};
use skiff_client::reflector::{ObjectKey, Store};
use skiff_client::{Api, Client, Patch};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long to wait before trying failed writes again.
const RETRY: Duration = Duration::from_secs(5);

/// The IPs in the Ingress's `status.loadBalancer.ingress`.
fn addresses(ingress: &Ingress) -> Vec<String> {
    let load_balancer = ingress.status.as_ref().and_then(|s| s.load_balancer.as_ref());
    load_balancer.and_then(|lb| lb.ingress.as_ref()).into_iter().flatten().filter_map(|i| i.ip.clone()).collect()
}

/// The status merge patch that brings `ingress` in line (`ip` listed if and only if `served`),
/// or `None` when it already is.
pub fn status_patch(ingress: &Ingress, served: bool, ip: &str) -> Option<Value> {
    let mut wanted = addresses(ingress);
    let listed = wanted.iter().any(|a| a == ip);
    match (served, listed) {
        (true, true) | (false, false) => return None,
        (true, false) => wanted.push(ip.to_string()),
        (false, true) => wanted.retain(|a| a != ip),
    }
    wanted.sort();
    let entries: Vec<Value> = wanted.iter().map(|ip| json!({ "ip": ip })).collect();
    Some(json!({ "status": { "loadBalancer": { "ingress": entries } } }))
}

/// Applies [`status_patch`] to every cached Ingress whenever `served` changes (each table
/// build), and again after a failed write.
pub async fn keep_status(
    client: Client,
    ingresses: Store<Ingress>,
    mut served: watch::Receiver<Arc<Vec<ObjectKey>>>,
    address: IpAddr,
    shutdown: CancellationToken,
) {
    let ip = address.to_string();
    loop {
        let keys = served.borrow_and_update().clone();
        let mut failed = false;
        for ingress in ingresses.list() {
            let key = ObjectKey::of(ingress.as_ref());
            let Some(patch) = status_patch(&ingress, keys.contains(&key), &ip) else { continue };
            let api = Api::<Ingress>::namespaced(client.clone(), key.namespace.as_deref().unwrap_or("default"));
            match api.patch_status(&key.name, &Patch::Merge(patch)).await {
                Ok(_) => tracing::info!(ingress = %key, %ip, "status address updated"),
                Err(err) if err.is_not_found() => {}
                Err(err) => {
                    tracing::warn!(ingress = %key, cause = %err, "cannot update the status");
                    failed = true;
                }
            }
        }
        let retry = async {
            if failed {
                tokio::time::sleep(RETRY).await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = served.changed() => if changed.is_err() { return },
            _ = retry => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::{IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressStatus};

    use super::*;

    fn with_addresses(ips: &[&str]) -> Ingress {
        let ingress =
            ips.iter().map(|ip| IngressLoadBalancerIngress { ip: Some(ip.to_string()), ..Default::default() });
        Ingress {
            status: Some(IngressStatus {
                load_balancer: Some(IngressLoadBalancerStatus { ingress: Some(ingress.collect()) }),
            }),
            ..Default::default()
        }
    }

    fn listed(patch: Option<Value>) -> Option<Vec<String>> {
        let patch = patch?;
        let entries = patch["status"]["loadBalancer"]["ingress"].as_array().unwrap().clone();
        Some(entries.iter().map(|e| e["ip"].as_str().unwrap().to_string()).collect())
    }

    #[test]
    fn the_node_address_is_added_to_served_ingresses_and_removed_from_others() {
        let ip = "192.0.2.10";
        /// (case, addresses listed now, served, addresses after, or None: no write)
        type Case<'a> = (&'a str, &'a [&'a str], bool, Option<&'a [&'a str]>);
        let cases: [Case; 5] = [
            ("a new served Ingress", &[], true, Some(&[ip])),
            ("already listed", &[ip], true, None),
            ("another router's address is kept", &["192.0.2.20"], true, Some(&[ip, "192.0.2.20"])),
            ("no longer served", &["192.0.2.20", ip], false, Some(&["192.0.2.20"])),
            ("never served", &["192.0.2.20"], false, None),
        ];
        for (case, now, served, after) in cases {
            let expected = after.map(|a| a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(listed(status_patch(&with_addresses(now), served, ip)), expected, "{case}");
        }
        assert_eq!(listed(status_patch(&Ingress::default(), true, ip)), Some(vec![ip.to_string()]));
    }
}
