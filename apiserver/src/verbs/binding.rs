//! `pods/binding`: how the scheduler assigns a pod to a node.
//!
//! Mirrors `pkg/registry/core/pod/storage/storage.go` (`BindingREST.Create`, `assignPod`,
//! `setPodHostAndAnnotations`): a `Binding` names the pod and its target node; the pod gets
//! `spec.nodeName`, the binding's annotations, and the condition `PodScheduled=True`. A pod
//! binds once: a second binding is a `409 Conflict`, so two schedulers can never both place it.
//! `spec.nodeName` can change no other way.

use serde_json::{json, Value};
use skiff_api::age;
use skiff_api::status::Status;
use skiff_api::validation::FieldError;

use super::{check_body, Verbs};
use crate::path::Target;
use crate::storage::is_deleting;

/// Gives `pod` the node and annotations of `binding`; an error if it may not be bound.
pub fn bind(pod: &mut Value, binding: &Value, now: i64) -> Result<(), Status> {
    let resource = skiff_api::registry::by_plural("", "v1", "pods").expect("pods are registered");
    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let conflict = |message: String| {
        let mut status = Status::conflict(resource, &name);
        status.message = format!("Operation cannot be fulfilled on pods/binding \"{name}\": {message}");
        status
    };
    let node = binding["target"]["name"].as_str().unwrap_or_default().to_string();
    let kind = binding["target"]["kind"].as_str().unwrap_or_default();
    let mut errors = Vec::new();
    if node.is_empty() {
        errors.push(FieldError::required("target.name", ""));
    }
    if !kind.is_empty() && kind != "Node" {
        errors.push(FieldError::not_supported("target.kind", kind, &["Node", "<empty>"]));
    }
    if !errors.is_empty() {
        return Err(Status::invalid(resource, &name, &errors));
    }
    if is_deleting(pod) {
        return Err(conflict(format!("pod {name} is being deleted, cannot be assigned to a host")));
    }
    if let Some(current) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
        return Err(conflict(format!("pod {name} is already assigned to node \"{current}\"")));
    }
    pod["spec"]["nodeName"] = json!(node);
    if let Some(annotations) = binding["metadata"]["annotations"].as_object() {
        for (key, value) in annotations {
            pod["metadata"]["annotations"][key] = value.clone();
        }
    }
    set_scheduled(pod, now);
    Ok(())
}

/// Sets the `PodScheduled` condition to `True` (keeping the other conditions).
fn set_scheduled(pod: &mut Value, now: i64) {
    if !pod["status"].is_object() {
        pod["status"] = json!({});
    }
    if !pod["status"]["conditions"].is_array() {
        pod["status"]["conditions"] = json!([]);
    }
    let conditions = pod["status"]["conditions"].as_array_mut().expect("made an array above");
    conditions.retain(|c| c["type"] != "PodScheduled");
    conditions.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                           "lastTransitionTime": age::format_timestamp(now)}));
}

impl Verbs {
    /// Binds the pod `name` to the node the `binding` names. Answers a `Success` Status, as
    /// Kubernetes does.
    pub async fn bind(&self, target: &Target, name: &str, binding: Value) -> Result<Value, Status> {
        let binding_target = Target { resource: bindings(), ..target.clone() };
        check_body(&binding_target, &binding)?;
        if binding["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(Status::bad_request("the name of the binding does not match the pod's name on the URL"));
        }
        let main = Target { subresource: None, ..target.clone() };
        for _ in 0..3 {
            let mut pod = self.get(&main, name).await?;
            bind(&mut pod, &binding, age::now())?;
            match self.objects.update_whole(main.resource, main.namespace.as_deref(), name, pod).await {
                Ok(_) => {
                    return Ok(
                        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                    )
                }
                // The pod changed (its status, say) between the read and the write: bind again.
                Err(status) if status.reason == "Conflict" => continue,
                Err(status) => return Err(status),
            }
        }
        Err(Status::conflict(main.resource, name))
    }
}

/// A stand-in resource for checking a Binding body's kind and apiVersion.
fn bindings() -> &'static skiff_api::registry::Resource {
    static BINDINGS: skiff_api::registry::Resource = skiff_api::registry::Resource {
        group: "",
        version: "v1",
        kind: "Binding",
        plural: "bindings",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: &["create"],
        subresources: &[],
    };
    &BINDINGS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> Value {
        json!({"metadata": {"name": "web"}, "spec": {"containers": []}, "status": {"phase": "Pending"}})
    }

    #[test]
    fn binding_sets_the_node_and_the_scheduled_condition() {
        let mut pod = pending();
        let binding = json!({"metadata": {"name": "web", "annotations": {"a": "b"}}, "target": {"kind": "Node", "name": "node-2"}});
        bind(&mut pod, &binding, 1_700_000_000).unwrap();
        assert_eq!(pod["spec"]["nodeName"], "node-2");
        assert_eq!(pod["metadata"]["annotations"]["a"], "b");
        assert_eq!(pod["status"]["conditions"][0]["type"], "PodScheduled");
        assert_eq!(pod["status"]["conditions"][0]["status"], "True");
    }

    #[test]
    fn a_bound_pod_cannot_be_bound_again() {
        let mut pod = pending();
        pod["spec"]["nodeName"] = json!("node-1");
        let err = bind(&mut pod, &json!({"target": {"name": "node-2"}}), 0).unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on pods/binding \"web\": pod web is already assigned to node \"node-1\""
        );
    }

    #[test]
    fn a_binding_needs_a_node() {
        let err = bind(&mut pending(), &json!({"target": {"kind": "Pod", "name": ""}}), 0).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(err.message.contains("target.name: Required value"), "{}", err.message);
        assert!(err.message.contains("target.kind: Unsupported value: \"Pod\""), "{}", err.message);
    }
}
