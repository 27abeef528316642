use serde_json::{json, Value};

use super::{check_create, create, update, with};
use crate::validation::validate_status_update;

fn node() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
        "spec": {"podCIDR": "10.244.1.0/24"},
        "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
    })
}

#[test]
fn a_node_has_valid_pod_cidrs_and_taints() {
    check_create(
        "nodes",
        node,
        cases![
            ("a pod CIDR that is no CIDR", |o| o["spec"]["podCIDR"] = json!("10.244.1.0"), ["spec.podCIDRs[0]: Invalid value: \"10.244.1.0\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]),
            ("two IPv4 pod CIDRs", |o| o["spec"]["podCIDRs"] = json!(["10.244.1.0/24", "10.244.2.0/24"]), ["spec.podCIDRs: Invalid value: []string{\"10.244.1.0/24\", \"10.244.2.0/24\"}: may specify no more than one CIDR for each IP family"]),
            ("a taint without an effect", |o| o["spec"]["taints"] = json!([{"key": "dedicated", "value": "gpu"}]), ["metadata.taints[0].effect: Required value"]),
            ("one taint twice", |o| o["spec"]["taints"] = json!([{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]), ["metadata.taints[1]: Duplicate value: core.Taint{Key:\"k\", Value:\"v\", Effect:\"NoSchedule\", TimeAdded:<nil>}: taints must be unique by key and effect pair"]),
            ("a negative capacity", |o| o["status"]["capacity"]["cpu"] = json!("-1"), ["status.capacity.cpu: Invalid value: \"-1\": must be greater than or equal to 0"]),
        ],
    );
    let without = with(node(), |o| o["spec"] = json!({}));
    assert!(update("nodes", node(), without).is_empty(), "the IPAM controller may set the CIDR once");
    let moved = with(node(), |o| o["spec"]["podCIDR"] = json!("10.244.9.0/24"));
    assert_eq!(
        update("nodes", moved, node()),
        vec!["spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"]
    );
}

#[test]
fn namespaces_leases_and_events_follow_their_small_rules() {
    let namespace = json!({"metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes"]}});
    assert!(create("namespaces", namespace.clone()).is_empty());
    let odd = with(namespace, |o| o["spec"]["finalizers"] = json!(["cleanup"]));
    assert_eq!(
        create("namespaces", odd),
        vec!["spec.finalizers: Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified"]
    );
    let lease = json!({"metadata": {"name": "kube-scheduler", "namespace": "kube-system"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
    assert!(create("leases", lease.clone()).is_empty());
    let zero = with(lease, |o| o["spec"]["leaseDurationSeconds"] = json!(0));
    assert_eq!(create("leases", zero), vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]);
    let event = json!({
        "metadata": {"name": "web.17c2", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}, "reason": "Started"
    });
    assert!(create("events", event.clone()).is_empty());
    let elsewhere = with(event, |o| o["involvedObject"]["namespace"] = json!("other"));
    assert_eq!(
        create("events", elsewhere),
        vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]
    );
}

#[test]
fn a_status_update_keeps_counters_sane() {
    let deployments = super::resource("deployments");
    let old = super::deployment();
    let new = with(old.clone(), |o| o["status"] = json!({"replicas": 3, "readyReplicas": 4, "availableReplicas": -1}));
    let got: Vec<String> = validate_status_update(deployments, &new, &old).iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        vec![
            "status.availableReplicas: Invalid value: -1: must be greater than or equal to 0",
            "status.readyReplicas: Invalid value: 4: cannot be greater than status.replicas",
        ]
    );
    let fine = with(old.clone(), |o| o["status"] = json!({"replicas": 3, "readyReplicas": 3, "availableReplicas": 3}));
    assert!(validate_status_update(deployments, &fine, &old).is_empty());
}
