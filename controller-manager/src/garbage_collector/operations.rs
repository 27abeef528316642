//! The collector's calls to the API server, by identity.
//!
//! Mirrors `pkg/controller/garbagecollector/operations.go` (`apiResource`, `getObject`,
//! `deleteObject`, `removeFinalizer`). An identity's apiVersion and kind become a resource of
//! `skiff_api::registry` (upstream asks the REST mapper, fed by discovery), which also says
//! whether to send the namespace.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::serde::Deserialize;
use serde_json::{json, Value};
use skiff_api::registry::{self, Resource};
use skiff_client::Patch;
use tracing::info;

use super::classify::Propagation;
use super::graph::ObjectReference;
use super::patch::remove_finalizer_json_patch;
use super::{metrics, Error, GarbageCollector};

/// The resource of objects of `api_version` and `kind` (upstream's `apiResource`).
pub fn api_resource(api_version: &str, kind: &str) -> Result<&'static Resource, Error> {
    registry::by_kind(api_version, kind)
        .ok_or_else(|| Error::UnknownKind { api_version: api_version.into(), kind: kind.into() })
}

/// The namespace to address `item` in: none for a cluster-scoped kind.
fn namespace_of<'a>(resource: &Resource, item: &'a ObjectReference) -> Option<&'a str> {
    item.namespace.as_deref().filter(|_| resource.namespaced)
}

/// The metadata of `object`, the JSON of `item`. A failure is an error, never an empty answer:
/// an owner read as uid-less would look gone, and its dependents would be deleted.
pub fn metadata_of(object: &Value, item: &ObjectReference) -> Result<ObjectMeta, Error> {
    ObjectMeta::deserialize(&object["metadata"]).map_err(|source| Error::Decode { item: item.to_string(), source })
}

pub fn uid_of(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or_default()
}

impl GarbageCollector {
    /// An uncached GET of `item` by name (upstream's `getObject`).
    pub(super) async fn get_object(&self, item: &ObjectReference) -> Result<Value, Error> {
        let resource = api_resource(&item.api_version, &item.kind)?;
        self.client
            .get_object(resource, namespace_of(resource, item), &item.name)
            .await
            .map_err(|source| Error::Get { item: item.to_string(), source })
    }

    /// Patches `item`; returns it as written.
    pub(super) async fn patch_object(&self, item: &ObjectReference, patch: &Patch) -> Result<Value, Error> {
        let resource = api_resource(&item.api_version, &item.kind)?;
        self.client
            .patch_object(resource, namespace_of(resource, item), &item.name, patch)
            .await
            .map_err(|source| Error::Patch { item: item.to_string(), source })
    }

    /// Deletes `item` as it was read (`latest`), with `propagation` (upstream's `deleteObject`).
    ///
    /// The delete is conditional on the uid and the resourceVersion read: the decision was made
    /// from that version, and a dependent adopted by a new owner since must not go. If only the
    /// resourceVersion moved (a status write) while the owner references stayed the same, the
    /// decision still holds, and the delete is sent again on the uid alone.
    pub(super) async fn delete_object(
        &self,
        item: &ObjectReference,
        latest: &Value,
        propagation: Propagation,
    ) -> Result<(), Error> {
        let resource = api_resource(&item.api_version, &item.kind)?;
        let namespace = namespace_of(resource, item);
        let resource_version = latest["metadata"]["resourceVersion"].as_str();
        let options = |resource_version: Option<&str>| json!({"propagationPolicy": propagation.as_str(), "preconditions": {"uid": item.uid, "resourceVersion": resource_version}});
        let failed = |source| Error::Delete { item: item.to_string(), source };
        let mut deleted = self.client.delete_object(resource, namespace, &item.name, &options(resource_version)).await;
        if matches!(&deleted, Err(err) if err.is_conflict()) && resource_version.is_some() {
            let live = self.client.get_object(resource, namespace, &item.name).await.map_err(failed)?;
            let same_owners = live["metadata"]["ownerReferences"] == latest["metadata"]["ownerReferences"];
            if uid_of(&live) == item.uid && same_owners {
                deleted = self.client.delete_object(resource, namespace, &item.name, &options(None)).await;
            }
        }
        deleted.map_err(failed)?;
        metrics::DELETED.with_label_values(&[propagation.as_str()]).inc();
        info!(item = %item, propagation = propagation.as_str(), "deleted");
        Ok(())
    }

    /// Removes `finalizer` from `item`, read afresh (upstream's `removeFinalizer`). Done if the
    /// object is gone, is another object now, or has no such finalizer.
    pub(super) async fn remove_finalizer(&self, item: &ObjectReference, finalizer: &str) -> Result<(), Error> {
        let latest = match self.get_object(item).await {
            Err(err) if err.is_not_found() => return Ok(()),
            other => other?,
        };
        if uid_of(&latest) != item.uid {
            return Ok(());
        }
        let Some(patch) = remove_finalizer_json_patch(&latest, finalizer) else { return Ok(()) };
        match self.patch_object(item, &patch).await {
            Err(err) if err.is_not_found() => Ok(()),
            Err(err) => Err(err),
            Ok(_) => {
                metrics::FINALIZERS_REMOVED.with_label_values(&[finalizer]).inc();
                info!(item = %item, finalizer, "removed finalizer");
                Ok(())
            }
        }
    }
}
