use serde_json::{json, Value};

use super::{check_create, check_update, create, update, with};

fn volume() -> Value {
    json!({
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"},
        "spec": {
            "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "manual",
            "hostPath": {"path": "/mnt/data"}
        }
    })
}

fn claim() -> Value {
    json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    })
}

fn class() -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
        "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
        "parameters": {"type": "ssd"}
    })
}

#[test]
fn a_persistent_volume_has_a_capacity_access_modes_and_one_source() {
    check_create(
        "persistentvolumes",
        volume,
        cases![
            ("no access modes", |o| o["spec"]["accessModes"] = json!([]), ["spec.accessModes: Required value"]),
            ("an unknown access mode", |o| o["spec"]["accessModes"] = json!(["ReadWriteSometimes"]), ["spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\""]),
            ("one pod and many nodes", |o| o["spec"]["accessModes"] = json!(["ReadWriteOncePod", "ReadWriteMany"]), ["spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"]),
            ("no capacity", |o| o["spec"].as_object_mut().unwrap().remove("capacity"), ["spec.capacity: Required value", "spec.capacity: Unsupported value: null: supported values: \"storage\""]),
            ("a CPU capacity", |o| o["spec"]["capacity"] = json!({"storage": "1Gi", "cpu": "1"}), ["spec.capacity: Unsupported value: map[string]string{\"cpu\":\"1\", \"storage\":\"1Gi\"}: supported values: \"storage\""]),
            ("a zero capacity", |o| o["spec"]["capacity"]["storage"] = json!("0"), ["spec.capacity[storage]: Invalid value: \"0\": must be greater than zero"]),
            ("no source", |o| o["spec"].as_object_mut().unwrap().remove("hostPath"), ["spec: Required value: must specify a volume type"]),
            ("two sources", |o| o["spec"]["nfs"] = json!({"server": "nfs.local", "path": "/exports"}), ["spec.nfs: Forbidden: may not specify more than 1 volume type"]),
            ("a relative NFS path", |o| { o["spec"].as_object_mut().unwrap().remove("hostPath"); o["spec"]["nfs"] = json!({"server": "nfs.local", "path": "exports"}); }, ["spec.nfs.path: Invalid value: \"exports\": must be an absolute path"]),
            ("a local volume without node affinity", |o| { o["spec"].as_object_mut().unwrap().remove("hostPath"); o["spec"]["local"] = json!({"path": "/mnt/disks/1"}); }, ["spec.nodeAffinity: Required value: Local volume requires node affinity"]),
            ("an unknown reclaim policy", |o| o["spec"]["persistentVolumeReclaimPolicy"] = json!("Keep"), ["spec.persistentVolumeReclaimPolicy: Unsupported value: \"Keep\": supported values: \"Delete\", \"Recycle\", \"Retain\""]),
            ("recycling the host's root", |o| { o["spec"]["hostPath"]["path"] = json!("/"); o["spec"]["persistentVolumeReclaimPolicy"] = json!("Recycle"); }, ["spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'"]),
        ],
    );
    check_update(
        "persistentvolumes",
        volume,
        cases![
            ("a new reclaim policy", |o| o["spec"]["persistentVolumeReclaimPolicy"] = json!("Delete"), []),
            ("a new host path", |o| o["spec"]["hostPath"]["path"] = json!("/mnt/other"), ["spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation\nchanged: spec.hostPath.path"]),
            ("a block volume", |o| o["spec"]["volumeMode"] = json!("Block"), ["volumeMode: Invalid value: \"Block\": field is immutable"]),
        ],
    );
}

#[test]
fn a_claim_asks_for_storage_and_can_only_grow_once_bound() {
    check_create(
        "persistentvolumeclaims",
        claim,
        cases![
            (
                "no access modes",
                |o| o["spec"]["accessModes"] = json!([]),
                ["spec.accessModes: Required value: at least 1 access mode is required"]
            ),
            ("no storage request", |o| o["spec"]["resources"] = json!({}), ["spec.resources[storage]: Required value"]),
            (
                "a zero request",
                |o| o["spec"]["resources"]["requests"]["storage"] = json!("0Gi"),
                ["spec.resources[storage]: Invalid value: \"0Gi\": must be greater than zero"]
            ),
            (
                "a class name with capitals",
                |o| o["spec"]["storageClassName"] = json!("Fast"),
                [format!("spec.storageClassName: Invalid value: \"Fast\": {}", super::SUBDOMAIN)]
            ),
            (
                "an unknown volume mode",
                |o| o["spec"]["volumeMode"] = json!("Raw"),
                ["spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\""]
            ),
        ],
    );
    let bound = || {
        with(claim(), |o| {
            o["spec"]["volumeName"] = json!("pv-1");
            o["status"] = json!({"phase": "Bound"});
        })
    };
    check_update(
        "persistentvolumeclaims",
        bound,
        cases![
            ("more storage", |o| o["spec"]["resources"]["requests"]["storage"] = json!("2Gi"), []),
            ("less storage", |o| o["spec"]["resources"]["requests"]["storage"] = json!("500Mi"), ["spec.resources.requests.storage: Forbidden: field can not be less than previous value"]),
            ("other access modes", |o| o["spec"]["accessModes"] = json!(["ReadWriteMany"]), ["spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\nchanged: spec.accessModes[0]"]),
        ],
    );
    let pending = claim();
    let binding = with(pending.clone(), |o| o["spec"]["volumeName"] = json!("pv-1"));
    assert!(update("persistentvolumeclaims", binding, pending.clone()).is_empty(), "the binder sets volumeName once");
    let grown = with(pending.clone(), |o| o["spec"]["resources"]["requests"]["storage"] = json!("2Gi"));
    assert_eq!(
        update("persistentvolumeclaims", grown, pending),
        vec!["spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\nchanged: spec.resources.requests.storage"],
        "an unbound claim may not grow"
    );
}

#[test]
fn a_storage_class_names_a_provisioner_and_never_changes_it() {
    check_create(
        "storageclasses",
        class,
        cases![
            ("no provisioner", |o| o.as_object_mut().unwrap().remove("provisioner"), ["provisioner: Required value"]),
            ("an unknown reclaim policy", |o| o["reclaimPolicy"] = json!("Recycle"), ["reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\""]),
            ("an unknown binding mode", |o| o["volumeBindingMode"] = json!("Later"), ["volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\""]),
            ("an empty parameter key", |o| o["parameters"][""] = json!("x"), ["parameters: Invalid value: \"\": field can not be empty."]),
        ],
    );
    check_update(
        "storageclasses",
        class,
        cases![
            ("new labels", |o| o["metadata"]["labels"] = json!({"tier": "gold"}), []),
            (
                "new parameters",
                |o| o["parameters"]["type"] = json!("hdd"),
                ["parameters: Forbidden: updates to parameters are forbidden."]
            ),
            (
                "another provisioner",
                |o| o["provisioner"] = json!("example.com/nfs"),
                ["provisioner: Forbidden: updates to provisioner are forbidden."]
            ),
            (
                "immediate binding",
                |o| o["volumeBindingMode"] = json!("Immediate"),
                ["volumeBindingMode: Invalid value: \"Immediate\": field is immutable"]
            ),
        ],
    );
    assert!(create("storageclasses", class()).is_empty());
}
