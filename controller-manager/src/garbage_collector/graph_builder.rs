//! The graph builder: informer events in, the uid graph kept, work for the collector out.
//!
//! Mirrors `pkg/controller/garbagecollector/graph_builder.go` (`processGraphChanges`,
//! `addDependentToOwners`, `processTransitions`, `referencesDiffs`) as one pure function,
//! [`process_graph_changes`]: it changes the [`Graph`] and says what to look at next
//! ([`Todo`]); the task that runs it (`GarbageCollector::run`) carries the `Todo` out. One
//! change at a time, by one writer, so the graph is never half updated.
//!
//! What each change does:
//!
//! 1. **An object appears or changes** (`Applied`). A virtual node of its uid is now observed
//!    (its dependents that named it by other coordinates are checked again). A new node is
//!    added and linked to its owners: an owner the graph does not have becomes a virtual node,
//!    queued so that a worker finds out with a live GET whether it exists. A known node has its
//!    owners diffed: a reference removed, or one that stopped blocking, may unblock a foreground
//!    deletion, so that owner is queued. Then the *transitions*: an object that just started
//!    being deleted with the `orphan` finalizer goes to `attempt_to_orphan`; with
//!    `foregroundDeletion`, it and its dependents go to `attempt_to_delete`.
//! 2. **An object is deleted** (`Deleted`). Its node goes; its dependents are queued (their
//!    owner is gone), and so is every owner of it that waits for its dependents to go.
//! 3. **A kind is listed again** (`Restarted`, after the watch expired): the nodes of that kind
//!    that the list no longer has were deleted meanwhile; the rest is as 1.
//! 4. **A worker found an object absent** (`VirtualDeleted`, a 404 or another uid under the
//!    name): as 2, unless the graph has since observed that uid under other coordinates.
//!
//! Left out: upstream's alternate identities of a virtual node (dependents naming one uid with
//! different kinds or names; here the first reference wins, and a mismatch only re-checks the
//! dependent), apiVersion changes of an observed object, and the monitors' resync with
//! discovery (Skiff's kinds are fixed: `skiff_api::registry`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use skiff_api::registry::{self, Resource};

use super::graph::{Graph, Node, ObjectReference};
use super::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};

/// What the graph needs of an object: its identity, owners and deletion state (upstream reads
/// only metadata too: `metaonly`).
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub identity: ObjectReference,
    pub owners: Vec<OwnerReference>,
    pub being_deleted: bool,
    pub finalizers: Vec<String>,
}

impl Observed {
    /// The object of kind `resource` with `meta`; `None` without a uid (nothing can name it).
    pub fn new(resource: &Resource, meta: &ObjectMeta) -> Option<Observed> {
        let uid = meta.uid.clone().filter(|u| !u.is_empty())?;
        Some(Observed {
            identity: ObjectReference {
                api_version: resource.api_version(),
                kind: resource.kind.into(),
                namespace: meta.namespace.clone().filter(|_| resource.namespaced),
                name: meta.name.clone().unwrap_or_default(),
                uid,
            },
            owners: meta.owner_references.clone().unwrap_or_default(),
            being_deleted: meta.deletion_timestamp.is_some(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
        })
    }

    fn deleting_dependents(&self) -> bool {
        self.being_deleted && self.finalizers.iter().any(|f| f == FOREGROUND_FINALIZER)
    }

    fn orphaning_dependents(&self) -> bool {
        self.being_deleted && self.finalizers.iter().any(|f| f == ORPHAN_FINALIZER)
    }
}

/// One change for the graph (upstream's `event` in `graphChanges`).
#[derive(Debug, Clone, PartialEq)]
pub enum GraphChange {
    /// Created or updated, from an informer.
    Applied(Observed),
    /// Deleted, from an informer.
    Deleted(Observed),
    /// Everything of one kind that exists now (an informer's list).
    Restarted { api_version: String, kind: String, objects: Vec<Observed> },
    /// A worker found no object of this identity (upstream's virtual delete event).
    VirtualDeleted(ObjectReference),
}

/// What a change asks of the collector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Todo {
    /// Uids whose objects may have to go, or whose dependents may be all gone.
    pub attempt_to_delete: Vec<String>,
    /// Uids whose dependents must lose their reference to them.
    pub attempt_to_orphan: Vec<String>,
    /// Owners now known not to exist (for the absent owner cache).
    pub absent_owners: Vec<ObjectReference>,
    /// Dependents that name an owner living in another namespace, with that reference: an
    /// `OwnerRefInvalidNamespace` warning each.
    pub invalid_namespace: Vec<(ObjectReference, OwnerReference)>,
}

/// Applies `change` to `graph` (see the module doc).
pub fn process_graph_changes(graph: &mut Graph, change: GraphChange) -> Todo {
    let mut todo = Todo::default();
    match change {
        GraphChange::Applied(object) => applied(graph, object, &mut todo),
        GraphChange::Deleted(object) => remove_node(graph, &object.identity.uid, &mut todo),
        GraphChange::Restarted { api_version, kind, objects } => {
            let gone: Vec<String> = graph
                .nodes()
                .filter(|n| n.observed && n.identity.api_version == api_version && n.identity.kind == kind)
                .filter(|n| !objects.iter().any(|o| o.identity.uid == n.identity.uid))
                .map(|n| n.identity.uid.clone())
                .collect();
            for uid in gone {
                remove_node(graph, &uid, &mut todo);
            }
            for object in objects {
                applied(graph, object, &mut todo);
            }
        }
        GraphChange::VirtualDeleted(identity) => match graph.node(&identity.uid) {
            None => {}
            // Observed meanwhile under other coordinates: the object exists. Its dependents
            // check their references again.
            Some(node) if node.observed && node.identity != identity => {
                todo.attempt_to_delete.extend(node.dependents.iter().cloned());
            }
            Some(_) => remove_node(graph, &identity.uid, &mut todo),
        },
    }
    todo
}

fn applied(graph: &mut Graph, object: Observed, todo: &mut Todo) {
    let uid = object.identity.uid.clone();
    let Some(existing) = graph.node(&uid).cloned() else {
        let node = Node {
            identity: object.identity.clone(),
            owners: object.owners.clone(),
            dependents: Default::default(),
            observed: true,
            being_deleted: object.being_deleted,
            deleting_dependents: object.deleting_dependents(),
            orphaning_dependents: object.orphaning_dependents(),
        };
        graph.write(node);
        add_dependent_to_owners(graph, &uid, &object.owners, todo);
        process_transitions(graph, &uid, (false, false), todo);
        return;
    };
    if !existing.observed {
        observe_virtual_node(graph, &existing, &object.identity, todo);
    }
    let diffs = references_diffs(&existing.owners, &object.owners);
    if let Some(node) = graph.node_mut(&uid) {
        node.identity = object.identity.clone();
        node.observed = true;
        node.owners = object.owners.clone();
        node.being_deleted |= object.being_deleted;
        node.deleting_dependents = object.deleting_dependents();
        node.orphaning_dependents = object.orphaning_dependents();
    }
    if !diffs.is_empty() {
        add_unblocked_owners_to_delete_queue(graph, &diffs, todo);
        add_dependent_to_owners(graph, &uid, &diffs.added, todo);
        remove_dependent_from_owners(graph, &uid, &diffs.removed);
    }
    process_transitions(graph, &uid, (existing.orphaning_dependents, existing.deleting_dependents), todo);
}

/// A virtual node is seen by an informer at last. Its identity was guessed from a dependent's
/// reference; dependents that named it otherwise (another name or kind, or a namespace it does
/// not live in) are checked again, and warned about when the namespace is wrong.
fn observe_virtual_node(graph: &Graph, node: &Node, observed: &ObjectReference, todo: &mut Todo) {
    if node.identity == *observed {
        return;
    }
    let uid = &observed.uid;
    for dependent in graph.dependents(uid) {
        let wrong_namespace = observed.namespace.is_some() && dependent.identity.namespace != observed.namespace;
        let mismatched = dependent.owners.iter().any(|o| &o.uid == uid && !observed.matches(o));
        if wrong_namespace {
            if let Some(reference) = dependent.owners.iter().find(|o| &o.uid == uid) {
                todo.invalid_namespace.push((dependent.identity.clone(), reference.clone()));
            }
        }
        if wrong_namespace || mismatched {
            todo.attempt_to_delete.push(dependent.identity.uid.clone());
        }
    }
}

/// Links the node `dependent_uid` to each of `owners`; an owner not in the graph becomes a
/// virtual node, queued to be looked up (upstream's `addDependentToOwners`).
fn add_dependent_to_owners(graph: &mut Graph, dependent_uid: &str, owners: &[OwnerReference], todo: &mut Todo) {
    let Some(dependent) = graph.node(dependent_uid).map(|n| n.identity.clone()) else { return };
    let mut potentially_invalid = false;
    for owner in owners {
        let Some(owner_node) = graph.node_mut(&owner.uid) else {
            let mut virtual_owner = Node::virtual_owner(owner, owner_namespace(owner, dependent.namespace.as_deref()));
            virtual_owner.dependents.insert(dependent_uid.to_string());
            graph.write(virtual_owner);
            todo.attempt_to_delete.push(owner.uid.clone());
            continue;
        };
        owner_node.dependents.insert(dependent_uid.to_string());
        if potentially_invalid {
            continue;
        }
        let owner_namespaced = owner_node.identity.namespace.is_some();
        if owner_namespaced && owner_node.identity.namespace != dependent.namespace {
            // A namespaced owner lives in its dependent's namespace, or nowhere.
            if owner_node.observed {
                todo.invalid_namespace.push((dependent.clone(), owner.clone()));
            }
            potentially_invalid = true;
        } else if !owner_node.identity.matches(owner) {
            potentially_invalid = true;
        }
    }
    if potentially_invalid {
        // A worker looks the references up and deletes the dependent if none holds.
        todo.attempt_to_delete.push(dependent_uid.to_string());
    }
}

/// Where a virtual owner is looked for: nowhere in particular for a cluster-scoped kind, else
/// in the dependent's namespace. (Upstream always guesses the dependent's namespace and lets the
/// REST mapper decide at GET time; Skiff's registry knows the scope of every kind it serves.)
fn owner_namespace<'a>(owner: &OwnerReference, dependent_namespace: Option<&'a str>) -> Option<&'a str> {
    match registry::by_kind(&owner.api_version, &owner.kind) {
        Some(resource) if !resource.namespaced => None,
        _ => dependent_namespace,
    }
}

fn remove_dependent_from_owners(graph: &mut Graph, dependent_uid: &str, owners: &[OwnerReference]) {
    for owner in owners {
        if let Some(owner_node) = graph.node_mut(&owner.uid) {
            owner_node.dependents.remove(dependent_uid);
        }
    }
}

/// Removes the node `uid`; its dependents, and its owners waiting for their dependents to go,
/// are queued (upstream's `removeNode` and the delete branch of `processGraphChanges`).
fn remove_node(graph: &mut Graph, uid: &str, todo: &mut Todo) {
    let Some(node) = graph.remove(uid) else { return };
    remove_dependent_from_owners(graph, uid, &node.owners);
    if !node.dependents.is_empty() {
        todo.absent_owners.push(node.identity.clone());
    }
    todo.attempt_to_delete.extend(node.dependents.iter().cloned());
    for owner in &node.owners {
        if graph.node(&owner.uid).is_some_and(|o| o.deleting_dependents) {
            todo.attempt_to_delete.push(owner.uid.clone());
        }
    }
}

/// An object that *starts* being deleted with `orphan` is orphaned; with `foregroundDeletion`,
/// its dependents are deleted first. `before` is (orphaning, deleting dependents) as the graph
/// knew it; only a change from false to true counts, so that every later update of an object
/// being deleted does not queue it again.
fn process_transitions(graph: &Graph, uid: &str, before: (bool, bool), todo: &mut Todo) {
    let Some(node) = graph.node(uid) else { return };
    let (was_orphaning, was_deleting_dependents) = before;
    if node.orphaning_dependents && !was_orphaning {
        todo.attempt_to_orphan.push(uid.to_string());
        return;
    }
    if node.deleting_dependents && !was_deleting_dependents {
        todo.attempt_to_delete.extend(node.dependents.iter().cloned());
        todo.attempt_to_delete.push(uid.to_string());
    }
}

/// How an object's owner references changed, matched by uid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceDiffs {
    pub added: Vec<OwnerReference>,
    pub removed: Vec<OwnerReference>,
    /// (before, after) of references to the same uid that differ (`blockOwnerDeletion`…).
    pub changed: Vec<(OwnerReference, OwnerReference)>,
}

impl ReferenceDiffs {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Upstream's `referencesDiffs`.
pub fn references_diffs(old: &[OwnerReference], new: &[OwnerReference]) -> ReferenceDiffs {
    let mut diffs = ReferenceDiffs::default();
    for reference in new {
        match old.iter().find(|o| o.uid == reference.uid) {
            None => diffs.added.push(reference.clone()),
            Some(before) if before != reference => diffs.changed.push((before.clone(), reference.clone())),
            Some(_) => {}
        }
    }
    diffs.removed = old.iter().filter(|o| !new.iter().any(|n| n.uid == o.uid)).cloned().collect();
    diffs
}

/// A blocking reference that went away, or stopped blocking, may be what a foreground deletion
/// of that owner waits for: look at the owner again (upstream's
/// `addUnblockedOwnersToDeleteQueue`).
fn add_unblocked_owners_to_delete_queue(graph: &Graph, diffs: &ReferenceDiffs, todo: &mut Todo) {
    let unblocked = diffs.removed.iter().filter(|r| r.block_owner_deletion == Some(true)).chain(
        diffs
            .changed
            .iter()
            .filter(|(before, after)| {
                before.block_owner_deletion == Some(true) && after.block_owner_deletion != Some(true)
            })
            .map(|(_, after)| after),
    );
    for reference in unblocked {
        if graph.contains(&reference.uid) {
            todo.attempt_to_delete.push(reference.uid.clone());
        }
    }
}
