//! Create: check the body against the URL, fill defaults, check the namespace, allocate a
//! Service's addresses, store.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/registry/rest/create.go` (`BeforeCreate`) and the
//! generic store's `Create`; the Service allocation mirrors
//! `pkg/registry/core/service/storage/alloc.go`. The object's identity (uid, creationTimestamp,
//! a name from `generateName`, generation) is the storage layer's.

use serde_json::{json, Value};
use skiff_api::registry::Resource;
use skiff_api::status::Status;
use skiff_api::{defaults, validation};

use super::delete::NAMESPACE_FINALIZER;
use super::{check_body, invalid, is_service, Verbs, WriteOptions};
use crate::path::Target;
use crate::services;
use crate::storage::Written;

/// A new object starts with the status its kind starts with, whatever the client sent
/// (Kubernetes' `PrepareForCreate` strategies): a pod is `Pending` with its QoS class, a
/// namespace `Active`, a claim or volume `Pending`; the other kinds with a status endpoint start
/// with none. Nodes keep theirs: the kubelet registers with it.
fn initial_status(resource: &Resource, object: &mut Value) {
    if resource.subresource("status").is_none() {
        return;
    }
    let status = match (resource.group, resource.plural) {
        ("", "nodes") => return,
        ("", "pods") => {
            json!({"phase": "Pending", "qosClass": skiff_api::qos::qos_class_of_json(&object["spec"])})
        }
        ("", "namespaces") => json!({"phase": "Active"}),
        ("", "persistentvolumeclaims" | "persistentvolumes") => json!({"phase": "Pending"}),
        _ => {
            object.as_object_mut().map(|o| o.remove("status"));
            return;
        }
    };
    object["status"] = status;
}

/// A new namespace is held by the `kubernetes` finalizer, whatever else the client listed: the
/// namespace controller removes it once the namespace's content is gone (Kubernetes' namespace
/// `PrepareForCreate`).
fn hold_namespace(resource: &Resource, object: &mut Value) {
    if !(resource.group.is_empty() && resource.plural == "namespaces") {
        return;
    }
    if !object["spec"].is_object() {
        object["spec"] = json!({});
    }
    let finalizers = &mut object["spec"]["finalizers"];
    if !finalizers.is_array() {
        *finalizers = json!([]);
    }
    let list = finalizers.as_array_mut().expect("made an array above");
    if !list.iter().any(|f| f == NAMESPACE_FINALIZER) {
        list.push(json!(NAMESPACE_FINALIZER));
    }
}

impl Verbs {
    /// An Ingress created without a class gets the default IngressClass's name (the one marked
    /// `ingressclass.kubernetes.io/is-default-class: "true"`, the newest if several), as
    /// Kubernetes' `DefaultIngressClass` admission plugin does.
    async fn default_ingress_class(&self, ingress: &mut Value) -> Result<(), Status> {
        let has_class = ingress["spec"]["ingressClassName"].as_str().is_some()
            || ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"].as_str().is_some();
        if has_class {
            return Ok(());
        }
        let classes = skiff_api::registry::by_plural("networking.k8s.io", "v1", "ingressclasses")
            .expect("ingress classes are registered");
        let all = skiff_api::selector::LabelSelector::default();
        let (items, _) = self.objects.list(classes, None, &all, &skiff_api::selector::FieldSelector::default()).await?;
        let default = items
            .iter()
            .filter(|c| c["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true")
            .max_by(|a, b| {
                let created = |c: &Value| c["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string();
                created(a).cmp(&created(b))
            });
        if let Some(name) = default.and_then(|c| c["metadata"]["name"].as_str()) {
            if !ingress["spec"].is_object() {
                ingress["spec"] = json!({});
            }
            ingress["spec"]["ingressClassName"] = json!(name);
        }
        Ok(())
    }

    /// Creates `object` where `target` points; returns it as stored.
    pub async fn create(&self, target: &Target, mut object: Value, options: &WriteOptions) -> Result<Written, Status> {
        check_body(target, &object)?;
        defaults::apply(target.resource, &mut object);
        if target.resource.group.is_empty() && target.resource.plural == "pods" {
            skiff_api::admission::pod(&mut object);
        }
        object["apiVersion"] = json!(target.resource.api_version());
        object["kind"] = json!(target.resource.kind);
        if !object["metadata"].is_object() {
            object["metadata"] = json!({});
        }
        match target.namespace.as_deref().filter(|_| target.resource.namespaced) {
            Some(namespace) => object["metadata"]["namespace"] = json!(namespace),
            None => {
                object["metadata"].as_object_mut().map(|m| m.remove("namespace"));
            }
        }
        if target.resource.group == "networking.k8s.io" && target.resource.plural == "ingresses" {
            self.default_ingress_class(&mut object).await?;
        }
        // The identity comes first, whatever the client sent (upstream's
        // `FillObjectMetaSystemFields`): a Job's selector is made from its uid.
        object["metadata"]["uid"] = json!(crate::storage::new_uid());
        let job = target.resource.group == "batch" && target.resource.plural == "jobs";
        if job {
            skiff_api::job_selector::generate(&mut object);
        }
        let mut errors = validation::validate_create(target.resource, &object);
        if job {
            errors.extend(skiff_api::job_selector::validate(&object));
        }
        invalid(target.resource, &object, errors)?;
        initial_status(target.resource, &mut object);
        hold_namespace(target.resource, &mut object);
        options.record(None, &mut object);
        self.namespace_admits(target, &object).await?;
        // (A dry run allocates nothing: its Service shows no ClusterIP.)
        let allocates = is_service(target) && !self.dry_run;
        if allocates {
            let owner = format!(
                "{}/{}",
                target.namespace.as_deref().unwrap_or_default(),
                object["metadata"]["name"].as_str().unwrap_or_default()
            );
            services::allocate(&mut self.client.clone(), &mut object, &owner).await?;
        }
        // Only a Service needs its object after a failed create, to give its addresses back.
        let allocated = allocates.then(|| object.clone());
        match self.objects.create(target.resource, target.namespace.as_deref(), object).await {
            Ok(created) => Ok(created),
            Err(status) => {
                if let Some(object) = allocated {
                    // The Service was not created: give back what it was given.
                    services::release(&mut self.client.clone(), &object).await;
                }
                Err(status)
            }
        }
    }
}
