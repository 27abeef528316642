//! # skiff-proto: the wire formats
//!
//! Generated Rust for the `.proto` files under `proto/` (the code itself lives in `OUT_DIR`).
//!
//! - [`mvccpb`] and [`etcdserverpb`]: the subset of the etcd v3 API that `skiff-store` serves and
//!   that the API server uses to talk to either skiff-store or a real etcd.

/// etcd's data messages: `KeyValue` and `Event`.
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// etcd's KV, Watch, Lease, Cluster and Maintenance services and their messages.
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}
