//! Which kinds the collector watches, and their informers' events as graph changes.
//!
//! Mirrors the monitors of `pkg/controller/garbagecollector/graph_builder.go` (`syncMonitors`,
//! `controllerFor`) and `GetDeletableResources`: every kind that can be deleted, listed and
//! watched can own or be owned, so every such kind of `skiff_api::registry` is watched, except
//! Events (upstream ignores them too: there are many, and nothing owns them).
//!
//! The collector needs only metadata (upstream watches metadata-only). Kinds another controller
//! already watches come from that controller's shared informer ([`changes_of`], typed); the
//! others from an untyped informer of their own ([`dynamic_changes`]).

use futures::stream::{BoxStream, Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::serde::Deserialize;
use skiff_api::registry::{self, Resource, RESOURCES};
use skiff_client::api::{ApiObject, DynamicObject};
use skiff_client::watcher::Event;

use super::graph_builder::{GraphChange, Observed};

/// Kinds never watched: `(group, plural)`.
const IGNORED_RESOURCES: &[(&str, &str)] = &[("", "events")];

/// The kinds the collector watches.
pub fn monitored_resources() -> impl Iterator<Item = &'static Resource> {
    RESOURCES.iter().filter(|r| {
        ["delete", "list", "watch"].iter().all(|verb| r.verbs.contains(verb))
            && !IGNORED_RESOURCES.contains(&(r.group, r.plural))
    })
}

/// One informer event as a graph change; objects without a uid are skipped.
fn graph_change<O>(
    resource: &'static Resource,
    event: Event<O>,
    observe: impl Fn(&O) -> Option<Observed>,
) -> Option<GraphChange> {
    Some(match event {
        Event::Restarted(objects) => GraphChange::Restarted {
            api_version: resource.api_version(),
            kind: resource.kind.into(),
            objects: objects.iter().filter_map(observe).collect(),
        },
        Event::Applied(object) => GraphChange::Applied(observe(&object)?),
        Event::Deleted(object) => GraphChange::Deleted(observe(&object)?),
    })
}

/// The graph changes of a typed informer's events (a shared informer's subscription).
pub fn changes_of<K: ApiObject>(
    events: impl Stream<Item = Event<K>> + Send + 'static,
) -> BoxStream<'static, GraphChange> {
    let resource = registry::by_kind(K::API_VERSION, K::KIND).expect("k8s-openapi kinds given here are served");
    events
        .filter_map(move |event| {
            let change = graph_change(resource, event, |object: &K| Observed::new(resource, object.metadata()));
            async move { change }
        })
        .boxed()
}

/// The graph changes of an untyped informer's events for `resource`.
pub fn dynamic_changes(
    resource: &'static Resource,
    events: impl Stream<Item = Event<DynamicObject>> + Send + 'static,
) -> BoxStream<'static, GraphChange> {
    let observe = move |object: &DynamicObject| {
        let meta = ObjectMeta::deserialize(&object.0["metadata"]).ok()?;
        Observed::new(resource, &meta)
    };
    events
        .filter_map(move |event| {
            let change = graph_change(resource, event, observe);
            async move { change }
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::*;

    #[test]
    fn every_kind_that_can_be_listed_watched_and_deleted_is_watched_but_events() {
        let watched: Vec<&str> = monitored_resources().map(|r| r.plural).collect();
        for plural in ["pods", "replicasets", "deployments", "configmaps", "namespaces", "nodes", "leases", "jobs"] {
            assert!(watched.contains(&plural), "{plural}");
        }
        assert!(!watched.contains(&"events"));
    }

    #[tokio::test]
    async fn typed_and_untyped_events_become_the_same_graph_changes() {
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "web-1", "namespace": "default", "uid": "p1",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs1"}]}}))
            .unwrap();
        let untyped = DynamicObject(serde_json::to_value(&pod).unwrap());
        let nameless_uid = Pod::default();
        let typed: Vec<GraphChange> =
            changes_of(futures::stream::iter([Event::Applied(pod), Event::Applied(nameless_uid)])).collect().await;
        let pods = registry::by_plural("", "v1", "pods").unwrap();
        let dynamic: Vec<GraphChange> =
            dynamic_changes(pods, futures::stream::iter([Event::Applied(untyped)])).collect().await;
        assert_eq!(typed, dynamic, "an object without a uid is skipped");
        let GraphChange::Applied(observed) = &typed[0] else { panic!("{typed:?}") };
        assert_eq!(observed.identity.to_string(), "[v1/Pod, namespace: default, name: web-1, uid: p1]");
        assert_eq!(observed.owners[0].uid, "rs1");
    }
}
