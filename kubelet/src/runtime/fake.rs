//! An in-memory [`ContainerRuntime`]: containers are records, "running" is a flag.
//!
//! Mirrors Kubernetes' `pkg/kubelet/container/testing/fake_runtime.go` (and kubemark's hollow
//! kubelet, which runs the real kubelet over a fake runtime): every call is recorded in order, so
//! tests assert on what the kubelet asked for, and any operation can be made to fail once with
//! [`FakeRuntime::fail_next`] (a refused `start_container` leaves the container exited with
//! 128, as the Docker runtime reports a failed start). Containers "exit" when a test says so
//! ([`FakeRuntime::exit`]); exec answers what [`FakeRuntime::on_exec`] scripted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures::stream::{BoxStream, StreamExt};
use parking_lot::Mutex;

use super::{
    Container, ContainerConfig, ContainerRuntime, ContainerState, ContainerSummary, ExecConfig, Image, LogOptions,
    Network, NetworkMode, Output, ResizeTarget, Result, RuntimeError, Session,
};

#[derive(Default)]
struct State {
    calls: Vec<String>,
    failures: HashMap<String, VecDeque<RuntimeError>>,
    images: HashMap<String, Image>,
    /// Images `pull_image` can find (as if in a registry).
    pullable: HashMap<String, Image>,
    containers: BTreeMap<String, (Container, ContainerConfig)>,
    next_id: u64,
    exec_answers: HashMap<String, (i64, String)>,
    execs: HashMap<String, i64>,
    network: Option<Network>,
}

/// A runtime with no engine behind it; cheap to clone (one shared state).
#[derive(Clone, Default)]
pub struct FakeRuntime {
    state: Arc<Mutex<State>>,
}

impl FakeRuntime {
    pub fn new() -> FakeRuntime {
        FakeRuntime::default()
    }

    /// An image present on the machine.
    pub fn with_image(self, image: &str) -> FakeRuntime {
        let id = format!("sha256:{:0>64}", image.len());
        self.state.lock().images.insert(image.to_string(), Image { id, repo_digests: vec![] });
        self
    }

    /// An image a pull would find.
    pub fn pullable(self, image: &str) -> FakeRuntime {
        let id = format!("sha256:{:0>64}", image.len() + 1);
        let digest = format!("{image}@sha256:{:0>64}", 7);
        self.state.lock().pullable.insert(image.to_string(), Image { id, repo_digests: vec![digest] });
        self
    }

    /// The next call of `operation` (`"start_container"`, `"pull_image"`…) fails with `err`.
    pub fn fail_next(&self, operation: &str, err: RuntimeError) {
        self.state.lock().failures.entry(operation.to_string()).or_default().push_back(err);
    }

    /// Every call so far, as `operation target`.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.state.lock().calls.clear();
    }

    /// Makes a running container exit with `code`.
    pub fn exit(&self, id: &str, code: i64) {
        let mut state = self.state.lock();
        if let Some((container, _)) = state.containers.get_mut(id) {
            container.state = ContainerState::Exited;
            container.exit_code = code;
            container.finished_at = Some(Utc::now());
        }
    }

    /// What exec of `cmd` (joined by spaces) answers, in any container.
    pub fn on_exec(&self, cmd: &str, exit_code: i64, output: &str) {
        self.state.lock().exec_answers.insert(cmd.to_string(), (exit_code, output.to_string()));
    }

    /// Every container, as created.
    pub fn containers(&self) -> Vec<(Container, ContainerConfig)> {
        self.state.lock().containers.values().cloned().collect()
    }

    /// Puts a container in place as if an earlier kubelet had made it (adoption tests).
    pub fn insert_container(&self, config: ContainerConfig, state: ContainerState) -> String {
        let mut s = self.state.lock();
        s.next_id += 1;
        let id = format!("{:0>12}", s.next_id);
        let container = container_of(&id, &config, state);
        s.containers.insert(id.clone(), (container, config));
        id
    }

    fn call(&self, operation: &str, target: &str) -> Result<()> {
        let mut state = self.state.lock();
        state.calls.push(format!("{operation} {target}").trim_end().to_string());
        match state.failures.get_mut(operation).and_then(VecDeque::pop_front) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

fn container_of(id: &str, config: &ContainerConfig, state: ContainerState) -> Container {
    let ip = match &config.network {
        Some(NetworkMode::Bridge { address, .. }) => Some(address.unwrap_or(Ipv4Addr::new(10, 88, 0, 2))),
        _ => None,
    };
    let now = Utc::now();
    Container {
        id: id.to_string(),
        name: config.name.clone(),
        labels: config.labels.clone(),
        state,
        image: config.image.clone(),
        image_id: format!("sha256:{:0>64}", config.image.len()),
        created_at: Some(now),
        started_at: (state == ContainerState::Running).then_some(now),
        finished_at: None,
        exit_code: 0,
        oom_killed: false,
        error: String::new(),
        start_failed: false,
        ip,
    }
}

#[async_trait]
impl ContainerRuntime for FakeRuntime {
    async fn version(&self) -> Result<String> {
        self.call("version", "")?;
        Ok("docker://20.10.0-fake".into())
    }

    async fn ensure_network(&self, name: &str, subnet: &str, gateway: Ipv4Addr) -> Result<Network> {
        self.call("ensure_network", name)?;
        let mut state = self.state.lock();
        let network = state
            .network
            .get_or_insert_with(|| Network { id: "net0".into(), name: name.into(), subnet: subnet.into(), gateway })
            .clone();
        Ok(network)
    }

    async fn inspect_image(&self, image: &str) -> Result<Option<Image>> {
        self.call("inspect_image", image)?;
        Ok(self.state.lock().images.get(image).cloned())
    }

    async fn pull_image(&self, image: &str) -> Result<Image> {
        self.call("pull_image", image)?;
        let mut state = self.state.lock();
        match state.pullable.get(image).cloned() {
            Some(found) => {
                state.images.insert(image.to_string(), found.clone());
                Ok(found)
            }
            None => Err(RuntimeError::NotFound(format!(
                "pull access denied for {image}, repository does not exist or may require 'docker login'"
            ))),
        }
    }

    async fn create_container(&self, config: &ContainerConfig) -> Result<String> {
        self.call("create_container", &config.name)?;
        let mut state = self.state.lock();
        if state.containers.values().any(|(c, _)| c.name == config.name) {
            return Err(RuntimeError::Refused { status: 409, message: format!("name {} is in use", config.name) });
        }
        state.next_id += 1;
        let id = format!("{:0>12}", state.next_id);
        state.containers.insert(id.clone(), (container_of(&id, config, ContainerState::Created), config.clone()));
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let name = self.name_of(id);
        let started = self.call("start_container", &name);
        let mut state = self.state.lock();
        if let Err(err) = started {
            // Refused (as Docker refuses a missing executable): the container stays, failed.
            if let (RuntimeError::Refused { message, .. }, Some((container, _))) = (&err, state.containers.get_mut(id))
            {
                container.state = ContainerState::Exited;
                container.exit_code = super::START_ERROR_EXIT_CODE;
                container.error = message.clone();
                container.finished_at = container.created_at;
                container.start_failed = true;
            }
            return Err(err);
        }
        let (container, _) = state.containers.get_mut(id).ok_or_else(|| RuntimeError::NotFound(id.into()))?;
        container.state = ContainerState::Running;
        container.started_at = Some(Utc::now());
        Ok(())
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Result<()> {
        let name = self.name_of(id);
        self.call("stop_container", &format!("{name} {}s", grace.as_millis().div_ceil(1000)))?;
        self.exit(id, 0);
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let name = self.name_of(id);
        self.call("remove_container", &name)?;
        self.state.lock().containers.remove(id).map(|_| ()).ok_or_else(|| RuntimeError::NotFound(id.into()))
    }

    async fn list_containers(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerSummary>> {
        self.call("list_containers", "")?;
        let state = self.state.lock();
        Ok(state
            .containers
            .values()
            .filter(|(c, _)| labels.iter().all(|(k, v)| c.labels.get(*k).map(String::as_str) == Some(*v)))
            .map(|(c, _)| ContainerSummary {
                id: c.id.clone(),
                name: c.name.clone(),
                labels: c.labels.clone(),
                state: c.state,
            })
            .collect())
    }

    async fn inspect_container(&self, id: &str) -> Result<Container> {
        self.call("inspect_container", id)?;
        let state = self.state.lock();
        state.containers.get(id).map(|(c, _)| c.clone()).ok_or_else(|| RuntimeError::NotFound(id.into()))
    }

    async fn exec(&self, id: &str, config: &ExecConfig) -> Result<Session> {
        let cmd = config.cmd.join(" ");
        self.call("exec", &format!("{} {cmd}", self.name_of(id)))?;
        let mut state = self.state.lock();
        let (code, output) = state.exec_answers.get(&cmd).cloned().unwrap_or((0, String::new()));
        let exec_id = format!("exec-{}", state.execs.len() + 1);
        state.execs.insert(exec_id.clone(), code);
        let output = futures::stream::iter(vec![Ok(Output::Stdout(Bytes::from(output)))]).boxed();
        Ok(Session { id: exec_id, output, input: Box::pin(tokio::io::sink()) })
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>> {
        Ok(self.state.lock().execs.get(exec_id).copied())
    }

    async fn resize(&self, target: ResizeTarget<'_>, width: u16, height: u16) -> Result<()> {
        self.call("resize", &format!("{target:?} {width}x{height}"))
    }

    async fn attach(&self, id: &str, _stdin: bool) -> Result<Session> {
        self.call("attach", id)?;
        Ok(Session { id: id.into(), output: futures::stream::empty().boxed(), input: Box::pin(tokio::io::sink()) })
    }

    async fn wait_container(&self, id: &str) -> Result<i64> {
        self.call("wait_container", id)?;
        Ok(self.state.lock().containers.get(id).map(|(c, _)| c.exit_code).unwrap_or_default())
    }

    fn logs(&self, id: &str, _options: &LogOptions) -> BoxStream<'static, Result<Output>> {
        let _ = self.call("logs", id);
        futures::stream::empty().boxed()
    }
}

impl FakeRuntime {
    fn name_of(&self, id: &str) -> String {
        self.state.lock().containers.get(id).map(|(c, _)| c.name.clone()).unwrap_or_else(|| id.to_string())
    }
}

impl FakeRuntime {
    /// Removes a container behind the kubelet's back (as `docker rm -f` would).
    pub fn remove_container_now(&self, id: &str) {
        self.state.lock().containers.remove(id);
    }
}
