//! Deleting: graceful deletion of pods, propagation of deletion to dependents, preconditions.
//!
//! Mirrors kubernetes `staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go`
//! (`BeforeDelete`), the generic store's `Delete` and `updateForGracefulDeletionAndFinalizers`
//! (`registry/generic/registry/store.go`), and the pod strategy's `CheckGracefulDelete`
//! (`pkg/registry/core/pod/strategy.go`). The decision is a pure function, [`plan`]:
//!
//! 1. **Preconditions**: a `uid` or `resourceVersion` in the options must be the object's
//!    (`409 Conflict` otherwise). The kubelet uses the uid, so that it never deletes a new pod
//!    that took the name of the one it stopped.
//! 2. **Propagation** becomes finalizers: `Orphan` adds `orphan` (the garbage collector removes
//!    the dependents' ownerReferences, then the finalizer); `Foreground` adds
//!    `foregroundDeletion` (it deletes the dependents first); `Background` (the default) adds
//!    nothing: the object goes now and the collector deletes its dependents afterwards.
//! 3. **Grace**: a pod that runs on a node is given its grace period (the options', else its
//!    `terminationGracePeriodSeconds`, 30 s by default): it is only marked, with a
//!    `deletionTimestamp` at the end of the grace period; its kubelet stops the containers and
//!    then deletes it with a zero grace period. A pod never scheduled, or already finished, has
//!    no containers to stop and goes at once. Other kinds have no grace period.
//! 4. An object **already being deleted** is left alone, unless the new delete shortens its
//!    grace period or asks for no grace at all (the kubelet's last word).
//! 5. An object with finalizers is marked (`deletionTimestamp` now) and stays until the last
//!    finalizer is removed; anything else is removed now.
//! 6. A **namespace** is held by `spec.finalizers` (`kubernetes`, given at creation): it is
//!    marked `Terminating` and left to the namespace controller (`controller-manager/src/
//!    namespace/`), which deletes its content and then removes the finalizer through
//!    `namespaces/NAME/finalize` — the write that removes it for good ([`plan_namespace`]).

use serde::Deserialize;
use serde_json::{json, Value};
use skiff_api::age;
use skiff_api::registry::Resource;
use skiff_api::status::Status;

use skiff_api::selector::{FieldSelector, LabelSelector};

use super::Verbs;
use crate::path::Target;
use crate::services;
use crate::storage::{finalizers, is_deleting, is_namespace, metadata, spec_finalizers, Deletion};

pub const ORPHAN_FINALIZER: &str = "orphan";
/// What holds a namespace in `spec.finalizers` until the namespace controller has emptied it.
pub const NAMESPACE_FINALIZER: &str = "kubernetes";
/// The namespaces that may never be deleted (Kubernetes' NamespaceLifecycle admission).
const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// A pod's grace period when its spec says none (Kubernetes' default).
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// How the dependents of a deleted object are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// `DeleteOptions` (`meta/v1`), from the request body or the query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<Propagation>,
    /// The deprecated form of `propagationPolicy: Orphan`.
    pub orphan_dependents: Option<bool>,
    pub preconditions: Option<Preconditions>,
    #[serde(default)]
    pub dry_run: Vec<String>,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body (kubectl sends one), then lets query parameters
    /// (`?gracePeriodSeconds=0&propagationPolicy=Foreground`, curl's way) override it.
    pub fn parse(body: &[u8], query: impl Fn(&str) -> Option<String>) -> Result<DeleteOptions, Status> {
        let mut options: DeleteOptions = if body.iter().all(u8::is_ascii_whitespace) {
            DeleteOptions::default()
        } else {
            serde_json::from_slice(body).map_err(|e| Status::bad_request(format!("invalid DeleteOptions: {e}")))?
        };
        if let Some(grace) = query("gracePeriodSeconds") {
            let grace = grace
                .parse()
                .map_err(|_| Status::bad_request(format!("invalid gracePeriodSeconds {grace:?}: not an integer")))?;
            options.grace_period_seconds = Some(grace);
        }
        if let Some(policy) = query("propagationPolicy") {
            options.propagation_policy = Some(match policy.as_str() {
                "Orphan" => Propagation::Orphan,
                "Background" => Propagation::Background,
                "Foreground" => Propagation::Foreground,
                other => {
                    return Err(Status::bad_request(format!(
                        "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                    )))
                }
            });
        }
        if let Some(orphan) = query("orphanDependents") {
            options.orphan_dependents = Some(orphan == "true");
        }
        if options.orphan_dependents.is_some() && options.propagation_policy.is_some() {
            return Err(Status::bad_request(
                "orphanDependents: Invalid value: \"true\": orphanDependents and propagationPolicy cannot both be set",
            ));
        }
        if options.grace_period_seconds.is_some_and(|g| g < 0) {
            // Kubernetes reads a negative grace period as "the smallest": 1 second.
            options.grace_period_seconds = Some(1);
        }
        Ok(options)
    }

    fn propagation(&self, resource: &Resource) -> Propagation {
        match (self.propagation_policy, self.orphan_dependents) {
            (Some(policy), _) => policy,
            (None, Some(true)) => Propagation::Orphan,
            (None, Some(false)) => Propagation::Background,
            (None, None) => default_propagation(resource),
        }
    }
}

/// What a delete that names no policy does to the object's dependents (upstream's
/// `DefaultGarbageCollectionPolicy`): batch/v1 Jobs orphan their pods, kept so for
/// compatibility (kubectl always names one, Background); everything else deletes them.
fn default_propagation(resource: &Resource) -> Propagation {
    match (resource.group, resource.plural) {
        ("batch", "jobs") => Propagation::Orphan,
        _ => Propagation::Background,
    }
}

/// The object's finalizers as the propagation policy wants them.
fn finalizers_for(object: &Value, propagation: Propagation) -> Vec<Value> {
    let mut wanted: Vec<Value> =
        finalizers(object).into_iter().filter(|f| f != ORPHAN_FINALIZER && f != FOREGROUND_FINALIZER).collect();
    match propagation {
        Propagation::Orphan => wanted.push(json!(ORPHAN_FINALIZER)),
        Propagation::Foreground => wanted.push(json!(FOREGROUND_FINALIZER)),
        Propagation::Background => {}
    }
    // An object already being deleted keeps the propagation it was deleted with.
    if is_deleting(object) {
        return finalizers(object);
    }
    wanted
}

/// How long the object may take to go: only pods running on a node have a grace period.
fn grace_seconds(resource: &Resource, object: &Value, options: &DeleteOptions) -> i64 {
    if !resource.group.is_empty() || resource.plural != "pods" {
        return 0;
    }
    let scheduled = object["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
    let finished = matches!(object["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    if !scheduled || finished {
        return 0;
    }
    options
        .grace_period_seconds
        .or_else(|| object["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(DEFAULT_GRACE_SECONDS)
}

fn check_preconditions(resource: &Resource, object: &Value, options: &DeleteOptions) -> Result<(), Status> {
    let Some(pre) = &options.preconditions else { return Ok(()) };
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let fail = |what: &str, wanted: &str, actual: &str| {
        let mut status = Status::conflict(resource, name);
        status.message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {actual}",
            resource.qualified_plural()
        );
        Err(status)
    };
    let uid = object["metadata"]["uid"].as_str().unwrap_or_default();
    if let Some(wanted) = pre.uid.as_deref().filter(|u| *u != uid) {
        return fail("UID", wanted, uid);
    }
    let rv = object["metadata"]["resourceVersion"].as_str().unwrap_or_default();
    if let Some(wanted) = pre.resource_version.as_deref().filter(|r| *r != rv) {
        return fail("ResourceVersion", wanted, rv);
    }
    Ok(())
}

/// What a delete with `options` does to `object` (its stored version), at time `now` (Unix
/// seconds).
pub fn plan(resource: &Resource, object: &Value, options: &DeleteOptions, now: i64) -> Result<Deletion, Status> {
    check_preconditions(resource, object, options)?;
    let grace = grace_seconds(resource, object, options);
    let finalizers = finalizers_for(object, options.propagation(resource));

    if is_deleting(object) {
        let current = object["metadata"]["deletionGracePeriodSeconds"].as_i64().unwrap_or(0);
        if grace == 0 && finalizers.is_empty() {
            // The kubelet's last delete: the grace period is over, nothing else holds it.
            return Ok(Deletion::Now);
        }
        if grace >= current {
            return Ok(Deletion::Unchanged);
        }
        // A shorter grace period moves the deadline closer.
        let mut marked = object.clone();
        let meta = metadata(&mut marked);
        meta.insert("deletionTimestamp".into(), json!(age::format_timestamp(now + grace)));
        meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
        return Ok(Deletion::Mark { marked });
    }
    if grace == 0 && finalizers.is_empty() {
        return Ok(Deletion::Now);
    }
    let mut marked = object.clone();
    let meta = metadata(&mut marked);
    meta.insert("deletionTimestamp".into(), json!(age::format_timestamp(now + grace)));
    meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Deletion::Mark { marked })
}

/// What deleting a namespace does (Kubernetes' namespace `REST.Delete`): a namespace still held
/// by `spec.finalizers` is only marked — `deletionTimestamp` and phase `Terminating` — for the
/// namespace controller to empty and finalize; deleting it again meanwhile is a `409`. Without
/// spec finalizers it goes as any object ([`plan`]). `default`, `kube-system` and `kube-public`
/// are never deleted (`403`).
pub fn plan_namespace(
    resource: &Resource,
    object: &Value,
    options: &DeleteOptions,
    now: i64,
) -> Result<Deletion, Status> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    if IMMORTAL_NAMESPACES.contains(&name) {
        return Err(Status::forbidden(resource, name, "this namespace may not be deleted"));
    }
    check_preconditions(resource, object, options)?;
    if spec_finalizers(object).is_empty() {
        return plan(resource, object, options, now);
    }
    if is_deleting(object) {
        let mut status = Status::conflict(resource, name);
        status.message = format!(
            "Operation cannot be fulfilled on namespaces \"{name}\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."
        );
        return Err(status);
    }
    let mut marked = object.clone();
    let finalizers = finalizers_for(object, options.propagation(resource));
    let meta = metadata(&mut marked);
    meta.insert("deletionTimestamp".into(), json!(age::format_timestamp(now)));
    meta.insert("deletionGracePeriodSeconds".into(), json!(0));
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    if !marked["status"].is_object() {
        marked["status"] = json!({});
    }
    marked["status"]["phase"] = json!("Terminating");
    Ok(Deletion::Mark { marked })
}

impl Verbs {
    /// Deletes the object `name` as [`plan`] (or, for a namespace, [`plan_namespace`]) decides;
    /// returns it as it was, or as marked.
    pub async fn delete(&self, target: &Target, name: &str, options: &DeleteOptions) -> Result<Value, Status> {
        let resource = target.resource;
        let namespace = target.namespace.as_deref();
        let plan = if is_namespace(resource) { plan_namespace } else { plan };
        let deleted = self
            .objects
            .delete(resource, namespace, name, |object| plan(resource, object, options, age::now()))
            .await?;
        let gone = !is_deleting(&deleted);
        if super::is_service(target) && gone && !self.dry_run {
            services::release(&mut self.client.clone(), &deleted).await;
        }
        Ok(deleted)
    }

    /// Deletes every object the selectors pick; returns them as a list.
    pub async fn delete_collection(
        &self,
        target: &Target,
        labels: &LabelSelector,
        fields: &FieldSelector,
        options: &DeleteOptions,
    ) -> Result<(Vec<Value>, i64), Status> {
        let (items, revision) = self.list(target, labels, fields).await?;
        let mut deleted = Vec::new();
        for item in items {
            let name = item["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let one =
                Target { namespace: item["metadata"]["namespace"].as_str().map(str::to_string), ..target.clone() };
            match self.delete(&one, &name, options).await {
                Ok(object) => deleted.push(object),
                // Gone meanwhile: nothing to do.
                Err(status) if status.code == 404 => {}
                Err(status) => return Err(status),
            }
        }
        Ok((deleted, revision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_api::registry::by_plural;

    #[test]
    fn a_namespace_is_marked_terminating_until_its_controller_finalizes_it() {
        let namespaces = by_plural("", "v1", "namespaces").unwrap();
        let held = json!({"metadata": {"name": "dev", "uid": "u1", "resourceVersion": "4"},
                          "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        let options = DeleteOptions::default();
        let terminating = marked(plan_namespace(namespaces, &held, &options, NOW).unwrap());
        assert_eq!(terminating["status"]["phase"], "Terminating");
        assert_eq!(terminating["metadata"]["deletionTimestamp"], age::format_timestamp(NOW));
        assert_eq!(terminating["spec"]["finalizers"], json!(["kubernetes"]), "the controller's to remove");

        let again = plan_namespace(namespaces, &terminating, &options, NOW + 5).unwrap_err();
        assert_eq!(again.code, 409);
        assert!(
            again.message.contains("The system is ensuring all content is removed from this namespace"),
            "{again:?}"
        );

        let mut finalized = terminating.clone();
        finalized["spec"] = json!({});
        assert_eq!(plan_namespace(namespaces, &finalized, &options, NOW + 5).unwrap(), Deletion::Now);
        let unheld = json!({"metadata": {"name": "tmp"}, "spec": {}});
        assert_eq!(plan_namespace(namespaces, &unheld, &options, NOW).unwrap(), Deletion::Now, "nothing holds it");

        let orphaning = DeleteOptions { propagation_policy: Some(Propagation::Orphan), ..Default::default() };
        let orphaned = marked(plan_namespace(namespaces, &held, &orphaning, NOW).unwrap());
        assert_eq!(orphaned["metadata"]["finalizers"], json!(["orphan"]), "propagation as for any object");
    }

    #[test]
    fn the_initial_namespaces_may_not_be_deleted() {
        let namespaces = by_plural("", "v1", "namespaces").unwrap();
        for name in ["default", "kube-system", "kube-public"] {
            let namespace = json!({"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}});
            let refused = plan_namespace(namespaces, &namespace, &DeleteOptions::default(), NOW).unwrap_err();
            assert_eq!(
                (refused.code, refused.message),
                (403, format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"))
            );
        }
    }

    const NOW: i64 = 1_700_000_000;

    fn pods() -> &'static Resource {
        by_plural("", "v1", "pods").unwrap()
    }

    fn running_pod() -> Value {
        json!({"metadata": {"name": "web", "uid": "u1", "resourceVersion": "7"},
               "spec": {"nodeName": "node-1", "terminationGracePeriodSeconds": 30},
               "status": {"phase": "Running"}})
    }

    fn marked(deletion: Deletion) -> Value {
        match deletion {
            Deletion::Mark { marked } => marked,
            other => panic!("expected a mark, got {other:?}"),
        }
    }

    #[test]
    fn a_running_pod_is_given_its_grace_period() {
        let pod = marked(plan(pods(), &running_pod(), &DeleteOptions::default(), NOW).unwrap());
        assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
        assert_eq!(pod["metadata"]["deletionTimestamp"], age::format_timestamp(NOW + 30));
        assert!(pod["metadata"].get("finalizers").is_none());
    }

    #[test]
    fn the_grace_period_of_the_options_wins_and_zero_deletes_at_once() {
        let short = DeleteOptions { grace_period_seconds: Some(5), ..Default::default() };
        assert_eq!(
            marked(plan(pods(), &running_pod(), &short, NOW).unwrap())["metadata"]["deletionGracePeriodSeconds"],
            5
        );
        let force = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
        assert_eq!(plan(pods(), &running_pod(), &force, NOW).unwrap(), Deletion::Now);
    }

    #[test]
    fn unscheduled_and_finished_pods_go_at_once() {
        let mut pending = running_pod();
        pending["spec"]["nodeName"] = json!(null);
        assert_eq!(plan(pods(), &pending, &DeleteOptions::default(), NOW).unwrap(), Deletion::Now);
        let mut done = running_pod();
        done["status"]["phase"] = json!("Succeeded");
        assert_eq!(plan(pods(), &done, &DeleteOptions::default(), NOW).unwrap(), Deletion::Now);
    }

    #[test]
    fn a_pod_in_its_grace_period_waits_unless_the_grace_gets_shorter() {
        let terminating = marked(plan(pods(), &running_pod(), &DeleteOptions::default(), NOW).unwrap());
        assert_eq!(plan(pods(), &terminating, &DeleteOptions::default(), NOW + 1).unwrap(), Deletion::Unchanged);
        let shorter = DeleteOptions { grace_period_seconds: Some(2), ..Default::default() };
        let sooner = marked(plan(pods(), &terminating, &shorter, NOW + 1).unwrap());
        assert_eq!(sooner["metadata"]["deletionTimestamp"], age::format_timestamp(NOW + 3));
        let last = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
        assert_eq!(plan(pods(), &terminating, &last, NOW + 1).unwrap(), Deletion::Now);
    }

    #[test]
    fn propagation_policies_become_finalizers() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let deployment = json!({"metadata": {"name": "web", "finalizers": ["example.com/keep"]}});
        let cases = [
            (Some(Propagation::Foreground), json!(["example.com/keep", "foregroundDeletion"])),
            (Some(Propagation::Orphan), json!(["example.com/keep", "orphan"])),
            (Some(Propagation::Background), json!(["example.com/keep"])),
            (None, json!(["example.com/keep"])),
        ];
        for (policy, want) in cases {
            let options = DeleteOptions { propagation_policy: policy, ..Default::default() };
            let object = marked(plan(deployments, &deployment, &options, NOW).unwrap());
            assert_eq!(object["metadata"]["finalizers"], want, "{policy:?}");
            assert_eq!(object["metadata"]["deletionGracePeriodSeconds"], 0);
        }
        // A batch/v1 Job that is told nothing orphans its pods, as upstream's Job strategy does.
        let jobs = by_plural("batch", "v1", "jobs").unwrap();
        let job = json!({"metadata": {"name": "pi"}});
        let orphaned = marked(plan(jobs, &job, &DeleteOptions::default(), NOW).unwrap());
        assert_eq!(orphaned["metadata"]["finalizers"], json!(["orphan"]), "no policy");
        let cases = [
            ("orphanDependents: false", None, Some(false)),
            ("Background, as kubectl sends", Some(Propagation::Background), None),
        ];
        for (case, policy, orphan) in cases {
            let options = DeleteOptions { propagation_policy: policy, orphan_dependents: orphan, ..Default::default() };
            assert_eq!(plan(jobs, &job, &options, NOW).unwrap(), Deletion::Now, "{case}");
        }
        let plain = json!({"metadata": {"name": "web"}});
        assert_eq!(plan(deployments, &plain, &DeleteOptions::default(), NOW).unwrap(), Deletion::Now);
        let orphan = DeleteOptions { orphan_dependents: Some(true), ..Default::default() };
        assert_eq!(
            marked(plan(deployments, &plain, &orphan, NOW).unwrap())["metadata"]["finalizers"],
            json!(["orphan"])
        );
    }

    #[test]
    fn a_precondition_on_another_uid_is_a_conflict() {
        let options = DeleteOptions {
            preconditions: Some(Preconditions { uid: Some("u2".into()), resource_version: None }),
            ..Default::default()
        };
        let err = plan(pods(), &running_pod(), &options, NOW).unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on pods \"web\": Precondition failed: UID in precondition: u2, UID in object meta: u1"
        );
    }

    #[test]
    fn options_come_from_the_body_and_the_query() {
        let body =
            br#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground","gracePeriodSeconds":3}"#;
        let options = DeleteOptions::parse(body, |_| None).unwrap();
        assert_eq!(options.propagation_policy, Some(Propagation::Foreground));
        assert_eq!(options.grace_period_seconds, Some(3));
        let options = DeleteOptions::parse(b"", |k| (k == "gracePeriodSeconds").then(|| "0".to_string())).unwrap();
        assert_eq!(options.grace_period_seconds, Some(0));
        let bad = DeleteOptions::parse(b"", |k| (k == "propagationPolicy").then(|| "Sideways".to_string()));
        assert_eq!(bad.unwrap_err().code, 400);
        assert_eq!(DeleteOptions::parse(b"{not json", |_| None).unwrap_err().code, 400);
    }
}
