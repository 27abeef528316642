//! Which object a request path names.
//!
//! Mirrors the URL layout of Kubernetes' REST API
//! (`staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`):
//!
//! ```text
//! /api/v1/[namespaces/{ns}/]{plural}[/{name}[/{subresource}]]
//! /apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}[/{subresource}]]
//! ```
//!
//! `namespaces` is both a prefix and a resource: `/api/v1/namespaces/dev` is the namespace `dev`,
//! `/api/v1/namespaces/dev/pods` its pods, `/api/v1/namespaces/dev/status` its status.

use skiff_api::registry::{by_plural, Resource};

/// The target of a resource request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub resource: &'static Resource,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Why a path names nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Not a resource path at all (404 with Kubernetes' plain "not found").
    NotFound,
    /// A resource this server does not serve.
    UnknownResource { group: String, version: String, plural: String },
}

pub fn parse(path: &str) -> Result<Target, PathError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(PathError::NotFound),
    };
    let lookup = |plural: &str| {
        by_plural(group, version, plural).ok_or_else(|| PathError::UnknownResource {
            group: group.to_string(),
            version: version.to_string(),
            plural: plural.to_string(),
        })
    };
    let target = |resource, namespace: Option<&str>, name: Option<&&str>, sub: Option<&&str>| Target {
        resource,
        namespace: namespace.map(str::to_string),
        name: name.map(|s| s.to_string()),
        subresource: sub.map(|s| s.to_string()),
    };
    let namespaced = |plural: &str| by_plural(group, version, plural).is_some_and(|r| r.namespaced);
    match rest {
        // /namespaces/{ns}/{plural}/...: a namespaced resource in a namespace.
        ["namespaces", ns, plural, more @ ..] if namespaced(plural) && more.len() <= 2 => {
            Ok(target(lookup(plural)?, Some(ns), more.first(), more.get(1)))
        }
        // /{plural}/... : a whole kind, or a cluster-scoped object (a namespace among them).
        // A subresource the kind lacks is refused by the handler, not here.
        [plural, more @ ..] if more.len() <= 2 => Ok(target(lookup(plural)?, None, more.first(), more.get(1))),
        _ => Err(PathError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(path: &str) -> (String, Option<String>, Option<String>, Option<String>) {
        let t = parse(path).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        (t.resource.plural.to_string(), t.namespace, t.name, t.subresource)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn paths_name_their_targets() {
        let cases = [
            ("/api/v1/pods", ("pods", None, None, None)),
            ("/api/v1/namespaces/default/pods", ("pods", s("default"), None, None)),
            ("/api/v1/namespaces/default/pods/web", ("pods", s("default"), s("web"), None)),
            ("/api/v1/namespaces/default/pods/web/log", ("pods", s("default"), s("web"), s("log"))),
            ("/api/v1/namespaces", ("namespaces", None, None, None)),
            ("/api/v1/namespaces/dev", ("namespaces", None, s("dev"), None)),
            ("/api/v1/namespaces/dev/status", ("namespaces", None, s("dev"), s("status"))),
            ("/api/v1/nodes/node-1/status", ("nodes", None, s("node-1"), s("status"))),
            ("/apis/apps/v1/deployments", ("deployments", None, None, None)),
            ("/apis/apps/v1/namespaces/ns/deployments/web/scale", ("deployments", s("ns"), s("web"), s("scale"))),
        ];
        for (path, (plural, ns, name, sub)) in cases {
            assert_eq!(parsed(path), (plural.to_string(), ns, name, sub), "{path}");
        }
    }

    #[test]
    fn other_paths_are_refused() {
        assert_eq!(parse("/healthz"), Err(PathError::NotFound));
        assert_eq!(parse("/api/v1/pods/a/b/c"), Err(PathError::NotFound));
        assert!(matches!(parse("/apis/apps/v1/widgets"), Err(PathError::UnknownResource { .. })));
        // Not a namespaced kind: read as a subresource of the namespace, which the handler refuses.
        assert_eq!(parsed("/api/v1/namespaces/ns/nodes"), ("namespaces".to_string(), None, s("ns"), s("nodes")));
    }
}
