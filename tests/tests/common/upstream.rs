//! A DNS server standing in for the host's resolvers (the machines these tests run on reach no
//! internet): it knows a few names, answers NXDOMAIN for the rest, and records every question,
//! so a test can tell that the cluster DNS forwarded a name rather than made up an answer.
//! UDP only: the cluster DNS forwards over UDP first, and these answers are small.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

pub struct Upstream {
    pub address: SocketAddr,
    /// Every name asked, as asked (`www.outside.test.`).
    pub asked: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Upstream {
    /// Serves `names` (fully qualified, with the final dot) on a free port of 127.0.0.1.
    pub async fn start(names: &[(&str, Ipv4Addr)]) -> Upstream {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let names: BTreeMap<String, Ipv4Addr> = names.iter().map(|(n, ip)| (n.to_ascii_lowercase(), *ip)).collect();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let task = tokio::spawn(async move {
            let mut buffer = vec![0; 4096];
            while let Ok((length, from)) = socket.recv_from(&mut buffer).await {
                let Ok(query) = Message::from_vec(&buffer[..length]) else { continue };
                let answer = answer(&query, &names, &log);
                if let Ok(bytes) = answer.to_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        Upstream { address, asked, task }
    }

    pub fn was_asked(&self, name: &str) -> bool {
        self.asked.lock().unwrap().iter().any(|asked| asked.eq_ignore_ascii_case(name))
    }
}

fn answer(query: &Message, names: &BTreeMap<String, Ipv4Addr>, log: &Mutex<Vec<String>>) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    let Some(question) = query.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    response.add_query(question.clone());
    let name = question.name().to_ascii().to_ascii_lowercase();
    log.lock().unwrap().push(name.clone());
    match names.get(&name) {
        Some(ip) if question.query_type() == RecordType::A => {
            response.add_answer(Record::from_rdata(question.name().clone(), 60, RData::A(A(*ip))));
        }
        // The name exists; it has no record of this type (AAAA).
        Some(_) => {}
        None => response.metadata.response_code = ResponseCode::NXDomain,
    }
    response
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}
