//! A pod's volumes on the host, and its containers' mounts of them.
//!
//! The idea of `pkg/kubelet/volumemanager` (desired state → mounted state), reduced to what a
//! single host with bind mounts needs: on every sync of a pod, [`VolumeManager::set_up`] brings
//! each of its volumes to a directory under `<root>/pods/<uid>/volumes/<plugin>/<name>` (or a
//! host path), and [`mounts`] turns the container's `volumeMounts` into bind mounts. Because
//! set-up runs on every sync (every 10 s, and on each change), a ConfigMap or Secret edit
//! reaches the files within one resync, swapped in atomically ([`atomic_writer`]).
//!
//! | volume | on the host |
//! |---|---|
//! | `emptyDir` | a directory of the pod, mode 0777, removed with the pod (`medium: Memory` is a plain directory too) |
//! | `configMap`, `secret` | the keys as files ([`projection`]), read-only in the containers |
//! | `downwardAPI` | labels, annotations, name, namespace, uid as files |
//! | `hostPath` | the path itself (`DirectoryOrCreate` / `FileOrCreate` create it) |
//! | `persistentVolumeClaim` | the bound PersistentVolume's `hostPath` or `local` path |
//!
//! A volume that cannot be set up (a missing ConfigMap, an unbound claim) fails the sync with a
//! `FailedMount` event, and the pod waits in `ContainerCreating` until it can.
//!
//! Left out: attach/detach, mount propagation, SELinux relabelling, `fsGroup` ownership, projected
//! volumes, size limits.

pub mod atomic_writer;
pub mod projection;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Container, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Volume};
use skiff_client::{Api, Client};

use crate::runtime::Mount;

/// A volume that could not be set up; shown as Kubernetes shows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MountVolume.SetUp failed for volume \"{volume}\" : {message}")]
pub struct VolumeError {
    pub volume: String,
    pub message: String,
}

/// A volume ready on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub path: PathBuf,
    /// ConfigMaps, Secrets and the downward API are always mounted read-only.
    pub read_only: bool,
}

pub struct VolumeManager {
    root: PathBuf,
    client: Client,
}

fn io_error(volume: &str, err: std::io::Error) -> VolumeError {
    VolumeError { volume: volume.into(), message: err.to_string() }
}

impl VolumeManager {
    pub fn new(root: &Path, client: Client) -> VolumeManager {
        VolumeManager { root: root.to_path_buf(), client }
    }

    /// `<root>/pods/<uid>`: everything the kubelet keeps for a pod.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.root.join("pods").join(uid)
    }

    fn volume_dir(&self, uid: &str, plugin: &str, name: &str) -> PathBuf {
        self.pod_dir(uid).join("volumes").join(plugin).join(name)
    }

    /// Sets up every volume of the pod; their host paths by volume name.
    pub async fn set_up(&self, pod: &Pod) -> Result<HashMap<String, Prepared>, VolumeError> {
        let mut prepared = HashMap::new();
        for volume in pod.spec.as_ref().and_then(|s| s.volumes.clone()).unwrap_or_default() {
            let ready = self.set_up_one(pod, &volume).await?;
            prepared.insert(volume.name.clone(), ready);
        }
        Ok(prepared)
    }

    async fn set_up_one(&self, pod: &Pod, volume: &Volume) -> Result<Prepared, VolumeError> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let name = volume.name.as_str();
        let failed = |message: String| VolumeError { volume: name.into(), message };
        let api_failed = |err: skiff_client::ApiError| VolumeError { volume: name.into(), message: err.to_string() };
        let write = |dir: PathBuf, payload: atomic_writer::Payload| -> Result<Prepared, VolumeError> {
            atomic_writer::write(&dir, &payload).map_err(|e| io_error(name, e))?;
            Ok(Prepared { path: dir, read_only: true })
        };

        if volume.empty_dir.is_some() {
            let dir = self.volume_dir(&uid, "kubernetes.io~empty-dir", name);
            std::fs::create_dir_all(&dir).map_err(|e| io_error(name, e))?;
            set_mode(&dir, 0o777).map_err(|e| io_error(name, e))?;
            return Ok(Prepared { path: dir, read_only: false });
        }
        if let Some(source) = &volume.config_map {
            let optional = source.optional == Some(true);
            let maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), &namespace);
            let payload = match maps.get_opt(&source.name).await.map_err(api_failed)? {
                Some(map) => projection::config_map_payload(&map, source.items.as_ref(), source.default_mode, optional)
                    .map_err(failed)?,
                None if optional => Default::default(),
                None => return Err(failed(format!("configmap \"{}\" not found", source.name))),
            };
            return write(self.volume_dir(&uid, "kubernetes.io~configmap", name), payload);
        }
        if let Some(source) = &volume.secret {
            let optional = source.optional == Some(true);
            let secret_name = source.secret_name.clone().unwrap_or_default();
            let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
            let payload = match secrets.get_opt(&secret_name).await.map_err(api_failed)? {
                Some(secret) => {
                    projection::secret_payload(&secret, source.items.as_ref(), source.default_mode, optional)
                        .map_err(failed)?
                }
                None if optional => Default::default(),
                None => return Err(failed(format!("secret \"{secret_name}\" not found"))),
            };
            return write(self.volume_dir(&uid, "kubernetes.io~secret", name), payload);
        }
        if let Some(source) = &volume.downward_api {
            let payload = projection::downward_api_payload(pod, source).map_err(failed)?;
            return write(self.volume_dir(&uid, "kubernetes.io~downward-api", name), payload);
        }
        if let Some(source) = &volume.host_path {
            let path = PathBuf::from(&source.path);
            prepare_host_path(&path, source.type_.as_deref().unwrap_or("")).map_err(failed)?;
            return Ok(Prepared { path, read_only: false });
        }
        if let Some(source) = &volume.persistent_volume_claim {
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
            let claim = claims
                .get_opt(&source.claim_name)
                .await
                .map_err(api_failed)?
                .ok_or_else(|| failed(format!("persistentvolumeclaim \"{}\" not found", source.claim_name)))?;
            let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
            let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.clone()).filter(|v| !v.is_empty());
            let Some(volume_name) = volume_name.filter(|_| bound) else {
                return Err(failed(format!("persistentvolumeclaim \"{}\" is not bound", source.claim_name)));
            };
            let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
            let pv = volumes
                .get_opt(&volume_name)
                .await
                .map_err(api_failed)?
                .ok_or_else(|| failed(format!("persistentvolume \"{volume_name}\" not found")))?;
            let spec = pv.spec.unwrap_or_default();
            let path =
                spec.host_path.map(|h| h.path).or(spec.local.map(|l| l.path)).ok_or_else(|| {
                    failed(format!("persistentvolume \"{volume_name}\" is neither hostPath nor local"))
                })?;
            let path = PathBuf::from(path);
            std::fs::create_dir_all(&path).map_err(|e| io_error(name, e))?;
            return Ok(Prepared { path, read_only: source.read_only == Some(true) });
        }
        Err(failed("volume type not supported by Skiff's kubelet".into()))
    }

    /// Removes everything the kubelet kept for a pod (its emptyDirs and projected files; host
    /// paths and persistent volumes are never touched).
    pub fn tear_down(&self, uid: &str) {
        let dir = self.pod_dir(uid);
        if dir.exists() {
            if let Err(err) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(pod_uid = uid, cause = %err, "could not remove the pod's directory");
            }
        }
    }

    /// The uids of the pods that have a directory here.
    pub fn pods_on_disk(&self) -> Vec<String> {
        std::fs::read_dir(self.root.join("pods"))
            .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// `hostPath` types: the ones that create create; the checking ones check. An empty type
/// creates a missing directory, as `docker run -v` would.
fn prepare_host_path(path: &Path, kind: &str) -> Result<(), String> {
    let shown = path.display();
    match kind {
        "DirectoryOrCreate" | "" => {
            if !path.exists() {
                std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
                if kind == "DirectoryOrCreate" {
                    set_mode(path, 0o755).map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        }
        "FileOrCreate" => {
            if !path.exists() {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                std::fs::write(path, b"").map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        "Directory" if !path.is_dir() => Err(format!("hostPath type check failed: {shown} is not a directory")),
        "File" if !path.is_file() => Err(format!("hostPath type check failed: {shown} is not a file")),
        _ => Ok(()),
    }
}

/// The container's bind mounts: its `volumeMounts` (with `subPath` and `readOnly`), plus the
/// pod's own resolv.conf if it has one.
pub fn mounts(
    container: &Container,
    volumes: &HashMap<String, Prepared>,
    resolv_conf: Option<&Path>,
) -> Result<Vec<Mount>, VolumeError> {
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let prepared = volumes.get(&mount.name).ok_or_else(|| VolumeError {
            volume: mount.name.clone(),
            message: format!("no volume named {:?} in the pod", mount.name),
        })?;
        let mut host = prepared.path.clone();
        if let Some(sub) = mount.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if sub.split('/').any(|part| part == "..") || sub.starts_with('/') {
                return Err(VolumeError { volume: mount.name.clone(), message: format!("invalid subPath {sub:?}") });
            }
            host = host.join(sub);
            if !host.exists() && !prepared.read_only {
                std::fs::create_dir_all(&host).map_err(|e| io_error(&mount.name, e))?;
            }
            // A file of a projected volume is bound itself (through its symlinks), so later
            // updates do not reach it, as in Kubernetes.
            host = std::fs::canonicalize(&host).unwrap_or(host);
        }
        mounts.push(Mount {
            host_path: host.display().to_string(),
            container_path: mount.mount_path.clone(),
            read_only: mount.read_only == Some(true) || prepared.read_only,
        });
    }
    if let Some(resolv) = resolv_conf {
        mounts.push(Mount {
            host_path: resolv.display().to_string(),
            container_path: "/etc/resolv.conf".into(),
            read_only: false,
        });
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn volume_mounts_become_bind_mounts_with_sub_paths_and_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let config = dir.path().join("config");
        atomic_writer::write(&config, &[("color".to_string(), (b"blue".to_vec(), 0o644))].into()).unwrap();
        let volumes = HashMap::from([
            ("data".to_string(), Prepared { path: data.clone(), read_only: false }),
            ("config".to_string(), Prepared { path: config.clone(), read_only: true }),
        ]);
        let container: Container = serde_json::from_value(json!({"name": "web", "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "data", "mountPath": "/logs", "subPath": "logs", "readOnly": true},
            {"name": "config", "mountPath": "/etc/color", "subPath": "color"},
        ]}))
        .unwrap();
        let resolv = dir.path().join("resolv.conf");
        let got = mounts(&container, &volumes, Some(&resolv)).unwrap();
        let shown: Vec<(String, String, bool)> =
            got.into_iter().map(|m| (m.host_path, m.container_path, m.read_only)).collect();
        let real_color = std::fs::canonicalize(config.join("color")).unwrap();
        assert_eq!(
            shown,
            vec![
                (data.display().to_string(), "/data".into(), false),
                (std::fs::canonicalize(data.join("logs")).unwrap().display().to_string(), "/logs".into(), true),
                (real_color.display().to_string(), "/etc/color".into(), true),
                (resolv.display().to_string(), "/etc/resolv.conf".into(), false),
            ]
        );
        assert!(data.join("logs").is_dir(), "a missing subPath of a writable volume is created");
        let escape: Container = serde_json::from_value(json!({"name": "web", "volumeMounts": [
            {"name": "data", "mountPath": "/x", "subPath": "../etc"}]}))
        .unwrap();
        assert!(mounts(&escape, &volumes, None).is_err());
    }

    #[test]
    fn host_path_types_create_or_check() {
        let dir = tempfile::tempdir().unwrap();
        let new_dir = dir.path().join("a/b");
        prepare_host_path(&new_dir, "DirectoryOrCreate").unwrap();
        assert!(new_dir.is_dir());
        let file = dir.path().join("f/x.log");
        prepare_host_path(&file, "FileOrCreate").unwrap();
        assert!(file.is_file());
        let err = prepare_host_path(&dir.path().join("missing"), "Directory").unwrap_err();
        assert!(err.ends_with("is not a directory"), "{err}");
    }
}
