//! Controller references: which controller owns an object, and the adopt/release rules.
//!
//! Mirrors `pkg/controller/controller_ref_manager.go` (`BaseControllerRefManager.ClaimObject`)
//! and `metav1.NewControllerRef`. An object has at most one owner reference marked
//! `controller: true`; a Deployment controls ReplicaSets, a ReplicaSet controls pods. Labels
//! decide what a controller *should* own, owner references what it *does*:
//!
//! | the object is …                         | and the selector … | then            |
//! |-----------------------------------------|--------------------|-----------------|
//! | controlled by someone else              | —                  | ignore          |
//! | controlled by us                        | matches            | owned           |
//! | controlled by us                        | no longer matches  | release (unless we are being deleted) |
//! | an orphan, alive, in our namespace      | matches            | adopt (unless we are being deleted)   |
//! | an orphan otherwise                     | —                  | ignore          |
//!
//! The decision is the pure [`claim`]; `claim_pods.rs` carries it out on pods (a patch of
//! `metadata.ownerReferences`), and the Deployment controller on its ReplicaSets. Left out:
//! `blockOwnerDeletion` beyond setting it on adoption.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::fields;

/// The owner reference marked `controller: true` (`metav1.GetControllerOf`).
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

/// Whether the object's controller has this `uid` (`metav1.IsControlledBy`).
pub fn is_controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == owner_uid)
}

/// A controller reference to `owner`, an `apps/v1` object of `kind` (`metav1.NewControllerRef`).
pub fn new_controller_ref(owner: &ObjectMeta, kind: &str) -> OwnerReference {
    new_controller_ref_of(owner, "apps/v1", kind)
}

/// A controller reference to `owner`, an object of `api_version` and `kind` (a `batch/v1` Job):
/// the garbage collector finds the owner by these two, so they must be the owner's own.
pub fn new_controller_ref_of(owner: &ObjectMeta, api_version: &str, kind: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: fields::name(owner).into(),
        uid: fields::uid(owner).into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours already, and it still matches.
    Owned,
    /// A matching orphan: set our controller reference on it.
    Adopt,
    /// Ours, but it no longer matches: take our controller reference off.
    Release,
    /// Not ours, and not to be made ours.
    Ignore,
}

/// What `controller` should do about `object`, whose labels do or do not `match` its selector.
pub fn claim(controller: &ObjectMeta, object: &ObjectMeta, matches: bool) -> Claim {
    let controller_deleting = controller.deletion_timestamp.is_some();
    match controller_of(object) {
        Some(owner) if owner.uid != fields::uid(controller) => Claim::Ignore,
        Some(_) if matches => Claim::Owned,
        // We may keep what we own while being deleted, but we change nothing.
        Some(_) if controller_deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None if controller_deleting || !matches => Claim::Ignore,
        None if object.deletion_timestamp.is_some() => Claim::Ignore,
        None if object.namespace != controller.namespace => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// The owner references of `object` once `controller_ref` adopts it.
pub fn adopted(object: &ObjectMeta, controller_ref: OwnerReference) -> Vec<OwnerReference> {
    let mut references: Vec<OwnerReference> =
        object.owner_references.iter().flatten().filter(|r| r.uid != controller_ref.uid).cloned().collect();
    references.push(controller_ref);
    references
}

/// The owner references of `object` once the controller with `controller_uid` releases it.
pub fn released(object: &ObjectMeta, controller_uid: &str) -> Vec<OwnerReference> {
    object.owner_references.iter().flatten().filter(|r| r.uid != controller_uid).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn meta(uid: &str, owner: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(uid.into()),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            owner_references: owner.map(|o| {
                vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "ReplicaSet".into(),
                    name: o.into(),
                    uid: o.into(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]
            }),
            ..Default::default()
        }
    }

    fn deleting(mut meta: ObjectMeta) -> ObjectMeta {
        meta.deletion_timestamp = Some(Time(Default::default()));
        meta
    }

    #[test]
    fn claims_follow_the_controller_ref_manager_table() {
        let rs = meta("rs", None);
        let cases = [
            ("someone else's pod is ignored", meta("rs", None), meta("p", Some("other")), true, Claim::Ignore),
            ("our matching pod is owned", rs.clone(), meta("p", Some("rs")), true, Claim::Owned),
            ("our pod that stopped matching is released", rs.clone(), meta("p", Some("rs")), false, Claim::Release),
            (
                "a controller being deleted releases nothing",
                deleting(rs.clone()),
                meta("p", Some("rs")),
                false,
                Claim::Ignore,
            ),
            ("a matching orphan is adopted", rs.clone(), meta("p", None), true, Claim::Adopt),
            ("an orphan that does not match is ignored", rs.clone(), meta("p", None), false, Claim::Ignore),
            ("a deleted orphan is not adopted", rs.clone(), deleting(meta("p", None)), true, Claim::Ignore),
            ("a controller being deleted adopts nothing", deleting(rs.clone()), meta("p", None), true, Claim::Ignore),
        ];
        for (name, controller, object, matches, want) in cases {
            assert_eq!(claim(&controller, &object, matches), want, "{name}");
        }
        let mut elsewhere = meta("p", None);
        elsewhere.namespace = Some("other".into());
        assert_eq!(claim(&rs, &elsewhere, true), Claim::Ignore, "orphans of other namespaces are not adopted");
    }

    #[test]
    fn adoption_adds_our_reference_and_release_removes_only_ours() {
        let mut pod = meta("p", None);
        pod.owner_references = Some(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "cm".into(),
            uid: "cm".into(),
            ..Default::default()
        }]);
        let adopted_refs = adopted(&pod, new_controller_ref(&meta("rs", None), "ReplicaSet"));
        assert_eq!(adopted_refs.iter().map(|r| r.uid.as_str()).collect::<Vec<_>>(), vec!["cm", "rs"]);
        pod.owner_references = Some(adopted_refs);
        assert_eq!(controller_of(&pod).map(|r| r.uid.as_str()), Some("rs"));
        assert_eq!(released(&pod, "rs").iter().map(|r| r.uid.as_str()).collect::<Vec<_>>(), vec!["cm"]);
    }
}
