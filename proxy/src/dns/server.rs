//! hickory-server's request handler: each question goes to [`answer`] with the current view,
//! and, if it is not the cluster's, to the [`Forwarder`].
//!
//! In CoreDNS' terms this is the server block `.:53 { kubernetes cluster.local; forward . }`:
//! the zone first, the rest upstream. An `ExternalName` Service's CNAME is followed one step
//! (its target asked upstream), because a stub resolver expects the address with the alias.

use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::sync::watch;

use super::answer::{answer, Answer, Decision};
use super::forward::Forwarder;
use super::view::DnsView;
use crate::metrics;

pub struct Handler {
    /// The latest view; a query clones the `Arc` and never waits for an update.
    pub view: watch::Receiver<Arc<DnsView>>,
    pub forwarder: Arc<Forwarder>,
}

/// The largest UDP answer offered to a client that sent EDNS (RFC 6891's common choice).
const MAX_UDP_PAYLOAD: u16 = 1232;

impl Handler {
    /// The answer to one question, and who gave it.
    async fn resolve(&self, name: &hickory_proto::rr::Name, asked: RecordType) -> (Answer, &'static str) {
        let view = self.view.borrow().clone();
        match answer(name, asked, &view) {
            Decision::Answer(mut found) => {
                // An ExternalName alias: its target's records, from upstream.
                let alias = match found.answers.last().map(|r| &r.data) {
                    Some(RData::CNAME(target)) if asked != RecordType::CNAME => Some(target.0.clone()),
                    _ => None,
                };
                if let Some(target) = alias {
                    found.answers.extend(self.forwarder.forward(&target, asked).await.answers);
                }
                (found, "cluster")
            }
            Decision::Forward => (self.forwarder.forward(name, asked).await, "forward"),
        }
    }
}

fn rcode_label(rcode: ResponseCode) -> &'static str {
    match rcode {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::NotImp => "NOTIMP",
        _ => "OTHER",
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut handle: R) -> ResponseInfo {
        let started = Instant::now();
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = true;
        let edns = request.edns.as_ref().map(|asked| {
            let mut edns = Edns::new();
            edns.set_max_payload(asked.max_payload().clamp(512, MAX_UDP_PAYLOAD));
            edns
        });
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let question = match request.request_info() {
            Ok(info)
                if request.metadata.message_type == MessageType::Query && request.metadata.op_code == OpCode::Query =>
            {
                Some((info.query.name().into(), info.query.query_type()))
            }
            _ => None,
        };
        let Some((name, asked)) = question else {
            metadata.response_code = ResponseCode::NotImp;
            let response = builder.build_no_records(metadata);
            return match handle.send_response(response).await {
                Ok(info) => info,
                Err(_) => ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() }),
            };
        };
        let (found, source) = self.resolve(&name, asked).await;
        metadata.response_code = found.rcode;
        metadata.authoritative = source == "cluster";
        metrics::DNS_RESPONSES.with_label_values(&[rcode_label(found.rcode), source]).inc();
        metrics::DNS_DURATION.with_label_values(&[source]).observe(started.elapsed().as_secs_f64());
        tracing::debug!(%name, ?asked, rcode = %found.rcode, source, "answered");
        let response = builder.build(metadata, &found.answers, [], &found.soa, &found.additionals);
        match handle.send_response(response).await {
            Ok(info) => info,
            Err(err) => {
                tracing::debug!(cause = %err, "cannot send a DNS response");
                ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() })
            }
        }
    }
}
