//! The `kubernetes` Service in `default`: the API server's own address inside the cluster
//! (`kubectl get svc` shows it first; `nslookup kubernetes.default` in a pod is the classic
//! first test of cluster DNS).
//!
//! Mirrors `pkg/controlplane/controller/kubernetesservice/controller.go` (the Service, made if
//! missing, looked at every 10 seconds) and the endpoint reconciler of
//! `pkg/controlplane/reconcilers/` (its Endpoints and EndpointSlice, naming this API server),
//! for one API server:
//!
//! - the Service: ClusterIP `10.96.0.1` (the first address of the range, as upstream), port
//!   `https` 443 → the API server's port, labels `component: apiserver`, `provider: kubernetes`.
//!   If a user deletes it, it is back within 10 seconds; if it exists, it is left as it is.
//! - its Endpoints (label `endpointslice.kubernetes.io/skip-mirror: "true"`, as upstream) and
//!   EndpointSlice: the advertised address and port, rewritten whenever they differ.
//!
//! The address is `--advertise-address`, else the REST listener's own address when pods can
//! reach it. Kubernetes picks the host's address when given none; Skiff listens on 127.0.0.1
//! by default and has no authentication, so it does not publish itself to the network unasked:
//! the Endpoints are then empty and a connection to 10.96.0.1:443 is refused at once (the
//! proxy's REJECT), rather than reaching a loopback address a pod cannot have.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::{json, Value};
use skiff_api::registry::{by_plural, Resource};
use skiff_api::status::Status;
use tokio_util::sync::CancellationToken;

use crate::path::Target;
use crate::verbs::{Verbs, WriteOptions};

pub const NAME: &str = "kubernetes";
pub const NAMESPACE: &str = "default";
/// The first address of 10.96.0.0/12.
pub const CLUSTER_IP: &str = "10.96.0.1";
/// How often the objects are looked at (upstream's `EndpointInterval`, 10 s).
const INTERVAL: Duration = Duration::from_secs(10);
const MANAGER: &str = "skiff-apiserver";

/// The address to publish: the one asked for, else `listen` if pods can reach it (not
/// loopback, not the unspecified `0.0.0.0`).
pub fn advertised(asked: Option<IpAddr>, listen: SocketAddr) -> Option<SocketAddr> {
    match asked {
        Some(ip) => Some(SocketAddr::new(ip, listen.port())),
        None if listen.ip().is_loopback() || listen.ip().is_unspecified() => None,
        None => Some(listen),
    }
}

/// The Service, for an API server on `port`.
pub fn service(port: u16) -> Value {
    json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": CLUSTER_IP,
            "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        },
    })
}

/// Its Endpoints: `address`, or none.
pub fn endpoints(address: Option<SocketAddr>) -> Value {
    let mut endpoints = json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
    });
    if let Some(address) = address {
        endpoints["subsets"] = json!([{
            "addresses": [{"ip": address.ip().to_string()}],
            "ports": [{"name": "https", "port": address.port(), "protocol": "TCP"}],
        }]);
    }
    endpoints
}

/// Its EndpointSlice: `address`, ready, or no endpoint.
pub fn slice(address: Option<SocketAddr>) -> Value {
    let endpoints: Vec<Value> =
        address.iter().map(|a| json!({"addresses": [a.ip().to_string()], "conditions": {"ready": true}})).collect();
    let port = address.map_or(443, |a| a.port());
    json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"kubernetes.io/service-name": NAME}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    })
}

/// The fields of `desired` a stored object must match (the rest is the server's).
fn differs(stored: &Value, desired: &Value) -> bool {
    let is_slice = desired.get("addressType").is_some();
    let fields: &[&str] = if is_slice { &["endpoints", "ports"] } else { &["subsets"] };
    let labels = &desired["metadata"]["labels"];
    let labels_differ =
        labels.as_object().into_iter().flatten().any(|(key, value)| &stored["metadata"]["labels"][key] != value);
    labels_differ
        || fields
            .iter()
            .any(|field| stored.get(*field).unwrap_or(&Value::Null) != desired.get(*field).unwrap_or(&Value::Null))
}

fn target(resource: &'static Resource) -> Target {
    Target { resource, namespace: Some(NAMESPACE.to_string()), name: None, subresource: None }
}

fn resource(group: &str, version: &str, plural: &str) -> &'static Resource {
    by_plural(group, version, plural).expect("registered")
}

/// Makes the Service if it is missing.
async fn ensure_service(verbs: &Verbs, port: u16, options: &WriteOptions) -> Result<(), Status> {
    let services = target(resource("", "v1", "services"));
    match verbs.get(&services, NAME).await {
        Ok(_) => return Ok(()),
        Err(status) if status.code == 404 => {}
        Err(status) => return Err(status),
    }
    match verbs.create(&services, service(port), options).await {
        Ok(_) => tracing::info!(service = "default/kubernetes", ip = CLUSTER_IP, "created"),
        Err(status) if status.reason == "AlreadyExists" => {}
        // A store from before this Service existed may have given 10.96.0.1 away.
        Err(status) if status.code == 422 => {
            tracing::warn!(cause = %status.message, "10.96.0.1 is taken; the kubernetes Service gets another address");
            let mut any = service(port);
            any["spec"].as_object_mut().map(|s| s.remove("clusterIP"));
            verbs.create(&services, any, options).await?;
        }
        Err(status) => return Err(status),
    }
    Ok(())
}

/// Writes `desired` where `target` points, unless the stored one matches.
async fn ensure(verbs: &Verbs, target: &Target, desired: Value, options: &WriteOptions) -> Result<(), Status> {
    match verbs.get(target, NAME).await {
        Ok(stored) if !differs(&stored, &desired) => Ok(()),
        Ok(stored) => {
            let mut updated = desired;
            updated["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"].clone();
            verbs.update(target, NAME, updated, options).await.map(drop)
        }
        Err(status) if status.code == 404 => match verbs.create(target, desired, options).await {
            Err(status) if status.reason == "AlreadyExists" => Ok(()),
            other => other.map(drop),
        },
        Err(status) => Err(status),
    }
}

/// One look at the three objects.
pub async fn reconcile(verbs: &Verbs, port: u16, address: Option<SocketAddr>) -> Result<(), Status> {
    let options = WriteOptions { field_manager: MANAGER.to_string(), ..Default::default() };
    ensure_service(verbs, port, &options).await?;
    ensure(verbs, &target(resource("", "v1", "endpoints")), endpoints(address), &options).await?;
    ensure(verbs, &target(resource("discovery.k8s.io", "v1", "endpointslices")), slice(address), &options).await
}

/// Looks every [`INTERVAL`] until `shutdown`. `port` is the API server's REST port.
pub async fn run(verbs: Verbs, port: u16, address: Option<SocketAddr>, shutdown: CancellationToken) {
    loop {
        if let Err(status) = reconcile(&verbs, port, address).await {
            tracing::warn!(code = status.code, cause = %status.message, "cannot reconcile the kubernetes Service");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advertised_address_is_the_one_asked_for_else_a_reachable_listener() {
        let listen = |text: &str| text.parse::<SocketAddr>().unwrap();
        let cases = [
            ("asked", Some("192.168.1.5".parse().unwrap()), listen("127.0.0.1:6443"), Some(listen("192.168.1.5:6443"))),
            ("loopback listener", None, listen("127.0.0.1:6443"), None),
            ("every address", None, listen("0.0.0.0:6443"), None),
            ("one host address", None, listen("10.0.0.7:8443"), Some(listen("10.0.0.7:8443"))),
        ];
        for (case, asked, listen, want) in cases {
            assert_eq!(advertised(asked, listen), want, "{case}");
        }
    }

    #[test]
    fn the_objects_name_the_api_server() {
        let address = Some("10.0.0.7:6443".parse().unwrap());
        assert_eq!(
            service(6443)["spec"]["ports"][0],
            json!({"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443})
        );
        assert_eq!(endpoints(address)["subsets"][0]["addresses"], json!([{"ip": "10.0.0.7"}]));
        assert!(endpoints(None).get("subsets").is_none(), "nobody to name: no subsets");
        assert_eq!(slice(address)["endpoints"], json!([{"addresses": ["10.0.0.7"], "conditions": {"ready": true}}]));
        assert_eq!(slice(None)["endpoints"], json!([]));
    }

    #[test]
    fn a_stored_object_is_rewritten_only_when_what_it_says_differs() {
        let address = Some("10.0.0.7:6443".parse().unwrap());
        let mut stored = endpoints(address);
        stored["metadata"]["resourceVersion"] = json!("12");
        stored["metadata"]["labels"]["extra"] = json!("kept");
        assert!(!differs(&stored, &endpoints(address)), "server fields and extra labels do not count");
        assert!(differs(&stored, &endpoints(None)), "the address went");
        assert!(differs(&endpoints(None), &endpoints(address)), "an address came");
        let mut unlabelled = endpoints(address);
        unlabelled["metadata"]["labels"] = json!({});
        assert!(differs(&unlabelled, &endpoints(address)), "the skip-mirror label is put back");
        assert!(!differs(&slice(address), &slice(address)));
        assert!(differs(&slice(None), &slice(address)));
    }
}
