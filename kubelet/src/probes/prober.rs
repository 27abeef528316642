//! Running one probe: exec, httpGet or tcpSocket.
//!
//! Mirrors `pkg/kubelet/prober/prober.go` (`runProbe`) and `pkg/probe/{exec,http,tcp}`, with
//! their messages: an HTTP status outside 200–399 fails with `HTTP probe failed with statuscode:
//! 500`, a refused connection with Go's `dial tcp 10.244.1.5:8080: connect: connection refused`.
//! The kubelet runs on the host, and on Linux the host reaches pod IPs through the bridge, so
//! httpGet and tcpSocket go to the pod IP, as upstream.
//!
//! The HTTP client is a few lines of HTTP/1.1 over a TCP stream (`GET`, `Connection: close`,
//! only the status line is read): a probe needs no more. Left out: `https`, gRPC probes,
//! following redirects.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::runtime::{run_to_end, ContainerRuntime, RuntimeError};

/// What one probe said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    Success,
    /// With the message the `Unhealthy` event shows after "Liveness probe failed: ".
    Failure(String),
}

/// Resolves a probe's port: a number, or the name of one of the container's ports.
pub fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port number: {n}")),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port as u16)
            .or_else(|| name.parse().ok())
            .ok_or_else(|| format!("couldn't find port: {name} in {}", container.name)),
    }
}

fn dial_error(address: &str, err: &std::io::Error) -> String {
    let cause = match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        std::io::ErrorKind::TimedOut => "i/o timeout".to_string(),
        _ => err.to_string().to_lowercase(),
    };
    format!("dial tcp {address}: {cause}")
}

async fn connect(address: &str, timeout: Duration) -> Result<TcpStream, String> {
    match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(err)) => Err(dial_error(address, &err)),
        Err(_) => Err(format!("dial tcp {address}: i/o timeout")),
    }
}

/// `GET http://host:port/path`: the status code.
pub async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> ProbeResult {
    let address = format!("{host}:{port}");
    let url = format!("http://{address}{path}");
    let work = async {
        let mut stream = connect(&address, timeout).await.map_err(|e| format!("Get \"{url}\": {e}"))?;
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("Get \"{url}\": {e}"))?;
        let mut head = Vec::with_capacity(256);
        let mut buf = [0u8; 256];
        while !head.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut buf).await.map_err(|e| format!("Get \"{url}\": {e}"))?;
            if n == 0 {
                return Err(format!("Get \"{url}\": EOF"));
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        let code: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("Get \"{url}\": malformed HTTP response"))?;
        Ok(code)
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => ProbeResult::Failure(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
        Ok(Err(message)) => ProbeResult::Failure(message),
        Ok(Ok(code)) if (200..400).contains(&code) => ProbeResult::Success,
        Ok(Ok(code)) => ProbeResult::Failure(format!("HTTP probe failed with statuscode: {code}")),
    }
}

pub async fn tcp_socket(host: &str, port: u16, timeout: Duration) -> ProbeResult {
    match connect(&format!("{host}:{port}"), timeout).await {
        Ok(_) => ProbeResult::Success,
        Err(message) => ProbeResult::Failure(message),
    }
}

/// Runs `probe` once against the container `id` (pod IP `pod_ip`).
pub async fn run_probe(
    runtime: &dyn ContainerRuntime,
    probe: &Probe,
    container: &Container,
    id: &str,
    pod_ip: &str,
) -> ProbeResult {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(exec) = &probe.exec {
        let command = exec.command.clone().unwrap_or_default();
        return match run_to_end(runtime, id, &command, timeout).await {
            Ok(done) if done.exit_code == 0 => ProbeResult::Success,
            Ok(done) => ProbeResult::Failure(done.output.trim_end().to_string()),
            Err(RuntimeError::Timeout(_)) => ProbeResult::Failure(format!("command {:?} timed out", command.join(" "))),
            Err(err) => ProbeResult::Failure(err.to_string()),
        };
    }
    if let Some(http) = &probe.http_get {
        let port = match resolve_port(&http.port, container) {
            Ok(port) => port,
            Err(message) => return ProbeResult::Failure(message),
        };
        let host = http.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| pod_ip.to_string());
        let path = http.path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into());
        let path = if path.starts_with('/') { path } else { format!("/{path}") };
        let headers: Vec<(String, String)> =
            http.http_headers.iter().flatten().map(|h| (h.name.clone(), h.value.clone())).collect();
        return http_get(&host, port, &path, &headers, timeout).await;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let port = match resolve_port(&tcp.port, container) {
            Ok(port) => port,
            Err(message) => return ProbeResult::Failure(message),
        };
        let host = tcp.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| pod_ip.to_string());
        return tcp_socket(&host, port, timeout).await;
    }
    ProbeResult::Failure("missing probe handler (Skiff runs exec, httpGet and tcpSocket probes)".into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::net::TcpListener;

    use super::*;

    /// A server that answers every connection with `status`.
    async fn server(status: u16) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn http_probes_pass_on_2xx_and_3xx_and_fail_with_kubernetes_messages() {
        let second = Duration::from_secs(1);
        for (status, passes) in [(200, true), (302, true), (500, false), (404, false)] {
            let port = server(status).await;
            let got = http_get("127.0.0.1", port, "/healthz", &[], second).await;
            assert_eq!(got == ProbeResult::Success, passes, "{status}: {got:?}");
        }
        let port = server(500).await;
        assert_eq!(
            http_get("127.0.0.1", port, "/", &[], second).await,
            ProbeResult::Failure("HTTP probe failed with statuscode: 500".into())
        );
        // A port nobody listens on.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        assert_eq!(
            http_get("127.0.0.1", closed, "/healthz", &[], second).await,
            ProbeResult::Failure(format!(
                "Get \"http://127.0.0.1:{closed}/healthz\": dial tcp 127.0.0.1:{closed}: connect: connection refused"
            ))
        );
        assert_eq!(
            tcp_socket("127.0.0.1", closed, second).await,
            ProbeResult::Failure(format!("dial tcp 127.0.0.1:{closed}: connect: connection refused"))
        );
        assert_eq!(tcp_socket("127.0.0.1", port, second).await, ProbeResult::Success);
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let got = http_get("127.0.0.1", port, "/", &[], Duration::from_millis(200)).await;
        assert!(
            matches!(&got, ProbeResult::Failure(m) if m.ends_with("(Client.Timeout exceeded while awaiting headers)")),
            "{got:?}"
        );
    }

    #[test]
    fn named_ports_resolve_through_the_containers_ports() {
        let container: Container =
            serde_json::from_value(json!({"name": "web", "ports": [{"name": "http", "containerPort": 8080}]})).unwrap();
        assert_eq!(resolve_port(&IntOrString::String("http".into()), &container), Ok(8080));
        assert_eq!(resolve_port(&IntOrString::Int(9090), &container), Ok(9090));
        assert_eq!(
            resolve_port(&IntOrString::String("admin".into()), &container),
            Err("couldn't find port: admin in web".into())
        );
    }
}
