//! `kubectl logs`, `exec` and `attach` through the API server's WebSocket v5 and log endpoints,
//! to a fake node that stands where a kubelet's streaming API will be: the protocol, the
//! container choice and the errors are the API server's, and they are what is tested here.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::Cluster;
use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;
use skiff_api::status::Status;
use skiff_apiserver::streaming::{
    ContainerRef, ExecOptions, Input, LogOptions, NodeAddress, NodeStreams, Output, Session,
};
use skiff_client::{Api, Client};
use tokio::sync::mpsc;

/// A node whose containers answer `echo`, `cat` (stdin back) and `exit N`.
struct FakeNode;

#[tonic::async_trait]
impl NodeStreams for FakeNode {
    async fn logs(
        &self,
        _: &NodeAddress,
        container: &ContainerRef,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, String>>, Status> {
        let lines: Vec<Result<Bytes, String>> = (1..=3)
            .map(|i| Ok(Bytes::from(format!("{} line {i}{}\n", container.container, if options.timestamps { " (ts)" } else { "" }))))
            .collect();
        Ok(futures::stream::iter(lines).boxed())
    }

    async fn exec(&self, _: &NodeAddress, _: &ContainerRef, options: &ExecOptions) -> Result<Session, Status> {
        let (input, mut from_client) = mpsc::channel(16);
        let (to_client, output) = mpsc::channel(16);
        let command = options.command.clone();
        tokio::spawn(async move {
            match command.first().map(String::as_str) {
                Some("echo") => {
                    let text = format!("{}\n", command[1..].join(" "));
                    let _ = to_client.send(Output::Stdout(Bytes::from(text))).await;
                    let _ = to_client.send(Output::Stderr(Bytes::from_static(b"to stderr\n"))).await;
                    let _ = to_client.send(Output::Exited(0)).await;
                }
                Some("exit") => {
                    let code = command.get(1).and_then(|c| c.parse().ok()).unwrap_or(1);
                    let _ = to_client.send(Output::Exited(code)).await;
                }
                // `cat`, and an attach (no command): stdin back until it closes.
                _ => {
                    while let Some(item) = from_client.recv().await {
                        match item {
                            Input::Stdin(data) => {
                                let _ = to_client.send(Output::Stdout(data)).await;
                            }
                            Input::CloseStdin => break,
                            Input::Resize { .. } => {}
                        }
                    }
                    let _ = to_client.send(Output::Exited(0)).await;
                }
            }
        });
        Ok(Session { input, output })
    }
}

async fn bound_pod(cluster: &Cluster, containers: &[&str]) {
    let client = Client::connect(&cluster.grpc_address.to_string(), "test").await.unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "node-1"}})).unwrap();
    nodes.create(&node).await.unwrap();
    let mut node = nodes.get("node-1").await.unwrap();
    node.status = Some(
        serde_json::from_value(json!({"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                                      "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}))
        .unwrap(),
    );
    nodes.replace_status("node-1", &node).await.unwrap();

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let specs: Vec<_> = containers.iter().map(|c| json!({"name": c, "image": "skiff/toolbox:1"})).collect();
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "box"}, "spec": {"containers": specs}})).unwrap();
    pods.create(&pod).await.unwrap();
    client.bind("default", "box", "node-1").await.unwrap();
    let mut pod = pods.get("box").await.unwrap();
    let statuses: Vec<_> =
        containers.iter().map(|c| json!({"name": c, "image": "skiff/toolbox:1", "imageID": "", "ready": true,
                                          "restartCount": 0, "state": {"running": {"startedAt": "2026-12-01T00:00:00Z"}}})).collect();
    pod.status = Some(serde_json::from_value(json!({"phase": "Running", "containerStatuses": statuses})).unwrap());
    pods.replace_status("box", &pod).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_speaks_websocket_v5_and_propagates_the_exit_code() {
    let cluster = Cluster::start_with_streams(Arc::new(FakeNode)).await;
    bound_pod(&cluster, &["box"]).await;

    let out = cluster.kubectl(&["exec", "box", "--", "echo", "hello", "world"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello world\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to stderr\n");

    let failed = cluster.kubectl(&["exec", "box", "--", "exit", "3"]).await;
    assert_eq!(failed.status.code(), Some(3), "{}", String::from_utf8_lossy(&failed.stderr));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("command terminated with exit code 3"));

    let piped = cluster.kubectl_with_input(&["exec", "-i", "box", "--", "cat"], Some("from stdin\n")).await;
    assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));
    assert_eq!(String::from_utf8_lossy(&piped.stdout), "from stdin\n");

    let attached = cluster.kubectl_with_input(&["attach", "-i", "box"], Some("attached\n")).await;
    assert!(String::from_utf8_lossy(&attached.stdout).contains("attached"), "{attached:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_streams_and_the_container_must_be_named_when_there_are_several() {
    let cluster = Cluster::start_with_streams(Arc::new(FakeNode)).await;
    bound_pod(&cluster, &["web", "sidecar"]).await;
    assert_eq!(cluster.ok(&["logs", "box", "-c", "web"]).await, "web line 1\nweb line 2\nweb line 3\n");
    assert!(cluster.ok(&["logs", "box", "-c", "sidecar", "--timestamps"]).await.contains("sidecar line 1 (ts)"));
    // kubectl picks the first container itself and says so.
    let out = cluster.kubectl(&["logs", "box"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("web line 1"), "{out:?}");
    let missing = cluster.fails(&["logs", "box", "-c", "db"]).await;
    assert!(missing.contains("container db is not valid for pod box"), "{missing}");
    let unbound = cluster.fails(&["logs", "nowhere"]).await;
    assert!(unbound.contains("pods \"nowhere\" not found"), "{unbound}");
}
