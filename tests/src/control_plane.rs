//! A control plane for tests: skiff-store and skiff-apiserver in this process on free ports, a
//! kubeconfig for the real `kubectl` (with a fresh `--cache-dir`), and the gRPC address the
//! other daemons connect to. Everything stops when it is dropped.

use std::net::SocketAddr;
use std::process::Output;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct ControlPlane {
    pub dir: tempfile::TempDir,
    /// Cancel it to stop the store and the API server (dropping does it too).
    pub stop: CancellationToken,
    /// The store the API server uses (skiff-store, or a real etcd).
    pub store_endpoint: String,
    /// The REST API (kubectl, curl).
    pub api_address: SocketAddr,
    /// The internal gRPC API (the daemons).
    pub grpc_address: SocketAddr,
}

impl ControlPlane {
    /// The API server on a fresh skiff-store; `kubectl logs|exec` go to the nodes' kubelets.
    pub async fn start() -> ControlPlane {
        let streams = std::sync::Arc::new(skiff_apiserver::streaming::kubelet::KubeletStreams);
        ControlPlane::start_with(None, streams).await
    }

    /// The API server on `store` (a real etcd's endpoint; `None`: a fresh skiff-store in this
    /// process), reaching the kubelets' streams through `streams` (tests give a fake node).
    pub async fn start_with(store: Option<String>, streams: skiff_apiserver::streaming::Streams) -> ControlPlane {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let store_endpoint = match store {
            Some(endpoint) => endpoint,
            None => start_store(&dir, &stop).await,
        };
        let rest = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (api_address, grpc_address) = (rest.local_addr().unwrap(), grpc.local_addr().unwrap());
        let config = skiff_apiserver::Config {
            listen: api_address,
            grpc_listen: Some(grpc_address),
            store_endpoints: vec![store_endpoint.clone()],
            advertise_address: None,
        };
        tokio::spawn(skiff_apiserver::serve_with_streams(config, rest, Some(grpc), streams, stop.clone()));
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {{server: \"http://{api_address}\"}}\n  name: skiff\n\
             contexts:\n- context: {{cluster: skiff, user: skiff, namespace: default}}\n  name: skiff\n\
             current-context: skiff\nusers:\n- name: skiff\n  user: {{}}\n"
        );
        std::fs::write(dir.path().join("kubeconfig"), kubeconfig).unwrap();
        let plane = ControlPlane { dir, stop, store_endpoint, api_address, grpc_address };
        for _ in 0..100 {
            if plane.kubectl(&["get", "ns", "default"]).await.status.success() {
                return plane;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the API server did not come up");
    }
}

/// skiff-store in this process on a free port, its data in `dir`, until `stop`; its address.
pub async fn start_store(dir: &tempfile::TempDir, stop: &CancellationToken) -> String {
    let store_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let store_address = store_listener.local_addr().unwrap();
    let store_config = skiff_store::Config {
        listen: store_address,
        data_dir: dir.path().join("store"),
        metrics_listen: None,
        name: "test".into(),
        retention: skiff_store::Retention::Off,
        progress_interval: Duration::from_secs(600),
        cache_bytes: 8 << 20,
    };
    tokio::spawn(skiff_store::serve(store_config, store_listener, None, stop.clone()));
    store_address.to_string()
}

impl ControlPlane {
    /// A client of the gRPC API, writing as `manager`.
    pub async fn client(&self, manager: &str) -> skiff_client::Client {
        skiff_client::Client::connect(&self.grpc_address.to_string(), manager).await.unwrap()
    }

    /// The real kubectl against this control plane, `input` on its standard input.
    pub async fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl is installed");
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(input.as_bytes()).await.unwrap();
        }
        drop(stdin);
        child.wait_with_output().await.unwrap()
    }

    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, None).await
    }

    /// A given kubectl binary (`kubectl.1.29`, …) with this control plane's kubeconfig and cache,
    /// and extra environment variables (`EDITOR` for `kubectl edit`).
    pub async fn kubectl_at(&self, binary: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        tokio::process::Command::new(binary)
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .output()
            .await
            .expect("the kubectl binary runs")
    }

    /// kubectl that must fail, given `input`; its standard error.
    pub async fn fails_with_input(&self, args: &[&str], input: &str) -> String {
        let out = self.kubectl_with_input(args, Some(input)).await;
        assert!(!out.status.success(), "kubectl {args:?} should fail: {}", text(&out.stdout));
        text(&out.stderr)
    }

    /// kubectl that must succeed; its standard output.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(out.status.success(), "kubectl {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }

    /// kubectl that must succeed, given `input` (for `-f -`).
    pub async fn ok_with_input(&self, args: &[&str], input: &str) -> String {
        let out = self.kubectl_with_input(args, Some(input)).await;
        assert!(out.status.success(), "kubectl {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }

    /// kubectl that must fail; its standard error.
    pub async fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(!out.status.success(), "kubectl {args:?} should fail: {}", text(&out.stdout));
        text(&out.stderr)
    }

    /// Polls `check` every 100 ms until it holds, for at most `limit`; panics with `what`.
    pub async fn eventually<F, Fut>(&self, what: &str, limit: Duration, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for: {what}");
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
