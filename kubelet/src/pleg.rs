//! Noticing that containers changed: list Docker every few seconds and wake the pods whose
//! containers did.
//!
//! Mirrors the Pod Lifecycle Event Generator, `pkg/kubelet/pleg/generic.go` (`relist`): the
//! kubelet does not watch Docker's event stream; it lists the node's containers (by label,
//! ~1–6 ms) and compares each pod's containers and their states with the previous list. A
//! container that started, exited or disappeared wakes its pod's worker, which then looks at
//! everything afresh. Upstream emits typed events (`ContainerStarted`, `ContainerDied`…);
//! since a sync reads the whole pod anyway, Skiff only says which pods changed.

use std::collections::{BTreeMap, HashMap};

use crate::metrics::Metrics;
use crate::naming::{self, Scope};
use crate::runtime::{ContainerRuntime, ContainerState, ContainerSummary, Result};

/// Each pod's containers as `(id, state)`, sorted.
type Snapshot = HashMap<String, Vec<(String, ContainerState)>>;

#[derive(Default)]
pub struct Pleg {
    last: Snapshot,
}

/// What one relist found.
pub struct Relisted {
    /// Pods whose containers changed since the last relist.
    pub changed: Vec<String>,
    /// Every container of the node, by pod uid.
    pub pods: BTreeMap<String, Vec<ContainerSummary>>,
}

impl Pleg {
    pub async fn relist(&mut self, runtime: &dyn ContainerRuntime, scope: &Scope, metrics: &Metrics) -> Result<Relisted> {
        let started = std::time::Instant::now();
        let listed = runtime.list_containers(&scope.filter()).await?;
        let mut pods: BTreeMap<String, Vec<ContainerSummary>> = BTreeMap::new();
        for container in listed {
            if let Some(uid) = container.labels.get(naming::POD_UID).cloned() {
                pods.entry(uid).or_default().push(container);
            }
        }
        let snapshot: Snapshot = pods
            .iter()
            .map(|(uid, list)| {
                let mut states: Vec<(String, ContainerState)> = list.iter().map(|c| (c.id.clone(), c.state)).collect();
                states.sort_by(|a, b| a.0.cmp(&b.0));
                (uid.clone(), states)
            })
            .collect();
        let mut changed: Vec<String> = snapshot
            .iter()
            .filter(|(uid, states)| self.last.get(*uid) != Some(states))
            .map(|(uid, _)| uid.clone())
            .chain(self.last.keys().filter(|uid| !snapshot.contains_key(*uid)).cloned())
            .collect();
        changed.sort();
        self.last = snapshot;

        let running_pods = pods
            .values()
            .filter(|list| {
                list.iter().any(|c| {
                    c.state == ContainerState::Running
                        && c.labels.get(naming::CONTAINER_TYPE).map(String::as_str) == Some(naming::TYPE_SANDBOX)
                })
            })
            .count();
        metrics.running_pods.set(running_pods as i64);
        for (state, name) in [
            (ContainerState::Running, "running"),
            (ContainerState::Exited, "exited"),
            (ContainerState::Created, "created"),
        ] {
            let count = pods
                .values()
                .flatten()
                .filter(|c| {
                    c.state == state
                        && c.labels.get(naming::CONTAINER_TYPE).map(String::as_str) == Some(naming::TYPE_CONTAINER)
                })
                .count();
            metrics.running_containers.with_label_values(&[name]).set(count as i64);
        }
        metrics.relist_duration.observe(started.elapsed().as_secs_f64());
        Ok(Relisted { changed, pods })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::ContainerIdentity;
    use crate::runtime::fake::FakeRuntime;
    use crate::runtime::ContainerConfig;

    fn config(pod_uid: &str, container: &str, node: &str) -> ContainerConfig {
        let identity = ContainerIdentity {
            pod_name: "p".into(),
            namespace: "default".into(),
            pod_uid: pod_uid.into(),
            container: container.into(),
            attempt: 0,
        };
        ContainerConfig { name: identity.docker_name(), labels: identity.labels(&Scope::new(node, "c1")), ..Default::default() }
    }

    #[tokio::test]
    async fn a_relist_reports_the_pods_whose_containers_changed_on_this_node_only() {
        let runtime = FakeRuntime::new();
        let metrics = Metrics::new();
        let mut pleg = Pleg::default();
        let a = runtime.insert_container(config("a", "web", "node-1"), ContainerState::Running);
        runtime.insert_container(config("b", "web", "node-1"), ContainerState::Running);
        runtime.insert_container(config("other", "web", "node-2"), ContainerState::Running);
        let first = pleg.relist(&runtime, &Scope::new("node-1", "c1"), &metrics).await.unwrap();
        assert_eq!(first.changed, vec!["a", "b"], "everything is new; node-2's pod is not ours");
        assert!(pleg.relist(&runtime, &Scope::new("node-1", "c1"), &metrics).await.unwrap().changed.is_empty(), "nothing changed");
        runtime.exit(&a, 1);
        assert_eq!(pleg.relist(&runtime, &Scope::new("node-1", "c1"), &metrics).await.unwrap().changed, vec!["a"]);
        runtime.remove_container_now(&a);
        assert_eq!(pleg.relist(&runtime, &Scope::new("node-1", "c1"), &metrics).await.unwrap().changed, vec!["a"], "gone is a change too");
    }
}
