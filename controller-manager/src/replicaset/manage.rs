//! Creating and deleting pods until a ReplicaSet has `replicas`.
//!
//! Mirrors `manageReplicas`, `slowStartBatch`, `getPodsToDelete` and
//! `getPodsRankedByRelatedPodsOnSameNode` of `pkg/controller/replicaset/replica_set.go`, and
//! `GetPodFromTemplate` of `pkg/controller/controller_utils.go`.
//!
//! **Too few**: creates the missing pods (at most 500 a sync) in *slow-start* batches of 1, 2, 4,
//! 8, …, each batch at once, the next only if the whole batch succeeded. A ReplicaSet of 100
//! in a namespace whose quota allows 3 sends 1 + 2 + 4 = 7 requests, not 100 (and records 4
//! failures, not 97). The expectations are raised before the first create and lowered for each
//! pod that will never arrive.
//!
//! **Too many**: deletes the surplus, least far along first (`pods::compare_for_deletion`),
//! all at once; the expectations track the deleted pods by name, so each deletion counts once
//! whether the cache sees it as a `deletionTimestamp` or as the pod's removal.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tracing::debug;

use super::{key_of, Error, ReplicaSetController, BURST_REPLICAS, CONTROLLER_KIND};
use crate::client::{is_namespace_terminating, message};
use crate::events::EventType;
use crate::fields;
use crate::owner;
use crate::pods::{compare_for_deletion, is_pod_active};
use crate::selector::{self, label_selector_as_selector};

/// The first batch of a slow start (upstream's `SlowStartInitialBatchSize`).
const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

impl ReplicaSetController {
    pub(super) async fn manage_replicas(&self, filtered_pods: &[Arc<Pod>], rs: &ReplicaSet) -> Result<(), Error> {
        let rs_key = key_of(&rs.metadata);
        let want = fields::rs_replicas(rs).max(0) as usize;
        let have = filtered_pods.len();
        if have < want {
            let diff = (want - have).min(BURST_REPLICAS);
            self.expectations.expect_creations(&rs_key, diff);
            debug!(need = want, creating = diff, "too few replicas");
            let (successes, err) = slow_start_batch(diff, SLOW_START_INITIAL_BATCH_SIZE, || self.create_pod(rs)).await;
            // The pods not created will never be seen: expect them no more.
            let skipped = diff - successes;
            if skipped > 0 {
                debug!(skipped, "slow-start failure; lowering expectations");
                self.expectations.lower_creations(&rs_key, skipped);
            }
            return err.map_or(Ok(()), Err);
        }
        if have > want {
            let diff = (have - want).min(BURST_REPLICAS);
            debug!(need = want, deleting = diff, "too many replicas");
            let related_pods = self.get_indirectly_related_pods(rs);
            let pods_to_delete = get_pods_to_delete(filtered_pods, &related_pods, diff);
            self.expectations.expect_deletions(&rs_key, pods_to_delete.iter().map(|p| key_of(&p.metadata)).collect());
            let results = join_all(pods_to_delete.iter().map(|pod| self.delete_pod(rs, pod))).await;
            if let Some(err) = results.into_iter().find_map(Result::err) {
                return Err(err);
            }
        }
        Ok(())
    }

    /// One pod from the template; a terminating namespace counts as done (every create would fail).
    async fn create_pod(&self, rs: &ReplicaSet) -> Result<(), Error> {
        let pod = get_pod_from_template(rs);
        match self.client.create_pod(fields::namespace(&rs.metadata), &pod).await {
            Ok(created) => {
                let message = format!("Created pod: {}", fields::name(&created.metadata));
                self.event(rs, EventType::Normal, "SuccessfulCreate", message);
                Ok(())
            }
            Err(source) if is_namespace_terminating(&source) => Ok(()),
            Err(source) => {
                self.event(rs, EventType::Warning, "FailedCreate", format!("Error creating: {}", message(&source)));
                Err(Error::CreatePods { replica_set: fields::name(&rs.metadata).into(), source })
            }
        }
    }

    async fn delete_pod(&self, rs: &ReplicaSet, pod: &Pod) -> Result<(), Error> {
        let name = fields::name(&pod.metadata);
        match self.client.delete_pod(fields::namespace(&pod.metadata), name).await {
            Ok(()) => {
                self.event(rs, EventType::Normal, "SuccessfulDelete", format!("Deleted pod: {name}"));
                Ok(())
            }
            Err(source) => {
                // This deletion will never be observed.
                self.expectations.deletion_observed(&key_of(&rs.metadata), &key_of(&pod.metadata));
                if !source.is_not_found() {
                    self.event(rs, EventType::Warning, "FailedDelete", format!("Error deleting: {}", message(&source)));
                }
                Err(Error::DeletePods { replica_set: fields::name(&rs.metadata).into(), source })
            }
        }
    }

    /// `getIndirectlyRelatedPods`: the pods of every ReplicaSet with the same controller (the
    /// Deployment's old and new ReplicaSets), to see which nodes are doubled up.
    fn get_indirectly_related_pods(&self, rs: &ReplicaSet) -> Vec<Arc<Pod>> {
        let controller = owner::controller_of(&rs.metadata).map(|r| r.uid.clone());
        let siblings: Vec<Arc<ReplicaSet>> = match &controller {
            Some(uid) => self
                .replica_sets
                .in_namespace(fields::namespace(&rs.metadata))
                .into_iter()
                .filter(|other| owner::is_controlled_by(&other.metadata, uid))
                .collect(),
            None => vec![Arc::new(rs.clone())],
        };
        let namespace_pods = self.pods.in_namespace(fields::namespace(&rs.metadata));
        let mut seen = HashSet::new();
        let mut related = Vec::new();
        for sibling in siblings {
            let spec_selector = sibling.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
            let Ok(selector) = label_selector_as_selector(&spec_selector) else { continue };
            for pod in namespace_pods.iter().filter(|p| selector::matches(&selector, &p.metadata.labels)) {
                if seen.insert(fields::uid(&pod.metadata).to_string()) {
                    related.push(pod.clone());
                }
            }
        }
        related
    }
}

/// `GetPodFromTemplate`: the template's labels, annotations, finalizers and spec, named by the
/// API server from `<rs>-`, controlled by the ReplicaSet.
fn get_pod_from_template(rs: &ReplicaSet) -> Pod {
    let template = fields::rs_template(rs);
    let template_meta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", fields::name(&rs.metadata))),
            namespace: rs.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![owner::new_controller_ref(&rs.metadata, CONTROLLER_KIND)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// `slowStartBatch`: calls `f` `count` times, in batches of `initial`, then twice as many each
/// time, concurrently within a batch. After a batch with a failure, stops. Returns how many calls
/// succeeded, and the first failure.
pub async fn slow_start_batch<F, Fut, E>(count: usize, initial: usize, f: F) -> (usize, Option<E>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch_size = remaining.min(initial);
    while batch_size > 0 {
        let results = join_all((0..batch_size).map(|_| f())).await;
        let mut errors = results.into_iter().filter_map(Result::err);
        let first_error = errors.next();
        let failed = usize::from(first_error.is_some()) + errors.count();
        successes += batch_size - failed;
        if first_error.is_some() {
            return (successes, first_error);
        }
        remaining -= batch_size;
        batch_size = (2 * batch_size).min(remaining);
    }
    (successes, None)
}

/// `getPodsToDelete`: the first `diff` pods in deletion order. A pod's rank is how many active
/// related pods share its node (including itself): doubled-up nodes lose pods first.
pub(super) fn get_pods_to_delete(filtered_pods: &[Arc<Pod>], related_pods: &[Arc<Pod>], diff: usize) -> Vec<Arc<Pod>> {
    let mut pods = filtered_pods.to_vec();
    // Deleting all of them: no order needed.
    if diff < pods.len() {
        let mut pods_on_node: HashMap<&str, usize> = HashMap::new();
        for pod in related_pods.iter().filter(|p| is_pod_active(p)) {
            *pods_on_node.entry(fields::node_name(pod)).or_default() += 1;
        }
        let rank = |pod: &Pod| pods_on_node.get(fields::node_name(pod)).copied().unwrap_or(0);
        pods.sort_by(|a, b| compare_for_deletion(a, rank(a), b, rank(b)));
    }
    pods.truncate(diff);
    pods
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::testing::{at, PodBuilder};

    #[tokio::test]
    async fn slow_start_doubles_batches_and_stops_after_a_failing_one() {
        let cases = [
            ("all 10 succeed: batches 1, 2, 4, 3", 10, usize::MAX, 10, 10, false),
            ("the 7th call fails: batches 1, 2, then 4 (one failing), then stop", 100, 6, 7, 6, true),
            ("the first call fails: one request only", 100, 0, 1, 0, true),
            ("nothing to do", 0, usize::MAX, 0, 0, false),
        ];
        for (name, count, succeeding, want_calls, want_successes, want_error) in cases {
            let calls = AtomicUsize::new(0);
            let (successes, err) = slow_start_batch(count, 1, || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < succeeding {
                        Ok(())
                    } else {
                        Err("quota exceeded")
                    }
                }
            })
            .await;
            assert_eq!(calls.load(Ordering::SeqCst), want_calls, "{name}: calls");
            assert_eq!(successes, want_successes, "{name}: successes");
            assert_eq!(err.is_some(), want_error, "{name}: error");
        }
    }

    #[test]
    fn the_least_advanced_pods_are_deleted_first_and_doubled_up_nodes_lose_pods_first() {
        let pods: Vec<Arc<Pod>> = vec![
            Arc::new(Pod::test("ready-old").created(at(0)).on_node("n1").running().ready_since(at(10))),
            Arc::new(Pod::test("pending").created(at(50)).on_node("n2")),
            Arc::new(Pod::test("ready-new").created(at(20)).on_node("n3").running().ready_since(at(30))),
            Arc::new(Pod::test("unscheduled").created(at(60))),
            Arc::new(Pod::test("running-not-ready").created(at(40)).on_node("n4").running()),
        ];
        let names =
            |pods: Vec<Arc<Pod>>| pods.iter().map(|p| fields::name(&p.metadata).to_string()).collect::<Vec<_>>();
        assert_eq!(
            names(get_pods_to_delete(&pods, &pods, 4)),
            vec!["unscheduled", "pending", "running-not-ready", "ready-new"]
        );

        // Two ready pods alike but for their nodes; n1 also runs a sibling ReplicaSet's pod.
        let a = Arc::new(Pod::test("a").on_node("n1").running().ready_since(at(10)));
        let b = Arc::new(Pod::test("b").on_node("n2").running().ready_since(at(10)));
        let sibling = Arc::new(Pod::test("sibling").on_node("n1").running());
        let related = vec![a.clone(), b.clone(), sibling];
        assert_eq!(names(get_pods_to_delete(&[b, a], &related, 1)), vec!["a"]);
    }

    #[test]
    fn pods_come_from_the_template_and_are_named_by_the_api_server() {
        use crate::testing::ReplicaSetBuilder;
        let rs = ReplicaSet::test("web-7cd487467c").annotation("ignored", "on the ReplicaSet");
        let pod = get_pod_from_template(&rs);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-7cd487467c-"));
        assert_eq!(pod.metadata.name, None);
        assert_eq!(pod.metadata.labels, fields::rs_template(&rs).metadata.unwrap().labels);
        assert_eq!(pod.metadata.annotations, None, "the template's annotations, not the ReplicaSet's");
        assert!(owner::is_controlled_by(&pod.metadata, "uid-web-7cd487467c"));
        assert_eq!(pod.spec, fields::rs_template(&rs).spec);
    }
}
