//! The Job controller: runs a Job's pods to completion, retrying failures, and says how it ended.
//!
//! Mirrors `pkg/controller/job/job_controller.go` (Kubernetes 1.31):
//!
//! | file          | upstream                                              | what                      |
//! |---------------|-------------------------------------------------------|---------------------------|
//! | `mod.rs`      | `syncJob`, `getPodsForJob`                            | one sync, top-down        |
//! | `manage.rs`   | `manageJob`, `deleteJobPods`, `deleteActivePods`      | creating, deleting pods   |
//! | `status.rs`   | `getStatus`, `pastBackoffLimitOnFailure`, `pastActiveDeadline`, `enactJobFinished` | counts, conditions |
//! | `backoff.rs`  | `backoff_utils.go`                                    | the delay before a retry  |
//! | `indexed.rs`  | `indexed_job_utils.go`                                | completion indexes        |
//! | `observe.rs`  | the pod event handlers, `ControllerExpectations`      | expectations, keys        |
//!
//! `sync_job(key)`:
//!
//! 1. Not in the cache: deleted; forget its expectations. Finished (`Complete` or `Failed`
//!    True): nothing more to do, ever.
//! 2. Claim its pods by its selector (adopt matching orphans, release its pods that stopped
//!    matching), finished ones too: they are what is counted. Count them: active, ready,
//!    succeeded, failed, terminating (being deleted, not finished).
//! 3. First sync of a Job not suspended: `startTime` is now.
//! 4. Has it failed? An earlier sync said so (`FailureTarget`); or more pods failed than
//!    `backoffLimit` (with `restartPolicy: OnFailure`, container restarts count too:
//!    `BackoffLimitExceeded`); or it has been active `activeDeadlineSeconds` (`DeadlineExceeded`).
//!    If not yet, and it has a deadline, look again when the deadline will pass.
//! 5. Failed: delete its active pods. Otherwise, if its expectations are met (the cache has
//!    seen every pod it created or deleted last time), create or delete pods toward the number
//!    wanted active (`manage_job`); suspended, that number is 0. Then: has it succeeded
//!    (`completions` pods succeeded, or without `completions`, one succeeded and none is left
//!    active)? If not, the `Suspended` condition follows `spec.suspend`.
//! 6. Write the status if it changed. A Job that has failed or succeeded gets its interim
//!    condition (`FailureTarget`, `SuccessCriteriaMet`) at once, and its final one (`Failed`,
//!    `Complete`, with `completionTime` and an event) once no pod of it is still terminating:
//!    whoever waits for `Complete` may count on its pods having stopped.
//!
//! Driving it: reconcile keys of the Job cache with [`JobController::sync_job`], and feed every
//! pod event through [`JobController::pod_event`] (the same `Arc`, for the expectations).
//!
//! Departure: upstream tracks finished pods with the `batch.kubernetes.io/job-tracking`
//! finalizer and `status.uncountedTerminatedPods`, so that a finished pod is counted exactly
//! once even if it is deleted at once. Skiff counts the finished pods present (upstream's
//! legacy tracking) and never lowers the counts written before: a finished pod deleted later
//! stays counted, but one deleted before the controller saw it finish is not counted at all.
//! The back-off is read from the pods present too (upstream keeps it in memory per Job).
//!
//! `ttlSecondsAfterFinished` is another controller's, as upstream (`ttl_after_finished.rs`).
//!
//! Left out: `podFailurePolicy`, `successPolicy`, `backoffLimitPerIndex` (`failedIndexes`,
//! `maxFailedIndexes`), `podReplacementPolicy: Failed`, `managedBy`, CronJobs, clearing
//! `startTime` of a suspended Job, the `TooManySucceededPods` event, upstream's batching of pod
//! events (`syncJobBatchPeriod`), and metrics.

mod backoff;
mod indexed;
mod manage;
mod observe;
mod status;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use skiff_api::selector::LabelSelector as Selector;
use skiff_client::controller::Action;
use skiff_client::reflector::{ObjectKey, Store};
use tracing::{debug, instrument, warn};

use crate::claim_pods::{self, ClaimError};
use crate::client::{ApiError, JobClient, PodControl};
use crate::clock::Clock;
use crate::events::{self, EventRecorder, EventType};
use crate::fields;
use crate::owner;
use crate::pod_expectations::PodExpectations;
use crate::pods::{filter_active_pods, is_pod_ready};
use crate::selector::label_selector_as_selector;

pub use backoff::{BackoffRecord, DEFAULT_JOB_POD_FAILURE_BACKOFF, MAX_JOB_POD_FAILURE_BACKOFF};
pub use indexed::{format_indexes, parse_indexes, COMPLETION_INDEX_ANNOTATION, JOB_COMPLETION_INDEX_ENV};
pub use manage::want_active;
pub use status::{Finish, JOB_COMPLETE, JOB_FAILED, JOB_FAILURE_TARGET, JOB_SUCCESS_CRITERIA_MET, JOB_SUSPENDED};

/// The kind and API version in the controller references it sets and the events it records.
const CONTROLLER_KIND: &str = "Job";
const API_VERSION: &str = "batch/v1";

/// At most this many pods are created or deleted in one sync (upstream's `MaxPodCreateDeletePerSync`).
const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("creating pods for job {job}")]
    CreatePods {
        job: String,
        #[source]
        source: ApiError,
    },
    #[error("deleting pods of job {job}")]
    DeletePods {
        job: String,
        #[source]
        source: ApiError,
    },
    #[error("adopting or releasing pod {pod}")]
    ClaimPod {
        pod: String,
        #[source]
        source: ApiError,
    },
    #[error("job {job} is gone or being deleted; not adopting")]
    CannotAdopt { job: String },
    #[error("updating the status of job {job}")]
    UpdateStatus {
        job: String,
        #[source]
        source: ApiError,
    },
}

/// The Job controller. Share it behind an `Arc`: its expectations must be the same for
/// `sync_job` and `pod_event`.
pub struct JobController {
    jobs: Store<Job>,
    pods: Store<Pod>,
    client: Arc<dyn JobClient>,
    recorder: Arc<dyn EventRecorder>,
    clock: Arc<dyn Clock>,
    /// What each Job waits to see in the cache before it counts pods again.
    expectations: PodExpectations,
}

/// What one sync knows and changes as it goes (upstream's `syncJobCtx`).
pub(super) struct SyncContext {
    /// Every pod the Job controls, finished or not.
    pods: Vec<Arc<Pod>>,
    /// Those not finished and not being deleted.
    active_pods: Vec<Arc<Pod>>,
    active: i32,
    ready: i32,
    terminating: i32,
    succeeded: i32,
    failed: i32,
    /// Indexed Jobs only: the indexes done.
    succeeded_indexes: Option<BTreeSet<i32>>,
    backoff: BackoffRecord,
    /// When to look again, if nothing else wakes the controller (a deadline, a back-off).
    requeue: Option<Duration>,
}

impl SyncContext {
    fn new(job: &Job, pods: Vec<Arc<Pod>>) -> SyncContext {
        let active_pods = filter_active_pods(pods.clone());
        let counts = status::get_status(job, &pods);
        let succeeded_indexes = fields::job_indexed(job).then(|| indexed::succeeded_indexes(job, &pods));
        SyncContext {
            active: active_pods.len() as i32,
            ready: active_pods.iter().filter(|p| is_pod_ready(p)).count() as i32,
            terminating: status::count_terminating_pods(&pods),
            succeeded: match &succeeded_indexes {
                Some(indexes) => indexes.len() as i32,
                None => counts.succeeded,
            },
            failed: counts.failed,
            succeeded_indexes,
            backoff: BackoffRecord::from_pods(&pods),
            active_pods,
            pods,
            requeue: None,
        }
    }

    /// Asks to look again after `after`, or sooner if already asked.
    fn requeue_after(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |earlier| earlier.min(after)));
    }
}

impl JobController {
    pub fn new(
        jobs: Store<Job>,
        pods: Store<Pod>,
        client: Arc<dyn JobClient>,
        recorder: Arc<dyn EventRecorder>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        JobController { jobs, pods, client, recorder, clock, expectations: PodExpectations::default() }
    }

    /// `syncJob` (see the module doc).
    #[instrument(skip(self), fields(key = %key))]
    pub async fn sync_job(&self, key: &ObjectKey) -> Result<Action, Error> {
        let Some(cached) = self.jobs.get(key) else {
            debug!("job has been deleted");
            self.expectations.forget(key);
            return Ok(Action::Done);
        };
        if status::is_job_finished(&cached) {
            return Ok(Action::Done);
        }
        if cached.spec.as_ref().and_then(|s| s.selector.as_ref()).is_none() {
            // The API server gives every Job a selector; one stored without (by an older API
            // server) selects nothing, as a nil selector does upstream. Running it would make
            // pods it could never count as its own, again at every sync.
            warn!("job has no selector; leaving it alone");
            return Ok(Action::Done);
        }
        let satisfied_expectations = self.expectations.satisfied(key);
        let selector = match label_selector_as_selector(&fields::job_selector(&cached)) {
            Ok(selector) => selector,
            Err(err) => {
                // Validation refuses it; nothing to retry.
                warn!(cause = %err, "invalid selector");
                return Ok(Action::Done);
            }
        };
        let pods =
            self.claim_pods(&cached, &selector, self.pods.in_namespace(fields::namespace(&cached.metadata))).await?;
        let now = self.clock.now();
        let mut job = (*cached).clone();
        let mut ctx = SyncContext::new(&job, pods);
        let job_status = job.status.get_or_insert_with(Default::default);
        if job_status.start_time.is_none() && !fields::job_suspended(&cached) {
            job_status.start_time = Some(now.clone());
        }

        let mut finish = status::decide_failure(&job, &ctx.pods, ctx.failed, &now);
        if finish.is_none() {
            if let Some(remaining) = status::deadline_remaining(&job, &now) {
                debug!(remaining = ?remaining, "activeDeadlineSeconds set; will look again then");
                ctx.requeue_after(remaining);
            }
        }
        let mut manage_job_err = None;
        let mut suspend_event = None;
        if finish.is_some() {
            let (deleted, err) = self.delete_active_pods(&job, &mut ctx).await;
            if deleted != ctx.active || !satisfied_expectations {
                // Not finished yet: pods may remain, or be on their way to the cache.
                finish = None;
            }
            ctx.active -= deleted;
            ctx.terminating += deleted;
            manage_job_err = err;
        } else {
            let mut manage_job_called = false;
            if satisfied_expectations && job.metadata.deletion_timestamp.is_none() {
                manage_job_err = self.manage_job(&job, &mut ctx).await.err();
                manage_job_called = true;
            }
            if status::is_complete(&job, ctx.succeeded, ctx.active) {
                finish = Some(Finish::completions_reached());
            } else if manage_job_called {
                suspend_event = status::update_suspended_condition(&mut job, &now);
            }
        }

        let finished_now = status::set_status(&mut job, &ctx, finish.as_ref(), &now);
        if job.status != cached.status {
            self.client
                .update_job_status(&job)
                .await
                .map_err(|source| Error::UpdateStatus { job: fields::name(&job.metadata).into(), source })?;
        }
        if let Some((reason, message)) = suspend_event {
            self.event(&job, EventType::Normal, reason, message.into());
        }
        if let Some(finished) = finished_now.then_some(finish).flatten() {
            match finished.success {
                true => self.event(&job, EventType::Normal, "Completed", "Job completed".into()),
                false => self.event(&job, EventType::Warning, &finished.reason, finished.message.clone()),
            }
        }
        if let Some(err) = manage_job_err {
            return Err(err);
        }
        Ok(ctx.requeue.map_or(Action::Done, Action::RequeueAfter))
    }

    /// `getPodsForJob`: the pods this Job controls, after adopting and releasing.
    async fn claim_pods(&self, job: &Job, selector: &Selector, pods: Vec<Arc<Pod>>) -> Result<Vec<Arc<Pod>>, Error> {
        let meta = &job.metadata;
        let current = || async {
            let fresh = self.client.get_job(fields::namespace(meta), fields::name(meta)).await;
            claim_pods::still_current(meta, fresh.as_ref().map(|o| &o.metadata))
        };
        let control: &dyn PodControl = self.client.as_ref();
        claim_pods::claim_pods(control, meta, new_controller_ref(meta), selector, pods, current).await.map_err(|err| {
            match err {
                ClaimError::CannotAdopt => Error::CannotAdopt { job: fields::name(meta).into() },
                ClaimError::Patch { pod, source } => Error::ClaimPod { pod, source },
            }
        })
    }

    fn event(&self, job: &Job, type_: EventType, reason: &str, message: String) {
        events::record_about(
            self.recorder.as_ref(),
            API_VERSION,
            CONTROLLER_KIND,
            &job.metadata,
            type_,
            reason,
            message,
        );
    }
}

/// `metav1.NewControllerRef(job, batch/v1 Job)`.
fn new_controller_ref(job: &ObjectMeta) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
    owner::new_controller_ref_of(job, API_VERSION, CONTROLLER_KIND)
}

fn key_of(meta: &ObjectMeta) -> ObjectKey {
    ObjectKey { namespace: meta.namespace.clone(), name: fields::name(meta).into() }
}

/// `now - since`, as a duration (zero if `since` is later).
fn elapsed(since: &Time, now: &Time) -> Duration {
    (now.0 - since.0).to_std().unwrap_or_default()
}
