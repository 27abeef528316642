//! # skiff-apiserver (not built yet)
//!
//! The only component that will touch the store: the Kubernetes REST API that the real `kubectl`
//! drives (axum), and the small internal gRPC API the other daemons use (tonic). It will reach
//! the store through the etcd v3 client in `skiff_store::client`, so it can run against
//! `skiff-store` or a real etcd cluster alike.
//!
//! Nothing lives here yet: this crate only reserves the place. See the API server issue.
