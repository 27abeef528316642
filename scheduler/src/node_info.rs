//! What one node holds, as the plugins see it: the node itself, the pods bound to it, the
//! resources those pods request, the host ports they use, and what the node can allocate.
//!
//! Mirrors `pkg/scheduler/framework/types.go` (`NodeInfo`, `Resource`, `HostPortInfo`) and the
//! request arithmetic of `k8s.io/component-helpers/resource` (`PodRequests`), Kubernetes 1.31.
//!
//! A pod's request is what its containers ask for *at the same time*. App containers run
//! together, so they add up; ordinary init containers run one at a time before them, so only the
//! largest counts; sidecars (init containers with `restartPolicy: Always`) keep running, so they
//! add up with everything that starts after them. Worked example:
//!
//! ```text
//! init  setup    1 cpu             runs alone                → 1
//! init  proxy    0.5 cpu, sidecar  keeps running             → 0.5 from now on
//! init  migrate  2 cpu             beside the proxy          → 2 + 0.5 = 2.5
//! app   web 1 cpu, worker 0.5 cpu  beside the proxy          → 1 + 0.5 + 0.5 = 2
//! request = max(1, 2.5, 2) = 2.5 cpu
//! ```
//!
//! Two sums are kept per node: `requested`, the real requests (what Filter compares with
//! allocatable), and `non_zero_requested`, where a container that requests no cpu counts as 100m
//! and one that requests no memory as 200Mi, so that scoring does not pile request-less pods on
//! one node.
//!
//! Left out: pod-level resources, in-place resize (status.resources), image states, PVC counts
//! and the pod-affinity subsets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use skiff_api::quantity::Quantity as Exact;

/// The cpu a container that requests none counts as, for scoring (`DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory a container that requests none counts as, for scoring (`DefaultMemoryRequest`).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Amounts of the resources the scheduler accounts: cpu in millicores, memory and
/// ephemeral-storage in bytes, a pod count, and extended resources (`nvidia.com/gpu`,
/// `hugepages-2Mi`) by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pod_number: i64,
    pub scalar: BTreeMap<String, i64>,
}

/// Resources Kubernetes counts beyond the four named ones: extended resources (a domain other
/// than kubernetes.io) and huge pages (`IsScalarResourceName`).
pub fn is_scalar_resource(name: &str) -> bool {
    let extended = name.contains('/') && !name.starts_with("kubernetes.io/") && !name.starts_with("requests.");
    extended || name.starts_with("hugepages-") || name.starts_with("attachable-volumes-")
}

fn quantity(q: &Quantity) -> Exact {
    // The API server validated every quantity it stored; an unreadable one counts as nothing.
    Exact::parse(&q.0).unwrap_or_default()
}

impl Resource {
    /// The amounts of a resource list (a node's allocatable, a container's requests).
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Resource {
        let mut resource = Resource::default();
        resource.add_list(list);
        resource
    }

    fn add_list(&mut self, list: &BTreeMap<String, Quantity>) {
        for (name, amount) in list {
            let amount = quantity(amount);
            match name.as_str() {
                "cpu" => self.milli_cpu += amount.milli_value(),
                "memory" => self.memory += amount.value(),
                "ephemeral-storage" => self.ephemeral_storage += amount.value(),
                "pods" => self.allowed_pod_number += amount.value(),
                other if is_scalar_resource(other) => {
                    *self.scalar.entry(other.to_string()).or_default() += amount.value()
                }
                _ => {}
            }
        }
    }

    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (name, amount) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += amount;
        }
    }

    /// Each amount becomes the larger of the two.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, amount) in &other.scalar {
            let mine = self.scalar.entry(name.clone()).or_default();
            *mine = (*mine).max(*amount);
        }
    }

    /// Whether the pod requests nothing the node runs out of (a pod slot aside).
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0 && self.memory == 0 && self.ephemeral_storage == 0 && self.scalar.values().all(|v| *v == 0)
    }
}

/// One container's requests. `non_zero` fills in the scoring defaults for cpu and memory the
/// container does not name.
fn container_requests(container: &Container, non_zero: bool) -> Resource {
    let resources = container.resources.as_ref();
    let mut list = resources.and_then(|r| r.requests.clone()).unwrap_or_default();
    // Kubernetes' API server defaults a request to its limit when only the limit is given
    // (`SetDefaults_Pod`); Skiff's does not yet, so the scheduler reads the limit in its place.
    for (name, limit) in resources.and_then(|r| r.limits.as_ref()).into_iter().flatten() {
        list.entry(name.clone()).or_insert_with(|| limit.clone());
    }
    let mut resource = Resource::from_list(&list);
    if non_zero {
        if !list.contains_key("cpu") {
            resource.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !list.contains_key("memory") {
            resource.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    resource
}

/// What the pod asks of a node, as in the module doc's example; with `non_zero`, the scoring
/// defaults stand in for missing cpu and memory requests.
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resource {
    let Some(spec) = pod.spec.as_ref() else { return Resource::default() };
    let mut total = Resource::default();
    for container in &spec.containers {
        total.add(&container_requests(container, non_zero));
    }
    // Sidecars started so far: they run beside every later init container and the app.
    let mut sidecars = Resource::default();
    let mut largest_init = Resource::default();
    for container in spec.init_containers.iter().flatten() {
        let requests = container_requests(container, non_zero);
        if container.restart_policy.as_deref() == Some("Always") {
            total.add(&requests);
            sidecars.add(&requests);
            largest_init.set_max(&sidecars);
        } else {
            let mut alongside = requests;
            alongside.add(&sidecars);
            largest_init.set_max(&alongside);
        }
    }
    total.set_max(&largest_init);
    if let Some(overhead) = &spec.overhead {
        total.add(&Resource::from_list(overhead));
    }
    total
}

/// A host port a pod holds: `(host IP, protocol, port)`; no IP is `0.0.0.0`, no protocol TCP.
pub type HostPort = (String, String, i32);

/// The host ports the pod's containers ask for.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
    containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|port| {
            let host_port = port.host_port.filter(|p| *p > 0)?;
            let ip = port.host_ip.clone().filter(|ip| !ip.is_empty()).unwrap_or_else(|| "0.0.0.0".into());
            let protocol = port.protocol.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "TCP".into());
            Some((ip, protocol, host_port))
        })
        .collect()
}

/// Succeeded and Failed pods hold nothing on their node any more.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// One node and what is bound to it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub pods: Vec<Arc<Pod>>,
    /// The sum of the pods' requests (Filter compares it with allocatable).
    pub requested: Resource,
    /// The same with the scoring defaults for request-less containers (Score uses it).
    pub non_zero_requested: Resource,
    pub allocatable: Resource,
    pub used_ports: BTreeSet<HostPort>,
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref()).map(Resource::from_list);
        NodeInfo {
            node,
            pods: Vec::new(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            allocatable: allocatable.unwrap_or_default(),
            used_ports: BTreeSet::new(),
        }
    }

    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or_default()
    }

    /// Counts a pod bound (or assumed bound) to this node.
    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        self.requested.add(&pod_requests(&pod, false));
        self.non_zero_requested.add(&pod_requests(&pod, true));
        self.used_ports.extend(host_ports(&pod));
        self.pods.push(pod);
    }

    /// A node with these pods, for tests.
    pub fn with_pods(node: Node, pods: impl IntoIterator<Item = Pod>) -> NodeInfo {
        let mut info = NodeInfo::new(Arc::new(node));
        for pod in pods {
            info.add_pod(Arc::new(pod));
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestNode, TestPod};

    #[test]
    fn a_pod_requests_the_most_it_needs_at_any_one_time() {
        let cases = [
            (
                "app containers add up",
                Pod::test("p").requests("500m", "1Gi").container("b", "250m", "512Mi"),
                750,
                1536,
            ),
            (
                "a larger init container wins",
                Pod::test("p").requests("500m", "1Gi").init("i", "2", "256Mi"),
                2000,
                1024,
            ),
            (
                "a smaller init container changes nothing",
                Pod::test("p").requests("1", "1Gi").init("i", "100m", "1Mi"),
                1000,
                1024,
            ),
            (
                "the module doc's sidecar example",
                Pod::test("p")
                    .requests("1", "0")
                    .container("worker", "500m", "0")
                    .init("setup", "1", "0")
                    .sidecar("proxy", "500m", "0")
                    .init("migrate", "2", "0"),
                2500,
                0,
            ),
            ("a sidecar runs beside the app", Pod::test("p").requests("1", "0").sidecar("proxy", "500m", "0"), 1500, 0),
            ("no requests, nothing", Pod::test("p"), 0, 0),
        ];
        for (name, pod, cpu, mib) in cases {
            let got = pod_requests(&pod, false);
            assert_eq!((got.milli_cpu, got.memory), (cpu, mib << 20), "{name}");
        }
    }

    #[test]
    fn scoring_counts_request_less_containers_as_100m_and_200mi() {
        let pod = Pod::test("p").container("b", "250m", "0");
        let got = pod_requests(&pod, true);
        // `p`'s first container names nothing; `b` names cpu and memory (even 0).
        assert_eq!((got.milli_cpu, got.memory), (100 + 250, DEFAULT_MEMORY_REQUEST));
    }

    #[test]
    fn a_limit_stands_in_for_a_missing_request() {
        let pod = Pod::test("p").limits("2", "1Gi");
        assert_eq!(pod_requests(&pod, false).milli_cpu, 2000);
    }

    #[test]
    fn a_node_adds_up_its_pods_and_their_ports() {
        let node = Node::test("n").capacity("4", "8Gi", 110);
        let info = NodeInfo::with_pods(
            node,
            [Pod::test("a").requests("1", "1Gi").host_port(8080), Pod::test("b").requests("500m", "0")],
        );
        assert_eq!(info.allocatable.milli_cpu, 4000);
        assert_eq!(info.allocatable.allowed_pod_number, 110);
        assert_eq!(info.requested.milli_cpu, 1500);
        assert_eq!(info.requested.memory, 1 << 30);
        assert_eq!(info.used_ports.iter().collect::<Vec<_>>(), vec![&("0.0.0.0".into(), "TCP".into(), 8080)]);
        assert_eq!(info.pods.len(), 2);
    }

    #[test]
    fn extended_resources_are_counted_and_unknown_ones_ignored() {
        assert!(is_scalar_resource("nvidia.com/gpu"));
        assert!(is_scalar_resource("hugepages-2Mi"));
        assert!(!is_scalar_resource("kubernetes.io/something"));
        assert!(!is_scalar_resource("storage"));
    }
}
