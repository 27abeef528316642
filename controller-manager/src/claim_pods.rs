//! Claiming pods: the pure [`owner::claim`] decision carried out on each pod a controller's
//! selector may concern, through its [`PodControl`].
//!
//! Mirrors `PodControllerRefManager.ClaimPods` of `pkg/controller/controller_ref_manager.go`,
//! which the ReplicaSet and Job controllers both call: pods already controlled and still
//! matching are kept; matching orphans are adopted (a patch of their `ownerReferences`, after a
//! single uncached check that the owner is still there and not being deleted, as
//! `RecheckDeletionTimestamp` does); controlled pods that stopped matching are released. A pod
//! that went away meanwhile is no error.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use skiff_api::selector::LabelSelector as Selector;

use crate::client::{ApiError, PodControl};
use crate::fields;
use crate::owner::{self, Claim};
use crate::selector;

/// Why claiming stopped; each controller wraps it in its own error.
#[derive(Debug)]
pub enum ClaimError {
    /// The owner is gone or being deleted: it must not adopt.
    CannotAdopt,
    /// Patching a pod's owner references failed.
    Patch { pod: String, source: ApiError },
}

/// The pods `owner` controls among `pods`, after adopting and releasing. `controller_ref` is
/// the reference an adopted pod gets; `owner_is_current` the uncached check made before the
/// first adoption (false: `CannotAdopt`).
pub async fn claim_pods<F, Fut>(
    control: &dyn PodControl,
    owner: &ObjectMeta,
    controller_ref: OwnerReference,
    selector: &Selector,
    pods: Vec<Arc<Pod>>,
    owner_is_current: F,
) -> Result<Vec<Arc<Pod>>, ClaimError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut recheck = Some(owner_is_current);
    let mut claimed = Vec::new();
    for pod in pods {
        let matches = selector::matches(selector, &pod.metadata.labels);
        let references = match owner::claim(owner, &pod.metadata, matches) {
            Claim::Owned => {
                claimed.push(pod);
                continue;
            }
            Claim::Ignore => continue,
            Claim::Adopt => {
                if let Some(recheck) = recheck.take() {
                    if !recheck().await {
                        return Err(ClaimError::CannotAdopt);
                    }
                }
                owner::adopted(&pod.metadata, controller_ref.clone())
            }
            Claim::Release => owner::released(&pod.metadata, fields::uid(owner)),
        };
        let adopting = owner::controller_of(&pod.metadata).is_none();
        match control.patch_pod_owner_references(&pod, references).await {
            Ok(patched) if adopting => claimed.push(Arc::new(patched)),
            Ok(_) => {}
            Err(err) if err.is_not_found() => {}
            Err(source) => return Err(ClaimError::Patch { pod: fields::name(&pod.metadata).into(), source }),
        }
    }
    Ok(claimed)
}

/// Whether `fresh` (an uncached read) is still the owner `cached` and not being deleted.
pub fn still_current(cached: &ObjectMeta, fresh: Result<&ObjectMeta, &ApiError>) -> bool {
    fresh.is_ok_and(|fresh| fresh.uid == cached.uid && fresh.deletion_timestamp.is_none())
}
