//! The resource registry: every kind the API server serves, with the names and verbs discovery
//! announces for it.
//!
//! Mirrors what Kubernetes spreads over each type's `pkg/registry/<group>/<resource>/storage`
//! and the discovery handlers (`staging/src/k8s.io/apiserver/pkg/endpoints/discovery`): the
//! plural that appears in URLs, the kind in the JSON, short names (`kubectl get po` works because
//! discovery says `po` means pods), categories (`kubectl get all`), scope, verbs and subresources.
//! `../shared/kubectl-compat.md` section 2 records what kubectl needs of it.
//!
//! Everything the API server routes, and every discovery document, is derived from this one
//! table.

/// One subresource (`pods/status`, `deployments/scale`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    pub name: &'static str,
    /// The group, version and kind of the subresource's body, when it is not the parent's
    /// (`scale` is an `autoscaling/v1` `Scale`).
    pub kind: Option<(&'static str, &'static str, &'static str)>,
    pub verbs: &'static [&'static str],
}

/// One resource of one group-version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The URL segment: `pods`, `deployments`.
    pub plural: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub subresources: &'static [Subresource],
}

/// The verbs of a resource stored like any other.
pub const CRUD: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const ALL: &[&str] = &["all"];
const READ_WRITE: &[&str] = &["get", "patch", "update"];

const STATUS: Subresource = Subresource { name: "status", kind: None, verbs: READ_WRITE };
const SCALE: Subresource = Subresource { name: "scale", kind: Some(("autoscaling", "v1", "Scale")), verbs: READ_WRITE };

const POD_SUBRESOURCES: &[Subresource] = &[
    Subresource { name: "attach", kind: Some(("", "v1", "PodAttachOptions")), verbs: &["create", "get"] },
    Subresource { name: "binding", kind: Some(("", "v1", "Binding")), verbs: &["create"] },
    Subresource { name: "eviction", kind: Some(("policy", "v1", "Eviction")), verbs: &["create"] },
    Subresource { name: "exec", kind: Some(("", "v1", "PodExecOptions")), verbs: &["create", "get"] },
    Subresource { name: "log", kind: Some(("", "v1", "Pod")), verbs: &["get"] },
    Subresource { name: "portforward", kind: Some(("", "v1", "PodPortForwardOptions")), verbs: &["create", "get"] },
    STATUS,
];

const fn resource(group: &'static str, version: &'static str, kind: &'static str, plural: &'static str) -> Resource {
    Resource {
        group,
        version,
        kind,
        plural,
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
    }
}

/// Every resource served, core group first, then by group name.
pub const RESOURCES: &[Resource] = &[
    Resource {
        namespaced: false,
        short_names: &["ns"],
        // `finalize`: the only way to change `spec.finalizers` (the namespace controller's).
        subresources: &[Subresource { name: "finalize", kind: None, verbs: &["update"] }, STATUS],
        ..resource("", "v1", "Namespace", "namespaces")
    },
    Resource {
        namespaced: false,
        short_names: &["no"],
        subresources: &[STATUS],
        ..resource("", "v1", "Node", "nodes")
    },
    Resource {
        short_names: &["po"],
        categories: ALL,
        subresources: POD_SUBRESOURCES,
        ..resource("", "v1", "Pod", "pods")
    },
    Resource {
        short_names: &["svc"],
        categories: ALL,
        subresources: &[STATUS],
        ..resource("", "v1", "Service", "services")
    },
    Resource { short_names: &["ep"], ..resource("", "v1", "Endpoints", "endpoints") },
    Resource { short_names: &["cm"], ..resource("", "v1", "ConfigMap", "configmaps") },
    resource("", "v1", "Secret", "secrets"),
    Resource { short_names: &["ev"], ..resource("", "v1", "Event", "events") },
    Resource {
        namespaced: false,
        short_names: &["pv"],
        subresources: &[STATUS],
        ..resource("", "v1", "PersistentVolume", "persistentvolumes")
    },
    Resource {
        short_names: &["pvc"],
        subresources: &[STATUS],
        ..resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
    },
    Resource { short_names: &["sa"], ..resource("", "v1", "ServiceAccount", "serviceaccounts") },
    resource("apps", "v1", "ControllerRevision", "controllerrevisions"),
    Resource {
        short_names: &["ds"],
        categories: ALL,
        subresources: &[STATUS],
        ..resource("apps", "v1", "DaemonSet", "daemonsets")
    },
    Resource {
        short_names: &["deploy"],
        categories: ALL,
        subresources: &[SCALE, STATUS],
        ..resource("apps", "v1", "Deployment", "deployments")
    },
    Resource {
        short_names: &["rs"],
        categories: ALL,
        subresources: &[SCALE, STATUS],
        ..resource("apps", "v1", "ReplicaSet", "replicasets")
    },
    Resource {
        short_names: &["sts"],
        categories: ALL,
        subresources: &[SCALE, STATUS],
        ..resource("apps", "v1", "StatefulSet", "statefulsets")
    },
    Resource { categories: ALL, subresources: &[STATUS], ..resource("batch", "v1", "Job", "jobs") },
    resource("coordination.k8s.io", "v1", "Lease", "leases"),
    resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    Resource { namespaced: false, ..resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses") },
    Resource {
        short_names: &["ing"],
        subresources: &[STATUS],
        ..resource("networking.k8s.io", "v1", "Ingress", "ingresses")
    },
    Resource {
        namespaced: false,
        short_names: &["sc"],
        ..resource("storage.k8s.io", "v1", "StorageClass", "storageclasses")
    },
];

impl Resource {
    /// `apps/v1`, or `v1` for the core group: the `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The kind in lower case, which discovery calls the singular name.
    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    /// `pods`, or `deployments.apps`: how error messages name the resource.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn subresource(&self, name: &str) -> Option<&Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

/// The resource a URL names: `(group, version, plural)`.
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of objects with this `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.kind == kind && r.api_version() == api_version)
}

/// The group-versions served, core first, in discovery order.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !seen.contains(&(r.group, r.version)) {
            seen.push((r.group, r.version));
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_names_kubectl_needs_resolve() {
        // kubectl-compat.md section 2: without these, `kubectl get deploy` fails.
        let cases = [
            ("deploy", "deployments"),
            ("rs", "replicasets"),
            ("po", "pods"),
            ("svc", "services"),
            ("ep", "endpoints"),
            ("sts", "statefulsets"),
            ("pv", "persistentvolumes"),
            ("pvc", "persistentvolumeclaims"),
            ("cm", "configmaps"),
            ("ns", "namespaces"),
            ("no", "nodes"),
            ("ds", "daemonsets"),
            ("sa", "serviceaccounts"),
            ("ev", "events"),
        ];
        for (short, plural) in cases {
            let found: Vec<&str> =
                RESOURCES.iter().filter(|r| r.short_names.contains(&short)).map(|r| r.plural).collect();
            assert_eq!(found, vec![plural], "{short}");
        }
        assert!(by_plural("", "v1", "secrets").unwrap().short_names.is_empty(), "secrets have no short name");
    }

    #[test]
    fn kubectl_get_all_lists_the_workload_kinds() {
        let mut all: Vec<&str> = RESOURCES.iter().filter(|r| r.categories.contains(&"all")).map(|r| r.plural).collect();
        all.sort();
        assert_eq!(all, vec!["daemonsets", "deployments", "jobs", "pods", "replicasets", "services", "statefulsets"]);
    }

    #[test]
    fn scope_and_names_read_like_kubernetes() {
        let cases = [
            ("", "v1", "namespaces", false, "v1", "namespaces"),
            ("", "v1", "persistentvolumes", false, "v1", "persistentvolumes"),
            ("", "v1", "pods", true, "v1", "pods"),
            ("apps", "v1", "deployments", true, "apps/v1", "deployments.apps"),
            (
                "networking.k8s.io",
                "v1",
                "ingressclasses",
                false,
                "networking.k8s.io/v1",
                "ingressclasses.networking.k8s.io",
            ),
        ];
        for (group, version, plural, namespaced, api_version, qualified) in cases {
            let r = by_plural(group, version, plural).unwrap();
            assert_eq!(
                (r.namespaced, r.api_version(), r.qualified_plural()),
                (namespaced, api_version.to_string(), qualified.to_string())
            );
        }
        assert_eq!(by_kind("apps/v1", "StatefulSet").unwrap().singular(), "statefulset");
        assert!(by_kind("v1", "Deployment").is_none(), "a kind belongs to its group");
    }

    #[test]
    fn subresources_carry_their_own_kinds_and_verbs() {
        let deployments = by_plural("apps", "v1", "deployments").unwrap();
        assert_eq!(deployments.subresource("scale").unwrap().kind, Some(("autoscaling", "v1", "Scale")));
        assert_eq!(deployments.subresource("status").unwrap().verbs, &["get", "patch", "update"]);
        let pods = by_plural("", "v1", "pods").unwrap();
        for name in ["log", "exec", "attach", "portforward", "status", "binding", "eviction"] {
            assert!(pods.subresource(name).is_some(), "pods/{name}");
        }
        let namespaces = by_plural("", "v1", "namespaces").unwrap();
        assert_eq!(namespaces.subresource("finalize").unwrap().verbs, &["update"]);
    }

    #[test]
    fn every_plural_is_unique_within_its_group_and_groups_are_listed_once() {
        for (i, a) in RESOURCES.iter().enumerate() {
            for b in &RESOURCES[i + 1..] {
                assert!(!(a.group == b.group && a.plural == b.plural), "{} twice", a.plural);
                assert!(a.kind != b.kind || a.group != b.group, "{} twice", a.kind);
            }
        }
        let gvs = group_versions();
        assert_eq!(gvs[0], ("", "v1"), "core first");
        assert_eq!(gvs.len(), 7);
    }
}
