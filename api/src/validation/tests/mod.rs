//! Table tests of the validation rules, one file per area. Objects are built from valid
//! fixtures (`deployment()`, `pod()`, …) changed by one edit per case, then defaulted as the API
//! server defaults them, so each case shows exactly the message one mistake produces.

/// A table of named cases: `(name, |object| edit, [expected messages])`.
macro_rules! cases {
    ($(($name:expr, |$o:ident| $edit:expr, [$($msg:expr),* $(,)?])),* $(,)?) => {
        vec![$((
            $name,
            Box::new(move |$o: &mut serde_json::Value| { $edit; }) as Box<dyn FnOnce(&mut serde_json::Value)>,
            vec![$($msg.to_string()),*],
        )),*]
    };
}

mod cluster;
mod config;
mod field;
mod manifests;
mod meta;
mod names;
mod networking;
mod pod;
mod service;
mod storage;
mod workloads;

use serde_json::{json, Value};

use crate::registry::{by_plural, Resource, RESOURCES};

/// The resource serving `plural` (any group).
pub fn resource(plural: &str) -> &'static Resource {
    RESOURCES.iter().find(|r| r.plural == plural).unwrap_or_else(|| panic!("{plural} is not served"))
}

/// `object` with the API server's defaults.
pub fn defaulted(plural: &str, mut object: Value) -> Value {
    crate::defaults::apply(resource(plural), &mut object);
    object
}

/// The messages of creating `object` (defaulted first), as `Status` lists them.
pub fn create(plural: &str, object: Value) -> Vec<String> {
    let object = defaulted(plural, object);
    super::validate_create(resource(plural), &object).iter().map(ToString::to_string).collect()
}

/// The messages of replacing `old` with `new` (both defaulted first).
pub fn update(plural: &str, new: Value, old: Value) -> Vec<String> {
    let (new, old) = (defaulted(plural, new), defaulted(plural, old));
    super::validate_update(resource(plural), &new, &old).iter().map(ToString::to_string).collect()
}

/// Appends `item` to the list at `list` (made a list if it is not one).
pub fn push(list: &mut Value, item: Value) {
    if !list.is_array() {
        *list = json!([]);
    }
    list.as_array_mut().expect("made a list above").push(item);
}

/// `object` after `edit`.
pub fn with(mut object: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut object);
    object
}

pub type Cases = Vec<(&'static str, Box<dyn FnOnce(&mut Value)>, Vec<String>)>;

/// Checks each named case: `base()` after the case's edit, created, gives exactly the messages.
pub fn check_create(plural: &str, base: fn() -> Value, cases: Cases) {
    for (name, edit, expected) in cases {
        let got = create(plural, with(base(), edit));
        assert_eq!(got, expected, "case: {name}");
    }
}

/// Checks each named case: replacing `base()` by `base()` after the edit gives the messages.
pub fn check_update(plural: &str, base: fn() -> Value, cases: Cases) {
    for (name, edit, expected) in cases {
        let got = update(plural, with(base(), edit), base());
        assert_eq!(got, expected, "case: {name}");
    }
}

/// Kubernetes' DNS-1123 label message, which many fields share.
pub const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
/// Kubernetes' DNS-1123 subdomain message.
pub const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

pub fn container() -> Value {
    json!({"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]})
}

pub fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [container()]}
    })
}

pub fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()]}})
}

pub fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()}
    })
}

/// A workload of `kind` (`apps/v1`) with the web template.
pub fn workload(kind: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}
    })
}

pub fn job() -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default"},
        "spec": {"template": {"spec": {
            "containers": [{"name": "pi", "image": "perl:5.34", "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]}],
            "restartPolicy": "Never"
        }}}
    })
}

pub fn service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
    })
}

#[test]
fn every_served_kind_has_its_rules_and_a_minimal_object_of_each_is_judged_without_panicking() {
    for resource in RESOURCES {
        let object = json!({"metadata": {"name": "x", "namespace": "default"}, "spec": {}});
        let _ = super::validate_create(resource, &object);
        let _ = super::validate_update(resource, &object, &object);
        let _ = super::validate_status_update(resource, &object, &object);
        let odd = json!({"metadata": "nonsense", "spec": [1, 2], "data": 7});
        let _ = super::validate_create(resource, &odd);
        let _ = super::validate_update(resource, &odd, &object);
    }
    assert!(by_plural("", "v1", "pods").is_some());
}
