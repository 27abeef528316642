//! # skiff-api (not built yet)
//!
//! Skiff's own types and helpers. Kubernetes' types come from the `k8s-openapi` crate (one pinned
//! API version) so that the JSON is exactly Kubernetes'; this crate will hold only what Skiff adds
//! around them (resource registry entries, label selectors, object helpers).
//!
//! Nothing lives here yet: this crate only reserves the place. See the API server issue.
