//! The collector's decisions, as pure functions: what the owners' live states make of their
//! references, and what to do with an object because of them.
//!
//! Mirrors `classifyReferences` and the `switch` at the end of `attemptToDeleteItem`
//! (`pkg/controller/garbagecollector/garbagecollector.go`). The lookups themselves (a live GET
//! of each owner, by name, in the dependent's namespace) are the worker's; here they are given.
//!
//! | the owners are …                                        | and the object …      | then |
//! |---------------------------------------------------------|-----------------------|------|
//! | none (no ownerReferences)                               | —                     | keep |
//! | at least one solid, none dangling or waiting            | —                     | keep |
//! | at least one solid, some dangling or waiting            | —                     | remove those references |
//! | none solid, some waiting for their dependents' deletion | has dependents        | delete in the foreground (unblocking its own references first if a dependent also deletes in the foreground: a possible cycle) |
//! | none solid (all dangling, or waiting with no dependents)| —                     | delete, as its own finalizers ask (`orphan`, `foregroundDeletion`), else in the background |

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};

/// An object's owner references, by what their owners are now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classified {
    /// The owner exists and is not waiting for its dependents to go.
    pub solid: Vec<OwnerReference>,
    /// The owner does not exist: not found, or another object (another uid) under its name.
    pub dangling: Vec<OwnerReference>,
    /// The owner is being deleted in the foreground: its dependents must go first.
    pub waiting_for_dependents_deletion: Vec<OwnerReference>,
}

/// Sorts each reference by its owner's live metadata (`None`: not found).
pub fn classify_references(looked_up: Vec<(OwnerReference, Option<ObjectMeta>)>) -> Classified {
    let mut classified = Classified::default();
    for (reference, owner) in looked_up {
        let Some(owner) = owner.filter(|o| o.uid.as_deref() == Some(reference.uid.as_str())) else {
            classified.dangling.push(reference);
            continue;
        };
        let deleting_dependents =
            owner.deletion_timestamp.is_some() && owner.finalizers.iter().flatten().any(|f| f == FOREGROUND_FINALIZER);
        if deleting_dependents {
            classified.waiting_for_dependents_deletion.push(reference);
        } else {
            classified.solid.push(reference);
        }
    }
    classified
}

/// How a delete treats the dependents of what it deletes (`propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }
}

/// What the graph knows of the object's own dependents, and its finalizers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item {
    pub finalizers: Vec<String>,
    /// How many dependents it has in the graph.
    pub dependents: usize,
    /// Whether one of them is itself being deleted in the foreground.
    pub a_dependent_is_deleting_dependents: bool,
}

/// What to do with the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Keep,
    /// Patch these owner uids out of its `ownerReferences`.
    RemoveReferences(Vec<String>),
    Delete {
        propagation: Propagation,
        /// First set `blockOwnerDeletion: false` on its references, so that an owner and a
        /// dependent both deleting in the foreground do not wait for each other forever.
        unblock_first: bool,
    },
}

/// The table of the module doc.
pub fn decide(classified: &Classified, item: &Item) -> Decision {
    let Classified { solid, dangling, waiting_for_dependents_deletion: waiting } = classified;
    if !solid.is_empty() || (dangling.is_empty() && waiting.is_empty()) {
        // A reference to an owner waiting for its dependents must go too: otherwise that owner
        // would wait for this object, which is not going anywhere.
        let gone: Vec<String> = dangling.iter().chain(waiting).map(|r| r.uid.clone()).collect();
        return if gone.is_empty() { Decision::Keep } else { Decision::RemoveReferences(gone) };
    }
    if !waiting.is_empty() && item.dependents > 0 {
        return Decision::Delete {
            propagation: Propagation::Foreground,
            unblock_first: item.a_dependent_is_deleting_dependents,
        };
    }
    let has = |finalizer: &str| item.finalizers.iter().any(|f| f == finalizer);
    let propagation = if has(ORPHAN_FINALIZER) {
        Propagation::Orphan
    } else if has(FOREGROUND_FINALIZER) {
        Propagation::Foreground
    } else {
        Propagation::Background
    };
    Decision::Delete { propagation, unblock_first: false }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn reference(uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web".into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn owner(uid: &str, deleting: bool, finalizers: &[&str]) -> ObjectMeta {
        ObjectMeta {
            name: Some("web".into()),
            uid: Some(uid.into()),
            deletion_timestamp: deleting.then(|| Time(Default::default())),
            finalizers: Some(finalizers.iter().map(|f| f.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn references_are_solid_dangling_or_waiting_for_dependents_deletion() {
        let cases = [
            ("an owner that exists is solid", Some(owner("u1", false, &[])), "solid"),
            ("an owner not found is dangling", None, "dangling"),
            ("another uid under the owner's name is dangling", Some(owner("u2", false, &[])), "dangling"),
            ("an owner deleted in the foreground waits", Some(owner("u1", true, &[FOREGROUND_FINALIZER])), "waiting"),
            ("an owner being orphaned is solid", Some(owner("u1", true, &[ORPHAN_FINALIZER])), "solid"),
            (
                "the finalizer alone, not being deleted, is solid",
                Some(owner("u1", false, &[FOREGROUND_FINALIZER])),
                "solid",
            ),
        ];
        for (name, live, want) in cases {
            let classified = classify_references(vec![(reference("u1"), live)]);
            let got = match (
                classified.solid.len(),
                classified.dangling.len(),
                classified.waiting_for_dependents_deletion.len(),
            ) {
                (1, 0, 0) => "solid",
                (0, 1, 0) => "dangling",
                (0, 0, 1) => "waiting",
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(got, want, "{name}");
        }
    }

    fn classified(solid: &[&str], dangling: &[&str], waiting: &[&str]) -> Classified {
        let refs = |uids: &[&str]| uids.iter().map(|u| reference(u)).collect();
        Classified { solid: refs(solid), dangling: refs(dangling), waiting_for_dependents_deletion: refs(waiting) }
    }

    fn item(dependents: usize, a_dependent_is_deleting_dependents: bool, finalizers: &[&str]) -> Item {
        Item {
            finalizers: finalizers.iter().map(|f| f.to_string()).collect(),
            dependents,
            a_dependent_is_deleting_dependents,
        }
    }

    fn delete(propagation: Propagation, unblock_first: bool) -> Decision {
        Decision::Delete { propagation, unblock_first }
    }

    #[test]
    fn what_to_do_with_an_object_given_its_owners_states() {
        use Propagation::*;
        let remove = |uids: &[&str]| Decision::RemoveReferences(uids.iter().map(|u| u.to_string()).collect());
        let cases = [
            ("no owners: keep", classified(&[], &[], &[]), item(0, false, &[]), Decision::Keep),
            ("a solid owner: keep", classified(&["a"], &[], &[]), item(0, false, &[]), Decision::Keep),
            (
                "solid and dangling: drop the dangling",
                classified(&["a"], &["b"], &[]),
                item(0, false, &[]),
                remove(&["b"]),
            ),
            (
                "solid and waiting: drop the waiting",
                classified(&["a"], &[], &["c"]),
                item(3, false, &[]),
                remove(&["c"]),
            ),
            (
                "solid, dangling and waiting: drop both",
                classified(&["a"], &["b"], &["c"]),
                item(0, false, &[]),
                remove(&["b", "c"]),
            ),
            (
                "all dangling: delete in the background",
                classified(&[], &["a", "b"], &[]),
                item(2, false, &[]),
                delete(Background, false),
            ),
            (
                "waiting, with dependents: delete in the foreground",
                classified(&[], &[], &["a"]),
                item(3, false, &[]),
                delete(Foreground, false),
            ),
            (
                "waiting, no dependents: delete in the background",
                classified(&[], &[], &["a"]),
                item(0, false, &[]),
                delete(Background, false),
            ),
            (
                "waiting and dangling, with dependents: foreground",
                classified(&[], &["b"], &["a"]),
                item(1, false, &[]),
                delete(Foreground, false),
            ),
            (
                "waiting, a dependent also deleting dependents: unblock first",
                classified(&[], &[], &["a"]),
                item(1, true, &[]),
                delete(Foreground, true),
            ),
            (
                "dangling, its own orphan finalizer: orphan",
                classified(&[], &["a"], &[]),
                item(1, false, &[ORPHAN_FINALIZER]),
                delete(Orphan, false),
            ),
            (
                "dangling, its own foreground finalizer: foreground",
                classified(&[], &["a"], &[]),
                item(1, false, &[FOREGROUND_FINALIZER]),
                delete(Foreground, false),
            ),
            (
                "dangling, another finalizer: background",
                classified(&[], &["a"], &[]),
                item(0, false, &["example.com/x"]),
                delete(Background, false),
            ),
        ];
        for (name, classified, item, want) in cases {
            assert_eq!(decide(&classified, &item), want, "{name}");
        }
    }
}
