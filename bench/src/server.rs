//! One server under test: a child process on free loopback ports, with a fresh data directory.
//!
//! A [`Server`] is a guard. Dropping it kills the process and then removes its directory, so a
//! benchmark that fails, panics or is interrupted leaves neither a process nor a few hundred
//! megabytes of data behind. Both stores run with their default durability: no put is
//! acknowledged before the server's disk sync (etcd: `fdatasync` of its WAL; skiff-store: sled's
//! flush, once per commit group). The API server keeps nothing on disk; its directory holds only
//! its log.
//!
//! The cluster benchmarks (`bench-pods`, `bench-rollout`) start every daemon of a cluster this
//! way, with the flags `scripts/up.sh` gives them: the store, the API server, the scheduler, the
//! controller-manager and a kubelet. A killed kubelet leaves its pods' containers running; the
//! cluster's own guard removes them (`cluster/processes.rs`).

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use skiff_proto::etcdserverpb::RangeRequest;
use skiff_store::client::StoreClient;
use tempfile::TempDir;

use crate::api::http::{Connection, Method};
use crate::error::BenchError;

/// How long a server may take to answer its first request. A fresh etcd elects itself leader
/// after about a second; anything near this bound means it is not coming up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines of the server's log quoted when it fails to start.
const LOG_TAIL_LINES: usize = 20;

/// The request that tells a server is serving.
#[derive(Debug, Clone, Copy)]
enum Ready {
    /// A store: a Range answers.
    Range,
    /// The API server: `GET /readyz` is 200, which it serves only once it has reached the
    /// store and created the initial namespaces.
    Readyz,
    /// The scheduler, the controller-manager and the kubelet: `GET /metrics` on their
    /// `--metrics-listen` address is 200. They open it early, so this says the process runs and
    /// parsed its flags; whether it has done its first work (caches synced, node registered) is
    /// for the caller to wait for.
    Metrics,
}

impl Ready {
    fn describe(self) -> &'static str {
        match self {
            Ready::Range => "answer a Range",
            Ready::Readyz => "answer GET /readyz",
            Ready::Metrics => "answer GET /metrics",
        }
    }

    async fn answered(self, endpoint: &str) -> bool {
        match self {
            Ready::Range => answers_range(endpoint).await,
            Ready::Readyz => answers_get(endpoint, "/readyz").await,
            Ready::Metrics => answers_get(endpoint, "/metrics").await,
        }
    }
}

pub struct Server {
    pub name: &'static str,
    /// `127.0.0.1:PORT`: what `StoreClient::connect` takes, the API server's REST address, or
    /// a daemon's metrics address.
    pub endpoint: String,
    /// The API server's gRPC address (`127.0.0.1:PORT`), which the daemons and `skiff_client`
    /// use; none for the other servers.
    pub grpc_endpoint: Option<String>,
    ready: Ready,
    child: Child,
    /// Holds the data directory and the log; removed on drop, after the process is killed.
    dir: TempDir,
}

impl Server {
    /// Starts `skiff-store` with its data under a new directory in `parent`.
    pub async fn start_skiff(binary: &Path, parent: &Path) -> Result<Server, BenchError> {
        let name = "skiff-store";
        let [port] = free_ports(name)?;
        let dir = temp_dir(name, parent)?;
        let mut command = Command::new(binary);
        command
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            // etcd 3.4 does not compact unless asked; neither should the store it is compared to.
            .args(["--auto-compaction-retention", "0"]);
        Server::spawn(name, command, port, dir, Ready::Range).await
    }

    /// Starts `skiff-apiserver` in front of `store`, serving REST (and its internal gRPC API,
    /// which it always opens) on free ports. It keeps no data; its directory holds its log.
    pub async fn start_apiserver(binary: &Path, parent: &Path, store: &Server) -> Result<Server, BenchError> {
        let name = "skiff-apiserver";
        let [rest, grpc] = free_ports(name)?;
        let dir = temp_dir(name, parent)?;
        let mut command = Command::new(binary);
        command
            .arg("--store-endpoints")
            .arg(format!("http://{}", store.endpoint))
            .arg("--listen")
            .arg(format!("127.0.0.1:{rest}"))
            .arg("--grpc-listen")
            .arg(format!("127.0.0.1:{grpc}"));
        let mut server = Server::spawn(name, command, rest, dir, Ready::Readyz).await?;
        server.grpc_endpoint = Some(format!("127.0.0.1:{grpc}"));
        Ok(server)
    }

    /// Starts `skiff-store` for a whole cluster, as `scripts/up.sh` does: its default
    /// compaction (unlike [`Server::start_skiff`], which is compared with an etcd that compacts
    /// nothing) and a metrics listener.
    pub async fn start_cluster_store(binary: &Path, parent: &Path) -> Result<Server, BenchError> {
        let name = "skiff-store";
        let [port, metrics] = free_ports(name)?;
        let dir = temp_dir(name, parent)?;
        let mut command = Command::new(binary);
        command
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--metrics-listen")
            .arg(format!("127.0.0.1:{metrics}"))
            .arg("--data-dir")
            .arg(dir.path().join("data"));
        Server::spawn(name, command, port, dir, Ready::Range).await
    }

    /// Starts `skiff-scheduler` or `skiff-controller-manager` (`name`) against `apiserver`'s
    /// gRPC API, with metrics on a free port (its [`Server::endpoint`]).
    pub async fn start_controller(
        name: &'static str,
        binary: &Path,
        parent: &Path,
        apiserver: &Server,
    ) -> Result<Server, BenchError> {
        let [metrics] = free_ports(name)?;
        let dir = temp_dir(name, parent)?;
        let mut command = Command::new(binary);
        command.arg("--api").arg(apiserver.grpc()).arg("--metrics-listen").arg(format!("127.0.0.1:{metrics}"));
        Server::spawn(name, command, metrics, dir, Ready::Metrics).await
    }

    /// Starts `skiff-kubelet` for `node` against `apiserver`, with this node's pod addresses
    /// `pod_cidr`, its root directory inside the server's own directory, and its streaming
    /// server and metrics on free ports (metrics are its [`Server::endpoint`]). Ready once it
    /// serves metrics; that the Node is Ready is the caller's to wait for.
    pub async fn start_kubelet(
        binary: &Path,
        parent: &Path,
        apiserver: &Server,
        node: &str,
        pod_cidr: &str,
    ) -> Result<Server, BenchError> {
        let name = "skiff-kubelet";
        let [streams, metrics] = free_ports(name)?;
        let dir = temp_dir(name, parent)?;
        let mut command = Command::new(binary);
        command
            .arg("--api")
            .arg(apiserver.grpc())
            .args(["--node-name", node, "--pod-cidr", pod_cidr])
            .arg("--root-dir")
            .arg(dir.path().join("root"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{streams}"))
            .arg("--metrics-listen")
            .arg(format!("127.0.0.1:{metrics}"));
        Server::spawn(name, command, metrics, dir, Ready::Metrics).await
    }

    /// The API server's gRPC address; empty for another server.
    pub fn grpc(&self) -> &str {
        self.grpc_endpoint.as_deref().unwrap_or_default()
    }

    /// Starts a one-member etcd cluster with its data under a new directory in `parent`.
    pub async fn start_etcd(binary: &Path, parent: &Path) -> Result<Server, BenchError> {
        let name = "etcd";
        let [client, peer] = free_ports(name)?;
        let dir = temp_dir(name, parent)?;
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut command = Command::new(binary);
        command
            .args(["--name", "bench", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("bench={peer_url}")]);
        Server::spawn(name, command, client, dir, Ready::Range).await
    }

    /// Runs `command` with its output going to a log in `dir`, and waits until it serves.
    async fn spawn(
        name: &'static str,
        mut command: Command,
        port: u16,
        dir: TempDir,
        ready: Ready,
    ) -> Result<Server, BenchError> {
        let prepare = |source| BenchError::Prepare { server: name, source };
        let log = File::create(dir.path().join("server.log")).map_err(prepare)?;
        let log_err = log.try_clone().map_err(prepare)?;
        // Plain log lines (no colours), so that a benchmark can read the daemons' logs.
        command.stdin(Stdio::null()).stdout(log).stderr(log_err).env("NO_COLOR", "1");
        let child = command.spawn().map_err(|source| BenchError::Spawn { server: name, source })?;
        // From here on the guard exists: an early return kills the process.
        let endpoint = format!("127.0.0.1:{port}");
        let mut server = Server { name, endpoint, grpc_endpoint: None, ready, child, dir };
        server.wait_ready().await?;
        Ok(server)
    }

    /// Polls until the server answers, the process exits, or [`START_TIMEOUT`] passes.
    async fn wait_ready(&mut self) -> Result<(), BenchError> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::Exited { server: self.name, status, log_tail: self.log_tail() });
            }
            if started.elapsed() > START_TIMEOUT {
                let seconds = START_TIMEOUT.as_secs();
                let (server, what, log_tail) = (self.name, self.ready.describe(), self.log_tail());
                return Err(BenchError::NotReady { server, what, seconds, log_tail });
            }
            // Bounded, because an etcd without a leader yet holds a linearizable read.
            let attempt = tokio::time::timeout(Duration::from_secs(1), self.ready.answered(&self.endpoint));
            if let Ok(true) = attempt.await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id, to read its CPU time (`cpu.rs`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log file (its stdout and stderr).
    pub fn log_path(&self) -> std::path::PathBuf {
        self.dir.path().join("server.log")
    }

    /// The last lines of the server's log, for an error message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

impl Drop for Server {
    /// SIGKILL rather than a clean stop: the data is about to be deleted anyway. `wait` reaps
    /// the process so that its files are closed before `dir` is removed.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn answers_range(endpoint: &str) -> bool {
    let Ok(mut client) = StoreClient::connect(&[endpoint.to_string()]).await else {
        return false;
    };
    let request = RangeRequest { key: "bench/ready".into(), ..Default::default() };
    client.kv.range(request).await.is_ok()
}

async fn answers_get(endpoint: &str, path: &str) -> bool {
    let Ok(mut connection) = Connection::open(endpoint).await else {
        return false;
    };
    connection.send(Method::Get, path, b"").await.is_ok_and(|response| response.status == 200)
}

/// `N` distinct free ports. All are bound at once, so the OS cannot hand out one twice, then
/// released for the server to take; another process could grab one in between, which on a
/// benchmark machine is unlikely enough.
fn free_ports<const N: usize>(server: &'static str) -> Result<[u16; N], BenchError> {
    let prepare = |source| BenchError::Prepare { server, source };
    let mut listeners = Vec::with_capacity(N);
    for _ in 0..N {
        listeners.push(TcpListener::bind("127.0.0.1:0").map_err(prepare)?);
    }
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr().map_err(prepare)?.port();
    }
    Ok(ports)
}

fn temp_dir(server: &'static str, parent: &Path) -> Result<TempDir, BenchError> {
    tempfile::Builder::new()
        .prefix(&format!("skiff-bench-{server}-"))
        .tempdir_in(parent)
        .map_err(|source| BenchError::Prepare { server, source })
}

/// Runs a benchmark to its end, or until Ctrl-C. Interrupted, the benchmark's future is
/// dropped, and with it every guard it holds (servers, containers, rules): nothing is left
/// running.
pub async fn until_interrupted(benchmark: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::select! {
        result = benchmark => result,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
    }
}
