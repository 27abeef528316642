//! The Lease service: grant, revoke, keep-alive (a stream), time-to-live, list.
//!
//! Mirrors etcd `server/etcdserver/api/v3rpc/lease.go`, including its quiet answers: a
//! keep-alive for an unknown lease gets TTL 0 and a time-to-live query gets TTL -1, not errors;
//! clients turn those into "lease not found" themselves.

use std::pin::Pin;
use std::time::Instant;

use futures::Stream;
use skiff_proto::etcdserverpb::{
    lease_server::Lease, LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseStatus,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::handle;
use crate::error::StoreError;
use crate::store::Store;
use crate::validate;

pub struct LeaseService {
    pub store: Store,
}

type KeepAliveStream = Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(&self, request: Request<LeaseGrantRequest>) -> Result<Response<LeaseGrantResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let result = async {
            validate::check_size(&req)?;
            let (id, ttl, revision) = self.store.lease_grant(req.id, req.ttl).await?;
            tracing::debug!(lease = format!("{id:016x}"), ttl, "lease granted");
            Ok::<_, StoreError>(LeaseGrantResponse {
                header: self.store.ids().header(revision),
                id,
                ttl,
                error: String::new(),
            })
        }
        .await;
        handle("LeaseGrant", started, result)
    }

    async fn lease_revoke(
        &self,
        request: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let started = Instant::now();
        let id = request.into_inner().id;
        let result = async {
            let revision = self.store.lease_revoke(id).await?;
            tracing::debug!(lease = format!("{id:016x}"), revision, "lease revoked");
            Ok::<_, StoreError>(LeaseRevokeResponse { header: self.store.ids().header(revision) })
        }
        .await;
        handle("LeaseRevoke", started, result)
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let store = self.store.clone();
        tokio::spawn(async move {
            while let Ok(Some(req)) = inbound.message().await {
                let header = store.ids().header(store.current_revision());
                let ttl = store.lease_keep_alive(req.id).unwrap_or(0);
                let response = LeaseKeepAliveResponse { header, id: req.id, ttl };
                if tx.send(Ok(response)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let header = self.store.ids().header(self.store.current_revision());
        let response = match self.store.lease_time_to_live(req.id) {
            Some((remaining, granted, keys)) => LeaseTimeToLiveResponse {
                header,
                id: req.id,
                ttl: remaining,
                granted_ttl: granted,
                keys: if req.keys { keys } else { vec![] },
            },
            None => LeaseTimeToLiveResponse { header, id: req.id, ttl: -1, granted_ttl: 0, keys: vec![] },
        };
        handle("LeaseTimeToLive", started, Ok(response))
    }

    async fn lease_leases(
        &self,
        _request: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        let started = Instant::now();
        let leases = self.store.lease_ids().into_iter().map(|id| LeaseStatus { id }).collect();
        let header = self.store.ids().header(self.store.current_revision());
        handle("LeaseLeases", started, Ok(LeaseLeasesResponse { header, leases }))
    }
}
