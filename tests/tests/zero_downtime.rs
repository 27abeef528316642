//! No request fails while traffic moves: a whole cluster in this process (store, API server,
//! scheduler, controller-manager, a kubelet on real Docker, skiff-proxy with its Service rules
//! and Ingress router), real clients hammering a Service's ClusterIP and an Ingress while the
//! Deployment behind them is rolled from v1 to v2 to v3 and scaled down.
//!
//! Kubernetes itself drops requests here unless users add `preStop` sleeps (kubernetes#86280):
//! Skiff's kubelet waits until every proxy has applied a pod's removal before it stops it
//! (`client/src/rotation.rs`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skiff_tests::control_plane::ControlPlane;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Removes the node's containers, and the proxy's chains, when dropped.
struct Cleanup {
    node: String,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let out = Command::new("docker").args(["ps", "-aq", "--filter", &format!("label=io.skiff.node={}", self.node)]).output();
        let ids: Vec<String> = out.map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()).unwrap_or_default();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
        }
        // The proxy removes its chains when it stops; this is for a test that panicked first.
        for table in ["nat", "filter"] {
            let saved = Command::new("iptables-save").args(["-t", table]).output().map(|o| o.stdout).unwrap_or_default();
            let text = String::from_utf8_lossy(&saved);
            for line in text.lines().filter(|l| l.starts_with("-A ") && l.contains(&format!("-j {}-", self.prefix))) {
                let chain = line.split(' ').nth(1).unwrap_or_default();
                if !chain.starts_with(&format!("{}-", self.prefix)) {
                    let rule: Vec<&str> = line[3..].split(' ').collect();
                    let _ = Command::new("iptables").args(["-w", "-t", table, "-D"]).args(&rule).output();
                }
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

const APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: skiff/demo-web:v1
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop}
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
";

/// One HTTP/1.1 GET on `stream`; the body of a 200, or why not.
async fn get(stream: &mut TcpStream, host: &str, close: bool) -> Result<String, String> {
    let connection = if close { "close" } else { "keep-alive" };
    let request = format!("GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
        if read == 0 {
            return Err("closed before a response".into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .ok_or_else(|| format!("no content-length: {head}"))?;
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.map_err(|e| format!("read body: {e}"))?;
        if read == 0 {
            return Err("closed inside the body".into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).to_string();
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("{}: {body}", head.lines().next().unwrap_or_default()));
    }
    Ok(body)
}

#[derive(Default)]
struct Load {
    ok: AtomicU64,
    failed: AtomicU64,
    errors: Mutex<Vec<String>>,
    versions: Mutex<BTreeSet<String>>,
}

impl Load {
    fn record(&self, result: Result<String, String>) {
        match result {
            Ok(version) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                self.versions.lock().unwrap().insert(version);
            }
            Err(why) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.errors.lock().unwrap().push(why);
            }
        }
    }
}

/// Requests through the Ingress router on one kept-alive connection (a new one after a failure).
async fn through_ingress(router: SocketAddr, load: Arc<Load>, running: Arc<AtomicBool>) {
    let mut stream: Option<TcpStream> = None;
    while running.load(Ordering::Relaxed) {
        if stream.is_none() {
            match TcpStream::connect(router).await {
                Ok(s) => stream = Some(s),
                Err(e) => {
                    load.record(Err(format!("connect to the router: {e}")));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let result = get(stream.as_mut().unwrap(), "shop.example.test", false).await;
        if result.is_err() {
            stream = None;
        }
        load.record(result);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Requests to the Service's ClusterIP, a new connection each (as `while true; do curl; done`).
async fn through_cluster_ip(address: SocketAddr, load: Arc<Load>, running: Arc<AtomicBool>) {
    while running.load(Ordering::Relaxed) {
        let result = match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(address)).await {
            Ok(Ok(mut stream)) => get(&mut stream, "web", true).await,
            Ok(Err(e)) => Err(format!("connect to the ClusterIP: {e}")),
            Err(_) => Err("connect to the ClusterIP timed out".into()),
        };
        load.record(result);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_through_rolling_updates_and_a_scale_down() {
    let plane = ControlPlane::start().await;
    let stop = CancellationToken::new();
    let api = plane.grpc_address.to_string();
    let node = format!("zd-{}", std::process::id());
    let prefix = format!("SZ{}", std::process::id() % 10000);
    let _cleanup = Cleanup { node: node.clone(), prefix: prefix.clone() };

    let scheduler = skiff_scheduler::Config {
        api: api.clone(),
        scheduler_name: skiff_scheduler::DEFAULT_SCHEDULER_NAME.into(),
        metrics_listen: None,
    };
    tokio::spawn(skiff_scheduler::run(scheduler, stop.clone()));
    let controllers = skiff_controller_manager::Config { api: api.clone(), workers: 2, metrics_listen: None };
    tokio::spawn(skiff_controller_manager::run(controllers, stop.clone()));
    let mut kubelet = skiff_kubelet::Config::new(&api, &node);
    kubelet.root_dir = plane.dir.path().join("kubelet");
    kubelet.listen = Some(SocketAddr::from(([127, 0, 0, 1], free_port())));
    tokio::spawn(skiff_kubelet::run(kubelet, stop.clone()));

    let router = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut proxy = skiff_proxy::Config::new(&api, &node);
    proxy.services.chain_prefix = prefix.clone();
    // One route per host, and one DNS server on the bridge: a running cluster has them.
    proxy.services.service_route = false;
    proxy.dns.listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    proxy.dns.publish = false;
    proxy.dns.upstreams = Some(Vec::new());
    proxy.ingress = Some(skiff_proxy::ingress::Config::new(router, "127.0.0.1".parse().unwrap()));
    let proxy_stop = CancellationToken::new();
    let proxy_task = tokio::spawn(skiff_proxy::run(proxy, proxy_stop.clone()));

    let plane = &plane;
    plane.ok_with_input(&["apply", "-f", "-"], APP).await;
    plane.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]).await;
    let cluster_ip = plane.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]).await;
    let service: SocketAddr = format!("{cluster_ip}:80").parse().unwrap();
    // Traffic flows both ways before the test starts counting.
    plane
        .eventually("the ClusterIP and the Ingress answer", Duration::from_secs(30), || async move {
            let direct = match TcpStream::connect(service).await {
                Ok(mut s) => get(&mut s, "web", true).await.is_ok(),
                Err(_) => false,
            };
            let routed = match TcpStream::connect(router).await {
                Ok(mut s) => get(&mut s, "shop.example.test", true).await.is_ok(),
                Err(_) => false,
            };
            direct && routed
        })
        .await;

    let running = Arc::new(AtomicBool::new(true));
    let (ingress_load, service_load) = (Arc::new(Load::default()), Arc::new(Load::default()));
    let mut clients = Vec::new();
    for _ in 0..2 {
        clients.push(tokio::spawn(through_ingress(router, ingress_load.clone(), running.clone())));
        clients.push(tokio::spawn(through_cluster_ip(service, service_load.clone(), running.clone())));
    }

    for image in ["skiff/demo-web:v2", "skiff/demo-web:v3"] {
        plane.ok(&["set", "image", "deployment/web", &format!("web={image}")]).await;
        let status = plane.ok(&["rollout", "status", "deployment/web", "--timeout=180s"]).await;
        assert!(status.contains("successfully rolled out"), "{status}");
    }
    plane.ok(&["scale", "deployment/web", "--replicas=1"]).await;
    plane
        .eventually("one pod left", Duration::from_secs(60), || async move {
            let names = plane.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"]).await;
            names.split_whitespace().count() == 1
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    for (path, load) in [("the Ingress", &ingress_load), ("the ClusterIP", &service_load)] {
        let (ok, failed) = (load.ok.load(Ordering::Relaxed), load.failed.load(Ordering::Relaxed));
        let errors = load.errors.lock().unwrap().clone();
        let versions = load.versions.lock().unwrap().clone();
        assert_eq!(failed, 0, "through {path}: {failed} of {} requests failed: {errors:?}", ok + failed);
        assert!(ok > 200, "through {path}: only {ok} requests");
        assert!(versions.contains("v1") && versions.contains("v3"), "through {path}: {versions:?}");
    }
    proxy_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), proxy_task).await;
    stop.cancel();
}
