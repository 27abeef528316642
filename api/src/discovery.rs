//! Discovery documents, derived from the registry: how kubectl learns what the server serves.
//!
//! Mirrors `staging/src/k8s.io/apiserver/pkg/endpoints/discovery` (`aggregated/handler.go` for
//! the aggregated documents, `legacy.go`, `group.go`, `version.go` for the older ones). kubectl
//! 1.30+ asks `/api` and `/apis` for the aggregated form (v2, or v2beta1 for 1.27–1.29) and
//! falls back to the legacy documents; both are served. The response's Content-Type decides how
//! kubectl reads it (`../shared/kubectl-compat.md` section 2), so [`negotiate`] returns it.

use serde_json::{json, Value};

use crate::registry::{group_versions, Resource, RESOURCES};

/// Which form of `/api` and `/apis` a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Aggregated(&'static str),
    Legacy,
}

impl Form {
    /// The Content-Type to answer with.
    pub fn content_type(self) -> String {
        match self {
            Form::Aggregated(version) => {
                format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList")
            }
            Form::Legacy => "application/json".to_string(),
        }
    }
}

/// Reads the `Accept` header: the first aggregated version listed wins, else legacy.
pub fn negotiate(accept: &str) -> Form {
    for media in accept.split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        if params.contains(&"g=apidiscovery.k8s.io") && params.contains(&"as=APIGroupDiscoveryList") {
            if params.contains(&"v=v2") {
                return Form::Aggregated("v2");
            }
            if params.contains(&"v=v2beta1") {
                return Form::Aggregated("v2beta1");
            }
        }
    }
    Form::Legacy
}

fn scope(resource: &Resource) -> &'static str {
    if resource.namespaced {
        "Namespaced"
    } else {
        "Cluster"
    }
}

fn aggregated_resource(r: &Resource) -> Value {
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| {
            let (group, version, kind) = s.kind.unwrap_or((r.group, r.version, r.kind));
            json!({"subresource": s.name, "responseKind": {"group": group, "version": version, "kind": kind}, "verbs": s.verbs})
        })
        .collect();
    let mut doc = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": scope(r),
        "singularResource": r.singular(),
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        doc["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        doc["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        doc["subresources"] = Value::Array(subresources);
    }
    doc
}

/// `/api` (`core = true`) or `/apis` in the aggregated form `version` (`v2` or `v2beta1`).
pub fn aggregated(core: bool, version: &str) -> Value {
    let items: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(group, _)| group.is_empty() == core)
        .map(|(group, gv)| {
            let resources: Vec<Value> =
                RESOURCES.iter().filter(|r| r.group == group && r.version == gv).map(aggregated_resource).collect();
            let metadata = if core { json!({}) } else { json!({"name": group}) };
            json!({"metadata": metadata, "versions": [{"version": gv, "freshness": "Current", "resources": resources}]})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
}

/// Legacy `/api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

fn api_group(group: &str) -> Value {
    let versions: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": versions[0]})
}

/// Legacy `/apis`.
pub fn api_group_list() -> Value {
    let mut groups: Vec<&str> = group_versions().into_iter().map(|(g, _)| g).filter(|g| !g.is_empty()).collect();
    groups.dedup();
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|g| {
            let mut doc = api_group(g);
            doc.as_object_mut().expect("an object").retain(|k, _| k != "kind" && k != "apiVersion");
            doc
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// Legacy `/apis/{group}`, if the group is served.
pub fn group(group: &str) -> Option<Value> {
    group_versions().iter().any(|(g, _)| *g == group && !g.is_empty()).then(|| api_group(group))
}

/// Legacy `/api/v1` or `/apis/{group}/{version}`, if served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let served: Vec<&Resource> = RESOURCES.iter().filter(|r| r.group == group && r.version == version).collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in served {
        let mut doc = json!({"name": r.plural, "singularName": r.singular(), "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs});
        if !r.short_names.is_empty() {
            doc["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            doc["categories"] = json!(r.categories);
        }
        resources.push(doc);
        for s in r.subresources {
            let mut sub = json!({"name": format!("{}/{}", r.plural, s.name), "singularName": "", "namespaced": r.namespaced,
                                 "kind": s.kind.map_or(r.kind, |k| k.2), "verbs": s.verbs});
            if let Some((g, v, _)) = s.kind {
                sub["group"] = json!(g);
                sub["version"] = json!(v);
            }
            resources.push(sub);
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_header_picks_the_form() {
        let kubectl_130 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        let kubectl_129 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(negotiate(kubectl_130), Form::Aggregated("v2"));
        assert_eq!(negotiate(kubectl_129), Form::Aggregated("v2beta1"));
        assert_eq!(negotiate("application/json, */*"), Form::Legacy);
        assert_eq!(
            Form::Aggregated("v2").content_type(),
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
    }

    #[test]
    fn aggregated_apis_list_each_group_with_its_resources() {
        let apis = aggregated(false, "v2");
        assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2");
        let apps = apis["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "apps").unwrap();
        let deployments = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(deployments["responseKind"], json!({"group": "apps", "version": "v1", "kind": "Deployment"}));
        assert_eq!(deployments["scope"], "Namespaced");
        assert_eq!(deployments["shortNames"], json!(["deploy"]));
        assert_eq!(deployments["categories"], json!(["all"]));
        assert_eq!(
            deployments["subresources"][0],
            json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]})
        );
        let core = aggregated(true, "v2beta1");
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
        assert_eq!(core["items"][0]["metadata"], json!({}), "the core group has no name");
        assert_eq!(core["apiVersion"], "apidiscovery.k8s.io/v2beta1");
    }

    #[test]
    fn legacy_documents_cover_the_same_resources() {
        assert_eq!(api_versions("127.0.0.1:6443")["serverAddressByClientCIDRs"][0]["serverAddress"], "127.0.0.1:6443");
        let groups = api_group_list();
        assert_eq!(
            groups["groups"][0],
            json!({"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}})
        );
        assert!(group("apps").is_some());
        assert!(group("").is_none() && group("nope").is_none());
        let apps = resource_list("apps", "v1").unwrap();
        let names: Vec<&str> =
            apps["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"deployments") && names.contains(&"deployments/scale"));
        let scale = apps["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
        assert_eq!((scale["group"].as_str(), scale["kind"].as_str()), (Some("autoscaling"), Some("Scale")));
        assert_eq!(resource_list("", "v1").unwrap()["groupVersion"], "v1");
        assert!(resource_list("apps", "v2").is_none());
    }
}
