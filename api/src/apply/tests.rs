//! The kubectl flows, end to end through [`apply`] and [`record_update`]: what the API server
//! will see, one write after another.

use serde_json::{json, Value};

use super::*;

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T11:00:00Z";
const T3: &str = "2024-05-01T12:00:00Z";

/// The manifest of Kubernetes' server-side apply tutorial (`application/ssa/nginx-deployment.yaml`).
fn nginx(replicas: Option<i64>, image: &str) -> Value {
    let mut manifest = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx-deployment", "labels": {"app": "nginx"}},
        "spec": {"selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]}}}
    });
    if let Some(replicas) = replicas {
        manifest["spec"]["replicas"] = json!(replicas);
    }
    manifest
}

/// What the API server adds when it stores a Deployment: identity and defaults.
fn stored(mut object: Value) -> Value {
    let metadata = object["metadata"].as_object_mut().unwrap();
    metadata.insert("namespace".into(), json!("default"));
    metadata.insert("uid".into(), json!("6b1f0e38-0000-4000-8000-000000000001"));
    metadata.insert("resourceVersion".into(), json!("7"));
    metadata.insert("generation".into(), json!(1));
    metadata.insert("creationTimestamp".into(), json!(T1));
    let spec = object["spec"].as_object_mut().unwrap();
    spec.entry("replicas").or_insert(json!(1));
    spec.insert("revisionHistoryLimit".into(), json!(10));
    spec.insert("progressDeadlineSeconds".into(), json!(600));
    spec.insert(
        "strategy".into(),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
    );
    let pod = object["spec"]["template"]["spec"].as_object_mut().unwrap();
    for (key, value) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
    ] {
        pod.entry(key).or_insert(value);
    }
    for container in pod["containers"].as_array_mut().unwrap() {
        let container = container.as_object_mut().unwrap();
        container.entry("imagePullPolicy").or_insert(json!("IfNotPresent"));
        container.entry("resources").or_insert(json!({}));
        container.entry("terminationMessagePath").or_insert(json!("/dev/termination-log"));
        container.entry("terminationMessagePolicy").or_insert(json!("File"));
        for port in container.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
            port.as_object_mut().unwrap().entry("protocol").or_insert(json!("TCP"));
        }
    }
    object
}

fn server_side(live: Option<&Value>, config: &Value, manager: &str, now: &str) -> Result<Value, ApplyError> {
    apply(live, config, &Writer::new(manager, now), false).map(stored_if_new(live))
}

fn forced(live: Option<&Value>, config: &Value, manager: &str, now: &str) -> Value {
    apply(live, config, &Writer::new(manager, now), true).map(stored_if_new(live)).unwrap()
}

/// A create through apply is then stored like any create.
fn stored_if_new(live: Option<&Value>) -> impl Fn(Value) -> Value + '_ {
    move |object| if live.is_none() { stored(object) } else { object }
}

/// The `fieldsV1` of `manager`'s entry with this operation.
fn owned(object: &Value, manager: &str, operation: &str) -> Value {
    entry(object, manager, operation).map(|e| e["fieldsV1"].clone()).unwrap_or(Value::Null)
}

fn entry(object: &Value, manager: &str, operation: &str) -> Option<Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
        .cloned()
}

fn entries(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{} {}", e["manager"].as_str().unwrap(), e["operation"].as_str().unwrap()))
        .collect()
}

/// A client-side write: `change` edits a copy of `live`, recorded for `manager`.
fn updated(live: &Value, manager: &str, now: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut new = live.clone();
    change(&mut new);
    record_update(Some(live), &mut new, &Writer::new(manager, now));
    new
}

fn conflict_message(result: Result<Value, ApplyError>) -> String {
    match result {
        Err(ApplyError::Conflicts(conflicts)) => conflicts.message(),
        other => panic!("expected conflicts, got {other:?}"),
    }
}

/// What `kubectl apply --server-side -f nginx-deployment.yaml` records, as
/// `kubectl get deploy -o yaml --show-managed-fields` shows it on Kubernetes 1.31.
fn kubernetes_nginx_apply_fields() -> Value {
    json!({
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                    ".": {}, "f:image": {}, "f:name": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                }}}
            }
        }
    })
}

/// What client-side `kubectl apply` (or `kubectl create`) records for the same manifest: every
/// field the create added, defaults included, with `.` on the maps and lists it created.
fn kubernetes_nginx_create_fields() -> Value {
    json!({
        "f:metadata": {
            "f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
            "f:labels": {".": {}, "f:app": {}}
        },
        "f:spec": {
            "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
            "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
            "f:template": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                        "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {}, "f:protocol": {}}},
                        "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}
                    }},
                    "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                    "f:terminationGracePeriodSeconds": {}
                }
            }
        }
    })
}

/// A client-side `kubectl apply` creating the manifest: the annotation, then the create.
fn client_side_create(manifest: &Value) -> Value {
    let mut object = manifest.clone();
    object["metadata"]["annotations"] = json!({client_side::LAST_APPLIED: format!("{manifest}\n")});
    let mut object = stored(object);
    record_update(None, &mut object, &Writer::new("kubectl-client-side-apply", T1));
    object
}

#[test]
fn apply_creates_the_object_and_owns_every_field_it_set() {
    let object = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    assert_eq!(object["spec"]["replicas"], 3);
    assert_eq!(entries(&object), vec!["kubectl Apply"]);
    let entry = entry(&object, "kubectl", "Apply").unwrap();
    assert_eq!(
        (entry["apiVersion"].clone(), entry["time"].clone(), entry["fieldsType"].clone()),
        (json!("apps/v1"), json!(T1), json!("FieldsV1"))
    );
    let fields = &entry["fieldsV1"];
    assert!(fields.get("f:apiVersion").is_none() && fields.get("f:kind").is_none());
    assert!(fields["f:metadata"].get("f:name").is_none(), "name, namespace, uid, … are never owned");
}

#[test]
fn fieldsv1_encoding_matches_kubernetes() {
    let applied = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    assert_eq!(owned(&applied, "kubectl", "Apply"), kubernetes_nginx_apply_fields());

    let created = client_side_create(&nginx(Some(3), "nginx:1.14.2"));
    assert_eq!(owned(&created, "kubectl-client-side-apply", "Update"), kubernetes_nginx_create_fields());
}

#[test]
fn fieldsv1_of_an_apply_then_an_update_matches_kubernetes_apply_test() {
    // test/integration/apiserver/apply: TestApplyManagedFields, written out again: an applier
    // sets a label and a data key, an updater then changes the key and adds another.
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
        "data": {"key": "value"}});
    let live = apply(None, &config, &Writer::new("apply_test", T1), false).unwrap();
    let object = updated(&live, "updater", T2, |o| {
        o["data"] = json!({"key": "new value", "new-key": "value"});
    });
    assert_eq!(
        object["metadata"]["managedFields"],
        json!([
            {"manager": "apply_test", "operation": "Apply", "apiVersion": "v1", "time": T1, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:labels": {"f:test-label": {}}}}},
            {"manager": "updater", "operation": "Update", "apiVersion": "v1", "time": T2, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:key": {}, "f:new-key": {}}}}
        ])
    );
}

#[test]
fn applying_the_same_manifest_twice_changes_nothing() {
    let first = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    let second = server_side(Some(&first), &nginx(Some(3), "nginx:1.14.2"), "kubectl", T2).unwrap();
    assert_eq!(second, first, "same object, same managedFields, same time: nothing to write");
}

#[test]
fn editing_a_value_in_the_manifest_changes_it_and_keeps_ownership() {
    let first = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    let second = server_side(Some(&first), &nginx(Some(3), "nginx:1.16.1"), "kubectl", T2).unwrap();
    assert_eq!(second["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.16.1");
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent",
        "defaults nobody applied stay"
    );
    assert_eq!(owned(&second, "kubectl", "Apply"), kubernetes_nginx_apply_fields());
    assert_eq!(entry(&second, "kubectl", "Apply").unwrap()["time"], T2);
}

#[test]
fn a_field_dropped_from_the_config_is_removed() {
    let mut with_annotation = nginx(Some(3), "nginx:1.14.2");
    with_annotation["metadata"]["annotations"] = json!({"team": "web"});
    with_annotation["spec"]["paused"] = json!(false);
    let first = server_side(None, &with_annotation, "kubectl", T1).unwrap();
    let second = server_side(Some(&first), &nginx(Some(3), "nginx:1.14.2"), "kubectl", T2).unwrap();
    assert!(second["spec"].get("paused").is_none());
    assert!(second["metadata"].get("annotations").is_none(), "the emptied map goes too");
    assert_eq!(owned(&second, "kubectl", "Apply"), kubernetes_nginx_apply_fields());
}

#[test]
fn a_dropped_field_another_manager_also_owns_stays() {
    let first = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    // A second applier agrees on the replicas...
    let shared = server_side(
        Some(&first),
        &json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx-deployment"}, "spec": {"replicas": 3}}),
        "hpa-handover",
        T2,
    )
    .unwrap();
    // ...so dropping them from the first applier's manifest leaves them.
    let dropped = server_side(Some(&shared), &nginx(None, "nginx:1.14.2"), "kubectl", T3).unwrap();
    assert_eq!(dropped["spec"]["replicas"], 3);
    assert!(owned(&dropped, "kubectl", "Apply")["f:spec"].get("f:replicas").is_none());
    assert_eq!(owned(&dropped, "hpa-handover", "Apply"), json!({"f:spec": {"f:replicas": {}}}));
}

#[test]
fn a_field_another_manager_set_conflicts_unless_forced() {
    let first = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
        "spec": {"replicas": 5}});
    assert_eq!(
        conflict_message(server_side(Some(&first), &other, "autoscaler", T2)),
        "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"
    );
    let taken = forced(Some(&first), &other, "autoscaler", T2);
    assert_eq!(taken["spec"]["replicas"], 5);
}

#[test]
fn same_value_is_shared_ownership_not_a_conflict() {
    let first = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    let same = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
        "spec": {"replicas": 3}});
    let shared = server_side(Some(&first), &same, "other", T2).unwrap();
    assert_eq!(owned(&shared, "other", "Apply"), json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(owned(&shared, "kubectl", "Apply"), kubernetes_nginx_apply_fields(), "both own it now");
    // A change by either owner now conflicts with the other.
    let mut changed = nginx(Some(4), "nginx:1.14.2");
    changed["spec"]["replicas"] = json!(4);
    assert_eq!(
        conflict_message(server_side(Some(&shared), &changed, "kubectl", T3)),
        "Apply failed with 1 conflict: conflict with \"other\": .spec.replicas"
    );
}

#[test]
fn containers_merge_by_name() {
    let first = server_side(None, &nginx(Some(1), "nginx:1.14.2"), "kubectl", T1).unwrap();
    let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
        "spec": {"template": {"spec": {"containers": [{"name": "log", "image": "busybox"}]}}}});
    let both = server_side(Some(&first), &sidecar, "sidecar-injector", T2).unwrap();
    let names: Vec<&str> = both["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["nginx", "log"], "the injector's container joins, nginx is untouched");
    assert_eq!(both["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.14.2");
    // Re-applying the first manifest leaves the injector's container alone.
    let again = server_side(Some(&both), &nginx(Some(1), "nginx:1.14.2"), "kubectl", T3).unwrap();
    assert_eq!(again, both);
}

#[test]
fn dropping_a_container_removes_it() {
    let mut two = nginx(Some(1), "nginx:1.14.2");
    two["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "log", "image": "busybox"}));
    let first = server_side(None, &two, "kubectl", T1).unwrap();
    // kubectl set image changed the sidecar's image in between: it owns the image, not the container.
    let edited = updated(&first, "kubectl-set", T2, |o| {
        o["spec"]["template"]["spec"]["containers"][1]["image"] = json!("busybox:1.36");
    });
    let dropped = server_side(Some(&edited), &nginx(Some(1), "nginx:1.14.2"), "kubectl", T3).unwrap();
    let containers = dropped["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "nginx");
    assert!(entry(&dropped, "kubectl-set", "Update").is_none(), "the image it owned is gone, so is its entry");
}

#[test]
fn kubectl_scale_then_apply_with_replicas_conflicts() {
    let first = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    // `kubectl scale --replicas=5` writes through /scale, recorded on the Deployment.
    let mut scaled = first.clone();
    scaled["spec"]["replicas"] = json!(5);
    record_update(Some(&first), &mut scaled, &Writer::new("kubectl", T2).through("scale"));
    assert_eq!(owned(&scaled, "kubectl", "Update"), json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(entry(&scaled, "kubectl", "Update").unwrap()["subresource"], "scale");
    assert!(owned(&scaled, "kubectl", "Apply")["f:spec"].get("f:replicas").is_none(), "the scale took it");

    let mut reapplied = nginx(Some(3), "nginx:1.14.2");
    reapplied["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.16.1");
    let result = server_side(Some(&scaled), &reapplied, "kubectl", T3);
    let status = result.clone().unwrap_err().to_status().to_json();
    assert_eq!(
        conflict_message(result),
        "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    assert_eq!(status["code"], 409);
    assert_eq!(status["details"]["causes"][0]["reason"], "FieldManagerConflict");
    assert_eq!(status["details"]["causes"][0]["field"], ".spec.replicas");

    // Leaving replicas out of the manifest hands them over: no conflict, the 5 stays.
    let handed_over = server_side(Some(&scaled), &nginx(None, "nginx:1.16.1"), "kubectl", T3).unwrap();
    assert_eq!(handed_over["spec"]["replicas"], 5);
}

#[test]
fn forced_apply_takes_ownership_from_the_other_manager() {
    let created = client_side_create(&nginx(Some(3), "nginx:1.14.2"));
    let scaled = updated(&created, "kubectl-edit", T2, |o| o["spec"]["replicas"] = json!(7));
    let taken = forced(Some(&scaled), &nginx(Some(2), "nginx:1.14.2"), "ci-bot", T3);
    assert_eq!(taken["spec"]["replicas"], 2);
    assert!(entry(&taken, "kubectl-edit", "Update").is_none(), "it owned only the replicas, now gone");
    assert!(owned(&taken, "ci-bot", "Apply")["f:spec"].get("f:replicas").is_some());
    assert!(owned(&taken, "kubectl-client-side-apply", "Update")["f:spec"].get("f:replicas").is_none());
}

#[test]
fn client_side_apply_then_server_side_apply_conflicts_for_another_manager() {
    let created = client_side_create(&nginx(Some(3), "nginx:1.14.2"));
    let result = server_side(Some(&created), &nginx(Some(4), "nginx:1.14.2"), "ci-bot", T2);
    assert_eq!(
        conflict_message(result),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn kubectl_takes_over_its_own_client_side_apply_without_conflict() {
    let created = client_side_create(&nginx(Some(3), "nginx:1.14.2"));
    let upgraded = server_side(Some(&created), &nginx(Some(4), "nginx:1.16.1"), "kubectl", T2).unwrap();
    assert_eq!(upgraded["spec"]["replicas"], 4);
    assert_eq!(owned(&upgraded, "kubectl", "Apply"), kubernetes_nginx_apply_fields());
    let annotation = &upgraded["metadata"]["annotations"][client_side::LAST_APPLIED];
    assert_eq!(annotation, &json!(format!("{}\n", nginx(Some(4), "nginx:1.16.1"))), "kept in step");

    // But a field changed since the client-side apply (here by a scale) still conflicts.
    let scaled = updated(&created, "kubectl", T2, |o| o["spec"]["replicas"] = json!(5));
    assert_eq!(
        conflict_message(server_side(Some(&scaled), &nginx(Some(4), "nginx:1.14.2"), "kubectl", T3)),
        "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn labels_are_merged_and_pruned_key_by_key() {
    let mut labelled = nginx(Some(1), "nginx:1.14.2");
    labelled["metadata"]["labels"] = json!({"app": "nginx", "tier": "web"});
    let first = server_side(None, &labelled, "kubectl", T1).unwrap();
    let with_other = updated(&first, "kubectl-label", T2, |o| o["metadata"]["labels"]["owner"] = json!("ops"));
    let pruned = server_side(Some(&with_other), &nginx(Some(1), "nginx:1.14.2"), "kubectl", T3).unwrap();
    assert_eq!(pruned["metadata"]["labels"], json!({"app": "nginx", "owner": "ops"}));
}

#[test]
fn an_update_that_changes_nothing_records_nothing() {
    let first = server_side(None, &nginx(Some(1), "nginx:1.14.2"), "kubectl", T1).unwrap();
    let same = updated(&first, "kubectl-edit", T2, |o| o["metadata"]["resourceVersion"] = json!("8"));
    assert_eq!(entries(&same), vec!["kubectl Apply"], "a new resourceVersion is nobody's");
}

#[test]
fn status_writes_are_recorded_with_their_subresource_and_main_writes_ignore_status() {
    let first = server_side(None, &nginx(Some(1), "nginx:1.14.2"), "kubectl", T1).unwrap();
    let mut reported = first.clone();
    reported["status"] = json!({"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]});
    record_update(Some(&first), &mut reported, &Writer::new("kube-controller-manager", T2).through("status"));
    let status_entry = entry(&reported, "kube-controller-manager", "Update").unwrap();
    assert_eq!(status_entry["subresource"], "status");
    assert_eq!(
        status_entry["fieldsV1"],
        json!({"f:status": {".": {}, "f:conditions": {".": {}, "k:{\"type\":\"Available\"}": {
            ".": {}, "f:status": {}, "f:type": {}}}, "f:replicas": {}}})
    );
    // An apply of the main resource neither owns nor changes status.
    let mut with_status = nginx(Some(1), "nginx:1.14.2");
    with_status["status"] = json!({"replicas": 9});
    let applied = server_side(Some(&reported), &with_status, "kubectl", T3).unwrap();
    assert_eq!(applied["status"]["replicas"], 1);
    assert!(owned(&applied, "kubectl", "Apply").get("f:status").is_none());
}

#[test]
fn an_object_stored_without_managed_fields_is_owned_by_before_first_apply() {
    let old = stored(nginx(Some(2), "nginx:1.14.2"));
    let result = server_side(Some(&old), &nginx(Some(3), "nginx:1.14.2"), "ci-bot", T2);
    assert_eq!(
        conflict_message(result),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
    );
    let same = server_side(Some(&old), &nginx(Some(2), "nginx:1.14.2"), "ci-bot", T2).unwrap();
    assert_eq!(entries(&same), vec!["ci-bot Apply", "before-first-apply Update"]);
}

#[test]
fn bad_configurations_are_refused_with_kubernetes_answers() {
    let mut with_managed_fields = nginx(Some(1), "nginx:1.14.2");
    with_managed_fields["metadata"]["managedFields"] = json!([]);
    let mut duplicate = nginx(Some(1), "nginx:1.14.2");
    duplicate["metadata"]["namespace"] = json!("default");
    duplicate["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "A"}, {"name": "A"}]);
    let cases = [
        (with_managed_fields, 400, "metadata.managedFields must be nil".to_string()),
        (
            duplicate,
            500,
            "failed to create typed patch object (default/nginx-deployment; apps/v1, Kind=Deployment): \
             .spec.template.spec.containers[name=\"nginx\"].env: duplicate entries for key [name=\"A\"]"
                .to_string(),
        ),
        (json!(["not", "an", "object"]), 400, "the applied configuration must be an object".to_string()),
    ];
    for (config, code, message) in cases {
        let status = apply(None, &config, &Writer::new("kubectl", T1), false).unwrap_err().to_status();
        assert_eq!((status.code, status.message), (code, message));
    }
}

#[test]
fn parse_config_reads_yaml_and_json_and_refuses_the_rest() {
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  key: \"1\"\n";
    assert_eq!(
        parse_config(yaml).unwrap(),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"key": "1"}})
    );
    assert_eq!(parse_config(br#"{"kind": "ConfigMap"}"#).unwrap(), json!({"kind": "ConfigMap"}));
    let cases: [&[u8]; 5] = [b"", b"- a\n- b\n", b"just text", b"a: [unclosed", b"---\na: 1\n---\nb: 2\n"];
    for body in cases {
        let status = parse_config(body).unwrap_err();
        assert_eq!((status.code, status.reason), (400, "BadRequest"), "{}", String::from_utf8_lossy(body));
        assert!(status.message.starts_with("error decoding YAML: "), "{}", status.message);
    }
}

#[test]
fn finalizers_are_a_set_and_service_ports_are_keyed_by_port_and_protocol() {
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "finalizers": ["example.com/cleanup"]},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}});
    let object = apply(None, &service, &Writer::new("kubectl", T1), false).unwrap();
    assert_eq!(
        owned(&object, "kubectl", "Apply"),
        json!({"f:metadata": {"f:finalizers": {"v:\"example.com/cleanup\"": {}}},
            "f:spec": {"f:selector": {}, "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {
                ".": {}, "f:port": {}, "f:targetPort": {}}}}})
    );
    // Another finalizer joins the set; the applier's stays.
    let other = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "finalizers": ["b"]}});
    let both = apply(Some(&object), &other, &Writer::new("controller", T2), false).unwrap();
    assert_eq!(both["metadata"]["finalizers"], json!(["example.com/cleanup", "b"]));
}

#[test]
fn several_conflicts_are_listed_by_manager() {
    let first = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    let edited = updated(&first, "kubectl-edit", T2, |o| {
        o["spec"]["replicas"] = json!(4);
        o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:edited");
    });
    let mut scaled = edited.clone();
    scaled["spec"]["replicas"] = json!(6);
    record_update(Some(&edited), &mut scaled, &Writer::new("kubectl", T3).through("scale"));
    let result = server_side(Some(&scaled), &nginx(Some(3), "nginx:1.14.2"), "kubectl", T3);
    assert_eq!(
        conflict_message(result),
        "Apply failed with 2 conflicts: conflicts with \"kubectl\" with subresource \"scale\" using apps/v1:\n\
         - .spec.replicas\n\
         conflicts with \"kubectl-edit\" using apps/v1:\n\
         - .spec.template.spec.containers[name=\"nginx\"].image"
    );
}

#[test]
fn a_create_records_the_maps_it_created() {
    let mut config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "uid": "u", "resourceVersion": "1"}, "data": {"key": "v"}});
    record_update(None, &mut config_map, &Writer::new("kubectl-create", T1));
    assert_eq!(
        config_map["metadata"]["managedFields"],
        json!([{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": T1,
            "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:key": {}}}}])
    );
}

#[test]
fn an_update_may_rewrite_or_reset_managed_fields() {
    let first = server_side(None, &nginx(Some(3), "nginx:1.14.2"), "kubectl", T1).unwrap();
    let cases = [
        (
            "carried as stored: kept",
            first["metadata"]["managedFields"].clone(),
            vec!["kubectl Apply", "kubectl-edit Update"],
        ),
        ("left out: the stored ones", Value::Null, vec!["kubectl Apply", "kubectl-edit Update"]),
        ("reset with [{}]: only this write's", json!([{}]), vec!["kubectl-edit Update"]),
    ];
    for (name, carried, want) in cases {
        let mut new = first.clone();
        new["metadata"]["managedFields"] = carried;
        new["metadata"]["labels"]["edited"] = json!("yes");
        record_update(Some(&first), &mut new, &Writer::new("kubectl-edit", T2));
        assert_eq!(entries(&new), want, "{name}");
    }
}
