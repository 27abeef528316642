//! The `scale` subresource: an `autoscaling/v1` `Scale` view of a workload's `spec.replicas`.
//!
//! Mirrors `pkg/registry/apps/deployment/storage/storage.go` (`ScaleREST`): reading the Scale
//! reads the workload; writing it changes `spec.replicas` only (bumping `generation`), so
//! `kubectl scale` works on Deployments, ReplicaSets and StatefulSets alike.

use serde_json::{json, Value};
use skiff_api::status::Status;
use skiff_api::table;

use super::patch::{apply_patch, PatchType};
use super::{read_json, Verbs, WriteOptions};
use crate::path::Target;

/// How a Scale is written.
pub enum ScaleChange<'a> {
    /// PUT: the whole Scale.
    Replace(&'a [u8]),
    /// PATCH of the Scale view.
    Patch(PatchType, &'a [u8]),
}

/// The Scale of a workload.
fn as_scale(object: &Value) -> Value {
    let selector = table::selector_string(object["spec"]["selector"].get("matchLabels"));
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"],
                     "uid": object["metadata"]["uid"], "resourceVersion": object["metadata"]["resourceVersion"],
                     "creationTimestamp": object["metadata"]["creationTimestamp"]},
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": object["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

impl Verbs {
    pub async fn scale(&self, target: &Target, name: &str) -> Result<Value, Status> {
        Ok(as_scale(&self.get(target, name).await?))
    }

    /// Writes the Scale: the workload's `spec.replicas` becomes the Scale's.
    pub async fn update_scale(
        &self,
        target: &Target,
        name: &str,
        change: ScaleChange<'_>,
        options: &WriteOptions,
    ) -> Result<Value, Status> {
        let object = self.get(target, name).await?;
        let wanted = match change {
            ScaleChange::Replace(body) => read_json(body)?,
            ScaleChange::Patch(kind, body) => {
                let mut scale = as_scale(&object);
                apply_patch(&mut scale, kind, body)?;
                scale
            }
        };
        let replicas =
            wanted["spec"]["replicas"].as_i64().ok_or_else(|| Status::bad_request("spec.replicas is required"))?;
        let mut updated = object;
        updated["spec"]["replicas"] = json!(replicas);
        let main = Target { subresource: None, ..target.clone() };
        let through_scale = WriteOptions { through: Some("scale"), ..options.clone() };
        let updated = self.update(&main, name, updated, &through_scale).await?;
        Ok(as_scale(&updated.object))
    }
}
