//! Unknown fields: the keys of an object that its kind's schema does not declare.
//!
//! kube-apiserver finds them by decoding the body into the kind's Go struct strictly:
//! `sigs.k8s.io/json`'s `UnmarshalStrict` on create and update
//! (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go`, `update.go`), and
//! `runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation` on the result of a
//! patch (`patch.go`). Every key that names no struct field is reported with its path,
//! `spec.template.spec.containers[0].imagee`, and left out of the decoded object. Skiff has no
//! structs; the kind's schema ([`super::catalogue`]) plays their part. The walk, at each value
//! with its schema (followed through `$ref` and `allOf`):
//!
//! 1. `x-kubernetes-preserve-unknown-fields: true`: anything goes below.
//! 2. `properties` (a struct, `metadata` among them): each key must be one of them; the value of
//!    a known key is walked with `.key` added to the path.
//! 3. `additionalProperties` (a map: labels, annotations, `data`, `nodeSelector`): any key; the
//!    values are walked with `.key` added.
//! 4. `items` (a list): each element is walked with `[i]` added.
//! 5. Anything else has nothing to check: scalars, `IntOrString`, `Quantity`, `Time`, and objects
//!    that declare no fields at all (`RawExtension`, `FieldsV1`), which Go decodes as raw JSON.
//!
//! A value of the wrong type (an object where a number belongs) is not an unknown field; Go
//! refuses it as a decoding error. The same walk notes the first one ([`super::types`]) and
//! goes no deeper into it.
//!
//! Order: `serde_json` maps iterate in key order (the workspace does not enable its
//! `preserve_order` feature), so paths come sorted within each object, depth first; Kubernetes
//! lists them in the order of the request body. The set is the same.

use std::collections::HashMap;

use serde_json::Value;

use super::openapi::reference;
use super::types::{go_name, go_scalar, Expected, TypeMismatch};
use super::{catalogue, Catalogue, FieldPath, Step};
use crate::registry::Resource;

/// The paths of the fields of `object` that the schema of `resource`'s kind does not declare,
/// as Kubernetes prints them. A kind without a schema has none.
pub fn unknown_fields(resource: &Resource, object: &Value) -> Vec<String> {
    let catalogue = catalogue();
    match catalogue.of(resource) {
        Some(kind) => unknown_fields_of_schema(&kind.schema, object),
        None => Vec::new(),
    }
}

/// [`drop_unknown_fields`], and the first value of `object` that its field's type cannot hold
/// (the walk is the same): what a write checks before storing.
pub fn drop_unknown_fields_checking_types(
    resource: &Resource,
    object: &mut Value,
) -> (Vec<String>, Option<TypeMismatch>) {
    let catalogue = catalogue();
    let Some(kind) = catalogue.of(resource) else { return (Vec::new(), None) };
    let found = find(catalogue, &kind.schema, object);
    for path in &found.unknown {
        remove(object, &path.0);
    }
    (found.unknown.iter().map(FieldPath::to_string).collect(), found.mismatch)
}

/// The same for the schema named `schema` (the body of a subresource: `io.k8s.api.autoscaling.v1.Scale`).
pub fn unknown_fields_of_schema(schema: &str, object: &Value) -> Vec<String> {
    find(catalogue(), schema, object).unknown.iter().map(FieldPath::to_string).collect()
}

/// Removes the unknown fields of `object` and says which they were: what Kubernetes stores
/// after `fieldValidation=Warn` or `Ignore`, since its structs have nowhere to keep them.
pub fn drop_unknown_fields(resource: &Resource, object: &mut Value) -> Vec<String> {
    drop_unknown_fields_checking_types(resource, object).0
}

/// What the walk finds in an object.
pub(super) struct Found {
    /// The unknown fields, in the walk's order.
    pub unknown: Vec<FieldPath>,
    /// The first value of the wrong type.
    pub mismatch: Option<TypeMismatch>,
}

/// The unknown fields of `object` against the schema named `schema` in `catalogue`, and its
/// first value of the wrong type.
pub(super) fn find(catalogue: &Catalogue, schema: &str, object: &Value) -> Found {
    let shapes = catalogue.shapes.get_or_init(|| Shapes::compile(catalogue));
    let mut walk = Walk { shapes, path: Vec::new(), found: Found { unknown: Vec::new(), mismatch: None } };
    if let Some(&root) = shapes.roots.get(schema) {
        walk.value(root, object, "");
    }
    walk.found
}

/// The catalogue's schemas as the walk reads them: each schema's `$ref` and `allOf` followed
/// once, and what the walk asks of it (the numbered steps of the module documentation) kept
/// as plain fields, where reading the JSON schemas meant several map lookups per value walked.
/// Schemas are nodes of one table, so recursive ones (`JSONSchemaProps`) compile to a cycle.
pub(super) struct Shapes {
    nodes: Vec<Shape>,
    /// Each schema by name.
    roots: HashMap<String, usize>,
}

#[derive(Default)]
struct Shape {
    /// 1. `x-kubernetes-preserve-unknown-fields`.
    preserve: bool,
    /// 2. `properties`: the declared fields. Looked up for every field of every write, so
    ///    hashed with foldhash rather than SipHash (bench/README.md, "Three small cuts"); the keys
    ///    are the schema's own, so nothing a client sends can crowd one bucket.
    properties: Option<foldhash::HashMap<String, usize>>,
    /// 3. `additionalProperties`: the schema of a map's values.
    values: Option<usize>,
    /// 4. `items`: the schema of a list's elements.
    items: Option<usize>,
    /// What a value may be ([`super::types`]).
    expected: Expected,
    /// The Go type of a named schema (`v1.PodSpec`), for the messages of [`TypeMismatch`].
    go_name: Option<String>,
    /// The Go type of an unnamed scalar (`int32`), for the same.
    go_scalar: &'static str,
}

impl Shapes {
    fn compile(catalogue: &Catalogue) -> Shapes {
        let (mut nodes, mut seen) = (Vec::new(), HashMap::new());
        let roots = catalogue
            .schemas
            .iter()
            .map(|(name, schema)| (name.clone(), compile(catalogue, schema, Some(name), &mut nodes, &mut seen)))
            .collect();
        Shapes { nodes, roots }
    }

    /// The Go type of the values of `shape`: `v1.Container`, `[]v1.Container`,
    /// `map[string]string`. Only named schemas recur, and they end the recursion.
    fn go_type(&self, shape: usize) -> String {
        let node = &self.nodes[shape];
        if let Some(name) = &node.go_name {
            return name.clone();
        }
        match (node.expected, node.items, node.values) {
            (Expected::Array, Some(items), _) => format!("[]{}", self.go_type(items)),
            (Expected::Object, _, Some(values)) => format!("map[string]{}", self.go_type(values)),
            _ if !node.go_scalar.is_empty() => node.go_scalar.to_string(),
            _ => "interface {}".to_string(),
        }
    }
}

/// The node of `schema` (resolved), compiled with everything it reaches; `seen` holds the
/// nodes of the schemas compiled so far, by their place in the catalogue. `name` is the
/// schema's, if it is one of the catalogue's own rather than a reference to one.
fn compile(
    catalogue: &Catalogue,
    schema: &Value,
    name: Option<&str>,
    nodes: &mut Vec<Shape>,
    seen: &mut HashMap<*const Value, usize>,
) -> usize {
    let name = reference(schema).or(name);
    let schema = catalogue.resolve(schema);
    if let Some(&id) = seen.get(&(schema as *const Value)) {
        return id;
    }
    let id = nodes.len();
    nodes.push(Shape::default());
    seen.insert(schema as *const Value, id);
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        nodes[id].preserve = true;
        return id;
    }
    let properties = schema.get("properties").and_then(Value::as_object).map(|properties| {
        properties
            .iter()
            .map(|(key, property)| (key.clone(), compile(catalogue, property, None, nodes, seen)))
            .collect()
    });
    let values = schema.get("additionalProperties").filter(|s| s.is_object());
    let values = values.map(|values| compile(catalogue, values, None, nodes, seen));
    let items = schema.get("items").map(|items| compile(catalogue, items, None, nodes, seen));
    let expected = Expected::of(schema);
    nodes[id] = Shape {
        preserve: false,
        properties,
        values,
        items,
        expected,
        go_name: name.map(go_name),
        go_scalar: go_scalar(expected, schema),
    };
    id
}

/// A step of the path being walked, borrowed from the object: a path is copied into a
/// [`FieldPath`] only when it is found.
#[derive(Clone, Copy)]
enum At<'v> {
    /// A field of a struct.
    Field(&'v str),
    /// A key of a map: printed like a field, but not one to Go.
    Key(&'v str),
    Index(usize),
}

fn found_at(path: &[At]) -> FieldPath {
    FieldPath(
        path.iter()
            .map(|step| match step {
                At::Field(name) | At::Key(name) => Step::Field(name.to_string()),
                At::Index(index) => Step::Index(*index),
            })
            .collect(),
    )
}

/// The struct fields of `path`, as Go's decoder names where it was: `spec.replicas`.
fn go_field(path: &[At]) -> String {
    let fields: Vec<&str> =
        path.iter().filter_map(|step| if let At::Field(name) = step { Some(*name) } else { None }).collect();
    fields.join(".")
}

/// One walk over an object: where it is, and what it has found.
struct Walk<'s, 'v> {
    shapes: &'s Shapes,
    path: Vec<At<'v>>,
    found: Found,
}

impl<'s, 'v> Walk<'s, 'v> {
    /// The numbered steps of the module documentation, over the compiled schema `shape`, after
    /// the type check; `within` is the Go struct that holds the value (for the messages).
    fn value(&mut self, shape: usize, value: &'v Value, within: &'s str) {
        let shapes = self.shapes;
        let node = &shapes.nodes[shape];
        if node.preserve {
            return;
        }
        if let Some(found) = node.expected.refuses(value) {
            if self.found.mismatch.is_none() {
                let go_type = shapes.go_type(shape);
                let field = go_field(&self.path);
                self.found.mismatch = Some(TypeMismatch { found, within: within.to_string(), field, go_type });
            }
            return;
        }
        match value {
            Value::Object(fields) => {
                // The fields of a struct are held by it: `ObjectMeta.metadata.labels`.
                let inner = node.go_name.as_deref().map_or(within, |name| name.rsplit('.').next().unwrap_or(name));
                for (key, nested) in fields {
                    match (&node.properties, node.values) {
                        (Some(properties), _) => {
                            self.path.push(At::Field(key));
                            match properties.get(key.as_str()) {
                                Some(&property) => self.value(property, nested, inner),
                                None => self.found.unknown.push(found_at(&self.path)),
                            }
                        }
                        (None, Some(values)) => {
                            self.path.push(At::Key(key));
                            self.value(values, nested, within);
                        }
                        (None, None) => continue,
                    }
                    self.path.pop();
                }
            }
            Value::Array(items) => {
                if let Some(item_shape) = node.items {
                    for (index, item) in items.iter().enumerate() {
                        self.path.push(At::Index(index));
                        self.value(item_shape, item, within);
                        self.path.pop();
                    }
                }
            }
            _ => {}
        }
    }
}

fn remove(object: &mut Value, steps: &[Step]) {
    let Some((Step::Field(last), parents)) = steps.split_last() else { return };
    let mut at = object;
    for step in parents {
        let next = match step {
            Step::Field(name) => at.get_mut(name.as_str()),
            Step::Index(index) => at.get_mut(*index),
        };
        match next {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Some(fields) = at.as_object_mut() {
        fields.remove(last);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::by_plural;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "any/key": "x"},
                         "annotations": {"note": "y"},
                         "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                "template": {
                    "metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                    "spec": {
                        "nodeSelector": {"disk": "ssd"},
                        "containers": [
                            {"name": "web", "image": "nginx",
                             "ports": [{"containerPort": 80, "protocol": "TCP"}],
                             "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": 1}},
                             "livenessProbe": {"httpGet": {"path": "/", "port": "http"}}},
                        ],
                    },
                },
            },
            "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True",
                                                      "lastUpdateTime": "2026-01-01T00:00:00Z"}]},
        })
    }

    /// `deployment()` with `value` set at the JSON pointer `at`.
    fn deployment_with(at: &str, value: Value) -> Value {
        let mut object = deployment();
        let (parent, key) = at.rsplit_once('/').unwrap();
        object.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(key.to_string(), value);
        object
    }

    #[test]
    fn unknown_fields_are_found_where_kubernetes_finds_them() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let cases: &[(&str, Value, &[&str])] = &[
            ("a well-formed deployment has none", deployment(), &[]),
            (
                "a misspelt spec field is reported at its path",
                deployment_with("/spec/replicass", json!(3)),
                &["spec.replicass"],
            ),
            (
                "a field of a container carries the container's index",
                deployment_with("/spec/template/spec/containers/0/imagee", json!("nginx")),
                &["spec.template.spec.containers[0].imagee"],
            ),
            (
                "metadata is ObjectMeta, checked like any struct",
                deployment_with("/metadata/lables", json!({})),
                &["metadata.lables"],
            ),
            (
                "a pod template's metadata is checked too",
                deployment_with("/spec/template/metadata/nmae", json!("x")),
                &["spec.template.metadata.nmae"],
            ),
            ("status is declared, and checked", deployment_with("/status/ready", json!(true)), &["status.ready"]),
            ("a top-level field that no kind has", deployment_with("/extra", json!(1)), &["extra"]),
            (
                "an unknown field inside an unknown field is reported once, at the outer one",
                deployment_with("/spec/extra", json!({"deeper": 1})),
                &["spec.extra"],
            ),
            (
                "IntOrString, Quantity and Time are scalars with nothing below",
                deployment_with("/spec/strategy/rollingUpdate/maxSurge", json!(3)),
                &[],
            ),
            (
                "a value of the wrong type is not an unknown field",
                deployment_with("/spec/replicas", json!({"not": "a number"})),
                &[],
            ),
            ("null stands for absent", deployment_with("/spec/paused", Value::Null), &[]),
        ];
        for (name, object, expected) in cases {
            assert_eq!(unknown_fields(deployments, object), *expected, "{name}");
        }
    }

    #[test]
    fn values_of_the_wrong_type_are_named_as_go_names_them() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let spec = "Go struct field PodSpec.spec.template.spec";
        let cases: &[(&str, Value, Option<&str>)] = &[
            ("a well-formed deployment has none", deployment(), None),
            (
                "a string where an int32 belongs",
                deployment_with("/spec/replicas", json!("3")),
                Some("json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
            ),
            (
                "a map's value is reported at the map, in the struct that holds it",
                deployment_with("/metadata/labels", json!({"app": 5})),
                Some("json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
            ),
            (
                "an object where a list belongs names the list's Go type",
                deployment_with("/spec/template/spec/containers", json!({"name": "web"})),
                Some(&*format!("json: cannot unmarshal object into {spec}.containers of type []v1.Container")),
            ),
            (
                "list indices are not part of Go's path",
                deployment_with("/spec/template/spec/containers/0/ports/0/containerPort", json!("80")),
                Some(
                    "json: cannot unmarshal string into Go struct field \
                     ContainerPort.spec.template.spec.containers.ports.containerPort of type int32",
                ),
            ),
            (
                "a fraction where an integer belongs is named by its digits",
                deployment_with("/spec/replicas", json!(1.5)),
                Some("json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
            ),
            (
                "a string where a bool belongs",
                deployment_with("/spec/paused", json!("true")),
                Some("json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
            ),
            (
                "named scalars keep their Go names",
                deployment_with("/metadata/creationTimestamp", json!(5)),
                Some("json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type v1.Time"),
            ),
            (
                "an IntOrString takes no bool",
                deployment_with("/spec/strategy/rollingUpdate/maxSurge", json!(true)),
                Some(
                    "json: cannot unmarshal bool into Go struct field \
                     RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type intstr.IntOrString",
                ),
            ),
            (
                "a whole struct of the wrong type",
                deployment_with("/spec", json!([])),
                Some("json: cannot unmarshal array into Go struct field Deployment.spec of type v1.DeploymentSpec"),
            ),
            ("null stands for absent, whatever the type", deployment_with("/spec/replicas", Value::Null), None),
            (
                "the first of several, in the walk's order, is the one reported",
                {
                    let mut object = deployment_with("/spec/template/spec/nodeSelector", json!({"disk": true}));
                    object["spec"]["replicas"] = json!("2");
                    object
                },
                Some("json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
            ),
        ];
        for (name, object, expected) in cases {
            let mut object = object.clone();
            let (_, mismatch) = drop_unknown_fields_checking_types(deployments, &mut object);
            assert_eq!(mismatch.map(|m| m.to_string()).as_deref(), *expected, "{name}");
        }
        let mut pod = json!({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": {}}}}]}});
        let pods = by_plural("", "v1", "pods").unwrap();
        let (_, mismatch) = drop_unknown_fields_checking_types(pods, &mut pod);
        assert_eq!(
            mismatch.unwrap().to_string(),
            "json: cannot unmarshal object into Go struct field ResourceRequirements.spec.containers.resources.limits \
             of type resource.Quantity",
            "a Quantity takes a string or a number, not an object"
        );
    }

    #[test]
    fn several_unknown_fields_come_sorted_within_each_object_depth_first() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let mut object = deployment_with("/spec/template/spec/containers/0/imagee", json!("x"));
        object["spec"]["replicass"] = json!(1);
        let containers = object["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap();
        containers.push(json!({"name": "b", "cpu": "1"}));
        object["apiVersions"] = json!("v1");
        assert_eq!(
            unknown_fields(deployments, &object),
            [
                "apiVersions",
                "spec.replicass",
                "spec.template.spec.containers[0].imagee",
                "spec.template.spec.containers[1].cpu"
            ]
        );
    }

    #[test]
    fn maps_take_any_key_and_raw_objects_take_anything() {
        let cases: &[(&str, &str, Value, &[&str])] = &[
            ("a ConfigMap's data takes any key", "configmaps", json!({"data": {"a.b": "1", "c": "2"}}), &[]),
            (
                "a Secret's data and stringData too",
                "secrets",
                json!({"data": {"k": "dg=="}, "stringData": {"x": "y"}}),
                &[],
            ),
            (
                "a ControllerRevision's data is a RawExtension: anything goes",
                "controllerrevisions",
                json!({"data": {"spec": {"anything": [1, {"at": "all"}]}}, "revision": 1}),
                &[],
            ),
            (
                "a Service's selector is a map, its ports a list of structs",
                "services",
                json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http", "nodPort": 1}]}}),
                &["spec.ports[0].nodPort"],
            ),
            (
                "an Ingress rule's paths are checked to the backend",
                "ingresses",
                json!({"spec": {"rules": [{"host": "a", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"numbr": 80}}}}
                ]}}]}}),
                &["spec.rules[0].http.paths[0].backend.service.port.numbr"],
            ),
            (
                "a StatefulSet's claim templates are whole PersistentVolumeClaims",
                "statefulsets",
                json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"resources": {"requests": {"storage": "1Gi"}}, "storageClas": "x"}}]}}),
                &["spec.volumeClaimTemplates[0].spec.storageClas"],
            ),
        ];
        for (name, plural, object, expected) in cases {
            let resource = crate::registry::RESOURCES.iter().find(|r| r.plural == *plural).unwrap();
            assert_eq!(unknown_fields(resource, object), *expected, "{name}");
        }
    }

    #[test]
    fn preserve_unknown_fields_lets_anything_through() {
        let schemas = [
            (
                "root",
                json!({"type": "object", "properties": {
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "strict": {"allOf": [{"$ref": "#/components/schemas/leaf"}]},
                }}),
            ),
            ("leaf", json!({"type": "object", "properties": {"a": {"type": "string"}}})),
        ];
        let catalogue = Catalogue {
            schemas: schemas.into_iter().map(|(n, s)| (n.to_string(), s)).collect(),
            kinds: Vec::new(),
            shapes: Default::default(),
        };
        let object = json!({"free": {"x": {"y": 1}}, "strict": {"a": "1", "b": 2}});
        let found: Vec<String> = find(&catalogue, "root", &object).unknown.iter().map(FieldPath::to_string).collect();
        assert_eq!(found, ["strict.b"]);
    }

    #[test]
    fn dropping_removes_exactly_the_unknown_fields() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        let mut object = deployment_with("/spec/template/spec/containers/0/imagee", json!("x"));
        object["spec"]["replicass"] = json!(1);
        let dropped = drop_unknown_fields(deployments, &mut object);
        assert_eq!(dropped, ["spec.replicass", "spec.template.spec.containers[0].imagee"]);
        assert_eq!(object, deployment(), "everything else is kept");
        assert!(drop_unknown_fields(deployments, &mut object).is_empty());
    }

    #[test]
    fn scale_bodies_are_checked_against_their_own_schema() {
        let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replicas": 3, "replica": 1}});
        assert_eq!(unknown_fields_of_schema("io.k8s.api.autoscaling.v1.Scale", &scale), ["spec.replica"]);
        assert!(unknown_fields_of_schema("io.k8s.api.nothing.v1.Nothing", &scale).is_empty());
    }
}
