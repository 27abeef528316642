use serde_json::{json, Value};

use super::{create, resource, update, with};
use crate::validation::{meta, validate_create};

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"}, "data": {"a": "1"}})
}

#[test]
fn each_kind_names_its_objects_by_its_own_rule() {
    let cases = [
        ("configmaps", "My-Config", "metadata.name: Invalid value: \"My-Config\": a lowercase RFC 1123 subdomain"),
        ("services", "1web", "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of"),
        ("namespaces", "my.team", "metadata.name: Invalid value: \"my.team\": a lowercase RFC 1123 label"),
        ("statefulsets", "web.v1", "metadata.name: Invalid value: \"web.v1\": a lowercase RFC 1123 label"),
    ];
    for (plural, name, expected) in cases {
        assert!(meta::name_problems(resource(plural), name, false).len() == 1, "{plural} {name}");
        let object = json!({"metadata": {"name": name, "namespace": "default"}});
        let errors = validate_create(resource(plural), &object);
        assert!(errors.iter().any(|e| e.to_string().starts_with(expected)), "{plural}: {errors:#?}");
    }
    assert!(meta::name_problems(resource("pods"), "web.v1", false).is_empty(), "pods may be subdomains");
}

#[test]
fn a_name_or_a_generate_name_is_required_and_both_must_have_the_kinds_shape() {
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("neither", json!({"namespace": "default"}), vec!["metadata.name: Required value: name or generateName is required"]),
        ("a generateName ending in a dash", json!({"generateName": "web-", "namespace": "default"}), vec![]),
        (
            "a generateName in capitals",
            json!({"generateName": "Web-", "namespace": "default"}),
            vec!["metadata.generateName: Invalid value: \"Web-\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"],
        ),
    ];
    for (name, metadata, expected) in cases {
        let object = with(config_map(), |o| o["metadata"] = metadata);
        assert_eq!(create("configmaps", object), expected, "case: {name}");
    }
}

#[test]
fn the_namespace_is_required_for_namespaced_kinds_and_forbidden_for_the_others() {
    let no_namespace = with(config_map(), |o| o["metadata"] = json!({"name": "settings"}));
    assert_eq!(create("configmaps", no_namespace), vec!["metadata.namespace: Required value"]);
    let bad = with(config_map(), |o| o["metadata"]["namespace"] = json!("Team_A"));
    assert!(create("configmaps", bad)[0]
        .starts_with("metadata.namespace: Invalid value: \"Team_A\": a lowercase RFC 1123 label"));
    let node = json!({"metadata": {"name": "node-1", "namespace": "default"}});
    assert_eq!(create("nodes", node), vec!["metadata.namespace: Forbidden: not allowed on this type"]);
}

#[test]
fn labels_annotations_owners_and_finalizers_are_checked_on_every_kind() {
    let big = "x".repeat(256 * 1024);
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("a label value with a space", json!({"labels": {"app": "my app"}}), vec!["metadata.labels: Invalid value: \"my app\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
        ("annotations over 256 KiB", json!({"annotations": {"k": big}}), vec!["metadata.annotations: Too long: must have at most 262144 bytes"]),
        ("an annotation key in any case", json!({"annotations": {"Example.COM/Key": "v"}}), vec![]),
        ("an owner without a uid", json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1"}]}), vec!["metadata.ownerReferences.uid: Invalid value: \"\": must not be empty"]),
        ("an owner without a version", json!({"ownerReferences": [{"apiVersion": "apps/", "kind": "ReplicaSet", "name": "web-1", "uid": "u"}]}), vec!["metadata.ownerReferences.apiVersion: Invalid value: \"apps/\": version must not be empty"]),
        ("an unqualified finalizer", json!({"finalizers": ["cleanup"]}), vec!["metadata.finalizers[0]: Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified"]),
        ("a qualified finalizer", json!({"finalizers": ["example.com/cleanup", "kubernetes"]}), vec![]),
    ];
    for (name, extra, expected) in cases {
        let object = with(config_map(), |o| {
            for (k, v) in extra.as_object().unwrap() {
                o["metadata"][k] = v.clone();
            }
        });
        assert_eq!(create("configmaps", object), expected, "case: {name}");
    }
    let two = json!([
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": true},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": true}
    ]);
    let errors = create("configmaps", with(config_map(), |o| o["metadata"]["ownerReferences"] = two));
    assert!(errors[0].ends_with("Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/a and ReplicaSet/b"), "{errors:?}");
}

#[test]
fn an_update_may_not_rename_or_re_identify_an_object_nor_add_finalizers_while_it_is_deleted() {
    let old = with(config_map(), |o| o["metadata"]["uid"] = json!("uid-1"));
    let renamed = with(old.clone(), |o| o["metadata"]["name"] = json!("other"));
    assert_eq!(
        update("configmaps", renamed, old.clone()),
        vec!["metadata.name: Invalid value: \"other\": field is immutable"]
    );
    let new_uid = with(old.clone(), |o| o["metadata"]["uid"] = json!("uid-2"));
    assert_eq!(
        update("configmaps", new_uid, old.clone()),
        vec!["metadata.uid: Invalid value: \"uid-2\": field is immutable"]
    );
    let without_uid = with(old.clone(), |o| o["metadata"].as_object_mut().unwrap().remove("uid").map(|_| ()).unwrap());
    assert!(update("configmaps", without_uid, old.clone()).is_empty(), "an update without a uid keeps the stored one");
    let deleting = with(old, |o| o["metadata"]["deletionTimestamp"] = json!("2024-05-01T10:00:00Z"));
    let more = with(deleting.clone(), |o| o["metadata"]["finalizers"] = json!(["example.com/late"]));
    assert_eq!(
        update("configmaps", more, deleting),
        vec!["metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/late\"}"]
    );
}
