//! A pod's quality-of-service class.
//!
//! Mirrors `pkg/apis/core/helper/qos/qos.go` (`GetPodQOS`, `ComputePodQOS`): **Guaranteed** if
//! every container (init containers too) has CPU and memory limits and its requests equal them
//! (a request left out defaults to the limit); **BestEffort** if no container asks for or limits
//! CPU or memory at all; **Burstable** otherwise. Only `cpu` and `memory` count.

use crate::quantity::Quantity as Amount;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde::Deserialize;

fn amount(value: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Option<i64> {
    value.and_then(|q| Amount::parse(&q.0).ok()).map(|q| q.milli_value())
}

/// The class of a pod spec given as JSON, read in place (`&Value` is a deserializer) rather
/// than from a copy. A spec that does not decode asks for nothing that can be read: BestEffort.
pub fn qos_class_of_json(spec: &serde_json::Value) -> &'static str {
    qos_class(&PodSpec::deserialize(spec).unwrap_or_default())
}

pub fn qos_class(spec: &PodSpec) -> &'static str {
    let containers: Vec<&Container> = spec.containers.iter().chain(spec.init_containers.iter().flatten()).collect();
    let mut any = false;
    let mut guaranteed = true;
    for container in containers {
        let resources = container.resources.clone().unwrap_or_default();
        let requests = resources.requests.unwrap_or_default();
        let limits = resources.limits.unwrap_or_default();
        for resource in ["cpu", "memory"] {
            let request = amount(requests.get(resource));
            let limit = amount(limits.get(resource));
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
            assert_eq!(qos_class(&spec(containers)), want, "{name}");
        }
    }
}
