//! The Docker Engine, as the benchmarks use it: the floor's containers, every container's own
//! timestamps, and guards that remove containers by label.
//!
//! Through bollard, the client the kubelet uses (`kubelet/src/runtime/docker.rs`), with the API
//! version negotiated first: Docker 20.10 refuses bollard's default (machine-facts.md).
//!
//! Docker records two instants per container, in nanoseconds of the wall clock: `Created`, set
//! early in the create request, and `State.StartedAt`, set once its process runs (after the
//! network namespace and its prestart hook for a pause container). Read back after a run
//! ([`Docker::timestamps`]), they split a pod's start into Docker's part and the kubelet's part
//! without touching the kubelet (`breakdown.rs`).

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::{Duration, SystemTime};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::stream::{self, StreamExt};

use crate::error::BenchError;

/// Inspections and removals in flight at once, after a workload. Docker removes about 19
/// containers a second however many are asked for (machine-facts.md); a few at a time keep it
/// busy without a burst of connections.
const CALLS_IN_FLIGHT: usize = 8;

fn refused(step: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> BenchError {
    let step = step.into();
    move |source| BenchError::Docker { step, source }
}

/// A connection to the local Docker, cheap to clone.
#[derive(Clone)]
pub struct Docker {
    api: bollard::Docker,
}

/// One container's identity and Docker's instants for it.
#[derive(Debug, Clone)]
pub struct ContainerTimes {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub created: SystemTime,
    /// None if it never started.
    pub started: Option<SystemTime>,
}

impl Docker {
    pub async fn connect() -> Result<Docker, BenchError> {
        let api = bollard::Docker::connect_with_local_defaults().map_err(refused("connect"))?;
        let api = api.negotiate_version().await.map_err(refused("agree on an API version"))?;
        Ok(Docker { api })
    }

    /// "Docker 20.10.24 (API 1.41)", for the report's versions line.
    pub async fn version(&self) -> String {
        match self.api.version().await {
            Ok(v) => format!("Docker {} (API {})", v.version.unwrap_or_default(), v.api_version.unwrap_or_default()),
            Err(_) => "Docker (version unknown)".into(),
        }
    }

    /// Fails unless `image` is on this machine: the benchmarks pull nothing.
    pub async fn require_image(&self, image: &str) -> Result<(), BenchError> {
        match self.api.inspect_image(image).await {
            Ok(_) => Ok(()),
            Err(_) => Err(BenchError::NoImage(image.to_string())),
        }
    }

    pub async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, BenchError> {
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let created =
            self.api.create_container(Some(options), body).await.map_err(refused(format!("create {name}")))?;
        Ok(created.id)
    }

    pub async fn start(&self, id: &str) -> Result<(), BenchError> {
        self.api.start_container(id, None).await.map_err(refused(format!("start {id}")))
    }

    /// Every container carrying `label` (`key=value`), running or not, with Docker's instants.
    pub async fn timestamps(&self, label: &str) -> Result<Vec<ContainerTimes>, BenchError> {
        let ids = self.ids(label).await?;
        let inspected = stream::iter(ids)
            .map(|id| async move { self.api.inspect_container(&id, None).await })
            .buffer_unordered(CALLS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        let mut times = Vec::new();
        for found in inspected {
            // A container removed meanwhile is simply left out.
            let Ok(found) = found else { continue };
            let Some(created) = found.created.as_deref().and_then(parse_time) else { continue };
            let started = found.state.and_then(|s| s.started_at).as_deref().and_then(parse_time);
            times.push(ContainerTimes {
                name: found.name.unwrap_or_default().trim_start_matches('/').to_string(),
                labels: found.config.and_then(|c| c.labels).unwrap_or_default().into_iter().collect(),
                created,
                started,
            });
        }
        Ok(times)
    }

    /// Removes every container carrying `label`, a few at a time; how many there were.
    pub async fn remove_labelled(&self, label: &str) -> Result<usize, BenchError> {
        let ids = self.ids(label).await?;
        let count = ids.len();
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        stream::iter(ids)
            .map(|id| {
                let options = options.clone();
                async move { self.api.remove_container(&id, Some(options)).await }
            })
            .buffer_unordered(CALLS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        Ok(count)
    }

    async fn ids(&self, label: &str) -> Result<Vec<String>, BenchError> {
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let found = self.api.list_containers(Some(options)).await.map_err(refused("list containers"))?;
        Ok(found.into_iter().filter_map(|c| c.id).collect())
    }
}

/// Docker's timestamps: RFC 3339 with nanoseconds; `0001-01-01T00:00:00Z` means never.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    let nanos = parsed.timestamp_nanos_opt().filter(|n| *n > 0)?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos as u64))
}

/// Removes every container labelled `label` when dropped: on success, error, panic and Ctrl-C
/// alike. Blocking (the Docker CLI), because `Drop` cannot await; it runs once, at the end.
pub struct Labelled {
    pub label: String,
}

impl Labelled {
    pub fn new(label: impl Into<String>) -> Labelled {
        Labelled { label: label.into() }
    }
}

impl Drop for Labelled {
    fn drop(&mut self) {
        remove_with_cli(&self.label);
    }
}

/// `docker ps -aq --filter label=…` then `docker rm -f -v` of what it lists.
pub fn remove_with_cli(label: &str) {
    let listed = Command::new("docker").args(["ps", "-aq", "--filter", &format!("label={label}")]).output();
    let ids: Vec<String> = match listed {
        Ok(out) => String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect(),
        Err(_) => return,
    };
    if !ids.is_empty() {
        let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_times_keep_their_nanoseconds_and_never_is_none() {
        let at = parse_time("2026-12-01T08:50:00.123456789Z").unwrap();
        let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(since.subsec_nanos(), 123_456_789);
        assert_eq!(parse_time("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_time("not a time"), None);
    }
}
