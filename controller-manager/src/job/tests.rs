//! The Job controller against the recording fake and a fake clock: pods created toward
//! completions and parallelism, never twice while the cache lags; failures retried after the
//! back-off until the limit; the deadline; suspension; the two-step end; Indexed Jobs.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use skiff_client::controller::Action;
use skiff_client::reflector::ObjectKey;
use skiff_client::watcher::Event;

use super::status::find_condition;
use super::*;
use crate::testing::*;

fn key(name: &str) -> ObjectKey {
    ObjectKey { namespace: Some(NAMESPACE.into()), name: name.into() }
}

fn creates(writes: &[String]) -> usize {
    writes.iter().filter(|w| w.starts_with("create pod") && !w.ends_with("(failed)")).count()
}

fn deletes(writes: &[String]) -> Vec<String> {
    let mut deleted: Vec<String> =
        writes.iter().filter_map(|w| w.strip_prefix("delete pod ")).map(String::from).collect();
    deleted.sort();
    deleted
}

fn status(cluster: &FakeCluster, job: &str) -> JobStatus {
    fields::job_status(&cluster.job(job))
}

/// `type=status reason` of each condition, in order.
fn conditions(cluster: &FakeCluster, job: &str) -> Vec<String> {
    let status = status(cluster, job);
    let shown = status.conditions.iter().flatten();
    shown.map(|c| format!("{}={} {}", c.type_, c.status, c.reason.as_deref().unwrap_or(""))).collect()
}

/// The names of the pods in the fake API server, sorted.
fn pod_names(cluster: &FakeCluster) -> Vec<String> {
    cluster.pods().iter().map(|p| fields::name(&p.metadata).to_string()).collect()
}

/// The names of the pods not yet run.
fn pending(cluster: &FakeCluster) -> Vec<String> {
    let pods = cluster.pods();
    pods.iter().filter(|p| fields::pod_phase(p) == "Pending").map(|p| fields::name(&p.metadata).to_string()).collect()
}

/// The kubelet's part: the pod ran and ended in `phase` at `time`.
fn finish(cluster: &FakeCluster, pod: &str, phase: &str, time: i64) {
    cluster.edit_pod(pod, |p| *p = p.clone().phase(phase).finished_at(at(time)));
}

#[tokio::test]
async fn a_job_without_a_selector_selects_nothing_and_makes_no_pod() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    let mut job = Job::test("legacy");
    job.spec.as_mut().unwrap().selector = None;
    cluster.add_job(job);
    assert_eq!(jc.sync_job(&key("legacy")).await.unwrap(), Action::Done);
    assert_eq!(cluster.take_writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_new_job_starts_one_pod_and_completes_when_it_succeeds() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("hello"));
    cluster.clock.set(at(5));
    assert_eq!(jc.sync_job(&key("hello")).await.unwrap(), Action::Done);
    assert_eq!(creates(&cluster.take_writes()), 1);
    let pod = cluster.pods().remove(0);
    let name = fields::name(&pod.metadata).to_string();
    assert!(name.starts_with("hello-") && name.len() == 11, "{name}");
    assert!(owner::is_controlled_by(&pod.metadata, "uid-hello"));
    assert_eq!(cluster.take_events(), vec![format!("Normal SuccessfulCreate Created pod: {name}")]);
    let started = status(&cluster, "hello");
    assert_eq!(
        (started.start_time, started.active, started.ready, started.terminating),
        (Some(at(5)), Some(1), Some(0), Some(0))
    );
    assert_eq!(started.conditions, None);

    jc.pod_event(&Event::Applied(pod));
    finish(&cluster, &name, "Succeeded", 8);
    cluster.clock.set(at(9));
    jc.sync_job(&key("hello")).await.unwrap();
    let done = status(&cluster, "hello");
    assert_eq!((done.succeeded, done.active, done.completion_time.clone()), (Some(1), None, Some(at(9))));
    assert_eq!(
        conditions(&cluster, "hello"),
        vec!["SuccessCriteriaMet=True CompletionsReached", "Complete=True CompletionsReached"]
    );
    let complete = find_condition(&done, JOB_COMPLETE).unwrap();
    assert_eq!(complete.message.as_deref(), Some("Reached expected number of succeeded pods"));
    assert_eq!(cluster.take_events(), vec!["Normal Completed Job completed"]);

    // Finished: a later sync does nothing at all.
    cluster.take_writes();
    jc.sync_job(&key("hello")).await.unwrap();
    assert_eq!(cluster.take_writes(), Vec::<String>::new());
}

#[tokio::test]
async fn completions_3_parallelism_2_runs_two_pods_then_one() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("batch").completions(3).parallelism(2));
    jc.sync_job(&key("batch")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 2);
    jc.pod_event(&Event::Restarted(cluster.pods()));
    for name in pod_names(&cluster) {
        finish(&cluster, &name, "Succeeded", 10);
    }
    jc.sync_job(&key("batch")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 1, "one completion to go");
    assert_eq!((status(&cluster, "batch").succeeded, status(&cluster, "batch").active), (Some(2), Some(1)));
    jc.pod_event(&Event::Restarted(cluster.pods()));
    let last = pending(&cluster).remove(0);
    finish(&cluster, &last, "Succeeded", 20);
    jc.sync_job(&key("batch")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0);
    assert_eq!(status(&cluster, "batch").succeeded, Some(3));
    assert!(status::is_job_finished(&cluster.job("batch")));
}

#[tokio::test]
async fn a_lagging_cache_never_makes_it_create_twice() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("batch").completions(4).parallelism(2));
    cluster.set_lagging(true);
    jc.sync_job(&key("batch")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 2);
    // The cache's Job is older than the one its status was written to: the write conflicts, and
    // the key will be retried. What matters is that no pod was created meanwhile.
    let err = jc.sync_job(&key("batch")).await.unwrap_err();
    assert!(matches!(&err, Error::UpdateStatus { source, .. } if source.is_conflict()), "{err}");
    assert_eq!(creates(&cluster.take_writes()), 0, "expectations unmet: the pods are on their way");

    cluster.set_lagging(false);
    cluster.sync_cache();
    let pods = cluster.pods();
    assert_eq!(jc.pod_event(&Event::Applied(pods[0].clone())), vec![key("batch")]);
    assert!(!jc.expectations.satisfied(&key("batch")), "1 of 2 seen");
    jc.pod_event(&Event::Applied(pods[1].clone()));
    assert!(jc.expectations.satisfied(&key("batch")));
    jc.sync_job(&key("batch")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0, "2 active of parallelism 2");
}

#[tokio::test]
async fn a_failed_pod_is_replaced_after_the_back_off_and_one_failure_too_many_fails_the_job() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("flaky").backoff_limit(1));
    jc.sync_job(&key("flaky")).await.unwrap();
    let first = pod_names(&cluster).remove(0);
    jc.pod_event(&Event::Restarted(cluster.pods()));
    finish(&cluster, &first, "Failed", 10);

    // 1 failure of 1 allowed: retried, 10 s after it.
    cluster.clock.set(at(12));
    cluster.take_writes();
    assert_eq!(jc.sync_job(&key("flaky")).await.unwrap(), Action::RequeueAfter(Duration::from_secs(8)));
    let writes = cluster.take_writes();
    assert_eq!(creates(&writes), 0, "still backing off: {writes:?}");
    assert_eq!((status(&cluster, "flaky").failed, status(&cluster, "flaky").active), (Some(1), None));
    cluster.clock.set(at(20));
    assert_eq!(jc.sync_job(&key("flaky")).await.unwrap(), Action::Done);
    assert_eq!(creates(&cluster.take_writes()), 1);

    jc.pod_event(&Event::Restarted(cluster.pods()));
    let second = pod_names(&cluster).into_iter().find(|n| *n != first).unwrap();
    finish(&cluster, &second, "Failed", 25);
    cluster.take_events();
    jc.sync_job(&key("flaky")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0);
    assert_eq!(status(&cluster, "flaky").failed, Some(2));
    assert_eq!(
        conditions(&cluster, "flaky"),
        vec!["FailureTarget=True BackoffLimitExceeded", "Failed=True BackoffLimitExceeded"]
    );
    assert_eq!(status(&cluster, "flaky").completion_time, None, "only a complete Job has one");
    assert_eq!(cluster.take_events(), vec!["Warning BackoffLimitExceeded Job has reached the specified backoff limit"]);
}

#[tokio::test]
async fn a_failing_job_deletes_its_active_pods_and_is_failed_only_once_they_are_gone() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    let job = Job::test("web").completions(2).parallelism(2).backoff_limit(0);
    cluster.add_job(job.clone());
    cluster.add_pod(Pod::of_job(&job, "web-failed").phase("Failed").finished_at(at(3)));
    cluster.add_pod(Pod::of_job(&job, "web-running").on_node("n1").running().ready_since(at(1)));
    jc.sync_job(&key("web")).await.unwrap();
    assert_eq!(deletes(&cluster.take_writes()), vec!["web-running"]);
    assert_eq!(conditions(&cluster, "web"), vec!["FailureTarget=True BackoffLimitExceeded"]);
    let failing = status(&cluster, "web");
    assert_eq!((failing.active, failing.ready, failing.terminating), (None, Some(0), Some(1)));
    assert_eq!(cluster.take_events(), vec!["Normal SuccessfulDelete Deleted pod: web-running"]);

    // The kubelet still stops it (its grace period).
    cluster.add_pod(Pod::of_job(&job, "web-running").on_node("n1").running().deleting());
    jc.sync_job(&key("web")).await.unwrap();
    assert_eq!(conditions(&cluster, "web"), vec!["FailureTarget=True BackoffLimitExceeded"], "a pod is terminating");
    assert_eq!(cluster.take_events(), Vec::<String>::new());

    cluster.remove_pod("web-running");
    jc.sync_job(&key("web")).await.unwrap();
    assert_eq!(
        conditions(&cluster, "web"),
        vec!["FailureTarget=True BackoffLimitExceeded", "Failed=True BackoffLimitExceeded"]
    );
    assert_eq!(status(&cluster, "web").terminating, Some(0));
    assert_eq!(cluster.take_events(), vec!["Warning BackoffLimitExceeded Job has reached the specified backoff limit"]);
}

#[tokio::test]
async fn restarts_count_against_the_limit_with_restart_policy_on_failure() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    let job = Job::test("crashy").restart_policy("OnFailure").backoff_limit(2);
    cluster.add_job(job.clone());
    cluster.add_pod(Pod::of_job(&job, "crashy-a").on_node("n1").running().restarts(2));
    jc.sync_job(&key("crashy")).await.unwrap();
    assert_eq!(deletes(&cluster.take_writes()), vec!["crashy-a"]);
    assert_eq!(conditions(&cluster, "crashy"), vec!["FailureTarget=True BackoffLimitExceeded"]);
}

#[tokio::test]
async fn the_deadline_fails_the_job_and_the_controller_comes_back_for_it() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("slow").active_deadline_seconds(30));
    cluster.clock.set(at(100));
    assert_eq!(jc.sync_job(&key("slow")).await.unwrap(), Action::RequeueAfter(Duration::from_secs(30)));
    jc.pod_event(&Event::Restarted(cluster.pods()));
    cluster.clock.set(at(110));
    assert_eq!(jc.sync_job(&key("slow")).await.unwrap(), Action::RequeueAfter(Duration::from_secs(20)));
    cluster.take_writes();
    cluster.take_events();

    cluster.clock.set(at(130));
    jc.sync_job(&key("slow")).await.unwrap();
    assert_eq!(deletes(&cluster.take_writes()).len(), 1);
    assert_eq!(conditions(&cluster, "slow"), vec!["FailureTarget=True DeadlineExceeded"]);
    jc.sync_job(&key("slow")).await.unwrap();
    assert_eq!(
        conditions(&cluster, "slow"),
        vec!["FailureTarget=True DeadlineExceeded", "Failed=True DeadlineExceeded"]
    );
    let events = cluster.take_events();
    assert_eq!(events.last().unwrap(), "Warning DeadlineExceeded Job was active longer than specified deadline");
}

#[tokio::test]
async fn suspending_deletes_the_active_pods_and_resuming_restarts_the_clock() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("later").suspend(true));
    jc.sync_job(&key("later")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0);
    assert_eq!(conditions(&cluster, "later"), vec!["Suspended=True JobSuspended"]);
    assert_eq!(status(&cluster, "later").start_time, None, "a suspended Job has not started");
    assert_eq!(cluster.take_events(), vec!["Normal Suspended Job suspended"]);

    cluster.clock.set(at(50));
    cluster.edit_job("later", |j| *j = j.clone().suspend(false));
    jc.sync_job(&key("later")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 1);
    assert_eq!(conditions(&cluster, "later"), vec!["Suspended=False JobResumed"]);
    assert_eq!(status(&cluster, "later").start_time, Some(at(50)));
    let events = cluster.take_events();
    assert_eq!(events.last().unwrap(), "Normal Resumed Job resumed");

    // Suspended while running: its pod goes.
    jc.pod_event(&Event::Restarted(cluster.pods()));
    cluster.edit_job("later", |j| *j = j.clone().suspend(true));
    jc.sync_job(&key("later")).await.unwrap();
    assert_eq!(deletes(&cluster.take_writes()).len(), 1);
    assert_eq!(conditions(&cluster, "later"), vec!["Suspended=True JobSuspended"]);
    assert_eq!(status(&cluster, "later").active, None);
}

#[tokio::test]
async fn a_work_queue_stops_creating_after_a_success_and_completes_when_the_rest_finish() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("queue").work_queue(3));
    jc.sync_job(&key("queue")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 3);
    jc.pod_event(&Event::Restarted(cluster.pods()));
    let names = pod_names(&cluster);
    finish(&cluster, &names[0], "Succeeded", 10);
    finish(&cluster, &names[1], "Failed", 10);
    jc.sync_job(&key("queue")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0, "a success: no new pods, not even for the failure");
    assert!(!status::is_job_finished(&cluster.job("queue")), "one still running");
    finish(&cluster, &names[2], "Succeeded", 12);
    jc.sync_job(&key("queue")).await.unwrap();
    assert_eq!(conditions(&cluster, "queue").last().unwrap(), "Complete=True CompletionsReached");
}

#[tokio::test]
async fn surplus_pods_are_deleted_when_parallelism_drops() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    let job = Job::test("wide").completions(10).parallelism(1);
    cluster.add_job(job.clone());
    cluster.add_pod(Pod::of_job(&job, "wide-ready").on_node("n1").running().ready_since(at(1)));
    cluster.add_pod(Pod::of_job(&job, "wide-pending").on_node("n1"));
    cluster.add_pod(Pod::of_job(&job, "wide-unscheduled"));
    jc.sync_job(&key("wide")).await.unwrap();
    assert_eq!(deletes(&cluster.take_writes()), vec!["wide-pending", "wide-unscheduled"]);
    let shrunk = status(&cluster, "wide");
    assert_eq!((shrunk.active, shrunk.ready, shrunk.terminating), (Some(1), Some(1), Some(2)));
    assert!(!jc.expectations.satisfied(&key("wide")), "waiting to see both go");
    jc.pod_event(&Event::Deleted(Pod::of_job(&job, "wide-pending")));
    jc.pod_event(&Event::Deleted(Pod::of_job(&job, "wide-unscheduled")));
    assert!(jc.expectations.satisfied(&key("wide")));
}

#[tokio::test]
async fn an_indexed_job_runs_each_index_once_and_records_the_indexes_done() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("sample").completions(4).parallelism(2).indexed());
    jc.sync_job(&key("sample")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 2);
    let names = pod_names(&cluster);
    assert!(names[0].starts_with("sample-0-") && names[1].starts_with("sample-1-"), "{names:?}");
    jc.pod_event(&Event::Restarted(cluster.pods()));

    finish(&cluster, &names[1], "Succeeded", 10);
    jc.sync_job(&key("sample")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 1);
    let third = pod_names(&cluster).into_iter().find(|n| !names.contains(n)).unwrap();
    assert!(third.starts_with("sample-2-"), "index 0 runs, 1 is done: {third}");
    assert_eq!(status(&cluster, "sample").completed_indexes.as_deref(), Some("1"));

    jc.pod_event(&Event::Restarted(cluster.pods()));
    finish(&cluster, &names[0], "Succeeded", 11);
    finish(&cluster, &third, "Succeeded", 12);
    jc.sync_job(&key("sample")).await.unwrap();
    let fourth = pod_names(&cluster).into_iter().find(|n| n.starts_with("sample-3-")).unwrap();
    let done = status(&cluster, "sample");
    assert_eq!((done.completed_indexes.as_deref(), done.succeeded), (Some("0-2"), Some(3)));

    jc.pod_event(&Event::Restarted(cluster.pods()));
    finish(&cluster, &fourth, "Succeeded", 13);
    jc.sync_job(&key("sample")).await.unwrap();
    assert_eq!(status(&cluster, "sample").completed_indexes.as_deref(), Some("0-3"));
    assert!(status::is_job_finished(&cluster.job("sample")));
}

#[tokio::test]
async fn orphans_matching_the_selector_are_adopted_and_pods_of_the_job_wake_it() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    let job = Job::test("hello");
    cluster.add_job(job.clone());
    let mut orphan = Pod::of_job(&job, "stray").running();
    orphan.metadata.owner_references = None;
    cluster.add_pod(orphan.clone());
    assert_eq!(jc.pod_event(&Event::Applied(orphan)), vec![key("hello")], "an orphan wakes the Jobs it matches");
    jc.sync_job(&key("hello")).await.unwrap();
    let writes = cluster.take_writes();
    assert!(writes.contains(&"adopt pod stray".to_string()), "{writes:?}");
    assert_eq!(creates(&writes), 0, "the adopted pod is the one wanted");
    let adopted = cluster.pods().remove(0);
    let reference = owner::controller_of(&adopted.metadata).unwrap();
    assert_eq!((reference.api_version.as_str(), reference.kind.as_str()), ("batch/v1", "Job"));

    let other = Pod::test("unrelated");
    assert_eq!(jc.pod_event(&Event::Applied(other)), Vec::<ObjectKey>::new());
}

#[tokio::test]
async fn the_status_is_written_only_when_it_changed_and_a_deleted_job_forgets_its_expectations() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("hello"));
    jc.sync_job(&key("hello")).await.unwrap();
    jc.pod_event(&Event::Restarted(cluster.pods()));
    cluster.take_writes();
    jc.sync_job(&key("hello")).await.unwrap();
    assert_eq!(cluster.take_writes(), Vec::<String>::new(), "nothing changed: nothing written");

    jc.expectations.expect_creations(&key("gone"), 3);
    assert_eq!(jc.sync_job(&key("gone")).await.unwrap(), Action::Done);
    assert!(jc.expectations.satisfied(&key("gone")));
}

#[tokio::test]
async fn a_failing_create_is_reported_and_retried() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    cluster.add_job(Job::test("quota").completions(3).parallelism(3));
    let refused = "pods \"quota-bbbbb\" is forbidden: exceeded quota: compute";
    cluster.fail_next("create pod", status_error(403, "Forbidden", refused));
    let err = jc.sync_job(&key("quota")).await.unwrap_err();
    assert!(matches!(err, Error::CreatePods { .. }), "{err}");
    assert_eq!(creates(&cluster.take_writes()), 0, "the first batch failed: no more tried");
    assert_eq!(cluster.take_events(), vec![format!("Warning FailedCreate Error creating: {refused}")]);
    assert!(jc.expectations.satisfied(&key("quota")), "nothing is on its way");
    jc.sync_job(&key("quota")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 3);
}

#[tokio::test]
async fn an_interim_condition_written_earlier_is_carried_to_its_end() {
    let cluster = FakeCluster::new();
    let jc = cluster.job_controller();
    let message = "Job has reached the specified backoff limit";
    let failing =
        Job::test("failing").started(at(0)).condition(JOB_FAILURE_TARGET, "True", "BackoffLimitExceeded", message);
    cluster.add_job(failing);
    jc.sync_job(&key("failing")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0, "a failing Job starts nothing");
    assert_eq!(conditions(&cluster, "failing").last().unwrap(), "Failed=True BackoffLimitExceeded");

    let met = "Reached expected number of succeeded pods";
    let done = Job::test("done").started(at(0)).condition(JOB_SUCCESS_CRITERIA_MET, "True", "CompletionsReached", met);
    cluster.add_job(done);
    jc.sync_job(&key("done")).await.unwrap();
    assert_eq!(creates(&cluster.take_writes()), 0);
    assert_eq!(
        conditions(&cluster, "done"),
        vec!["SuccessCriteriaMet=True CompletionsReached", "Complete=True CompletionsReached"]
    );
    assert_eq!(cluster.take_events().last().unwrap(), "Normal Completed Job completed");
}
