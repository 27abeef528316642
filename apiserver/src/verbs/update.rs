//! Update (PUT): replace an object, or only its status.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/registry/rest/update.go` (`BeforeUpdate`) and the
//! generic store's `Update`. What a client may not change (uid, creationTimestamp, the status
//! through the main resource, a Service's ClusterIP) is kept or refused here and in the storage
//! layer; a stale `resourceVersion` is a `409 Conflict`.

use serde_json::{json, Value};
use skiff_api::defaults;
use skiff_api::status::Status;

use super::{check_body, is_service, Verbs, WriteOptions};
use crate::path::Target;
use crate::services;

impl Verbs {
    /// Replaces the object `name` (or, for a `status` target, its status) with `object`.
    pub async fn update(
        &self,
        target: &Target,
        name: &str,
        mut object: Value,
        _options: &WriteOptions,
    ) -> Result<Value, Status> {
        check_body(target, &object)?;
        if object["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(Status::bad_request("the name of the object does not match the name on the URL"));
        }
        let namespace = target.namespace.as_deref();
        if target.subresource.as_deref() == Some("status") {
            return self.objects.update_status(target.resource, namespace, name, object).await;
        }
        object["metadata"]["name"] = json!(name);
        defaults::apply(target.resource, &mut object);
        if is_service(target) {
            let old = self.objects.get(target.resource, namespace, name).await?;
            services::keep_cluster_ip(&old, &mut object)?;
        }
        self.objects.update(target.resource, namespace, name, object).await
    }
}
