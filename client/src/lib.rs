//! # skiff-client (not built yet)
//!
//! The informer machinery every daemon but the store will share, in the shape of client-go and
//! kube-runtime: a gRPC client for the API server's resource service, a watcher (list, then watch
//! from the list's resourceVersion, re-list on `410 Gone`), a reflector cache, a de-duplicating
//! rate-limited work queue, and a controller runner.
//!
//! Nothing lives here yet: this crate only reserves the place. See the API server issue.
