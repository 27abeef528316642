//! The schemas of Kubernetes' types, generated from `k8s-openapi`, in the shape kube-apiserver's
//! OpenAPI v3 documents give them.
//!
//! Mirrors what `openapi-gen` and `staging/src/k8s.io/kube-openapi` (`pkg/builder3`) do with the
//! Go types: one schema per type, named after its Go package (`io.k8s.api.apps.v1.Deployment`),
//! with the doc comments as `description`s, `required` lists, Kubernetes' formats, references as
//! `#/components/schemas/...`, and `x-kubernetes-group-version-kind` on each kind. Here the
//! source is `k8s-openapi` 0.25 (Kubernetes 1.31), whose `schemars` feature describes every type;
//! [`generate`] asks it for the kinds Skiff serves and everything they reference, then rewrites
//! the few places where its output differs from Kubernetes' own documents
//! ([`follow_kubernetes_conventions`]).
//!
//! Left out: `default`s, `enum`s, and the list and map markers (`x-kubernetes-list-type`,
//! `x-kubernetes-patch-merge-key`, `x-kubernetes-patch-strategy`, …), which `k8s-openapi` does
//! not carry. Without merge keys, the documents must not offer strategic merge patch (see
//! [`super::paths`]).

use std::collections::BTreeMap;

use k8s_openapi::api::{apps, autoscaling, batch, coordination, core, discovery, networking, policy, storage};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::schemars::gen::{SchemaGenerator, SchemaSettings};
use k8s_openapi::schemars::JsonSchema;
use serde_json::{json, Value};

use super::Kind;

/// Where every reference points: the `components.schemas` of an OpenAPI v3 document.
pub const REF_PREFIX: &str = "#/components/schemas/";

pub const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";

/// Every schema, by name, and the kinds among them.
pub(super) struct Generated {
    pub schemas: BTreeMap<String, Value>,
    pub kinds: Vec<Kind>,
}

/// The kinds the registry serves, the kinds of their subresources' bodies, and the meta types
/// their operations answer with; each brings every type it references.
pub(super) fn generate() -> Generated {
    let mut gen = SchemaSettings::openapi3().into_generator();
    let mut kinds = Vec::new();
    let mut add = KindAdder { gen: &mut gen, kinds: &mut kinds };
    add.kind::<core::v1::Namespace>();
    add.kind::<core::v1::Node>();
    add.kind::<core::v1::Pod>();
    add.kind::<core::v1::Service>();
    add.kind::<core::v1::Endpoints>();
    add.kind::<core::v1::ConfigMap>();
    add.kind::<core::v1::Secret>();
    add.kind::<core::v1::Event>();
    add.kind::<core::v1::PersistentVolume>();
    add.kind::<core::v1::PersistentVolumeClaim>();
    add.kind::<core::v1::ServiceAccount>();
    add.kind::<apps::v1::ControllerRevision>();
    add.kind::<apps::v1::DaemonSet>();
    add.kind::<apps::v1::Deployment>();
    add.kind::<apps::v1::ReplicaSet>();
    add.kind::<apps::v1::StatefulSet>();
    add.kind::<batch::v1::Job>();
    add.kind::<coordination::v1::Lease>();
    add.kind::<discovery::v1::EndpointSlice>();
    add.kind::<networking::v1::IngressClass>();
    add.kind::<networking::v1::Ingress>();
    add.kind::<storage::v1::StorageClass>();
    // The bodies of subresources: pods/binding, */scale, pods/eviction.
    add.kind::<core::v1::Binding>();
    add.kind::<autoscaling::v1::Scale>();
    add.kind::<policy::v1::Eviction>();
    // What operations answer or take besides objects.
    gen.subschema_for::<meta::Status>();
    gen.subschema_for::<meta::DeleteOptions>();
    gen.subschema_for::<meta::WatchEvent<()>>();
    gen.subschema_for::<meta::Patch>();

    let mut schemas = BTreeMap::new();
    for (name, schema) in gen.take_definitions() {
        let mut schema = serde_json::to_value(schema).expect("a schema is JSON");
        follow_kubernetes_conventions(&name, &mut schema);
        schemas.insert(name, schema);
    }
    for kind in &kinds {
        let schema = schemas.get_mut(&kind.schema).expect("a registered kind has a schema");
        schema["x-kubernetes-group-version-kind"] = json!([kind.gvk()]);
        let list = list_schema(kind, schema);
        schemas.insert(kind.list_schema(), list);
    }
    Generated { schemas, kinds }
}

struct KindAdder<'a> {
    gen: &'a mut SchemaGenerator,
    kinds: &'a mut Vec<Kind>,
}

impl KindAdder<'_> {
    fn kind<T: k8s_openapi::Resource + JsonSchema>(&mut self) {
        self.gen.subschema_for::<T>();
        self.kinds.push(Kind {
            group: T::GROUP,
            version: T::VERSION,
            kind: T::KIND,
            plural: T::URL_PATH_SEGMENT,
            schema: T::schema_name(),
        });
    }
}

/// Rewrites `k8s-openapi`'s rendering of one schema where Kubernetes' documents say it
/// differently, at every depth:
///
/// 1. A reference with a description beside it becomes `allOf: [{$ref}]` plus the description:
///    OpenAPI 3.0 ignores a `$ref`'s siblings, and `kubectl explain` prints a field's own
///    description, then its type's, only in this form.
/// 2. `IntOrString` and `Quantity` are one of two scalar types (`x-kubernetes-int-or-string` is
///    the marker of custom resources; built-in documents use `oneOf`). Without a `type`,
///    `kubectl explain` names them `<IntOrString>` and `<Quantity>`, as it does upstream.
/// 3. `metadata` is not required: `k8s-openapi` requires it because its Rust field is not an
///    `Option`, but Kubernetes' documents never list it (`kubectl explain` would print
///    `-required-`, and schema-driven clients would refuse objects without it).
fn follow_kubernetes_conventions(name: &str, schema: &mut Value) {
    match name {
        INT_OR_STRING => {
            let description = schema["description"].take();
            *schema = json!({"description": description, "format": "int-or-string",
                             "oneOf": [{"type": "integer"}, {"type": "string"}]});
            return;
        }
        QUANTITY => {
            let description = schema["description"].take();
            *schema = json!({"description": description, "oneOf": [{"type": "string"}, {"type": "number"}]});
            return;
        }
        _ => {}
    }
    let meta_ref = Value::String(format!("{REF_PREFIX}{OBJECT_META}"));
    let metadata = &schema["properties"]["metadata"];
    if metadata["$ref"] == meta_ref || metadata["allOf"][0]["$ref"] == meta_ref {
        if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|field| field != "metadata");
            if required.is_empty() {
                schema.as_object_mut().expect("required lives in an object").remove("required");
            }
        }
    }
    wrap_references(schema);
}

/// Step 1 of [`follow_kubernetes_conventions`], down every nested schema.
fn wrap_references(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else { return };
    if object.len() > 1 {
        if let Some(reference) = object.remove("$ref") {
            object.insert("allOf".into(), json!([{"$ref": reference}]));
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(nested) = object.get_mut(key) {
            wrap_references(nested);
        }
    }
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        properties.values_mut().for_each(wrap_references);
    }
}

/// `DeploymentList`: Kubernetes serves a list kind beside each kind (the body of `list`), which
/// `k8s-openapi` models as one generic `List<T>` without a schema; this writes it.
fn list_schema(kind: &Kind, item: &Value) -> Value {
    let property = |name: &str| item["properties"][name].clone();
    json!({
        "description": format!("A list of {} objects.", kind.kind),
        "type": "object",
        "properties": {
            "apiVersion": property("apiVersion"),
            "kind": property("kind"),
            "metadata": {"allOf": [{"$ref": format!("{REF_PREFIX}{LIST_META}")}],
                         "description": "The list's resourceVersion, and the token of the next page."},
            "items": {"description": format!("The {} objects.", kind.kind), "type": "array",
                      "items": {"$ref": format!("{REF_PREFIX}{}", kind.schema)}},
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [
            {"group": kind.group, "version": kind.version, "kind": format!("{}List", kind.kind)}
        ],
    })
}

/// The names of the schemas `schema` refers to anywhere inside it (not those they refer to in
/// turn).
pub(super) fn references(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                if let Some(name) = reference.strip_prefix(REF_PREFIX) {
                    out.push(name.to_string());
                }
            }
            object.values().for_each(|nested| references(nested, out));
        }
        Value::Array(items) => items.iter().for_each(|nested| references(nested, out)),
        _ => {}
    }
}

/// The schema a property's schema stands for: itself, or the one it refers to (directly, or as
/// the single element of `allOf`).
pub(super) fn resolve<'a>(schemas: &'a BTreeMap<String, Value>, schema: &'a Value) -> &'a Value {
    match reference(schema) {
        Some(name) => schemas.get(name).unwrap_or(schema),
        None => schema,
    }
}

/// The name of the schema that `schema` refers to, if it is a reference (directly, or as the
/// single element of `allOf`).
pub(super) fn reference(schema: &Value) -> Option<&str> {
    let reference = schema.get("$ref").or_else(|| match schema.get("allOf").and_then(Value::as_array) {
        Some(all_of) if all_of.len() == 1 => all_of[0].get("$ref"),
        _ => None,
    });
    reference.and_then(Value::as_str).and_then(|r| r.strip_prefix(REF_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RESOURCES;
    use crate::schema::catalogue;

    fn every_schema(schema: &Value, visit: &mut impl FnMut(&Value)) {
        visit(schema);
        match schema {
            Value::Object(object) => object.values().for_each(|nested| every_schema(nested, visit)),
            Value::Array(items) => items.iter().for_each(|nested| every_schema(nested, visit)),
            _ => {}
        }
    }

    #[test]
    fn every_served_kind_has_kubernetes_schema_and_plural() {
        let catalogue = catalogue();
        for r in RESOURCES {
            let kind = catalogue.of(r).unwrap_or_else(|| panic!("{} has no schema: add it to generate()", r.kind));
            assert_eq!(kind.plural, r.plural, "{} is served under Kubernetes' plural", r.kind);
            let schema = catalogue.schema(&kind.schema).unwrap();
            assert_eq!(schema["x-kubernetes-group-version-kind"], json!([kind.gvk()]), "{}", kind.schema);
            assert!(catalogue.schema(&kind.list_schema()).is_some(), "{}List", r.kind);
        }
        for (group, version, kind) in RESOURCES.iter().flat_map(|r| r.subresources).filter_map(|s| s.kind) {
            let served_elsewhere = ["PodAttachOptions", "PodExecOptions", "PodPortForwardOptions", "Pod"];
            assert!(
                catalogue.kind(group, version, kind).is_some() || served_elsewhere.contains(&kind),
                "subresource body {kind}"
            );
        }
    }

    #[test]
    fn a_deployment_reads_as_in_kubernetes_documents() {
        let catalogue = catalogue();
        let deployment = catalogue.schema("io.k8s.api.apps.v1.Deployment").unwrap();
        assert_eq!(deployment["description"], "Deployment enables declarative updates for Pods and ReplicaSets.");
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
        );
        assert!(deployment.get("required").is_none(), "metadata is optional, as upstream");
        let spec = &deployment["properties"]["spec"];
        assert_eq!(spec["allOf"], json!([{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]));
        assert_eq!(spec["description"], "Specification of the desired behavior of the Deployment.");
        let deployment_spec = catalogue.schema("io.k8s.api.apps.v1.DeploymentSpec").unwrap();
        assert_eq!(deployment_spec["required"], json!(["selector", "template"]));
        assert_eq!(deployment_spec["properties"]["replicas"]["format"], "int32");
        let strategy = catalogue.schema("io.k8s.api.apps.v1.RollingUpdateDeployment").unwrap();
        let max_surge = &strategy["properties"]["maxSurge"]["allOf"][0]["$ref"];
        assert_eq!(max_surge, &format!("{REF_PREFIX}{INT_OR_STRING}"));
    }

    #[test]
    fn scalars_are_typed_as_kubernetes_types_them() {
        let catalogue = catalogue();
        let cases = [
            (INT_OR_STRING, json!("int-or-string"), json!([{"type": "integer"}, {"type": "string"}]), Value::Null),
            (QUANTITY, Value::Null, json!([{"type": "string"}, {"type": "number"}]), Value::Null),
            ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", json!("date-time"), Value::Null, json!("string")),
            ("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", json!("date-time"), Value::Null, json!("string")),
        ];
        for (name, format, one_of, kind) in cases {
            let schema = catalogue.schema(name).unwrap();
            assert_eq!((&schema["format"], &schema["oneOf"], &schema["type"]), (&format, &one_of, &kind), "{name}");
            assert!(schema["description"].is_string(), "{name} keeps its description");
        }
    }

    #[test]
    fn references_stand_alone_and_all_resolve() {
        let catalogue = catalogue();
        for (name, schema) in &catalogue.schemas {
            every_schema(schema, &mut |nested| {
                if let Some(reference) = nested.get("$ref") {
                    assert_eq!(nested.as_object().unwrap().len(), 1, "{name}: a $ref with siblings");
                    let target = reference.as_str().unwrap().strip_prefix(REF_PREFIX).unwrap();
                    assert!(catalogue.schema(target).is_some(), "{name} refers to a missing {target}");
                }
                assert!(nested.get("x-kubernetes-int-or-string").is_none(), "{name}");
            });
        }
    }

    #[test]
    fn a_document_holds_what_its_roots_reach_and_nothing_else() {
        let catalogue = catalogue();
        let components = catalogue.components(["io.k8s.api.apps.v1.Deployment"]);
        for reached in [
            "io.k8s.api.apps.v1.DeploymentSpec",
            "io.k8s.api.core.v1.PodSpec",
            "io.k8s.api.core.v1.Container",
            OBJECT_META,
            INT_OR_STRING,
            QUANTITY,
        ] {
            assert!(components.contains_key(reached), "{reached}");
        }
        for unrelated in ["io.k8s.api.core.v1.Service", "io.k8s.api.networking.v1.Ingress", STATUS] {
            assert!(!components.contains_key(unrelated), "{unrelated}");
        }
        let list = &components.get("io.k8s.api.apps.v1.Deployment").unwrap();
        assert!(list["properties"]["spec"].is_object());
        let lists = catalogue.components(["io.k8s.api.apps.v1.DeploymentList"]);
        assert!(lists.contains_key("io.k8s.api.apps.v1.Deployment") && lists.contains_key(LIST_META));
    }

    #[test]
    fn lists_follow_the_kind_they_list() {
        let catalogue = catalogue();
        let list = catalogue.schema("io.k8s.api.core.v1.PodList").unwrap();
        assert_eq!(list["x-kubernetes-group-version-kind"], json!([{"group": "", "version": "v1", "kind": "PodList"}]));
        assert_eq!(list["properties"]["items"]["items"]["$ref"], "#/components/schemas/io.k8s.api.core.v1.Pod");
        assert_eq!(list["required"], json!(["items"]));
        assert!(list["properties"]["kind"]["description"].is_string());
    }
}
