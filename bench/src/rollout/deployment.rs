//! What a Deployment's status says about its rollout.
//!
//! Mirrors the test `kubectl rollout status` makes (`DeploymentStatusViewer` in kubectl's
//! `rollout_status.go`): the controller has seen the newest spec (`observedGeneration`), every
//! replica runs the new template (`updatedReplicas`), no old replica is left among the counted
//! ones (`replicas`, which leaves out pods being deleted), and every new one is available.

use serde_json::Value;

/// Whether `deployment` has rolled out its `generation` to `replicas` pods.
pub fn rolled_out(deployment: &Value, generation: i64, replicas: i64) -> bool {
    let status = &deployment["status"];
    let count = |field: &str| status[field].as_i64().unwrap_or(0);
    status["observedGeneration"].as_i64().unwrap_or(0) >= generation
        && count("updatedReplicas") == replicas
        && count("replicas") == replicas
        && count("availableReplicas") == replicas
}

/// The generation a write left the Deployment at.
pub fn generation(deployment: &Value) -> i64 {
    deployment["metadata"]["generation"].as_i64().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_rollout_is_done_when_the_controller_saw_it_and_every_replica_is_new_and_available() {
        let status = |observed, updated, replicas, available| {
            json!({"status": {"observedGeneration": observed, "updatedReplicas": updated,
                              "replicas": replicas, "availableReplicas": available}})
        };
        let cases = [
            ("complete", status(2, 10, 10, 10), true),
            ("the controller has not seen the update yet", status(1, 10, 10, 10), false),
            ("an old pod still counts (surge)", status(2, 10, 11, 10), false),
            ("a new pod is not available yet", status(2, 10, 10, 9), false),
            ("not every replica is new", status(2, 9, 10, 10), false),
            ("no status yet", json!({}), false),
        ];
        for (name, deployment, want) in cases {
            assert_eq!(rolled_out(&deployment, 2, 10), want, "{name}");
        }
    }
}
