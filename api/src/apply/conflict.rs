//! Apply conflicts: a field the applier would change that another manager owns.
//!
//! Mirrors structured-merge-diff v4's `merge/conflict.go` and apimachinery's
//! `util/managedfields/internal/conflict.go` (`NewConflictError`, `printManager`), whose
//! message kubectl prints as is:
//!
//! ```text
//! Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas
//! ```
//!
//! or, for several (managers sorted, each with its fields):
//!
//! ```text
//! Apply failed with 2 conflicts: conflicts with "kubectl" with subresource "scale" using apps/v1:
//! - .spec.replicas
//! conflicts with "kubectl-edit" using apps/v1:
//! - .spec.template.spec.containers[name="web"].image
//! ```

use std::cmp::Ordering;
use std::fmt;

use super::fieldset::Path;
use super::managed::{Manager, Operation};
use crate::status::Status;

/// One field another manager owns and the apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub manager: Manager,
    pub path: Path,
}

/// Every conflict of one apply, sorted by manager and then in upstream's path order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts(Vec<Conflict>);

impl Conflicts {
    pub fn new(mut conflicts: Vec<Conflict>) -> Conflicts {
        conflicts.sort_by(|a, b| a.manager.cmp(&b.manager).then_with(|| set_order(&a.path, &b.path)));
        conflicts.dedup();
        Conflicts(conflicts)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Conflict> {
        self.0.iter()
    }

    /// The conflicts whose path `keep` accepts.
    pub fn retain(self, keep: impl Fn(&Path) -> bool) -> Conflicts {
        Conflicts(self.0.into_iter().filter(|c| keep(&c.path)).collect())
    }

    /// Kubernetes' message, word for word.
    pub fn message(&self) -> String {
        if let [one] = self.0.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {}: {}", one.manager, one.path);
        }
        let mut lines = Vec::new();
        let mut current: Option<&Manager> = None;
        for conflict in &self.0 {
            if current != Some(&conflict.manager) {
                lines.push(format!("conflicts with {}:", conflict.manager));
                current = Some(&conflict.manager);
            }
            lines.push(format!("- {}", conflict.path));
        }
        format!("Apply failed with {} conflicts: {}", self.0.len(), lines.join("\n"))
    }

    /// The 409 `Status`, with one `FieldManagerConflict` cause per field.
    pub fn to_status(&self) -> Status {
        let causes: Vec<(String, String)> =
            self.0.iter().map(|c| (format!("conflict with {}", c.manager), c.path.to_string())).collect();
        Status::apply_conflict(self.message(), &causes)
    }
}

impl fmt::Display for Conflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl fmt::Display for Manager {
    /// As upstream's `printManager`: the name in quotes, the subresource if any, and the API
    /// version for an updater (an applier is one manager whatever version it applies at).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", serde_json::Value::from(self.name.as_str()))?;
        if let Some(subresource) = &self.subresource {
            write!(f, " with subresource {}", serde_json::Value::from(subresource.as_str()))?;
        }
        if self.operation == Operation::Update {
            write!(f, " using {}", self.api_version)?;
        }
        Ok(())
    }
}

/// The order upstream iterates a set in: at each level the fields that end there come before
/// those that go deeper, each group sorted. So `.spec.z` comes before `.spec.template.x`,
/// although `template` sorts before `z`.
fn set_order(a: &Path, b: &Path) -> Ordering {
    let common = a.0.iter().zip(&b.0).take_while(|(x, y)| x == y).count();
    match (a.0.len() - common, b.0.len() - common) {
        (0, 0) => Ordering::Equal,
        (0, _) => Ordering::Less,
        (_, 0) => Ordering::Greater,
        (1, n) if n > 1 => Ordering::Less,
        (n, 1) if n > 1 => Ordering::Greater,
        _ => a.0[common].cmp(&b.0[common]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::apply::fieldset::PathElement;

    fn updater(name: &str, subresource: Option<&str>) -> Manager {
        Manager {
            name: name.into(),
            operation: Operation::Update,
            api_version: "apps/v1".into(),
            subresource: subresource.map(String::from),
        }
    }

    fn image() -> Path {
        Path::fields(&["spec", "template", "spec", "containers"])
            .child(PathElement::key(&[("name", &json!("web"))]))
            .child(PathElement::field("image"))
    }

    #[test]
    fn one_conflict_reads_as_kubernetes_writes_it() {
        let conflicts = Conflicts::new(vec![Conflict {
            manager: updater("kubectl-client-side-apply", None),
            path: Path::fields(&["spec", "replicas"]),
        }]);
        assert_eq!(
            conflicts.message(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
        let status = conflicts.to_status().to_json();
        assert_eq!((status["code"].clone(), status["reason"].clone()), (json!(409), json!("Conflict")));
        assert_eq!(
            status["details"],
            json!({"causes": [{"reason": "FieldManagerConflict",
                "message": "conflict with \"kubectl-client-side-apply\" using apps/v1", "field": ".spec.replicas"}]})
        );
    }

    #[test]
    fn several_conflicts_are_grouped_by_sorted_manager() {
        let conflicts = Conflicts::new(vec![
            Conflict { manager: updater("kubectl-edit", None), path: image() },
            Conflict { manager: updater("kubectl", Some("scale")), path: Path::fields(&["spec", "replicas"]) },
            Conflict { manager: updater("kubectl-edit", None), path: Path::fields(&["spec", "paused"]) },
        ]);
        assert_eq!(
            conflicts.message(),
            "Apply failed with 3 conflicts: conflicts with \"kubectl\" with subresource \"scale\" using apps/v1:\n\
             - .spec.replicas\n\
             conflicts with \"kubectl-edit\" using apps/v1:\n\
             - .spec.paused\n\
             - .spec.template.spec.containers[name=\"web\"].image"
        );
    }

    #[test]
    fn an_applier_is_named_without_a_version() {
        let applier = Manager { operation: Operation::Apply, ..updater("kubectl", None) };
        assert_eq!(applier.to_string(), "\"kubectl\"");
    }

    #[test]
    fn fields_ending_at_a_level_come_before_deeper_ones() {
        let mut paths = vec![image(), Path::fields(&["spec", "template", "x"]), Path::fields(&["spec", "z"])];
        paths.sort_by(set_order);
        assert_eq!(paths, vec![Path::fields(&["spec", "z"]), Path::fields(&["spec", "template", "x"]), image()]);
    }
}
