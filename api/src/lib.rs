//! # skiff-api: Skiff's own types and helpers around the Kubernetes API
//!
//! Kubernetes' object types will come from the `k8s-openapi` crate (one pinned API version) so
//! that the JSON is exactly Kubernetes'; this crate holds what Skiff adds around them.
//!
//! - [`registry`]: every resource the API server serves, with its plural, kind, scope, short
//!   names, categories, verbs and subresources: the one table routing and discovery derive from.
//!
//! - [`discovery`]: the aggregated (v2, v2beta1) and legacy discovery documents, derived from it.
//! - [`selector`]: label selectors (equality and set-based) and field selectors; [`fields`]: the
//!   fields each kind lets a field selector name.
//! - [`patch`]: JSON merge patch (RFC 7386) and JSON patch (RFC 6902); [`strategic`]: strategic
//!   merge patch with the merge keys of the built-in kinds.
//! - [`validation`]: field errors and the name and label rules, with Kubernetes' messages.
//! - [`defaults`]: the fields the API server fills in (Deployment strategy 25%/25%, pod
//!   restartPolicy, imagePullPolicy by tag, …).
//! - [`admission`]: what a new pod gets after defaulting (its service account, the default
//!   tolerations), as Kubernetes' default admission plugins give it; [`job_selector`]: a new
//!   Job's generated selector and pod labels.
//! - [`apply`]: server-side apply (merge by field ownership, conflicts, pruning) and the
//!   `managedFields` every write records.
//! - [`schema`]: the OpenAPI v3 schemas of the served kinds, generated from `k8s-openapi`, the
//!   documents `/openapi/v3` serves, and the unknown-field check (`fieldValidation`) they drive.
//! - [`status`]: `Status` error bodies (NotFound, AlreadyExists, Conflict, Invalid, Expired, …).
//! - [`age`]: ages as kubectl prints them (`3m20s`), and RFC 3339 timestamps.
//! - [`table`]: the server-side `Table` of `kubectl get`, with Kubernetes' columns per resource.
//! - [`protobuf`]: the protobuf bodies of kubectl 1.32+ generators, read into JSON.
//! - [`qos`]: a pod's quality-of-service class (Guaranteed, Burstable, BestEffort).
//! - [`quantity`]: resource quantities (`100m`, `128Mi`), exact, rounded up as Kubernetes does.
//!
//! To come with the API server issue: object helpers, and the `k8s-openapi` types wired in.

pub mod admission;
pub mod age;
pub mod apply;
pub mod defaults;
pub mod discovery;
pub mod fields;
pub mod job_selector;
pub mod patch;
pub mod protobuf;
pub mod qos;
pub mod quantity;
pub mod registry;
pub mod schema;
pub mod selector;
pub mod status;
pub mod strategic;
pub mod table;
pub mod validation;
