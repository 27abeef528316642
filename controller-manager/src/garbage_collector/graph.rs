//! The uid graph: one node per object the collector has heard of, linked owner ⇄ dependent.
//!
//! Mirrors `pkg/controller/garbagecollector/graph.go` (Kubernetes 1.32). A node is keyed by
//! its uid, because an ownerReference names its owner by uid (a name can be reused by a new
//! object; a uid never is). Upstream links nodes by pointer; here a node holds its dependents'
//! uids, which keeps the graph a plain map that one writer (the graph builder) changes and the
//! workers read, under one lock.
//!
//! A node is *virtual* (`observed: false`) while it exists only because a dependent names it:
//! the owner has not been seen by an informer (yet), and may not exist at all. Its identity is
//! what the reference says, in the dependent's namespace; a worker settles the question with a
//! live GET (`attempt_to_delete_item`).
//!
//! Left out: upstream's per-field locks (one lock for the whole graph, held for no await).

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// Which object a node is: what a GET or a DELETE needs (upstream's `objectReference`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectReference {
    pub api_version: String,
    pub kind: String,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
}

impl ObjectReference {
    /// The owner an `ownerReference` of an object in `namespace` names.
    pub fn of_owner(reference: &OwnerReference, namespace: Option<&str>) -> ObjectReference {
        ObjectReference {
            api_version: reference.api_version.clone(),
            kind: reference.kind.clone(),
            namespace: namespace.map(str::to_string),
            name: reference.name.clone(),
            uid: reference.uid.clone(),
        }
    }

    /// Whether `reference` names this object by the same coordinates (apiVersion, kind, name,
    /// uid): upstream's `ownerReferenceMatchesCoordinates`.
    pub fn matches(&self, reference: &OwnerReference) -> bool {
        self.uid == reference.uid
            && self.name == reference.name
            && self.kind == reference.kind
            && self.api_version == reference.api_version
    }
}

impl fmt::Display for ObjectReference {
    /// As upstream logs it, and as the `OwnerRefInvalidNamespace` event quotes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}/{}, namespace: {}, name: {}, uid: {}]",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or_default(),
            self.name,
            self.uid
        )
    }
}

/// One object, as the collector knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub identity: ObjectReference,
    /// Its `metadata.ownerReferences`, as last observed.
    pub owners: Vec<OwnerReference>,
    /// The uids of the nodes that name this one in their `owners` (sorted, so tests and logs
    /// read the same every time).
    pub dependents: BTreeSet<String>,
    /// Seen by an informer. False for a virtual node.
    pub observed: bool,
    /// It has a `deletionTimestamp`: on a one-way trip to its deletion.
    pub being_deleted: bool,
    /// Being deleted with the `foregroundDeletion` finalizer: its dependents go first.
    pub deleting_dependents: bool,
    /// Being deleted with the `orphan` finalizer: its dependents lose their reference to it.
    pub orphaning_dependents: bool,
}

impl Node {
    /// A virtual node for the owner `reference` of an object in `namespace`.
    pub fn virtual_owner(reference: &OwnerReference, namespace: Option<&str>) -> Node {
        Node {
            identity: ObjectReference::of_owner(reference, namespace),
            owners: Vec::new(),
            dependents: BTreeSet::new(),
            observed: false,
            being_deleted: false,
            deleting_dependents: false,
            orphaning_dependents: false,
        }
    }

    /// Whether this node names `owner_uid` with `blockOwnerDeletion: true`.
    pub fn blocks(&self, owner_uid: &str) -> bool {
        self.owners.iter().any(|o| o.uid == owner_uid && o.block_owner_deletion == Some(true))
    }
}

/// The graph: `uid → node` (upstream's `uidToNode`).
#[derive(Debug, Default)]
pub struct Graph {
    uid_to_node: HashMap<String, Node>,
}

impl Graph {
    pub fn node(&self, uid: &str) -> Option<&Node> {
        self.uid_to_node.get(uid)
    }

    pub fn node_mut(&mut self, uid: &str) -> Option<&mut Node> {
        self.uid_to_node.get_mut(uid)
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.uid_to_node.contains_key(uid)
    }

    /// Adds `node`, or replaces the node of the same uid.
    pub fn write(&mut self, node: Node) {
        self.uid_to_node.insert(node.identity.uid.clone(), node);
    }

    pub fn remove(&mut self, uid: &str) -> Option<Node> {
        self.uid_to_node.remove(uid)
    }

    pub fn len(&self) -> usize {
        self.uid_to_node.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uid_to_node.is_empty()
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.uid_to_node.values()
    }

    /// The dependents of `uid`, copied out (the workers must not hold the lock across a call to
    /// the API server).
    pub fn dependents(&self, uid: &str) -> Vec<Node> {
        let Some(node) = self.node(uid) else { return Vec::new() };
        node.dependents.iter().filter_map(|d| self.node(d)).cloned().collect()
    }

    /// The dependents that keep `uid` from going while it is deleted in the foreground: those
    /// whose reference to it says `blockOwnerDeletion: true` (upstream's `blockingDependents`).
    pub fn blocking_dependents(&self, uid: &str) -> Vec<Node> {
        self.dependents(uid).into_iter().filter(|d| d.blocks(uid)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn reference(uid: &str, block: Option<bool>) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("rs-{uid}"),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: block,
        }
    }

    fn dependent(uid: &str, owners: Vec<OwnerReference>) -> Node {
        let mut node = Node::virtual_owner(&reference(uid, None), Some("default"));
        node.identity.kind = "Pod".into();
        node.owners = owners;
        node.observed = true;
        node
    }

    #[test]
    fn only_dependents_whose_reference_says_block_owner_deletion_block() {
        let cases = [
            ("blockOwnerDeletion: true blocks", Some(true), true),
            ("blockOwnerDeletion: false does not", Some(false), false),
            ("no blockOwnerDeletion does not", None, false),
        ];
        for (name, block, blocks) in cases {
            let mut graph = Graph::default();
            let mut owner = Node::virtual_owner(&reference("rs", None), Some("default"));
            owner.dependents.insert("pod".into());
            graph.write(owner);
            graph.write(dependent("pod", vec![reference("rs", block)]));
            let blocking: Vec<String> = graph.blocking_dependents("rs").into_iter().map(|n| n.identity.uid).collect();
            assert_eq!(blocking.len() == 1, blocks, "{name}");
        }
    }

    #[test]
    fn a_dependent_blocks_only_the_owner_it_names_with_block_owner_deletion() {
        let pod = dependent("pod", vec![reference("a", Some(true)), reference("b", Some(false))]);
        assert!(pod.blocks("a"));
        assert!(!pod.blocks("b"));
        assert!(!pod.blocks("c"));
    }

    #[test]
    fn an_identity_reads_as_upstream_logs_it() {
        let identity = ObjectReference::of_owner(&reference("u1", None), Some("default"));
        assert_eq!(identity.to_string(), "[apps/v1/ReplicaSet, namespace: default, name: rs-u1, uid: u1]");
        assert!(identity.matches(&reference("u1", Some(true))), "blockOwnerDeletion is no coordinate");
        let renamed = OwnerReference { name: "other".into(), ..reference("u1", None) };
        assert!(!identity.matches(&renamed));
    }
}
