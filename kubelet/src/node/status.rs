//! The Node's status: capacity, addresses, conditions, versions.
//!
//! Mirrors `pkg/kubelet/nodestatus/setters.go` (`NodeAddress`, `MachineInfo`, `VersionInfo`,
//! `DaemonEndpoints`, `ReadyCondition`, `MemoryPressureCondition`, `DiskPressureCondition`,
//! `PIDPressureCondition`) as one pure function, [`node_status`], from what the kubelet knows to
//! the status it reports. A condition keeps its `lastTransitionTime` while its status stays the
//! same; `lastHeartbeatTime` moves on every report.
//!
//! Left out: eviction-driven pressure (the pressure conditions are always `False`: the kubelet
//! evicts nothing), reserved resources (allocatable = capacity), the node's image list, volumes
//! in use.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::machine::Machine;

/// The version this kubelet reports being (the API types are 1.31's).
pub const KUBELET_VERSION: &str = "v1.31.0";
/// Kubernetes' default pod limit per node.
pub const MAX_PODS: u32 = 110;

/// What the status is computed from.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    pub machine: Machine,
    pub internal_ip: Ipv4Addr,
    /// `docker://20.10.24`.
    pub runtime_version: String,
    /// The port of the kubelet's streaming server.
    pub kubelet_port: i32,
    /// Whether the runtime answered the last time it was asked.
    pub runtime_ok: bool,
}

/// Capacity (and allocatable: the same, nothing is reserved).
pub fn capacity(machine: &Machine) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(machine.cpus.to_string())),
        ("memory".to_string(), Quantity(format!("{}Ki", machine.memory / 1024))),
        ("pods".to_string(), Quantity(MAX_PODS.to_string())),
        ("ephemeral-storage".to_string(), Quantity(format!("{}Ki", machine.ephemeral_storage / 1024))),
    ])
}

/// One condition, keeping its transition time from `old` if its status did not change.
fn condition(
    old: &[NodeCondition],
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &DateTime<Utc>,
) -> NodeCondition {
    let transition = old
        .iter()
        .find(|c| c.type_ == kind && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(*now));
    NodeCondition {
        type_: kind.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        last_heartbeat_time: Some(Time(*now)),
        last_transition_time: Some(transition),
    }
}

/// The conditions, in the order Kubernetes lists them.
pub fn conditions(old: &[NodeCondition], facts: &NodeFacts, now: &DateTime<Utc>) -> Vec<NodeCondition> {
    let ready = if facts.runtime_ok {
        condition(old, "Ready", "True", "KubeletReady", "kubelet is posting ready status", now)
    } else {
        condition(old, "Ready", "False", "KubeletNotReady", "container runtime is down", now)
    };
    vec![
        condition(
            old,
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            now,
        ),
        condition(old, "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
        condition(old, "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", now),
        ready,
    ]
}

/// The whole status.
pub fn node_status(old: Option<&NodeStatus>, facts: &NodeFacts, now: &DateTime<Utc>) -> NodeStatus {
    let old_conditions = old.and_then(|s| s.conditions.clone()).unwrap_or_default();
    let machine = &facts.machine;
    NodeStatus {
        capacity: Some(capacity(machine)),
        allocatable: Some(capacity(machine)),
        addresses: Some(vec![
            NodeAddress { type_: "InternalIP".into(), address: facts.internal_ip.to_string() },
            NodeAddress { type_: "Hostname".into(), address: machine.hostname.clone() },
        ]),
        conditions: Some(conditions(&old_conditions, facts, now)),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: facts.kubelet_port }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: machine.architecture.clone(),
            boot_id: machine.boot_id.clone(),
            container_runtime_version: facts.runtime_version.clone(),
            kernel_version: machine.kernel_version.clone(),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.into(),
            machine_id: machine.machine_id.clone(),
            operating_system: "linux".into(),
            os_image: machine.os_image.clone(),
            system_uuid: machine.machine_id.clone(),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn facts(runtime_ok: bool) -> NodeFacts {
        NodeFacts {
            machine: Machine {
                cpus: 2,
                memory: 4 << 30,
                ephemeral_storage: 10 << 30,
                hostname: "vm".into(),
                ..Default::default()
            },
            internal_ip: "10.244.0.1".parse().unwrap(),
            runtime_version: "docker://20.10.24".into(),
            kubelet_port: 10250,
            runtime_ok,
        }
    }

    #[test]
    fn capacity_is_reported_in_kubernetes_units() {
        let capacity = capacity(&facts(true).machine);
        let shown: Vec<(&str, &str)> = capacity.iter().map(|(k, v)| (k.as_str(), v.0.as_str())).collect();
        assert_eq!(
            shown,
            vec![("cpu", "2"), ("ephemeral-storage", "10485760Ki"), ("memory", "4194304Ki"), ("pods", "110")]
        );
    }

    #[test]
    fn conditions_keep_their_transition_time_and_move_their_heartbeat() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 10).unwrap();
        let first = node_status(None, &facts(true), &t0);
        let ready =
            |s: &NodeStatus| s.conditions.as_ref().unwrap().iter().find(|c| c.type_ == "Ready").unwrap().clone();
        assert_eq!(ready(&first).reason.as_deref(), Some("KubeletReady"));
        assert_eq!(ready(&first).message.as_deref(), Some("kubelet is posting ready status"));

        let second = node_status(Some(&first), &facts(true), &t1);
        assert_eq!(ready(&second).last_transition_time, Some(Time(t0)), "unchanged status, same transition");
        assert_eq!(ready(&second).last_heartbeat_time, Some(Time(t1)));

        let down = node_status(Some(&second), &facts(false), &t1);
        assert_eq!((ready(&down).status.as_str(), ready(&down).last_transition_time), ("False", Some(Time(t1))));
        let types: Vec<String> = down.conditions.unwrap().into_iter().map(|c| c.type_).collect();
        assert_eq!(types, ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]);
        let info = down.node_info.unwrap();
        assert_eq!(
            (info.kubelet_version.as_str(), info.container_runtime_version.as_str()),
            ("v1.31.0", "docker://20.10.24")
        );
    }
}
