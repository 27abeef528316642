//! The OpenAPI v3 document of one group-version: a path per URL the API server serves, an
//! operation per verb, and the schemas they refer to.
//!
//! Mirrors the routes kube-apiserver registers for each resource
//! (`staging/src/k8s.io/apiserver/pkg/endpoints/installer.go`) as its OpenAPI builder
//! (`staging/src/k8s.io/kube-openapi/pkg/builder3`) describes them: every operation carries
//! `x-kubernetes-action` (`get`, `list`, `post`, `put`, `patch`, `delete`, `deletecollection`,
//! `connect`) and the `x-kubernetes-group-version-kind` of its body, which is how kubectl finds a
//! kind's schema (`kubectl explain`) and learns that the server validates fields itself (a
//! `patch` operation with a `fieldValidation` parameter; `../shared/kubectl-compat.md`
//! section 3). Every `patch` of a kind must have that parameter: kubectl looks at the first one
//! it meets, status and scale included.
//!
//! The patch operations do not offer `application/strategic-merge-patch+json`, on purpose: kubectl
//! would then compute its apply patches from these schemas, which carry no merge keys; without
//! it, kubectl uses the Kubernetes types compiled into it, which are right for every built-in
//! kind.
//!
//! Left out: the deprecated `/watch/` paths (Skiff serves a watch as `?watch=true` on a list,
//! which is described there), protobuf, CBOR and YAML content types, the `401` responses,
//! and upstream's long parameter descriptions (these are Skiff's own, short).

use serde_json::{json, Map, Value};

use super::openapi::{DELETE_OPTIONS, REF_PREFIX, STATUS, WATCH_EVENT};
use super::{catalogue, Kind};
use crate::registry::{Resource, Subresource, RESOURCES};

const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// The document of a served group-version, `None` for any other.
pub fn document(group: &str, version: &str) -> Option<Value> {
    let resources: Vec<&Resource> = RESOURCES.iter().filter(|r| r.group == group && r.version == version).collect();
    if resources.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    // Every error is a Status; deletes take DeleteOptions; watches stream WatchEvents.
    let mut roots: Vec<String> = [STATUS, DELETE_OPTIONS, WATCH_EVENT, PATCH].map(String::from).into();
    for r in resources {
        if let Some(kind) = catalogue().of(r) {
            Operations { resource: r, kind, roots: &mut roots }.add_to(&mut paths);
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "components": {"schemas": catalogue().components(roots.iter().map(String::as_str))},
    }))
}

/// The operations of one resource and its subresources.
struct Operations<'a> {
    resource: &'a Resource,
    kind: &'a Kind,
    /// The schemas the operations refer to, for the document's components.
    roots: &'a mut Vec<String>,
}

impl Operations<'_> {
    fn add_to(mut self, paths: &mut Map<String, Value>) {
        let r = self.resource;
        let prefix =
            if r.group.is_empty() { format!("/api/{}", r.version) } else { format!("/apis/{}/{}", r.group, r.version) };
        let scope = if r.namespaced { "/namespaces/{namespace}" } else { "" };
        let collection = format!("{prefix}{scope}/{}", r.plural);
        let item = format!("{collection}/{{name}}");
        let (object, list) = (self.kind.schema.clone(), self.kind.list_schema());
        self.roots.extend([object.clone(), list.clone()]);
        let gvk = self.kind.gvk();

        let mut operations = Map::new();
        if self.has("list") {
            operations.insert("get".into(), self.list(&self.id("list", ""), &list));
        }
        if self.has("create") {
            let body = body("application/json", &object);
            operations
                .insert("post".into(), operation("post", &self.id("create", ""), &gvk, CREATE, body, ok(&object)));
        }
        if self.has("deletecollection") {
            let body = body("application/json", DELETE_OPTIONS);
            let params = [LIST, DELETE].concat();
            let op = operation(
                "deletecollection",
                &self.id_with("delete", "Collection", "", ""),
                &gvk,
                &params,
                body,
                ok(&list),
            );
            operations.insert("delete".into(), op);
        }
        paths.insert(collection, path_item(operations, r.namespaced, false));

        let verbs: Vec<&str> = ["get", "update", "patch", "delete"].into_iter().filter(|v| self.has(v)).collect();
        let operations = self.object_operations("", &object, &gvk, &verbs);
        paths.insert(item.clone(), path_item(operations, r.namespaced, true));

        if r.namespaced && self.has("list") {
            let id = self.id_with("list", "", "", "ForAllNamespaces");
            let all = Map::from_iter([("get".to_string(), self.list(&id, &list))]);
            paths.insert(format!("{prefix}/{}", r.plural), path_item(all, false, false));
        }
        for sub in r.subresources {
            let operations = self.subresource(sub);
            paths.insert(format!("{item}/{}", sub.name), path_item(operations, r.namespaced, true));
        }
    }

    fn has(&self, verb: &str) -> bool {
        self.resource.verbs.contains(&verb)
    }

    /// `readAppsV1NamespacedDeploymentScale`: upstream's operation ids.
    fn id(&self, verb: &str, subresource: &str) -> String {
        self.id_with(verb, "", subresource, "")
    }

    /// `connectCoreV1PostNamespacedPodExec`, `listCoreV1PodForAllNamespaces`.
    fn id_with(&self, verb: &str, method: &str, subresource: &str, tail: &str) -> String {
        let r = self.resource;
        let group: String = r.group.trim_end_matches(".k8s.io").split('.').map(capitalized).collect();
        let group = if group.is_empty() { "Core".to_string() } else { group };
        let scope = if r.namespaced && tail.is_empty() { "Namespaced" } else { "" };
        let (version, kind, subresource) = (capitalized(r.version), self.kind.kind, capitalized(subresource));
        format!("{verb}{group}{version}{method}{scope}{kind}{subresource}{tail}")
    }

    /// A list, which is also a watch (`?watch=true`).
    fn list(&self, id: &str, list: &str) -> Value {
        let responses = json!({"200": {"description": "OK", "content": {
            "application/json": {"schema": reference(list)},
            "application/json;stream=watch": {"schema": reference(WATCH_EVENT)},
        }}});
        operation("list", id, &self.kind.gvk(), LIST, None, responses)
    }

    /// The operations on one object, or on a subresource read and written like one.
    fn object_operations(&self, subresource: &str, schema: &str, gvk: &Value, verbs: &[&str]) -> Map<String, Value> {
        let mut operations = Map::new();
        for verb in verbs {
            let (method, action, id, params, body) = match *verb {
                "get" => ("get", "get", "read", &[][..], None),
                "update" => ("put", "put", "replace", CREATE, body("application/json", schema)),
                "patch" => ("patch", "patch", "patch", PATCH_PARAMS, patch_body()),
                "delete" => ("delete", "delete", "delete", DELETE, body("application/json", DELETE_OPTIONS)),
                "create" => ("post", "post", "create", CREATE, body("application/json", schema)),
                _ => continue,
            };
            let op = operation(action, &self.id(id, subresource), gvk, params, body, ok(schema));
            operations.insert(method.into(), op);
        }
        operations
    }

    /// `status` and `scale` read and write like objects (`scale` as an autoscaling/v1 `Scale`),
    /// `binding` and `eviction` are created; `exec`, `attach` and `portforward` are connections
    /// (their options have no schema); `log` answers text.
    fn subresource(&mut self, sub: &Subresource) -> Map<String, Value> {
        let (group, version, kind) = sub.kind.unwrap_or((self.kind.group, self.kind.version, self.kind.kind));
        let gvk = json!({"group": group, "version": version, "kind": kind});
        if sub.name == "log" {
            let text = json!({"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}});
            let op = operation("get", &self.id("read", "log"), &gvk, LOG, None, text);
            return Map::from_iter([("get".to_string(), op)]);
        }
        if let Some(body_kind) = catalogue().kind(group, version, kind) {
            self.roots.push(body_kind.schema.clone());
            return self.object_operations(sub.name, &body_kind.schema, &gvk, sub.verbs);
        }
        let params = if sub.name == "portforward" { PORT_FORWARD } else { CONNECT };
        let text = json!({"200": {"description": "OK", "content": {"*/*": {"schema": {"type": "string"}}}}});
        let mut operations = Map::new();
        for (verb, method, name) in [("get", "get", "Get"), ("create", "post", "Post")] {
            if sub.verbs.contains(&verb) {
                let id = self.id_with("connect", name, sub.name, "");
                operations.insert(method.into(), operation("connect", &id, &gvk, params, None, text.clone()));
            }
        }
        operations
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn reference(schema: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{schema}")})
}

fn ok(schema: &str) -> Value {
    json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference(schema)}}}})
}

fn body(content_type: &str, schema: &str) -> Option<Value> {
    Some(json!({"content": {content_type: {"schema": reference(schema)}}, "required": true}))
}

/// The patch types the API server takes, strategic merge patch left out (see the module doc).
fn patch_body() -> Option<Value> {
    let patch = json!({"schema": reference(PATCH)});
    Some(json!({"content": {"application/json-patch+json": patch, "application/merge-patch+json": patch},
                "required": true}))
}

fn operation(action: &str, id: &str, gvk: &Value, params: &[&str], body: Option<Value>, responses: Value) -> Value {
    let mut op = json!({
        "operationId": id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "parameters": params.iter().map(|name| query(name)).collect::<Vec<_>>(),
        "responses": responses,
    });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    op
}

/// The operations of one URL, with the parameters in its path.
fn path_item(mut operations: Map<String, Value>, namespaced: bool, named: bool) -> Value {
    let path_param = |name: &str, description: &str| json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}});
    let mut params = Vec::new();
    if named {
        params.push(path_param("name", "The object's name."));
    }
    if namespaced {
        params.push(path_param("namespace", "The object's namespace."));
    }
    params.push(query("pretty"));
    operations.insert("parameters".into(), Value::Array(params));
    Value::Object(operations)
}

const LIST: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
const CREATE: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];
const DELETE: &[&str] = &["dryRun", "gracePeriodSeconds", "propagationPolicy"];
const CONNECT: &[&str] = &["command", "container", "stderr", "stdin", "stdout", "tty"];
const PORT_FORWARD: &[&str] = &["ports"];
const LOG: &[&str] = &["container", "follow", "limitBytes", "previous", "sinceSeconds", "tailLines", "timestamps"];

/// A query parameter, with its type and what it does.
fn query(name: &str) -> Value {
    let (kind, description) = match name {
        "allowWatchBookmarks" => ("boolean", "A watch may send BOOKMARK events carrying the latest resourceVersion."),
        "continue" => ("string", "The token of the next page, from the previous page's metadata."),
        "dryRun" => ("string", "`All`: check and compute everything, store nothing."),
        "fieldManager" => ("string", "The name of the writer, recorded in managedFields."),
        "fieldSelector" => ("string", "Only objects whose fields match, e.g. `metadata.name=web`."),
        "fieldValidation" => (
            "string",
            "What to do with unknown or duplicate fields: `Ignore` them, `Warn` (the default) or fail (`Strict`).",
        ),
        "force" => ("boolean", "Server-side apply takes over the fields other managers own."),
        "gracePeriodSeconds" => ("integer", "Seconds before the object is deleted; 0 deletes it now."),
        "labelSelector" => ("string", "Only objects whose labels match, e.g. `app=web,tier!=db`."),
        "limit" => ("integer", "The most objects to return in one page."),
        "propagationPolicy" => ("string", "What happens to dependents: `Orphan`, `Background` or `Foreground`."),
        "pretty" => ("string", "Indent the response."),
        "resourceVersion" => ("string", "Serve from this resourceVersion, or watch from it."),
        "resourceVersionMatch" => ("string", "How resourceVersion applies to a list: `NotOlderThan` or `Exact`."),
        "sendInitialEvents" => ("boolean", "A watch starts with the current objects, then a bookmark."),
        "timeoutSeconds" => ("integer", "End the list or watch after this many seconds."),
        "watch" => ("boolean", "Stream the changes (ADDED, MODIFIED, DELETED) instead of listing."),
        "command" => ("string", "The command to run, one parameter per argument."),
        "container" => ("string", "The container, when the pod has several."),
        "stderr" | "stdin" | "stdout" => ("boolean", "Attach this stream."),
        "tty" => ("boolean", "Allocate a terminal."),
        "ports" => ("integer", "The ports to forward."),
        "follow" => ("boolean", "Stream the log as it grows."),
        "limitBytes" => ("integer", "Stop after this many bytes."),
        "previous" => ("boolean", "The log of the previous, terminated container."),
        "sinceSeconds" => ("integer", "Only lines from the last seconds."),
        "tailLines" => ("integer", "Only the last lines."),
        "timestamps" => ("boolean", "Prefix each line with its time."),
        _ => ("string", ""),
    };
    json!({"name": name, "in": "query", "description": description, "schema": {"type": kind, "uniqueItems": true}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_operation(document: &Value) -> impl Iterator<Item = (&String, &String, &Value)> {
        document["paths"].as_object().unwrap().iter().flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .filter(|(method, _)| *method != "parameters")
                .map(move |(m, op)| (path, m, op))
        })
    }

    #[test]
    fn every_patch_operation_takes_field_validation_and_no_strategic_merge_patch() {
        for (group, version) in crate::registry::group_versions() {
            let document = document(group, version).unwrap();
            let patches: Vec<_> = every_operation(&document).filter(|(_, method, _)| *method == "patch").collect();
            assert!(!patches.is_empty(), "{group}/{version}");
            for (path, _, op) in patches {
                let names: Vec<&str> =
                    op["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
                assert!(names.contains(&"fieldValidation"), "{path}");
                assert!(op["x-kubernetes-group-version-kind"].is_object(), "{path}");
                assert!(op["requestBody"]["content"].get("application/strategic-merge-patch+json").is_none(), "{path}");
            }
        }
    }

    #[test]
    fn kubectl_explain_finds_each_kind_from_its_paths() {
        // The paths kubectl explain looks at for a GVK, in its order, and the schema it then finds.
        let apps = document("apps", "v1").unwrap();
        let op = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["get"];
        assert_eq!(
            op["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(op["x-kubernetes-action"], "list");
        let schemas = apps["components"]["schemas"].as_object().unwrap();
        let found: Vec<&String> = schemas
            .iter()
            .filter(|(_, s)| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|l| l.contains(&op["x-kubernetes-group-version-kind"]))
            })
            .map(|(name, _)| name)
            .collect();
        assert_eq!(found, ["io.k8s.api.apps.v1.Deployment"]);
        let core = document("", "v1").unwrap();
        assert!(core["paths"].get("/api/v1/namespaces/{name}").is_some(), "cluster-scoped kinds have no namespace");
        assert!(core["paths"]["/api/v1/nodes/{name}"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "namespace"));
        assert!(document("apps", "v2").is_none());
    }

    #[test]
    fn operations_are_named_and_marked_as_upstream_names_them() {
        let core = document("", "v1").unwrap();
        let apps = document("apps", "v1").unwrap();
        let networking = document("networking.k8s.io", "v1").unwrap();
        let cases = [
            (
                &apps,
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                "get",
                "readAppsV1NamespacedDeployment",
                "get",
            ),
            (
                &apps,
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                "put",
                "replaceAppsV1NamespacedDeployment",
                "put",
            ),
            (
                &apps,
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
                "patch",
                "patchAppsV1NamespacedDeploymentScale",
                "patch",
            ),
            (&apps, "/apis/apps/v1/deployments", "get", "listAppsV1DeploymentForAllNamespaces", "list"),
            (
                &core,
                "/api/v1/namespaces/{namespace}/pods",
                "delete",
                "deleteCoreV1CollectionNamespacedPod",
                "deletecollection",
            ),
            (&core, "/api/v1/namespaces/{namespace}/pods", "post", "createCoreV1NamespacedPod", "post"),
            (
                &core,
                "/api/v1/namespaces/{namespace}/pods/{name}/exec",
                "post",
                "connectCoreV1PostNamespacedPodExec",
                "connect",
            ),
            (&core, "/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "readCoreV1NamespacedPodLog", "get"),
            (&core, "/api/v1/namespaces/{name}/status", "put", "replaceCoreV1NamespaceStatus", "put"),
            (&networking, "/apis/networking.k8s.io/v1/ingressclasses", "get", "listNetworkingV1IngressClass", "list"),
        ];
        for (document, path, method, id, action) in cases {
            let op = &document["paths"][path][method];
            assert_eq!(
                (op["operationId"].as_str(), op["x-kubernetes-action"].as_str()),
                (Some(id), Some(action)),
                "{path} {method}"
            );
        }
        let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"];
        assert_eq!(
            scale["x-kubernetes-group-version-kind"],
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
        );
        assert!(apps["components"]["schemas"].get("io.k8s.api.autoscaling.v1.Scale").is_some());
    }

    #[test]
    fn every_reference_of_a_document_is_in_it() {
        for (group, version) in crate::registry::group_versions() {
            let document = document(group, version).unwrap();
            let mut references = Vec::new();
            super::super::openapi::references(&document, &mut references);
            for name in references {
                assert!(document["components"]["schemas"].get(&name).is_some(), "{group}/{version}: {name}");
            }
        }
    }
}
