//! A pod's quality-of-service class.
//!
//! Mirrors `pkg/apis/core/helper/qos/qos.go` (`GetPodQOS`, `ComputePodQOS`): **Guaranteed** if
//! every container (init containers too) has CPU and memory limits and its requests equal them
//! (a request left out defaults to the limit); **BestEffort** if no container asks for or limits
//! CPU or memory at all; **Burstable** otherwise. Only `cpu` and `memory` count.

use crate::quantity::Quantity as Amount;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde_json::Value;

fn amount(value: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Option<i64> {
    value.and_then(|q| Amount::parse(&q.0).ok()).map(|q| q.milli_value())
}

/// The class of a typed pod spec (the kubelet's).
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    class(containers.map(|container: &Container| {
        let resources = container.resources.as_ref();
        let requests = resources.and_then(|r| r.requests.as_ref());
        let limits = resources.and_then(|r| r.limits.as_ref());
        ["cpu", "memory"].map(|resource| {
            (amount(requests.and_then(|r| r.get(resource))), amount(limits.and_then(|l| l.get(resource))))
        })
    }))
}

/// The class of a pod spec given as JSON (the API server's, for a new pod), read in place. A
/// quantity may be a string or a number, as validation and Kubernetes accept it.
pub fn qos_class_of_json(spec: &Value) -> &'static str {
    let amount = |value: &Value| {
        let parsed = match value {
            Value::String(text) => Amount::parse(text),
            Value::Number(number) => Amount::parse(&number.to_string()),
            _ => return None,
        };
        parsed.ok().map(|q| q.milli_value())
    };
    let containers = ["containers", "initContainers"].into_iter().filter_map(|list| spec[list].as_array()).flatten();
    class(containers.map(|container| {
        let resources = &container["resources"];
        ["cpu", "memory"]
            .map(|resource| (amount(&resources["requests"][resource]), amount(&resources["limits"][resource])))
    }))
}

/// The class of containers given as (request, limit) in millis for CPU and memory.
fn class(containers: impl Iterator<Item = [(Option<i64>, Option<i64>); 2]>) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    for resources in containers {
        for (request, limit) in resources {
            if request.is_some_and(|r| r != 0) || limit.is_some_and(|l| l != 0) {
                any = true;
            }
            match (request, limit) {
                (_, None) => guaranteed = false,
                (Some(r), Some(l)) if r != l => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(containers: serde_json::Value) -> PodSpec {
        serde_json::from_value(json!({"containers": containers})).unwrap()
    }

    #[test]
    fn classes_follow_requests_and_limits() {
        let cases = [
            ("nothing asked: best effort", json!([{"name": "a"}]), "BestEffort"),
            (
                "limits only (requests default to them): guaranteed",
                json!([{"name": "a", "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}]),
                "Guaranteed",
            ),
            (
                "requests equal limits: guaranteed",
                json!([{"name": "a", "resources": {"requests": {"cpu": "0.5", "memory": "64Mi"},
                                                  "limits": {"cpu": "500m", "memory": "64Mi"}}}]),
                "Guaranteed",
            ),
            (
                "a request below its limit: burstable",
                json!([{"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                                  "limits": {"cpu": "500m", "memory": "64Mi"}}}]),
                "Burstable",
            ),
            (
                "memory limited, cpu not: burstable",
                json!([{"name": "a", "resources": {"limits": {"memory": "64Mi"}}}]),
                "Burstable",
            ),
            (
                "one guaranteed container and one with nothing: burstable",
                json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}, {"name": "b"}]),
                "Burstable",
            ),
        ];
        for (name, containers, want) in cases {
            assert_eq!(qos_class(&spec(containers.clone())), want, "{name}");
            assert_eq!(qos_class_of_json(&json!({"containers": containers})), want, "{name}, as JSON");
        }
        let init = json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
                          "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(qos_class_of_json(&init), "Burstable", "init containers count");
        let numbers = json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": 1, "memory": 1073741824}}}]});
        assert_eq!(qos_class_of_json(&numbers), "Guaranteed", "numbers are quantities too");
    }
}
