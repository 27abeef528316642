//! Create, get, list and update of pods through REST, at one client and at many.
//!
//! Each client has its own keep-alive connection and one request in flight, as separate
//! controllers, kubelets and `kubectl`s would. The verbs, as the API server's owner would see
//! them:
//!
//! - **create**: `POST /api/v1/namespaces/bench-create/pods` with a new name every time.
//! - **get**: `GET /api/v1/namespaces/bench-list/pods/NAME`, cycling over that namespace's pods.
//! - **list**: `GET /api/v1/namespaces/bench-list/pods`, a namespace of exactly 100 pods.
//! - **update**: `PUT /api/v1/namespaces/bench-update/pods/NAME` of the client's own pod, with
//!   the resourceVersion the previous answer gave (optimistic concurrency, as a controller
//!   writes), changing one annotation. No two clients share a pod, so none ever conflicts.
//!
//! The clients connect and warm up first, meet at a barrier, and only then does the timing
//! start, so connection set-up is not timed. Every request's latency is kept; throughput is all
//! requests over the span from the first start to the last finish. The servers' CPU time
//! (`cpu.rs`) is read at that barrier and after the last client is done.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Barrier, Mutex};

use super::http::{Connection, Method};
use super::plan::LISTED_PODS;
use super::pod::{self, Pod};
use crate::cpu;
use crate::error::BenchError;
use crate::stats::Percentiles;
use crate::throughput::{ops_per_second, ClientRun};

/// Where each verb's pods live; `prepare` creates them.
pub const CREATE_NAMESPACE: &str = "bench-create";
pub const LIST_NAMESPACE: &str = "bench-list";
pub const UPDATE_NAMESPACE: &str = "bench-update";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Get,
    List,
    Update,
}

impl Verb {
    /// In the order of their discriminants, so that `verb as usize` indexes a list of runs.
    pub const ALL: [Verb; 4] = [Verb::Create, Verb::Get, Verb::List, Verb::Update];

    pub fn name(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Get => "get",
            Verb::List => "list(100)",
            Verb::Update => "update",
        }
    }
}

/// The processes whose CPU time is read around a run.
#[derive(Debug, Clone, Copy)]
pub struct Pids {
    pub apiserver: u32,
    pub store: u32,
}

/// How many clients, and for how long.
#[derive(Debug, Clone)]
pub struct Load {
    pub clients: usize,
    /// Untimed requests per client before the barrier.
    pub warmup: usize,
    pub stop: Stop,
    /// Makes this run's created names unique (`c16-r2`).
    pub label: String,
}

#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// This many timed requests per client.
    After(usize),
    /// Timed requests until this much time has passed.
    For(Duration),
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct Run {
    pub latency: Percentiles,
    /// Requests per second, all clients together.
    pub per_second: f64,
    /// CPU time (user + system) per request of each process.
    pub apiserver_cpu: Option<Duration>,
    pub store_cpu: Option<Duration>,
    /// This benchmark's own: what the client takes from the same two cores.
    pub client_cpu: Option<Duration>,
    /// Body bytes of one answer (the last one a client got): what a request returns.
    pub answer_bytes: usize,
}

/// One client: a connection and what it needs for its next request.
struct Client {
    connection: Connection,
    verb: Verb,
    pod: Arc<Pod>,
    /// Its creates' names start with this; its update target is `update-ID`.
    name: String,
    sent: u64,
    /// For updates: the resourceVersion the last answer carried.
    resource_version: String,
    answer_bytes: usize,
}

impl Client {
    async fn new(address: &str, verb: Verb, id: usize, label: &str, pod: Arc<Pod>) -> Result<Client, BenchError> {
        let mut connection = Connection::open(address).await?;
        let (name, resource_version) = match verb {
            Verb::Update => {
                let name = update_name(id);
                let current = connection.expect(Method::Get, &pod_path(UPDATE_NAMESPACE, &name), b"", 200).await?;
                let version = pod::resource_version(&current).ok_or_else(|| no_version(&name))?;
                (name, version)
            }
            _ => (format!("{label}-{id:02}"), String::new()),
        };
        Ok(Client { connection, verb, pod, name, sent: 0, resource_version, answer_bytes: 0 })
    }

    async fn once(&mut self) -> Result<(), BenchError> {
        self.sent += 1;
        let answer = match self.verb {
            Verb::Create => {
                let body = self.pod.create(&format!("{}-{:06}", self.name, self.sent));
                self.connection.expect(Method::Post, &pods_path(CREATE_NAMESPACE), &body, 201).await?
            }
            Verb::Get => {
                let name = listed_name(self.sent as usize % LISTED_PODS);
                self.connection.expect(Method::Get, &pod_path(LIST_NAMESPACE, &name), b"", 200).await?
            }
            Verb::List => self.connection.expect(Method::Get, &pods_path(LIST_NAMESPACE), b"", 200).await?,
            Verb::Update => {
                let body = self.pod.update(&self.name, &self.resource_version, self.sent);
                let path = pod_path(UPDATE_NAMESPACE, &self.name);
                let answer = self.connection.expect(Method::Put, &path, &body, 200).await?;
                self.resource_version = pod::resource_version(&answer).ok_or_else(|| no_version(&self.name))?;
                answer
            }
        };
        self.answer_bytes = answer.len();
        Ok(())
    }
}

/// CPU times read at one moment: the API server's, the store's, this process's.
type CpuTimes = [Option<Duration>; 3];

fn cpu_now(pids: Pids) -> CpuTimes {
    [cpu::process_time(pids.apiserver), cpu::process_time(pids.store), cpu::process_time(std::process::id())]
}

/// Runs `verb` under `load` against the API server at `address`.
pub async fn run(address: &str, pids: Pids, pod: &Arc<Pod>, verb: Verb, load: &Load) -> Result<Run, BenchError> {
    let mut clients = Vec::with_capacity(load.clients);
    for id in 0..load.clients {
        clients.push(Client::new(address, verb, id, &load.label, pod.clone()).await?);
    }
    let barrier = Arc::new(Barrier::new(load.clients));
    let cpu_at_start = Arc::new(Mutex::new([None; 3]));
    let mut tasks = Vec::with_capacity(load.clients);
    for client in clients {
        let (barrier, cpu_at_start) = (barrier.clone(), cpu_at_start.clone());
        tasks.push(tokio::spawn(drive(client, load.warmup, load.stop, barrier, cpu_at_start, pids)));
    }
    let mut runs = Vec::with_capacity(tasks.len());
    let mut samples = Vec::new();
    let mut answer_bytes = 0;
    for task in tasks {
        let (run, latencies, bytes) = task.await??;
        runs.push(run);
        samples.extend(latencies);
        answer_bytes = bytes;
    }
    let after = cpu_now(pids);
    let before = *cpu_at_start.lock().await;
    let ops: u64 = runs.iter().map(|r| r.ops).sum();
    let per_op = |i: usize| {
        let spent = after[i]?.checked_sub(before[i]?)?;
        (ops > 0).then(|| spent / ops as u32)
    };
    Ok(Run {
        latency: Percentiles::of(samples),
        per_second: ops_per_second(&runs),
        apiserver_cpu: per_op(0),
        store_cpu: per_op(1),
        client_cpu: per_op(2),
        answer_bytes,
    })
}

/// One client: warm up, wait for the others (one of them reads the CPU times), then go.
async fn drive(
    mut client: Client,
    warmup: usize,
    stop: Stop,
    barrier: Arc<Barrier>,
    cpu_at_start: Arc<Mutex<CpuTimes>>,
    pids: Pids,
) -> Result<(ClientRun, Vec<Duration>, usize), BenchError> {
    for _ in 0..warmup {
        client.once().await?;
    }
    if barrier.wait().await.is_leader() {
        *cpu_at_start.lock().await = cpu_now(pids);
    }
    // A second meeting, so that nobody starts before the CPU times are read.
    barrier.wait().await;
    let mut latencies = Vec::with_capacity(match stop {
        Stop::After(count) => count,
        Stop::For(_) => 4096,
    });
    let started = Instant::now();
    let mut finished = started;
    loop {
        let done = match stop {
            Stop::After(count) => latencies.len() >= count,
            Stop::For(time) => finished - started >= time,
        };
        if done {
            break;
        }
        let sent = Instant::now();
        client.once().await?;
        finished = Instant::now();
        latencies.push(finished - sent);
    }
    let ops = latencies.len() as u64;
    Ok((ClientRun { ops, started, finished }, latencies, client.answer_bytes))
}

/// Creates the namespaces, the 100 pods to list and get, and one pod per client to update.
/// Returns the size of the list the list workload reads, in bytes, once checked that it holds
/// exactly the 100.
pub async fn prepare(address: &str, pod: &Pod, clients: usize) -> Result<usize, BenchError> {
    let mut connection = Connection::open(address).await?;
    for namespace in [CREATE_NAMESPACE, LIST_NAMESPACE, UPDATE_NAMESPACE] {
        create_namespace(&mut connection, namespace).await?;
    }
    for i in 0..LISTED_PODS {
        let body = pod.create(&listed_name(i));
        connection.expect(Method::Post, &pods_path(LIST_NAMESPACE), &body, 201).await?;
    }
    for id in 0..clients {
        let body = pod.create(&update_name(id));
        connection.expect(Method::Post, &pods_path(UPDATE_NAMESPACE), &body, 201).await?;
    }
    let list = connection.expect(Method::Get, &pods_path(LIST_NAMESPACE), b"", 200).await?;
    let items = serde_json::from_slice::<Value>(&list).ok().and_then(|l| l["items"].as_array().map(Vec::len));
    if items != Some(LISTED_PODS) {
        return Err(BenchError::BadResponse(format!("{LIST_NAMESPACE} lists {items:?} pods, not {LISTED_PODS}")));
    }
    Ok(list.len())
}

pub async fn create_namespace(connection: &mut Connection, name: &str) -> Result<(), BenchError> {
    let body = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{name}"}}}}"#);
    connection.expect(Method::Post, "/api/v1/namespaces", body.as_bytes(), 201).await?;
    Ok(())
}

pub fn pods_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods")
}

pub fn pod_path(namespace: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{name}")
}

fn listed_name(i: usize) -> String {
    format!("listed-{i:03}")
}

fn update_name(client: usize) -> String {
    format!("updated-{client:02}")
}

fn no_version(name: &str) -> BenchError {
    BenchError::BadResponse(format!("pod {name} came back without a resourceVersion"))
}
