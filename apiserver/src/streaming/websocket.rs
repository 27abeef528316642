//! Exec and attach over WebSocket, as kubectl 1.30+ speaks them: subprotocol
//! `v5.channel.k8s.io` (`../shared/kubectl-compat.md` section 10).
//!
//! Mirrors `staging/src/k8s.io/apimachinery/pkg/util/httpstream/wsstream` (`conn.go`) and the
//! remotecommand server's v5 handling:
//!
//! - Every data message is a binary frame whose first byte is its channel: `0` stdin (from the
//!   client), `1` stdout, `2` stderr, `3` the final status (to the client), `4` terminal
//!   resizes (JSON `{"Width":80,"Height":24}`, from the client), `255` "close this channel"
//!   (v5: `[255, 0]` when the client's stdin ends).
//! - The end is one message on channel `3`: a `Success` Status, or a `Failure` with reason
//!   `NonZeroExitCode` and the code as a cause (kubectl exits with it), then a close frame.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use skiff_api::registry::by_plural;

use super::{locate, ExecOptions, Input, Output, Session};
use crate::path::Target;
use crate::{respond, AppState};

pub const PROTOCOL: &str = "v5.channel.k8s.io";

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// The query of an exec or attach: `command` repeats, the booleans are `true`/`1`.
fn options(query: &[(String, String)], attach: bool) -> (ExecOptions, Option<String>) {
    let flag = |name: &str| query.iter().any(|(k, v)| k == name && (v == "true" || v == "1"));
    let command = if attach {
        Vec::new()
    } else {
        query.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.clone()).collect()
    };
    let container = query.iter().find(|(k, _)| k == "container").map(|(_, v)| v.clone());
    let options =
        ExecOptions { command, stdin: flag("stdin"), stdout: flag("stdout"), stderr: flag("stderr"), tty: flag("tty") };
    (options, container)
}

/// What channel 3 carries at the end.
pub fn final_status(code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: error executing command [...], exit code {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

fn failure(message: &str) -> Value {
    json!({"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError", "code": 500})
}

/// A client frame, read.
fn input(frame: &[u8]) -> Option<Input> {
    let (channel, data) = frame.split_first()?;
    match *channel {
        STDIN => Some(Input::Stdin(Bytes::copy_from_slice(data))),
        RESIZE => {
            let size: Value = serde_json::from_slice(data).ok()?;
            Some(Input::Resize {
                width: size["Width"].as_u64().unwrap_or(80) as u16,
                height: size["Height"].as_u64().unwrap_or(24) as u16,
            })
        }
        CLOSE if data.first() == Some(&STDIN) => Some(Input::CloseStdin),
        _ => None,
    }
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(bytes.into())
}

/// Relays between the client's socket and the session until the process ends.
async fn relay(socket: WebSocket, session: Session) {
    let (mut to_client, mut from_client) = socket.split();
    let Session { input: to_process, output: mut from_process } = session;
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = from_client.next().await {
            let item = match message {
                Message::Binary(data) => input(&data),
                Message::Close(_) => break,
                _ => None,
            };
            if let Some(item) = item {
                if to_process.send(item).await.is_err() {
                    break;
                }
            }
        }
    });
    let status = loop {
        let sent = match from_process.recv().await {
            Some(Output::Stdout(data)) => to_client.send(frame(STDOUT, &data)).await,
            Some(Output::Stderr(data)) => to_client.send(frame(STDERR, &data)).await,
            Some(Output::Exited(code)) => break final_status(code),
            Some(Output::Failed(why)) => break failure(&why),
            None => break failure("the node closed the stream"),
        };
        if sent.is_err() {
            reader.abort();
            return;
        }
    };
    let _ = to_client.send(frame(STATUS, status.to_string().as_bytes())).await;
    let _ = to_client.send(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() }))).await;
    reader.abort();
}

async fn serve(state: AppState, namespace: String, name: String, query: Vec<(String, String)>, ws: WebSocketUpgrade, attach: bool) -> Response {
    let (options, container) = options(&query, attach);
    let pods = by_plural("", "v1", "pods").expect("pods are registered");
    let target = Target { resource: pods, namespace: Some(namespace), name: Some(name.clone()), subresource: None };
    let (node, container) = match locate(&state.verbs, &target, &name, container.as_deref(), false).await {
        Ok(found) => found,
        Err(status) => return respond::status(&status),
    };
    let session = match state.streams.exec(&node, &container, &options).await {
        Ok(session) => session,
        Err(status) => return respond::status(&status),
    };
    ws.protocols([PROTOCOL]).on_upgrade(move |socket| relay(socket, session)).into_response()
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/exec` with `Upgrade: websocket`.
pub async fn exec(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    ws: WebSocketUpgrade,
) -> Response {
    serve(state, namespace, name, query, ws, false).await
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/attach` with `Upgrade: websocket`.
pub async fn attach(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    ws: WebSocketUpgrade,
) -> Response {
    serve(state, namespace, name, query, ws, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_are_read_by_channel() {
        assert_eq!(input(&[0, b'h', b'i']), Some(Input::Stdin(Bytes::from_static(b"hi"))));
        assert_eq!(input(&[255, 0]), Some(Input::CloseStdin));
        assert_eq!(input(b"\x04{\"Width\":100,\"Height\":30}"), Some(Input::Resize { width: 100, height: 30 }));
        assert_eq!(input(&[]), None);
        assert_eq!(input(&[9, 1]), None);
    }

    #[test]
    fn the_final_status_carries_the_exit_code_as_kubectl_reads_it() {
        assert_eq!(final_status(0), json!({"metadata": {}, "status": "Success"}));
        let failed = final_status(3);
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0], json!({"reason": "ExitCode", "message": "3"}));
    }

    #[test]
    fn exec_options_come_from_the_query() {
        let query: Vec<(String, String)> = [("command", "ls"), ("command", "-l"), ("stdin", "true"), ("tty", "1"), ("container", "web")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (options, container) = options(&query, false);
        assert_eq!(options.command, ["ls", "-l"]);
        assert!(options.stdin && options.tty && !options.stdout);
        assert_eq!(container.as_deref(), Some("web"));
        assert!(super::options(&query, true).0.command.is_empty(), "attach runs no command");
    }
}
