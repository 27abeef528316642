//! The TTL-after-finished controller: a finished Job with `ttlSecondsAfterFinished` is deleted,
//! with its pods, that many seconds after it finished.
//!
//! Mirrors `pkg/controller/ttlafterfinished/ttlafterfinished_controller.go` (`processJob`,
//! `processTTL`, `needsCleanup`, `timeLeft`, `jobFinishTime`). Keyed by Job, woken by every Job
//! event; a Job not yet due is looked at again when it will be. The finish time is the
//! `lastTransitionTime` of its `Complete` or `Failed` condition.
//!
//! Before deleting, the Job is read again from the API server, not the cache: its TTL may have
//! been changed (or removed) by a client a moment ago, and a cached copy would delete a Job its
//! owner meant to keep. The delete names the Job's uid as a precondition (a Job made again
//! under the same name is not this one) and `Foreground` propagation, so the Job stays visible
//! until its pods are gone, as upstream deletes it.
//!
//! Left out: metrics, and the clock-skew warning beyond a log line.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use skiff_client::controller::Action;
use skiff_client::reflector::{ObjectKey, Store};
use tracing::{info, warn};

use crate::client::{ApiError, TtlClient};
use crate::clock::Clock;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("job {job} finished but says nowhere when")]
    NoFinishTime { job: String },
    #[error("reading job {job} before deleting it")]
    Read {
        job: String,
        #[source]
        source: ApiError,
    },
    #[error("deleting job {job}")]
    Delete {
        job: String,
        #[source]
        source: ApiError,
    },
}

/// What a Job's TTL asks for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// No TTL, or not finished: nothing to do.
    NotNeeded,
    /// Finished, but no condition says when (upstream's error: retried).
    NoFinishTime,
    /// Due after this long.
    After(Duration),
    /// Due: delete it.
    Now,
}

/// When the Job finished: the `lastTransitionTime` of its `Complete` or `Failed` condition
/// that is True (`jobFinishTime`); `None` if it has not finished or says nowhere when.
fn finish_time(job: &Job) -> Option<Option<&Time>> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    let finished = conditions.iter().find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")?;
    Some(finished.last_transition_time.as_ref())
}

/// `processTTL`'s decision, for a Job as it is at `now` (pure).
pub fn expiry(job: &Job, now: &Time) -> Expiry {
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else { return Expiry::NotNeeded };
    let Some(finished) = finish_time(job) else { return Expiry::NotNeeded };
    let Some(finished) = finished else { return Expiry::NoFinishTime };
    let expires = finished.0 + k8s_openapi::chrono::Duration::seconds(i64::from(ttl));
    if finished.0 > now.0 {
        warn!(job = ?job.metadata.name, "job finished in the future: the clocks disagree; its clean-up waits");
    }
    match (expires - now.0).to_std() {
        Ok(left) if !left.is_zero() => Expiry::After(left),
        _ => Expiry::Now,
    }
}

pub struct TtlAfterFinishedController {
    jobs: Store<Job>,
    client: Arc<dyn TtlClient>,
    clock: Arc<dyn Clock>,
}

impl TtlAfterFinishedController {
    pub fn new(jobs: Store<Job>, client: Arc<dyn TtlClient>, clock: Arc<dyn Clock>) -> Self {
        TtlAfterFinishedController { jobs, client, clock }
    }

    /// One look at the Job `key` (upstream: `processJob`).
    pub async fn sync_job(&self, key: &ObjectKey) -> Result<Action, Error> {
        let Some(cached) = self.jobs.get(key) else { return Ok(Action::Done) };
        let name = || key.to_string();
        match expiry(&cached, &self.clock.now()) {
            Expiry::NotNeeded => return Ok(Action::Done),
            Expiry::NoFinishTime => return Err(Error::NoFinishTime { job: name() }),
            Expiry::After(left) => return Ok(Action::RequeueAfter(left)),
            Expiry::Now => {}
        }
        // Due by the cache: decide again on what the API server holds now.
        let namespace = key.namespace.as_deref().unwrap_or_default();
        let fresh = match self.client.get_job(namespace, &key.name).await {
            Ok(job) => job,
            Err(err) if err.is_not_found() => return Ok(Action::Done),
            Err(source) => return Err(Error::Read { job: name(), source }),
        };
        match expiry(&fresh, &self.clock.now()) {
            Expiry::NotNeeded => return Ok(Action::Done),
            Expiry::NoFinishTime => return Err(Error::NoFinishTime { job: name() }),
            Expiry::After(left) => return Ok(Action::RequeueAfter(left)),
            Expiry::Now => {}
        }
        let uid = fresh.metadata.uid.clone().unwrap_or_default();
        info!(job = %key, "cleaning up a finished job past its TTL");
        match self.client.delete_job(namespace, &key.name, &uid).await {
            Ok(()) => Ok(Action::Done),
            // Gone already, or another Job of the same name now: not ours to delete.
            Err(err) if err.is_not_found() || err.is_conflict() => Ok(Action::Done),
            Err(source) => Err(Error::Delete { job: name(), source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use parking_lot::Mutex;
    use serde_json::json;

    use super::*;
    use crate::testing::{at, status_error, FakeCache, FakeClock};

    /// A Job with `ttl` that finished (`condition`) at `finished` seconds, or has not.
    fn job(ttl: Option<i32>, condition: Option<(&str, &str)>, finished: Option<i64>) -> Job {
        let mut value =
            json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": {"template": {}}});
        if let Some(ttl) = ttl {
            value["spec"]["ttlSecondsAfterFinished"] = json!(ttl);
        }
        if let Some((kind, status)) = condition {
            let mut c = json!({"type": kind, "status": status});
            if let Some(t) = finished {
                c["lastTransitionTime"] = serde_json::to_value(at(t)).unwrap();
            }
            value["status"] = json!({"conditions": [c]});
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn when_a_job_is_due() {
        let now = at(100);
        let cases = [
            ("no TTL", job(None, Some(("Complete", "True")), Some(10)), Expiry::NotNeeded),
            ("running", job(Some(30), None, None), Expiry::NotNeeded),
            ("on its way to failing", job(Some(30), Some(("FailureTarget", "True")), Some(10)), Expiry::NotNeeded),
            (
                "complete, not yet",
                job(Some(30), Some(("Complete", "True")), Some(90)),
                Expiry::After(Duration::from_secs(20)),
            ),
            ("complete, due", job(Some(30), Some(("Complete", "True")), Some(70)), Expiry::Now),
            ("failed, long past", job(Some(0), Some(("Failed", "True")), Some(10)), Expiry::Now),
            ("a condition that is not true", job(Some(0), Some(("Complete", "False")), Some(10)), Expiry::NotNeeded),
            ("finished, no time", job(Some(30), Some(("Complete", "True")), None), Expiry::NoFinishTime),
            (
                "finished in the future",
                job(Some(5), Some(("Complete", "True")), Some(110)),
                Expiry::After(Duration::from_secs(15)),
            ),
        ];
        for (case, job, want) in cases {
            assert_eq!(expiry(&job, &now), want, "{case}");
        }
    }

    /// Answers reads with `fresh` (or NotFound), records deletes.
    #[derive(Default)]
    struct Recording {
        fresh: Mutex<Option<Job>>,
        deleted: Mutex<Vec<String>>,
        answer: Mutex<Option<ApiError>>,
    }

    #[async_trait]
    impl TtlClient for Recording {
        async fn get_job(&self, _namespace: &str, name: &str) -> Result<Job, ApiError> {
            let not_found = || status_error(404, "NotFound", &format!("jobs.batch \"{name}\" not found"));
            self.fresh.lock().clone().ok_or_else(not_found)
        }

        async fn delete_job(&self, namespace: &str, name: &str, uid: &str) -> Result<(), ApiError> {
            self.deleted.lock().push(format!("{namespace}/{name} uid={uid}"));
            self.answer.lock().take().map_or(Ok(()), Err)
        }
    }

    fn world(cached: Job, fresh: Option<Job>) -> (TtlAfterFinishedController, Arc<Recording>, Arc<FakeClock>) {
        let jobs = FakeCache::default();
        jobs.put(cached);
        let client = Arc::new(Recording { fresh: Mutex::new(fresh), ..Default::default() });
        let clock = Arc::new(FakeClock::default());
        clock.set(at(100));
        (TtlAfterFinishedController::new(jobs.store(), client.clone(), clock.clone()), client, clock)
    }

    fn key() -> ObjectKey {
        ObjectKey { namespace: Some("default".into()), name: "pi".into() }
    }

    #[tokio::test]
    async fn a_due_job_is_deleted_by_uid_and_one_not_due_is_looked_at_again_then() {
        let due = job(Some(30), Some(("Complete", "True")), Some(60));
        let (controller, client, _) = world(due.clone(), Some(due));
        assert_eq!(controller.sync_job(&key()).await.unwrap(), Action::Done);
        assert_eq!(*client.deleted.lock(), vec!["default/pi uid=u-1"]);

        let later = job(Some(30), Some(("Complete", "True")), Some(95));
        let (controller, client, _) = world(later.clone(), Some(later));
        assert_eq!(controller.sync_job(&key()).await.unwrap(), Action::RequeueAfter(Duration::from_secs(25)));
        assert!(client.deleted.lock().is_empty());
    }

    #[tokio::test]
    async fn the_api_servers_copy_decides() {
        let cached = job(Some(30), Some(("Complete", "True")), Some(10));
        let cases = [
            ("the TTL was removed meanwhile", Some(job(None, Some(("Complete", "True")), Some(10))), Action::Done),
            (
                "the TTL was raised meanwhile",
                Some(job(Some(600), Some(("Complete", "True")), Some(10))),
                Action::RequeueAfter(Duration::from_secs(510)),
            ),
            ("deleted meanwhile", None, Action::Done),
        ];
        for (case, fresh, want) in cases {
            let (controller, client, _) = world(cached.clone(), fresh);
            assert_eq!(controller.sync_job(&key()).await.unwrap(), want, "{case}");
            assert!(client.deleted.lock().is_empty(), "{case}: nothing deleted");
        }
    }

    #[tokio::test]
    async fn a_delete_that_finds_another_job_or_none_is_done_and_other_failures_are_retried() {
        let due = job(Some(0), Some(("Failed", "True")), Some(10));
        let (controller, client, _) = world(due.clone(), Some(due.clone()));
        *client.answer.lock() = Some(status_error(409, "Conflict", "Precondition failed: UID in precondition: u-1"));
        assert_eq!(controller.sync_job(&key()).await.unwrap(), Action::Done);
        let (controller, client, _) = world(due.clone(), Some(due));
        *client.answer.lock() = Some(status_error(500, "InternalError", "etcd is down"));
        assert_eq!(controller.sync_job(&key()).await.unwrap_err().to_string(), "deleting job default/pi");
    }
}
