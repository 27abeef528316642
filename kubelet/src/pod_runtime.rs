//! What runs for a pod, as Docker's labels tell it: its pause containers and every instance of
//! each of its containers, newest first.
//!
//! Mirrors `kubecontainer.PodStatus` (`pkg/kubelet/container/runtime.go`) as
//! `kuberuntime_manager.go`'s `GetPodStatus` builds it from the runtime: the kubelet keeps no
//! record of its own of what it started. Everything here is read back from Docker on each sync,
//! so a restarted kubelet knows exactly what the previous one knew (adoption), and the restart
//! count is the `io.kubernetes.container.restartCount` label of the newest instance.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::naming::{self, ContainerIdentity, Scope};
use crate::runtime::{Container, ContainerRuntime, ContainerState, Result};

/// One instance of a container, with who it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub identity: ContainerIdentity,
    pub container: Container,
}

impl Instance {
    pub fn is_running(&self) -> bool {
        self.container.state == ContainerState::Running
    }
    pub fn has_exited(&self) -> bool {
        self.container.state == ContainerState::Exited
    }
    pub fn id(&self) -> &str {
        &self.container.id
    }
    pub fn hash(&self) -> Option<&str> {
        self.container.labels.get(naming::CONTAINER_HASH).map(String::as_str)
    }
}

/// A pod as the runtime sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodRuntime {
    /// Pause containers, newest (highest attempt) first.
    pub sandboxes: Vec<Instance>,
    /// Instances of the pod's containers by name, newest first.
    pub containers: BTreeMap<String, Vec<Instance>>,
}

fn newest_first(list: &mut [Instance]) {
    list.sort_by(|a, b| {
        (b.identity.attempt, b.container.created_at).cmp(&(a.identity.attempt, a.container.created_at))
    });
}

impl PodRuntime {
    /// Groups inspected containers of one pod.
    pub fn from_containers(found: Vec<Container>) -> PodRuntime {
        let mut pod = PodRuntime::default();
        for container in found {
            let Some(identity) = ContainerIdentity::from_labels(&container.labels) else { continue };
            let instance = Instance { identity, container };
            if instance.identity.is_sandbox() {
                pod.sandboxes.push(instance);
            } else {
                pod.containers.entry(instance.identity.container.clone()).or_default().push(instance);
            }
        }
        newest_first(&mut pod.sandboxes);
        for list in pod.containers.values_mut() {
            newest_first(list);
        }
        pod
    }

    /// Reads the pod's containers on this node from the runtime.
    pub async fn load(runtime: &dyn ContainerRuntime, scope: &Scope, uid: &str) -> Result<PodRuntime> {
        let mut filter = scope.filter();
        filter.push((naming::POD_UID, uid));
        let listed = runtime.list_containers(&filter).await?;
        let mut found = Vec::with_capacity(listed.len());
        for summary in listed {
            match runtime.inspect_container(&summary.id).await {
                Ok(container) => found.push(container),
                // Removed between the list and the inspect.
                Err(err) if err.is_not_found() => {}
                Err(err) => return Err(err),
            }
        }
        Ok(PodRuntime::from_containers(found))
    }

    /// The newest pause container.
    pub fn sandbox(&self) -> Option<&Instance> {
        self.sandboxes.first()
    }

    /// The newest pause container, if it runs.
    pub fn running_sandbox(&self) -> Option<&Instance> {
        self.sandbox().filter(|s| s.is_running())
    }

    /// The pod IP: the running pause container's address.
    pub fn pod_ip(&self) -> Option<Ipv4Addr> {
        let sandbox = self.running_sandbox()?;
        sandbox.container.labels.get(naming::POD_IP).and_then(|ip| ip.parse().ok()).or(sandbox.container.ip)
    }

    /// The newest instance of a container.
    pub fn latest(&self, name: &str) -> Option<&Instance> {
        self.containers.get(name).and_then(|l| l.first())
    }

    /// The instance before the newest (its `lastState`).
    pub fn previous(&self, name: &str) -> Option<&Instance> {
        self.containers.get(name).and_then(|l| l.get(1))
    }

    /// Every container instance that runs, pause containers included.
    pub fn running(&self) -> impl Iterator<Item = &Instance> {
        self.sandboxes.iter().chain(self.containers.values().flatten()).filter(|i| i.is_running())
    }

    /// Every instance, pause containers included.
    pub fn all(&self) -> impl Iterator<Item = &Instance> {
        self.sandboxes.iter().chain(self.containers.values().flatten())
    }

    /// Instances nobody needs any more: exited containers older than the previous instance, and
    /// exited pause containers other than the newest (upstream's container GC keeps one dead
    /// instance per container, `MaxPerPodContainer = 1`).
    pub fn garbage(&self) -> Vec<&Instance> {
        let old_sandboxes = self.sandboxes.iter().skip(1).filter(|s| !s.is_running());
        let old_containers = self.containers.values().flat_map(|l| l.iter().skip(2)).filter(|c| !c.is_running());
        old_sandboxes.chain(old_containers).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ContainerState;

    pub fn instance(container: &str, attempt: u32, state: ContainerState) -> Container {
        let identity = ContainerIdentity {
            pod_name: "web".into(),
            namespace: "default".into(),
            pod_uid: "u1".into(),
            container: container.into(),
            attempt,
        };
        Container {
            id: format!("{container}-{attempt}"),
            name: identity.docker_name(),
            labels: identity.labels(&Scope::new("node-1", "c1")),
            state,
            image: "skiff/demo-web:v1".into(),
            image_id: "sha256:abc".into(),
            created_at: None,
            started_at: None,
            finished_at: None,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            start_failed: false,
            ip: None,
        }
    }

    #[test]
    fn instances_are_grouped_by_container_newest_first_and_old_ones_are_garbage() {
        let pod = PodRuntime::from_containers(vec![
            instance("web", 0, ContainerState::Exited),
            instance("POD", 0, ContainerState::Exited),
            instance("web", 2, ContainerState::Running),
            instance("POD", 1, ContainerState::Running),
            instance("web", 1, ContainerState::Exited),
        ]);
        assert_eq!(pod.running_sandbox().unwrap().id(), "POD-1");
        assert_eq!(pod.latest("web").unwrap().id(), "web-2");
        assert_eq!(pod.previous("web").unwrap().id(), "web-1");
        let garbage: Vec<&str> = pod.garbage().iter().map(|i| i.id()).collect();
        assert_eq!(garbage, vec!["POD-0", "web-0"]);
        assert_eq!(pod.running().count(), 2);
    }

    #[tokio::test]
    async fn a_restarted_kubelet_reads_a_running_pod_back_from_labels_and_leaves_it_alone() {
        use crate::pod_actions::{compute_pod_actions, NoProbes};
        use crate::runtime::fake::FakeRuntime;
        use crate::runtime::ContainerConfig;

        // What an earlier kubelet left: a pause container and the third attempt of web.
        let runtime = FakeRuntime::new();
        let make = |container: &str, attempt: u32, node: &str| {
            let identity = ContainerIdentity {
                pod_name: "web".into(),
                namespace: "default".into(),
                pod_uid: "u1".into(),
                container: container.into(),
                attempt,
            };
            ContainerConfig {
                name: identity.docker_name(),
                labels: identity.labels(&Scope::new(node, "c1")),
                ..Default::default()
            }
        };
        runtime.insert_container(make("POD", 0, "node-1"), ContainerState::Running);
        runtime.insert_container(make("web", 2, "node-1"), ContainerState::Running);
        runtime.insert_container(make("web", 1, "node-1"), ContainerState::Exited);
        runtime.insert_container(make("web", 0, "node-2"), ContainerState::Running);

        let view = PodRuntime::load(&runtime, &Scope::new("node-1", "c1"), "u1").await.unwrap();
        assert_eq!(view.latest("web").unwrap().identity.attempt, 2, "the restart count comes from the label");
        assert_eq!(view.containers["web"].len(), 2, "node-2's container is not ours");
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{"name": "web", "image": "skiff/demo-web:v1"}]}
        }))
        .unwrap();
        let actions = compute_pod_actions(&pod, &view, &NoProbes);
        assert_eq!(actions, Default::default(), "nothing to start, nothing to kill");
    }
}
