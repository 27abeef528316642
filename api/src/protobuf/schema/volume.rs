//! `core/v1` pod volumes: the `Volume` of a pod spec, its sources, and projected volumes.
//!
//! Mirrors `k8s.io/api/core/v1/generated.proto`. A `Volume` is a name plus an inlined
//! `VolumeSource`, of which exactly one member is set (`emptyDir: {}` counts: an empty message is
//! kept). Persistent volumes and claims are in [`super::storage`]; the sources they share with pod
//! volumes are `pub` here. Left out: the `podCertificate` projection (alpha).

use super::container::{OBJECT_FIELD_SELECTOR, RESOURCE_FIELD_SELECTOR};
use super::core::{LOCAL_OBJECT_REFERENCE, SECRET_REFERENCE};
use super::meta::LABEL_SELECTOR;
use super::storage::PERSISTENT_VOLUME_CLAIM_TEMPLATE;
use super::Kind::{Bool, Int, Quantity, Str};
use super::{inline, list, map, message, messages, pointer, value, Message};

pub static VOLUME: Message = Message { name: "Volume", fields: &[value(1, "name", Str), inline(2, &VOLUME_SOURCE)] };

static VOLUME_SOURCE: Message = Message {
    name: "VolumeSource",
    fields: &[
        message(1, "hostPath", &HOST_PATH),
        message(
            2,
            "emptyDir",
            &Message {
                name: "EmptyDirVolumeSource",
                fields: &[value(1, "medium", Str), pointer(2, "sizeLimit", Quantity)],
            },
        ),
        message(3, "gcePersistentDisk", &GCE_PERSISTENT_DISK),
        message(4, "awsElasticBlockStore", &AWS_ELASTIC_BLOCK_STORE),
        message(
            5,
            "gitRepo",
            &Message {
                name: "GitRepoVolumeSource",
                fields: &[value(1, "repository", Str), value(2, "revision", Str), value(3, "directory", Str)],
            },
        ),
        message(
            6,
            "secret",
            &Message {
                name: "SecretVolumeSource",
                fields: &[
                    value(1, "secretName", Str),
                    messages(2, "items", &KEY_TO_PATH),
                    pointer(3, "defaultMode", Int),
                    pointer(4, "optional", Bool),
                ],
            },
        ),
        message(7, "nfs", &NFS),
        message(8, "iscsi", &ISCSI),
        message(
            9,
            "glusterfs",
            &Message {
                name: "GlusterfsVolumeSource",
                fields: &[value(1, "endpoints", Str), value(2, "path", Str), value(3, "readOnly", Bool)],
            },
        ),
        message(
            10,
            "persistentVolumeClaim",
            &Message {
                name: "PersistentVolumeClaimVolumeSource",
                fields: &[value(1, "claimName", Str), value(2, "readOnly", Bool)],
            },
        ),
        message(11, "rbd", &RBD),
        message(12, "flexVolume", &FLEX_VOLUME),
        message(13, "cinder", &CINDER),
        message(14, "cephfs", &CEPHFS),
        message(15, "flocker", &FLOCKER),
        message(
            16,
            "downwardAPI",
            &Message {
                name: "DownwardAPIVolumeSource",
                fields: &[messages(1, "items", &DOWNWARD_API_VOLUME_FILE), pointer(2, "defaultMode", Int)],
            },
        ),
        message(17, "fc", &FC),
        message(
            18,
            "azureFile",
            &Message {
                name: "AzureFileVolumeSource",
                fields: &[value(1, "secretName", Str), value(2, "shareName", Str), value(3, "readOnly", Bool)],
            },
        ),
        message(
            19,
            "configMap",
            &Message {
                name: "ConfigMapVolumeSource",
                fields: &[
                    inline(1, &LOCAL_OBJECT_REFERENCE),
                    messages(2, "items", &KEY_TO_PATH),
                    pointer(3, "defaultMode", Int),
                    pointer(4, "optional", Bool),
                ],
            },
        ),
        message(20, "vsphereVolume", &VSPHERE_VIRTUAL_DISK),
        message(21, "quobyte", &QUOBYTE),
        message(22, "azureDisk", &AZURE_DISK),
        message(23, "photonPersistentDisk", &PHOTON_PERSISTENT_DISK),
        message(24, "portworxVolume", &PORTWORX),
        message(25, "scaleIO", &SCALE_IO),
        message(
            26,
            "projected",
            &Message {
                name: "ProjectedVolumeSource",
                fields: &[messages(1, "sources", &VOLUME_PROJECTION), pointer(2, "defaultMode", Int)],
            },
        ),
        message(
            27,
            "storageos",
            &Message {
                name: "StorageOSVolumeSource",
                fields: &[
                    value(1, "volumeName", Str),
                    value(2, "volumeNamespace", Str),
                    value(3, "fsType", Str),
                    value(4, "readOnly", Bool),
                    message(5, "secretRef", &LOCAL_OBJECT_REFERENCE),
                ],
            },
        ),
        message(
            28,
            "csi",
            &Message {
                name: "CSIVolumeSource",
                fields: &[
                    value(1, "driver", Str),
                    pointer(2, "readOnly", Bool),
                    pointer(3, "fsType", Str),
                    map(4, "volumeAttributes", Str),
                    message(5, "nodePublishSecretRef", &LOCAL_OBJECT_REFERENCE),
                ],
            },
        ),
        message(
            29,
            "ephemeral",
            &Message {
                name: "EphemeralVolumeSource",
                fields: &[message(1, "volumeClaimTemplate", &PERSISTENT_VOLUME_CLAIM_TEMPLATE)],
            },
        ),
        message(
            30,
            "image",
            &Message { name: "ImageVolumeSource", fields: &[value(1, "reference", Str), value(2, "pullPolicy", Str)] },
        ),
    ],
};

static KEY_TO_PATH: Message =
    Message { name: "KeyToPath", fields: &[value(1, "key", Str), value(2, "path", Str), pointer(3, "mode", Int)] };

static DOWNWARD_API_VOLUME_FILE: Message = Message {
    name: "DownwardAPIVolumeFile",
    fields: &[
        value(1, "path", Str),
        message(2, "fieldRef", &OBJECT_FIELD_SELECTOR),
        message(3, "resourceFieldRef", &RESOURCE_FIELD_SELECTOR),
        pointer(4, "mode", Int),
    ],
};

static VOLUME_PROJECTION: Message = Message {
    name: "VolumeProjection",
    fields: &[
        message(1, "secret", &KEY_PROJECTION),
        message(
            2,
            "downwardAPI",
            &Message { name: "DownwardAPIProjection", fields: &[messages(1, "items", &DOWNWARD_API_VOLUME_FILE)] },
        ),
        message(3, "configMap", &KEY_PROJECTION),
        message(
            4,
            "serviceAccountToken",
            &Message {
                name: "ServiceAccountTokenProjection",
                fields: &[value(1, "audience", Str), pointer(2, "expirationSeconds", Int), value(3, "path", Str)],
            },
        ),
        message(
            5,
            "clusterTrustBundle",
            &Message {
                name: "ClusterTrustBundleProjection",
                fields: &[
                    pointer(1, "name", Str),
                    pointer(2, "signerName", Str),
                    message(3, "labelSelector", &LABEL_SELECTOR),
                    value(4, "path", Str),
                    pointer(5, "optional", Bool),
                ],
            },
        ),
    ],
};

/// `SecretProjection` and `ConfigMapProjection`: a name (inlined), keys to paths, optional.
static KEY_PROJECTION: Message = Message {
    name: "SecretProjection",
    fields: &[inline(1, &LOCAL_OBJECT_REFERENCE), messages(2, "items", &KEY_TO_PATH), pointer(4, "optional", Bool)],
};

pub static HOST_PATH: Message =
    Message { name: "HostPathVolumeSource", fields: &[value(1, "path", Str), pointer(2, "type", Str)] };

/// GCE PD and AWS EBS: the same four fields, disk id first.
pub static GCE_PERSISTENT_DISK: Message = Message {
    name: "GCEPersistentDiskVolumeSource",
    fields: &[value(1, "pdName", Str), value(2, "fsType", Str), value(3, "partition", Int), value(4, "readOnly", Bool)],
};

pub static AWS_ELASTIC_BLOCK_STORE: Message = Message {
    name: "AWSElasticBlockStoreVolumeSource",
    fields: &[
        value(1, "volumeID", Str),
        value(2, "fsType", Str),
        value(3, "partition", Int),
        value(4, "readOnly", Bool),
    ],
};

pub static NFS: Message = Message {
    name: "NFSVolumeSource",
    fields: &[value(1, "server", Str), value(2, "path", Str), value(3, "readOnly", Bool)],
};

pub static FLOCKER: Message =
    Message { name: "FlockerVolumeSource", fields: &[value(1, "datasetName", Str), value(2, "datasetUUID", Str)] };

pub static FC: Message = Message {
    name: "FCVolumeSource",
    fields: &[
        list(1, "targetWWNs", Str),
        pointer(2, "lun", Int),
        value(3, "fsType", Str),
        value(4, "readOnly", Bool),
        list(5, "wwids", Str),
    ],
};

pub static VSPHERE_VIRTUAL_DISK: Message = Message {
    name: "VsphereVirtualDiskVolumeSource",
    fields: &[
        value(1, "volumePath", Str),
        value(2, "fsType", Str),
        value(3, "storagePolicyName", Str),
        value(4, "storagePolicyID", Str),
    ],
};

pub static QUOBYTE: Message = Message {
    name: "QuobyteVolumeSource",
    fields: &[
        value(1, "registry", Str),
        value(2, "volume", Str),
        value(3, "readOnly", Bool),
        value(4, "user", Str),
        value(5, "group", Str),
        value(6, "tenant", Str),
    ],
};

pub static AZURE_DISK: Message = Message {
    name: "AzureDiskVolumeSource",
    fields: &[
        value(1, "diskName", Str),
        value(2, "diskURI", Str),
        pointer(3, "cachingMode", Str),
        pointer(4, "fsType", Str),
        pointer(5, "readOnly", Bool),
        pointer(6, "kind", Str),
    ],
};

pub static PHOTON_PERSISTENT_DISK: Message =
    Message { name: "PhotonPersistentDiskVolumeSource", fields: &[value(1, "pdID", Str), value(2, "fsType", Str)] };

pub static PORTWORX: Message = Message {
    name: "PortworxVolumeSource",
    fields: &[value(1, "volumeID", Str), value(2, "fsType", Str), value(3, "readOnly", Bool)],
};

// The sources below come twice in Kubernetes: for pods, where `secretRef` is a
// `LocalObjectReference` (1: name), and for persistent volumes, where it is a `SecretReference`
// (1: name, 2: namespace). A pod's never carries field 2, so one table, reading a
// `SecretReference`, gives the same JSON for both.

pub static ISCSI: Message = Message {
    name: "ISCSIVolumeSource",
    fields: &[
        value(1, "targetPortal", Str),
        value(2, "iqn", Str),
        value(3, "lun", Int),
        value(4, "iscsiInterface", Str),
        value(5, "fsType", Str),
        value(6, "readOnly", Bool),
        list(7, "portals", Str),
        value(8, "chapAuthDiscovery", Bool),
        message(10, "secretRef", &SECRET_REFERENCE),
        value(11, "chapAuthSession", Bool),
        pointer(12, "initiatorName", Str),
    ],
};

pub static RBD: Message = Message {
    name: "RBDVolumeSource",
    fields: &[
        list(1, "monitors", Str),
        value(2, "image", Str),
        value(3, "fsType", Str),
        value(4, "pool", Str),
        value(5, "user", Str),
        value(6, "keyring", Str),
        message(7, "secretRef", &SECRET_REFERENCE),
        value(8, "readOnly", Bool),
    ],
};

pub static FLEX_VOLUME: Message = Message {
    name: "FlexVolumeSource",
    fields: &[
        value(1, "driver", Str),
        value(2, "fsType", Str),
        message(3, "secretRef", &SECRET_REFERENCE),
        value(4, "readOnly", Bool),
        map(5, "options", Str),
    ],
};

pub static CINDER: Message = Message {
    name: "CinderVolumeSource",
    fields: &[
        value(1, "volumeID", Str),
        value(2, "fsType", Str),
        value(3, "readOnly", Bool),
        message(4, "secretRef", &SECRET_REFERENCE),
    ],
};

pub static CEPHFS: Message = Message {
    name: "CephFSVolumeSource",
    fields: &[
        list(1, "monitors", Str),
        value(2, "path", Str),
        value(3, "user", Str),
        value(4, "secretFile", Str),
        message(5, "secretRef", &SECRET_REFERENCE),
        value(6, "readOnly", Bool),
    ],
};

pub static SCALE_IO: Message = Message {
    name: "ScaleIOVolumeSource",
    fields: &[
        value(1, "gateway", Str),
        value(2, "system", Str),
        message(3, "secretRef", &SECRET_REFERENCE),
        value(4, "sslEnabled", Bool),
        value(5, "protectionDomain", Str),
        value(6, "storagePool", Str),
        value(7, "storageMode", Str),
        value(8, "volumeName", Str),
        value(9, "fsType", Str),
        value(10, "readOnly", Bool),
    ],
};
