//! Patch: read the object, apply the patch, write it back guarded by the revision read.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`: the three patch
//! formats of `../shared/kubectl-compat.md` section 8 (the algorithms are `skiff_api::patch` and
//! `skiff_api::strategic`). A patch does not carry a resourceVersion unless it sets one, so
//! when the object changes between the read and the write the patch is applied again to the
//! new version (as kube-apiserver does), a few times, before giving up with `409 Conflict`.
//! The patched object then goes through [`Verbs::update`], so defaults and immutable fields are
//! handled as for a PUT.

use serde_json::Value;
use skiff_api::status::Status;
use skiff_api::{patch, strategic};

use super::{Verbs, WriteOptions};
use crate::path::Target;

/// How often a patch is re-applied to an object that keeps changing under it.
const PATCH_ATTEMPTS: usize = 5;

/// The patch formats, by their Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
}

const ACCEPTED: [&str; 3] =
    ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];

impl PatchType {
    /// The patch type a Content-Type names; `415` for any other.
    pub fn from_content_type(content_type: &str) -> Result<PatchType, Status> {
        match content_type.split(';').next().unwrap_or_default().trim() {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            _ => Err(Status::unsupported_media_type(&ACCEPTED)),
        }
    }
}

/// Applies `body`, a patch of type `kind`, to `current`.
pub fn apply_patch(current: &mut Value, kind: PatchType, body: &[u8]) -> Result<(), Status> {
    let patch: Value =
        serde_json::from_slice(body).map_err(|e| Status::bad_request(format!("the patch is not valid JSON: {e}")))?;
    match kind {
        PatchType::Merge => patch::merge_patch(current, &patch),
        PatchType::Json => patch::json_patch(current, &patch).map_err(|e| Status {
            code: 422,
            reason: "Invalid",
            message: e.to_string(),
            details: None,
        })?,
        PatchType::Strategic => strategic::strategic_merge_patch(current, &patch),
    }
    Ok(())
}

impl Verbs {
    /// Patches the object `name` (or its status, for a `status` target).
    pub async fn patch(
        &self,
        target: &Target,
        name: &str,
        kind: PatchType,
        body: &[u8],
        options: &WriteOptions,
    ) -> Result<Value, Status> {
        for _ in 0..PATCH_ATTEMPTS {
            let mut object = self.get(target, name).await?;
            let revision = object["metadata"]["resourceVersion"].clone();
            apply_patch(&mut object, kind, body)?;
            // The write is guarded by the revision read, whatever the patch did to it.
            object["metadata"]["resourceVersion"] = revision;
            match self.update(target, name, object, options).await {
                Err(status) if status.reason == "Conflict" => continue,
                other => return other,
            }
        }
        Err(skiff_api::status::Status::conflict(target.resource, name))
    }
}
