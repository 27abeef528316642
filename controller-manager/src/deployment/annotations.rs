//! The annotations a Deployment keeps on its ReplicaSets: revisions, and the sizes that tell a
//! scaling event from a rollout.
//!
//! Mirrors the annotation half of `pkg/controller/deployment/util/deployment_util.go`
//! (`MaxRevision`, `LastRevision`, `SetNewReplicaSetAnnotations`, `SetReplicasAnnotations`, …).
//!
//! - `deployment.kubernetes.io/revision`: the rollout sequence. A new ReplicaSet gets the highest
//!   revision of the old ones plus one; so does an old one that becomes new again (`kubectl
//!   rollout undo`), which then records the number it had in `revision-history`. Three rollouts
//!   then an undo: revisions 1, 2, 3, and the ReplicaSet of 2 becomes 4 with history "2".
//! - `deployment.kubernetes.io/desired-replicas` and `max-replicas` (replicas + maxSurge): the
//!   Deployment's size when the ReplicaSet was last scaled for it, read back by `isScalingEvent`
//!   and by proportional scaling.
//! - Every other Deployment annotation is copied onto its new ReplicaSet, so
//!   `kubernetes.io/change-cause` shows in `kubectl rollout history`, except the skip list.

use std::collections::BTreeMap;
use std::num::ParseIntError;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tracing::warn;

use super::util::max_surge;
use crate::fields;

pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
pub const LAST_APPLIED_CONFIG_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The server-side rollback request of extensions/v1beta1 and apps/v1beta1.
pub const DEPRECATED_ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";

/// `revision-history` stops growing at about 100 revisions (upstream's
/// `maxRevHistoryLengthInChars`).
pub const MAX_REV_HISTORY_LENGTH_IN_CHARS: usize = 2000;

/// Annotations of a Deployment that its ReplicaSets do not inherit.
const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    LAST_APPLIED_CONFIG_ANNOTATION,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    DEPRECATED_ROLLBACK_TO,
];

pub fn skip_copy_annotation(key: &str) -> bool {
    ANNOTATIONS_TO_SKIP.contains(&key)
}

fn annotations_mut(meta: &mut ObjectMeta) -> &mut BTreeMap<String, String> {
    meta.annotations.get_or_insert_with(BTreeMap::new)
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The revision of an object; 0 without the annotation.
pub fn revision(meta: &ObjectMeta) -> Result<i64, ParseIntError> {
    annotation(meta, REVISION_ANNOTATION).map_or(Ok(0), str::parse)
}

/// The highest revision among `replica_sets` (unparsable ones are skipped).
pub fn max_revision(replica_sets: &[ReplicaSet]) -> i64 {
    replica_sets.iter().filter_map(|rs| revision(&rs.metadata).ok()).max().unwrap_or(0)
}

/// The second highest revision: the one `kubectl rollout undo` goes back to.
pub fn last_revision(replica_sets: &[ReplicaSet]) -> i64 {
    let (mut max, mut second) = (0, 0);
    for v in replica_sets.iter().filter_map(|rs| revision(&rs.metadata).ok()) {
        if v >= max {
            second = max;
            max = v;
        } else if v > second {
            second = v;
        }
    }
    second
}

/// Sets the Deployment's revision annotation; whether it changed.
pub fn set_deployment_revision(deployment: &mut Deployment, revision: &str) -> bool {
    let annotations = annotations_mut(&mut deployment.metadata);
    if annotations.get(REVISION_ANNOTATION).map(String::as_str) == Some(revision) {
        return false;
    }
    annotations.insert(REVISION_ANNOTATION.into(), revision.into());
    true
}

/// Copies the Deployment's annotations (but the skip list) onto `rs`; whether any changed.
fn copy_deployment_annotations_to_replica_set(deployment: &Deployment, rs: &mut ReplicaSet) -> bool {
    let mut changed = false;
    let target = annotations_mut(&mut rs.metadata);
    for (key, value) in deployment.metadata.annotations.iter().flatten() {
        if skip_copy_annotation(key) || target.get(key) == Some(value) {
            continue;
        }
        target.insert(key.clone(), value.clone());
        changed = true;
    }
    changed
}

/// Brings the new ReplicaSet's annotations up to date: the Deployment's annotations, the
/// revision `new_revision` if it is higher than the one it has (recording the old one in
/// `revision-history`), and, for a ReplicaSet about to be created (`!exists`), its sizes.
/// Returns whether anything changed.
pub fn set_new_replica_set_annotations(
    deployment: &Deployment,
    new_rs: &mut ReplicaSet,
    new_revision: &str,
    exists: bool,
    rev_history_limit_in_chars: usize,
) -> bool {
    let mut changed = copy_deployment_annotations_to_replica_set(deployment, new_rs);
    let annotations = annotations_mut(&mut new_rs.metadata);
    let old_revision = annotations.get(REVISION_ANNOTATION).cloned();
    let old_revision_int = match old_revision.as_deref().unwrap_or("").parse::<i64>() {
        Ok(v) => v,
        Err(_) if old_revision.as_deref().unwrap_or("").is_empty() => 0,
        Err(err) => {
            warn!(cause = %err, "replica set revision is not a number; leaving it");
            return false;
        }
    };
    let Ok(new_revision_int) = new_revision.parse::<i64>() else {
        warn!(revision = new_revision, "new revision is not a number");
        return false;
    };
    // Only ever raise a revision: old ReplicaSets may have been deleted since this one got its
    // number, making `new_revision` lower than the number it has.
    if old_revision_int < new_revision_int {
        annotations.insert(REVISION_ANNOTATION.into(), new_revision.into());
        changed = true;
        // It had a revision already: it is being rolled back to. Keep the old numbers.
        if let Some(old_revision) = old_revision {
            record_revision_history(annotations, &old_revision, rev_history_limit_in_chars);
        }
    }
    if !exists {
        let replicas = fields::replicas(deployment);
        changed |= set_replicas_annotations(new_rs, replicas, replicas + max_surge(deployment));
    }
    changed
}

/// Appends `old_revision` to `revision-history`, dropping the oldest entries to stay within
/// `limit` characters.
fn record_revision_history(annotations: &mut BTreeMap<String, String>, old_revision: &str, limit: usize) {
    let history = annotations.get(REVISION_HISTORY_ANNOTATION).cloned().unwrap_or_default();
    if history.is_empty() {
        annotations.insert(REVISION_HISTORY_ANNOTATION.into(), old_revision.into());
        return;
    }
    let old_revisions: Vec<&str> = history.split(',').collect();
    let mut total = history.len() + old_revision.len() + 1;
    let mut start = 0;
    while total > limit && start < old_revisions.len() {
        total -= old_revisions[start].len() + 1;
        start += 1;
    }
    if total > limit {
        warn!(limit, "revision history is full; not appending");
        return;
    }
    let mut kept: Vec<&str> = old_revisions[start..].to_vec();
    kept.push(old_revision);
    annotations.insert(REVISION_HISTORY_ANNOTATION.into(), kept.join(","));
}

fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    let value = annotation(&rs.metadata, key)?;
    match value.parse() {
        Ok(v) => Some(v),
        Err(_) => {
            warn!(key, value, replica_set = fields::name(&rs.metadata), "annotation is not a number");
            None
        }
    }
}

/// `deployment.kubernetes.io/desired-replicas`.
pub fn get_desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, DESIRED_REPLICAS_ANNOTATION)
}

/// `deployment.kubernetes.io/max-replicas`.
pub fn get_max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, MAX_REPLICAS_ANNOTATION)
}

/// Sets both size annotations; whether either changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = annotations_mut(&mut rs.metadata);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS_ANNOTATION, desired), (MAX_REPLICAS_ANNOTATION, max)] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.into(), value);
            changed = true;
        }
    }
    changed
}

pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(&rs.metadata, DESIRED_REPLICAS_ANNOTATION) != Some(desired.to_string().as_str())
        || annotation(&rs.metadata, MAX_REPLICAS_ANNOTATION) != Some(max.to_string().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{DeploymentBuilder, ReplicaSetBuilder};

    #[test]
    fn max_and_last_revision() {
        let rss = [
            ReplicaSet::test("a").revision(3),
            ReplicaSet::test("b").revision(1),
            ReplicaSet::test("c").revision(7),
            ReplicaSet::test("d").annotation(REVISION_ANNOTATION, "seven"),
            ReplicaSet::test("e"),
        ];
        assert_eq!(max_revision(&rss), 7, "unparsable revisions are skipped");
        assert_eq!(last_revision(&rss), 3, "the second highest");
        assert_eq!(max_revision(&[]), 0);
        assert_eq!(last_revision(&[ReplicaSet::test("a").revision(1)]), 0);
    }

    #[test]
    fn a_new_replica_set_gets_the_next_revision_its_sizes_and_the_change_cause() {
        let d = Deployment::test("web")
            .replicas(10)
            .annotation("kubernetes.io/change-cause", "kubectl set image deployment/web web=v2")
            .annotation(LAST_APPLIED_CONFIG_ANNOTATION, "{}")
            .annotation(REVISION_ANNOTATION, "3");
        let mut rs = ReplicaSet::test("web-new");
        assert!(set_new_replica_set_annotations(&d, &mut rs, "4", false, MAX_REV_HISTORY_LENGTH_IN_CHARS));
        let annotations = rs.metadata.annotations.clone().unwrap();
        let keys: Vec<&str> = annotations.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec![
                DESIRED_REPLICAS_ANNOTATION,
                MAX_REPLICAS_ANNOTATION,
                REVISION_ANNOTATION,
                "kubernetes.io/change-cause"
            ]
        );
        assert_eq!(annotations[REVISION_ANNOTATION], "4");
        assert_eq!(annotations[DESIRED_REPLICAS_ANNOTATION], "10");
        assert_eq!(annotations[MAX_REPLICAS_ANNOTATION], "13", "10 + 25% surge rounded up");
        assert!(
            !set_new_replica_set_annotations(&d, &mut rs, "4", true, MAX_REV_HISTORY_LENGTH_IN_CHARS),
            "idempotent"
        );
    }

    #[test]
    fn rolling_back_renumbers_the_old_replica_set_and_keeps_its_history() {
        let d = Deployment::test("web");
        // Revisions 1, 2, 3; `rollout undo` makes revision 2's ReplicaSet new again.
        let mut rs = ReplicaSet::test("web-v2").revision(2);
        assert!(set_new_replica_set_annotations(&d, &mut rs, "4", true, MAX_REV_HISTORY_LENGTH_IN_CHARS));
        assert_eq!(revision(&rs.metadata), Ok(4));
        assert_eq!(annotation(&rs.metadata, REVISION_HISTORY_ANNOTATION), Some("2"));
        // Undo again (to 5), and once more later (to 7).
        set_new_replica_set_annotations(&d, &mut rs, "6", true, MAX_REV_HISTORY_LENGTH_IN_CHARS);
        assert_eq!(annotation(&rs.metadata, REVISION_HISTORY_ANNOTATION), Some("2,4"));
        assert!(
            !set_new_replica_set_annotations(&d, &mut rs, "5", true, MAX_REV_HISTORY_LENGTH_IN_CHARS),
            "never lowered"
        );
        assert_eq!(revision(&rs.metadata), Ok(6));
    }

    #[test]
    fn revision_history_drops_its_oldest_entries_past_the_limit() {
        let mut annotations = BTreeMap::from([(REVISION_HISTORY_ANNOTATION.to_string(), "1,2,3".to_string())]);
        record_revision_history(&mut annotations, "14", 7);
        assert_eq!(annotations[REVISION_HISTORY_ANNOTATION], "2,3,14", "7 characters at most");
    }

    #[test]
    fn size_annotations() {
        let mut rs = ReplicaSet::test("a");
        assert!(replicas_annotations_need_update(&rs, 3, 4));
        assert!(set_replicas_annotations(&mut rs, 3, 4));
        assert!(!replicas_annotations_need_update(&rs, 3, 4));
        assert_eq!((get_desired_replicas_annotation(&rs), get_max_replicas_annotation(&rs)), (Some(3), Some(4)));
        assert!(!set_replicas_annotations(&mut rs, 3, 4));
    }
}
