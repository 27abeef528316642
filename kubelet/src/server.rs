//! The kubelet's streaming server: container logs, exec and attach, for the API server.
//!
//! Mirrors `pkg/kubelet/server/server.go` (`getContainerLogs`, `getExec`, `getAttach`) and the
//! CRI streaming of `pkg/kubelet/cri/streaming`, over the gRPC service of
//! `proto/skiff/kubelet.proto` (read it for the wire contract and its mapping to kubectl's
//! WebSocket channels). The container is found by the labels the kubelet gave it (node,
//! namespace, pod, uid, container name), the newest instance first, so the server needs nothing
//! from the pod workers.
//!
//! - **Logs**: Docker's log of the container (or of its previous instance), with `follow`,
//!   `tailLines`, `sinceSeconds`, `timestamps`, and `limitBytes` applied here.
//! - **Exec**: a Docker exec; stdin, resize and close from the client, stdout and stderr to it,
//!   and the exit code last.
//! - **Attach**: the same over the container's own process (it needs `stdin: true` in the pod
//!   spec for input).
//!
//! A client that goes away is noticed when a send fails, and the pumps stop.
//!
//! Left out: port-forward, authentication and authorization (the real kubelet checks the API
//! server's client certificate), TLS. So whoever reaches the port can exec into this node's
//! containers, pods included when it is bound on the `skiff` gateway (see `run`).

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use skiff_proto::kubelet::exec_input::Kind as InputKind;
use skiff_proto::kubelet::exec_output::Kind as OutputKind;
use skiff_proto::kubelet::kubelet_server::{Kubelet as KubeletService, KubeletServer};
use skiff_proto::kubelet::{ContainerRef, ExecInput, ExecOutput, ExecStart, LogChunk, LogsRequest};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::naming::{self, ContainerIdentity, Scope};
use crate::runtime::{
    Container, ContainerRuntime, ContainerState, ExecConfig, LogOptions, Output, ResizeTarget, RuntimeError,
};

type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The service; cheap to clone.
#[derive(Clone)]
pub struct StreamingServer {
    runtime: Arc<dyn ContainerRuntime>,
    /// Only this node's containers in this cluster are streamed.
    scope: Scope,
}

fn runtime_status(err: RuntimeError) -> Status {
    match err {
        RuntimeError::NotFound(m) => Status::not_found(m),
        RuntimeError::Refused { status: 409, message } => Status::failed_precondition(message),
        other => Status::internal(other.to_string()),
    }
}

impl StreamingServer {
    pub fn new(runtime: Arc<dyn ContainerRuntime>, scope: Scope) -> StreamingServer {
        StreamingServer { runtime, scope }
    }

    pub fn into_service(self) -> KubeletServer<StreamingServer> {
        KubeletServer::new(self)
    }

    /// Every instance of the container, newest first.
    async fn instances(&self, target: &ContainerRef) -> Result<Vec<Container>, Status> {
        if target.pod.is_empty() || target.container.is_empty() {
            return Err(Status::invalid_argument("a pod and a container name are required"));
        }
        let namespace = if target.namespace.is_empty() { "default" } else { target.namespace.as_str() };
        let mut labels = self.scope.filter();
        labels.extend([
            (naming::POD_NAMESPACE, namespace),
            (naming::POD_NAME, target.pod.as_str()),
            (naming::CONTAINER_NAME, target.container.as_str()),
        ]);
        if !target.uid.is_empty() {
            labels.push((naming::POD_UID, target.uid.as_str()));
        }
        let listed = self.runtime.list_containers(&labels).await.map_err(runtime_status)?;
        let mut found = Vec::new();
        for summary in listed {
            if let Ok(container) = self.runtime.inspect_container(&summary.id).await {
                found.push(container);
            }
        }
        let attempt = |c: &Container| ContainerIdentity::from_labels(&c.labels).map(|i| i.attempt).unwrap_or(0);
        found.sort_by_key(|c| std::cmp::Reverse((attempt(c), c.created_at)));
        if found.is_empty() {
            return Err(Status::not_found(format!(
                "container \"{}\" not found in pod {namespace}/{}",
                target.container, target.pod
            )));
        }
        Ok(found)
    }

    async fn running(&self, target: &ContainerRef) -> Result<Container, Status> {
        let newest = self.instances(target).await?.remove(0);
        if newest.state != ContainerState::Running {
            return Err(Status::failed_precondition(format!(
                "container {} is not running in pod {}",
                target.container, target.pod
            )));
        }
        Ok(newest)
    }

    /// Runs the two pumps of an exec or attach session; the stream of its output.
    fn relay(
        &self,
        mut inbound: Streaming<ExecInput>,
        session: crate::runtime::Session,
        start: ExecStart,
        resize: ResizeOwner,
        exit: ExitSource,
    ) -> Stream_<ExecOutput> {
        let (tx, rx) = mpsc::channel(32);
        let gone = CancellationToken::new();
        let runtime = self.runtime.clone();
        let mut input = session.input;
        let input_gone = gone.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    _ = input_gone.cancelled() => break,
                    message = inbound.message() => message,
                };
                let Ok(Some(message)) = message else { break };
                match message.kind {
                    Some(InputKind::Stdin(bytes)) => {
                        if input.write_all(&bytes).await.is_err() || input.flush().await.is_err() {
                            break;
                        }
                    }
                    Some(InputKind::CloseStdin(_)) => {
                        let _ = input.shutdown().await;
                    }
                    Some(InputKind::Resize(size)) => {
                        let target = match &resize {
                            ResizeOwner::Exec(id) => ResizeTarget::Exec(id),
                            ResizeOwner::Container(id) => ResizeTarget::Container(id),
                        };
                        let _ = runtime.resize(target, size.width as u16, size.height as u16).await;
                    }
                    Some(InputKind::Start(_)) | None => {}
                }
            }
        });
        let runtime = self.runtime.clone();
        let mut output = session.output;
        tokio::spawn(async move {
            let send = |kind| ExecOutput { kind: Some(kind) };
            while let Some(chunk) = output.next().await {
                let message = match chunk {
                    Ok(Output::Stdout(bytes)) if start.stdout || start.tty => send(OutputKind::Stdout(bytes)),
                    Ok(Output::Stderr(bytes)) if start.stderr => send(OutputKind::Stderr(bytes)),
                    Ok(_) => continue,
                    Err(err) => {
                        let _ = tx.send(Ok(send(OutputKind::Error(err.to_string())))).await;
                        gone.cancel();
                        return;
                    }
                };
                if tx.send(Ok(message)).await.is_err() {
                    // The client went away.
                    gone.cancel();
                    return;
                }
            }
            let code = match exit {
                ExitSource::Exec(id) => exec_exit_code(&*runtime, &id).await,
                ExitSource::Container(id) => match runtime.inspect_container(&id).await {
                    Ok(c) if c.state == ContainerState::Exited => Ok(c.exit_code),
                    Ok(_) => Ok(0),
                    Err(err) => Err(err),
                },
            };
            let last = match code {
                Ok(code) => send(OutputKind::ExitCode(code as i32)),
                Err(err) => send(OutputKind::Error(err.to_string())),
            };
            let _ = tx.send(Ok(last)).await;
            gone.cancel();
        });
        Box::pin(ReceiverStream::new(rx))
    }
}

enum ResizeOwner {
    Exec(String),
    Container(String),
}

enum ExitSource {
    Exec(String),
    Container(String),
}

async fn exec_exit_code(runtime: &dyn ContainerRuntime, id: &str) -> Result<i64, RuntimeError> {
    for _ in 0..100 {
        if let Some(code) = runtime.exec_exit_code(id).await? {
            return Ok(code);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Err(RuntimeError::Engine(format!("exec {id} did not report an exit code")))
}

async fn first_start(inbound: &mut Streaming<ExecInput>) -> Result<ExecStart, Status> {
    match inbound.message().await? {
        Some(ExecInput { kind: Some(InputKind::Start(start)) }) => Ok(start),
        _ => Err(Status::invalid_argument("the first message must be `start`")),
    }
}

/// Cuts a log stream after `limit` bytes.
fn limited(stream: Stream_<LogChunk>, limit: Option<i64>) -> Stream_<LogChunk> {
    let Some(limit) = limit.filter(|l| *l > 0) else { return stream };
    let mut left = limit as usize;
    Box::pin(stream.take_while(move |_| futures::future::ready(left > 0)).map(move |chunk| {
        chunk.map(|mut chunk| {
            chunk.data.truncate(left.min(chunk.data.len()));
            left -= chunk.data.len();
            chunk
        })
    }))
}

#[tonic::async_trait]
impl KubeletService for StreamingServer {
    type LogsStream = Stream_<LogChunk>;
    type ExecStream = Stream_<ExecOutput>;
    type AttachStream = Stream_<ExecOutput>;

    async fn logs(&self, request: Request<LogsRequest>) -> Result<Response<Self::LogsStream>, Status> {
        let request = request.into_inner();
        let target = request.container.unwrap_or_default();
        let instances = self.instances(&target).await?;
        let container = if request.previous {
            instances.get(1).cloned().ok_or_else(|| {
                Status::not_found(format!(
                    "previous terminated container \"{}\" in pod \"{}\" not found",
                    target.container, target.pod
                ))
            })?
        } else {
            instances[0].clone()
        };
        if container.started_at.is_none() && container.state != ContainerState::Running {
            return Err(Status::failed_precondition(format!(
                "container \"{}\" in pod \"{}\" is waiting to start",
                target.container, target.pod
            )));
        }
        let options = LogOptions {
            follow: request.follow,
            tail_lines: request.tail_lines,
            since_unix: request.since_seconds.map(|s| chrono::Utc::now().timestamp() - s),
            timestamps: request.timestamps,
        };
        let chunks = self.runtime.logs(&container.id, &options).map(|chunk| match chunk {
            Ok(output) => Ok(LogChunk { data: output.bytes().clone() }),
            Err(err) => Err(Status::internal(err.to_string())),
        });
        Ok(Response::new(limited(Box::pin(chunks), request.limit_bytes)))
    }

    async fn exec(&self, request: Request<Streaming<ExecInput>>) -> Result<Response<Self::ExecStream>, Status> {
        let mut inbound = request.into_inner();
        let start = first_start(&mut inbound).await?;
        if start.command.is_empty() {
            return Err(Status::invalid_argument("you must specify at least one command for the container"));
        }
        let target = start.container.clone().unwrap_or_default();
        let container = self.running(&target).await?;
        let config = ExecConfig { cmd: start.command.clone(), tty: start.tty, stdin: start.stdin };
        let session = self.runtime.exec(&container.id, &config).await.map_err(runtime_status)?;
        let id = session.id.clone();
        Ok(Response::new(self.relay(inbound, session, start, ResizeOwner::Exec(id.clone()), ExitSource::Exec(id))))
    }

    async fn attach(&self, request: Request<Streaming<ExecInput>>) -> Result<Response<Self::AttachStream>, Status> {
        let mut inbound = request.into_inner();
        let start = first_start(&mut inbound).await?;
        let target = start.container.clone().unwrap_or_default();
        let container = self.running(&target).await?;
        let session = self.runtime.attach(&container.id, start.stdin).await.map_err(runtime_status)?;
        let id = container.id.clone();
        Ok(Response::new(self.relay(
            inbound,
            session,
            start,
            ResizeOwner::Container(id.clone()),
            ExitSource::Container(id),
        )))
    }
}

/// Serves the streaming API on `listener` until `stop`.
pub async fn serve(listener: tokio::net::TcpListener, server: StreamingServer, stop: CancellationToken) {
    let address = listener.local_addr().ok();
    tracing::info!(address = ?address, "serving logs, exec and attach");
    // Interactive streams: no Nagle, each keystroke and line goes out at once.
    let incoming = tokio_stream::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), |connection| {
        if let Ok(stream) = &connection {
            let _ = stream.set_nodelay(true);
        }
        connection
    });
    let result = tonic::transport::Server::builder()
        .add_service(server.into_service())
        .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
        .await;
    if let Err(err) = result {
        tracing::warn!(cause = %err, "the streaming server failed");
    }
}
