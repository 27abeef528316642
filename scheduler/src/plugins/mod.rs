//! The plugins of the default profile, one file each, in the order they run.
//!
//! Mirrors `pkg/scheduler/framework/plugins/` and the default plugin list of
//! `pkg/scheduler/apis/config/v1/default_plugins.go` (Kubernetes 1.31).
//!
//! | plugin | kind | rejects with |
//! |---|---|---|
//! | [`node_unschedulable`] | Filter | `node(s) were unschedulable` |
//! | [`node_name`] | Filter | `node(s) didn't match the requested node name` |
//! | [`taint_toleration`] | Filter | `node(s) had untolerated taint {key: value}` |
//! | [`node_ready`] (Skiff's) | Filter | `node(s) had untolerated taint {node.kubernetes.io/not-ready: }` |
//! | [`node_affinity`] | Filter | `node(s) didn't match Pod's node affinity/selector` |
//! | [`node_ports`] | Filter | `node(s) didn't have free ports for the requested pod ports` |
//! | [`node_resources_fit`] | Filter | `Too many pods`, `Insufficient cpu` (memory, ephemeral-storage, …) |
//! | [`least_allocated`] | Score, weight 1 | |
//! | [`selector_spread`] | Score, weight 2 | |

pub mod least_allocated;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_ready;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod selector_spread;
pub mod taint_toleration;

use k8s_openapi::api::core::v1::Service;
use skiff_client::reflector::Store;

use crate::framework::Framework;

/// The default profile. The cheap, unresolvable checks come first, as upstream orders them.
pub fn default_framework(services: Store<Service>) -> Framework {
    Framework {
        filters: vec![
            Box::new(node_unschedulable::NodeUnschedulable),
            Box::new(node_name::NodeName),
            Box::new(taint_toleration::TaintToleration),
            Box::new(node_ready::NodeReady),
            Box::new(node_affinity::NodeAffinity),
            Box::new(node_ports::NodePorts),
            Box::new(node_resources_fit::NodeResourcesFit),
        ],
        scorers: vec![
            (Box::new(least_allocated::LeastAllocated), 1),
            (Box::new(selector_spread::SelectorSpread { services }), 2),
        ],
    }
}
