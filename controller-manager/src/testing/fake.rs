//! The fake API server: one in-memory store per kind, informer caches that follow it (or lag
//! behind it on demand), and a log of every write.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::chrono::Duration;
use parking_lot::Mutex;
use skiff_client::reflector::{Object, Store, Writer};
use skiff_client::watcher::Event;

use super::builders::at;
use crate::client::{ApiError, DeploymentClient, JobClient, PodControl, ReplicaSetClient};
use crate::clock::Clock;
use crate::deployment::DeploymentController;
use crate::events::{self, EventRecorder};
use crate::fields;
use crate::job::JobController;
use crate::replicaset::ReplicaSetController;

/// An informer cache: the real one (`reflector::Writer` and `Store`), fed by hand.
pub struct FakeCache<K: Object + Clone> {
    writer: Mutex<Writer<K>>,
}

impl<K: Object + Clone> Default for FakeCache<K> {
    fn default() -> Self {
        FakeCache { writer: Mutex::new(Writer::default()) }
    }
}

impl<K: Object + Clone> FakeCache<K> {
    pub fn store(&self) -> Store<K> {
        self.writer.lock().store()
    }

    pub fn put(&self, object: K) {
        self.writer.lock().apply(&Event::Applied(object));
    }

    pub fn remove(&self, object: K) {
        self.writer.lock().apply(&Event::Deleted(object));
    }

    pub fn replace_all(&self, objects: impl IntoIterator<Item = K>) {
        self.writer.lock().apply(&Event::Restarted(objects.into_iter().collect()));
    }
}

/// `ApiError::Status`, as the API server answers.
pub fn status_error(code: u16, reason: &str, message: &str) -> ApiError {
    ApiError::Status { code, reason: reason.into(), message: message.into() }
}

/// A clock that moves only when told to.
pub struct FakeClock(Mutex<Time>);

impl Default for FakeClock {
    fn default() -> Self {
        FakeClock(Mutex::new(at(0)))
    }
}

impl FakeClock {
    pub fn now_time(&self) -> Time {
        self.0.lock().clone()
    }

    pub fn set(&self, time: Time) {
        *self.0.lock() = time;
    }

    pub fn advance(&self, seconds: i64) {
        let mut now = self.0.lock();
        *now = Time(now.0 + Duration::seconds(seconds));
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Time {
        self.0.lock().clone()
    }
}

#[derive(Default)]
struct State {
    deployments: BTreeMap<String, Deployment>,
    replica_sets: BTreeMap<String, ReplicaSet>,
    jobs: BTreeMap<String, Job>,
    pods: BTreeMap<String, Pod>,
    writes: Vec<String>,
    events: Vec<events::Event>,
    /// Failures to inject: the next write whose line starts with the prefix fails.
    failures: Vec<(String, ApiError)>,
    /// When set, writes reach the store but not the caches, until `sync_cache`.
    lagging: bool,
    revision: u64,
    generated: u64,
}

/// The API server, its watch and the informer caches, in memory. See the module doc.
#[derive(Default)]
pub struct FakeCluster {
    pub deployments: FakeCache<Deployment>,
    pub replica_sets: FakeCache<ReplicaSet>,
    pub jobs: FakeCache<Job>,
    pub pods: FakeCache<Pod>,
    pub clock: Arc<FakeClock>,
    state: Mutex<State>,
}

/// The suffix alphabet of `generateName`.
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn owner_line(kind: &str, name: &str, references: &[OwnerReference]) -> String {
    match references.iter().any(|r| r.controller == Some(true)) {
        true => format!("adopt {kind} {name}"),
        false => format!("release {kind} {name}"),
    }
}

impl State {
    fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    /// Logs a write, or fails it if a failure for it was injected.
    fn write(&mut self, line: String) -> Result<(), ApiError> {
        if let Some(i) = self.failures.iter().position(|(prefix, _)| line.starts_with(prefix.as_str())) {
            let (_, error) = self.failures.remove(i);
            self.writes.push(format!("{line} (failed)"));
            return Err(error);
        }
        self.writes.push(line);
        Ok(())
    }

    fn stamp(&mut self, meta: &mut ObjectMeta, now: &Time) {
        let name = fields::name(meta).to_string();
        meta.uid.get_or_insert_with(|| format!("uid-{name}"));
        meta.creation_timestamp.get_or_insert_with(|| now.clone());
        meta.resource_version = Some(self.next_revision());
    }
}

fn check_version(stored: &ObjectMeta, sent: &ObjectMeta, what: &str) -> Result<(), ApiError> {
    match &sent.resource_version {
        Some(version) if !version.is_empty() && Some(version) != stored.resource_version.as_ref() => Err(status_error(
            409,
            "Conflict",
            &format!("Operation cannot be fulfilled on {what}: the object has been modified"),
        )),
        _ => Ok(()),
    }
}

fn not_found(what: &str) -> ApiError {
    status_error(404, "NotFound", &format!("{what} not found"))
}

impl FakeCluster {
    pub fn new() -> Arc<FakeCluster> {
        Arc::new(FakeCluster::default())
    }

    pub fn deployment_controller(self: &Arc<Self>) -> DeploymentController {
        DeploymentController::new(
            self.deployments.store(),
            self.replica_sets.store(),
            self.pods.store(),
            self.clone(),
            self.clone(),
            self.clock.clone(),
        )
    }

    pub fn replica_set_controller(self: &Arc<Self>) -> ReplicaSetController {
        ReplicaSetController::new(
            self.replica_sets.store(),
            self.pods.store(),
            self.clone(),
            self.clone(),
            self.clock.clone(),
        )
    }

    pub fn job_controller(self: &Arc<Self>) -> JobController {
        JobController::new(self.jobs.store(), self.pods.store(), self.clone(), self.clone(), self.clock.clone())
    }

    // ---- arranging ----

    pub fn add_job(&self, mut job: Job) {
        let mut state = self.state.lock();
        job.metadata.resource_version = Some(state.next_revision());
        state.jobs.insert(fields::name(&job.metadata).into(), job.clone());
        self.jobs.put(job);
    }

    /// Changes a stored Job as a user would (`kubectl patch job … suspend`).
    pub fn edit_job(&self, name: &str, edit: impl FnOnce(&mut Job)) {
        let mut state = self.state.lock();
        let mut job = state.jobs[name].clone();
        edit(&mut job);
        job.metadata.resource_version = Some(state.next_revision());
        state.jobs.insert(name.into(), job.clone());
        if !state.lagging {
            self.jobs.put(job);
        }
    }

    pub fn add_deployment(&self, mut d: Deployment) {
        let mut state = self.state.lock();
        d.metadata.resource_version = Some(state.next_revision());
        state.deployments.insert(fields::name(&d.metadata).into(), d.clone());
        self.deployments.put(d);
    }

    pub fn add_replica_set(&self, mut rs: ReplicaSet) {
        let mut state = self.state.lock();
        rs.metadata.resource_version = Some(state.next_revision());
        state.replica_sets.insert(fields::name(&rs.metadata).into(), rs.clone());
        self.replica_sets.put(rs);
    }

    pub fn add_pod(&self, mut pod: Pod) {
        let mut state = self.state.lock();
        pod.metadata.resource_version = Some(state.next_revision());
        state.pods.insert(fields::name(&pod.metadata).into(), pod.clone());
        self.pods.put(pod);
    }

    /// Changes a stored Deployment as a user would (`kubectl set image`, `scale`, …): the
    /// generation moves if the spec changed.
    pub fn edit_deployment(&self, name: &str, edit: impl FnOnce(&mut Deployment)) {
        let mut state = self.state.lock();
        let mut d = state.deployments[name].clone();
        let before = d.spec.clone();
        edit(&mut d);
        if d.spec != before {
            d.metadata.generation = Some(fields::generation(&d.metadata) + 1);
        }
        d.metadata.resource_version = Some(state.next_revision());
        state.deployments.insert(name.into(), d.clone());
        if !state.lagging {
            self.deployments.put(d);
        }
    }

    /// Changes a stored ReplicaSet behind the controllers' backs (its status, as the
    /// ReplicaSet controller would write it).
    pub fn edit_replica_set(&self, name: &str, edit: impl FnOnce(&mut ReplicaSet)) {
        let mut state = self.state.lock();
        let mut rs = state.replica_sets[name].clone();
        edit(&mut rs);
        rs.metadata.resource_version = Some(state.next_revision());
        state.replica_sets.insert(name.into(), rs.clone());
        if !state.lagging {
            self.replica_sets.put(rs);
        }
    }

    pub fn edit_pod(&self, name: &str, edit: impl FnOnce(&mut Pod)) {
        let mut state = self.state.lock();
        let mut pod = state.pods[name].clone();
        edit(&mut pod);
        pod.metadata.resource_version = Some(state.next_revision());
        state.pods.insert(name.into(), pod.clone());
        if !state.lagging {
            self.pods.put(pod);
        }
    }

    pub fn remove_pod(&self, name: &str) {
        let mut state = self.state.lock();
        if let Some(pod) = state.pods.remove(name) {
            self.pods.remove(pod);
        }
    }

    /// From now on, writes reach the store but not the caches (a slow watch).
    pub fn set_lagging(&self, lagging: bool) {
        self.state.lock().lagging = lagging;
    }

    /// The watch catches up: the caches get the store's contents.
    pub fn sync_cache(&self) {
        let state = self.state.lock();
        self.deployments.replace_all(state.deployments.values().cloned());
        self.replica_sets.replace_all(state.replica_sets.values().cloned());
        self.jobs.replace_all(state.jobs.values().cloned());
        self.pods.replace_all(state.pods.values().cloned());
    }

    /// The next write whose line starts with `prefix` ("create pod", "update replicaset web-")
    /// fails with `error`.
    pub fn fail_next(&self, prefix: &str, error: ApiError) {
        self.state.lock().failures.push((prefix.into(), error));
    }

    // ---- looking ----

    /// The writes so far, one line each, and forgets them.
    pub fn take_writes(&self) -> Vec<String> {
        std::mem::take(&mut self.state.lock().writes)
    }

    /// The events so far ("Normal ScalingReplicaSet Scaled up replica set web-… to 3"), and
    /// forgets them.
    pub fn take_events(&self) -> Vec<String> {
        let events = std::mem::take(&mut self.state.lock().events);
        events.into_iter().map(|e| format!("{:?} {} {}", e.type_, e.reason, e.message)).collect()
    }

    pub fn deployment(&self, name: &str) -> Deployment {
        self.state.lock().deployments[name].clone()
    }

    pub fn replica_set(&self, name: &str) -> ReplicaSet {
        self.state.lock().replica_sets[name].clone()
    }

    /// The stored ReplicaSets, oldest first.
    pub fn replica_sets(&self) -> Vec<ReplicaSet> {
        let mut rss: Vec<ReplicaSet> = self.state.lock().replica_sets.values().cloned().collect();
        crate::deployment::util::sort_by_creation_timestamp(&mut rss);
        rss
    }

    pub fn job(&self, name: &str) -> Job {
        self.state.lock().jobs[name].clone()
    }

    pub fn pods(&self) -> Vec<Pod> {
        self.state.lock().pods.values().cloned().collect()
    }
}

impl EventRecorder for FakeCluster {
    fn record(&self, event: events::Event) {
        self.state.lock().events.push(event);
    }
}

#[async_trait]
impl DeploymentClient for FakeCluster {
    async fn create_replica_set(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError> {
        let now = self.clock.now();
        let mut state = self.state.lock();
        let name = fields::name(&rs.metadata).to_string();
        state.write(format!("create replicaset {name} replicas={}", fields::rs_replicas(rs)))?;
        if state.replica_sets.contains_key(&name) {
            return Err(status_error(409, "AlreadyExists", &format!("replicasets.apps \"{name}\" already exists")));
        }
        let mut created = rs.clone();
        state.stamp(&mut created.metadata, &now);
        created.metadata.generation = Some(1);
        state.replica_sets.insert(name, created.clone());
        if !state.lagging {
            self.replica_sets.put(created.clone());
        }
        Ok(created)
    }

    async fn update_replica_set(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError> {
        let mut state = self.state.lock();
        let name = fields::name(&rs.metadata).to_string();
        state.write(format!("update replicaset {name} replicas={}", fields::rs_replicas(rs)))?;
        let stored = state.replica_sets.get(&name).cloned().ok_or_else(|| not_found(&name))?;
        check_version(&stored.metadata, &rs.metadata, &format!("replicasets.apps \"{name}\""))?;
        let mut updated = rs.clone();
        updated.status = stored.status.clone();
        if updated.spec != stored.spec {
            updated.metadata.generation = Some(fields::generation(&stored.metadata) + 1);
        }
        updated.metadata.resource_version = Some(state.next_revision());
        state.replica_sets.insert(name, updated.clone());
        if !state.lagging {
            self.replica_sets.put(updated.clone());
        }
        Ok(updated)
    }

    async fn delete_replica_set(&self, _namespace: &str, name: &str) -> Result<(), ApiError> {
        let mut state = self.state.lock();
        state.write(format!("delete replicaset {name}"))?;
        let removed = state.replica_sets.remove(name).ok_or_else(|| not_found(name))?;
        if !state.lagging {
            self.replica_sets.remove(removed);
        }
        Ok(())
    }

    async fn patch_replica_set_owner_references(
        &self,
        rs: &ReplicaSet,
        owner_references: Vec<OwnerReference>,
    ) -> Result<ReplicaSet, ApiError> {
        let mut state = self.state.lock();
        let name = fields::name(&rs.metadata).to_string();
        state.write(owner_line("replicaset", &name, &owner_references))?;
        let mut stored = state.replica_sets.get(&name).cloned().ok_or_else(|| not_found(&name))?;
        if stored.metadata.uid != rs.metadata.uid {
            return Err(status_error(409, "Conflict", &format!("the UID of {name} does not match")));
        }
        stored.metadata.owner_references = Some(owner_references);
        stored.metadata.resource_version = Some(state.next_revision());
        state.replica_sets.insert(name, stored.clone());
        if !state.lagging {
            self.replica_sets.put(stored.clone());
        }
        Ok(stored)
    }

    async fn update_deployment_status(&self, d: &Deployment) -> Result<Deployment, ApiError> {
        let mut state = self.state.lock();
        let name = fields::name(&d.metadata).to_string();
        state.write(format!("update deployment {name} status"))?;
        let stored = state.deployments.get(&name).cloned().ok_or_else(|| not_found(&name))?;
        check_version(&stored.metadata, &d.metadata, &format!("deployments.apps \"{name}\""))?;
        // As Kubernetes' status strategy: the status and the annotations are the request's.
        let mut updated = stored;
        updated.status = d.status.clone();
        updated.metadata.annotations = d.metadata.annotations.clone();
        updated.metadata.resource_version = Some(state.next_revision());
        state.deployments.insert(name, updated.clone());
        if !state.lagging {
            self.deployments.put(updated.clone());
        }
        Ok(updated)
    }

    async fn get_deployment(&self, _namespace: &str, name: &str) -> Result<Deployment, ApiError> {
        self.state.lock().deployments.get(name).cloned().ok_or_else(|| not_found(name))
    }
}

#[async_trait]
impl PodControl for FakeCluster {
    async fn create_pod(&self, _namespace: &str, pod: &Pod) -> Result<Pod, ApiError> {
        let now = self.clock.now();
        let mut state = self.state.lock();
        let mut created = pod.clone();
        if created.metadata.name.is_none() {
            state.generated += 1;
            let mut n = state.generated;
            let suffix: String = (0..5)
                .map(|_| {
                    let c = NAME_ALPHABET[(n % NAME_ALPHABET.len() as u64) as usize] as char;
                    n /= NAME_ALPHABET.len() as u64;
                    c
                })
                .collect();
            created.metadata.name =
                Some(format!("{}{suffix}", created.metadata.generate_name.clone().unwrap_or_default()));
        }
        let name = fields::name(&created.metadata).to_string();
        state.write(format!("create pod {name}"))?;
        state.stamp(&mut created.metadata, &now);
        created.status = Some(Default::default());
        created.status.as_mut().unwrap().phase = Some("Pending".into());
        state.pods.insert(name, created.clone());
        if !state.lagging {
            self.pods.put(created.clone());
        }
        Ok(created)
    }

    async fn delete_pod(&self, _namespace: &str, name: &str) -> Result<(), ApiError> {
        let mut state = self.state.lock();
        state.write(format!("delete pod {name}"))?;
        let removed = state.pods.remove(name).ok_or_else(|| not_found(name))?;
        if !state.lagging {
            self.pods.remove(removed);
        }
        Ok(())
    }

    async fn patch_pod_owner_references(
        &self,
        pod: &Pod,
        owner_references: Vec<OwnerReference>,
    ) -> Result<Pod, ApiError> {
        let mut state = self.state.lock();
        let name = fields::name(&pod.metadata).to_string();
        state.write(owner_line("pod", &name, &owner_references))?;
        let mut stored = state.pods.get(&name).cloned().ok_or_else(|| not_found(&name))?;
        if stored.metadata.uid != pod.metadata.uid {
            return Err(status_error(409, "Conflict", &format!("the UID of {name} does not match")));
        }
        stored.metadata.owner_references = Some(owner_references);
        stored.metadata.resource_version = Some(state.next_revision());
        state.pods.insert(name, stored.clone());
        if !state.lagging {
            self.pods.put(stored.clone());
        }
        Ok(stored)
    }
}

#[async_trait]
impl ReplicaSetClient for FakeCluster {
    async fn update_replica_set_status(&self, rs: &ReplicaSet) -> Result<ReplicaSet, ApiError> {
        let mut state = self.state.lock();
        let name = fields::name(&rs.metadata).to_string();
        state.write(format!("update replicaset {name} status"))?;
        let stored = state.replica_sets.get(&name).cloned().ok_or_else(|| not_found(&name))?;
        check_version(&stored.metadata, &rs.metadata, &format!("replicasets.apps \"{name}\""))?;
        let mut updated = stored;
        updated.status = rs.status.clone();
        updated.metadata.resource_version = Some(state.next_revision());
        state.replica_sets.insert(name, updated.clone());
        if !state.lagging {
            self.replica_sets.put(updated.clone());
        }
        Ok(updated)
    }

    async fn get_replica_set(&self, _namespace: &str, name: &str) -> Result<ReplicaSet, ApiError> {
        self.state.lock().replica_sets.get(name).cloned().ok_or_else(|| not_found(name))
    }
}

#[async_trait]
impl JobClient for FakeCluster {
    async fn update_job_status(&self, job: &Job) -> Result<Job, ApiError> {
        let mut state = self.state.lock();
        let name = fields::name(&job.metadata).to_string();
        state.write(format!("update job {name} status"))?;
        let stored = state.jobs.get(&name).cloned().ok_or_else(|| not_found(&name))?;
        check_version(&stored.metadata, &job.metadata, &format!("jobs.batch \"{name}\""))?;
        let mut updated = stored;
        updated.status = job.status.clone();
        updated.metadata.resource_version = Some(state.next_revision());
        state.jobs.insert(name, updated.clone());
        if !state.lagging {
            self.jobs.put(updated.clone());
        }
        Ok(updated)
    }

    async fn get_job(&self, _namespace: &str, name: &str) -> Result<Job, ApiError> {
        self.state.lock().jobs.get(name).cloned().ok_or_else(|| not_found(name))
    }
}
