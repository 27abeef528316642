//! The client side: what the API server (and the benchmark) use to talk to skiff-store or to a
//! real etcd cluster, through the same etcd v3 gRPC API.
//!
//! A thin layer over the generated clients: connecting to one or several endpoints (requests are
//! spread across them), plus what Kubernetes' storage layer does with them
//! (`staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go`): writes guarded by a compare
//! (`guarded.rs`), lists of a prefix at a revision, and watches that say when their history was
//! compacted (`watch.rs`). The generated clients stay public for everything else.

pub mod guarded;
pub mod watch;

pub use guarded::{Guarded, Listed};
pub use skiff_proto::etcdserverpb::CompactionRequest;
pub use watch::{WatchError, WatchEvent, WatchMessage, WatchStream};

use std::time::Duration;

use bytes::Bytes;
use skiff_proto::etcdserverpb::{
    kv_client::KvClient, lease_client::LeaseClient, maintenance_client::MaintenanceClient, watch_client::WatchClient,
    PutRequest, RangeRequest,
};
use skiff_proto::mvccpb::KeyValue;
use tonic::transport::{Channel, Endpoint};

use crate::validate::MAX_GRPC_MESSAGE_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no store endpoint given")]
    NoEndpoints,
    #[error("bad store endpoint {endpoint:?}")]
    BadEndpoint {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("cannot connect to the store at {endpoint}")]
    Connect {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("store request failed: {0}")]
    Rpc(#[from] tonic::Status),
}

/// Clients of every service, sharing one connection (HTTP/2 multiplexes them).
#[derive(Clone)]
pub struct StoreClient {
    pub kv: KvClient<Channel>,
    pub watch: WatchClient<Channel>,
    pub lease: LeaseClient<Channel>,
    pub maintenance: MaintenanceClient<Channel>,
}

/// Accepts `host:port` as well as `http://host:port`, as etcdctl does.
fn endpoint(address: &str) -> Result<Endpoint, ClientError> {
    let url = if address.contains("://") { address.to_string() } else { format!("http://{address}") };
    Endpoint::from_shared(url)
        .map(|e| e.connect_timeout(Duration::from_secs(5)).tcp_nodelay(true))
        .map_err(|source| ClientError::BadEndpoint { endpoint: address.to_string(), source })
}

impl StoreClient {
    /// Connects to `endpoints`: one connection for one endpoint, a balanced set for several.
    pub async fn connect(endpoints: &[String]) -> Result<StoreClient, ClientError> {
        let channel = match endpoints {
            [] => return Err(ClientError::NoEndpoints),
            [one] => endpoint(one)?
                .connect()
                .await
                .map_err(|source| ClientError::Connect { endpoint: one.clone(), source })?,
            many => {
                let list = many.iter().map(|e| endpoint(e)).collect::<Result<Vec<_>, _>>()?;
                Channel::balance_list(list.into_iter())
            }
        };
        Ok(StoreClient::from_channel(channel))
    }

    pub fn from_channel(channel: Channel) -> StoreClient {
        let limit = MAX_GRPC_MESSAGE_BYTES;
        StoreClient {
            kv: KvClient::new(channel.clone()).max_decoding_message_size(usize::MAX).max_encoding_message_size(limit),
            watch: WatchClient::new(channel.clone()).max_decoding_message_size(usize::MAX),
            lease: LeaseClient::new(channel.clone()),
            maintenance: MaintenanceClient::new(channel),
        }
    }

    /// The key's current version, if it exists.
    pub async fn get(&mut self, key: impl Into<Bytes>) -> Result<Option<KeyValue>, ClientError> {
        let request = RangeRequest { key: key.into(), ..Default::default() };
        Ok(self.kv.range(request).await?.into_inner().kvs.into_iter().next())
    }

    /// Writes a key; returns the revision of the write.
    pub async fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<i64, ClientError> {
        let request = PutRequest { key: key.into(), value: value.into(), ..Default::default() };
        let response = self.kv.put(request).await?.into_inner();
        Ok(response.header.map(|h| h.revision).unwrap_or(0))
    }
}

/// The `range_end` that selects every key starting with `prefix` (what `etcdctl --prefix`
/// sends): the prefix with its last byte below 0xff incremented and the rest cut; `"\0"` (every
/// key) if there is no such byte.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        let cases: [(&[u8], &[u8]); 4] =
            [(b"foo", b"fop"), (b"/registry/pods/", b"/registry/pods0"), (b"a\xff", b"b"), (b"\xff\xff", b"\0")];
        for (prefix, want) in cases {
            assert_eq!(prefix_end(prefix), want, "{prefix:?}");
        }
    }
}
