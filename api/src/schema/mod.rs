//! # Schemas: Kubernetes' types as OpenAPI v3, and the checks they drive
//!
//! kube-apiserver publishes a schema for every type it serves (`/openapi/v3`, read by
//! `kubectl explain`) and decodes every request body into those types, which is how it notices
//! fields that do not exist (`fieldValidation`). Skiff keeps objects as JSON, so the schemas
//! are its types: generated once from `k8s-openapi` (Kubernetes 1.31), served by the API server,
//! and walked to find unknown fields.
//!
//! - [`openapi`]: the schemas, generated from `k8s-openapi` and rewritten to Kubernetes'
//!   conventions (names, `$ref`s, `allOf`, `IntOrString`, group-version-kinds).
//! - [`paths`]: the document of one group-version: its paths and operations (each with its
//!   `x-kubernetes-action` and group-version-kind) and the schemas they reach.
//! - [`unknown`]: the fields of an object its schema does not declare, in Kubernetes' notation
//!   (`spec.template.spec.containers[0].imagee`).
//! - [`strict`]: duplicate fields, the `fieldValidation` directive and what it makes of them
//!   (reject, warn, ignore).
//! - [`types`]: values of the wrong type (`"replicas": "3"`), which fail the request whatever
//!   `fieldValidation` says, found by the same walk as the unknown fields.
//!
//! [`catalogue`] holds every schema; it is built on first use (about 3 ms and 2 MB in a release
//! build) and kept for the process's life.

pub mod openapi;
pub mod paths;
pub mod strict;
pub mod types;
pub mod unknown;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::registry::Resource;

pub use paths::document;
pub use strict::{duplicate_fields, strict_errors, verdict, warning_header, FieldValidation, Verdict};
pub use types::TypeMismatch;
pub use unknown::{drop_unknown_fields, drop_unknown_fields_checking_types, unknown_fields, unknown_fields_of_schema};

/// A kind with a schema, as `k8s-openapi` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The URL segment, to check the registry against Kubernetes' own.
    pub plural: &'static str,
    /// `io.k8s.api.apps.v1.Deployment`
    pub schema: String,
}

impl Kind {
    /// The `x-kubernetes-group-version-kind` of the kind.
    pub fn gvk(&self) -> Value {
        json!({"group": self.group, "version": self.version, "kind": self.kind})
    }

    /// `io.k8s.api.apps.v1.DeploymentList`
    pub fn list_schema(&self) -> String {
        format!("{}List", self.schema)
    }
}

/// Every schema the API server serves, by name, and the kinds among them.
pub struct Catalogue {
    schemas: BTreeMap<String, Value>,
    kinds: Vec<Kind>,
    /// The schemas as the unknown-field walk reads them, compiled on first use.
    shapes: OnceLock<unknown::Shapes>,
}

static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();

/// The schemas, generated on first use (a few milliseconds) and shared afterwards.
pub fn catalogue() -> &'static Catalogue {
    CATALOGUE.get_or_init(|| {
        let generated = openapi::generate();
        Catalogue { schemas: generated.schemas, kinds: generated.kinds, shapes: OnceLock::new() }
    })
}

impl Catalogue {
    pub fn schema(&self, name: &str) -> Option<&Value> {
        self.schemas.get(name)
    }

    pub fn len(&self) -> usize {
        self.schemas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
    }

    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    pub fn kind(&self, group: &str, version: &str, kind: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.group == group && k.version == version && k.kind == kind)
    }

    /// The kind of a resource the registry serves.
    pub fn of(&self, resource: &Resource) -> Option<&Kind> {
        self.kind(resource.group, resource.version, resource.kind)
    }

    /// The schema a property's schema stands for (itself, or the one it refers to).
    pub fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        openapi::resolve(&self.schemas, schema)
    }

    /// The `components.schemas` of a document whose operations refer to `roots`: those schemas
    /// and every schema they refer to, however deep.
    pub fn components<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> Map<String, Value> {
        let mut pending: Vec<String> = roots.into_iter().map(str::to_string).collect();
        let mut found = Map::new();
        while let Some(name) = pending.pop() {
            if found.contains_key(&name) {
                continue;
            }
            if let Some(schema) = self.schemas.get(&name) {
                openapi::references(schema, &mut pending);
                found.insert(name, schema.clone());
            }
        }
        found
    }
}

/// One step from an object into one of its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Field(String),
    Index(usize),
}

/// Where a value sits in an object, printed as Kubernetes prints it:
/// `spec.template.spec.containers[0].image` (map keys are fields: `metadata.labels.app`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Step>);

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Field(name) if i == 0 => write!(f, "{name}")?,
                Step::Field(name) => write!(f, ".{name}")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}
