//! Update (PUT): replace an object, or only its status.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/registry/rest/update.go` (`BeforeUpdate`) and the
//! generic store's `Update`. What a client may not change (uid, creationTimestamp, the status
//! through the main resource, a Service's ClusterIP) is kept or refused here and in the storage
//! layer; a stale `resourceVersion` is a `409 Conflict`.

use serde_json::{json, Value};
use skiff_api::status::Status;
use skiff_api::{defaults, validation};

use super::{check_body, invalid, is_service, Verbs, WriteOptions};
use crate::path::Target;
use crate::services;
use crate::storage::{Part, Written};

impl Verbs {
    /// Replaces the object `name` (or, for a `status` target, its status) with `object`.
    pub async fn update(
        &self,
        target: &Target,
        name: &str,
        mut object: Value,
        options: &WriteOptions,
    ) -> Result<Written, Status> {
        check_body(target, &object)?;
        if object["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(Status::bad_request("the name of the object does not match the name on the URL"));
        }
        let namespace = target.namespace.as_deref();
        let status_only = target.subresource.as_deref() == Some("status");
        let finalizers_only = target.subresource.as_deref() == Some("finalize");
        let mut options = options.clone();
        if status_only {
            options.through = Some("status");
        }
        if finalizers_only {
            options.through = Some("finalize");
        }
        let resource = target.resource;
        let finish = move |old: &Value, new: &mut Value| {
            if status_only {
                invalid(resource, new, validation::validate_status_update(resource, new, old))?;
            } else {
                if is_service(target) {
                    services::keep_cluster_ip(old, new)?;
                }
                invalid(resource, new, validation::validate_update(resource, new, old))?;
            }
            options.record(Some(old), new);
            Ok(())
        };
        let part = match (status_only, finalizers_only) {
            (true, _) => Part::Status,
            (_, true) => Part::Finalizers,
            _ => Part::Main,
        };
        if part == Part::Main {
            object["metadata"]["name"] = json!(name);
            defaults::apply(target.resource, &mut object);
        }
        self.objects.write(target.resource, namespace, name, object, part, &finish).await
    }
}
