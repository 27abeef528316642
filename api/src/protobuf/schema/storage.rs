//! `core/v1` storage: persistent volume claims, persistent volumes and their sources.
//!
//! Mirrors `k8s.io/api/core/v1/generated.proto`. A `PersistentVolumeSpec` inlines its
//! `PersistentVolumeSource` the way a pod's `Volume` inlines a `VolumeSource`; the sources both
//! kinds share are read with the tables of [`super::volume`].

use super::core::{OBJECT_REFERENCE, SECRET_REFERENCE, TYPED_LOCAL_OBJECT_REFERENCE};
use super::meta::{LABEL_SELECTOR, OBJECT_META};
use super::scheduling::NODE_SELECTOR;
use super::volume::{
    AWS_ELASTIC_BLOCK_STORE, AZURE_DISK, CEPHFS, CINDER, FC, FLEX_VOLUME, FLOCKER, GCE_PERSISTENT_DISK, HOST_PATH,
    ISCSI, NFS, PHOTON_PERSISTENT_DISK, PORTWORX, QUOBYTE, RBD, SCALE_IO, VSPHERE_VIRTUAL_DISK,
};
use super::Kind::{Bool, Quantity, Str, Time};
use super::{inline, list, map, message, messages, pointer, value, Message};

pub static PERSISTENT_VOLUME_CLAIM: Message = Message {
    name: "PersistentVolumeClaim",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(2, "spec", &PERSISTENT_VOLUME_CLAIM_SPEC),
        message(3, "status", &PERSISTENT_VOLUME_CLAIM_STATUS),
    ],
};

/// What a StatefulSet's `volumeClaimTemplates` and an ephemeral volume stamp claims from.
pub static PERSISTENT_VOLUME_CLAIM_TEMPLATE: Message = Message {
    name: "PersistentVolumeClaimTemplate",
    fields: &[message(1, "metadata", &OBJECT_META), message(2, "spec", &PERSISTENT_VOLUME_CLAIM_SPEC)],
};

static PERSISTENT_VOLUME_CLAIM_SPEC: Message = Message {
    name: "PersistentVolumeClaimSpec",
    fields: &[
        list(1, "accessModes", Str),
        message(
            2,
            "resources",
            &Message {
                name: "VolumeResourceRequirements",
                fields: &[map(1, "limits", Quantity), map(2, "requests", Quantity)],
            },
        ),
        value(3, "volumeName", Str),
        message(4, "selector", &LABEL_SELECTOR),
        pointer(5, "storageClassName", Str),
        pointer(6, "volumeMode", Str),
        message(7, "dataSource", &TYPED_LOCAL_OBJECT_REFERENCE),
        message(
            8,
            "dataSourceRef",
            &Message {
                name: "TypedObjectReference",
                fields: &[
                    pointer(1, "apiGroup", Str),
                    value(2, "kind", Str),
                    value(3, "name", Str),
                    pointer(4, "namespace", Str),
                ],
            },
        ),
        pointer(9, "volumeAttributesClassName", Str),
    ],
};

static PERSISTENT_VOLUME_CLAIM_STATUS: Message = Message {
    name: "PersistentVolumeClaimStatus",
    fields: &[
        value(1, "phase", Str),
        list(2, "accessModes", Str),
        map(3, "capacity", Quantity),
        messages(
            4,
            "conditions",
            &Message {
                name: "PersistentVolumeClaimCondition",
                fields: &[
                    value(1, "type", Str),
                    value(2, "status", Str),
                    value(3, "lastProbeTime", Time),
                    value(4, "lastTransitionTime", Time),
                    value(5, "reason", Str),
                    value(6, "message", Str),
                ],
            },
        ),
        map(5, "allocatedResources", Quantity),
        map(7, "allocatedResourceStatuses", Str),
        pointer(8, "currentVolumeAttributesClassName", Str),
        message(
            9,
            "modifyVolumeStatus",
            &Message {
                name: "ModifyVolumeStatus",
                fields: &[value(1, "targetVolumeAttributesClassName", Str), value(2, "status", Str)],
            },
        ),
    ],
};

pub static PERSISTENT_VOLUME: Message = Message {
    name: "PersistentVolume",
    fields: &[
        message(1, "metadata", &OBJECT_META),
        message(2, "spec", &PERSISTENT_VOLUME_SPEC),
        message(
            3,
            "status",
            &Message {
                name: "PersistentVolumeStatus",
                fields: &[
                    value(1, "phase", Str),
                    value(2, "message", Str),
                    value(3, "reason", Str),
                    pointer(4, "lastPhaseTransitionTime", Time),
                ],
            },
        ),
    ],
};

static PERSISTENT_VOLUME_SPEC: Message = Message {
    name: "PersistentVolumeSpec",
    fields: &[
        map(1, "capacity", Quantity),
        inline(2, &PERSISTENT_VOLUME_SOURCE),
        list(3, "accessModes", Str),
        message(4, "claimRef", &OBJECT_REFERENCE),
        value(5, "persistentVolumeReclaimPolicy", Str),
        value(6, "storageClassName", Str),
        list(7, "mountOptions", Str),
        pointer(8, "volumeMode", Str),
        message(
            9,
            "nodeAffinity",
            &Message { name: "VolumeNodeAffinity", fields: &[message(1, "required", &NODE_SELECTOR)] },
        ),
        pointer(10, "volumeAttributesClassName", Str),
    ],
};

static PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "PersistentVolumeSource",
    fields: &[
        message(1, "gcePersistentDisk", &GCE_PERSISTENT_DISK),
        message(2, "awsElasticBlockStore", &AWS_ELASTIC_BLOCK_STORE),
        message(3, "hostPath", &HOST_PATH),
        message(
            4,
            "glusterfs",
            &Message {
                name: "GlusterfsPersistentVolumeSource",
                fields: &[
                    value(1, "endpoints", Str),
                    value(2, "path", Str),
                    value(3, "readOnly", Bool),
                    pointer(4, "endpointsNamespace", Str),
                ],
            },
        ),
        message(5, "nfs", &NFS),
        message(6, "rbd", &RBD),
        message(7, "iscsi", &ISCSI),
        message(8, "cinder", &CINDER),
        message(9, "cephfs", &CEPHFS),
        message(10, "fc", &FC),
        message(11, "flocker", &FLOCKER),
        message(12, "flexVolume", &FLEX_VOLUME),
        message(
            13,
            "azureFile",
            &Message {
                name: "AzureFilePersistentVolumeSource",
                fields: &[
                    value(1, "secretName", Str),
                    value(2, "shareName", Str),
                    value(3, "readOnly", Bool),
                    pointer(4, "secretNamespace", Str),
                ],
            },
        ),
        message(14, "vsphereVolume", &VSPHERE_VIRTUAL_DISK),
        message(15, "quobyte", &QUOBYTE),
        message(16, "azureDisk", &AZURE_DISK),
        message(17, "photonPersistentDisk", &PHOTON_PERSISTENT_DISK),
        message(18, "portworxVolume", &PORTWORX),
        message(19, "scaleIO", &SCALE_IO),
        message(
            20,
            "local",
            &Message { name: "LocalVolumeSource", fields: &[value(1, "path", Str), pointer(2, "fsType", Str)] },
        ),
        message(
            21,
            "storageos",
            &Message {
                name: "StorageOSPersistentVolumeSource",
                fields: &[
                    value(1, "volumeName", Str),
                    value(2, "volumeNamespace", Str),
                    value(3, "fsType", Str),
                    value(4, "readOnly", Bool),
                    message(5, "secretRef", &OBJECT_REFERENCE),
                ],
            },
        ),
        message(
            22,
            "csi",
            &Message {
                name: "CSIPersistentVolumeSource",
                fields: &[
                    value(1, "driver", Str),
                    value(2, "volumeHandle", Str),
                    value(3, "readOnly", Bool),
                    value(4, "fsType", Str),
                    map(5, "volumeAttributes", Str),
                    message(6, "controllerPublishSecretRef", &SECRET_REFERENCE),
                    message(7, "nodeStageSecretRef", &SECRET_REFERENCE),
                    message(8, "nodePublishSecretRef", &SECRET_REFERENCE),
                    message(9, "controllerExpandSecretRef", &SECRET_REFERENCE),
                    message(10, "nodeExpandSecretRef", &SECRET_REFERENCE),
                ],
            },
        ),
    ],
};
