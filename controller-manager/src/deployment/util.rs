//! The Deployment controller's arithmetic: how many pods, in which ReplicaSet. Pure functions.
//!
//! Mirrors `pkg/controller/deployment/util/deployment_util.go` (`ResolveFenceposts`,
//! `MaxSurge`, `MaxUnavailable`, `NewRSNewReplicas`, `GetProportion`, `FindNewReplicaSet`,
//! `EqualIgnoreHash`, …) and the ReplicaSet sorting helpers of `pkg/controller/controller_utils.go`.
//!
//! The two fenceposts of a rolling update, for 10 replicas and the default 25%/25%:
//!
//! - `maxSurge` 25% of 10 = 2.5, **rounded up** to 3: at most 10 + 3 = 13 pods exist.
//! - `maxUnavailable` 25% of 10 = 2.5, **rounded down** to 2: at least 10 − 2 = 8 are available.
//!
//! Rounding apart makes small Deployments safe: 1 replica at 25%/25% gives surge 1 and
//! unavailable 0 (start the new pod, then stop the old). If both round to 0 (10% of 3 with
//! `maxSurge: 0`), unavailable becomes 1, on the theory that surge might not work due to quota.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::annotations::{get_desired_replicas_annotation, get_max_replicas_annotation, revision};
use super::hash;
use crate::fields::{self, rs_replicas};

/// The label that tells apart the pods, and the ReplicaSets, of each template of a Deployment.
pub const DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY: &str = "pod-template-hash";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for IntOrString: {0:?} is neither an integer nor a percentage")]
pub struct InvalidIntOrPercent(pub String);

/// `intstr.GetScaledValueFromIntOrPercent`: an integer as is, or a percentage of `total`
/// rounded up or down.
pub fn get_scaled_value_from_int_or_percent(
    value: &IntOrString,
    total: i32,
    round_up: bool,
) -> Result<i32, InvalidIntOrPercent> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent: i64 =
                s.strip_suffix('%').and_then(|p| p.parse().ok()).ok_or_else(|| InvalidIntOrPercent(s.clone()))?;
            let scaled = i64::from(total) * percent;
            // Integer ceiling and floor of scaled / 100 (both non-negative after validation).
            let value = if round_up { (scaled + 99).div_euclid(100) } else { scaled.div_euclid(100) };
            Ok(value as i32)
        }
    }
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable) for `desired` replicas; absent values are 0.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), InvalidIntOrPercent> {
    let zero = IntOrString::Int(0);
    let surge = get_scaled_value_from_int_or_percent(max_surge.unwrap_or(&zero), desired, true)?;
    let mut unavailable = get_scaled_value_from_int_or_percent(max_unavailable.unwrap_or(&zero), desired, false)?;
    if surge == 0 && unavailable == 0 {
        // Validation refuses 0 and 0, but rounding down can still get there.
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

pub fn is_rolling_update(deployment: &Deployment) -> bool {
    fields::strategy_type(deployment) == "RollingUpdate"
}

/// The `rollingUpdate` parameters, with Kubernetes' defaults (25%) when absent.
fn rolling_parameters(deployment: &Deployment) -> (IntOrString, IntOrString) {
    let default = || IntOrString::String("25%".into());
    let rolling = deployment.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    (
        rolling.and_then(|r| r.max_surge.clone()).unwrap_or_else(default),
        rolling.and_then(|r| r.max_unavailable.clone()).unwrap_or_else(default),
    )
}

/// `MaxSurge`: how many pods above `replicas` a rolling Deployment may run (0 for Recreate).
pub fn max_surge(deployment: &Deployment) -> i32 {
    if !is_rolling_update(deployment) {
        return 0;
    }
    let (surge, unavailable) = rolling_parameters(deployment);
    // Invalid values are refused by validation; like upstream, treat them as 0.
    resolve_fenceposts(Some(&surge), Some(&unavailable), fields::replicas(deployment)).map_or(0, |(s, _)| s)
}

/// `MaxUnavailable`: how many of `replicas` may be unavailable (0 for Recreate), never more
/// than `replicas`.
pub fn max_unavailable(deployment: &Deployment) -> i32 {
    let replicas = fields::replicas(deployment);
    if !is_rolling_update(deployment) || replicas == 0 {
        return 0;
    }
    let (surge, unavailable) = rolling_parameters(deployment);
    let max_unavailable = resolve_fenceposts(Some(&surge), Some(&unavailable), replicas).map_or(0, |(_, u)| u);
    max_unavailable.min(replicas)
}

/// `MinAvailable`: `replicas − maxUnavailable` for a rolling Deployment, else 0.
pub fn min_available(deployment: &Deployment) -> i32 {
    if !is_rolling_update(deployment) {
        return 0;
    }
    fields::replicas(deployment) - max_unavailable(deployment)
}

/// `NewRSNewReplicas`: the size the new ReplicaSet may grow to now.
///
/// Rolling: the pods of all ReplicaSets may reach `replicas + maxSurge`; the new one takes what
/// is left, up to `replicas`. 10 replicas, surge 3, old at 10, new at 0 → new 3 (13 pods);
/// old scaled down to 8 → new 5. Recreate: `replicas` at once (the old are gone by then).
///
/// A departure from Kubernetes: each ReplicaSet counts with the larger of the pods it wants
/// (`spec.replicas`, all Kubernetes counts) and the pods it still has (`status.replicas`). An old
/// ReplicaSet just scaled down from 10 to 9 still has 10 pods until its controller has deleted
/// one; counting its spec alone, the new ReplicaSet could grow at once, and if its pod is created
/// before the old one is deleted, 12 pods run where the Deployment allows 11 (Kubernetes' own
/// e2e tests flaked on this, kubernetes#21810, and check the ReplicaSets' sizes instead). The
/// old ReplicaSet's status says 9 only after the deletion, so the new one waits that long.
pub fn new_rs_new_replicas(
    deployment: &Deployment,
    all_rss: &[ReplicaSet],
    new_rs: &ReplicaSet,
) -> Result<i32, InvalidIntOrPercent> {
    let replicas = fields::replicas(deployment);
    if !is_rolling_update(deployment) {
        return Ok(replicas);
    }
    let (surge, _) = rolling_parameters(deployment);
    let max_surge = get_scaled_value_from_int_or_percent(&surge, replicas, true)?;
    let current_pod_count: i32 = all_rss.iter().map(|rs| rs_replicas(rs).max(fields::rs_actual_replicas(rs))).sum();
    let max_total_pods = replicas + max_surge;
    if current_pod_count >= max_total_pods {
        return Ok(rs_replicas(new_rs));
    }
    let scale_up_count = (max_total_pods - current_pod_count).min(replicas - rs_replicas(new_rs));
    Ok(rs_replicas(new_rs) + scale_up_count)
}

/// `IsSaturated`: the new ReplicaSet has, wants and believes in all of the Deployment's
/// replicas, and they are all available.
pub fn is_saturated(deployment: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let replicas = fields::replicas(deployment);
    rs_replicas(rs) == replicas
        && get_desired_replicas_annotation(rs) == Some(replicas)
        && fields::rs_available_replicas(rs) == replicas
}

/// `GetProportion`: how many of the `to_add` replicas (negative: to remove) this ReplicaSet
/// takes, given that `added` are already handed out. Never hands out more than is left.
pub fn get_proportion(rs: &ReplicaSet, deployment: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = get_replica_set_fraction(rs, deployment);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `getReplicaSetFraction`: the change of size that keeps this ReplicaSet's share of the pods.
///
/// Its share is its size over the Deployment's size when it was last scaled (`max-replicas`);
/// applied to the new size (replicas + maxSurge). Example: a paused Deployment of 10 (max 13)
/// with ReplicaSets of 8 and 5, scaled to 20 (max 25): 8 × 25 / 13 = 15.4 → 15, so +7;
/// 5 × 25 / 13 = 9.6 → 10, so +5; the 12 added fill 25 − 13 exactly.
fn get_replica_set_fraction(rs: &ReplicaSet, deployment: &Deployment) -> i32 {
    let replicas = fields::replicas(deployment);
    if replicas == 0 {
        // Scaling to zero: the whole ReplicaSet goes.
        return -rs_replicas(rs);
    }
    let deployment_replicas = replicas + max_surge(deployment);
    // Without the annotation, the Deployment's current size: inexact if the Deployment was
    // scaled meanwhile, but get_proportion's bounds keep the total right.
    let annotated = get_max_replicas_annotation(rs).unwrap_or_else(|| fields::status(deployment).replicas.unwrap_or(0));
    if annotated == 0 {
        // Upstream divides by zero here; nothing to scale from, so leave it to the leftover.
        return 0;
    }
    let new_size = f64::from(rs_replicas(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
    new_size.round() as i32 - rs_replicas(rs)
}

/// `EqualIgnoreHash`: the same template, but for the `pod-template-hash` label (a Deployment's
/// template has none, its ReplicaSets' do). Compares normal forms (see `hash.rs`), as
/// Kubernetes compares semantically (`apiequality.Semantic.DeepEqual`).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let without_hash = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY);
        }
        hash::normalize(&t)
    };
    without_hash(a) == without_hash(b)
}

/// `FindNewReplicaSet`: the oldest ReplicaSet with the Deployment's template, if any. (Several
/// can match after upgrades changed hashes; the oldest wins, deterministically.)
pub fn find_new_replica_set(deployment: &Deployment, rs_list: &[ReplicaSet]) -> Option<ReplicaSet> {
    let mut sorted = rs_list.to_vec();
    sort_by_creation_timestamp(&mut sorted);
    let template = fields::template(deployment);
    sorted.into_iter().find(|rs| equal_ignore_hash(&fields::rs_template(rs), &template))
}

/// `FindOldReplicaSets`: (the old ReplicaSets with pods, all the old ReplicaSets).
pub fn find_old_replica_sets(deployment: &Deployment, rs_list: &[ReplicaSet]) -> (Vec<ReplicaSet>, Vec<ReplicaSet>) {
    let new_uid = find_new_replica_set(deployment, rs_list).map(|rs| fields::uid(&rs.metadata).to_string());
    let all: Vec<ReplicaSet> =
        rs_list.iter().filter(|rs| Some(fields::uid(&rs.metadata)) != new_uid.as_deref()).cloned().collect();
    let required = all.iter().filter(|rs| rs_replicas(rs) != 0).cloned().collect();
    (required, all)
}

/// `FindActiveOrLatest`: the one ReplicaSet with pods; the newest if none has any; `None` if
/// several have pods (then scaling is proportional).
pub fn find_active_or_latest(new_rs: Option<&ReplicaSet>, old_rss: &[ReplicaSet]) -> Option<ReplicaSet> {
    let mut newest_first = old_rss.to_vec();
    sort_by_creation_timestamp(&mut newest_first);
    newest_first.reverse();
    let all: Vec<ReplicaSet> = newest_first.iter().cloned().chain(new_rs.cloned()).collect();
    let active = filter_active_replica_sets(&all);
    match active.len() {
        0 => new_rs.cloned().or_else(|| newest_first.first().cloned()),
        1 => active.into_iter().next(),
        _ => None,
    }
}

/// Upstream's `append(oldRSs, newRS)`: the old ReplicaSets, then the new one if there is one.
pub fn all_replica_sets(old_rss: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> Vec<ReplicaSet> {
    old_rss.iter().chain(new_rs).cloned().collect()
}

/// `FilterActiveReplicaSets`: those that want pods.
pub fn filter_active_replica_sets(rss: &[ReplicaSet]) -> Vec<ReplicaSet> {
    rss.iter().filter(|rs| rs_replicas(rs) > 0).cloned().collect()
}

/// Σ `spec.replicas`.
pub fn get_replica_count_for_replica_sets(rss: &[ReplicaSet]) -> i32 {
    rss.iter().map(rs_replicas).sum()
}

/// Σ `status.replicas`.
pub fn get_actual_replica_count_for_replica_sets(rss: &[ReplicaSet]) -> i32 {
    rss.iter().map(fields::rs_actual_replicas).sum()
}

/// Σ `status.readyReplicas`.
pub fn get_ready_replica_count_for_replica_sets(rss: &[ReplicaSet]) -> i32 {
    rss.iter().map(fields::rs_ready_replicas).sum()
}

/// Σ `status.availableReplicas`.
pub fn get_available_replica_count_for_replica_sets(rss: &[ReplicaSet]) -> i32 {
    rss.iter().map(fields::rs_available_replicas).sum()
}

/// `ReplicaSetsByCreationTimestamp`: oldest first, then by name.
fn by_creation_timestamp(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let created = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    created(a).cmp(&created(b)).then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

pub fn sort_by_creation_timestamp(rss: &mut [ReplicaSet]) {
    rss.sort_by(by_creation_timestamp);
}

/// `ReplicaSetsBySizeOlder`: largest first; of equal sizes, the older first (scaling down).
pub fn sort_by_size_older(rss: &mut [ReplicaSet]) {
    rss.sort_by(|a, b| rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| by_creation_timestamp(a, b)));
}

/// `ReplicaSetsBySizeNewer`: largest first; of equal sizes, the newer first (scaling up).
pub fn sort_by_size_newer(rss: &mut [ReplicaSet]) {
    rss.sort_by(|a, b| rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| by_creation_timestamp(b, a)));
}

/// `ReplicaSetsByRevision`: lowest revision first; unparsable or equal ones by creation time.
pub fn sort_by_revision(rss: &mut [ReplicaSet]) {
    rss.sort_by(|a, b| match (revision(&a.metadata), revision(&b.metadata)) {
        (Ok(x), Ok(y)) if x != y => x.cmp(&y),
        _ => by_creation_timestamp(a, b),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::annotations::MAX_REPLICAS_ANNOTATION;
    use crate::testing::{at, DeploymentBuilder, ReplicaSetBuilder};

    fn int(n: i32) -> IntOrString {
        IntOrString::Int(n)
    }

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        let cases = [
            ("10 replicas, 25%/25%: at most 13 pods, at least 8 available", pct("25%"), pct("25%"), 10, (3, 2)),
            ("10 replicas, 3 and 2 as numbers", int(3), int(2), 10, (3, 2)),
            ("1 replica, 25%/25%: surge 1, unavailable 0", pct("25%"), pct("25%"), 1, (1, 0)),
            ("4 replicas, 25%/25%: exactly 1 and 1", pct("25%"), pct("25%"), 4, (1, 1)),
            ("3 replicas, 0 and 10%: both zero, so unavailable 1", int(0), pct("10%"), 3, (0, 1)),
            ("5 replicas, 0 and 0 (refused by validation): unavailable 1", int(0), int(0), 5, (0, 1)),
            ("0 replicas, 25%/25%", pct("25%"), pct("25%"), 0, (0, 1)),
            ("7 replicas, 30%/30%: 2.1 up to 3, 2.1 down to 2", pct("30%"), pct("30%"), 7, (3, 2)),
            ("10 replicas, 100% surge, 0 unavailable (blue/green)", pct("100%"), int(0), 10, (10, 0)),
        ];
        for (name, surge, unavailable, desired, want) in cases {
            assert_eq!(resolve_fenceposts(Some(&surge), Some(&unavailable), desired), Ok(want), "{name}");
        }
        assert_eq!(resolve_fenceposts(None, None, 10), Ok((0, 1)), "absent values count as 0");
        assert!(resolve_fenceposts(Some(&pct("25")), None, 10).is_err(), "a string must be a percentage");
    }

    #[test]
    fn max_unavailable_never_exceeds_replicas_and_is_zero_for_recreate() {
        let cases = [
            ("rolling, 10 replicas, 25%", Deployment::test("d").replicas(10), 2, 3, 8),
            ("maxUnavailable 5 of 2 replicas", Deployment::test("d").replicas(2).max_unavailable(5), 2, 1, 0),
            ("no replicas", Deployment::test("d").replicas(0), 0, 0, 0),
            ("recreate", Deployment::test("d").replicas(10).recreate(), 0, 0, 0),
        ];
        for (name, d, unavailable, surge, min) in cases {
            assert_eq!((max_unavailable(&d), max_surge(&d), min_available(&d)), (unavailable, surge, min), "{name}");
        }
    }

    #[test]
    fn the_new_replica_set_grows_into_the_surge_and_no_further() {
        let d = Deployment::test("web").replicas(10).max_surge(3).max_unavailable(2);
        let new = |n| ReplicaSet::test("new").replicas(n);
        let old = |n| ReplicaSet::test("old").replicas(n);
        let cases = [
            ("first step: 10 old, 0 new → 3 new (13 pods)", old(10), new(0), 3),
            ("old scaled down to 8 → new up to 5", old(8), new(3), 5),
            ("at 13 pods already → no change", old(10), new(3), 3),
            ("never beyond replicas", old(0), new(8), 10),
            ("old gone, new at 10 → 10", old(0), new(10), 10),
            ("old scaled down to 8 but still has 10 pods → no change", old(8).counts(10, 10, 10), new(3), 3),
            ("old scaled down to 8, one pod deleted so far → new up to 4", old(8).counts(9, 9, 9), new(3), 4),
            ("new has fewer pods than it wants: its spec counts", old(10), new(3).counts(1, 0, 0), 3),
        ];
        for (name, old, new, want) in cases {
            let all = [old, new.clone()];
            assert_eq!(new_rs_new_replicas(&d, &all, &new), Ok(want), "{name}");
        }
        let recreate = Deployment::test("web").replicas(4).recreate();
        assert_eq!(new_rs_new_replicas(&recreate, &[new(0)], &new(0)), Ok(4), "recreate: all at once");
    }

    #[test]
    fn proportions_keep_each_replica_sets_share() {
        // Paused at 10 replicas (max 13) with ReplicaSets of 8 and 5, scaled to 20 (max 25).
        let d = Deployment::test("web").replicas(20);
        let big = ReplicaSet::test("big").replicas(8).annotation(MAX_REPLICAS_ANNOTATION, "13");
        let small = ReplicaSet::test("small").replicas(5).annotation(MAX_REPLICAS_ANNOTATION, "13");
        assert_eq!(get_proportion(&big, &d, 12, 0), 7, "8 × 25 / 13 = 15.4 → 15");
        assert_eq!(get_proportion(&small, &d, 12, 7), 5, "5 × 25 / 13 = 9.6 → 10");
        assert_eq!(get_proportion(&small, &d, 12, 10), 2, "never more than is left");
        assert_eq!(get_proportion(&ReplicaSet::test("empty").replicas(0), &d, 12, 0), 0, "never from zero");
        let to_zero = Deployment::test("web").replicas(0);
        assert_eq!(get_proportion(&big, &to_zero, -13, 0), -8, "to zero: all of it");
    }

    #[test]
    fn the_new_replica_set_is_the_oldest_with_the_same_template_hash_label_aside() {
        let d = Deployment::test("web").image("skiff/demo-web:v2");
        let v1 = ReplicaSet::for_deployment(&Deployment::test("web").image("skiff/demo-web:v1")).created(at(0));
        let v2 = ReplicaSet::for_deployment(&d).created(at(10));
        let v2_twin = ReplicaSet::for_deployment(&d).name("web-twin").created(at(20));
        let rss = [v2_twin.clone(), v1.clone(), v2.clone()];
        assert_eq!(find_new_replica_set(&d, &rss), Some(v2), "the older of the two with template v2");
        let (with_pods, all) = find_old_replica_sets(&d, &rss);
        let names =
            |rss: &[ReplicaSet]| rss.iter().map(|rs| fields::name(&rs.metadata).to_string()).collect::<Vec<_>>();
        assert_eq!(names(&all), vec!["web-twin".to_string(), fields::name(&v1.metadata).to_string()]);
        assert!(with_pods.is_empty(), "the old ReplicaSets want no pods");
        assert!(find_new_replica_set(&Deployment::test("web").image("skiff/demo-web:v3"), &rss).is_none());
    }

    #[test]
    fn active_or_latest() {
        let old = ReplicaSet::test("old").replicas(0).created(at(0));
        let older = ReplicaSet::test("older").replicas(0).created(at(-10));
        let new = ReplicaSet::test("new").replicas(0).created(at(10));
        let name = |rs: Option<ReplicaSet>| rs.map(|rs| fields::name(&rs.metadata).to_string());
        assert_eq!(
            name(find_active_or_latest(Some(&new), std::slice::from_ref(&old))),
            Some("new".into()),
            "none active: the new"
        );
        assert_eq!(
            name(find_active_or_latest(None, &[older.clone(), old.clone()])),
            Some("old".into()),
            "else the newest"
        );
        let busy = old.clone().replicas(3);
        assert_eq!(
            name(find_active_or_latest(Some(&new), std::slice::from_ref(&busy))),
            Some("old".into()),
            "the only active one"
        );
        assert_eq!(find_active_or_latest(Some(&new.clone().replicas(1)), &[busy]), None, "two active: proportional");
    }

    #[test]
    fn sorting_by_size_breaks_ties_by_age_in_the_direction_of_scaling() {
        let a = ReplicaSet::test("a").replicas(3).created(at(0));
        let b = ReplicaSet::test("b").replicas(3).created(at(10));
        let c = ReplicaSet::test("c").replicas(5).created(at(20));
        let names =
            |rss: &[ReplicaSet]| rss.iter().map(|rs| fields::name(&rs.metadata).to_string()).collect::<Vec<_>>();
        let mut rss = [a.clone(), b.clone(), c.clone()];
        sort_by_size_older(&mut rss);
        assert_eq!(names(&rss), vec!["c", "a", "b"]);
        sort_by_size_newer(&mut rss);
        assert_eq!(names(&rss), vec!["c", "b", "a"]);
        let mut by_revision = [a.revision(2), b.revision(1), c];
        sort_by_revision(&mut by_revision);
        assert_eq!(names(&by_revision), vec!["c", "b", "a"], "no revision counts as 0");
    }
}
