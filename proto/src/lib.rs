//! # skiff-proto: the wire formats
//!
//! Generated Rust for the `.proto` files under `proto/` (the code itself lives in `OUT_DIR`).
//!
//! - [`mvccpb`] and [`etcdserverpb`]: the subset of the etcd v3 API that `skiff-store` serves and
//!   that the API server uses to talk to either skiff-store or a real etcd.
//! - [`api`]: Skiff's internal API (`skiff.api.v1.Resources`), which the scheduler, controllers,
//!   kubelets and proxies use to talk to the API server.
//! - [`kubelet`]: the kubelet's streaming API (`skiff.kubelet.v1.Kubelet`: logs, exec, attach),
//!   which the API server calls to serve `kubectl logs`, `exec` and `attach`.

/// etcd's data messages: `KeyValue` and `Event`.
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// etcd's KV, Watch, Lease, Cluster and Maintenance services and their messages.
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

/// Skiff's internal API: one generic service over every kind, objects as Kubernetes JSON.
pub mod api {
    tonic::include_proto!("skiff.api.v1");
}

/// The kubelet's streaming API (logs, exec, attach), which the API server calls.
pub mod kubelet {
    tonic::include_proto!("skiff.kubelet.v1");
}
