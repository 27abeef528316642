//! The KV service: Range, Put, DeleteRange, Txn, Compact.
//!
//! Mirrors etcd `server/etcdserver/api/v3rpc/key.go`.

use std::time::Instant;

use skiff_proto::etcdserverpb::{
    kv_server::Kv, CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use tonic::{Request, Response, Status};

use super::handle;
use crate::error::StoreError;
use crate::store::Store;
use crate::validate;

pub struct KvService {
    pub store: Store,
}

impl KvService {
    fn fill(&self, header: &mut Option<skiff_proto::etcdserverpb::ResponseHeader>) {
        self.store.ids().fill(header, self.store.current_revision());
    }
}

/// Whether a txn only reads (etcd does not size-check those).
fn is_read_only(txn: &TxnRequest) -> bool {
    use skiff_proto::etcdserverpb::request_op::Request as Op;
    txn.success.iter().chain(&txn.failure).all(|op| match &op.request {
        Some(Op::RequestRange(_)) => true,
        Some(Op::RequestTxn(nested)) => is_read_only(nested),
        _ => false,
    })
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, request: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let result = validate::check_range(&req).and_then(|_| {
            let mut resp = self.store.range(&req)?;
            self.fill(&mut resp.header);
            Ok(resp)
        });
        handle("Range", started, result)
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let result = async {
            validate::check_put(&req)?;
            validate::check_size(&req)?;
            let mut resp = self.store.put(req).await?;
            self.fill(&mut resp.header);
            Ok::<_, StoreError>(resp)
        }
        .await;
        handle("Put", started, result)
    }

    async fn delete_range(
        &self,
        request: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let result = async {
            validate::check_delete(&req)?;
            validate::check_size(&req)?;
            let mut resp = self.store.delete_range(req).await?;
            self.fill(&mut resp.header);
            Ok::<_, StoreError>(resp)
        }
        .await;
        handle("DeleteRange", started, result)
    }

    async fn txn(&self, request: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let result = async {
            validate::check_txn(&req)?;
            if !is_read_only(&req) {
                validate::check_size(&req)?;
            }
            let mut resp = self.store.txn(req).await?;
            self.fill(&mut resp.header);
            Ok::<_, StoreError>(resp)
        }
        .await;
        handle("Txn", started, result)
    }

    async fn compact(&self, request: Request<CompactionRequest>) -> Result<Response<CompactionResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let result = async {
            // Compaction here is always physical: the records go in the same batch.
            let revision = self.store.compact(req.revision).await?;
            tracing::info!(revision = req.revision, "compacted");
            Ok::<_, StoreError>(CompactionResponse { header: self.store.ids().header(revision) })
        }
        .await;
        handle("Compact", started, result)
    }
}
