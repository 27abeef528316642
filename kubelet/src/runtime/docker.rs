//! [`ContainerRuntime`] over the Docker Engine API, through bollard.
//!
//! Mirrors what dockershim did for the kubelet (`pkg/kubelet/dockershim/docker_service.go`,
//! `docker_container.go`, removed in Kubernetes 1.24), without the CRI translation layer in
//! between: the kubelet asks for Docker containers directly. One piece of CRI is kept: a
//! container Docker could not start is reported exited with 128, as containerd reports it
//! ([`start_failure_as_exit`]).
//!
//! bollard asks for the newest Engine API by default; Docker 20.10 speaks 1.41 and refuses newer
//! clients, so [`DockerRuntime::connect`] negotiates the version first.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig, MountType,
    NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    ResizeContainerTTYOptionsBuilder, ResizeExecOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt};

use super::{
    Container, ContainerConfig, ContainerRuntime, ContainerState, ContainerSummary, ExecConfig, Image, LogOptions,
    Network, NetworkMode, Output, ResizeTarget, Result, RuntimeError, Session,
};

/// The Docker Engine on this host.
#[derive(Clone)]
pub struct DockerRuntime {
    docker: Docker,
}

impl DockerRuntime {
    /// Connects to the local Docker (`DOCKER_HOST` or the Unix socket) and agrees on an API
    /// version it speaks.
    pub async fn connect() -> Result<DockerRuntime> {
        let docker = Docker::connect_with_local_defaults().map_err(engine)?;
        let docker = docker.negotiate_version().await.map_err(engine)?;
        Ok(DockerRuntime { docker })
    }
}

fn engine(err: BollardError) -> RuntimeError {
    match err {
        BollardError::DockerResponseServerError { status_code: 404, message } => RuntimeError::NotFound(message),
        BollardError::DockerResponseServerError { status_code, message } => {
            RuntimeError::Refused { status: status_code, message }
        }
        BollardError::DockerStreamError { error } => RuntimeError::Refused { status: 500, message: error },
        other => RuntimeError::Engine(other.to_string()),
    }
}

/// Docker's timestamps; `0001-01-01T00:00:00Z` means "never".
fn time(text: Option<&str>) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(text?).ok()?.with_timezone(&Utc);
    (parsed.timestamp() > 0).then_some(parsed)
}

fn labels(map: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

/// Docker leaves a container it could not start `created`, with `State.Error` set and no times
/// (Docker 20.10: `"Status":"created","ExitCode":127,"Error":"… exec: \"nope\": executable
/// file not found in $PATH: unknown","StartedAt":"0001-01-01T00:00:00Z"`). A CRI runtime reports
/// it exited instead, with exit code 128 (containerd's `StartContainer`), and the kubelet's crash
/// path (status, restart, back-off) expects that, so it is reported so here. Docker keeps no
/// time of the failure: the creation time stands in for it (the start follows within
/// milliseconds).
fn start_failure_as_exit(mut container: Container) -> Container {
    let never_ran =
        matches!(container.state, ContainerState::Created | ContainerState::Exited) && container.started_at.is_none();
    if never_ran && !container.error.is_empty() {
        container.state = ContainerState::Exited;
        container.exit_code = super::START_ERROR_EXIT_CODE;
        container.finished_at = container.created_at;
        container.start_failed = true;
    }
    container
}

fn state_of(status: &str) -> ContainerState {
    match status {
        "created" => ContainerState::Created,
        "running" => ContainerState::Running,
        "exited" => ContainerState::Exited,
        _ => ContainerState::Unknown,
    }
}

fn create_body(config: &ContainerConfig) -> ContainerCreateBody {
    let mounts = config
        .mounts
        .iter()
        .map(|m| bollard::models::Mount {
            target: Some(m.container_path.clone()),
            source: Some(m.host_path.clone()),
            typ: Some(MountType::BIND),
            read_only: Some(m.read_only),
            ..Default::default()
        })
        .collect();
    let (network_mode, networking_config) = match &config.network {
        Some(NetworkMode::Bridge { network, address }) => {
            let endpoint = EndpointSettings {
                ipam_config: address
                    .map(|a| EndpointIpamConfig { ipv4_address: Some(a.to_string()), ..Default::default() }),
                ..Default::default()
            };
            let endpoints = HashMap::from([(network.clone(), endpoint)]);
            (Some(network.clone()), Some(NetworkingConfig { endpoints_config: Some(endpoints) }))
        }
        Some(NetworkMode::Container(id)) => (Some(format!("container:{id}")), None),
        None => (None, None),
    };
    let host_config = HostConfig {
        mounts: Some(mounts),
        network_mode,
        memory: config.memory_limit,
        nano_cpus: config.nano_cpus,
        cpu_shares: config.cpu_shares,
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(config.image.clone()),
        entrypoint: config.entrypoint.clone(),
        cmd: config.cmd.clone(),
        env: Some(config.env.clone()),
        working_dir: config.working_dir.clone(),
        labels: Some(config.labels.clone().into_iter().collect()),
        hostname: config.hostname.clone(),
        domainname: config.domainname.clone(),
        tty: Some(config.tty),
        open_stdin: Some(config.stdin),
        stdin_once: Some(config.stdin_once),
        attach_stdin: Some(config.stdin),
        user: config.user.clone(),
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    }
}

fn output_of(item: std::result::Result<bollard::container::LogOutput, BollardError>) -> Result<Output> {
    use bollard::container::LogOutput;
    match item.map_err(engine)? {
        LogOutput::StdErr { message } => Ok(Output::Stderr(message)),
        LogOutput::StdOut { message } | LogOutput::Console { message } | LogOutput::StdIn { message } => {
            Ok(Output::Stdout(message))
        }
    }
}

#[async_trait]
impl ContainerRuntime for DockerRuntime {
    async fn version(&self) -> Result<String> {
        let version = self.docker.version().await.map_err(engine)?;
        Ok(format!("docker://{}", version.version.unwrap_or_default()))
    }

    async fn ensure_network(&self, name: &str, subnet: &str, gateway: Ipv4Addr) -> Result<Network> {
        // Docker 20.10 accepts two networks of one name (the API 1.41 `CheckDuplicate` flag is
        // gone from bollard's models), so kubelets racing to create it may make two. Everyone
        // then agrees on the oldest (smallest creation time, then id) and removes any other it
        // made itself.
        let list = |docker: Docker| async move {
            let filters = HashMap::from([("name", vec![name])]);
            let found = docker
                .list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build()))
                .await
                .map_err(engine)?;
            let mut exact: Vec<_> = found.into_iter().filter(|n| n.name.as_deref() == Some(name)).collect();
            exact.sort_by_key(|n| (n.created.clone(), n.id.clone()));
            Ok::<_, RuntimeError>(exact)
        };
        let mut found = list(self.docker.clone()).await?;
        if found.is_empty() {
            let request = NetworkCreateRequest {
                name: name.to_string(),
                driver: Some("bridge".into()),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(subnet.into()),
                        gateway: Some(gateway.to_string()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                labels: Some(HashMap::from([("io.skiff.network".to_string(), "pods".to_string())])),
                ..Default::default()
            };
            let created = self.docker.create_network(request).await.map_err(engine)?;
            found = list(self.docker.clone()).await?;
            if found.len() > 1 && found[0].id.as_deref() != Some(created.id.as_str()) {
                tracing::info!(network = name, "another kubelet created the network at the same time; using theirs");
                let _ = self.docker.remove_network(&created.id).await;
                found = list(self.docker.clone()).await?;
            }
        }
        let network = found.into_iter().next().ok_or_else(|| RuntimeError::NotFound(format!("network {name}")))?;
        let config = network.ipam.and_then(|i| i.config).and_then(|c| c.into_iter().next()).unwrap_or_default();
        let gateway = config.gateway.as_deref().and_then(|g| g.parse().ok()).unwrap_or(gateway);
        Ok(Network {
            id: network.id.unwrap_or_default(),
            name: name.to_string(),
            subnet: config.subnet.unwrap_or_default(),
            gateway,
        })
    }

    async fn inspect_image(&self, image: &str) -> Result<Option<Image>> {
        match self.docker.inspect_image(image).await {
            Ok(found) => Ok(Some(Image {
                id: found.id.unwrap_or_default(),
                repo_digests: found.repo_digests.unwrap_or_default(),
            })),
            Err(err) => match engine(err) {
                RuntimeError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn pull_image(&self, image: &str) -> Result<Image> {
        let options = CreateImageOptionsBuilder::default().from_image(image).build();
        let mut progress = self.docker.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            step.map_err(engine)?;
        }
        self.inspect_image(image).await?.ok_or_else(|| RuntimeError::NotFound(format!("image {image}")))
    }

    async fn create_container(&self, config: &ContainerConfig) -> Result<String> {
        let options = CreateContainerOptionsBuilder::default().name(&config.name).build();
        let created = self.docker.create_container(Some(options), create_body(config)).await.map_err(engine)?;
        Ok(created.id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.docker.start_container(id, None).await.map_err(engine)
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Result<()> {
        // Whole seconds, rounded up: 2.9 s left must not become 2.
        let seconds = grace.as_millis().div_ceil(1000) as i32;
        let options = StopContainerOptionsBuilder::default().t(seconds).build();
        match self.docker.stop_container(id, Some(options)).await {
            // 304: already stopped.
            Err(BollardError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            other => other.map_err(engine),
        }
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        self.docker.remove_container(id, Some(options)).await.map_err(engine)
    }

    async fn list_containers(&self, wanted: &[(&str, &str)]) -> Result<Vec<ContainerSummary>> {
        let labels: Vec<String> = wanted.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let filters = HashMap::from([("label".to_string(), labels)]);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let found = self.docker.list_containers(Some(options)).await.map_err(engine)?;
        Ok(found
            .into_iter()
            .map(|c| ContainerSummary {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .unwrap_or_default()
                    .first()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                labels: labels_of(c.labels),
                state: c.state.map(|s| state_of(s.as_ref())).unwrap_or(ContainerState::Unknown),
            })
            .collect())
    }

    async fn inspect_container(&self, id: &str) -> Result<Container> {
        let found = self.docker.inspect_container(id, None).await.map_err(engine)?;
        let state = found.state.unwrap_or_default();
        let config = found.config.unwrap_or_default();
        let ip = found
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|networks| networks.into_values().find_map(|e| e.ip_address.filter(|a| !a.is_empty())))
            .and_then(|a| a.parse().ok());
        Ok(start_failure_as_exit(Container {
            id: found.id.unwrap_or_default(),
            name: found.name.unwrap_or_default().trim_start_matches('/').to_string(),
            labels: labels(config.labels),
            state: state.status.map(|s| state_of(s.as_ref())).unwrap_or(ContainerState::Unknown),
            image: config.image.unwrap_or_default(),
            image_id: found.image.unwrap_or_default(),
            created_at: found.created.as_deref().and_then(|c| time(Some(c))),
            started_at: time(state.started_at.as_deref()),
            finished_at: time(state.finished_at.as_deref()),
            exit_code: state.exit_code.unwrap_or_default(),
            oom_killed: state.oom_killed.unwrap_or_default(),
            error: state.error.unwrap_or_default(),
            start_failed: false,
            ip,
        }))
    }

    async fn exec(&self, id: &str, config: &ExecConfig) -> Result<Session> {
        let options = CreateExecOptions::<String> {
            attach_stdin: Some(config.stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(config.tty),
            cmd: Some(config.cmd.clone()),
            ..Default::default()
        };
        let created = self.docker.create_exec(id, options).await.map_err(engine)?;
        let start = StartExecOptions { detach: false, tty: config.tty, output_capacity: None };
        match self.docker.start_exec(&created.id, Some(start)).await.map_err(engine)? {
            StartExecResults::Attached { output, input } => {
                Ok(Session { id: created.id, output: output.map(output_of).boxed(), input })
            }
            StartExecResults::Detached => Err(RuntimeError::Engine("the exec started detached".into())),
        }
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>> {
        let found = self.docker.inspect_exec(exec_id).await.map_err(engine)?;
        if found.running.unwrap_or(false) {
            return Ok(None);
        }
        Ok(found.exit_code)
    }

    async fn resize(&self, target: ResizeTarget<'_>, width: u16, height: u16) -> Result<()> {
        match target {
            ResizeTarget::Exec(id) => {
                let options = ResizeExecOptionsBuilder::default().w(width as i32).h(height as i32).build();
                self.docker.resize_exec(id, options).await.map_err(engine)
            }
            ResizeTarget::Container(id) => {
                let options = ResizeContainerTTYOptionsBuilder::default().w(width as i32).h(height as i32).build();
                self.docker.resize_container_tty(id, options).await.map_err(engine)
            }
        }
    }

    async fn attach(&self, id: &str, stdin: bool) -> Result<Session> {
        let options =
            AttachContainerOptionsBuilder::default().stream(true).stdin(stdin).stdout(true).stderr(true).build();
        let attached = self.docker.attach_container(id, Some(options)).await.map_err(engine)?;
        Ok(Session { id: id.to_string(), output: attached.output.map(output_of).boxed(), input: attached.input })
    }

    async fn wait_container(&self, id: &str) -> Result<i64> {
        let mut waits = self.docker.wait_container(id, None);
        match waits.next().await {
            Some(Ok(done)) => Ok(done.status_code),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(err)) => Err(engine(err)),
            None => Err(RuntimeError::Engine(format!("waiting for {id} ended without an answer"))),
        }
    }

    fn logs(&self, id: &str, options: &LogOptions) -> BoxStream<'static, Result<Output>> {
        let mut builder = LogsOptionsBuilder::default()
            .follow(options.follow)
            .stdout(true)
            .stderr(true)
            .timestamps(options.timestamps)
            .tail(&options.tail_lines.map(|n| n.to_string()).unwrap_or_else(|| "all".into()));
        if let Some(since) = options.since_unix {
            builder = builder.since(since as i32);
        }
        self.docker.logs(id, Some(builder.build())).map(output_of).boxed()
    }
}

fn labels_of(map: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    labels(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspected(state: ContainerState, started: bool, error: &str) -> Container {
        let at = DateTime::from_timestamp(1_700_000_000, 0);
        Container {
            id: "c1".into(),
            name: "k8s_app_web_default_u1_0".into(),
            labels: BTreeMap::new(),
            state,
            image: "skiff/toolbox:1".into(),
            image_id: "sha256:aaa".into(),
            created_at: at,
            started_at: if started { at } else { None },
            finished_at: None,
            exit_code: if error.is_empty() { 0 } else { 127 },
            oom_killed: false,
            error: error.into(),
            start_failed: false,
            ip: None,
        }
    }

    #[test]
    fn a_container_docker_could_not_start_is_reported_exited_with_128() {
        let refused = "exec: \"nope\": executable file not found in $PATH: unknown";
        let failed = start_failure_as_exit(inspected(ContainerState::Created, false, refused));
        assert_eq!(
            (failed.state, failed.exit_code, failed.start_failed, failed.error.as_str()),
            (ContainerState::Exited, 128, true, refused)
        );
        assert_eq!(failed.finished_at, failed.created_at, "Docker keeps no time of the failure");

        let half_made = inspected(ContainerState::Created, false, "");
        assert_eq!(start_failure_as_exit(half_made.clone()), half_made, "created, never started: still created");
        let ran = inspected(ContainerState::Exited, true, "some later error");
        assert_eq!(start_failure_as_exit(ran.clone()), ran, "it ran: an ordinary exit");
    }
}
