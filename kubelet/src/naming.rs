//! How the kubelet finds its own containers again: Docker names and labels.
//!
//! Mirrors dockershim's `pkg/kubelet/dockershim/naming.go` (Kubernetes ≤ 1.23) and the labels
//! of `pkg/kubelet/kuberuntime/labels.go`. A pod's containers are named
//! `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>` (the pause container is `POD`), so
//! `docker ps` reads like a pod list and two attempts never collide, and they carry
//! `io.kubernetes.*` labels with the pod's identity and the restart count. After a restart the
//! kubelet rebuilds everything it knew from these labels (see [`crate::pod_runtime`]).
//!
//! Skiff adds `io.skiff.*` labels of its own: the node and the cluster (several kubelets share
//! one Docker — of one cluster, or of several clusters with a `node-1` each — and each must only
//! touch its own containers: the [`Scope`]), the pause container's pod IP, and the container's
//! spec hash.

use std::collections::BTreeMap;

pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// `podsandbox` for the pause container, `container` for the others (dockershim's).
pub const CONTAINER_TYPE: &str = "io.kubernetes.docker.type";
pub const SANDBOX_ID: &str = "io.kubernetes.sandbox.id";
pub const RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
pub const CONTAINER_HASH: &str = "io.kubernetes.container.hash";
pub const GRACE_PERIOD: &str = "io.kubernetes.pod.terminationGracePeriod";
/// Skiff's: which node's kubelet made it.
pub const NODE: &str = "io.skiff.node";
/// Skiff's: which cluster (the uid of its `kube-system` namespace, Kubernetes' usual cluster id).
pub const CLUSTER: &str = "io.skiff.cluster";
/// Skiff's: the pod IP, on the pause container.
pub const POD_IP: &str = "io.skiff.pod-ip";
/// Skiff's: `init` for init containers, `app` for the others.
pub const CONTAINER_KIND: &str = "io.skiff.container-kind";

/// The pause container's name in the naming scheme.
pub const SANDBOX_NAME: &str = "POD";
pub const TYPE_SANDBOX: &str = "podsandbox";
pub const TYPE_CONTAINER: &str = "container";

/// Whose containers a kubelet may touch: those of its node in its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub node: String,
    pub cluster: String,
}

impl Scope {
    pub fn new(node: &str, cluster: &str) -> Scope {
        Scope { node: node.to_string(), cluster: cluster.to_string() }
    }

    /// The label filter that finds exactly these containers.
    pub fn filter(&self) -> Vec<(&str, &str)> {
        vec![(NODE, self.node.as_str()), (CLUSTER, self.cluster.as_str())]
    }
}

/// Who a container belongs to, as its name and labels say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerIdentity {
    pub pod_name: String,
    pub namespace: String,
    pub pod_uid: String,
    /// `POD` for the pause container.
    pub container: String,
    pub attempt: u32,
}

impl ContainerIdentity {
    /// `k8s_web_web-7d4_default_0f3c…_2`
    pub fn docker_name(&self) -> String {
        format!("k8s_{}_{}_{}_{}_{}", self.container, self.pod_name, self.namespace, self.pod_uid, self.attempt)
    }

    pub fn is_sandbox(&self) -> bool {
        self.container == SANDBOX_NAME
    }

    /// Reads a Docker name back (`/` prefix allowed); `None` for containers that are not a
    /// kubelet's. Pod and namespace names cannot hold `_`, so splitting on it is safe.
    pub fn parse(name: &str) -> Option<ContainerIdentity> {
        let parts: Vec<&str> = name.trim_start_matches('/').split('_').collect();
        if parts.len() < 6 || parts[0] != "k8s" {
            return None;
        }
        Some(ContainerIdentity {
            container: parts[1].to_string(),
            pod_name: parts[2].to_string(),
            namespace: parts[3].to_string(),
            pod_uid: parts[4].to_string(),
            attempt: parts[5].parse().ok()?,
        })
    }

    /// The labels every container of the pod carries.
    pub fn labels(&self, scope: &Scope) -> BTreeMap<String, String> {
        let kind = if self.is_sandbox() { TYPE_SANDBOX } else { TYPE_CONTAINER };
        BTreeMap::from([
            (POD_NAME.to_string(), self.pod_name.clone()),
            (POD_NAMESPACE.to_string(), self.namespace.clone()),
            (POD_UID.to_string(), self.pod_uid.clone()),
            (CONTAINER_NAME.to_string(), self.container.clone()),
            (CONTAINER_TYPE.to_string(), kind.to_string()),
            (RESTART_COUNT.to_string(), self.attempt.to_string()),
            (NODE.to_string(), scope.node.clone()),
            (CLUSTER.to_string(), scope.cluster.clone()),
        ])
    }

    /// Reads the labels back; `None` if a label is missing.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<ContainerIdentity> {
        Some(ContainerIdentity {
            pod_name: labels.get(POD_NAME)?.clone(),
            namespace: labels.get(POD_NAMESPACE)?.clone(),
            pod_uid: labels.get(POD_UID)?.clone(),
            container: labels.get(CONTAINER_NAME)?.clone(),
            attempt: labels.get(RESTART_COUNT).and_then(|c| c.parse().ok()).unwrap_or(0),
        })
    }
}

/// A stable hash of a container's spec (FNV-1a over its JSON), so that a changed spec (a new
/// image after `kubectl set image` on a bare pod) restarts the container, as upstream's
/// `HashContainer` does.
pub fn hash_container(container: &k8s_openapi::api::core::v1::Container) -> String {
    let json = serde_json::to_vec(container).unwrap_or_default();
    let mut hash: u32 = 0x811c_9dc5;
    for byte in json {
        hash ^= byte as u32;
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(attempt: u32) -> ContainerIdentity {
        ContainerIdentity {
            pod_name: "web-7d4".into(),
            namespace: "default".into(),
            pod_uid: "0f3c".into(),
            container: "web".into(),
            attempt,
        }
    }

    #[test]
    fn names_read_like_dockershims_and_parse_back() {
        assert_eq!(web(2).docker_name(), "k8s_web_web-7d4_default_0f3c_2");
        assert_eq!(ContainerIdentity::parse("/k8s_web_web-7d4_default_0f3c_2"), Some(web(2)));
        let pause = ContainerIdentity { container: SANDBOX_NAME.into(), ..web(0) };
        assert_eq!(pause.docker_name(), "k8s_POD_web-7d4_default_0f3c_0");
        assert!(ContainerIdentity::parse("/k8s_POD_web-7d4_default_0f3c_0").unwrap().is_sandbox());
        for foreign in ["/nginx", "/k8s_a_b_c", "/k8s_a_b_c_d_notanumber", "/other_a_b_c_d_1"] {
            assert_eq!(ContainerIdentity::parse(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn labels_carry_the_identity_the_node_and_the_cluster() {
        let labels = web(3).labels(&Scope::new("node-1", "c1"));
        assert_eq!(labels[RESTART_COUNT], "3");
        assert_eq!((labels[NODE].as_str(), labels[CLUSTER].as_str()), ("node-1", "c1"));
        assert_eq!(labels[CONTAINER_TYPE], "container");
        assert_eq!(ContainerIdentity::from_labels(&labels), Some(web(3)));
        let mut partial = labels.clone();
        partial.remove(POD_UID);
        assert_eq!(ContainerIdentity::from_labels(&partial), None);
    }

    #[test]
    fn a_changed_spec_changes_the_hash() {
        let mut container: k8s_openapi::api::core::v1::Container =
            serde_json::from_value(serde_json::json!({"name": "web", "image": "skiff/demo-web:v1"})).unwrap();
        let before = hash_container(&container);
        assert_eq!(before, hash_container(&container.clone()), "stable");
        container.image = Some("skiff/demo-web:v2".into());
        assert_ne!(before, hash_container(&container));
    }
}
