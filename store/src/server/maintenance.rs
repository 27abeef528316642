//! The parts of the Maintenance and Cluster services that tools ask for: `Status` (for
//! `etcdctl endpoint status`), `Alarm` (health checks list alarms) and `MemberList`.
//!
//! Mirrors etcd `server/etcdserver/api/v3rpc/maintenance.go` and `member.go`. A single store is
//! a one-member cluster that is always its own leader; it has no raft log, so it reports its
//! revision as the raft index. It raises no alarms.

use std::time::Instant;

use skiff_proto::etcdserverpb::{
    alarm_request::AlarmAction, cluster_server::Cluster, maintenance_server::Maintenance, AlarmRequest, AlarmResponse,
    Member, MemberListRequest, MemberListResponse, StatusRequest, StatusResponse,
};
use tonic::{Request, Response, Status};

use super::handle;
use crate::store::Store;

/// The etcd version whose API skiff-store speaks, as `etcdctl endpoint status` prints it.
pub const ETCD_API_VERSION: &str = "3.5.0";

pub struct MaintenanceService {
    pub store: Store,
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, request: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        if req.action == AlarmAction::Activate as i32 {
            let status = Status::unimplemented("skiff-store raises no alarms");
            crate::metrics::observe::<()>("Alarm", started, &Err(status.clone()));
            return Err(status);
        }
        // Listing or disarming: there is never anything to list or disarm.
        let header = self.store.ids().header(self.store.current_revision());
        handle("Alarm", started, Ok(AlarmResponse { header, alarms: vec![] }))
    }

    async fn status(&self, _request: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let started = Instant::now();
        let ids = self.store.ids();
        let revision = self.store.current_revision();
        let size = self.store.db_size() as i64;
        let response = StatusResponse {
            header: ids.header(revision),
            version: ETCD_API_VERSION.to_string(),
            db_size: size,
            leader: ids.member_id,
            raft_index: revision as u64,
            raft_term: ids.term,
            raft_applied_index: revision as u64,
            errors: vec![],
            db_size_in_use: size,
            is_learner: false,
        };
        handle("Status", started, Ok(response))
    }
}

pub struct ClusterService {
    pub store: Store,
    pub name: String,
    pub client_url: String,
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_list(&self, _request: Request<MemberListRequest>) -> Result<Response<MemberListResponse>, Status> {
        let started = Instant::now();
        let ids = self.store.ids();
        let member = Member {
            id: ids.member_id,
            name: self.name.clone(),
            peer_ur_ls: vec![],
            client_ur_ls: vec![self.client_url.clone()],
            is_learner: false,
        };
        // etcd's member calls carry revision 0 in their header.
        let response = MemberListResponse { header: ids.header(0), members: vec![member] };
        handle("MemberList", started, Ok(response))
    }
}
