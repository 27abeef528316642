//! Patch: read the object, apply the patch, write it back guarded by the revision read.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`: the three patch
//! formats of `../shared/kubectl-compat.md` section 8 (the algorithms are `skiff_api::patch` and
//! `skiff_api::strategic`). A patch does not carry a resourceVersion unless it sets one, so
//! when the object changes between the read and the write the patch is applied again to the
//! new version (as kube-apiserver does), a few times, before giving up with `409 Conflict`. A
//! patch that sets `metadata.resourceVersion` makes it a precondition: a stale one is a `409`
//! at once. The patched object then goes through [`Verbs::update`], so defaults and immutable fields are
//! handled as for a PUT.
//!
//! Server-side apply (`application/apply-patch+yaml`) merges by field ownership instead
//! (`skiff_api::apply`, where the rules are): it needs a `fieldManager`, refuses to change what
//! other managers own unless forced (`409` with the conflicting fields), creates the object when
//! it is absent, and writes nothing when a re-apply changes nothing.

use serde_json::{json, Value};
use skiff_api::status::Status;
use skiff_api::{apply, patch, strategic};

use super::{check_body, check_fields, Verbs, WriteOptions};
use crate::path::Target;
use crate::storage::Written;

/// What a patch did.
#[derive(Debug, Clone, PartialEq)]
pub struct Patched {
    pub object: Written,
    /// Server-side apply created the object (`201`).
    pub created: bool,
    /// `Warning` header values (`fieldValidation=Warn`).
    pub warnings: Vec<String>,
}

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
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

const ACCEPTED: [&str; 4] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

impl PatchType {
    /// The patch type a Content-Type names; `415` for any other.
    pub fn from_content_type(content_type: &str) -> Result<PatchType, Status> {
        match super::media_type(content_type) {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" => Ok(PatchType::Apply),
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
        // An apply is not a patch of the object's JSON: `Verbs::apply` handles it.
        PatchType::Apply => return Err(Status::unsupported_media_type(&ACCEPTED[..3])),
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
    ) -> Result<Patched, Status> {
        if kind == PatchType::Apply {
            return self.apply(target, name, body, options).await;
        }
        for _ in 0..PATCH_ATTEMPTS {
            let mut object = self.get(target, name).await?;
            let revision = object["metadata"]["resourceVersion"].clone();
            apply_patch(&mut object, kind, body)?;
            let warnings = check_fields(target.resource, options, body, &mut object, true)?;
            // A resourceVersion the patch sets is a precondition (a stale one is a 409, at once);
            // otherwise the write is guarded by the revision read.
            let pinned = object["metadata"]["resourceVersion"].as_str().is_some_and(|rv| Some(rv) != revision.as_str());
            if !pinned {
                object["metadata"]["resourceVersion"] = revision;
            }
            match self.update(target, name, object, options).await {
                Err(status) if status.reason == "Conflict" && !pinned => continue,
                other => return other.map(|object| Patched { object, created: false, warnings }),
            }
        }
        Err(Status::conflict(target.resource, name))
    }

    /// Server-side apply: the configuration merged into the object by field ownership
    /// (`skiff_api::apply`), or a new object when there is none.
    async fn apply(&self, target: &Target, name: &str, body: &[u8], options: &WriteOptions) -> Result<Patched, Status> {
        let mut config = apply::parse_config(body)?;
        check_body(target, &config)?;
        let warnings = check_fields(target.resource, options, body, &mut config, false)?;
        match config["metadata"]["name"].as_str() {
            Some(given) if given != name => {
                return Err(Status::bad_request("the name of the object does not match the name on the URL"))
            }
            Some(_) => {}
            None => config["metadata"]["name"] = json!(name),
        }
        if options.field_manager.is_empty() {
            return Err(Status::bad_request(
                "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests",
            ));
        }
        config["apiVersion"] = json!(target.resource.api_version());
        config["kind"] = json!(target.resource.kind);
        let owned = WriteOptions { owned: true, ..options.clone() };
        for _ in 0..PATCH_ATTEMPTS {
            let now = crate::storage::now_timestamp();
            let writer = apply::Writer::new(&options.field_manager, &now);
            let writer = match target.subresource.as_deref() {
                Some("status") => writer.through("status"),
                _ => writer,
            };
            let stored = match self.get(target, name).await {
                Ok(stored) => Some(stored),
                Err(status) if status.code == 404 => None,
                Err(status) => return Err(status),
            };
            let applied = apply::apply(stored.as_ref(), &config, &writer, options.force).map_err(|e| e.to_status())?;
            let done = |object, created| Patched { object, created, warnings: warnings.clone() };
            let result = match stored {
                None => {
                    let target = Target { name: None, ..target.clone() };
                    self.create(&target, applied, &owned).await.map(|o| done(o, true))
                }
                // A re-apply of an unchanged configuration changes nothing.
                Some(stored) if stored == applied => return Ok(done(Written::encoded(stored), false)),
                Some(stored) => {
                    let mut applied = applied;
                    applied["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"].clone();
                    self.update(target, name, applied, &owned).await.map(|o| done(o, false))
                }
            };
            match result {
                // Someone else created or changed it meanwhile: apply to what is there now.
                Err(status) if matches!(status.reason, "Conflict" | "AlreadyExists") => continue,
                other => return other,
            }
        }
        Err(Status::conflict(target.resource, name))
    }
}
