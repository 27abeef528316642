//! Services: defaults, and the ClusterIPs and NodePorts they are given.
//!
//! Mirrors kubernetes `pkg/registry/core/service/storage/alloc.go` (allocating on create,
//! releasing on delete) and `ipallocator` / `portallocator`, with a simpler bookkeeping that is
//! just as safe: each taken IP or port is a key in the store (`/registry/allocations/clusterips/
//! 10.96.0.23`), claimed by a create-if-absent transaction. Two API servers creating Services at
//! once cannot get the same IP, and a restarted one finds what is taken in the store.
//!
//! - ClusterIPs come from 10.96.0.0/12 (`10.96.0.1` is kept for the `kubernetes` Service and
//!   `10.96.0.10` for cluster DNS; chosen only when asked for); a requested one is
//!   honoured if it is in the range and free, else `422 Invalid`; `None` makes a headless
//!   Service.
//! - NodePorts come from 30000–32767 for `NodePort` and `LoadBalancer` Services.
//! - Defaults: `type: ClusterIP`, `sessionAffinity: None`, ports' `protocol: TCP` and
//!   `targetPort` = `port`; by type, the IP family (IPv4, single stack) and traffic policies
//!   (`Cluster`). Set on create; an update keeps what it carries.

use rand::Rng;
use serde_json::{json, Value};
use skiff_api::registry::by_plural;
use skiff_api::status::Status;
use skiff_api::validation::FieldError;
use skiff_store::client::{Guarded, StoreClient};

const IP_PREFIX: &str = "/registry/allocations/clusterips/";
const PORT_PREFIX: &str = "/registry/allocations/nodeports/";
/// 10.96.0.0/12: 10.96.0.0 – 10.111.255.255.
const RANGE_START: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const RANGE_SIZE: u32 = 1 << 20;
/// Kept for the cluster DNS Service.
pub const DNS_IP: &str = "10.96.0.10";
const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

fn invalid(name: &str, field: &str, value: Value, detail: &str) -> Status {
    let services = by_plural("", "v1", "services").expect("services are registered");
    Status::invalid(services, name, &[FieldError::invalid(field, value, detail)])
}

fn internal(err: impl std::fmt::Display) -> Status {
    Status::internal(format!("allocation failed: {err}"))
}

fn in_range(ip: &str) -> bool {
    ip.parse::<std::net::Ipv4Addr>().is_ok_and(|a| (u32::from(a).wrapping_sub(RANGE_START)) < RANGE_SIZE)
}

/// Claims `key` for the Service `owner`; false if someone has it.
async fn claim(client: &mut StoreClient, key: String, owner: &str) -> Result<bool, Status> {
    Ok(matches!(client.create(key, owner.to_string(), 0).await.map_err(internal)?, Guarded::Done { .. }))
}

/// The defaults that depend on the Service's type, as upstream's `SetDefaults_Service` and
/// its IP-family allocation leave them on a single-stack IPv4 cluster: every type but
/// ExternalName gets `ipFamilies: [IPv4]`, `ipFamilyPolicy: SingleStack` and
/// `internalTrafficPolicy: Cluster`; NodePort and LoadBalancer also `externalTrafficPolicy:
/// Cluster`, and LoadBalancer `allocateLoadBalancerNodePorts: true`.
fn defaults_by_type(spec: &mut Value, kind: &str) {
    if kind == "ExternalName" {
        return;
    }
    let mut default = |field: &str, value: Value| {
        if spec[field].is_null() {
            spec[field] = value;
        }
    };
    default("ipFamilies", json!(["IPv4"]));
    default("ipFamilyPolicy", json!("SingleStack"));
    default("internalTrafficPolicy", json!("Cluster"));
    if kind == "NodePort" || kind == "LoadBalancer" {
        default("externalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        default("allocateLoadBalancerNodePorts", json!(true));
    }
}

/// Fills a new Service's defaults, ClusterIP and NodePorts. `owner` is `namespace/name`.
pub async fn allocate(client: &mut StoreClient, service: &mut Value, owner: &str) -> Result<(), Status> {
    let name = service["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let spec = &mut service["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    if spec["type"].is_null() {
        spec["type"] = json!("ClusterIP");
    }
    if spec["sessionAffinity"].is_null() {
        spec["sessionAffinity"] = json!("None");
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports {
            if port["protocol"].is_null() {
                port["protocol"] = json!("TCP");
            }
            if port["targetPort"].is_null() {
                port["targetPort"] = port["port"].clone();
            }
        }
    }
    let kind = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    defaults_by_type(spec, &kind);

    // ClusterIP (an ExternalName Service is only a DNS name: it has none).
    match spec["clusterIP"].as_str().unwrap_or_default() {
        _ if kind == "ExternalName" => {}
        "None" => {}
        "" => {
            let ip = loop {
                // (A fresh rng each time: the thread's rng may not be held across an await.)
                let offset = rand::rng().random_range(1..RANGE_SIZE - 1);
                let candidate = std::net::Ipv4Addr::from(RANGE_START + offset).to_string();
                let reserved = candidate == DNS_IP || candidate == crate::kubernetes_service::CLUSTER_IP;
                if !reserved && claim(client, format!("{IP_PREFIX}{candidate}"), owner).await? {
                    break candidate;
                }
            };
            spec["clusterIP"] = json!(ip);
        }
        requested => {
            let requested = requested.to_string();
            if !in_range(&requested) {
                return Err(invalid(
                    &name,
                    "spec.clusterIP",
                    json!(requested),
                    "provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12",
                ));
            }
            if !claim(client, format!("{IP_PREFIX}{requested}"), owner).await? {
                return Err(invalid(&name, "spec.clusterIP", json!(requested), "provided IP is already allocated"));
            }
        }
    }
    if let Some(ip) = spec["clusterIP"].as_str().map(str::to_string) {
        spec["clusterIPs"] = json!([ip]);
    }

    // NodePorts.
    if kind == "NodePort" || kind == "LoadBalancer" {
        let count = spec["ports"].as_array().map_or(0, Vec::len);
        for i in 0..count {
            let port = &mut service["spec"]["ports"][i];
            match port["nodePort"].as_u64() {
                Some(wanted) => {
                    let wanted = wanted as u16;
                    if !NODE_PORTS.contains(&wanted) {
                        return Err(invalid(
                            &name,
                            &format!("spec.ports[{i}].nodePort"),
                            json!(wanted),
                            "provided port is not in the valid range. The range of valid ports is 30000-32767",
                        ));
                    }
                    if !claim(client, format!("{PORT_PREFIX}{wanted}"), owner).await? {
                        return Err(invalid(
                            &name,
                            &format!("spec.ports[{i}].nodePort"),
                            json!(wanted),
                            "provided port is already allocated",
                        ));
                    }
                }
                None => {
                    let chosen = loop {
                        let candidate = rand::rng().random_range(NODE_PORTS);
                        if claim(client, format!("{PORT_PREFIX}{candidate}"), owner).await? {
                            break candidate;
                        }
                    };
                    service["spec"]["ports"][i]["nodePort"] = json!(chosen);
                }
            }
        }
    }
    Ok(())
}

/// Frees what a deleted Service held.
pub async fn release(client: &mut StoreClient, service: &Value) {
    let mut keys = Vec::new();
    if let Some(ip) = service["spec"]["clusterIP"].as_str().filter(|ip| *ip != "None" && !ip.is_empty()) {
        keys.push(format!("{IP_PREFIX}{ip}"));
    }
    for port in service["spec"]["ports"].as_array().into_iter().flatten() {
        if let Some(node_port) = port["nodePort"].as_u64() {
            keys.push(format!("{PORT_PREFIX}{node_port}"));
        }
    }
    for key in keys {
        if let Err(err) = client.remove(key.clone()).await {
            tracing::warn!(key, cause = %err, "could not release an allocation");
        }
    }
}

/// An update may not change the ClusterIP; an empty one keeps the old.
pub fn keep_cluster_ip(old: &Value, new: &mut Value) -> Result<(), Status> {
    let before = old["spec"]["clusterIP"].clone();
    match new["spec"]["clusterIP"].as_str() {
        None | Some("") => {
            new["spec"]["clusterIP"] = before.clone();
            new["spec"]["clusterIPs"] = old["spec"]["clusterIPs"].clone();
        }
        Some(ip) if Some(ip) != before.as_str() => {
            let name = new["metadata"]["name"].as_str().unwrap_or_default().to_string();
            return Err(invalid(&name, "spec.clusterIP", json!(ip), "field is immutable"));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_10_96_slash_12() {
        for (ip, inside) in [
            ("10.96.0.1", true),
            ("10.111.255.254", true),
            ("10.112.0.1", false),
            ("10.95.255.255", false),
            ("nonsense", false),
        ] {
            assert_eq!(in_range(ip), inside, "{ip}");
        }
    }

    #[test]
    fn defaults_follow_the_type() {
        let cases = [
            (
                "ClusterIP",
                json!({"ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"}),
            ),
            (
                "NodePort",
                json!({"ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
                       "externalTrafficPolicy": "Cluster"}),
            ),
            (
                "LoadBalancer",
                json!({"ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
                       "externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": true}),
            ),
            ("ExternalName", json!({})),
        ];
        for (kind, expected) in cases {
            let mut spec = json!({});
            defaults_by_type(&mut spec, kind);
            assert_eq!(spec, expected, "{kind}");
        }
        let mut local = json!({"externalTrafficPolicy": "Local"});
        defaults_by_type(&mut local, "NodePort");
        assert_eq!(local["externalTrafficPolicy"], "Local", "what the client set stays");
    }

    #[test]
    fn updates_keep_the_cluster_ip() {
        let old = json!({"spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"]}});
        let mut unchanged = json!({"metadata": {"name": "web"}, "spec": {}});
        keep_cluster_ip(&old, &mut unchanged).unwrap();
        assert_eq!(unchanged["spec"]["clusterIP"], "10.96.0.20");
        let mut moved = json!({"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.0.21"}});
        let err = keep_cluster_ip(&old, &mut moved).unwrap_err();
        assert!(
            err.message.contains("spec.clusterIP: Invalid value: \"10.96.0.21\": field is immutable"),
            "{}",
            err.message
        );
    }
}
