//! `pods/eviction`: how `kubectl drain` removes pods from a node.
//!
//! Mirrors `pkg/registry/core/pod/storage/eviction.go` (`EvictionREST.Create`). An `Eviction`
//! (policy/v1, or the older policy/v1beta1) names the pod and may carry `deleteOptions`; the
//! pod is deleted with them, gracefully as any pod delete, and the answer is a `Success` Status
//! with code 201.
//!
//! Left out: PodDisruptionBudgets. Skiff serves no `policy/v1` PodDisruptionBudget, so no
//! budget ever refuses an eviction (Kubernetes' `429 Too Many Requests`, which `kubectl drain`
//! retries); every eviction is allowed. What Kubernetes does without a budget is kept: a
//! pending pod is deleted only if it has not changed since it was read (a `resourceVersion`
//! precondition, retried on conflict), so an eviction never races the pod's becoming ready.

use serde_json::{json, Value};
use skiff_api::status::Status;

use super::delete::{DeleteOptions, Preconditions};
use super::Verbs;
use crate::path::Target;
use crate::storage::is_deleting;

/// How often a conflicting delete of a pending pod is tried again (Kubernetes retries for up to
/// ten seconds; a conflict here means the pod changed between the read and the delete).
const CONFLICT_TRIES: usize = 5;

/// The eviction's `deleteOptions`, once the body is checked against the URL.
pub fn read(name: &str, eviction: &Value) -> Result<DeleteOptions, Status> {
    if let Some(api_version) = eviction["apiVersion"].as_str() {
        if !matches!(api_version, "policy/v1" | "policy/v1beta1") {
            return Err(Status::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version (policy/v1)"
            )));
        }
    }
    if let Some(kind) = eviction["kind"].as_str().filter(|k| *k != "Eviction") {
        return Err(Status::bad_request(format!("not a Eviction object: {kind}")));
    }
    if eviction["metadata"]["name"].as_str() != Some(name) {
        return Err(Status::bad_request("name in URL does not match name in Eviction object"));
    }
    match eviction.get("deleteOptions").filter(|o| !o.is_null()) {
        Some(options) => serde_json::from_value(options.clone())
            .map_err(|e| Status::bad_request(format!("invalid deleteOptions: {e}"))),
        None => Ok(DeleteOptions::default()),
    }
}

/// Whether a pod's delete must not race a change to it: a pod that can still become ready
/// (pending or running, not yet being deleted), when the caller set no precondition itself.
/// Kubernetes only applies it on the path that skips the budgets, which without budgets is the
/// pending pods' path; running pods go straight to the delete.
pub fn needs_precondition(pod: &Value, options: &DeleteOptions) -> bool {
    let caller_set = options.preconditions.as_ref().is_some_and(|p| p.resource_version.is_some());
    pod["status"]["phase"] == "Pending" && !is_deleting(pod) && !caller_set
}

impl Verbs {
    /// Evicts the pod `name` (the `pods/NAME/eviction` subresource).
    pub async fn evict(&self, target: &Target, name: &str, eviction: &Value) -> Result<Value, Status> {
        let options = read(name, eviction)?;
        let verbs = if options.dry_run.iter().any(|d| d == "All") { self.dry_run() } else { self.clone() };
        let pod = Target { subresource: None, ..target.clone() };
        for _ in 0..CONFLICT_TRIES {
            let current = verbs.get(&pod, name).await?;
            let mut options = options.clone();
            let guarded = needs_precondition(&current, &options);
            if guarded {
                let version = current["metadata"]["resourceVersion"].as_str().map(str::to_string);
                let uid = options.preconditions.as_ref().and_then(|p| p.uid.clone());
                options.preconditions = Some(Preconditions { uid, resource_version: version });
            }
            match verbs.delete(&pod, name, &options).await {
                Ok(_) => {
                    return Ok(
                        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                    )
                }
                // Only the precondition this eviction added is retried, on a fresh read.
                Err(status) if guarded && status.code == 409 => continue,
                Err(status) => return Err(status),
            }
        }
        Err(Status::conflict(pod.resource, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eviction(name: &str) -> Value {
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}})
    }

    #[test]
    fn the_body_must_name_the_pod_of_the_url_and_be_an_eviction() {
        let cases = [
            ("kubectl drain's body", eviction("web"), None),
            (
                "the older group version",
                json!({"apiVersion": "policy/v1beta1", "kind": "Eviction", "metadata": {"name": "web"}}),
                None,
            ),
            ("another pod", eviction("db"), Some("name in URL does not match name in Eviction object")),
            ("no name", json!({"kind": "Eviction"}), Some("name in URL does not match name in Eviction object")),
            ("another kind", json!({"kind": "Pod", "metadata": {"name": "web"}}), Some("not a Eviction object: Pod")),
            (
                "another group",
                json!({"apiVersion": "v1", "kind": "Eviction", "metadata": {"name": "web"}}),
                Some("the API version in the data (v1) does not match the expected API version (policy/v1)"),
            ),
        ];
        for (case, body, error) in cases {
            let result = read("web", &body);
            match error {
                None => assert!(result.is_ok(), "{case}: {result:?}"),
                Some(message) => {
                    let status = result.expect_err(case);
                    assert_eq!((status.code, status.message.as_str()), (400, message), "{case}");
                }
            }
        }
    }

    #[test]
    fn delete_options_come_from_the_body() {
        let mut body = eviction("web");
        body["deleteOptions"] = json!({"gracePeriodSeconds": 5, "preconditions": {"uid": "u1"}});
        let options = read("web", &body).unwrap();
        assert_eq!(options.grace_period_seconds, Some(5));
        assert_eq!(options.preconditions.and_then(|p| p.uid).as_deref(), Some("u1"));
        assert_eq!(read("web", &eviction("web")).unwrap(), DeleteOptions::default());
    }

    #[test]
    fn only_a_pending_pod_not_yet_deleted_is_guarded_by_its_resource_version() {
        let pod = |phase: &str, deleting: bool| {
            let mut pod = json!({"metadata": {"name": "web", "resourceVersion": "7"}, "status": {"phase": phase}});
            if deleting {
                pod["metadata"]["deletionTimestamp"] = json!("2026-12-01T10:00:00Z");
            }
            pod
        };
        let none = DeleteOptions::default();
        let pinned = DeleteOptions {
            preconditions: Some(Preconditions { uid: None, resource_version: Some("3".into()) }),
            ..Default::default()
        };
        let cases = [
            ("pending", pod("Pending", false), &none, true),
            ("running: straight to the delete", pod("Running", false), &none, false),
            ("succeeded", pod("Succeeded", false), &none, false),
            ("pending and being deleted", pod("Pending", true), &none, false),
            ("pending, the caller's own precondition", pod("Pending", false), &pinned, false),
        ];
        for (case, pod, options, guarded) in cases {
            assert_eq!(needs_precondition(&pod, options), guarded, "{case}");
        }
    }
}
