//! What this proxy has applied, published for the kubelets: the proxy's half of the rotation
//! handshake in `skiff_client::rotation`.
//!
//! A kubelet about to stop a deleted pod waits until every live proxy has applied the
//! EndpointSlice change that took the pod out of rotation. Each part of the proxy that sends
//! connections to endpoints (the Service rules; the Ingress router, when it reports too) holds
//! a [`Reporter`] and says which EndpointSlice resourceVersion its data path has applied —
//! after the kernel (or the router's table) has it, never before. The proxy publishes the
//! lowest of them in its Lease (`kube-system/skiff-proxy-<node>`): at that revision *every*
//! part is past the change. It publishes as soon as that number moves, and at least every
//! [`HEARTBEAT`] otherwise (the Lease's renewal: a silent proxy is not waited for).
//!
//! Nothing is published until every registered part has reported once, and the Lease is
//! deleted at shutdown: a proxy that stopped sends no connection anywhere, so no kubelet should
//! wait for it.
//!
//! Kubernetes has no counterpart (kube-proxy publishes nothing of the kind; its users add
//! `preStop: sleep`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use parking_lot::Mutex;
use skiff_client::{rotation, Api, Client};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How often the Lease is renewed when nothing changes (well inside `rotation::STALE_AFTER`).
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// The applied revisions of the proxy's parts.
#[derive(Default)]
pub struct Progress {
    /// By part; `None` until the part's first report. A std mutex: never held across an await.
    parts: Mutex<BTreeMap<&'static str, Option<i64>>>,
    changed: Notify,
}

/// One part's handle for reporting what it applied.
pub struct Reporter {
    progress: Arc<Progress>,
    part: &'static str,
}

impl Reporter {
    /// The part's data path now has every EndpointSlice change up to `revision`.
    pub fn applied(&self, revision: i64) {
        let mut parts = self.progress.parts.lock();
        let slot = parts.entry(self.part).or_default();
        if *slot != Some(revision) {
            *slot = Some(revision);
            self.progress.changed.notify_one();
        }
    }
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress::default())
    }

    /// Registers a part; until it reports, nothing is published.
    pub fn reporter(self: &Arc<Self>, part: &'static str) -> Reporter {
        self.parts.lock().entry(part).or_default();
        Reporter { progress: self.clone(), part }
    }

    /// What the whole proxy has applied: the lowest part's revision, once all have reported.
    pub fn applied(&self) -> Option<i64> {
        let parts = self.parts.lock();
        parts.values().try_fold(i64::MAX, |low, part| part.map(|p| low.min(p))).filter(|_| !parts.is_empty())
    }

    /// Publishes until `shutdown`, then deletes the Lease.
    pub async fn run(self: Arc<Self>, client: Client, node: String, shutdown: CancellationToken) {
        let mut published = None;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.changed.notified() => {}
                // Publish again even if nothing moved: the renewal is the heartbeat.
                _ = heartbeat.tick() => published = None,
            }
            let Some(revision) = self.applied() else { continue };
            if published == Some(revision) {
                continue;
            }
            match rotation::publish(&client, &node, revision).await {
                Ok(()) => published = Some(revision),
                Err(err) => tracing::warn!(cause = %err, revision, "cannot publish the applied EndpointSlice revision"),
            }
        }
        let leases = Api::<Lease>::namespaced(client, rotation::NAMESPACE);
        let name = format!("skiff-proxy-{node}");
        let deleted =
            tokio::time::timeout(Duration::from_secs(2), leases.delete(&name, &serde_json::Value::Null)).await;
        if let Ok(Err(err)) = deleted {
            if !err.is_not_found() {
                tracing::warn!(cause = %err, "cannot delete the proxy's Lease");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_has_applied_what_its_slowest_part_has() {
        let progress = Progress::new();
        assert_eq!(progress.applied(), None, "no part: nothing to publish");
        let (services, ingress) = (progress.reporter("services"), progress.reporter("ingress"));
        services.applied(12);
        assert_eq!(progress.applied(), None, "the ingress has not reported yet");
        ingress.applied(9);
        assert_eq!(progress.applied(), Some(9));
        ingress.applied(15);
        assert_eq!(progress.applied(), Some(12));
    }
}
