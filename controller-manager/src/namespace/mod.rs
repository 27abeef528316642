//! The namespace controller: empties a namespace that is being deleted, then lets it go.
//!
//! Mirrors `pkg/controller/namespace/namespace_controller.go` (`syncNamespaceFromKey`) and
//! `pkg/controller/namespace/deletion/namespaced_resources_deleter.go` (`Delete`,
//! `deleteAllContent`, `finalizeNamespace`). `kubectl delete namespace dev` only marks the
//! namespace — `deletionTimestamp` and phase `Terminating` (`apiserver/src/verbs/delete.rs`) —
//! and from then on the API server refuses new objects in it (`403 Forbidden`). This controller
//! does the rest, each time it looks:
//!
//! 1. deletes every object of every namespaced kind in it, with Background propagation as
//!    upstream (pods get their grace period: the kubelets stop them first);
//! 2. counts what is still there — pods being stopped, objects held by finalizers — and writes
//!    the namespace's conditions saying so (`NamespaceContentRemaining`,
//!    `NamespaceFinalizersRemaining`, …, [`conditions`]); while anything is left it looks again
//!    a second later;
//! 3. once nothing is left, removes its `kubernetes` finalizer through
//!    `namespaces/NAME/finalize`, and the API server deletes the namespace with that write.
//!    `kubectl delete namespace` (which waits for it to be gone) returns then.
//!
//! Left out: discovery of the kinds to empty (Skiff's registry is the whole list: no aggregated
//! APIs, no custom resources), upstream's estimate of how long the pods have left (it waits
//! about half the longest grace period; Skiff lists again every second, which is cheap here),
//! and the `NamespaceDeletionDiscoveryFailure` and `…GroupVersionParsingFailure` causes, which
//! cannot happen without discovery (their conditions are written as upstream writes them when
//! all is well).

pub mod conditions;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use serde_json::Value;
use skiff_api::registry::{Resource, RESOURCES};
use skiff_client::controller::Action;
use skiff_client::reflector::{ObjectKey, Store};
use tracing::{debug, info};

use crate::client::{ApiError, NamespaceClient};
use crate::clock::Clock;
pub use conditions::{conditions, Content, Remaining};

/// The finalizer this controller owns in `spec.finalizers`.
pub const FINALIZER: &str = "kubernetes";
/// How soon a namespace whose content is still going is looked at again.
const RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("namespace {namespace}: {action}")]
    Api {
        namespace: String,
        action: String,
        #[source]
        source: ApiError,
    },
    #[error("namespace {namespace}: {failures} objects could not be deleted")]
    ContentLeft { namespace: String, failures: usize },
}

pub struct NamespaceController {
    namespaces: Store<Namespace>,
    client: Arc<dyn NamespaceClient>,
    clock: Arc<dyn Clock>,
}

/// The kinds a namespace can hold.
fn namespaced_kinds() -> impl Iterator<Item = &'static Resource> {
    RESOURCES.iter().filter(|r| r.namespaced)
}

fn is_deleting(object: &Value) -> bool {
    object["metadata"]["deletionTimestamp"].is_string()
}

fn holds(namespace: &Namespace) -> bool {
    let finalizers = namespace.spec.as_ref().and_then(|s| s.finalizers.as_ref());
    finalizers.is_some_and(|f| f.iter().any(|f| f == FINALIZER))
}

impl NamespaceController {
    pub fn new(namespaces: Store<Namespace>, client: Arc<dyn NamespaceClient>, clock: Arc<dyn Clock>) -> Self {
        NamespaceController { namespaces, client, clock }
    }

    /// One look at the namespace `key` (upstream: `syncNamespaceFromKey`).
    pub async fn sync_namespace(&self, key: &ObjectKey) -> Result<Action, Error> {
        let deleting = self.namespaces.get(key).is_some_and(|n| n.metadata.deletion_timestamp.is_some());
        if !deleting {
            return Ok(Action::Done);
        }
        let name = key.name.as_str();
        let failed = |action: &str| {
            let action = action.to_string();
            move |source| Error::Api { namespace: name.to_string(), action, source }
        };
        // The cache may be behind (a finalize already done): decide from the live object.
        let namespace = match self.client.get_namespace(name).await {
            Ok(namespace) => namespace,
            Err(err) if err.is_not_found() => return Ok(Action::Done),
            Err(err) => return Err(failed("read")(err)),
        };
        if namespace.metadata.deletion_timestamp.is_none() || !holds(&namespace) {
            return Ok(Action::Done);
        }
        let content = self.delete_all_content(name).await.map_err(failed("empty"))?;
        let remaining = Remaining::of(&content);
        let now = self.clock.now();
        let old = namespace.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        let new = conditions(&old, &remaining, now);
        if new != old {
            let mut updated = namespace.clone();
            updated.status.get_or_insert_with(Default::default).conditions = Some(new);
            match self.client.update_namespace_status(&updated).await {
                Ok(_) => {}
                Err(err) if err.is_not_found() => return Ok(Action::Done),
                // Written meanwhile (a conflict): the next look writes them.
                Err(err) if err.is_conflict() => {}
                Err(err) => return Err(failed("write status")(err)),
            }
        }
        if remaining.failures > 0 {
            return Err(Error::ContentLeft { namespace: name.to_string(), failures: remaining.failures });
        }
        if !remaining.is_empty() {
            debug!(namespace = name, remaining = %remaining.summary(), "content still going");
            return Ok(Action::RequeueAfter(RECHECK));
        }
        self.finalize(&namespace).await.map_err(failed("finalize"))?;
        info!(namespace = name, "emptied and finalized");
        Ok(Action::Done)
    }

    /// Deletes every object in `namespace` not already being deleted, kind by kind, and lists
    /// what is left (upstream: `deleteAllContent`).
    async fn delete_all_content(&self, namespace: &str) -> Result<Vec<Content>, ApiError> {
        let mut content = Vec::new();
        for resource in namespaced_kinds() {
            let items = self.client.list_in(resource, namespace).await?;
            let mut failures = 0;
            let mut deleted = false;
            for item in items.iter().filter(|i| !is_deleting(i)) {
                let name = item["metadata"]["name"].as_str().unwrap_or_default();
                match self.client.delete_in(resource, namespace, name).await {
                    Ok(()) => deleted = true,
                    Err(err) if err.is_not_found() => {}
                    Err(err) => {
                        debug!(namespace, kind = resource.plural, name, %err, "delete failed");
                        failures += 1;
                    }
                }
            }
            // Most objects go at once: what is left is what the next list shows.
            let left = if deleted { self.client.list_in(resource, namespace).await? } else { items };
            content.push(Content { resource, items: left, failures });
        }
        Ok(content)
    }

    /// Removes this controller's finalizer (upstream: `finalizeNamespace`): with no other
    /// finalizer left, the API server deletes the namespace.
    async fn finalize(&self, namespace: &Namespace) -> Result<(), ApiError> {
        let mut finalized = namespace.clone();
        if let Some(finalizers) = finalized.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
            finalizers.retain(|f| f != FINALIZER);
        }
        match self.client.finalize_namespace(&finalized).await {
            Err(err) if err.is_not_found() => Ok(()),
            other => other,
        }
    }
}
