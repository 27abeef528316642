//! What the API server's test files share: the shared in-process control plane of
//! `skiff-tests` (the API server on skiff-store or a real etcd, the real `kubectl` with a fresh
//! `--cache-dir`), and the versioned kubectl binaries.

#![allow(dead_code)]

use std::process::Output;
use std::sync::Arc;

use skiff_tests::control_plane::ControlPlane;

pub struct Cluster {
    plane: ControlPlane,
    /// Held for the test's length when the API server runs on a real etcd.
    _etcd: Option<skiff_tests::etcd::EtcdProcess>,
}

impl std::ops::Deref for Cluster {
    type Target = ControlPlane;
    fn deref(&self) -> &ControlPlane {
        &self.plane
    }
}

impl Cluster {
    /// The API server on skiff-store, with no nodes to stream from.
    pub async fn start() -> Cluster {
        Cluster::start_with_streams(Arc::new(skiff_apiserver::streaming::Unreachable)).await
    }

    /// The API server on a real etcd (Debian's etcd 3.4).
    pub async fn start_on_etcd() -> Cluster {
        let etcd = tokio::task::spawn_blocking(skiff_tests::etcd::EtcdProcess::start).await.unwrap();
        let streams = Arc::new(skiff_apiserver::streaming::Unreachable);
        let plane = ControlPlane::start_with(Some(etcd.url()), streams).await;
        Cluster { plane, _etcd: Some(etcd) }
    }

    /// The API server on skiff-store, reaching the kubelets' streams through `streams`.
    pub async fn start_with_streams(streams: skiff_apiserver::streaming::Streams) -> Cluster {
        Cluster { plane: ControlPlane::start_with(None, streams).await, _etcd: None }
    }

    /// kubectl with extra environment variables (`EDITOR` for `kubectl edit`).
    pub async fn kubectl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.plane.kubectl_at(std::path::Path::new("kubectl"), args, env).await
    }

    /// A specific kubectl binary (`kubectl.1.29`, beside the `kubectl` dispatcher on PATH).
    pub async fn kubectl_version(&self, binary: &std::path::Path, args: &[&str]) -> Output {
        self.plane.kubectl_at(binary, args, &[]).await
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
