//! # skiff-apiserver (being built)
//!
//! The only component that touches the store: the Kubernetes REST API that the real `kubectl`
//! drives (axum), and the small internal gRPC API the other daemons use (tonic). It reaches the
//! store through `skiff_store::client`, so it runs against `skiff-store` or a real etcd alike.
//!
//! What is here so far:
//!
//! - [`storage`]: objects as JSON in the store, with the API server's create / get / list /
//!   update / delete rules (resourceVersion = revision, optimistic concurrency, generateName,
//!   uid, generation).
//!
//! To come (the API server issue): the HTTP routes, watch and its cache, Tables, patches,
//! OpenAPI, defaulting and validation per kind, the gRPC API, and the binary.

pub mod storage;
