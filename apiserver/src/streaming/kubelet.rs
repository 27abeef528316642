//! [`NodeStreams`] over the kubelets' gRPC streaming API (`proto/proto/skiff/kubelet.proto`):
//! the API server dials the pod's node and relays.
//!
//! Kubernetes' API server proxies an HTTP upgrade to the kubelet's streaming server; Skiff's
//! kubelet speaks gRPC streams instead, so this file turns the channels of `websocket.rs` into
//! `ExecInput`/`ExecOutput` messages and back. Connections to kubelets are made per request
//! (a connection to a loopback or LAN address costs well under a millisecond, and a kubelet may
//! have restarted since the last one).

use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use skiff_api::status::Status;
use skiff_proto::kubelet::kubelet_client::KubeletClient;
use skiff_proto::kubelet::{exec_input, exec_output, ExecInput, ExecStart, LogsRequest, Resize};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use super::{ContainerRef, ExecOptions, Input, LogOptions, NodeAddress, NodeStreams, Output, Session};

/// How long the API server waits to reach a kubelet.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The kubelets, reached over gRPC.
pub struct KubeletStreams;

async fn connect(node: &NodeAddress) -> Result<KubeletClient<Channel>, Status> {
    let endpoint = Endpoint::from_shared(format!("http://{}", node.address))
        .map_err(|_| Status::internal(format!("bad kubelet address {:?}", node.address)))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    let channel = endpoint.connect().await.map_err(|_| unreachable(node))?;
    Ok(KubeletClient::new(channel))
}

fn unreachable(node: &NodeAddress) -> Status {
    Status {
        code: 503,
        reason: "ServiceUnavailable",
        message: format!("the kubelet of node {} at {} cannot be reached", node.node, node.address),
        details: None,
    }
}

/// A kubelet's refusal, as the Kubernetes Status kubectl prints.
fn refused(node: &NodeAddress, status: tonic::Status) -> Status {
    match status.code() {
        Code::NotFound => Status {
            code: 404,
            reason: "NotFound",
            message: status.message().to_string(),
            details: None,
        },
        Code::FailedPrecondition | Code::InvalidArgument => Status::bad_request(status.message()),
        Code::Unavailable => unreachable(node),
        _ => Status::internal(status.message()),
    }
}

fn reference(container: &ContainerRef) -> skiff_proto::kubelet::ContainerRef {
    skiff_proto::kubelet::ContainerRef {
        namespace: container.namespace.clone(),
        pod: container.pod.clone(),
        uid: container.uid.clone(),
        container: container.container.clone(),
    }
}

fn wire_input(input: Input) -> ExecInput {
    let kind = match input {
        Input::Stdin(data) => exec_input::Kind::Stdin(data),
        Input::CloseStdin => exec_input::Kind::CloseStdin(true),
        Input::Resize { width, height } => {
            exec_input::Kind::Resize(Resize { width: u32::from(width), height: u32::from(height) })
        }
    };
    ExecInput { kind: Some(kind) }
}

fn output(message: skiff_proto::kubelet::ExecOutput) -> Option<Output> {
    Some(match message.kind? {
        exec_output::Kind::Stdout(data) => Output::Stdout(data),
        exec_output::Kind::Stderr(data) => Output::Stderr(data),
        exec_output::Kind::ExitCode(code) => Output::Exited(code),
        exec_output::Kind::Error(why) => Output::Failed(why),
    })
}

#[tonic::async_trait]
impl NodeStreams for KubeletStreams {
    async fn logs(
        &self,
        node: &NodeAddress,
        container: &ContainerRef,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, String>>, Status> {
        let mut client = connect(node).await?;
        let request = LogsRequest {
            container: Some(reference(container)),
            follow: options.follow,
            tail_lines: options.tail_lines,
            since_seconds: options.since_seconds,
            timestamps: options.timestamps,
            previous: options.previous,
            limit_bytes: options.limit_bytes,
        };
        let chunks = client.logs(request).await.map_err(|s| refused(node, s))?.into_inner();
        Ok(chunks.map(|chunk| chunk.map(|c| c.data).map_err(|s| s.message().to_string())).boxed())
    }

    async fn exec(&self, node: &NodeAddress, container: &ContainerRef, options: &ExecOptions) -> Result<Session, Status> {
        let mut client = connect(node).await?;
        let (to_kubelet, requests) = mpsc::channel::<ExecInput>(16);
        let start = ExecStart {
            container: Some(reference(container)),
            command: options.command.clone(),
            stdin: options.stdin,
            stdout: options.stdout,
            stderr: options.stderr,
            tty: options.tty,
        };
        to_kubelet
            .send(ExecInput { kind: Some(exec_input::Kind::Start(start)) })
            .await
            .map_err(|_| Status::internal("the exec request could not be queued"))?;
        let requests = ReceiverStream::new(requests);
        let call = if options.command.is_empty() { client.attach(requests).await } else { client.exec(requests).await };
        let mut from_kubelet = call.map_err(|s| refused(node, s))?.into_inner();

        // The session's two directions, relayed by two small tasks.
        let (input, mut from_client) = mpsc::channel::<Input>(16);
        let (to_client, output_rx) = mpsc::channel::<Output>(16);
        tokio::spawn(async move {
            while let Some(item) = from_client.recv().await {
                if to_kubelet.send(wire_input(item)).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            loop {
                let item = match from_kubelet.message().await {
                    Ok(Some(message)) => match output(message) {
                        Some(item) => item,
                        None => continue,
                    },
                    Ok(None) => Output::Failed("the kubelet closed the stream".into()),
                    Err(status) => Output::Failed(status.message().to_string()),
                };
                let last = matches!(item, Output::Exited(_) | Output::Failed(_));
                if to_client.send(item).await.is_err() || last {
                    break;
                }
            }
        });
        Ok(Session { input, output: output_rx })
    }
}
