//! What is left in a namespace being emptied, and the conditions that say so.
//!
//! Mirrors `pkg/controller/namespace/deletion/namespaced_resources_deleter.go` (the counting in
//! `deleteAllContent`) and `status_condition_utils.go` (`namespaceConditionUpdater`): five
//! condition types, each written every time, `False` with upstream's "all is well" reason and
//! message unless this look found otherwise; a condition's `lastTransitionTime` moves only when
//! its status does. `kubectl describe namespace` shows them, and the messages are upstream's:
//! `Some resources are remaining: pods. has 2 resource instances`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::Value;
use skiff_api::registry::Resource;

/// One kind's objects still in the namespace after a round of deletes.
#[derive(Debug, Clone)]
pub struct Content {
    pub resource: &'static Resource,
    pub items: Vec<Value>,
    /// Deletes that failed (other than "already gone").
    pub failures: usize,
}

/// What is left, counted as upstream counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remaining {
    /// `pods.` / `deployments.apps` → how many are still there.
    pub by_resource: BTreeMap<String, usize>,
    /// finalizer → how many of those objects it holds.
    pub by_finalizer: BTreeMap<String, usize>,
    pub failures: usize,
}

impl Remaining {
    pub fn of(content: &[Content]) -> Remaining {
        let mut remaining = Remaining::default();
        for kind in content {
            remaining.failures += kind.failures;
            if kind.items.is_empty() {
                continue;
            }
            // Upstream prints resource.group, so core kinds end in a dot: `pods.`.
            let name = format!("{}.{}", kind.resource.plural, kind.resource.group);
            remaining.by_resource.insert(name, kind.items.len());
            for item in &kind.items {
                for finalizer in item["metadata"]["finalizers"].as_array().into_iter().flatten() {
                    if let Some(finalizer) = finalizer.as_str() {
                        *remaining.by_finalizer.entry(finalizer.to_string()).or_default() += 1;
                    }
                }
            }
        }
        remaining
    }

    pub fn is_empty(&self) -> bool {
        self.by_resource.is_empty()
    }

    /// `pods. has 2 resource instances, secrets. has 1 resource instances`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> =
            self.by_resource.iter().map(|(name, n)| format!("{name} has {n} resource instances")).collect();
        parts.join(", ")
    }
}

/// `(type, status, reason, message)` for each condition this look decides.
fn decided(remaining: &Remaining) -> [(&'static str, &'static str, &'static str, String); 5] {
    let content_failure = match remaining.failures {
        0 => {
            ("False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization".to_string())
        }
        n => ("True", "ContentDeletionFailed", format!("Failed to delete all resource types, {n} remaining")),
    };
    let content_remaining = if remaining.by_resource.is_empty() {
        ("False", "ContentRemoved", "All content successfully removed".to_string())
    } else {
        ("True", "SomeResourcesRemain", format!("Some resources are remaining: {}", remaining.summary()))
    };
    let finalizers_remaining = if remaining.by_finalizer.is_empty() {
        ("False", "ContentHasNoFinalizers", "All content-preserving finalizers finished".to_string())
    } else {
        let parts: Vec<String> =
            remaining.by_finalizer.iter().map(|(f, n)| format!("{f} in {n} resource instances")).collect();
        (
            "True",
            "SomeFinalizersRemain",
            format!("Some content in the namespace has finalizers remaining: {}", parts.join(", ")),
        )
    };
    [
        (
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered".to_string(),
        ),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".to_string(),
        ),
        ("NamespaceDeletionContentFailure", content_failure.0, content_failure.1, content_failure.2),
        ("NamespaceContentRemaining", content_remaining.0, content_remaining.1, content_remaining.2),
        ("NamespaceFinalizersRemaining", finalizers_remaining.0, finalizers_remaining.1, finalizers_remaining.2),
    ]
}

/// The namespace's conditions after this look: the five deletion conditions as decided, each
/// keeping its `lastTransitionTime` unless its status changed; other conditions kept as they
/// are.
pub fn conditions(old: &[NamespaceCondition], remaining: &Remaining, now: Time) -> Vec<NamespaceCondition> {
    let decided = decided(remaining);
    let mut new: Vec<NamespaceCondition> =
        old.iter().filter(|c| !decided.iter().any(|d| d.0 == c.type_)).cloned().collect();
    for (type_, status, reason, message) in decided {
        let before = old.iter().find(|c| c.type_ == type_);
        let since = match before {
            Some(before) if before.status == status => before.last_transition_time.clone(),
            _ => Some(now.clone()),
        };
        new.push(NamespaceCondition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message),
            last_transition_time: since,
        });
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::chrono::{DateTime, Utc};
    use serde_json::json;
    use skiff_api::registry::by_plural;

    fn at(seconds: i64) -> Time {
        Time(DateTime::<Utc>::from_timestamp(1_700_000_000 + seconds, 0).unwrap())
    }

    fn content(group: &str, plural: &str, items: Vec<Value>) -> Content {
        Content { resource: by_plural(group, "v1", plural).unwrap(), items, failures: 0 }
    }

    fn pod(finalizers: &[&str]) -> Value {
        json!({"metadata": {"name": "p", "finalizers": finalizers}})
    }

    fn find<'a>(conditions: &'a [NamespaceCondition], type_: &str) -> &'a NamespaceCondition {
        conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn remaining_content_is_counted_by_kind_and_by_finalizer() {
        let cases = [
            ("nothing left", vec![content("", "pods", vec![])], "", 0),
            (
                "two pods stopping",
                vec![content("", "pods", vec![pod(&[]), pod(&[])])],
                "pods. has 2 resource instances",
                0,
            ),
            (
                "a held deployment beside a pod",
                vec![
                    content("", "pods", vec![pod(&[])]),
                    content("apps", "deployments", vec![pod(&["example.com/hold"])]),
                ],
                "deployments.apps has 1 resource instances, pods. has 1 resource instances",
                1,
            ),
        ];
        for (case, content, summary, held) in cases {
            let remaining = Remaining::of(&content);
            assert_eq!(remaining.summary(), summary, "{case}");
            assert_eq!(remaining.by_finalizer.values().sum::<usize>(), held, "{case}");
            assert_eq!(remaining.is_empty(), summary.is_empty(), "{case}");
        }
    }

    #[test]
    fn conditions_say_what_remains_in_upstreams_words() {
        let stopping = Remaining::of(&[content("", "pods", vec![pod(&[]), pod(&["example.com/hold"])])]);
        let first = conditions(&[], &stopping, at(0));
        assert_eq!(first.len(), 5, "{first:?}");
        let remaining = find(&first, "NamespaceContentRemaining");
        assert_eq!((remaining.status.as_str(), remaining.reason.as_deref()), ("True", Some("SomeResourcesRemain")));
        assert_eq!(remaining.message.as_deref(), Some("Some resources are remaining: pods. has 2 resource instances"));
        let held = find(&first, "NamespaceFinalizersRemaining");
        assert_eq!(
            held.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
        );
        let failure = find(&first, "NamespaceDeletionContentFailure");
        assert_eq!((failure.status.as_str(), failure.reason.as_deref()), ("False", Some("ContentDeleted")));

        // The same again later: nothing moves, so the write can be skipped.
        assert_eq!(conditions(&first, &stopping, at(5)), first);

        // All gone: the remaining conditions turn False, with a new transition time; the
        // others keep theirs.
        let empty = conditions(&first, &Remaining::default(), at(9));
        let remaining = find(&empty, "NamespaceContentRemaining");
        assert_eq!((remaining.status.as_str(), remaining.reason.as_deref()), ("False", Some("ContentRemoved")));
        assert_eq!(remaining.last_transition_time, Some(at(9)));
        assert_eq!(find(&empty, "NamespaceDeletionDiscoveryFailure").last_transition_time, Some(at(0)));
    }

    #[test]
    fn failed_deletes_are_a_content_failure() {
        let mut failing = content("", "configmaps", vec![json!({"metadata": {"name": "c"}})]);
        failing.failures = 1;
        let conditions = conditions(&[], &Remaining::of(&[failing]), at(0));
        let failure = find(&conditions, "NamespaceDeletionContentFailure");
        assert_eq!((failure.status.as_str(), failure.reason.as_deref()), ("True", Some("ContentDeletionFailed")));
        assert_eq!(failure.message.as_deref(), Some("Failed to delete all resource types, 1 remaining"));
    }
}
