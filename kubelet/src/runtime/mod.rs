//! The runtime boundary: what the kubelet asks of a container engine.
//!
//! Mirrors the idea of Kubernetes' CRI (`pkg/kubelet/container/runtime.go`,
//! `cri-api/.../api.proto`), but Docker-shaped and narrow: images, containers, a network, exec,
//! logs, attach. Pods, sandboxes and restart counts are the kubelet's ideas and live above this
//! trait (in labels, see [`crate::naming`]); the runtime only knows containers.
//!
//! Two implementations: [`docker::DockerRuntime`] (the Docker Engine API through bollard) and
//! [`fake::FakeRuntime`] (in memory, for unit tests and hollow nodes: it records every call and
//! fails on demand).
//!
//! Left out of CRI: sandboxes as a first-class object (a pause container is just a container
//! here), container stats, checkpointing, port forwarding.

pub mod docker;
pub mod fake;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use tokio::io::AsyncWrite;

/// What a runtime call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The container, image or network does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The engine refused the request (its own message, which users see in events).
    #[error("{message}")]
    Refused { status: u16, message: String },
    /// The engine could not be reached or answered nonsense.
    #[error("the container runtime failed: {0}")]
    Engine(String),
    /// A call took longer than it was given.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

impl RuntimeError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, RuntimeError::NotFound(_))
    }
}

pub type Result<T> = std::result::Result<T, RuntimeError>;

/// A local image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `sha256:…`
    pub id: String,
    /// `repo@sha256:…` for images that came from a registry; none for local builds.
    pub repo_digests: Vec<String>,
}

/// Which network a container joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Its own network namespace on a bridge network, with this address (or one the engine
    /// picks): the pause container.
    Bridge { network: String, address: Option<Ipv4Addr> },
    /// The network namespace of another container (`container:<id>`): a pod's containers.
    Container(String),
}

/// A bind mount of a host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host_path: String,
    pub container_path: String,
    pub read_only: bool,
}

/// Everything a container is created with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerConfig {
    pub name: String,
    pub image: String,
    /// Replaces the image's ENTRYPOINT (and then its CMD is not used): Kubernetes' `command`.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's CMD: Kubernetes' `args`.
    pub cmd: Option<Vec<String>>,
    /// `KEY=value`.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Only for containers with their own network namespace: joined ones share it.
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub network: Option<NetworkMode>,
    pub mounts: Vec<Mount>,
    /// Memory limit in bytes.
    pub memory_limit: Option<i64>,
    /// CPU limit in billionths of a core (Docker's `NanoCPUs`).
    pub nano_cpus: Option<i64>,
    /// Relative CPU weight (from the CPU request, 1024 per core).
    pub cpu_shares: Option<i64>,
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Exited,
    /// Paused, restarting, being removed, dead: nothing the kubelet makes.
    Unknown,
}

/// The exit code of a container whose start failed (containerd's `errorStartExitCode`; Docker
/// itself says 127 for a missing executable, 126 for one that cannot run).
pub const START_ERROR_EXIT_CODE: i64 = 128;

/// A container as a list shows it: enough to notice that something changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub state: ContainerState,
}

/// A container with its state in full.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub state: ContainerState,
    /// The image as asked for (`skiff/demo-web:v1`).
    pub image: String,
    /// The image's id (`sha256:…`).
    pub image_id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub exit_code: i64,
    pub oom_killed: bool,
    /// What the engine says went wrong starting it.
    pub error: String,
    /// It was created but the engine could not start it (`error` says why). Such a container is
    /// reported `Exited` with [`START_ERROR_EXIT_CODE`], finished when the start failed, as
    /// containerd's CRI reports it (`StartContainer`); the kubelet then treats it as a crash.
    pub start_failed: bool,
    /// Its address on its bridge network, if it has its own namespace.
    pub ip: Option<Ipv4Addr>,
}

/// A bridge network pods live on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub subnet: String,
    pub gateway: Ipv4Addr,
}

/// One piece of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

impl Output {
    pub fn bytes(&self) -> &Bytes {
        match self {
            Output::Stdout(b) | Output::Stderr(b) => b,
        }
    }
}

/// Which logs to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub follow: bool,
    /// The last N lines only.
    pub tail_lines: Option<i64>,
    /// Only lines newer than this (seconds since the epoch).
    pub since_unix: Option<i64>,
    /// Each line prefixed with its RFC 3339 timestamp.
    pub timestamps: bool,
}

/// A command to run in a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    pub tty: bool,
    pub stdin: bool,
}

/// A started exec (or attach): its output, its input, and an id to ask for its exit code.
pub struct Session {
    pub id: String,
    pub output: BoxStream<'static, Result<Output>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// What the kubelet asks of a container engine.
#[async_trait]
pub trait ContainerRuntime: Send + Sync + 'static {
    /// The engine's name and version: `docker://20.10.24`.
    async fn version(&self) -> Result<String>;

    /// The bridge network `name` with `subnet`, created if missing (several kubelets may race).
    async fn ensure_network(&self, name: &str, subnet: &str, gateway: Ipv4Addr) -> Result<Network>;

    /// The local image, or `None` if it is not present.
    async fn inspect_image(&self, image: &str) -> Result<Option<Image>>;
    /// Pulls the image from its registry.
    async fn pull_image(&self, image: &str) -> Result<Image>;

    /// Creates a container; its id.
    async fn create_container(&self, config: &ContainerConfig) -> Result<String>;
    /// Starts a created container. If the engine refuses, the container stays, reported as
    /// [`Container::start_failed`].
    async fn start_container(&self, id: &str) -> Result<()>;
    /// SIGTERM, then SIGKILL after `grace`.
    async fn stop_container(&self, id: &str, grace: Duration) -> Result<()>;
    /// Removes a container (stopped or not).
    async fn remove_container(&self, id: &str) -> Result<()>;

    /// Every container (running or not) that has all these labels.
    async fn list_containers(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerSummary>>;
    async fn inspect_container(&self, id: &str) -> Result<Container>;

    /// Starts a command in a running container.
    async fn exec(&self, id: &str, config: &ExecConfig) -> Result<Session>;
    /// The exit code of an exec, once it finished (`None` while it runs).
    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>>;
    /// Resizes the terminal of an exec (`exec_id`) or of a container's own (`container`).
    async fn resize(&self, target: ResizeTarget<'_>, width: u16, height: u16) -> Result<()>;
    /// Attaches to the main process' stdin/stdout/stderr.
    async fn attach(&self, id: &str, stdin: bool) -> Result<Session>;
    /// Waits for a container to exit; its exit code.
    async fn wait_container(&self, id: &str) -> Result<i64>;

    /// The container's log.
    fn logs(&self, id: &str, options: &LogOptions) -> BoxStream<'static, Result<Output>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeTarget<'a> {
    Exec(&'a str),
    Container(&'a str),
}

/// The result of running a command to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    pub exit_code: i64,
    /// Standard output and standard error together, as they came.
    pub output: String,
}

/// Runs `cmd` in the container and waits for it, at most `timeout` (exec probes, preStop
/// hooks). The output is capped at 10 KiB, as the kubelet caps probe output.
pub async fn run_to_end(
    runtime: &dyn ContainerRuntime,
    id: &str,
    cmd: &[String],
    timeout: Duration,
) -> Result<ExecResult> {
    use futures::StreamExt;
    const MAX_OUTPUT: usize = 10 * 1024;
    let work = async {
        let config = ExecConfig { cmd: cmd.to_vec(), tty: false, stdin: false };
        let mut session = runtime.exec(id, &config).await?;
        let mut output = Vec::new();
        while let Some(chunk) = session.output.next().await {
            let chunk = chunk?;
            let room = MAX_OUTPUT.saturating_sub(output.len());
            output.extend_from_slice(&chunk.bytes()[..chunk.bytes().len().min(room)]);
        }
        // The stream ends when the process does; its exit code may take a moment to show.
        for _ in 0..50 {
            if let Some(exit_code) = runtime.exec_exit_code(&session.id).await? {
                return Ok(ExecResult { exit_code, output: String::from_utf8_lossy(&output).into_owned() });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(RuntimeError::Engine(format!("exec {} has no exit code", session.id)))
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| RuntimeError::Timeout(timeout))?
}
