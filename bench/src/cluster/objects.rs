//! The objects the cluster benchmarks create, as the JSON kubectl would send.
//!
//! Every pod runs `skiff/demo-web` (a static HTTP server that answers its first request a
//! millisecond after it starts, and exits at once on SIGTERM), so a pod's start is the
//! orchestrator's and Docker's work and nothing of the application's. The same image and the
//! same pause image run in the Docker floor (`floor.rs`).

use serde_json::{json, Value};
use skiff_client::api::Kind;

/// The application image: what the floor's app containers run too.
pub const WEB_V1: &str = "skiff/demo-web:v1";
/// The image a rolling update moves to.
pub const WEB_V2: &str = "skiff/demo-web:v2";

/// Short, so that a deleted pod is gone quickly; long enough for the kubelet's zero-downtime
/// wait (at most half of it, 2.5 s) to have room, as a real Deployment's would.
pub const GRACE_SECONDS: i64 = 5;

pub fn pods() -> Kind {
    Kind::new("", "v1", "pods")
}

pub fn replica_sets() -> Kind {
    Kind::new("apps", "v1", "replicasets")
}

pub fn deployments() -> Kind {
    Kind::new("apps", "v1", "deployments")
}

pub fn services() -> Kind {
    Kind::new("", "v1", "services")
}

pub fn endpoint_slices() -> Kind {
    Kind::new("discovery.k8s.io", "v1", "endpointslices")
}

/// The object's `app` label.
pub fn app_of(object: &Value) -> &str {
    object["metadata"]["labels"]["app"].as_str().unwrap_or_default()
}

/// How a pod becomes Ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// No probe: Ready as soon as the kubelet has seen its container running. What `bench-pods`
    /// uses, to time the start alone, as the Docker floor does.
    Running,
    /// `httpGet /ready` on port 8080 every second: what `bench-rollout` uses, as a Deployment
    /// that is rolled out without dropping requests would.
    Probe,
}

/// The pod template's spec: one demo-web container, port 8080.
pub fn web_spec(image: &str, readiness: Readiness) -> Value {
    let mut container = json!({
        "name": "web",
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
    });
    if readiness == Readiness::Probe {
        container["readinessProbe"] = json!({"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1});
    }
    json!({"terminationGracePeriodSeconds": GRACE_SECONDS, "containers": [container]})
}

/// A bare pod labelled `app: <app>`.
pub fn pod(name: &str, app: &str, image: &str, readiness: Readiness) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": web_spec(image, readiness),
    })
}

fn template(app: &str, image: &str, readiness: Readiness) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": web_spec(image, readiness)})
}

/// A ReplicaSet of `replicas` pods labelled `app: <name>`.
pub fn replica_set(name: &str, replicas: u32, readiness: Readiness) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, WEB_V1, readiness),
        },
    })
}

/// A Deployment with the rolling update of the rollout issue: maxSurge 1, maxUnavailable 0,
/// so at most `replicas + 1` pods and never fewer than `replicas` available.
pub fn deployment(name: &str, replicas: u32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": template(name, image, Readiness::Probe),
        },
    })
}

/// A ClusterIP Service in front of the pods labelled `app: <app>`: it puts them in an
/// EndpointSlice, so that deleting one goes through the kubelet's wait until no proxy sends
/// it new connections (`client/src/rotation.rs`), as it would in a real rollout.
pub fn service(app: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": "http"}]},
    })
}

/// `kubectl set image deployment/<d> web=<image>` as a JSON patch of the template.
pub fn set_image(image: &str) -> Value {
    json!([{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}])
}

/// `kubectl scale --replicas=<replicas>` as a merge patch.
pub fn scale(replicas: u32) -> Value {
    json!({"spec": {"replicas": replicas}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_rollout_pods_have_a_readiness_probe() {
        let plain = web_spec(WEB_V1, Readiness::Running);
        assert!(plain["containers"][0].get("readinessProbe").is_none());
        let probed = web_spec(WEB_V1, Readiness::Probe);
        assert_eq!(probed["containers"][0]["readinessProbe"]["periodSeconds"], 1);
        assert_eq!(probed["terminationGracePeriodSeconds"], GRACE_SECONDS);
    }

    #[test]
    fn a_deployment_surges_by_one_and_never_drops_below_its_replicas() {
        let d = deployment("web", 10, WEB_V1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"], json!({"maxSurge": 1, "maxUnavailable": 0}));
        assert_eq!(d["spec"]["template"]["metadata"]["labels"]["app"], "web");
        assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
    }
}
