//! The internal gRPC API (`skiff.api.v1.Resources`, `proto/proto/skiff/api.proto`): the face
//! of the verbs that the scheduler, the controllers, the kubelets and the proxies use.
//!
//! Kubernetes' components speak REST to kube-apiserver through client-go; Skiff's speak a small
//! generic gRPC service instead (typed stubs, streaming watches, one HTTP/2 connection), but
//! over the same verbs as the REST API (`verbs/`), so that every rule holds for both. Objects
//! are Kubernetes JSON in both directions. An error is a gRPC status whose code follows the
//! Kubernetes reason and whose details carry the Kubernetes `Status` as JSON; a watch from too
//! old a resourceVersion is refused with `OUT_OF_RANGE` (the REST API's `410 Expired`).

use std::pin::Pin;

use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use serde_json::{json, Value};
use skiff_api::registry::by_plural;
use skiff_api::status::Status;
use skiff_proto::api::resources_server::{Resources, ResourcesServer};
use skiff_proto::api::{
    BindRequest, CreateRequest, DeleteRequest, GetRequest, ListRequest, ListResponse, Object, PatchRequest, Target,
    UpdateRequest, WatchEvent, WatchRequest, WriteOptions as WireOptions,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response};

use crate::path;
use crate::storage::Written;
use crate::verbs::delete::DeleteOptions;
use crate::verbs::patch::PatchType;
use crate::verbs::{read_json, selectors, Verbs, WriteOptions};
use crate::watch::start_of;
use crate::watch_cache::{Filter, WatchItem};

/// The gRPC code for a Kubernetes reason.
fn code_of(status: &Status) -> Code {
    match (status.reason, status.code) {
        ("NotFound", _) => Code::NotFound,
        ("AlreadyExists", _) => Code::AlreadyExists,
        ("Conflict", _) => Code::Aborted,
        ("Invalid" | "BadRequest", _) => Code::InvalidArgument,
        ("Expired" | "Gone", _) => Code::OutOfRange,
        ("MethodNotAllowed" | "UnsupportedMediaType", _) => Code::Unimplemented,
        ("ServiceUnavailable", _) => Code::Unavailable,
        (_, 400..=499) => Code::FailedPrecondition,
        _ => Code::Internal,
    }
}

/// A Kubernetes `Status` as a gRPC status: the code, the message, and the Status JSON.
pub fn to_grpc(status: Status) -> tonic::Status {
    let details = Bytes::from(status.to_json().to_string());
    tonic::Status::with_details(code_of(&status), status.message.clone(), details)
}

type Answer<T> = Result<Response<T>, tonic::Status>;

fn target_of(target: Option<Target>) -> Result<path::Target, tonic::Status> {
    let target = target.ok_or_else(|| tonic::Status::invalid_argument("the request names no target"))?;
    let resource = by_plural(&target.group, &target.version, &target.resource).ok_or_else(|| {
        to_grpc(Status {
            code: 404,
            reason: "NotFound",
            message: format!(
                "the server could not find the requested resource ({}/{} {})",
                target.group, target.version, target.resource
            ),
            details: None,
        })
    })?;
    let some = |s: String| (!s.is_empty()).then_some(s);
    Ok(path::Target {
        resource,
        namespace: some(target.namespace).filter(|_| resource.namespaced),
        name: some(target.name),
        subresource: some(target.subresource),
    })
}

/// The name a call on one object needs.
fn name_of(target: &path::Target) -> Result<&str, tonic::Status> {
    target.name.as_deref().ok_or_else(|| tonic::Status::invalid_argument("the request names no object"))
}

fn object(value: Value) -> Response<Object> {
    Response::new(Object { json: Bytes::from(value.to_string()) })
}

/// A written object's answer: the JSON it was stored as, the resourceVersion spliced in.
fn written(written: Written) -> Response<Object> {
    Response::new(Object { json: written.json })
}

/// The gRPC service, over the verbs.
pub struct Service {
    verbs: Verbs,
}

impl Service {
    pub fn new(verbs: Verbs) -> ResourcesServer<Service> {
        ResourcesServer::new(Service { verbs }).max_decoding_message_size(crate::MAX_BODY_BYTES)
    }

    fn verbs(&self, options: &Option<WireOptions>) -> (Verbs, WriteOptions) {
        let options = options.clone().unwrap_or_default();
        let verbs = if options.dry_run { self.verbs.dry_run() } else { self.verbs.clone() };
        (verbs, WriteOptions::new(Some(&options.field_manager), None))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<WatchEvent, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl Resources for Service {
    async fn get(&self, request: Request<GetRequest>) -> Answer<Object> {
        let target = target_of(request.into_inner().target)?;
        let name = name_of(&target)?;
        match target.subresource.as_deref() {
            Some("scale") => self.verbs.scale(&target, name).await.map(object).map_err(to_grpc),
            _ => self.verbs.get_json(&target, name).await.map(|json| Response::new(Object { json })).map_err(to_grpc),
        }
    }

    async fn list(&self, request: Request<ListRequest>) -> Answer<ListResponse> {
        let request = request.into_inner();
        let target = target_of(request.target)?;
        let (labels, fields) =
            selectors(target.resource, &request.label_selector, &request.field_selector).map_err(to_grpc)?;
        let (items, revision) = self.verbs.list_json(&target, &labels, &fields).await.map_err(to_grpc)?;
        Ok(Response::new(ListResponse { items, resource_version: revision.to_string() }))
    }

    type WatchStream = EventStream;

    async fn watch(&self, request: Request<WatchRequest>) -> Answer<EventStream> {
        let request = request.into_inner();
        let target = target_of(request.target)?;
        let resource = target.resource;
        let (labels, fields) =
            selectors(resource, &request.label_selector, &request.field_selector).map_err(to_grpc)?;
        let start = start_of(&request.resource_version).map_err(to_grpc)?;
        let filter = Filter { namespace: target.namespace.clone(), labels, fields };
        let subscription = self.verbs.caches.watch(resource, filter, start).await.map_err(to_grpc)?;
        let bookmarks = request.allow_bookmarks;
        crate::metrics::WATCHES.inc();
        let open = crate::watch::Guard(|| crate::metrics::WATCHES.dec());
        let items = stream::iter(subscription.initial).chain(ReceiverStream::new(subscription.live));
        let events = items.filter_map(move |item| {
            let _open = &open;
            let event = match item {
                WatchItem::Event(kind, object) => Some(WatchEvent {
                    r#type: kind.as_str().to_string(),
                    object: object.json.clone(),
                    resource_version: object.revision.to_string(),
                }),
                WatchItem::Bookmark(revision) if bookmarks => {
                    let marker = json!({"kind": resource.kind, "apiVersion": resource.api_version(),
                                        "metadata": {"resourceVersion": revision.to_string()}});
                    Some(WatchEvent {
                        r#type: "BOOKMARK".into(),
                        object: Bytes::from(marker.to_string()),
                        resource_version: revision.to_string(),
                    })
                }
                WatchItem::Bookmark(_) => None,
            };
            std::future::ready(event.map(Ok))
        });
        Ok(Response::new(Box::pin(events)))
    }

    async fn create(&self, request: Request<CreateRequest>) -> Answer<Object> {
        let request = request.into_inner();
        let target = target_of(request.target)?;
        let (verbs, options) = self.verbs(&request.options);
        let body = read_json(&request.json).map_err(to_grpc)?;
        verbs.create(&target, body, &options).await.map(written).map_err(to_grpc)
    }

    async fn update(&self, request: Request<UpdateRequest>) -> Answer<Object> {
        let request = request.into_inner();
        let target = target_of(request.target)?;
        let name = name_of(&target)?;
        let (verbs, options) = self.verbs(&request.options);
        let body = read_json(&request.json).map_err(to_grpc)?;
        verbs.update(&target, name, body, &options).await.map(written).map_err(to_grpc)
    }

    async fn patch(&self, request: Request<PatchRequest>) -> Answer<Object> {
        let request = request.into_inner();
        let target = target_of(request.target)?;
        let name = name_of(&target)?;
        let (verbs, options) = self.verbs(&request.options);
        let kind = PatchType::from_content_type(&request.content_type).map_err(to_grpc)?;
        let patched = verbs.patch(&target, name, kind, &request.patch, &options).await.map_err(to_grpc)?;
        Ok(written(patched.object))
    }

    async fn delete(&self, request: Request<DeleteRequest>) -> Answer<Object> {
        let request = request.into_inner();
        let target = target_of(request.target)?;
        let name = name_of(&target)?;
        let options = DeleteOptions::parse(&request.options, |_| None).map_err(to_grpc)?;
        self.verbs.delete(&target, name, &options).await.map(object).map_err(to_grpc)
    }

    async fn bind(&self, request: Request<BindRequest>) -> Answer<Object> {
        let request = request.into_inner();
        let pods = by_plural("", "v1", "pods").expect("pods are registered");
        let target = path::Target {
            resource: pods,
            namespace: Some(request.namespace),
            name: Some(request.pod.clone()),
            subresource: Some("binding".into()),
        };
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": request.pod},
                             "target": {"apiVersion": "v1", "kind": "Node", "name": request.node}});
        self.verbs.bind(&target, &request.pod, binding).await.map(object).map_err(to_grpc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_reasons_become_grpc_codes_and_keep_the_status() {
        let pods = by_plural("", "v1", "pods").unwrap();
        let cases = [
            (Status::not_found(pods, "web"), Code::NotFound),
            (Status::already_exists(pods, "web"), Code::AlreadyExists),
            (Status::conflict(pods, "web"), Code::Aborted),
            (Status::bad_request("no"), Code::InvalidArgument),
            (Status::expired(3, 10), Code::OutOfRange),
            (Status::internal("boom"), Code::Internal),
        ];
        for (status, code) in cases {
            let json = status.to_json();
            let grpc = to_grpc(status);
            assert_eq!(grpc.code(), code, "{json}");
            let carried: Value = serde_json::from_slice(grpc.details()).unwrap();
            assert_eq!(carried, json);
        }
    }
}
