//! The Endpoints and EndpointSlice controllers: which pods stand behind each Service.
//!
//! Mirrors `pkg/controller/endpoint/endpoints_controller.go` and
//! `pkg/controller/endpointslice/endpointslice_controller.go` (Kubernetes 1.31), as one controller
//! keyed by Service, since both views come from the same pods:
//!
//! | file | what |
//! |---|---|
//! | `desired.rs` | what the Endpoints and the slices should say (pure; ready, not ready, terminating, named ports) |
//! | `mod.rs` | `sync_service`: compare with what exists, write the difference; which Services an event concerns |
//! | `writes.rs` | the writes, behind a narrow trait |
//!
//! `sync_service(key)`:
//!
//! 1. The Service is gone: its Endpoints and slices go too.
//! 2. It has no selector: its Endpoints are the user's (written by hand); nothing to do.
//! 3. Its pods (same namespace, matching the selector) give the desired Endpoints (named like
//!    the Service, with its labels) and slices (`kubernetes.io/service-name`, managed by
//!    `endpointslice-controller.k8s.io`, owned by the Service).
//! 4. Only what differs is written: an unchanged set of pods writes nothing.
//!
//! Pod events concern the Services whose selector matches the pod *and* those whose Endpoints
//! list it: a pod whose labels no longer match must leave the Services it left.
//!
//! This is the first half of zero-downtime updates: a pod being deleted leaves the Endpoints in
//! the same sync that sees its `deletionTimestamp`, before the kubelet stops its containers.
//!
//! Left out: the `endpoints.kubernetes.io/last-change-trigger-time` annotation, the
//! over-capacity annotation, topology hints, dual-stack slices, mirroring of user Endpoints to
//! slices, the `--endpoint-updates-batch-period` batching.

mod desired;
mod writes;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use skiff_client::controller::Action;
use skiff_client::reflector::{ObjectKey, Store};
use skiff_client::watcher::Event;
use tracing::{debug, instrument};

pub use desired::{find_port, slices, subsets, SliceContent, MAX_ENDPOINTS_PER_SLICE};
pub use writes::{ApiEndpointsWrites, EndpointsWrites};

use crate::client::ApiError;

/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label saying who manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("writing the endpoints of service {service}")]
    Write {
        service: String,
        #[source]
        source: ApiError,
    },
}

/// The controller. Its caches come from the daemon's shared informers.
pub struct EndpointsController {
    services: Store<Service>,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
    writes: Arc<dyn EndpointsWrites>,
}

fn selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service.spec.as_ref()?.selector.as_ref().filter(|s| !s.is_empty())
}

fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

impl EndpointsController {
    pub fn new(
        services: Store<Service>,
        pods: Store<Pod>,
        endpoints: Store<Endpoints>,
        slices: Store<EndpointSlice>,
        writes: Arc<dyn EndpointsWrites>,
    ) -> EndpointsController {
        EndpointsController { services, pods, endpoints, slices, writes }
    }

    /// `syncService` (see the module doc).
    #[instrument(skip(self), fields(key = %key))]
    pub async fn sync_service(&self, key: &ObjectKey) -> Result<Action, Error> {
        let namespace = key.namespace.clone().unwrap_or_default();
        let failed = |source| Error::Write { service: key.to_string(), source };
        let Some(service) = self.services.get(key) else {
            debug!("service deleted; its endpoints go too");
            if self.endpoints.get(key).is_some() {
                self.writes.delete_endpoints(&namespace, &key.name).await.or_else(gone).map_err(failed)?;
            }
            for slice in self.slices_of(&namespace, &key.name) {
                let name = slice.metadata.name.clone().unwrap_or_default();
                self.writes.delete_slice(&namespace, &name).await.or_else(gone).map_err(failed)?;
            }
            return Ok(Action::Done);
        };
        let Some(selector) = selector(&service) else {
            return Ok(Action::Done);
        };
        let pods: Vec<Arc<Pod>> = self.pods.in_namespace(&namespace).into_iter().filter(|p| selects(selector, p)).collect();
        let pods: Vec<&Pod> = pods.iter().map(|p| p.as_ref()).collect();
        self.sync_endpoints(&service, &pods).await.map_err(failed)?;
        self.sync_slices(&service, &pods).await.map_err(failed)?;
        Ok(Action::Done)
    }

    async fn sync_endpoints(&self, service: &Service, pods: &[&Pod]) -> Result<(), ApiError> {
        let labels = service_labels(service);
        let subsets = desired::subsets(service, pods);
        let key = ObjectKey::of(service);
        match self.endpoints.get(&key) {
            Some(current)
                if current.subsets.clone().unwrap_or_default() == subsets
                    && current.metadata.labels.clone().unwrap_or_default() == labels =>
            {
                Ok(())
            }
            Some(current) => {
                let mut updated = (*current).clone();
                updated.subsets = Some(subsets);
                updated.metadata.labels = Some(labels);
                self.writes.update_endpoints(&updated).await.map(|_| ())
            }
            None => {
                let endpoints = Endpoints {
                    metadata: ObjectMeta {
                        name: service.metadata.name.clone(),
                        namespace: service.metadata.namespace.clone(),
                        labels: Some(labels),
                        ..Default::default()
                    },
                    subsets: Some(subsets),
                };
                match self.writes.create_endpoints(&endpoints).await {
                    // The cache had not seen it yet: the next event brings it, and a resync.
                    Err(err) if err.is_already_exists() => Err(err),
                    other => other.map(|_| ()),
                }
            }
        }
    }

    /// The slices this controller manages for one Service, by name.
    fn slices_of(&self, namespace: &str, service: &str) -> Vec<Arc<EndpointSlice>> {
        let mut slices: Vec<Arc<EndpointSlice>> = self
            .slices
            .in_namespace(namespace)
            .into_iter()
            .filter(|s| {
                let labels = s.metadata.labels.clone().unwrap_or_default();
                labels.get(SERVICE_NAME_LABEL).map(String::as_str) == Some(service)
                    && labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY)
            })
            .collect();
        slices.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        slices
    }

    async fn sync_slices(&self, service: &Service, pods: &[&Pod]) -> Result<(), ApiError> {
        let namespace = service.metadata.namespace.clone().unwrap_or_default();
        let name = service.metadata.name.clone().unwrap_or_default();
        let mut wanted = desired::slices(service, pods);
        if wanted.is_empty() {
            // A Service with no pods still has one (empty) slice, as upstream keeps.
            wanted.push(SliceContent { ports: Vec::new(), endpoints: Vec::new() });
        }
        let existing = self.slices_of(&namespace, &name);
        let labels = slice_labels(service);
        for (i, content) in wanted.iter().enumerate() {
            match existing.get(i) {
                Some(slice)
                    if slice.endpoints == content.endpoints
                        && slice.ports.clone().unwrap_or_default() == content.ports
                        && slice.metadata.labels.as_ref() == Some(&labels) => {}
                Some(slice) => {
                    let mut updated = (**slice).clone();
                    updated.endpoints = content.endpoints.clone();
                    updated.ports = Some(content.ports.clone());
                    updated.metadata.labels = Some(labels.clone());
                    self.writes.update_slice(&updated).await?;
                }
                None => {
                    self.writes.create_slice(&new_slice(service, content)).await?;
                }
            }
        }
        for extra in existing.iter().skip(wanted.len()) {
            let extra_name = extra.metadata.name.clone().unwrap_or_default();
            self.writes.delete_slice(&namespace, &extra_name).await.or_else(gone)?;
        }
        Ok(())
    }

    /// The Services a pod event concerns: those that select it, and those that list it.
    pub fn pod_event(&self, event: &Event<Pod>) -> Vec<ObjectKey> {
        let pods: Vec<&Pod> = match event {
            Event::Applied(pod) | Event::Deleted(pod) => vec![pod],
            Event::Restarted(pods) => pods.iter().collect(),
        };
        let mut keys = Vec::new();
        for pod in pods {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            for service in self.services.in_namespace(&namespace) {
                if selector(&service).is_some_and(|s| selects(s, pod)) {
                    keys.push(ObjectKey::of(service.as_ref()));
                }
            }
            for endpoints in self.endpoints.in_namespace(&namespace) {
                let listed = endpoints.subsets.iter().flatten().any(|subset| {
                    subset
                        .addresses
                        .iter()
                        .chain(subset.not_ready_addresses.iter())
                        .flatten()
                        .any(|a| a.target_ref.as_ref().and_then(|r| r.uid.as_deref()) == Some(uid.as_str()))
                });
                if listed {
                    keys.push(ObjectKey::of(endpoints.as_ref()));
                }
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// An Endpoints event concerns the Service of the same name (someone edited or deleted
    /// what the controller keeps).
    pub fn endpoints_event(event: &Event<Endpoints>) -> Vec<ObjectKey> {
        match event {
            Event::Applied(e) | Event::Deleted(e) => vec![ObjectKey::of(e)],
            Event::Restarted(all) => all.iter().map(ObjectKey::of).collect(),
        }
    }

    /// A slice event concerns the Service it names.
    pub fn slice_event(event: &Event<EndpointSlice>) -> Vec<ObjectKey> {
        let key = |s: &EndpointSlice| {
            let service = s.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?.clone();
            Some(ObjectKey { namespace: s.metadata.namespace.clone(), name: service })
        };
        match event {
            Event::Applied(s) | Event::Deleted(s) => key(s).into_iter().collect(),
            Event::Restarted(all) => all.iter().filter_map(key).collect(),
        }
    }
}

/// Not found is fine when deleting.
fn gone(err: ApiError) -> Result<(), ApiError> {
    if err.is_not_found() {
        Ok(())
    } else {
        Err(err)
    }
}

/// The labels of a Service's Endpoints: the Service's own, and `service.kubernetes.io/headless`
/// for a headless one.
fn service_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
        labels.insert("service.kubernetes.io/headless".into(), String::new());
    }
    labels
}

/// The labels of a Service's slices: the Endpoints' labels, and the two that say whose slice it
/// is (upstream's `setEndpointSliceLabels`), which the Service's own labels cannot override.
fn slice_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service_labels(service);
    labels.insert(SERVICE_NAME_LABEL.to_string(), service.metadata.name.clone().unwrap_or_default());
    labels.insert(MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string());
    labels
}

fn new_slice(service: &Service, content: &SliceContent) -> EndpointSlice {
    let name = service.metadata.name.clone().unwrap_or_default();
    let labels = slice_labels(service);
    let owner = OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: name.clone(),
        uid: service.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: content.endpoints.clone(),
        ports: Some(content.ports.clone()),
    }
}
