//! The graph builder's updates, one change at a time: what the graph becomes and what is queued.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::graph::{Graph, ObjectReference};
use super::graph_builder::{process_graph_changes, references_diffs, GraphChange, Observed, Todo};
use super::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};

fn object(api_version: &str, kind: &str, namespace: Option<&str>, uid: &str) -> Observed {
    Observed {
        identity: ObjectReference {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: format!("{}-{uid}", kind.to_lowercase()),
            uid: uid.into(),
        },
        owners: Vec::new(),
        being_deleted: false,
        finalizers: Vec::new(),
    }
}

fn deployment(uid: &str) -> Observed {
    object("apps/v1", "Deployment", Some("default"), uid)
}

fn replica_set(uid: &str) -> Observed {
    object("apps/v1", "ReplicaSet", Some("default"), uid)
}

fn pod(uid: &str) -> Observed {
    object("v1", "Pod", Some("default"), uid)
}

/// A reference to `owner`, as its controller sets it.
fn reference(owner: &Observed, block: Option<bool>) -> OwnerReference {
    OwnerReference {
        api_version: owner.identity.api_version.clone(),
        kind: owner.identity.kind.clone(),
        name: owner.identity.name.clone(),
        uid: owner.identity.uid.clone(),
        controller: Some(true),
        block_owner_deletion: block,
    }
}

trait Build {
    fn owned_by(self, owner: &Observed, block: Option<bool>) -> Self;
    fn deleting(self, finalizer: &str) -> Self;
}

impl Build for Observed {
    fn owned_by(mut self, owner: &Observed, block: Option<bool>) -> Self {
        self.owners.push(reference(owner, block));
        self
    }
    fn deleting(mut self, finalizer: &str) -> Self {
        self.being_deleted = true;
        self.finalizers.push(finalizer.into());
        self
    }
}

fn apply(graph: &mut Graph, object: &Observed) -> Todo {
    process_graph_changes(graph, GraphChange::Applied(object.clone()))
}

fn dependents(graph: &Graph, uid: &str) -> Vec<String> {
    graph.node(uid).map(|n| n.dependents.iter().cloned().collect()).unwrap_or_default()
}

fn queued(uids: &[&str]) -> Vec<String> {
    uids.iter().map(|u| u.to_string()).collect()
}

#[test]
fn a_new_object_is_linked_to_its_owner_already_in_the_graph() {
    let mut graph = Graph::default();
    let rs = replica_set("rs");
    assert_eq!(apply(&mut graph, &rs), Todo::default());
    let todo = apply(&mut graph, &pod("p1").owned_by(&rs, Some(true)));
    assert_eq!(todo, Todo::default(), "a known owner under the same coordinates needs no look");
    assert_eq!(dependents(&graph, "rs"), ["p1"]);
    assert_eq!(graph.node("p1").unwrap().owners[0].uid, "rs");
}

#[test]
fn an_owner_not_seen_yet_becomes_a_virtual_node_queued_for_a_live_lookup() {
    let mut graph = Graph::default();
    let todo = apply(&mut graph, &pod("p1").owned_by(&replica_set("rs"), None));
    assert_eq!(todo.attempt_to_delete, queued(&["rs"]));
    let owner = graph.node("rs").unwrap();
    assert!(!owner.observed);
    assert_eq!(owner.identity.to_string(), "[apps/v1/ReplicaSet, namespace: default, name: replicaset-rs, uid: rs]");
    assert_eq!(dependents(&graph, "rs"), ["p1"]);

    // A second dependent finds the virtual node there: it is not queued again.
    let todo = apply(&mut graph, &pod("p2").owned_by(&replica_set("rs"), None));
    assert_eq!(todo, Todo::default());
    assert_eq!(dependents(&graph, "rs"), ["p1", "p2"]);
}

#[test]
fn a_virtual_node_observed_at_last_becomes_real_and_keeps_its_dependents() {
    let mut graph = Graph::default();
    let rs = replica_set("rs");
    apply(&mut graph, &pod("p1").owned_by(&rs, None));
    assert_eq!(apply(&mut graph, &rs), Todo::default());
    let node = graph.node("rs").unwrap();
    assert!(node.observed);
    assert_eq!(dependents(&graph, "rs"), ["p1"]);
}

#[test]
fn a_virtual_owner_of_a_cluster_scoped_kind_is_looked_for_outside_the_namespace() {
    let mut graph = Graph::default();
    let node = object("v1", "Node", None, "n1");
    let lease = object("coordination.k8s.io/v1", "Lease", Some("kube-node-lease"), "l1").owned_by(&node, None);
    apply(&mut graph, &lease);
    assert_eq!(graph.node("n1").unwrap().identity.namespace, None);
}

#[test]
fn a_reference_removed_or_unblocked_unlinks_or_relooks_its_owner() {
    let cases = [
        ("a removed blocking reference queues its owner", Some(true), None, true, true),
        ("a removed reference that did not block queues nothing", None, None, true, false),
        ("a reference that stops blocking queues its owner", Some(true), Some(false), false, true),
        ("a reference that starts blocking queues nothing", Some(false), Some(true), false, false),
    ];
    for (name, before, after, removed, owner_queued) in cases {
        let mut graph = Graph::default();
        let rs = replica_set("rs");
        apply(&mut graph, &rs);
        apply(&mut graph, &pod("p1").owned_by(&rs, before));
        let updated = if removed { pod("p1") } else { pod("p1").owned_by(&rs, after) };
        let todo = apply(&mut graph, &updated);
        assert_eq!(todo.attempt_to_delete == queued(&["rs"]), owner_queued, "{name}: {todo:?}");
        assert_eq!(dependents(&graph, "rs").is_empty(), removed, "{name}");
    }
}

#[test]
fn an_added_reference_links_the_new_owner() {
    let mut graph = Graph::default();
    let (a, b) = (object("v1", "ConfigMap", Some("default"), "a"), object("v1", "ConfigMap", Some("default"), "b"));
    apply(&mut graph, &a);
    apply(&mut graph, &b);
    let shared = object("v1", "ConfigMap", Some("default"), "shared").owned_by(&a, None);
    apply(&mut graph, &shared);
    apply(&mut graph, &shared.clone().owned_by(&b, None));
    assert_eq!((dependents(&graph, "a"), dependents(&graph, "b")), (queued(&["shared"]), queued(&["shared"])));
}

#[test]
fn a_deleted_owner_queues_its_dependents_and_is_remembered_as_absent() {
    let mut graph = Graph::default();
    let rs = replica_set("rs");
    apply(&mut graph, &rs);
    apply(&mut graph, &pod("p1").owned_by(&rs, Some(true)));
    apply(&mut graph, &pod("p2").owned_by(&rs, Some(true)));
    let todo = process_graph_changes(&mut graph, GraphChange::Deleted(rs.clone()));
    assert_eq!(todo.attempt_to_delete, queued(&["p1", "p2"]));
    assert_eq!(todo.absent_owners, vec![rs.identity]);
    assert!(graph.node("rs").is_none());
    assert!(graph.node("p1").is_some(), "the dependents stay until they are deleted");

    let todo = process_graph_changes(&mut graph, GraphChange::Deleted(replica_set("never-seen")));
    assert_eq!(todo, Todo::default());
}

#[test]
fn a_deleted_dependent_queues_its_owner_if_it_waits_for_its_dependents() {
    let cases = [("an owner deleting in the foreground is queued", true), ("an owner not being deleted is not", false)];
    for (name, foreground) in cases {
        let mut graph = Graph::default();
        let rs = if foreground { replica_set("rs").deleting(FOREGROUND_FINALIZER) } else { replica_set("rs") };
        apply(&mut graph, &rs);
        let p1 = pod("p1").owned_by(&rs, Some(true));
        apply(&mut graph, &p1);
        let todo = process_graph_changes(&mut graph, GraphChange::Deleted(p1));
        assert_eq!(todo.attempt_to_delete == queued(&["rs"]), foreground, "{name}: {todo:?}");
        assert!(dependents(&graph, "rs").is_empty(), "{name}");
    }
}

#[test]
fn starting_a_foreground_deletion_queues_the_owner_and_its_dependents_once() {
    let mut graph = Graph::default();
    let d = deployment("d");
    apply(&mut graph, &d);
    apply(&mut graph, &replica_set("rs").owned_by(&d, Some(true)));
    let todo = apply(&mut graph, &d.clone().deleting(FOREGROUND_FINALIZER));
    assert_eq!(todo.attempt_to_delete, queued(&["rs", "d"]));
    assert!(graph.node("d").unwrap().deleting_dependents);
    assert_eq!(
        apply(&mut graph, &d.clone().deleting(FOREGROUND_FINALIZER)),
        Todo::default(),
        "a later update is no new start"
    );
}

#[test]
fn starting_an_orphan_deletion_queues_the_owner_for_orphaning_once() {
    let mut graph = Graph::default();
    let d = deployment("d");
    apply(&mut graph, &d);
    apply(&mut graph, &replica_set("rs").owned_by(&d, Some(true)));
    let todo = apply(&mut graph, &d.clone().deleting(ORPHAN_FINALIZER));
    assert_eq!((todo.attempt_to_orphan, todo.attempt_to_delete), (queued(&["d"]), vec![]));
    assert_eq!(apply(&mut graph, &d.clone().deleting(ORPHAN_FINALIZER)), Todo::default());
}

#[test]
fn an_object_first_seen_while_already_being_deleted_starts_its_cascade_then() {
    // What a restarted controller-manager lists: the deletion began while it was away.
    let cases = [
        ("orphan", ORPHAN_FINALIZER, queued(&["d"]), vec![]),
        ("foreground", FOREGROUND_FINALIZER, vec![], queued(&["d"])),
        ("another finalizer", "example.com/x", vec![], vec![]),
    ];
    for (name, finalizer, orphan, delete) in cases {
        let mut graph = Graph::default();
        let todo = apply(&mut graph, &deployment("d").deleting(finalizer));
        assert_eq!((todo.attempt_to_orphan, todo.attempt_to_delete), (orphan, delete), "{name}");
    }
}

#[test]
fn a_relist_deletes_the_nodes_of_that_kind_it_no_longer_has() {
    let mut graph = Graph::default();
    let rs = replica_set("rs");
    apply(&mut graph, &rs);
    apply(&mut graph, &pod("p1").owned_by(&rs, Some(true)));
    let todo = process_graph_changes(
        &mut graph,
        GraphChange::Restarted {
            api_version: "v1".into(),
            kind: "Pod".into(),
            objects: vec![pod("p2").owned_by(&rs, Some(true))],
        },
    );
    assert!(graph.node("p1").is_none(), "deleted while the watch was down");
    assert!(graph.node("rs").is_some(), "other kinds are not the list's business");
    assert_eq!(dependents(&graph, "rs"), ["p2"]);
    assert_eq!(todo, Todo::default());
}

#[test]
fn a_virtual_delete_removes_a_virtual_node_and_queues_its_dependents() {
    let mut graph = Graph::default();
    let ghost = replica_set("ghost");
    apply(&mut graph, &pod("p1").owned_by(&ghost, None));
    let todo = process_graph_changes(&mut graph, GraphChange::VirtualDeleted(ghost.identity.clone()));
    assert!(graph.node("ghost").is_none());
    assert_eq!(todo.attempt_to_delete, queued(&["p1"]));
    assert_eq!(todo.absent_owners, vec![ghost.identity]);
}

#[test]
fn a_virtual_delete_under_other_coordinates_than_observed_keeps_the_node() {
    let mut graph = Graph::default();
    let rs = replica_set("rs");
    apply(&mut graph, &rs);
    apply(&mut graph, &pod("p1").owned_by(&rs, None));
    let mut elsewhere = rs.identity.clone();
    elsewhere.name = "renamed".into();
    let todo = process_graph_changes(&mut graph, GraphChange::VirtualDeleted(elsewhere));
    assert!(graph.node("rs").is_some());
    assert_eq!(todo.attempt_to_delete, queued(&["p1"]), "its dependents look at their references again");
}

#[test]
fn a_dependent_naming_an_owner_in_another_namespace_is_warned_about_and_checked() {
    // The owner seen first, then the dependent.
    let mut graph = Graph::default();
    let rs = object("apps/v1", "ReplicaSet", Some("a"), "rs");
    apply(&mut graph, &rs);
    let stray = object("v1", "Pod", Some("b"), "p1").owned_by(&rs, None);
    let todo = apply(&mut graph, &stray);
    assert_eq!(todo.invalid_namespace, vec![(stray.identity.clone(), reference(&rs, None))]);
    assert_eq!(todo.attempt_to_delete, queued(&["p1"]));

    // The dependent seen first (its owner virtual, guessed in its namespace), then the owner.
    let mut graph = Graph::default();
    apply(&mut graph, &stray);
    let todo = apply(&mut graph, &rs);
    assert_eq!(todo.invalid_namespace, vec![(stray.identity.clone(), reference(&rs, None))]);
    assert_eq!(todo.attempt_to_delete, queued(&["p1"]));
}

#[test]
fn a_dependent_naming_its_owner_by_other_coordinates_is_checked() {
    let mut graph = Graph::default();
    let rs = replica_set("rs");
    apply(&mut graph, &rs);
    let mut wrong = reference(&rs, None);
    wrong.name = "not-its-name".into();
    let mut p1 = pod("p1");
    p1.owners.push(wrong);
    let todo = apply(&mut graph, &p1);
    assert_eq!((todo.attempt_to_delete, todo.invalid_namespace), (queued(&["p1"]), vec![]));
}

#[test]
fn references_diffs_match_by_uid() {
    let (a, b, c) = (replica_set("a"), replica_set("b"), replica_set("c"));
    let cases = [
        ("nothing changed", vec![reference(&a, None)], vec![reference(&a, None)], (0, 0, 0)),
        ("one added", vec![reference(&a, None)], vec![reference(&a, None), reference(&b, None)], (1, 0, 0)),
        ("one removed", vec![reference(&a, None), reference(&b, None)], vec![reference(&b, None)], (0, 1, 0)),
        ("one changed", vec![reference(&a, None)], vec![reference(&a, Some(true))], (0, 0, 1)),
        (
            "reordered is no change",
            vec![reference(&a, None), reference(&b, None)],
            vec![reference(&b, None), reference(&a, None)],
            (0, 0, 0),
        ),
        (
            "all at once",
            vec![reference(&a, None), reference(&b, None)],
            vec![reference(&b, Some(false)), reference(&c, None)],
            (1, 1, 1),
        ),
    ];
    for (name, old, new, (added, removed, changed)) in cases {
        let diffs = references_diffs(&old, &new);
        assert_eq!((diffs.added.len(), diffs.removed.len(), diffs.changed.len()), (added, removed, changed), "{name}");
    }
}
