use serde_json::{json, Value};

use super::{check_create, create, update, with, SUBDOMAIN};

fn ingress() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "web.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
            ]}}]
        }
    })
}

fn class() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
        "spec": {"controller": "k8s.io/ingress-nginx"}
    })
}

#[test]
fn an_ingress_routes_absolute_paths_to_one_service_port() {
    check_create(
        "ingresses",
        ingress,
        cases![
            ("no rules and no default", |o| o["spec"] = json!({}), ["spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"]),
            ("a relative prefix", |o| o["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!("api"), ["spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path"]),
            ("a double slash", |o| o["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!("/api//v1"), ["spec.rules[0].http.paths[0].path: Invalid value: \"/api//v1\": must not contain '//'"]),
            ("a trailing dot segment", |o| o["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!("/api/."), ["spec.rules[0].http.paths[0].path: Invalid value: \"/api/.\": cannot end with '/.'"]),
            ("a regex path, specific to the implementation", |o| { o["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!("/api(/|$)(.*)"); o["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!("ImplementationSpecific"); }, []),
            ("no path type", |o| o["spec"]["rules"][0]["http"]["paths"][0].as_object_mut().unwrap().remove("pathType"), ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]),
            ("an unknown path type", |o| o["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!("Regex"), ["spec.rules[0].http.paths[0].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""]),
            ("no paths", |o| o["spec"]["rules"][0]["http"]["paths"] = json!([]), ["spec.rules[0].http.paths: Required value"]),
            ("a port name and number", |o| o["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = json!({"name": "http", "number": 80}), ["spec.rules[0].http.paths[0].backend: Invalid value: \"\": cannot set both port name & port number"]),
            ("no port", |o| o["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = json!({}), ["spec.rules[0].http.paths[0].backend: Required value: port name or number is required"]),
            ("a service name starting with a digit", |o| o["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = json!("1web"), ["spec.rules[0].http.paths[0].backend.service.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]),
            ("no backend", |o| o["spec"]["rules"][0]["http"]["paths"][0]["backend"] = json!({}), ["spec.rules[0].http.paths[0].backend: Invalid value: \"\": resource or service backend is required"]),
            ("an IP as host", |o| o["spec"]["rules"][0]["host"] = json!("10.0.0.1"), ["spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address"]),
            ("a wildcard host", |o| o["spec"]["rules"][0]["host"] = json!("*.example.com"), []),
            ("a host in capitals", |o| o["spec"]["rules"][0]["host"] = json!("Web.Example.com"), [format!("spec.rules[0].host: Invalid value: \"Web.Example.com\": {SUBDOMAIN}")]),
            ("a class annotation that disagrees", |o| o["metadata"]["annotations"] = json!({"kubernetes.io/ingress.class": "traefik"}), ["annotations.kubernetes.io/ingress.class: Invalid value: \"traefik\": must match `ingressClassName` when both are specified"]),
        ],
    );
    let annotated =
        with(ingress(), |o| o["metadata"]["annotations"] = json!({"kubernetes.io/ingress.class": "traefik"}));
    assert!(
        update("ingresses", annotated.clone(), annotated).is_empty(),
        "the class annotation is only checked on create"
    );
}

#[test]
fn an_ingress_class_names_its_controller_as_a_domain_prefixed_path() {
    check_create(
        "ingressclasses",
        class,
        cases![
            ("no controller", |o| o["spec"] = json!({}), ["spec.controller: Required value"]),
            (
                "a controller without a domain",
                |o| o["spec"]["controller"] = json!("nginx"),
                ["spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"]
            ),
            (
                "namespaced parameters without a namespace",
                |o| o["spec"]["parameters"] = json!({"kind": "IngressParameters", "name": "external", "scope": "Namespace", "apiGroup": "k8s.example.com"}),
                ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]
            ),
            (
                "parameters without a kind",
                |o| o["spec"]["parameters"] = json!({"name": "external"}),
                ["spec.parameters.kind: Required value: kind is required"]
            ),
        ],
    );
    let moved = with(class(), |o| o["spec"]["controller"] = json!("example.com/other"));
    assert_eq!(
        update("ingressclasses", moved, class()),
        vec!["spec.controller: Invalid value: \"example.com/other\": field is immutable"]
    );
    assert!(create("ingressclasses", class()).is_empty());
}
