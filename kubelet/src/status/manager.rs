//! Writes pod statuses to the API server, only when they changed.
//!
//! Mirrors `pkg/kubelet/status/status_manager.go` (`SetPodStatus`, `syncPod`,
//! `needsUpdate`, `mergePodStatus`): the manager remembers the last status it wrote for each
//! pod (by uid); an equal status is not written again, so a sync every few seconds costs nothing
//! when nothing changed. A write reads the pod, checks it is still the same pod (uid), keeps the
//! conditions the kubelet does not own (`PodScheduled` is the scheduler's, others a
//! controller's), replaces the status through the `status` subresource, and retries on a
//! conflict with a fresh read.
//!
//! Left out: the background loop that re-sends every status every 10 s, and the versioned
//! cache; a status that failed to write is simply tried again on the pod's next sync.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use parking_lot::Mutex;
use skiff_client::{Api, ApiError, Client};

const TRIES: usize = 3;

/// The conditions a kubelet computes; any other a pod carries is kept as it is.
const KUBELET_CONDITIONS: [&str; 5] =
    ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];

pub struct StatusManager {
    client: Client,
    /// A std Mutex: nothing awaits while it is held.
    written: Mutex<HashMap<String, PodStatus>>,
}

impl StatusManager {
    pub fn new(client: Client) -> StatusManager {
        StatusManager { client, written: Mutex::new(HashMap::new()) }
    }

    /// The status last written for the pod.
    pub fn last(&self, uid: &str) -> Option<PodStatus> {
        self.written.lock().get(uid).cloned()
    }

    /// Whether `status` differs from the one last written.
    pub fn needs_update(&self, uid: &str, status: &PodStatus) -> bool {
        self.written.lock().get(uid) != Some(status)
    }

    /// Writes the pod's status unless it is the one written last. `Ok(false)` if it was not
    /// written because the pod is gone (or was replaced by a pod of the same name).
    pub async fn set(&self, pod: &Pod, status: PodStatus) -> Result<bool, ApiError> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if !self.needs_update(&uid, &status) {
            return Ok(true);
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let mut last_err = None;
        for _ in 0..TRIES {
            let Some(mut current) = pods.get_opt(&name).await? else { return Ok(false) };
            if current.metadata.uid.as_deref() != Some(uid.as_str()) {
                return Ok(false);
            }
            current.status = Some(merge(current.status.take().unwrap_or_default(), status.clone()));
            match pods.replace_status(&name, &current).await {
                Ok(_) => {
                    tracing::debug!(pod = %format!("{namespace}/{name}"), phase = ?status.phase, "pod status written");
                    self.written.lock().insert(uid, status);
                    return Ok(true);
                }
                Err(err) if err.is_conflict() => last_err = Some(err),
                Err(err) if err.is_not_found() => return Ok(false),
                Err(err) => return Err(err),
            }
        }
        Err(last_err.expect("a conflict was seen"))
    }

    /// Forgets a pod that is gone.
    pub fn forget(&self, uid: &str) {
        self.written.lock().remove(uid);
    }
}

/// The kubelet's status, with the conditions it does not own kept from the stored one (and the
/// scheduler's `PodScheduled` if it set one).
fn merge(stored: PodStatus, mut computed: PodStatus) -> PodStatus {
    let stored_conditions = stored.conditions.unwrap_or_default();
    let mut conditions = computed.conditions.take().unwrap_or_default();
    if let Some(scheduled) = stored_conditions.iter().find(|c| c.type_ == "PodScheduled") {
        conditions.retain(|c| c.type_ != "PodScheduled");
        conditions.push(scheduled.clone());
    }
    conditions.extend(stored_conditions.into_iter().filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str())));
    computed.conditions = Some(conditions);
    computed.nominated_node_name = stored.nominated_node_name;
    computed
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PodCondition;

    use super::*;

    fn condition(kind: &str, status: &str) -> PodCondition {
        PodCondition { type_: kind.into(), status: status.into(), ..Default::default() }
    }

    #[test]
    fn conditions_of_others_are_kept_and_the_schedulers_wins() {
        let stored = PodStatus {
            conditions: Some(vec![
                condition("PodScheduled", "True"),
                condition("DisruptionTarget", "True"),
                condition("Ready", "True"),
            ]),
            ..Default::default()
        };
        let computed = PodStatus {
            conditions: Some(vec![condition("Ready", "False"), condition("PodScheduled", "True")]),
            ..Default::default()
        };
        let merged: Vec<(String, String)> =
            merge(stored, computed).conditions.unwrap().into_iter().map(|c| (c.type_, c.status)).collect();
        assert_eq!(
            merged,
            vec![
                ("Ready".into(), "False".into()),
                ("PodScheduled".into(), "True".into()),
                ("DisruptionTarget".into(), "True".into())
            ]
        );
    }

    #[tokio::test]
    async fn an_unchanged_status_is_not_written_again() {
        // A client to nowhere: a write would fail, so passing proves nothing was sent.
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        let manager = StatusManager::new(Client::from_channel(channel, "test"));
        let status = PodStatus { phase: Some("Running".into()), ..Default::default() };
        manager.written.lock().insert("u1".into(), status.clone());
        let mut pod = Pod::default();
        pod.metadata.uid = Some("u1".into());
        pod.metadata.name = Some("web".into());
        assert!(manager.set(&pod, status.clone()).await.unwrap(), "de-duplicated, no call made");
        assert!(!manager.needs_update("u1", &status));
        let changed = PodStatus { phase: Some("Succeeded".into()), ..Default::default() };
        assert!(manager.needs_update("u1", &changed));
        assert!(manager.set(&pod, changed).await.is_err(), "a changed status is written (and fails here)");
        manager.forget("u1");
        assert_eq!(manager.last("u1"), None);
    }
}
