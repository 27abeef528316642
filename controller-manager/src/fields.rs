//! The fields the controllers read, with the API server's defaults for absent ones.
//!
//! Go's API types have plain `int32` fields (zero when absent) and pointers the API server has
//! always filled in by defaulting (`*rs.Spec.Replicas`). k8s-openapi has an `Option` for each, so
//! here, once, is what an absent field means: the default Kubernetes would have applied
//! (`pkg/apis/apps/v1/defaults.go`: replicas 1, RollingUpdate, 25%/25%) or zero for a count.
//! Counts written back are `None` when zero, as Go's `omitempty` leaves them out of the JSON.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// `Some(n)`, or `None` for 0: how Go's `omitempty` writes a count.
pub fn omit_zero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

pub fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

pub fn namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

pub fn uid(meta: &ObjectMeta) -> &str {
    meta.uid.as_deref().unwrap_or_default()
}

pub fn generation(meta: &ObjectMeta) -> i64 {
    meta.generation.unwrap_or(0)
}

// ---- ReplicaSet ----

/// `*rs.Spec.Replicas`.
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn set_rs_replicas(rs: &mut ReplicaSet, replicas: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(replicas);
}

pub fn rs_min_ready_seconds(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

pub fn rs_template(rs: &ReplicaSet) -> PodTemplateSpec {
    rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default()
}

pub fn rs_status(rs: &ReplicaSet) -> ReplicaSetStatus {
    rs.status.clone().unwrap_or_default()
}

/// `rs.Status.Replicas`: the pods it has, not the pods it wants.
pub fn rs_actual_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

pub fn rs_ready_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0)
}

pub fn rs_available_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

pub fn rs_observed_generation(rs: &ReplicaSet) -> i64 {
    rs.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0)
}

// ---- Deployment ----

/// `*d.Spec.Replicas`.
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn min_ready_seconds(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

pub fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

pub fn template(d: &Deployment) -> PodTemplateSpec {
    d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default()
}

/// `d.Spec.Strategy.Type`, `RollingUpdate` when absent.
pub fn strategy_type(d: &Deployment) -> &str {
    d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate")
}

pub fn status(d: &Deployment) -> DeploymentStatus {
    d.status.clone().unwrap_or_default()
}

pub fn status_mut(d: &mut Deployment) -> &mut DeploymentStatus {
    d.status.get_or_insert_with(Default::default)
}

// ---- Job (`pkg/apis/batch/v1/defaults.go`) ----

/// `*job.Spec.Parallelism`: 1 when absent.
pub fn job_parallelism(job: &Job) -> i32 {
    job.spec.as_ref().and_then(|s| s.parallelism).unwrap_or(1)
}

/// `job.Spec.Completions`: `None` is a work queue. With neither it nor `parallelism` set, the
/// API server would have made both 1.
pub fn job_completions(job: &Job) -> Option<i32> {
    let spec = job.spec.as_ref()?;
    match (spec.completions, spec.parallelism) {
        (None, None) => Some(1),
        (completions, _) => completions,
    }
}

/// `*job.Spec.BackoffLimit`: 6 when absent.
pub fn job_backoff_limit(job: &Job) -> i32 {
    job.spec.as_ref().and_then(|s| s.backoff_limit).unwrap_or(6)
}

pub fn job_suspended(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.suspend).unwrap_or(false)
}

/// `completionMode: Indexed` (`NonIndexed` when absent).
pub fn job_indexed(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.completion_mode.as_deref()) == Some("Indexed")
}

pub fn job_active_deadline_seconds(job: &Job) -> Option<i64> {
    job.spec.as_ref().and_then(|s| s.active_deadline_seconds)
}

pub fn job_selector(job: &Job) -> LabelSelector {
    job.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default()
}

pub fn job_template(job: &Job) -> PodTemplateSpec {
    job.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default()
}

/// The template's `restartPolicy` (`Never` or `OnFailure`: validation allows no other).
pub fn job_restart_policy(job: &Job) -> &str {
    let spec = job.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    spec.and_then(|s| s.restart_policy.as_deref()).unwrap_or("")
}

pub fn job_status(job: &Job) -> JobStatus {
    job.status.clone().unwrap_or_default()
}

// ---- Pod ----

pub fn pod_phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

pub fn node_name(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("")
}
