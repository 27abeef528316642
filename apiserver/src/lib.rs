//! # skiff-apiserver (not built yet)
//!
//! The only component that will touch the store: the Kubernetes REST API that the real `kubectl`
//! drives (axum), and the small internal gRPC API the other daemons use (tonic). It will reach
//! the store through [`skiff_store::client`]-style etcd v3 calls, so it can run against
//! `skiff-store` or a real etcd cluster alike.
//!
//! Nothing lives here yet: this crate only reserves the place. See the API server issue.
