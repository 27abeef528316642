//! A Job's counts and conditions, and how it ends.
//!
//! Mirrors `getStatus`, `pastBackoffLimitOnFailure`, `pastActiveDeadline`,
//! `ensureJobConditionStatus`, `newFailureCondition`, `newSuccessCondition` and
//! `enactJobFinished` of `pkg/controller/job/job_controller.go` (Kubernetes 1.31).
//!
//! - `succeeded` / `failed`: its pods in phase `Succeeded` / `Failed` (never fewer than the
//!   status already says: see the module doc of `job/`); `active`: neither, and not being
//!   deleted; `ready`: active and `Ready`; `terminating`: being deleted, not yet finished.
//! - **Failed** when `failed > backoffLimit` (`backoffLimit: 1`: the second failed pod ends the
//!   Job); with `restartPolicy: OnFailure` also when the unfinished pods' containers have
//!   restarted `backoffLimit` times in all (any restart, for `backoffLimit: 0`); or when
//!   `activeDeadlineSeconds` have passed since `startTime` (`activeDeadlineSeconds: 60`,
//!   started 12:00:00: failed from 12:01:00 on).
//! - **Succeeded** when `succeeded >= completions` and none is active; without `completions`
//!   (a work queue, where each pod can tell that the work is done) when one has succeeded and
//!   the others have finished.
//! - The end is written in two steps (1.31, with `JobPodReplacementPolicy` on): the interim
//!   condition (`FailureTarget`, `SuccessCriteriaMet`) at once, the final one (`Failed`,
//!   `Complete`) once no pod is terminating. Both have the same reason and message.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{elapsed, indexed, SyncContext};
use crate::fields::{self, omit_zero};

pub const JOB_COMPLETE: &str = "Complete";
pub const JOB_FAILED: &str = "Failed";
pub const JOB_FAILURE_TARGET: &str = "FailureTarget";
pub const JOB_SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub const JOB_SUSPENDED: &str = "Suspended";

/// How a Job ends (upstream's `finishedCondition`, before it becomes a condition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    pub success: bool,
    pub reason: String,
    pub message: String,
}

impl Finish {
    pub fn completions_reached() -> Finish {
        Finish {
            success: true,
            reason: "CompletionsReached".into(),
            message: "Reached expected number of succeeded pods".into(),
        }
    }

    fn failed(reason: &str, message: &str) -> Finish {
        Finish { success: false, reason: reason.into(), message: message.into() }
    }

    /// The condition written at once, and the one written once no pod is terminating.
    fn condition_types(&self) -> (&'static str, &'static str) {
        match self.success {
            true => (JOB_SUCCESS_CRITERIA_MET, JOB_COMPLETE),
            false => (JOB_FAILURE_TARGET, JOB_FAILED),
        }
    }
}

pub(super) struct Counts {
    pub succeeded: i32,
    pub failed: i32,
}

/// `getStatus`, the legacy way: the finished pods present, never below what is recorded.
pub(super) fn get_status(job: &Job, pods: &[Arc<Pod>]) -> Counts {
    let in_phase = |phase: &str| pods.iter().filter(|p| fields::pod_phase(p) == phase).count() as i32;
    let recorded = fields::job_status(job);
    Counts {
        succeeded: in_phase("Succeeded").max(recorded.succeeded.unwrap_or(0)),
        failed: in_phase("Failed").max(recorded.failed.unwrap_or(0)),
    }
}

/// `CountTerminatingPods`: being deleted, not yet finished.
pub(super) fn count_terminating_pods(pods: &[Arc<Pod>]) -> i32 {
    let terminal = |p: &Pod| matches!(fields::pod_phase(p), "Succeeded" | "Failed");
    pods.iter().filter(|p| p.metadata.deletion_timestamp.is_some() && !terminal(p)).count() as i32
}

pub fn find_condition<'a>(status: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == type_)
}

fn has_true_condition(job: &Job, type_: &str) -> Option<JobCondition> {
    job.status.as_ref().and_then(|s| find_condition(s, type_)).filter(|c| c.status == "True").cloned()
}

/// `IsJobFinished`: `Complete` or `Failed` is True.
pub fn is_job_finished(job: &Job) -> bool {
    has_true_condition(job, JOB_COMPLETE).is_some() || has_true_condition(job, JOB_FAILED).is_some()
}

/// Whether the Job has failed, and why: an interim condition of an earlier sync, else the back-off
/// limit, else the deadline. (An earlier `SuccessCriteriaMet` is a success already decided.)
pub fn decide_failure(job: &Job, pods: &[Arc<Pod>], failed: i32, now: &Time) -> Option<Finish> {
    let from = |c: JobCondition, success| Finish {
        success,
        reason: c.reason.unwrap_or_default(),
        message: c.message.unwrap_or_default(),
    };
    if let Some(condition) = has_true_condition(job, JOB_SUCCESS_CRITERIA_MET) {
        return Some(from(condition, true));
    }
    if let Some(condition) = has_true_condition(job, JOB_FAILURE_TARGET) {
        return Some(from(condition, false));
    }
    if failed > fields::job_backoff_limit(job) || past_backoff_limit_on_failure(job, pods) {
        return Some(Finish::failed("BackoffLimitExceeded", "Job has reached the specified backoff limit"));
    }
    if past_active_deadline(job, now) {
        return Some(Finish::failed("DeadlineExceeded", "Job was active longer than specified deadline"));
    }
    None
}

/// `pastBackoffLimitOnFailure`: with `restartPolicy: OnFailure` a failing container restarts
/// in its pod instead of failing it, so the restarts of the unfinished pods count.
pub fn past_backoff_limit_on_failure(job: &Job, pods: &[Arc<Pod>]) -> bool {
    if fields::job_restart_policy(job) != "OnFailure" {
        return false;
    }
    let restarts: i32 = pods
        .iter()
        .filter(|p| matches!(fields::pod_phase(p), "Running" | "Pending"))
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten()))
        .map(|c| c.restart_count)
        .sum();
    match fields::job_backoff_limit(job) {
        0 => restarts > 0,
        limit => restarts >= limit,
    }
}

/// `pastActiveDeadline`: active (not suspended) for `activeDeadlineSeconds` since `startTime`.
pub fn past_active_deadline(job: &Job, now: &Time) -> bool {
    deadline_remaining(job, now) == Some(Duration::ZERO)
}

/// How long until the deadline passes; `None` without one (or suspended, or not started).
pub fn deadline_remaining(job: &Job, now: &Time) -> Option<Duration> {
    let seconds = fields::job_active_deadline_seconds(job)?;
    let start = job.status.as_ref()?.start_time.as_ref()?;
    if fields::job_suspended(job) {
        return None;
    }
    let allowed = Duration::from_secs(seconds.max(0) as u64);
    Some(allowed.saturating_sub(elapsed(start, now)))
}

/// Whether the Job has succeeded (see the module doc).
pub fn is_complete(job: &Job, succeeded: i32, active: i32) -> bool {
    match fields::job_completions(job) {
        None => succeeded > 0 && active == 0,
        Some(completions) => succeeded >= completions && active == 0,
    }
}

/// `newCondition`: both times now.
fn new_condition(type_: &str, status: &str, reason: &str, message: &str, now: &Time) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    }
}

/// `ensureJobConditionStatus`: the condition of `type_` gets this status, reason and message (a
/// new condition, times now, if any differ); an absent one is added only if not `False`.
/// Returns whether anything changed.
pub fn ensure_job_condition_status(
    status: &mut JobStatus,
    type_: &str,
    condition_status: &str,
    reason: &str,
    message: &str,
    now: &Time,
) -> bool {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let changed = match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            let same = existing.status == condition_status
                && existing.reason.as_deref() == Some(reason)
                && existing.message.as_deref() == Some(message);
            if !same {
                *existing = new_condition(type_, condition_status, reason, message, now);
            }
            !same
        }
        None if condition_status != "False" => {
            conditions.push(new_condition(type_, condition_status, reason, message, now));
            true
        }
        None => false,
    };
    if conditions.is_empty() {
        status.conditions = None;
    }
    changed
}

/// `Suspended` follows `spec.suspend`: True when suspended, False once resumed (and a resumed
/// Job starts its deadline again: `startTime` is now). Returns the event to record, if any.
pub fn update_suspended_condition(job: &mut Job, now: &Time) -> Option<(&'static str, &'static str)> {
    let suspended = fields::job_suspended(job);
    let status = job.status.get_or_insert_with(Default::default);
    if suspended {
        let changed = ensure_job_condition_status(status, JOB_SUSPENDED, "True", "JobSuspended", "Job suspended", now);
        return changed.then_some(("Suspended", "Job suspended"));
    }
    if ensure_job_condition_status(status, JOB_SUSPENDED, "False", "JobResumed", "Job resumed", now) {
        status.start_time = Some(now.clone());
        return Some(("Resumed", "Job resumed"));
    }
    None
}

/// Writes the counts into `job.status`, and the end if it has come (`enactJobFinished`).
/// Returns whether the final condition was written now (the caller records the event).
pub fn set_status(job: &mut Job, ctx: &SyncContext, finish: Option<&Finish>, now: &Time) -> bool {
    let status = job.status.get_or_insert_with(Default::default);
    status.active = omit_zero(ctx.active);
    status.ready = Some(ctx.ready);
    status.terminating = Some(ctx.terminating);
    status.succeeded = omit_zero(ctx.succeeded);
    status.failed = omit_zero(ctx.failed);
    if let Some(indexes) = &ctx.succeeded_indexes {
        status.completed_indexes = Some(indexed::format_indexes(indexes)).filter(|s| !s.is_empty());
    }
    let Some(finish) = finish else { return false };
    let (interim, last) = finish.condition_types();
    if find_condition(status, interim).is_none() {
        ensure_job_condition_status(status, interim, "True", &finish.reason, &finish.message, now);
    }
    if ctx.terminating > 0 {
        return false;
    }
    ensure_job_condition_status(status, last, "True", &finish.reason, &finish.message, now);
    if finish.success {
        status.completion_time = Some(now.clone());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, JobBuilder, PodBuilder};

    fn pods(list: Vec<Pod>) -> Vec<Arc<Pod>> {
        list.into_iter().map(Arc::new).collect()
    }

    #[test]
    fn a_job_fails_once_more_pods_failed_than_the_backoff_limit() {
        let failed = |n: usize| pods((0..n).map(|i| Pod::test(&format!("p{i}")).phase("Failed")).collect());
        let cases = [
            ("backoffLimit 1, one failure: retried", Job::test("j").backoff_limit(1), 1, false),
            ("backoffLimit 1, two failures: failed", Job::test("j").backoff_limit(1), 2, true),
            ("backoffLimit 0, one failure: failed", Job::test("j").backoff_limit(0), 1, true),
            ("default backoffLimit 6, six failures: retried", Job::test("j"), 6, false),
            ("default backoffLimit 6, seven failures: failed", Job::test("j"), 7, true),
        ];
        for (name, job, failures, want) in cases {
            let pods = failed(failures);
            let got = decide_failure(&job, &pods, failures as i32, &at(0));
            assert_eq!(got.is_some(), want, "{name}");
            if let Some(finish) = got {
                assert_eq!(finish.reason, "BackoffLimitExceeded", "{name}");
                assert_eq!(finish.message, "Job has reached the specified backoff limit", "{name}");
            }
        }
    }

    #[test]
    fn with_restart_policy_on_failure_restarts_of_running_pods_count_against_the_limit() {
        let cases = [
            ("Never: restarts do not count", "Never", 2, 5, false),
            ("OnFailure, 4 restarts of limit 5", "OnFailure", 5, 4, false),
            ("OnFailure, 5 restarts of limit 5", "OnFailure", 5, 5, true),
            ("OnFailure, limit 0, one restart", "OnFailure", 0, 1, true),
            ("OnFailure, limit 0, no restart", "OnFailure", 0, 0, false),
        ];
        for (name, policy, limit, restarts, want) in cases {
            let job = Job::test("j").restart_policy(policy).backoff_limit(limit);
            let running = pods(vec![Pod::test("p").running().restarts(restarts)]);
            assert_eq!(past_backoff_limit_on_failure(&job, &running), want, "{name}");
        }
    }

    #[test]
    fn the_deadline_counts_from_the_start_time_and_not_while_suspended() {
        let job = Job::test("j").active_deadline_seconds(60).started(at(100));
        let cases = [
            ("10 s in", 110, Some(Duration::from_secs(50)), false),
            ("59 s in", 159, Some(Duration::from_secs(1)), false),
            ("60 s in: passed", 160, Some(Duration::ZERO), true),
            ("long after", 1000, Some(Duration::ZERO), true),
        ];
        for (name, now, remaining, past) in cases {
            assert_eq!(deadline_remaining(&job, &at(now)), remaining, "{name}");
            assert_eq!(past_active_deadline(&job, &at(now)), past, "{name}");
        }
        assert_eq!(deadline_remaining(&job.clone().suspend(true), &at(1000)), None, "suspended");
        assert_eq!(deadline_remaining(&Job::test("j").active_deadline_seconds(60), &at(1000)), None, "not started");
        assert_eq!(deadline_remaining(&Job::test("j").started(at(0)), &at(1000)), None, "no deadline");
        let finish = decide_failure(&job, &[], 0, &at(160)).unwrap();
        assert_eq!(
            (finish.reason.as_str(), finish.message.as_str()),
            ("DeadlineExceeded", "Job was active longer than specified deadline")
        );
    }

    #[test]
    fn success_needs_the_completions_or_for_a_work_queue_one_success_and_none_active() {
        let cases = [
            ("3 of 3, none active", Job::test("j").completions(3), 3, 0, true),
            ("2 of 3", Job::test("j").completions(3), 2, 1, false),
            ("3 of 3 but one still active", Job::test("j").completions(3), 3, 1, false),
            ("work queue: one succeeded, others running", Job::test("j").work_queue(3), 1, 2, false),
            ("work queue: one succeeded, others done", Job::test("j").work_queue(3), 1, 0, true),
            ("work queue: none succeeded yet", Job::test("j").work_queue(3), 0, 0, false),
        ];
        for (name, job, succeeded, active, want) in cases {
            assert_eq!(is_complete(&job, succeeded, active), want, "{name}");
        }
    }

    #[test]
    fn conditions_change_only_when_status_reason_or_message_does_and_false_is_never_added() {
        let mut status = JobStatus::default();
        assert!(!ensure_job_condition_status(&mut status, JOB_SUSPENDED, "False", "JobResumed", "Job resumed", &at(1)));
        assert_eq!(status.conditions, None, "an absent condition is not added as False");
        assert!(ensure_job_condition_status(
            &mut status,
            JOB_SUSPENDED,
            "True",
            "JobSuspended",
            "Job suspended",
            &at(2)
        ));
        assert!(!ensure_job_condition_status(
            &mut status,
            JOB_SUSPENDED,
            "True",
            "JobSuspended",
            "Job suspended",
            &at(3)
        ));
        assert_eq!(find_condition(&status, JOB_SUSPENDED).unwrap().last_transition_time, Some(at(2)), "kept");
        assert!(ensure_job_condition_status(&mut status, JOB_SUSPENDED, "False", "JobResumed", "Job resumed", &at(4)));
        let condition = find_condition(&status, JOB_SUSPENDED).unwrap();
        assert_eq!((condition.status.as_str(), condition.last_transition_time.clone()), ("False", Some(at(4))));
        assert_eq!(condition.last_probe_time, Some(at(4)));
    }

    #[test]
    fn counts_never_go_below_what_is_recorded() {
        let job = Job::test("j").status(|s| {
            s.succeeded = Some(2);
            s.failed = Some(1);
        });
        let present = pods(vec![Pod::test("a").phase("Succeeded"), Pod::test("b").phase("Failed")]);
        let counts = get_status(&job, &present);
        assert_eq!((counts.succeeded, counts.failed), (2, 1), "a deleted finished pod stays counted");
        let more = pods(vec![Pod::test("c").phase("Failed"), Pod::test("d").phase("Failed")]);
        assert_eq!(get_status(&job, &more).failed, 2);
        let terminating = pods(vec![Pod::test("e").running().deleting(), Pod::test("f").phase("Failed").deleting()]);
        assert_eq!(count_terminating_pods(&terminating), 1, "a finished pod being deleted is not terminating");
    }
}
