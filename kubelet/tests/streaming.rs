//! The streaming API (phase 2): logs, exec and attach over gRPC, as the API server calls them.

mod common;

use std::time::Duration;

use common::{phase, Node};
use futures::StreamExt;
use skiff_proto::kubelet::exec_input::Kind as In;
use skiff_proto::kubelet::exec_output::Kind as Out;
use skiff_proto::kubelet::kubelet_client::KubeletClient;
use skiff_proto::kubelet::{ContainerRef, ExecInput, ExecStart, LogsRequest};
use tonic::transport::Channel;

fn reference(container: &str) -> Option<ContainerRef> {
    Some(ContainerRef {
        namespace: "default".into(),
        pod: "talk".into(),
        uid: String::new(),
        container: container.into(),
    })
}

async fn logs(client: &mut KubeletClient<Channel>, request: LogsRequest) -> String {
    let mut stream = client.logs(request).await.unwrap().into_inner();
    let mut text = Vec::new();
    while let Some(chunk) = stream.next().await {
        text.extend_from_slice(&chunk.unwrap().data);
    }
    String::from_utf8(text).unwrap()
}

/// Runs an exec or attach with `input`; stdout, stderr and the exit code.
async fn session(
    client: &mut KubeletClient<Channel>,
    attach: bool,
    start: ExecStart,
    input: Vec<In>,
    until_stdout: Option<&str>,
) -> (String, String, Option<i32>) {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tx.send(ExecInput { kind: Some(In::Start(start)) }).await.unwrap();
    for kind in input {
        tx.send(ExecInput { kind: Some(kind) }).await.unwrap();
    }
    let requests = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut outputs = if attach {
        client.attach(requests).await.unwrap().into_inner()
    } else {
        client.exec(requests).await.unwrap().into_inner()
    };
    let (mut stdout, mut stderr, mut code) = (String::new(), String::new(), None);
    while let Ok(Some(Ok(output))) = tokio::time::timeout(Duration::from_secs(10), outputs.next()).await {
        match output.kind.unwrap() {
            Out::Stdout(b) => stdout.push_str(&String::from_utf8_lossy(&b)),
            Out::Stderr(b) => stderr.push_str(&String::from_utf8_lossy(&b)),
            Out::ExitCode(c) => code = Some(c),
            Out::Error(e) => panic!("stream failed: {e}"),
        }
        if until_stdout.is_some_and(|want| stdout == want) {
            break;
        }
    }
    drop(tx);
    (stdout, stderr, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_exec_and_attach_stream_over_grpc() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let node = Node::start("stream", |c| c.listen = Some(listen)).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: talk}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - {name: out, image: "skiff/toolbox:1", command: [sh, -c, "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; exec sleep 3600"]}
  - {name: echo, image: "skiff/toolbox:1", command: [cat], stdin: true}
"#,
    )
    .await;
    let pod = node.wait_for("talk", 60, "Running", |p| phase(p) == "Running").await;
    let port_advertised = pod.spec.as_ref().map(|_| ()).and(Some(port as i32));
    let node_object: k8s_openapi::api::core::v1::Node =
        skiff_client::Api::all(node.client.clone()).get(&node.name).await.unwrap();
    assert_eq!(
        node_object.status.unwrap().daemon_endpoints.unwrap().kubelet_endpoint.unwrap().port,
        port_advertised.unwrap(),
        "the Node advertises the streaming port"
    );
    let mut client = KubeletClient::connect(format!("http://{listen}")).await.unwrap();

    let all = common::eventually(10, "three lines", || {
        let mut client = client.clone();
        async move {
            let text = logs(&mut client, LogsRequest { container: reference("out"), ..Default::default() }).await;
            (text.lines().count() == 3).then_some(text)
        }
    })
    .await;
    assert_eq!(all, "one\ntwo\nthree\n", "stdout and stderr interleaved");
    let tail =
        logs(&mut client, LogsRequest { container: reference("out"), tail_lines: Some(1), ..Default::default() }).await;
    assert_eq!(tail, "three\n");
    let limited =
        logs(&mut client, LogsRequest { container: reference("out"), limit_bytes: Some(6), ..Default::default() })
            .await;
    assert_eq!(limited, "one\ntw");
    let stamped =
        logs(&mut client, LogsRequest { container: reference("out"), timestamps: true, ..Default::default() }).await;
    assert!(stamped.lines().all(|l| l.starts_with("20") && l.contains("Z ")), "{stamped}");
    let previous = client.logs(LogsRequest { container: reference("out"), previous: true, ..Default::default() }).await;
    assert_eq!(previous.err().unwrap().code(), tonic::Code::NotFound);

    let start = ExecStart {
        container: reference("out"),
        command: vec!["sh".into(), "-c".into(), "read x; echo got $x; echo oops >&2; exit 3".into()],
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let said =
        session(&mut client, false, start, vec![In::Stdin(b"hi\n".to_vec().into()), In::CloseStdin(true)], None).await;
    assert_eq!(said, ("got hi\n".into(), "oops\n".into(), Some(3)));

    let start =
        ExecStart { container: reference("echo"), stdin: true, stdout: true, stderr: true, ..Default::default() };
    let (echoed, _, _) =
        session(&mut client, true, start, vec![In::Stdin(b"ping\n".to_vec().into())], Some("ping\n")).await;
    assert_eq!(echoed, "ping\n", "attached to cat's stdin and stdout");

    let missing = ExecStart { container: reference("nope"), command: vec!["true".into()], ..Default::default() };
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(ExecInput { kind: Some(In::Start(missing)) }).await.unwrap();
    let err = client.exec(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (tonic::Code::NotFound, "container \"nope\" not found in pod default/talk")
    );
}

/// The whole path: the real kubectl → the API server (WebSocket, HTTP) → this kubelet (gRPC).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_and_exec_reach_the_kubelet_through_the_api_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let node = Node::start("kubectl", |c| c.listen = Some(format!("127.0.0.1:{port}").parse().unwrap())).await;
    node.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 1
  containers:
  - {name: sh, image: "skiff/toolbox:1", command: [sh, -c, "echo started; echo warned >&2; exec sleep 3600"]}
"#,
    )
    .await;
    node.wait_for("shell", 60, "Running", |p| phase(p) == "Running").await;
    let logs = common::eventually(10, "the log", || async {
        let out = node.cluster.ok(&["logs", "shell"]).await;
        (out.lines().count() == 2).then_some(out)
    })
    .await;
    // Docker copies stdout and stderr into the log on two goroutines: their relative order is
    // not fixed, so only each stream's content is.
    let mut lines: Vec<&str> = logs.lines().collect();
    lines.sort();
    assert_eq!(lines, ["started", "warned"]);
    let last = node.cluster.ok(&["logs", "shell", "--tail=1"]).await;
    assert!(last.lines().count() == 1 && logs.ends_with(&last), "--tail=1 is the log's last line: {last:?} of {logs:?}");

    let out = node.cluster.kubectl(&["exec", "shell", "--", "sh", "-c", "echo from $(hostname); exit 3"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from shell\n");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        node.cluster.kubectl_with_input(&["exec", "-i", "shell", "--", "tr", "a-z", "A-Z"], Some("quiet\n")).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "QUIET\n");
}
