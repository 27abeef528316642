//! Fixtures for tests, this crate's and its integration tests': Kubernetes' own `Pod` and `Node`
//! types with builder methods, so that a case reads as one line:
//! `Pod::test("web-0").requests("500m", "1Gi").node_selector("disk", "ssd")`.
//!
//! Each method edits the object through its JSON, which keeps the builders short and the
//! fixtures exactly what the API server would hold.

use k8s_openapi::api::core::v1::{Node, Pod};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

fn edit<K: Serialize + DeserializeOwned>(object: K, change: impl FnOnce(&mut Value)) -> K {
    let mut value = serde_json::to_value(object).expect("Kubernetes types serialize");
    change(&mut value);
    serde_json::from_value(value).expect("the fixture is still a valid object")
}

fn push(list: &mut Value, item: Value) {
    if !list.is_array() {
        *list = json!([]);
    }
    list.as_array_mut().expect("made an array").push(item);
}

fn container(name: &str, cpu: &str, memory: &str) -> Value {
    json!({"name": name, "image": "skiff/demo-web:v1", "resources": {"requests": {"cpu": cpu, "memory": memory}}})
}

/// Builders on `Pod`.
pub trait TestPod: Sized {
    /// A pod in `default` with one container that requests nothing, for the default scheduler.
    fn test(name: &str) -> Self;
    /// Requests of the first container.
    fn requests(self, cpu: &str, memory: &str) -> Self;
    /// Limits (and no requests) of the first container.
    fn limits(self, cpu: &str, memory: &str) -> Self;
    /// A request of the first container for another resource (`nvidia.com/gpu`).
    fn extended(self, resource: &str, amount: &str) -> Self;
    /// Another app container.
    fn container(self, name: &str, cpu: &str, memory: &str) -> Self;
    /// An init container, run before the app.
    fn init(self, name: &str, cpu: &str, memory: &str) -> Self;
    /// A sidecar: an init container with `restartPolicy: Always`.
    fn sidecar(self, name: &str, cpu: &str, memory: &str) -> Self;
    /// A host port on the first container (any IP, TCP).
    fn host_port(self, port: i32) -> Self;
    fn host_port_on(self, ip: &str, protocol: &str, port: i32) -> Self;
    fn label(self, key: &str, value: &str) -> Self;
    fn node_selector(self, key: &str, value: &str) -> Self;
    /// `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`, as JSON.
    fn required_node_affinity(self, node_selector: Value) -> Self;
    /// A toleration: `operator` is `Equal` or `Exists`, `""` leaves a field out.
    fn tolerate(self, key: &str, operator: &str, value: &str, effect: &str) -> Self;
    /// A controller owner reference (a ReplicaSet with this uid).
    fn owned_by(self, uid: &str) -> Self;
    fn on_node(self, node: &str) -> Self;
    fn scheduler(self, name: &str) -> Self;
    fn priority(self, priority: i32) -> Self;
    fn never_preempts(self) -> Self;
    fn phase(self, phase: &str) -> Self;
}

impl TestPod for Pod {
    fn test(name: &str) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"schedulerName": "default-scheduler",
                     "containers": [{"name": "app", "image": "skiff/demo-web:v1"}]},
        }))
        .expect("a valid pod")
    }
    fn requests(self, cpu: &str, memory: &str) -> Pod {
        edit(self, |p| p["spec"]["containers"][0]["resources"]["requests"] = json!({"cpu": cpu, "memory": memory}))
    }
    fn limits(self, cpu: &str, memory: &str) -> Pod {
        edit(self, |p| p["spec"]["containers"][0]["resources"] = json!({"limits": {"cpu": cpu, "memory": memory}}))
    }
    fn extended(self, resource: &str, amount: &str) -> Pod {
        edit(self, |p| p["spec"]["containers"][0]["resources"]["requests"][resource] = json!(amount))
    }
    fn container(self, name: &str, cpu: &str, memory: &str) -> Pod {
        edit(self, |p| push(&mut p["spec"]["containers"], container(name, cpu, memory)))
    }
    fn init(self, name: &str, cpu: &str, memory: &str) -> Pod {
        edit(self, |p| push(&mut p["spec"]["initContainers"], container(name, cpu, memory)))
    }
    fn sidecar(self, name: &str, cpu: &str, memory: &str) -> Pod {
        let mut sidecar = container(name, cpu, memory);
        sidecar["restartPolicy"] = json!("Always");
        edit(self, |p| push(&mut p["spec"]["initContainers"], sidecar))
    }
    fn host_port(self, port: i32) -> Pod {
        edit(self, |p| push(&mut p["spec"]["containers"][0]["ports"], json!({"containerPort": port, "hostPort": port})))
    }
    fn host_port_on(self, ip: &str, protocol: &str, port: i32) -> Pod {
        let entry = json!({"containerPort": port, "hostPort": port, "hostIP": ip, "protocol": protocol});
        edit(self, |p| push(&mut p["spec"]["containers"][0]["ports"], entry))
    }
    fn label(self, key: &str, value: &str) -> Pod {
        edit(self, |p| p["metadata"]["labels"][key] = json!(value))
    }
    fn node_selector(self, key: &str, value: &str) -> Pod {
        edit(self, |p| p["spec"]["nodeSelector"][key] = json!(value))
    }
    fn required_node_affinity(self, node_selector: Value) -> Pod {
        edit(self, |p| {
            p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = node_selector
        })
    }
    fn tolerate(self, key: &str, operator: &str, value: &str, effect: &str) -> Pod {
        let mut toleration = json!({"key": key, "operator": operator, "value": value, "effect": effect});
        toleration.as_object_mut().expect("an object").retain(|_, v| v != "");
        edit(self, |p| push(&mut p["spec"]["tolerations"], toleration))
    }
    fn owned_by(self, uid: &str) -> Pod {
        let owner = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("rs-{uid}"), "uid": uid,
                           "controller": true, "blockOwnerDeletion": true});
        edit(self, |p| push(&mut p["metadata"]["ownerReferences"], owner))
    }
    fn on_node(self, node: &str) -> Pod {
        edit(self, |p| p["spec"]["nodeName"] = json!(node))
    }
    fn scheduler(self, name: &str) -> Pod {
        edit(self, |p| p["spec"]["schedulerName"] = json!(name))
    }
    fn priority(self, priority: i32) -> Pod {
        edit(self, |p| p["spec"]["priority"] = json!(priority))
    }
    fn never_preempts(self) -> Pod {
        edit(self, |p| p["spec"]["preemptionPolicy"] = json!("Never"))
    }
    fn phase(self, phase: &str) -> Pod {
        edit(self, |p| p["status"]["phase"] = json!(phase))
    }
}

/// Builders on `Node`.
pub trait TestNode: Sized {
    /// A Ready node with 4 cpu, 8Gi of memory and room for 110 pods.
    fn test(name: &str) -> Self;
    /// Sets capacity and allocatable alike.
    fn capacity(self, cpu: &str, memory: &str, pods: u32) -> Self;
    fn label(self, key: &str, value: &str) -> Self;
    fn taint(self, key: &str, value: &str, effect: &str) -> Self;
    /// Cordoned: `spec.unschedulable`.
    fn unschedulable(self) -> Self;
    /// The `Ready` condition with this status (`True`, `False`, `Unknown`).
    fn ready(self, status: &str) -> Self;
    fn without_conditions(self) -> Self;
}

impl TestNode for Node {
    fn test(name: &str) -> Node {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
        }))
        .expect("a valid node");
        node.capacity("4", "8Gi", 110).ready("True")
    }
    fn capacity(self, cpu: &str, memory: &str, pods: u32) -> Node {
        let list = json!({"cpu": cpu, "memory": memory, "pods": pods.to_string(), "ephemeral-storage": "100Gi"});
        edit(self, |n| {
            n["status"]["capacity"] = list.clone();
            n["status"]["allocatable"] = list;
        })
    }
    fn label(self, key: &str, value: &str) -> Node {
        edit(self, |n| n["metadata"]["labels"][key] = json!(value))
    }
    fn taint(self, key: &str, value: &str, effect: &str) -> Node {
        let mut taint = json!({"key": key, "value": value, "effect": effect});
        taint.as_object_mut().expect("an object").retain(|_, v| v != "");
        edit(self, |n| push(&mut n["spec"]["taints"], taint))
    }
    fn unschedulable(self) -> Node {
        edit(self, |n| n["spec"]["unschedulable"] = json!(true))
    }
    fn ready(self, status: &str) -> Node {
        let reason = if status == "True" { "KubeletReady" } else { "KubeletNotReady" };
        edit(self, |n| n["status"]["conditions"] = json!([{"type": "Ready", "status": status, "reason": reason}]))
    }
    fn without_conditions(self) -> Node {
        edit(self, |n| n["status"]["conditions"] = json!([]))
    }
}
