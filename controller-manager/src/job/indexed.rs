//! Indexed Jobs: `completionMode: Indexed`, one success wanted for each index 0 … completions−1.
//!
//! Mirrors `pkg/controller/job/indexed_job_utils.go` (`getCompletionIndex`,
//! `calculateSucceededIndexes`, `firstPendingIndexes`, `appendDuplicatedIndexPodsForRemoval`,
//! `addCompletionIndexEnvVariables`, `podGenerateNameWithIndex`, the `orderedIntervals`
//! string). Each pod carries its index in the annotation and label
//! `batch.kubernetes.io/job-completion-index`, in `$JOB_COMPLETION_INDEX`, and in its hostname
//! `<job>-<index>` (with the template's `subdomain`, a headless Service gives each index a DNS
//! name). The indexes done are written compressed: {0, 1, 2, 4} is `"0-2,4"`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec};

use crate::fields;

/// The annotation (and label) holding a pod's index.
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// The variable every container of an Indexed Job's pods gets.
pub const JOB_COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// `getCompletionIndex`: from the annotation, else the label; `None` if absent or not a number.
pub fn get_completion_index(pod: &Pod) -> Option<i32> {
    let meta = &pod.metadata;
    let from = |map: &Option<std::collections::BTreeMap<String, String>>| {
        map.as_ref().and_then(|m| m.get(COMPLETION_INDEX_ANNOTATION)).and_then(|v| v.parse::<i32>().ok())
    };
    from(&meta.annotations).or_else(|| from(&meta.labels)).filter(|i| *i >= 0)
}

/// A pod's index if it is one of the Job's (below `completions`).
fn valid_index(pod: &Pod, completions: i32) -> Option<i32> {
    get_completion_index(pod).filter(|i| *i < completions)
}

/// `parseIndexesFromString`: `"0-2,4"` → {0, 1, 2, 4}; malformed pieces and indexes at or above
/// `completions` are dropped.
pub fn parse_indexes(text: &str, completions: i32) -> BTreeSet<i32> {
    let mut indexes = BTreeSet::new();
    for piece in text.split(',').filter(|p| !p.is_empty()) {
        let (first, last) = match piece.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (piece.parse::<i32>(), piece.parse::<i32>()),
        };
        let (Ok(first), Ok(last)) = (first, last) else { continue };
        indexes.extend((first.max(0)..=last.min(completions - 1)).filter(|i| *i >= first));
    }
    indexes
}

/// {0, 1, 2, 4} → `"0-2,4"`; {} → `""`.
pub fn format_indexes(indexes: &BTreeSet<i32>) -> String {
    let mut ranges: Vec<(i32, i32)> = Vec::new();
    for &index in indexes {
        match ranges.last_mut() {
            Some((_, last)) if *last + 1 == index => *last = index,
            _ => ranges.push((index, index)),
        }
    }
    let piece = |(first, last): (i32, i32)| match first == last {
        true => first.to_string(),
        false => format!("{first}-{last}"),
    };
    ranges.into_iter().map(piece).collect::<Vec<_>>().join(",")
}

/// `calculateSucceededIndexes`: those recorded in `completedIndexes` and those of succeeded pods.
pub fn succeeded_indexes(job: &Job, pods: &[Arc<Pod>]) -> BTreeSet<i32> {
    let completions = fields::job_completions(job).unwrap_or(0);
    let recorded = fields::job_status(job).completed_indexes.unwrap_or_default();
    let mut indexes = parse_indexes(&recorded, completions);
    let succeeded = pods.iter().filter(|p| fields::pod_phase(p) == "Succeeded");
    indexes.extend(succeeded.filter_map(|p| valid_index(p, completions)));
    indexes
}

/// `firstPendingIndexes`: the `count` lowest indexes neither done nor held by an active pod.
pub fn first_pending_indexes(
    succeeded: &BTreeSet<i32>,
    active_pods: &[Arc<Pod>],
    count: usize,
    completions: i32,
) -> Vec<i32> {
    let held: BTreeSet<i32> = active_pods.iter().filter_map(|p| valid_index(p, completions)).collect();
    (0..completions).filter(|i| !succeeded.contains(i) && !held.contains(i)).take(count).collect()
}

/// `appendDuplicatedIndexPodsForRemoval`: active pods without a valid index, and all but the
/// first (in `ranked` order, best kept first) of pods sharing one. Returns (to remove, kept).
pub fn duplicated_index_pods(ranked: &[Arc<Pod>], completions: i32) -> (Vec<Arc<Pod>>, Vec<Arc<Pod>>) {
    let mut seen = HashSet::new();
    let (mut remove, mut keep) = (Vec::new(), Vec::new());
    for pod in ranked {
        match valid_index(pod, completions) {
            Some(index) if seen.insert(index) => keep.push(pod.clone()),
            _ => remove.push(pod.clone()),
        }
    }
    (remove, keep)
}

/// `addCompletionIndexEnvVariables`: `JOB_COMPLETION_INDEX` from the pod's annotation, in every
/// container that does not set it already.
pub fn add_completion_index_env(template: &mut PodTemplateSpec) {
    let Some(spec) = template.spec.as_mut() else { return };
    let env = EnvVar {
        name: JOB_COMPLETION_INDEX_ENV.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: format!("metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"),
                api_version: None,
            }),
            ..Default::default()
        }),
        value: None,
    };
    let init = spec.init_containers.iter_mut().flatten();
    for container in spec.containers.iter_mut().chain(init) {
        let vars = container.env.get_or_insert_with(Vec::new);
        if !vars.iter().any(|v| v.name == JOB_COMPLETION_INDEX_ENV) {
            vars.push(env.clone());
        }
    }
}

/// `podGenerateNameWithIndex`: `<job>-<index>-`, the Job's name shortened if the whole would
/// pass the 58 characters the API server allows before its 5 random ones.
pub fn pod_generate_name_with_index(job_name: &str, index: i32) -> String {
    let suffix = format!("-{index}-");
    let room = 58usize.saturating_sub(suffix.len());
    let prefix: String = job_name.chars().take(room).collect();
    format!("{prefix}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::PodBuilder;

    #[test]
    fn indexes_are_written_as_ranges_and_read_back() {
        let cases = [
            ("none", vec![], ""),
            ("one", vec![3], "3"),
            ("a run and a single", vec![0, 1, 2, 4], "0-2,4"),
            ("two runs", vec![0, 1, 5, 6, 7], "0-1,5-7"),
        ];
        for (name, indexes, text) in cases {
            let set: BTreeSet<i32> = indexes.into_iter().collect();
            assert_eq!(format_indexes(&set), text, "{name}");
            assert_eq!(parse_indexes(text, 10), set, "{name} (parsed)");
        }
        let clipped: Vec<i32> = parse_indexes("1-3,x,7,8-12", 10).into_iter().collect();
        assert_eq!(clipped, vec![1, 2, 3, 7, 8, 9], "malformed pieces and indexes past completions dropped");
    }

    #[test]
    fn pending_indexes_skip_those_done_and_those_running() {
        let done: BTreeSet<i32> = [0, 2].into_iter().collect();
        let active = vec![Arc::new(Pod::test("p").index(1)), Arc::new(Pod::test("q").index(9))];
        assert_eq!(first_pending_indexes(&done, &active, 2, 5), vec![3, 4]);
        assert_eq!(first_pending_indexes(&done, &active, 5, 5), vec![3, 4], "no more than there are");
    }

    #[test]
    fn pods_without_a_valid_index_or_with_a_taken_one_are_removed_first() {
        let ranked = vec![
            Arc::new(Pod::test("a").index(0)),
            Arc::new(Pod::test("b").index(0)),
            Arc::new(Pod::test("c")),
            Arc::new(Pod::test("d").index(7)),
            Arc::new(Pod::test("e").index(1)),
        ];
        let (remove, keep) = duplicated_index_pods(&ranked, 3);
        let names =
            |pods: Vec<Arc<Pod>>| pods.iter().map(|p| fields::name(&p.metadata).to_string()).collect::<Vec<_>>();
        assert_eq!(names(remove), vec!["b", "c", "d"]);
        assert_eq!(names(keep), vec!["a", "e"]);
    }

    #[test]
    fn generated_names_carry_the_index_and_fit() {
        assert_eq!(pod_generate_name_with_index("sample", 3), "sample-3-");
        let long = "j".repeat(70);
        let name = pod_generate_name_with_index(&long, 12);
        assert_eq!(name.len(), 58);
        assert!(name.ends_with("j-12-"));
    }
}
