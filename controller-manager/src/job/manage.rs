//! Creating and deleting a Job's pods until the right number is active.
//!
//! Mirrors `manageJob`, `deleteJobPods`, `deleteActivePods` and `activePodsForRemoval` of
//! `pkg/controller/job/job_controller.go`, with `GetPodFromTemplate` of `controller_utils.go`.
//!
//! How many active pods a Job wants ([`want_active`]):
//!
//! - with `completions`: as many as are still to succeed, at most `parallelism`
//!   (completions 5, parallelism 2, 4 succeeded → 1);
//! - without (a work queue): `parallelism` until one pod succeeds, then no new ones — the
//!   others are left to finish;
//! - suspended: none.
//!
//! **Too many**: the surplus is deleted, least far along first (`pods::compare_for_deletion`);
//! for an Indexed Job, pods without a valid index and all but one pod of each index go whatever
//! the count. A sync deletes or creates, never both. **Too few**: after the back-off of the last
//! failures (`backoff.rs`; the controller comes back when it is over), the missing pods are
//! created in slow-start batches (1, 2, 4, … as the ReplicaSet controller does), at most 500 a
//! sync; an Indexed Job's get the lowest indexes pending. Expectations are raised before each
//! create or delete and lowered for each that will never be seen.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::join_all;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tracing::debug;

use super::{indexed, key_of, new_controller_ref, Error, JobController, SyncContext, MAX_POD_CREATE_DELETE_PER_SYNC};
use crate::client::{is_namespace_terminating, message};
use crate::events::EventType;
use crate::fields;
use crate::pods::{compare_for_deletion, is_pod_ready};
use crate::replicaset::slow_start_batch;

/// The first batch of a slow start (upstream's `SlowStartInitialBatchSize`).
const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// How many pods should be active, not counting suspension (see the module doc).
pub fn want_active(job: &Job, succeeded: i32, active: i32) -> i32 {
    let parallelism = fields::job_parallelism(job);
    match fields::job_completions(job) {
        None if succeeded > 0 => active,
        None => parallelism,
        Some(completions) => (completions - succeeded).min(parallelism).max(0),
    }
}

/// `activePodsForRemoval`: at least `count` of `active_pods`, in the order they should go.
pub(super) fn active_pods_for_removal(job: &Job, active_pods: &[Arc<Pod>], count: usize) -> Vec<Arc<Pod>> {
    let mut left = active_pods.to_vec();
    left.sort_by(|a, b| compare_for_deletion(a, 0, b, 0));
    let mut remove = Vec::new();
    if fields::job_indexed(job) {
        // Of each index, the most advanced pod is kept.
        left.reverse();
        let (duplicates, mut kept) = indexed::duplicated_index_pods(&left, fields::job_completions(job).unwrap_or(0));
        kept.reverse();
        remove = duplicates;
        left = kept;
    }
    let more = count.saturating_sub(remove.len()).min(left.len());
    remove.extend(left.into_iter().take(more));
    remove
}

impl JobController {
    /// `manageJob`: deletes or creates pods toward [`want_active`]; keeps `ctx`'s counts right.
    pub(super) async fn manage_job(&self, job: &Job, ctx: &mut SyncContext) -> Result<(), Error> {
        if fields::job_suspended(job) {
            debug!(active = ctx.active, "deleting all active pods of a suspended job");
            let pods_to_delete = active_pods_for_removal(job, &ctx.active_pods, ctx.active_pods.len());
            return self.delete_job_pods(job, ctx, pods_to_delete).await;
        }
        let want = want_active(job, ctx.succeeded, ctx.active);
        let rm_at_least = (ctx.active - want).max(0) as usize;
        let mut pods_to_delete = active_pods_for_removal(job, &ctx.active_pods, rm_at_least);
        pods_to_delete.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
        if !pods_to_delete.is_empty() {
            debug!(deleting = pods_to_delete.len(), target = want, "too many pods running");
            return self.delete_job_pods(job, ctx, pods_to_delete).await;
        }

        let diff = (want - ctx.active).max(0) as usize;
        if diff == 0 {
            return Ok(());
        }
        let remaining = ctx.backoff.remaining(&self.clock.now());
        if !remaining.is_zero() {
            debug!(remaining = ?remaining, "pods failed lately; waiting before creating more");
            ctx.requeue_after(remaining);
            return Ok(());
        }
        let diff = diff.min(MAX_POD_CREATE_DELETE_PER_SYNC);
        let mut template = fields::job_template(job);
        let indexes: Vec<Option<i32>> = match &ctx.succeeded_indexes {
            Some(succeeded) => {
                indexed::add_completion_index_env(&mut template);
                let completions = fields::job_completions(job).unwrap_or(0);
                indexed::first_pending_indexes(succeeded, &ctx.active_pods, diff, completions)
                    .into_iter()
                    .map(Some)
                    .collect()
            }
            None => vec![None; diff],
        };
        let count = indexes.len();
        let job_key = key_of(&job.metadata);
        self.expectations.expect_creations(&job_key, count);
        debug!(need = want, creating = count, "too few pods running");
        let next = AtomicUsize::new(0);
        let (successes, err) = slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE, || {
            let index = indexes[next.fetch_add(1, Ordering::SeqCst)];
            self.create_pod(job, &template, index)
        })
        .await;
        // Pods not created (failed or never tried) will never be seen.
        if successes < count {
            self.expectations.lower_creations(&job_key, count - successes);
        }
        ctx.active += successes as i32;
        err.map_or(Ok(()), Err)
    }

    /// `deleteJobPods`: deletes `pods` of a Job still running, with expectations.
    async fn delete_job_pods(&self, job: &Job, ctx: &mut SyncContext, pods: Vec<Arc<Pod>>) -> Result<(), Error> {
        if pods.is_empty() {
            return Ok(());
        }
        let job_key = key_of(&job.metadata);
        self.expectations.expect_deletions(&job_key, pods.iter().map(|p| key_of(&p.metadata)).collect());
        let results = join_all(pods.iter().map(|pod| self.delete_pod(job, pod))).await;
        let mut first_error = None;
        for (pod, result) in pods.iter().zip(results) {
            match result {
                Ok(()) => {
                    ctx.active -= 1;
                    ctx.terminating += 1;
                    ctx.ready -= i32::from(is_pod_ready(pod));
                }
                Err(err) => {
                    // This deletion will never be observed.
                    self.expectations.deletion_observed(&job_key, &key_of(&pod.metadata));
                    first_error.get_or_insert(err);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// `deleteActivePods`: every active pod of a Job that has failed; keeps `ctx`'s counts
    /// right. Returns how many went (a pod already gone counts).
    pub(super) async fn delete_active_pods(&self, job: &Job, ctx: &mut SyncContext) -> (i32, Option<Error>) {
        let pods = ctx.active_pods.clone();
        let results = join_all(pods.iter().map(|pod| self.delete_pod(job, pod))).await;
        let mut deleted = 0;
        let mut first_error = None;
        for (pod, result) in pods.iter().zip(results) {
            match result {
                Ok(()) => deleted += 1,
                Err(Error::DeletePods { source, .. }) if source.is_not_found() => deleted += 1,
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
            ctx.ready -= i32::from(is_pod_ready(pod));
        }
        (deleted, first_error)
    }

    /// One pod from the template; a terminating namespace counts as done (every create would fail).
    async fn create_pod(&self, job: &Job, template: &PodTemplateSpec, index: Option<i32>) -> Result<(), Error> {
        let pod = get_pod_from_template(job, template, index);
        match self.client.create_pod(fields::namespace(&job.metadata), &pod).await {
            Ok(created) => {
                let message = format!("Created pod: {}", fields::name(&created.metadata));
                self.event(job, EventType::Normal, "SuccessfulCreate", message);
                Ok(())
            }
            Err(source) if is_namespace_terminating(&source) => Ok(()),
            Err(source) => {
                self.event(job, EventType::Warning, "FailedCreate", format!("Error creating: {}", message(&source)));
                Err(Error::CreatePods { job: fields::name(&job.metadata).into(), source })
            }
        }
    }

    async fn delete_pod(&self, job: &Job, pod: &Pod) -> Result<(), Error> {
        let name = fields::name(&pod.metadata);
        match self.client.delete_pod(fields::namespace(&pod.metadata), name).await {
            Ok(()) => {
                self.event(job, EventType::Normal, "SuccessfulDelete", format!("Deleted pod: {name}"));
                Ok(())
            }
            Err(source) => {
                if !source.is_not_found() {
                    self.event(
                        job,
                        EventType::Warning,
                        "FailedDelete",
                        format!("Error deleting: {}", message(&source)),
                    );
                }
                Err(Error::DeletePods { job: fields::name(&job.metadata).into(), source })
            }
        }
    }
}

/// `GetPodFromTemplate`: the template's labels, annotations, finalizers and spec, named by the
/// API server from `<job>-`, controlled by the Job. With an index: `<job>-<index>-`, the index
/// in an annotation and a label, hostname `<job>-<index>`.
pub(super) fn get_pod_from_template(job: &Job, template: &PodTemplateSpec, index: Option<i32>) -> Pod {
    let job_name = fields::name(&job.metadata);
    let template_meta = template.metadata.clone().unwrap_or_default();
    let mut pod = Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{job_name}-")),
            namespace: job.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![new_controller_ref(&job.metadata)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    if let Some(index) = index {
        let value = index.to_string();
        let meta = &mut pod.metadata;
        meta.generate_name = Some(indexed::pod_generate_name_with_index(job_name, index));
        meta.annotations
            .get_or_insert_with(Default::default)
            .insert(indexed::COMPLETION_INDEX_ANNOTATION.into(), value.clone());
        meta.labels.get_or_insert_with(Default::default).insert(indexed::COMPLETION_INDEX_ANNOTATION.into(), value);
        pod.spec.get_or_insert_with(Default::default).hostname = Some(format!("{job_name}-{index}"));
    }
    pod
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, JobBuilder, PodBuilder};

    #[test]
    fn the_active_pods_wanted_follow_completions_and_parallelism() {
        let cases = [
            ("one pod", Job::test("j"), 0, 0, 1),
            ("completions 5, parallelism 2, none done", Job::test("j").completions(5).parallelism(2), 0, 0, 2),
            ("completions 5, parallelism 2, 4 done", Job::test("j").completions(5).parallelism(2), 4, 0, 1),
            ("completions 3, 3 done", Job::test("j").completions(3).parallelism(2), 3, 0, 0),
            ("more succeeded than completions", Job::test("j").completions(3), 5, 0, 0),
            ("work queue of 3, none done", Job::test("j").work_queue(3), 0, 1, 3),
            ("work queue of 3, one done: leave the 2 running", Job::test("j").work_queue(3), 1, 2, 2),
            ("parallelism 0: paused", Job::test("j").completions(3).parallelism(0), 0, 0, 0),
        ];
        for (name, job, succeeded, active, want) in cases {
            assert_eq!(want_active(&job, succeeded, active), want, "{name}");
        }
    }

    #[test]
    fn surplus_pods_go_least_advanced_first_and_duplicate_indexes_always_go() {
        let names =
            |pods: Vec<Arc<Pod>>| pods.iter().map(|p| fields::name(&p.metadata).to_string()).collect::<Vec<_>>();
        let pods = vec![
            Arc::new(Pod::test("ready").created(at(0)).on_node("n1").running().ready_since(at(5))),
            Arc::new(Pod::test("pending").created(at(0)).on_node("n1")),
            Arc::new(Pod::test("running").created(at(0)).on_node("n1").running()),
        ];
        let job = Job::test("j");
        assert_eq!(names(active_pods_for_removal(&job, &pods, 2)), vec!["pending", "running"]);
        assert_eq!(names(active_pods_for_removal(&job, &pods, 0)), Vec::<String>::new());

        let indexed_job = Job::test("j").completions(3).indexed();
        let pods = vec![
            Arc::new(Pod::test("zero-ready").index(0).on_node("n1").running().ready_since(at(5))),
            Arc::new(Pod::test("zero-pending").index(0).on_node("n1")),
            Arc::new(Pod::test("one").index(1).on_node("n1").running()),
        ];
        assert_eq!(names(active_pods_for_removal(&indexed_job, &pods, 0)), vec!["zero-pending"], "nothing asked");
        assert_eq!(names(active_pods_for_removal(&indexed_job, &pods, 2)), vec!["zero-pending", "one"]);
    }

    #[test]
    fn pods_come_from_the_template_controlled_by_the_job() {
        let job = Job::test("hello");
        let pod = get_pod_from_template(&job, &fields::job_template(&job), None);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("hello-"));
        let reference = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((reference.api_version.as_str(), reference.kind.as_str()), ("batch/v1", "Job"));
        assert_eq!((reference.controller, reference.block_owner_deletion), (Some(true), Some(true)));
        assert_eq!(pod.metadata.labels, fields::job_template(&job).metadata.unwrap().labels);
        assert_eq!(pod.spec, fields::job_template(&job).spec);
    }

    #[test]
    fn indexed_pods_carry_their_index_in_name_annotation_label_hostname_and_env() {
        let job = Job::test("sample").completions(3).indexed().subdomain("workers");
        let mut template = fields::job_template(&job);
        indexed::add_completion_index_env(&mut template);
        let pod = get_pod_from_template(&job, &template, Some(2));
        let meta = &pod.metadata;
        assert_eq!(meta.generate_name.as_deref(), Some("sample-2-"));
        let key = indexed::COMPLETION_INDEX_ANNOTATION;
        assert_eq!(meta.annotations.as_ref().unwrap()[key], "2");
        assert_eq!(meta.labels.as_ref().unwrap()[key], "2");
        let spec = pod.spec.unwrap();
        assert_eq!((spec.hostname.as_deref(), spec.subdomain.as_deref()), (Some("sample-2"), Some("workers")));
        let env = spec.containers[0].env.as_ref().unwrap();
        let var = env.iter().find(|v| v.name == indexed::JOB_COMPLETION_INDEX_ENV).unwrap();
        let field = &var.value_from.as_ref().unwrap().field_ref.as_ref().unwrap().field_path;
        assert_eq!(field, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
    }
}
