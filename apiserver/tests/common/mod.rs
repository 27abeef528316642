//! What the API server's test files share: the API server on skiff-store or a real etcd (in
//! process, on free ports), and the real `kubectl` pointed at it with a fresh `--cache-dir`.

#![allow(dead_code)]

use std::process::Output;

use skiff_store::Retention;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct Cluster {
    pub dir: tempfile::TempDir,
    stop: CancellationToken,
    pub store_endpoint: String,
    /// The REST API.
    pub api_address: std::net::SocketAddr,
    /// The internal gRPC API.
    pub grpc_address: std::net::SocketAddr,
    /// Held for the test's length when the API server runs on a real etcd.
    _etcd: Option<skiff_tests::etcd::EtcdProcess>,
}

/// skiff-store in process, on a free port, with its data in `dir`; its address.
async fn start_store(dir: &tempfile::TempDir, stop: &CancellationToken) -> String {
    let store_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let store_address = store_listener.local_addr().unwrap();
    let store_config = skiff_store::Config {
        listen: store_address,
        data_dir: dir.path().join("store"),
        metrics_listen: None,
        name: "test".into(),
        retention: Retention::Off,
        progress_interval: std::time::Duration::from_secs(600),
        cache_bytes: 8 << 20,
    };
    tokio::spawn(skiff_store::serve(store_config, store_listener, None, stop.clone()));
    store_address.to_string()
}

impl Cluster {
    /// The API server on skiff-store.
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let store_address = start_store(&dir, &stop).await;
        Cluster::with_store(dir, stop, store_address, None).await
    }

    /// The API server on a real etcd (Debian's etcd 3.4).
    pub async fn start_on_etcd() -> Cluster {
        let etcd = tokio::task::spawn_blocking(skiff_tests::etcd::EtcdProcess::start).await.unwrap();
        let endpoint = etcd.url();
        Cluster::with_store(tempfile::tempdir().unwrap(), CancellationToken::new(), endpoint, Some(etcd)).await
    }

    /// The API server on skiff-store, reaching the kubelets' streams through `streams`.
    pub async fn start_with_streams(streams: skiff_apiserver::streaming::Streams) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let store_address = start_store(&dir, &stop).await;
        Cluster::with_store_and_streams(dir, stop, store_address, None, streams).await
    }

    pub async fn with_store(
        dir: tempfile::TempDir,
        stop: CancellationToken,
        store_endpoint: String,
        etcd: Option<skiff_tests::etcd::EtcdProcess>,
    ) -> Cluster {
        let streams = std::sync::Arc::new(skiff_apiserver::streaming::Unreachable);
        Cluster::with_store_and_streams(dir, stop, store_endpoint, etcd, streams).await
    }

    async fn with_store_and_streams(
        dir: tempfile::TempDir,
        stop: CancellationToken,
        store_endpoint: String,
        etcd: Option<skiff_tests::etcd::EtcdProcess>,
        streams: skiff_apiserver::streaming::Streams,
    ) -> Cluster {
        let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_address = api_listener.local_addr().unwrap();
        let grpc_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_address = grpc_listener.local_addr().unwrap();
        let api_config = skiff_apiserver::Config {
            listen: api_address,
            grpc_listen: Some(grpc_address),
            store_endpoints: vec![store_endpoint.clone()],
        };
        tokio::spawn(skiff_apiserver::serve_with_streams(
            api_config,
            api_listener,
            Some(grpc_listener),
            streams,
            stop.clone(),
        ));

        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {{server: \"http://{api_address}\"}}\n  name: skiff\n\
             contexts:\n- context: {{cluster: skiff, user: skiff, namespace: default}}\n  name: skiff\n\
             current-context: skiff\nusers:\n- name: skiff\n  user: {{}}\n"
        );
        std::fs::write(dir.path().join("kubeconfig"), kubeconfig).unwrap();
        let cluster = Cluster { dir, stop, store_endpoint, api_address, grpc_address, _etcd: etcd };
        // Ready once the initial namespaces exist.
        for _ in 0..100 {
            if cluster.kubectl(&["get", "ns", "default"]).await.status.success() {
                return cluster;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the API server did not come up");
    }

    pub async fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut command = tokio::process::Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("kubectl is installed");
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(input.as_bytes()).await.unwrap();
        }
        drop(stdin);
        child.wait_with_output().await.unwrap()
    }

    /// kubectl with extra environment variables (`EDITOR` for `kubectl edit`).
    pub async fn kubectl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .output()
            .await
            .expect("kubectl is installed")
    }

    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, None).await
    }

    /// kubectl that must succeed; its standard output.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// kubectl that must succeed, given `input` on its standard input (`-f -`).
    pub async fn ok_with_input(&self, args: &[&str], input: &str) -> String {
        let out = self.kubectl_with_input(args, Some(input)).await;
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// kubectl that must fail, given `input`; its standard error.
    pub async fn fails_with_input(&self, args: &[&str], input: &str) -> String {
        let out = self.kubectl_with_input(args, Some(input)).await;
        assert!(!out.status.success(), "kubectl {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).unwrap()
    }

    /// kubectl that must fail; its standard error.
    pub async fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(!out.status.success(), "kubectl {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Cluster {
    /// A specific kubectl binary (`kubectl.1.29`, beside the `kubectl` dispatcher on PATH),
    /// with this cluster's kubeconfig and cache; its standard output, standard error and success.
    pub async fn kubectl_version(&self, binary: &std::path::Path, args: &[&str]) -> Output {
        tokio::process::Command::new(binary)
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .expect("the kubectl binary runs")
    }
}

/// The versioned kubectl binaries installed beside the `kubectl` on PATH (gcloud's dispatcher).
pub fn versioned_kubectls() -> Vec<std::path::PathBuf> {
    let Some(dispatcher) = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("kubectl")).find(|p| p.exists()))
    else {
        return Vec::new();
    };
    let dir = std::fs::canonicalize(dispatcher).ok().and_then(|p| p.parent().map(std::path::Path::to_path_buf));
    let mut found: Vec<std::path::PathBuf> = dir
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("kubectl.1.")))
        .collect();
    found.sort();
    found
}
